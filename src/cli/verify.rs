//! `abicut verify`: the loader finds every library, every import of every loaded object
//! binds, nothing forbidden remains.

use super::exit;
use super::out::{self, out};
use abicut::relink::verify::{self, Options};
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(after_help = "Exit status: 0 no problems, 1 problems, 3 error.")]
pub struct Args {
    /// The tree (or single file) to check. Files in a tree that are not ELF are skipped; a
    /// single file that is not a sound ELF object is an error.
    tree: PathBuf,
    /// Searched for needed libraries after RPATH and before RUNPATH (like LD_LIBRARY_PATH);
    /// the interpreter's default directories are searched without it.
    #[arg(long = "lib-path", value_name = "DIR")]
    lib_paths: Vec<PathBuf>,
    /// Read absolute paths under this root first, as qemu-user's -L (a foreign architecture).
    #[arg(long, value_name = "DIR")]
    sysroot: Option<PathBuf>,
    /// Fail if this path is referenced anywhere in the tree.
    #[arg(long = "forbid", value_name = "PATH")]
    forbid: Vec<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let opts = Options {
        lib_paths: args.lib_paths,
        forbid: args.forbid,
        installed_at: None,
        sysroot: args.sysroot,
        require_elf: true,
    };
    let report = verify::verify(&args.tree, &opts)?;
    let status = if report.ok() {
        exit::SUCCESS
    } else {
        exit::PROBLEMS
    };
    out::with_verdict(status, || {
        if args.json {
            out::json(&report)
        } else {
            Ok(out!("{}", report.to_text(&args.tree))?)
        }
    })
}

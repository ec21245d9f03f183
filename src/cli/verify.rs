//! `abicut verify`: the loader finds every library, every import of every loaded object
//! binds, nothing forbidden remains.

use abicut::relink::verify::{self, Options};
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The tree (or single file) to check.
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
    };
    let report = verify::verify(&args.tree, &opts)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for p in &report.problems {
            println!("{}: {}", p.file.display(), p.detail);
        }
        println!(
            "{}: {} files, {} ELF objects, {} problems",
            args.tree.display(),
            report.files,
            report.elf_objects,
            report.problems.len()
        );
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

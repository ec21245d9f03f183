//! `abicut verify`: every library resolves, every import binds, nothing forbidden remains.

use super::out::outln;
use abicut::relink::verify::{self, Options};
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The tree (or single file) to check.
    tree: PathBuf,
    /// Searched for needed libraries after RPATH and before RUNPATH (like LD_LIBRARY_PATH).
    #[arg(long = "lib-path", value_name = "DIR")]
    lib_paths: Vec<PathBuf>,
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
    };
    let report = verify::verify(&args.tree, &opts)?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        for p in &report.problems {
            outln!("{}: {}", p.file.display(), p.detail)?;
        }
        outln!(
            "{}: {} files, {} ELF objects, {} problems",
            args.tree.display(),
            report.files,
            report.elf_objects,
            report.problems.len()
        )?;
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

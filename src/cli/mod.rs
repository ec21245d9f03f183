//! Subcommand definitions. Each subcommand has its own file holding its clap arguments
//! and a `run` that calls the library and prints.

mod elf;
mod relink;
mod stubgen;
mod verify;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exit status for any error (bad input, I/O). Commands with a documented status of their own
/// (`diff`) use the values below this one.
pub const EXIT_ERROR: u8 = 3;

#[derive(Parser)]
#[command(
    name = "abicut",
    version,
    about = "Make a shared-library update cost a relink instead of a rebuild"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Interface stubs and ABI hashes of shared libraries.
    Stubgen(stubgen::StubgenArgs),
    /// Copy a compile output to its real output, rewriting store paths (same length, one pass).
    Relink(relink::Args),
    /// patchelf-like edits and queries: RUNPATH, NEEDED, SONAME, interpreter.
    Elf(elf::Args),
    /// Check that every needed library resolves and every imported symbol binds.
    Verify(verify::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Stubgen(args) => stubgen::run(args),
        Command::Relink(a) => relink::run(a),
        Command::Elf(a) => elf::run(a),
        Command::Verify(a) => verify::run(a),
    }
}

//! Subcommand definitions. Each subcommand has its own file holding its clap arguments
//! and a `run` that calls the library and prints.

mod diff;
mod elf;
mod explain;
mod interface;
pub mod out;
mod plan;
mod relink;
mod report;
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
    /// Interface tree of package outputs: stubs, headers, pkg-config, cmake, libtool files,
    /// crt objects, linker scripts; and its Merkle hash.
    Interface(interface::InterfaceArgs),
    /// Identical, compatible or breaking, and why: two libraries, stubs, canonical JSON or
    /// interface trees. Exit status 0 identical, 1 compatible, 2 breaking, 3 error.
    Diff(diff::DiffArgs),
    /// Copy a compile output to its real output, rewriting store paths (same length, one pass).
    Relink(relink::Args),
    /// patchelf-like edits and queries: RUNPATH, NEEDED, SONAME, interpreter.
    Elf(elf::Args),
    /// Check that every needed library resolves and every imported symbol binds.
    Verify(verify::Args),
    /// Which derivations compile, relink only, or stay untouched after a change.
    RelinkPlan(plan::Args),
    /// The chain of inputs that forces a derivation to rebuild.
    Explain(explain::Args),
    /// CI report on rebuilds avoided, from plans.
    Report(report::Args),
}

/// Runs the command, then flushes standard output so that a write error surfaces here.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let code = dispatch(cli)?;
    out::flush()?;
    Ok(code)
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Stubgen(args) => stubgen::run(args),
        Command::Interface(args) => interface::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Relink(a) => relink::run(a),
        Command::Elf(a) => elf::run(a),
        Command::Verify(a) => verify::run(a),
        Command::RelinkPlan(args) => plan::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Report(args) => report::run(args),
    }
}

//! Subcommand definitions. Each subcommand has its own file holding its clap arguments
//! and a `run` that calls the library and prints.

mod diff;
mod interface;
mod stubgen;

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
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Stubgen(args) => stubgen::run(args),
        Command::Interface(args) => interface::run(args),
        Command::Diff(args) => diff::run(args),
    }
}

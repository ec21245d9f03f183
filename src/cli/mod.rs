//! Subcommand definitions. Each subcommand has its own file holding its clap arguments
//! and a `run` that calls the library and prints; what several share is in `args`
//! (arguments), `out` (printing, `--json`) and `exit` (statuses).

mod args;
mod diff;
mod elf;
pub mod exit;
mod explain;
mod interface;
pub mod out;
mod plan;
mod relink;
mod relocate;
mod report;
mod stubgen;
mod verify;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The output and exit-status policy every subcommand follows, stated once.
const POLICY: &str = "\
Exit status:
  0  success; diff: identical
  1  verify: problems found; diff: compatible (additions, layout, warnings)
  2  diff: breaking
  3  error: bad usage, unreadable or invalid input, I/O; stubgen --out-dir: a library failed
A closed output pipe (abicut ... | head) counts as success, but never hides a verdict
(1, 2, or 3 for a failed library) already known.

--json prints one JSON document per command, pretty-printed, on standard output (or the
-o file): for several inputs, one document listing them all. Every document starts with
its \"schema\" (abicut-diff, abicut-plan, ...) and \"version\" fields.";

#[derive(Parser)]
#[command(
    name = "abicut",
    version,
    about = "Make a shared-library update cost a relink instead of a rebuild",
    after_help = POLICY
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Interface stubs and ABI hashes of shared libraries.
    Stubgen(stubgen::Args),
    /// Interface tree of package outputs: stubs, headers, pkg-config, cmake, libtool files,
    /// crt objects, linker scripts; and its Merkle hash.
    Interface(interface::Args),
    /// Identical, compatible or breaking, and why: two libraries, stubs, canonical JSON or
    /// interface trees. Exit status 0 identical, 1 compatible, 2 breaking, 3 error.
    Diff(diff::Args),
    /// Copy a compile output to its real output, rewriting store paths (same length, one pass).
    Relink(relink::Args),
    /// Copy store paths or a closure to another store directory, references rewritten in place.
    Relocate(relocate::Args),
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
        Command::Relink(args) => relink::run(args),
        Command::Relocate(args) => relocate::run(args),
        Command::Elf(args) => elf::run(args),
        Command::Verify(args) => verify::run(args),
        Command::RelinkPlan(args) => plan::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Report(args) => report::run(args),
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// clap's own consistency checks, and help text for every argument of every
    /// subcommand: `--help` shows none blank.
    #[test]
    fn cli_is_consistent_and_documented() {
        Cli::command().debug_assert();
        let cmd = Cli::command();
        for sub in cmd.get_subcommands() {
            for arg in sub.get_arguments() {
                assert!(
                    arg.get_help().is_some(),
                    "abicut {} {} has no help text",
                    sub.get_name(),
                    arg.get_id()
                );
            }
        }
    }
}

//! The `abicut` command line: parse, call the library, print. Nothing else lives here.
//!
//! `stubgen` and `relink-plan` are also multicall names: a link named `stubgen` to this
//! binary runs `abicut stubgen`.

mod cli;

use clap::{CommandFactory, FromArgMatches};
use std::ffi::OsString;
use std::process::ExitCode;

/// Names under which the binary runs one subcommand directly.
const MULTICALL: &[&str] = &["stubgen", "relink-plan"];

fn main() -> ExitCode {
    match cli::run(parse()) {
        Ok(code) => code,
        Err(err) if cli::out::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("abicut: {err:#}");
            ExitCode::from(cli::EXIT_ERROR)
        }
    }
}

/// Parses the arguments; under a multicall name clap takes the program name as the
/// subcommand, so usage and errors say `stubgen ...`, not `abicut stubgen ...`.
fn parse() -> cli::Cli {
    let args: Vec<OsString> = std::env::args_os().collect();
    let invoked = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str());
    let multicall = invoked.is_some_and(|n| MULTICALL.contains(&n));
    let matches = cli::Cli::command()
        .multicall(multicall)
        .get_matches_from(args);
    cli::Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit())
}

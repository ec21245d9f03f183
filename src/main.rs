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
            cli::exit::code(cli::exit::ERROR)
        }
    }
}

/// Parses the arguments; under a multicall name clap takes the program name as the
/// subcommand, so usage and errors say `stubgen ...`, not `abicut stubgen ...`. A usage
/// error exits with [`cli::exit::ERROR`], not clap's 2, which is `diff`'s "breaking".
fn parse() -> cli::Cli {
    let args: Vec<OsString> = std::env::args_os().collect();
    let invoked = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str());
    let multicall = invoked.is_some_and(|n| MULTICALL.contains(&n));
    cli::Cli::command()
        .multicall(multicall)
        .try_get_matches_from(args)
        .and_then(|matches| cli::Cli::from_arg_matches(&matches))
        .unwrap_or_else(|err| usage_exit(&err))
}

/// Prints clap's help, version or usage error and exits: 0 for help and version, the
/// documented error status otherwise.
fn usage_exit(err: &clap::Error) -> ! {
    // A failed print (closed pipe) leaves nothing to report it to.
    let _ = err.print();
    let status = if err.use_stderr() {
        cli::exit::ERROR
    } else {
        cli::exit::SUCCESS
    };
    std::process::exit(status.into())
}

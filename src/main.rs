//! The `abicut` command line: parse, call the library, print. Nothing else lives here.
//!
//! `stubgen` and `relink-plan` are also multicall names: a link named `stubgen` to this
//! binary runs `abicut stubgen`.

mod cli;

use clap::Parser;
use std::ffi::OsString;
use std::process::ExitCode;

/// Names under which the binary runs one subcommand directly.
const MULTICALL: &[&str] = &["stubgen", "relink-plan"];

fn main() -> ExitCode {
    let cli = cli::Cli::parse_from(multicall_args(std::env::args_os().collect()));
    match cli::run(cli) {
        Ok(code) => code,
        Err(err) if cli::out::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("abicut: {err:#}");
            ExitCode::from(cli::EXIT_ERROR)
        }
    }
}

/// Rewrites `stubgen ARGS` into `abicut stubgen ARGS` when invoked through a multicall link.
fn multicall_args(mut args: Vec<OsString>) -> Vec<OsString> {
    let invoked = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .map(str::to_owned);
    if let Some(name) = invoked.filter(|n| MULTICALL.contains(&n.as_str())) {
        args.insert(1, OsString::from(name));
        args[0] = OsString::from("abicut");
    }
    args
}

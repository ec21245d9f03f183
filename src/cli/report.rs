//! `abicut report PLAN.json...`: the CI report on rebuilds avoided, Markdown or JSON.

use super::{exit, out};
use abicut::report::{self, Weights};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Plans written by `relink-plan --json`, one per change.
    #[arg(required = true)]
    plans: Vec<PathBuf>,
    /// Build and relink times per derivation, for the CPU time avoided.
    #[arg(long, value_name = "FILE")]
    weights: Option<PathBuf>,
    /// Print JSON instead of Markdown.
    #[arg(long)]
    json: bool,
    /// Write to FILE (atomically) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let plans = args
        .plans
        .iter()
        .map(|p| report::load_plan(p))
        .collect::<Result<Vec<_>, _>>()?;
    let weights = args.weights.as_deref().map(Weights::load).transpose()?;
    let report = report::build(&plans, weights.as_ref())?;
    let text = if args.json {
        out::document(&report)?
    } else {
        report.to_markdown()
    };
    out::emit(args.output.as_deref(), &text)?;
    Ok(exit::code(exit::SUCCESS))
}

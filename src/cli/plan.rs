//! `abicut relink-plan GRAPH --changed NAME...`: which derivations compile, which only
//! relink, which are untouched, with early cutoff on interface hashes.

use super::args::PlanInput;
use super::{exit, out};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: PlanInput,
    /// Print the plan as JSON (schema `abicut-plan`, version 1).
    #[arg(long, conflicts_with = "dot")]
    json: bool,
    /// Print the plan as Graphviz DOT (compile red, relink amber, untouched grey).
    #[arg(long)]
    dot: bool,
    /// Write to FILE (atomically) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (graph, plan) = args.input.plan()?;
    let text = if args.json {
        out::document(&plan.to_file(&graph, &args.input.graph.display().to_string()))?
    } else if args.dot {
        plan.to_dot(&graph)
    } else {
        plan.to_text(&graph)
    };
    out::emit(args.output.as_deref(), &text)?;
    Ok(exit::code(exit::SUCCESS))
}

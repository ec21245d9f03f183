//! `abicut explain GRAPH NODE --changed ...`: the chain of inputs that forces NODE to
//! rebuild, like `nix why-depends` for rebuilds.

use super::args::PlanInput;
use super::exit;
use super::out::{self, out};
use abicut::graph::plan;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: PlanInput,
    /// The derivation to explain, by id, name or pname.
    #[arg(value_name = "NODE")]
    node: String,
    /// Print the chains as JSON (schema `abicut-explain`, version 1).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (graph, plan) = args.input.plan()?;
    let nodes = graph.resolve_all(std::slice::from_ref(&args.node))?;
    let chains: Vec<_> = nodes.into_iter().map(|n| plan::explain(&plan, n)).collect();
    if args.json {
        out::json(&plan::explain_file(&graph, &chains))?;
    } else {
        for chain in &chains {
            out!("{}", plan::explain_text(&graph, chain))?;
        }
    }
    Ok(exit::code(exit::SUCCESS))
}

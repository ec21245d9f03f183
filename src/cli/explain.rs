//! `abicut explain GRAPH NODE --changed ...`: the chain of inputs that forces NODE to
//! rebuild, like `nix why-depends` for rebuilds.

use super::out::out;
use super::plan::PlanInput;
use abicut::graph::plan;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: PlanInput,
    /// The derivation to explain, by id, name or pname.
    #[arg(value_name = "NODE")]
    node: String,
    /// Print the chain as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (graph, plan) = args.input.plan()?;
    let nodes = graph.resolve_all(std::slice::from_ref(&args.node))?;
    let mut out = String::new();
    let mut chains = Vec::new();
    for n in nodes {
        let chain = plan::explain(&plan, n);
        if args.json {
            chains.push(
                chain
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "id": graph.node(s.node).id,
                            "name": graph.node(s.node).name,
                            "status": s.entry.status,
                            "reason": s.entry.reason.map(|r| r.kind()),
                        })
                    })
                    .collect::<Vec<_>>(),
            );
        } else {
            out.push_str(&plan::explain_text(&graph, &chain));
        }
    }
    if args.json {
        out = serde_json::to_string_pretty(&chains)? + "\n";
    }
    out!("{out}")?;
    Ok(ExitCode::SUCCESS)
}

//! `abicut relink-plan GRAPH --changed NAME...`: which derivations compile, which only
//! relink, which are untouched, with early cutoff on interface hashes.

use super::out::out;
use abicut::graph::Graph;
use abicut::graph::overrides::Overrides;
use abicut::graph::plan::{self, Abi, AbiFacts, Plan};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What `relink-plan` and `explain` both need to make a plan.
#[derive(clap::Args)]
pub struct PlanInput {
    /// Derivation graph: abicut graph JSON, or Nix's `nix show-derivation -r` /
    /// `nix derivation show -r` JSON.
    pub graph: PathBuf,
    /// A changed derivation, by id, name or pname; repeat for several. One value per flag, so
    /// that the graph may come before or after it.
    #[arg(long, required = true, num_args = 1, action = clap::ArgAction::Append, value_name = "NAME")]
    pub changed: Vec<String>,
    /// Whether a rebuilt derivation's interface hash changes (unknown counts as changed).
    #[arg(
        long,
        value_enum,
        default_value = "unknown",
        conflicts_with = "interfaces"
    )]
    pub abi: AbiArg,
    /// Measured interface hashes per node before and after (JSON maps node → hash).
    #[arg(long, num_args = 2, value_names = ["OLD", "NEW"])]
    pub interfaces: Option<Vec<PathBuf>>,
    /// Role-override file (JSON rules by node name or pattern).
    #[arg(long, value_name = "FILE")]
    pub roles: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum AbiArg {
    Same,
    Changed,
    Unknown,
}

impl PlanInput {
    /// Loads the graph, applies overrides and plans.
    pub fn plan(&self) -> anyhow::Result<(Graph, Plan)> {
        let mut graph = Graph::load(&self.graph)?;
        if let Some(roles) = &self.roles {
            graph.apply_overrides(&Overrides::load(roles)?);
        }
        let changed = graph
            .resolve_all(&self.changed)
            .with_context(|| format!("{}", self.graph.display()))?;
        let facts = match self.interfaces.as_deref() {
            Some([old, new]) => AbiFacts::measured(old, new)?,
            _ => AbiFacts::Uniform(match self.abi {
                AbiArg::Same => Abi::Same,
                AbiArg::Changed => Abi::Changed,
                AbiArg::Unknown => Abi::Unknown,
            }),
        };
        let plan = plan::plan(&graph, &changed, &facts);
        Ok((graph, plan))
    }
}

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
        let file = plan.to_file(&graph, &args.input.graph.display().to_string());
        let mut s = serde_json::to_string_pretty(&file)?;
        s.push('\n');
        s
    } else if args.dot {
        plan.to_dot(&graph)
    } else {
        plan.to_text(&graph)
    };
    emit(args.output.as_deref(), &text)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints `text`, or writes it atomically to `output`.
pub fn emit(output: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(path) => abicut::fsx::write_atomic(path, text.as_bytes())?,
        None => out!("{text}")?,
    }
    Ok(())
}

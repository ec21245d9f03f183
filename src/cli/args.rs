//! Clap pieces that more than one subcommand takes, so no subcommand borrows from a sibling.

use abicut::graph::Graph;
use abicut::graph::overrides::Overrides;
use abicut::graph::plan::{self, Abi, AbiFacts, Plan, Tools};
use abicut::stubgen;
use abicut::tree::HeaderMode;
use anyhow::Context;
use clap::ValueEnum;
use std::path::PathBuf;

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
    /// Which copy of a tool a compile runs: `strict`, its final output (a tool that only
    /// relinked reruns its users' compiles); `pinned`, its build-time copy (only a tool
    /// whose compile reran does).
    #[arg(long, value_enum, default_value = "strict")]
    pub tools: ToolsArg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum AbiArg {
    Same,
    Changed,
    Unknown,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ToolsArg {
    Strict,
    Pinned,
}

impl From<ToolsArg> for Tools {
    fn from(t: ToolsArg) -> Tools {
        match t {
            ToolsArg::Strict => Tools::Strict,
            ToolsArg::Pinned => Tools::Pinned,
        }
    }
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
        let plan = plan::plan(&graph, &changed, &facts, self.tools.into());
        Ok((graph, plan))
    }
}

/// How headers enter an interface tree's hash (`interface`) or its comparison (`diff`).
#[derive(Clone, Copy, ValueEnum)]
pub enum Headers {
    Exact,
    Tokens,
}

impl From<Headers> for HeaderMode {
    fn from(h: Headers) -> HeaderMode {
        match h {
            Headers::Exact => HeaderMode::Exact,
            Headers::Tokens => HeaderMode::Tokens,
        }
    }
}

/// Which imports a stub keeps (`stubgen --imports`, `interface --imports`).
#[derive(Clone, Copy, ValueEnum)]
pub enum ImportsArg {
    Owed,
    All,
}

impl From<ImportsArg> for stubgen::Imports {
    fn from(i: ImportsArg) -> stubgen::Imports {
        match i {
            ImportsArg::Owed => stubgen::Imports::Owed,
            ImportsArg::All => stubgen::Imports::All,
        }
    }
}

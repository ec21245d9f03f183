//! The plan: for every derivation, whether its compile reruns, only its relink reruns, or
//! nothing does, with early cutoff on interface hashes (the rules docs/planning.md
//! states):
//!
//! - compile(n) reruns iff n changed, or a `tool` input's final output changed (with
//!   [`Tools::Pinned`]: a `tool` input's compile reran), or a `lib` input's interface
//!   changed (unknown counts as changed);
//! - interface(n) changes iff compile(n) reran and its hash differs;
//! - relink(n) reruns iff compile(n) reran or a `lib`/`runtime` input's final output
//!   changed; n's final output changes iff its relink reran.
//!
//! Under [`Tools::Pinned`] a compile runs a tool's build-time copy: the tool's compile
//! output relinked against a pinned tool runtime (libraries moved on their own schedule).
//! A tool that only relinked keeps that copy's store path, so its users' compiles have
//! nothing new to run: they stay as they are unless another input moves them (the entry
//! names the tool, [`Reason::ToolPinned`], so `explain` says why).
//!
//! A fixed-output derivation's output is fixed by its hash: unless it is itself among the
//! changed nodes, it is untouched and hides its inputs' changes from its users, as in Nix.
//!
//! One pass over the nodes in topological order, looking at each edge once: linear time.

#![warn(missing_docs)]

use super::{Graph, Input, Node, Role};
use crate::error::Result;
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

/// Whether a rebuilt derivation's interface hash changed, when not measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Abi {
    /// The rebuilt derivation's interface is unchanged: dependents only relink.
    Same,
    /// The interface changed: dependents compile again.
    Changed,
    /// Not known (nothing measured): treated as changed, the safe answer.
    Unknown,
}

/// What is known about interface hashes of rebuilt derivations.
#[derive(Debug, Clone)]
pub enum AbiFacts {
    /// The same answer for every rebuilt derivation (`--abi`).
    Uniform(Abi),
    /// Interface hashes before and after, keyed by node id, name or pname
    /// (`--interfaces OLD.json NEW.json`); a node missing from either is unknown.
    Measured {
        /// Hashes before the change.
        old: HashMap<String, String>,
        /// Hashes after the change.
        new: HashMap<String, String>,
    },
}

impl AbiFacts {
    /// Reads `--interfaces` files: a JSON object mapping node to interface hash, or an
    /// object whose `interfaces` member is such a map.
    pub fn measured(old: &Path, new: &Path) -> Result<AbiFacts> {
        Ok(AbiFacts::Measured {
            old: read_hashes(old)?,
            new: read_hashes(new)?,
        })
    }

    /// Reads the node only when measured, so uniform plans never touch node records.
    fn verdict(&self, graph: &Graph, ix: NodeIndex) -> Abi {
        match self {
            AbiFacts::Uniform(abi) => *abi,
            AbiFacts::Measured { old, new } => {
                match (lookup(old, graph.node(ix)), lookup(new, graph.node(ix))) {
                    (Some(a), Some(b)) if a == b => Abi::Same,
                    (Some(_), Some(_)) => Abi::Changed,
                    _ => Abi::Unknown,
                }
            }
        }
    }

    fn label(&self) -> &'static str {
        match self {
            AbiFacts::Uniform(Abi::Same) => "same",
            AbiFacts::Uniform(Abi::Changed) => "changed",
            AbiFacts::Uniform(Abi::Unknown) => "unknown",
            AbiFacts::Measured { .. } => "measured",
        }
    }
}

fn lookup<'a>(map: &'a HashMap<String, String>, node: &Node) -> Option<&'a String> {
    map.get(&node.id)
        .or_else(|| map.get(&node.name))
        .or_else(|| node.pname.as_ref().and_then(|p| map.get(p)))
}

fn read_hashes(path: &Path) -> Result<HashMap<String, String>> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum File {
        Wrapped { interfaces: HashMap<String, String> },
        Plain(HashMap<String, String>),
    }
    let what = "interface-hash file (a JSON object mapping node names to interface hashes)";
    let (File::Wrapped { interfaces } | File::Plain(interfaces)) =
        crate::fsx::read_json(path, what, None)?;
    Ok(interfaces)
}

/// Which copy of a `tool` input a compile runs, so which change of a tool reruns it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tools {
    /// Its final output: a tool that only relinked still reruns its users' compiles.
    #[default]
    Strict,
    /// Its build-time copy, relinked against a pinned runtime: only a tool whose compile
    /// reran (its own change, or an input interface's) reruns its users' compiles.
    Pinned,
}

/// What reruns for one derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nothing reruns: its output is reused.
    Untouched,
    /// Only the relink reruns, against its inputs' new outputs.
    Relink,
    /// The whole build reruns.
    Compile,
}

impl Status {
    /// The name in plan JSON and in text output.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Untouched => "untouched",
            Status::Relink => "relink",
            Status::Compile => "compile",
        }
    }
}

/// Why a derivation reruns what it does: the first input (in graph order) that forced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Named by `--changed`.
    Changed,
    /// A `tool` input's final output changed ([`Tools::Strict`]).
    Tool(NodeIndex),
    /// A `tool` input's compile reran, so its build-time copy changed ([`Tools::Pinned`]).
    ToolCompiled(NodeIndex),
    /// Nothing reruns although a `tool` input's final output changed: it only relinked, and
    /// compiles run its build-time copy, which keeps its path ([`Tools::Pinned`]).
    ToolPinned(NodeIndex),
    /// A `lib` input's interface changed (or is unknown).
    LibInterface(NodeIndex),
    /// A `lib` input's final output changed but not its interface.
    LibOutput(NodeIndex),
    /// A `runtime` input's final output changed.
    Runtime(NodeIndex),
    /// An input changed, but this fixed-output derivation's output cannot.
    FixedOutput(NodeIndex),
}

impl Reason {
    /// The `kind` of the reason in plan JSON (`changed`, `tool`, `lib-interface`, …).
    pub fn kind(self) -> &'static str {
        match self {
            Reason::Changed => "changed",
            Reason::Tool(_) => "tool",
            Reason::ToolCompiled(_) => "tool-compile",
            Reason::ToolPinned(_) => "tool-pinned",
            Reason::LibInterface(_) => "lib-interface",
            Reason::LibOutput(_) => "lib-output",
            Reason::Runtime(_) => "runtime",
            Reason::FixedOutput(_) => "fixed-output",
        }
    }

    /// The input that forced the rerun: the next step of an [`explain`] chain.
    pub fn input(self) -> Option<NodeIndex> {
        match self {
            Reason::Changed => None,
            Reason::Tool(m)
            | Reason::ToolCompiled(m)
            | Reason::ToolPinned(m)
            | Reason::LibInterface(m)
            | Reason::LibOutput(m)
            | Reason::Runtime(m)
            | Reason::FixedOutput(m) => Some(m),
        }
    }

    /// A sentence fragment for people, naming the input.
    pub fn describe(self, graph: &Graph) -> String {
        let name = |m: NodeIndex| graph.node(m).name.clone();
        match self {
            Reason::Changed => "it is changed".to_owned(),
            Reason::Tool(m) => format!("tool input {}'s output changed", name(m)),
            Reason::ToolCompiled(m) => format!("tool input {} compiles", name(m)),
            Reason::ToolPinned(m) => format!(
                "tool input {} only relinks, and compiles run its pinned build-time copy",
                name(m)
            ),
            Reason::LibInterface(m) => format!("lib input {}'s interface changed", name(m)),
            Reason::LibOutput(m) => {
                format!(
                    "lib input {}'s output changed, its interface did not",
                    name(m)
                )
            }
            Reason::Runtime(m) => format!("runtime input {}'s output changed", name(m)),
            Reason::FixedOutput(m) => {
                format!(
                    "input {} changed, but its output is fixed by its hash",
                    name(m)
                )
            }
        }
    }
}

/// The plan's verdict for one derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// What reruns.
    pub status: Status,
    /// Why, if anything reruns (or, for a fixed-output derivation or a user of a pinned
    /// tool, why it might have).
    pub reason: Option<Reason>,
    /// Whether it compiles and its interface changed or is unknown: its `lib` dependents
    /// then compile too.
    pub interface_changed: bool,
    /// Whether a classic build (no interface split) rebuilds it: every dependent of a
    /// changed node, through any edge, stopping at unchanged fixed-output derivations.
    pub classic: bool,
}

/// Counts over a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Every node of the graph.
    pub nodes: usize,
    /// Nodes a classic build rebuilds.
    pub classic: usize,
    /// Nodes whose build reruns with abicut.
    pub compile: usize,
    /// Nodes that only relink with abicut.
    pub relink: usize,
    /// Nodes reused as they are.
    pub untouched: usize,
}

/// A plan over a graph: one entry per node, indexed like the graph's nodes.
#[derive(Debug, Clone)]
pub struct Plan {
    /// One entry per node, indexed like the graph's nodes ([`Plan::entry`]).
    pub entries: Vec<Entry>,
    /// The nodes named by `--changed`.
    pub changed: Vec<NodeIndex>,
    /// The ABI assumption the plan was made under (`same`, `changed`, `unknown`, `measured`).
    pub abi: &'static str,
    /// The tool policy the plan was made under.
    pub tools: Tools,
}

/// Plans the rebuild after `changed` nodes changed, under the ABI facts and tool policy.
pub fn plan(graph: &Graph, changed: &[NodeIndex], facts: &AbiFacts, tools: Tools) -> Plan {
    let n = graph.node_count();
    let mut is_changed = vec![false; n];
    for ix in changed {
        is_changed[ix.index()] = true;
    }
    let mut entries = vec![UNTOUCHED; n];
    // What users read of each input, one byte per node by topological position: small
    // enough to stay in cache where the entries themselves would not.
    let mut seen: Vec<Seen> = Vec::with_capacity(n);
    for (pos, &ix) in graph.topo_order().iter().enumerate() {
        let node = Position { graph, pos, ix };
        let entry = entry_for(
            node,
            is_changed[ix.index()],
            graph.inputs_at(pos),
            &seen,
            facts,
            tools,
        );
        seen.push(Seen::of(&entry));
        entries[ix.index()] = entry;
    }
    Plan {
        entries,
        changed: changed.to_vec(),
        abi: facts.label(),
        tools,
    }
}

const UNTOUCHED: Entry = Entry {
    status: Status::Untouched,
    reason: None,
    interface_changed: false,
    classic: false,
};

/// A node being planned, by topological position and index.
#[derive(Clone, Copy)]
struct Position<'a> {
    graph: &'a Graph,
    pos: usize,
    ix: NodeIndex,
}

/// The part of an input's entry that its users' entries depend on, packed in a byte.
#[derive(Debug, Clone, Copy)]
struct Seen(u8);

impl Seen {
    const OUTPUT_CHANGED: u8 = 1;
    const INTERFACE_CHANGED: u8 = 2;
    const CLASSIC: u8 = 4;
    /// Its compile reran: under [`Tools::Pinned`], what its `tool` users look at.
    const COMPILED: u8 = 8;

    fn of(e: &Entry) -> Seen {
        let mut bits = 0;
        if e.status != Status::Untouched {
            bits |= Self::OUTPUT_CHANGED;
        }
        if e.interface_changed {
            bits |= Self::INTERFACE_CHANGED;
        }
        if e.classic {
            bits |= Self::CLASSIC;
        }
        if e.status == Status::Compile {
            bits |= Self::COMPILED;
        }
        Seen(bits)
    }

    fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// One node's entry from what its inputs' entries say (`seen`, by topological position;
/// inputs come earlier, so theirs are final).
fn entry_for(
    node: Position,
    changed: bool,
    inputs: &[Input],
    seen: &[Seen],
    facts: &AbiFacts,
    tools: Tools,
) -> Entry {
    let mut compile = Forced::default();
    let mut relink = Forced::default();
    // A pinned tool that only relinked: the reason an otherwise untouched node gives.
    let mut spared = Forced::default();
    // Under strict every changed tool forces the compile, so `spared` stays empty.
    let (tool_forces, tool_reason): (u8, MakeReason) = match tools {
        Tools::Strict => (Seen::OUTPUT_CHANGED, Reason::Tool),
        Tools::Pinned => (Seen::COMPILED, Reason::ToolCompiled),
    };
    let mut classic = changed;
    for &input in inputs {
        let pos = input.pos();
        let s = seen[pos];
        classic |= s.has(Seen::CLASSIC);
        if !s.has(Seen::OUTPUT_CHANGED) {
            continue;
        }
        match (input.role(), s.has(Seen::INTERFACE_CHANGED)) {
            (Role::Tool, _) if s.has(tool_forces) => compile.keep_first(pos, tool_reason),
            (Role::Tool, _) => spared.keep_first(pos, Reason::ToolPinned),
            (Role::Lib, true) => compile.keep_first(pos, Reason::LibInterface),
            (Role::Lib, false) => relink.keep_first(pos, Reason::LibOutput),
            (Role::Runtime, _) => relink.keep_first(pos, Reason::Runtime),
        }
    }
    let topo = node.graph.topo_order();
    let compile = if changed {
        Some(Reason::Changed)
    } else {
        compile.reason(topo)
    };
    let relink = relink.reason(topo);
    if node.graph.fixed_at(node.pos) && !changed {
        return Entry {
            reason: compile
                .or(relink)
                .and_then(Reason::input)
                .map(Reason::FixedOutput),
            ..UNTOUCHED
        };
    }
    match (compile, relink) {
        (Some(reason), _) => Entry {
            status: Status::Compile,
            reason: Some(reason),
            interface_changed: facts.verdict(node.graph, node.ix) != Abi::Same,
            classic,
        },
        (None, Some(reason)) => Entry {
            status: Status::Relink,
            reason: Some(reason),
            interface_changed: false,
            classic,
        },
        (None, None) => Entry {
            reason: spared.reason(topo),
            classic,
            ..UNTOUCHED
        },
    }
}

/// The input that forced a step so far: the first in topological order, so plans are
/// deterministic whatever order the edges were listed in.
#[derive(Default)]
struct Forced(Option<(usize, MakeReason)>);

/// A `Reason` variant waiting for its input's node index.
type MakeReason = fn(NodeIndex) -> Reason;

impl Forced {
    fn keep_first(&mut self, pos: usize, reason: MakeReason) {
        if self.0.is_none_or(|(cur, _)| pos < cur) {
            self.0 = Some((pos, reason));
        }
    }

    fn reason(&self, topo: &[NodeIndex]) -> Option<Reason> {
        self.0.map(|(pos, reason)| reason(topo[pos]))
    }
}

impl Plan {
    /// The entry of node `n` of the graph the plan was made for.
    pub fn entry(&self, n: NodeIndex) -> &Entry {
        &self.entries[n.index()]
    }

    /// How many nodes rerun what, and how many a classic build rebuilds, for the totals block and the report.
    pub fn totals(&self) -> Totals {
        let mut t = Totals {
            nodes: self.entries.len(),
            ..Totals::default()
        };
        for e in &self.entries {
            t.classic += usize::from(e.classic);
            match e.status {
                Status::Compile => t.compile += 1,
                Status::Relink => t.relink += 1,
                Status::Untouched => t.untouched += 1,
            }
        }
        t
    }

    /// The plan as its documented JSON document ([`PlanFile`]).
    pub fn to_file(&self, graph: &Graph, graph_path: &str) -> PlanFile {
        let nodes = graph
            .topo_order()
            .iter()
            .map(|&n| {
                let node = graph.node(n);
                let e = self.entry(n);
                PlanNode {
                    id: node.id.clone(),
                    name: node.name.clone(),
                    pname: node.pname.clone(),
                    status: e.status,
                    classic: e.classic,
                    interface_changed: e.interface_changed,
                    reason: e.reason.map(|r| PlanReason {
                        kind: r.kind().to_owned(),
                        input: r.input().map(|m| graph.node(m).id.clone()),
                    }),
                }
            })
            .collect();
        PlanFile {
            schema: PLAN_SCHEMA.to_owned(),
            version: PLAN_VERSION,
            graph: graph_path.to_owned(),
            changed: self
                .changed
                .iter()
                .map(|&n| graph.node(n).id.clone())
                .collect(),
            abi: self.abi.to_owned(),
            tools: self.tools,
            totals: self.totals(),
            nodes,
        }
    }

    /// Readable text: every node that reruns something, with why, then the totals.
    pub fn to_text(&self, graph: &Graph) -> String {
        let mut out = String::new();
        for &n in graph.topo_order() {
            let e = self.entry(n);
            if e.status == Status::Untouched {
                continue;
            }
            let why = e.reason.map(|r| r.describe(graph)).unwrap_or_default();
            let _ = writeln!(
                out,
                "{:<9} {}  ({why})",
                e.status.as_str(),
                graph.node(n).name
            );
        }
        out.push_str(&totals_text(&self.totals()));
        out
    }

    /// Graphviz DOT: compile red, relink amber, untouched grey; edge style by role.
    pub fn to_dot(&self, graph: &Graph) -> String {
        let mut out = String::from("digraph plan {\n  rankdir=LR;\n  node [style=filled];\n");
        for &n in graph.topo_order() {
            let color = match self.entry(n).status {
                Status::Compile => "#e04040",
                Status::Relink => "#ffbf00",
                Status::Untouched => "#c8c8c8",
            };
            let _ = writeln!(
                out,
                "  {} [label={}, fillcolor=\"{color}\"];",
                dot_quote(&graph.node(n).id),
                dot_quote(&graph.node(n).name)
            );
        }
        let dag = graph.dag();
        for e in dag.edge_references() {
            let style = match e.weight() {
                Role::Lib => "solid",
                Role::Tool => "bold",
                Role::Runtime => "dashed",
            };
            let _ = writeln!(
                out,
                "  {} -> {} [style={style}, label=\"{}\"];",
                dot_quote(&dag[e.source()].id),
                dot_quote(&dag[e.target()].id),
                e.weight().as_str()
            );
        }
        out.push_str("}\n");
        out
    }
}

fn dot_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The totals block that ends `relink-plan`'s text output.
fn totals_text(t: &Totals) -> String {
    format!(
        "nodes {}: classic rebuild {}, with abicut: compile {}, relink only {}, untouched {}\n",
        t.nodes, t.classic, t.compile, t.relink, t.untouched
    )
}

/// The `schema` field of plan JSON.
pub const PLAN_SCHEMA: &str = "abicut-plan";
/// The plan JSON version this build reads and writes.
pub const PLAN_VERSION: u32 = 1;

/// Plan JSON, as `relink-plan --json` prints it and `report` reads it.
///
/// `nodes` lists every node in topological order with its `status` (`compile`, `relink`,
/// `untouched`), whether a classic build would rebuild it, whether its interface changed,
/// and the `reason`: `kind` is one of `changed`, `tool`, `tool-compile`, `tool-pinned`,
/// `lib-interface`, `lib-output`, `runtime`, `fixed-output`, and `input` the id of the input
/// that forced it (for `tool-pinned` and `fixed-output`, on an untouched node: the input
/// whose change it does not see).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    /// Always [`PLAN_SCHEMA`]; `report` refuses other documents by it.
    pub schema: String,
    /// Always [`PLAN_VERSION`]; `report` refuses other versions.
    pub version: u32,
    /// The graph file the plan was made from, as given.
    pub graph: String,
    /// Ids of the nodes named by `--changed`.
    pub changed: Vec<String>,
    /// The ABI assumption (`same`, `changed`, `unknown`, `measured`).
    pub abi: String,
    /// The tool policy (`strict`, `pinned`); a plan written before `--tools` existed has
    /// none and was made under `strict`, so it reads as such.
    #[serde(default)]
    pub tools: Tools,
    /// The counts [`Plan::totals`] gives.
    pub totals: Totals,
    /// Every node, in topological order.
    pub nodes: Vec<PlanNode>,
}

/// One node of a [`PlanFile`]: who it is, what reruns and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanNode {
    /// The node's id, unique in the graph; `input` and `changed` refer to nodes by it.
    pub id: String,
    /// The node's name, as people call it.
    pub name: String,
    /// The package name without version, when the graph has it; `report` weights may use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pname: Option<String>,
    /// What reruns.
    pub status: Status,
    /// Whether a classic build rebuilds it.
    pub classic: bool,
    /// Whether it compiles and its interface changed or is unknown.
    pub interface_changed: bool,
    /// Why it reruns; for an untouched node, none, or the input whose change it does not
    /// see (`fixed-output`, `tool-pinned`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<PlanReason>,
}

/// Why a node of a [`PlanFile`] reruns.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanReason {
    /// [`Reason::kind`]: `changed`, `tool`, `tool-compile`, `tool-pinned`, `lib-interface`,
    /// `lib-output`, `runtime`, `fixed-output`.
    pub kind: String,
    /// The id of the input that forced it; none for `changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
}

/// One link of an [`explain`] chain.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    /// The node this step is about.
    pub node: NodeIndex,
    /// Its plan entry, whose reason names the next step.
    pub entry: Entry,
}

/// The chain of reasons from `node` back to a changed node, like `nix why-depends` for
/// rebuilds: each step's reason names the input that is the next step.
pub fn explain(plan: &Plan, node: NodeIndex) -> Vec<Step> {
    let mut chain = Vec::new();
    let mut cur = Some(node);
    while let Some(n) = cur {
        let entry = *plan.entry(n);
        chain.push(Step { node: n, entry });
        cur = entry.reason.and_then(Reason::input);
    }
    chain
}

/// The `schema` field of explain JSON.
pub const EXPLAIN_SCHEMA: &str = "abicut-explain";
/// The explain JSON version this build writes.
pub const EXPLAIN_VERSION: u32 = 1;

/// Explain JSON, as `explain --json` prints it: one chain per node asked about (a name may
/// match several), each from the node back to a changed node.
#[derive(Debug, Clone, Serialize)]
pub struct ExplainFile {
    /// Always [`EXPLAIN_SCHEMA`].
    pub schema: &'static str,
    /// Always [`EXPLAIN_VERSION`].
    pub version: u32,
    /// One chain per node asked about, each from that node back to a changed node.
    pub chains: Vec<Vec<ExplainStep>>,
}

/// One step of an [`ExplainFile`] chain: the node, what reruns for it, and the `kind` of
/// its reason ([`Reason::kind`]; none for an untouched node without changed inputs).
#[derive(Debug, Clone, Serialize)]
pub struct ExplainStep {
    /// The node's id in the graph.
    pub id: String,
    /// The node's name.
    pub name: String,
    /// What reruns for it.
    pub status: Status,
    /// The `kind` of its reason.
    pub reason: Option<&'static str>,
}

/// The chains of [`explain`] as their documented JSON document.
pub fn explain_file(graph: &Graph, chains: &[Vec<Step>]) -> ExplainFile {
    let step = |s: &Step| ExplainStep {
        id: graph.node(s.node).id.clone(),
        name: graph.node(s.node).name.clone(),
        status: s.entry.status,
        reason: s.entry.reason.map(Reason::kind),
    };
    ExplainFile {
        schema: EXPLAIN_SCHEMA,
        version: EXPLAIN_VERSION,
        chains: chains
            .iter()
            .map(|c| c.iter().map(step).collect())
            .collect(),
    }
}

/// The chain as text: one line per step, the first saying what happens to `node`.
pub fn explain_text(graph: &Graph, chain: &[Step]) -> String {
    let mut out = String::new();
    for (i, step) in chain.iter().enumerate() {
        let name = &graph.node(step.node).name;
        let line = match (step.entry.status, step.entry.reason) {
            (Status::Untouched, None) => format!("{name} is untouched: no input of it changed"),
            (Status::Untouched, Some(r)) => format!("{name} is untouched: {}", r.describe(graph)),
            (Status::Relink, Some(r)) => {
                format!("{name} only relinks: {}", r.describe(graph))
            }
            (status, Some(r)) => format!("{name} {}s: {}", status.as_str(), r.describe(graph)),
            (status, None) => format!("{name}: {}", status.as_str()),
        };
        let lead = if i == 0 { "" } else { "  <- " };
        let _ = writeln!(out, "{lead}{line}");
    }
    out
}

/// The rules of the module doc, one test each, on graphs built in memory: `plan` calls
/// `entry_for` once per node, so these pin its decisions without Nix or any tool.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::GraphBuilder;

    /// A node's id, whether it is fixed-output, and its (input id, role) edges.
    type Spec<'a> = (&'a str, bool, &'a [(&'a str, Role)]);

    /// A graph of nodes listed in any order.
    fn graph(nodes: &[Spec]) -> Graph {
        let mut b = GraphBuilder::default();
        for &(id, fixed, inputs) in nodes {
            let mut node = Node::new(id);
            node.fixed_output = fixed;
            b.add_node(node).unwrap();
            for &(input, role) in inputs {
                b.add_edge(input, id, role);
            }
        }
        b.build(Path::new("test.json")).unwrap()
    }

    /// Each node's verdict as text: `status(reason input)`, `+iface` when its interface
    /// changed, `+classic` when a classic build rebuilds it.
    fn verdicts(g: &Graph, changed: &[&str], facts: AbiFacts) -> Vec<(String, String)> {
        verdicts_under(g, changed, facts, Tools::Strict)
    }

    /// [`verdicts`] under a tool policy.
    fn verdicts_under(
        g: &Graph,
        changed: &[&str],
        facts: AbiFacts,
        tools: Tools,
    ) -> Vec<(String, String)> {
        let changed: Vec<NodeIndex> = changed.iter().map(|c| g.index_of(c).unwrap()).collect();
        let p = plan(g, &changed, &facts, tools);
        g.topo_order()
            .iter()
            .map(|&ix| {
                let e = p.entry(ix);
                let mut v = e.status.as_str().to_owned();
                if let Some(r) = e.reason {
                    match r.input() {
                        Some(m) => write!(v, "({} {})", r.kind(), g.node(m).id),
                        None => write!(v, "({})", r.kind()),
                    }
                    .unwrap();
                }
                if e.interface_changed {
                    v.push_str("+iface");
                }
                if e.classic {
                    v.push_str("+classic");
                }
                (g.node(ix).id.clone(), v)
            })
            .collect()
    }

    fn verdict_of(g: &Graph, changed: &[&str], facts: AbiFacts, id: &str) -> String {
        let all = verdicts(g, changed, facts);
        all.into_iter().find(|(n, _)| n == id).unwrap().1
    }

    /// A `user` with one input `base` in `role`.
    fn pair(role: Role) -> Graph {
        graph(&[("base", false, &[]), ("user", false, &[("base", role)])])
    }

    fn measured(old: &[(&str, &str)], new: &[(&str, &str)]) -> AbiFacts {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|&(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        };
        AbiFacts::Measured {
            old: map(old),
            new: map(new),
        }
    }

    /// compile(n) reruns if n changed; nothing else moves without a change.
    #[test]
    fn a_changed_node_compiles_and_nothing_else_moves_without_one() {
        let g = pair(Role::Tool);
        let got = verdict_of(&g, &["base"], AbiFacts::Uniform(Abi::Same), "base");
        assert_eq!(got, "compile(changed)+classic");
        let none = verdicts(&g, &[], AbiFacts::Uniform(Abi::Changed));
        assert!(none.iter().all(|(_, v)| v == "untouched"), "{none:?}");
    }

    /// compile(n) reruns if a `tool` input's output changed, even with its interface the same.
    #[test]
    fn a_tool_output_change_compiles_even_with_the_same_interface() {
        let got = verdict_of(
            &pair(Role::Tool),
            &["base"],
            AbiFacts::Uniform(Abi::Same),
            "user",
        );
        assert_eq!(got, "compile(tool base)+classic");
    }

    /// compile(n) reruns if a `lib` input's interface changed, and unknown counts as changed.
    #[test]
    fn a_lib_interface_change_compiles_and_unknown_counts_as_changed() {
        for abi in [Abi::Changed, Abi::Unknown] {
            let got = verdict_of(&pair(Role::Lib), &["base"], AbiFacts::Uniform(abi), "user");
            assert_eq!(got, "compile(lib-interface base)+iface+classic", "{abi:?}");
        }
    }

    /// interface(n) changes iff compile(n) reran and its hash differs: a measured same hash
    /// stops the cutoff (the user only relinks), a different one does not.
    #[test]
    fn the_interface_changes_only_when_its_measured_hash_differs() {
        let g = pair(Role::Lib);
        let same = measured(&[("base", "h1")], &[("base", "h1")]);
        assert_eq!(
            verdicts(&g, &["base"], same),
            [
                ("base".into(), "compile(changed)+classic".into()),
                ("user".into(), "relink(lib-output base)+classic".into()),
            ]
        );
        let differs = measured(&[("base", "h1")], &[("base", "h2")]);
        let got = verdict_of(&g, &["base"], differs, "base");
        assert_eq!(got, "compile(changed)+iface+classic");
    }

    /// A node that only relinks keeps its interface, whatever its measured hashes say: its
    /// `lib` users relink and do not compile.
    #[test]
    fn a_relinked_node_keeps_its_interface() {
        let g = graph(&[
            ("base", false, &[]),
            ("mid", false, &[("base", Role::Runtime)]),
            ("top", false, &[("mid", Role::Lib)]),
        ]);
        let facts = measured(
            &[("base", "b1"), ("mid", "m1")],
            &[("base", "b2"), ("mid", "m2")],
        );
        assert_eq!(
            verdicts(&g, &["base"], facts),
            [
                ("base".into(), "compile(changed)+iface+classic".into()),
                ("mid".into(), "relink(runtime base)+classic".into()),
                ("top".into(), "relink(lib-output mid)+classic".into()),
            ]
        );
    }

    /// relink(n) reruns if a `lib` input's output changed but not its interface.
    #[test]
    fn a_lib_output_change_alone_relinks() {
        let got = verdict_of(
            &pair(Role::Lib),
            &["base"],
            AbiFacts::Uniform(Abi::Same),
            "user",
        );
        assert_eq!(got, "relink(lib-output base)+classic");
    }

    /// relink(n) reruns if a `runtime` input's output changed, even with its interface changed.
    #[test]
    fn a_runtime_output_change_relinks_even_with_a_changed_interface() {
        let got = verdict_of(
            &pair(Role::Runtime),
            &["base"],
            AbiFacts::Uniform(Abi::Changed),
            "user",
        );
        assert_eq!(got, "relink(runtime base)+classic");
    }

    /// n's final output changes iff its relink reran: a user of an untouched node stays
    /// untouched, and a classic build does not rebuild either.
    #[test]
    fn an_untouched_input_changes_nothing_for_its_users() {
        let g = graph(&[
            ("base", false, &[]),
            ("other", false, &[]),
            ("user", false, &[("other", Role::Tool)]),
        ]);
        let got = verdict_of(&g, &["base"], AbiFacts::Uniform(Abi::Changed), "user");
        assert_eq!(got, "untouched");
    }

    /// An unchanged fixed-output derivation stays untouched, names the input it ignores,
    /// and hides the change from its users, in a classic build too.
    #[test]
    fn a_fixed_output_derivation_hides_its_inputs_changes() {
        let g = graph(&[
            ("src", false, &[]),
            ("fetch", true, &[("src", Role::Tool)]),
            ("user", false, &[("fetch", Role::Tool)]),
        ]);
        assert_eq!(
            verdicts(&g, &["src"], AbiFacts::Uniform(Abi::Changed)),
            [
                ("src".into(), "compile(changed)+iface+classic".into()),
                ("fetch".into(), "untouched(fixed-output src)".into()),
                ("user".into(), "untouched".into()),
            ]
        );
    }

    /// A fixed-output derivation that is itself among the changed nodes does rebuild.
    #[test]
    fn a_changed_fixed_output_derivation_compiles() {
        let g = graph(&[
            ("fetch", true, &[]),
            ("user", false, &[("fetch", Role::Tool)]),
        ]);
        assert_eq!(
            verdicts(&g, &["fetch"], AbiFacts::Uniform(Abi::Same)),
            [
                ("fetch".into(), "compile(changed)+classic".into()),
                ("user".into(), "compile(tool fetch)+classic".into()),
            ]
        );
    }

    /// The reason names the first forcing input in topological order, whatever order the
    /// edges were listed in.
    #[test]
    fn the_reason_is_the_first_input_in_topological_order() {
        let inputs: [(&str, Role); 2] = [("a", Role::Lib), ("b", Role::Lib)];
        let reversed: [(&str, Role); 2] = [("b", Role::Lib), ("a", Role::Lib)];
        let mut reasons = Vec::new();
        for edges in [&inputs[..], &reversed[..]] {
            let g = graph(&[("a", false, &[]), ("b", false, &[]), ("user", false, edges)]);
            let first = g.node(g.topo_order()[0]).id.clone();
            let got = verdict_of(&g, &["a", "b"], AbiFacts::Uniform(Abi::Changed), "user");
            assert_eq!(got, format!("compile(lib-interface {first})+iface+classic"));
            reasons.push(got);
        }
        assert_eq!(reasons[0], reasons[1]);
    }

    /// A library `lib`, a tool `tool` linking it, and `user`, which runs the tool.
    fn tool_on_lib() -> Graph {
        graph(&[
            ("lib", false, &[]),
            ("tool", false, &[("lib", Role::Lib)]),
            ("user", false, &[("tool", Role::Tool)]),
        ])
    }

    /// A tool that only relinks (its library kept its interface) forces its users' compile
    /// under strict, and under pinned leaves them untouched, naming the tool.
    #[test]
    fn a_relinked_tool_compiles_its_users_only_under_strict() {
        let g = tool_on_lib();
        let same = || AbiFacts::Uniform(Abi::Same);
        let strict = verdicts_under(&g, &["lib"], same(), Tools::Strict);
        let pinned = verdicts_under(&g, &["lib"], same(), Tools::Pinned);
        assert_eq!(strict[1].1, "relink(lib-output lib)+classic");
        assert_eq!(
            pinned[1].1, strict[1].1,
            "the tool itself relinks either way"
        );
        assert_eq!(strict[2].1, "compile(tool tool)+classic");
        assert_eq!(pinned[2].1, "untouched(tool-pinned tool)+classic");
    }

    /// A tool whose compile reran forces its users' compile under both policies: its own
    /// change, or its library's interface changing.
    #[test]
    fn a_compiled_tool_compiles_its_users_under_both() {
        let g = tool_on_lib();
        for tools in [Tools::Strict, Tools::Pinned] {
            let own = verdicts_under(&g, &["tool"], AbiFacts::Uniform(Abi::Same), tools);
            let via_lib = verdicts_under(&g, &["lib"], AbiFacts::Uniform(Abi::Changed), tools);
            let kind = match tools {
                Tools::Strict => "tool",
                Tools::Pinned => "tool-compile",
            };
            assert_eq!(own[2].1, format!("compile({kind} tool)+classic"));
            assert_eq!(via_lib[1].1, "compile(lib-interface lib)+iface+classic");
            // With every interface changed, the user's own interface changes too.
            assert_eq!(via_lib[2].1, format!("compile({kind} tool)+iface+classic"));
        }
    }

    /// A chain through two tools: `cc` runs `gen`, which runs `m4`. When `m4` compiles,
    /// pinned passes the compile down the chain; when `m4` only relinks, pinned stops at
    /// it where strict compiles the whole chain.
    #[test]
    fn a_chain_through_two_tools() {
        let g = graph(&[
            ("libc", false, &[]),
            ("m4", false, &[("libc", Role::Lib)]),
            ("gen", false, &[("m4", Role::Tool), ("libc", Role::Lib)]),
            ("cc", false, &[("gen", Role::Tool)]),
        ]);
        let same = || AbiFacts::Uniform(Abi::Same);
        assert_eq!(
            verdicts_under(&g, &["m4"], same(), Tools::Pinned),
            [
                ("libc".into(), "untouched".into()),
                ("m4".into(), "compile(changed)+classic".into()),
                ("gen".into(), "compile(tool-compile m4)+classic".into()),
                ("cc".into(), "compile(tool-compile gen)+classic".into()),
            ]
        );
        let pinned = verdicts_under(&g, &["libc"], same(), Tools::Pinned);
        assert_eq!(
            pinned[1..],
            [
                ("m4".into(), "relink(lib-output libc)+classic".into()),
                ("gen".into(), "relink(lib-output libc)+classic".into()),
                ("cc".into(), "untouched(tool-pinned gen)+classic".into()),
            ]
        );
        let strict = verdicts_under(&g, &["libc"], same(), Tools::Strict);
        assert_eq!(
            strict[2..],
            [
                ("gen".into(), "compile(tool m4)+classic".into()),
                ("cc".into(), "compile(tool gen)+classic".into()),
            ]
        );
    }

    /// A tool that only relinked leaves its user's `lib` and `runtime` inputs in charge: a
    /// user linking the changed library still relinks, and its reason is the library.
    #[test]
    fn a_pinned_tool_does_not_hide_other_inputs() {
        let g = graph(&[
            ("lib", false, &[]),
            ("tool", false, &[("lib", Role::Lib)]),
            ("user", false, &[("tool", Role::Tool), ("lib", Role::Lib)]),
        ]);
        let got = verdicts_under(&g, &["lib"], AbiFacts::Uniform(Abi::Same), Tools::Pinned);
        assert_eq!(got[2].1, "relink(lib-output lib)+classic");
    }
}

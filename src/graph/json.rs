//! abicut's own graph JSON, the format anything can produce (the Debian converter does).
//!
//! ```json
//! {
//!   "schema": "abicut-graph",
//!   "version": 1,
//!   "nodes": [
//!     { "id": "zlib", "pname": "zlib", "version": "1.3" },
//!     { "id": "curl", "name": "curl-8.5.0", "outputs": ["out", "dev"],
//!       "inputs": { "zlib": "lib", "perl": "tool", "cacert": "runtime" } },
//!     { "id": "src-curl", "fixed_output": true }
//!   ]
//! }
//! ```
//!
//! `id` is required and unique; `name` defaults to the id, `outputs` to `["out"]`,
//! `fixed_output` to false; `inputs` maps an input's id to its role (`lib`, `tool`,
//! `runtime`). Unknown fields are rejected so a typo does not silently change a plan.

use super::{Graph, GraphBuilder, Node, Role};
use crate::error::{Error, Result};
use crate::fsx::{self, Versioned};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The value of the `schema` field that marks abicut graph JSON.
pub const SCHEMA: &str = "abicut-graph";
/// The only graph JSON version this build reads and writes.
pub const VERSION: u32 = 1;

/// What a graph JSON file declares.
const FORMAT: Versioned = Versioned {
    schema: Some(SCHEMA),
    version: VERSION as u64,
    made_by: "a graph is Nix derivation JSON (`nix derivation show -r`) or abicut graph \
              JSON (docs/planning.md)",
};

#[derive(Deserialize)]
struct Probe {
    schema: Option<serde::de::IgnoredAny>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GraphFile {
    schema: String,
    version: u32,
    nodes: Vec<NodeEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeEntry {
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outputs: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    fixed_output: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    inputs: BTreeMap<String, Role>,
}

/// Whether `bytes` is a JSON object with a top-level `schema` field (abicut graph JSON)
/// rather than Nix derivation JSON. Malformed JSON counts as ours so the error that
/// follows comes from the stricter parser.
pub fn looks_like_graph_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Probe>(bytes).map_or(true, |p| p.schema.is_some())
}

/// Parses graph JSON; errors give the line and column, or the node that is wrong.
pub fn from_slice(path: &Path, bytes: &[u8]) -> Result<Graph> {
    let file: GraphFile = fsx::parse_json(path, bytes, "graph JSON", Some(FORMAT))?;
    let edge_count = file.nodes.iter().map(|n| n.inputs.len()).sum();
    let mut b = GraphBuilder::with_capacity(file.nodes.len(), edge_count);
    for mut entry in file.nodes {
        for (input, role) in std::mem::take(&mut entry.inputs) {
            b.add_edge(input, entry.id.clone(), role);
        }
        b.add_node(node_of(entry))
            .map_err(|e| Error::invalid(path, e.to_string()))?;
    }
    b.build(path)
}

fn node_of(entry: NodeEntry) -> Node {
    let mut node = Node::new(entry.id);
    if let Some(name) = entry.name {
        node.name = name;
    }
    if let Some(outputs) = entry.outputs {
        node.outputs = outputs;
    }
    node.pname = entry.pname;
    node.version = entry.version;
    node.fixed_output = entry.fixed_output;
    node
}

/// Serializes a graph as graph JSON (nodes in topological order, inputs first), so any
/// loader's result can be saved and reloaded without the original tool.
pub fn to_string(graph: &Graph) -> Result<String> {
    let dag = graph.dag();
    let nodes = graph
        .topo_order()
        .iter()
        .map(|&ix| {
            let n = &dag[ix];
            let inputs = dag
                .edges_directed(ix, petgraph::Direction::Incoming)
                .map(|e| {
                    use petgraph::visit::EdgeRef;
                    (dag[e.source()].id.clone(), *e.weight())
                })
                .collect();
            NodeEntry {
                id: n.id.clone(),
                name: (n.name != n.id).then(|| n.name.clone()),
                pname: n.pname.clone(),
                version: n.version.clone(),
                outputs: (n.outputs != ["out"]).then(|| n.outputs.clone()),
                fixed_output: n.fixed_output,
                inputs,
            }
        })
        .collect();
    let file = GraphFile {
        schema: SCHEMA.to_owned(),
        version: VERSION,
        nodes,
    };
    serde_json::to_string(&file)
        .map_err(|e| Error::Internal(format!("cannot serialize graph: {e}")))
}

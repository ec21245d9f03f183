//! The derivation DAG that `relink-plan`, `explain` and `report` work on.
//!
//! Edges point from an input to the derivation that uses it, so a plan is one pass in
//! topological order where every node already knows what happened to its inputs.

pub mod json;
pub mod nix;
pub mod overrides;
pub mod plan;

use crate::error::{Error, Result};
use crate::store;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

/// Node ids to indices. Hashed with a multiply-rotate hash rather than SipHash: looking up
/// every edge's two ids is most of loading a large graph, and graph files are local input.
type IdMap = HashMap<String, NodeIndex, BuildHasherDefault<IdHasher>>;

#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// How a derivation uses one of its inputs (docs/planning.md: the rules each role follows).
///
/// Ordered by strength: a `tool` edge forces at least what a `lib` edge forces, which
/// forces at least what a `runtime` edge does, so duplicate edges keep the strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Only referenced at run time: its change costs a relink.
    Runtime,
    /// Linked or included: only its interface matters to the compile.
    Lib,
    /// Run at build time: any change to its output reruns the compile.
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Runtime => "runtime",
            Role::Lib => "lib",
            Role::Tool => "tool",
        }
    }
}

/// One derivation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Unique key: a `.drv` base name for Nix graphs, any string for graph JSON.
    pub id: String,
    /// Human name (`hello-2.12`); defaults to the id.
    pub name: String,
    pub pname: Option<String>,
    pub version: Option<String>,
    pub outputs: Vec<String>,
    /// A fixed-output derivation's output is fixed by its hash, so rebuilding it never
    /// changes what its users see.
    pub fixed_output: bool,
}

impl Node {
    pub fn new(id: impl Into<String>) -> Self {
        let id = id.into();
        Node {
            name: id.clone(),
            id,
            pname: None,
            version: None,
            outputs: vec!["out".to_owned()],
            fixed_output: false,
        }
    }
}

/// A derivation DAG. Construction goes through [`GraphBuilder`], which checks that every
/// edge names a known node and that there is no cycle, so a `Graph` is always a DAG.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    dag: DiGraph<Node, Role>,
    by_id: IdMap,
    /// Nodes in topological order (inputs first), computed once at construction.
    topo: Vec<NodeIndex>,
    /// Every node's inputs, laid out in topological order (compressed sparse rows): the
    /// plan streams through this instead of chasing petgraph's edge lists, which keeps it
    /// linear in practice too, not just in theory, on graphs larger than the caches.
    inputs: Vec<Input>,
    /// `inputs[offsets[p]..offsets[p + 1]]` are the inputs of `topo[p]`.
    offsets: Vec<usize>,
    /// Whether `topo[p]` is a fixed-output derivation, kept apart from the nodes for the
    /// same reason as `inputs`.
    fixed: Vec<bool>,
}

/// One input edge as the planner reads it: the input's topological position and the
/// role, packed in four bytes so a whole graph's edges stream through the caches.
#[derive(Debug, Clone, Copy)]
pub struct Input(u32);

impl Input {
    const POS_BITS: u32 = 30;
    /// Graphs are limited to 2^30 nodes by this packing.
    pub const MAX_NODES: usize = 1 << Self::POS_BITS;

    fn new(pos: usize, role: Role) -> Input {
        let r = match role {
            Role::Runtime => 0,
            Role::Lib => 1,
            Role::Tool => 2,
        };
        Input((pos as u32) | (r << Self::POS_BITS))
    }

    /// The input's position in [`Graph::topo_order`].
    pub fn pos(self) -> usize {
        (self.0 & (Input::MAX_NODES as u32 - 1)) as usize
    }

    pub fn role(self) -> Role {
        match self.0 >> Self::POS_BITS {
            0 => Role::Runtime,
            1 => Role::Lib,
            _ => Role::Tool,
        }
    }
}

impl Graph {
    pub fn dag(&self) -> &DiGraph<Node, Role> {
        &self.dag
    }

    pub fn node(&self, ix: NodeIndex) -> &Node {
        &self.dag[ix]
    }

    pub fn node_count(&self) -> usize {
        self.dag.node_count()
    }

    pub fn edge_count(&self) -> usize {
        self.dag.edge_count()
    }

    pub fn topo_order(&self) -> &[NodeIndex] {
        &self.topo
    }

    /// Whether the node at position `pos` of [`Graph::topo_order`] is fixed-output.
    pub fn fixed_at(&self, pos: usize) -> bool {
        self.fixed[pos]
    }

    /// The inputs of the node at position `pos` of [`Graph::topo_order`].
    pub fn inputs_at(&self, pos: usize) -> &[Input] {
        &self.inputs[self.offsets[pos]..self.offsets[pos + 1]]
    }

    pub fn index_of(&self, id: &str) -> Option<NodeIndex> {
        self.by_id.get(id).copied()
    }

    /// Resolves a user-given name: an exact id, else every node with that name, else every
    /// node with that pname. Several matches are all returned because one package name can
    /// stand for several derivations (bootstrap stages, several outputs' builders).
    pub fn resolve(&self, key: &str) -> Vec<NodeIndex> {
        if let Some(ix) = self.index_of(key) {
            return vec![ix];
        }
        let by_name: Vec<NodeIndex> = self
            .dag
            .node_indices()
            .filter(|&ix| self.dag[ix].name == key)
            .collect();
        if !by_name.is_empty() {
            return by_name;
        }
        self.dag
            .node_indices()
            .filter(|&ix| self.dag[ix].pname.as_deref() == Some(key))
            .collect()
    }

    /// Like [`Graph::resolve`], but an unknown name is an error that says so.
    pub fn resolve_all(&self, keys: &[String]) -> Result<Vec<NodeIndex>> {
        let mut out = Vec::new();
        for key in keys {
            let mut found = self.resolve(key);
            if found.is_empty() {
                found = self.resolve_without_version(key)?;
            }
            if found.is_empty() {
                return Err(Error::Usage(format!(
                    "no node named {key:?} in the graph (matched against ids, names, pnames \
                     and names without their version)"
                )));
            }
            out.extend(found);
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Nodes whose name is `key` once its version is cut off (`base-1.0` for `base`): plain Nix
    /// derivations carry no pname, and users name a package without its version. Several
    /// different names matching is ambiguous, an error listing them.
    fn resolve_without_version(&self, key: &str) -> Result<Vec<NodeIndex>> {
        let found: Vec<NodeIndex> = self
            .dag
            .node_indices()
            .filter(|&ix| store::pname_str(&self.dag[ix].name) == key)
            .collect();
        let names: BTreeSet<&str> = found.iter().map(|&ix| self.dag[ix].name.as_str()).collect();
        if names.len() > 1 {
            let list: Vec<&str> = names.into_iter().collect();
            return Err(Error::Usage(format!(
                "{key:?} is ambiguous: it names {}; give one of them",
                list.join(", ")
            )));
        }
        Ok(found)
    }

    /// Loads a graph file, recognising its format: abicut graph JSON carries a
    /// `"schema": "abicut-graph"` field; anything else is read as Nix derivation JSON.
    pub fn load(path: &Path) -> Result<Graph> {
        let bytes = crate::fsx::read(path)?;
        if json::looks_like_graph_json(&bytes) {
            json::from_slice(path, &bytes)
        } else {
            nix::from_slice(path, &bytes)
        }
    }

    /// Changes edge roles according to `rules`; the first matching rule wins.
    pub fn apply_overrides(&mut self, rules: &overrides::Overrides) {
        for e in self.dag.edge_indices() {
            let Some((from, to)) = self.dag.edge_endpoints(e) else {
                continue;
            };
            if let Some(role) = rules.role_for(&self.dag[from], &self.dag[to]) {
                self.dag[e] = role;
            }
        }
        (self.inputs, self.offsets) = input_rows(&self.dag, &self.topo);
    }

    /// A copy of the graph repeated `times` times (ids suffixed `#k`), for benchmarks that
    /// show the plan is linear in the graph's size.
    pub fn replicate(&self, times: usize) -> Result<Graph> {
        let mut b =
            GraphBuilder::with_capacity(self.node_count() * times, self.edge_count() * times);
        for k in 0..times {
            for ix in self.dag.node_indices() {
                let mut node = self.dag[ix].clone();
                node.id = format!("{}#{k}", node.id);
                b.add_node(node)?;
            }
            for e in self.dag.edge_indices() {
                if let Some((from, to)) = self.dag.edge_endpoints(e) {
                    let from = format!("{}#{k}", self.dag[from].id);
                    let to = format!("{}#{k}", self.dag[to].id);
                    b.add_edge(&from, &to, self.dag[e]);
                }
            }
        }
        b.build(Path::new("<replicated>"))
    }
}

/// Collects nodes and edges by id, then checks them all at once in [`GraphBuilder::build`].
#[derive(Debug, Default)]
pub struct GraphBuilder {
    dag: DiGraph<Node, Role>,
    by_id: IdMap,
    /// (input id, user id, role); resolved in `build` so edges may precede their nodes.
    edges: Vec<(String, String, Role)>,
}

impl GraphBuilder {
    pub fn with_capacity(nodes: usize, edges: usize) -> Self {
        GraphBuilder {
            dag: DiGraph::with_capacity(nodes, edges),
            by_id: IdMap::with_capacity_and_hasher(nodes, Default::default()),
            edges: Vec::with_capacity(edges),
        }
    }

    /// Adds a node; a second node with the same id is an error.
    pub fn add_node(&mut self, node: Node) -> Result<NodeIndex> {
        if self.dag.node_count() + 1 >= Input::MAX_NODES {
            return Err(Error::Usage(format!(
                "graphs are limited to {} nodes",
                Input::MAX_NODES - 1
            )));
        }
        if self.by_id.contains_key(&node.id) {
            return Err(Error::Usage(format!("node {:?} is defined twice", node.id)));
        }
        let id = node.id.clone();
        let ix = self.dag.add_node(node);
        self.by_id.insert(id, ix);
        Ok(ix)
    }

    /// Records that `user` uses `input` in `role`.
    pub fn add_edge(&mut self, input: impl Into<String>, user: impl Into<String>, role: Role) {
        self.edges.push((input.into(), user.into(), role));
    }

    /// The recorded edges as (input, user, role) by node index; an unknown node or a
    /// self-edge is an error naming the node.
    fn resolve_edges(&mut self, path: &Path) -> Result<Vec<(NodeIndex, NodeIndex, Role)>> {
        let mut out = Vec::with_capacity(self.edges.len());
        for (input, user, role) in std::mem::take(&mut self.edges) {
            let to = self.by_id.get(&user).copied().ok_or_else(|| {
                Error::invalid(
                    path,
                    format!("an edge names node {user:?}, which is not in the graph"),
                )
            })?;
            let from = self.by_id.get(&input).copied().ok_or_else(|| {
                Error::invalid(
                    path,
                    format!("node {user:?} has an input {input:?} that is not in the graph"),
                )
            })?;
            if from == to {
                return Err(Error::invalid(
                    path,
                    format!("cycle: node {user:?} is its own input"),
                ));
            }
            out.push((from, to, role));
        }
        Ok(out)
    }

    /// Resolves the edges (keeping the strongest role of duplicates), rejects unknown
    /// nodes, self-edges and cycles, naming the node and the file `path`.
    pub fn build(mut self, path: &Path) -> Result<Graph> {
        let edges = self.resolve_edges(path)?;
        add_deduplicated(&mut self.dag, &edges);
        let topo = topological_order(&self.dag, path)?;
        let (inputs, offsets) = input_rows(&self.dag, &topo);
        let fixed = topo.iter().map(|&ix| self.dag[ix].fixed_output).collect();
        Ok(Graph {
            dag: self.dag,
            by_id: self.by_id,
            topo,
            inputs,
            offsets,
            fixed,
        })
    }
}

/// Adds `edges` to `dag`, one edge per (input, user) pair with the strongest role of its
/// duplicates. Linear: edges are bucketed by user, and a per-input stamp finds duplicates
/// within a bucket, where a hash set of pairs would dominate loading big graphs.
fn add_deduplicated(dag: &mut DiGraph<Node, Role>, edges: &[(NodeIndex, NodeIndex, Role)]) {
    let n = dag.node_count();
    let mut start = vec![0usize; n + 1];
    for (_, to, _) in edges {
        start[to.index() + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut by_user = vec![0usize; edges.len()];
    for (i, (_, to, _)) in edges.iter().enumerate() {
        by_user[fill[to.index()]] = i;
        fill[to.index()] += 1;
    }
    let mut stamp = vec![usize::MAX; n];
    let mut edge_of = vec![petgraph::graph::EdgeIndex::end(); n];
    for user in 0..n {
        for &i in &by_user[start[user]..start[user + 1]] {
            let (from, to, role) = edges[i];
            let f = from.index();
            if stamp[f] == user {
                dag[edge_of[f]] = dag[edge_of[f]].max(role);
            } else {
                stamp[f] = user;
                edge_of[f] = dag.add_edge(from, to, role);
            }
        }
    }
}

/// File order when it already is topological (graph JSON is written that way), so the
/// plan walks nodes in memory order; otherwise petgraph's sort, which finds cycles.
fn topological_order(dag: &DiGraph<Node, Role>, path: &Path) -> Result<Vec<NodeIndex>> {
    use petgraph::visit::EdgeRef;
    if dag.edge_references().all(|e| e.source() < e.target()) {
        return Ok(dag.node_indices().collect());
    }
    petgraph::algo::toposort(dag, None).map_err(|cycle| {
        Error::invalid(
            path,
            format!(
                "cycle: node {:?} depends on itself through its inputs",
                dag[cycle.node_id()].id
            ),
        )
    })
}

/// The compressed input rows of every node, in topological order.
fn input_rows(dag: &DiGraph<Node, Role>, topo: &[NodeIndex]) -> (Vec<Input>, Vec<usize>) {
    use petgraph::visit::EdgeRef;
    let mut pos = vec![0u32; dag.node_count()];
    for (p, ix) in topo.iter().enumerate() {
        pos[ix.index()] = p as u32;
    }
    let mut inputs = Vec::with_capacity(dag.edge_count());
    let mut offsets = Vec::with_capacity(topo.len() + 1);
    offsets.push(0);
    for &ix in topo {
        inputs.extend(
            dag.edges_directed(ix, petgraph::Direction::Incoming)
                .map(|e| Input::new(pos[e.source().index()] as usize, *e.weight())),
        );
        offsets.push(inputs.len());
    }
    (inputs, offsets)
}

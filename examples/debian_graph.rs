//! Converts Debian's archive metadata into abicut graph JSON: a real graph of ~35,000
//! source packages for benchmarks and the report demo.
//!
//! Setup (once, as root): `examples/debian-sources.sh` adds a `deb-src` entry and
//! refreshes the indexes. Then:
//!
//! ```sh
//! cargo run --release --example debian_graph -- -o debian-graph.json
//! ```
//!
//! One node per source package. A build dependency on a library package (section `libs`
//! or `libdevel`, or any `lib*-dev`) is a `lib` edge to the source that builds
//! it; any other build dependency is a `tool` edge. Every package also build-depends on
//! `build-essential` implicitly (Debian policy 4.2): `libc6-dev`, `gcc`, `g++`, `make`,
//! `dpkg-dev` (and the `gcc-12`, `g++-12` and `binutils`
//! they run) are added unless `--no-build-essential`. Alternatives take the first one
//! that exists on amd64; architecture restrictions are honoured for amd64.
//!
//! Build dependencies have cycles (the compiler needs the C library and back). Within
//! each strongly connected component the edges are kept only if they go forward in one
//! order: most dependents minus most dependencies first, the way a bootstrap builds
//! the base first. The count of edges dropped is printed.

use abicut::graph::{GraphBuilder, Node, Role, json};
use anyhow::{Context, bail};
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Build-essential's dependencies (Debian policy 4.2), as binary package names, plus the
/// compilers and linker that `gcc`/`g++` run (their runtime dependencies, which Sources
/// does not list).
const BUILD_ESSENTIAL: &[&str] = &[
    "libc6-dev",
    "gcc",
    "g++",
    "make",
    "dpkg-dev",
    "gcc-12",
    "g++-12",
    "binutils",
];

fn main() -> anyhow::Result<()> {
    let opts = Opts::parse()?;
    let (sources_files, packages_files) = index_files(&opts.lists)?;
    if sources_files.is_empty() {
        bail!(
            "no Sources index under {}: add a deb-src entry and run apt-get update",
            opts.lists.display()
        );
    }
    let mut archive = Archive::default();
    for f in &packages_files {
        archive.read_packages(&cat(f)?);
    }
    for f in &sources_files {
        archive.read_sources(&cat(f)?);
    }
    let (nodes, edges) = archive.edges(opts.build_essential);
    let (kept, dropped) = break_cycles(&nodes, edges);
    let mut b = GraphBuilder::with_capacity(nodes.len(), kept.len());
    for (name, version) in &nodes {
        let mut node = Node::new(name.clone());
        node.pname = Some(name.clone());
        node.version = Some(version.clone());
        b.add_node(node)?;
    }
    for (from, to, role) in &kept {
        b.add_edge(&nodes[*from].0, &nodes[*to].0, *role);
    }
    let graph = b.build(&opts.out)?;
    abicut::fsx::write_atomic(&opts.out, json::to_string(&graph)?.as_bytes())?;
    println!(
        "{}: {} source packages, {} edges ({} lib), {} cycle edges dropped",
        opts.out.display(),
        graph.node_count(),
        graph.edge_count(),
        graph
            .dag()
            .edge_weights()
            .filter(|r| **r == Role::Lib)
            .count(),
        dropped
    );
    Ok(())
}

struct Opts {
    lists: PathBuf,
    out: PathBuf,
    build_essential: bool,
}

impl Opts {
    fn parse() -> anyhow::Result<Opts> {
        let mut o = Opts {
            lists: PathBuf::from("/var/lib/apt/lists"),
            out: PathBuf::from("debian-graph.json"),
            build_essential: true,
        };
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            match a.as_str() {
                "-o" | "--output" => o.out = args.next().context("-o needs a file")?.into(),
                "--lists" => o.lists = args.next().context("--lists needs a directory")?.into(),
                "--no-build-essential" => o.build_essential = false,
                _ => {
                    bail!("usage: debian_graph [-o OUT.json] [--lists DIR] [--no-build-essential]")
                }
            }
        }
        Ok(o)
    }
}

/// The Sources and amd64 Packages indexes, main suite first so updates and security
/// override it.
fn index_files(dir: &Path) -> anyhow::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    let rank = |p: &PathBuf| {
        let s = p.to_string_lossy();
        (
            s.contains("-security") || s.contains("-updates"),
            s.into_owned(),
        )
    };
    files.sort_by_key(rank);
    let named = |needle: &str| -> Vec<PathBuf> {
        files
            .iter()
            .filter(|p| p.to_string_lossy().contains(needle))
            .cloned()
            .collect()
    };
    Ok((named("_source_Sources"), named("_binary-amd64_Packages")))
}

/// An index file's text, whatever apt compressed it with.
fn cat(path: &Path) -> anyhow::Result<String> {
    let out = Command::new("/usr/lib/apt/apt-helper")
        .arg("cat-file")
        .arg(path)
        .output()
        .context("running /usr/lib/apt/apt-helper")?;
    if !out.status.success() {
        bail!("{}: apt-helper cat-file failed", path.display());
    }
    String::from_utf8(out.stdout).with_context(|| format!("{}: not UTF-8", path.display()))
}

/// deb822 paragraphs as field maps (continuation lines joined with spaces).
fn paragraphs(text: &str) -> impl Iterator<Item = HashMap<&str, String>> {
    text.split("\n\n").map(|para| {
        let mut fields: HashMap<&str, String> = HashMap::new();
        let mut last: Option<&str> = None;
        for line in para.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some(v) = last.and_then(|k| fields.get_mut(k)) {
                    v.push(' ');
                    v.push_str(line.trim());
                }
            } else if let Some((k, v)) = line.split_once(':') {
                fields.insert(k, v.trim().to_owned());
                last = Some(k);
            }
        }
        fields
    })
}

#[derive(Default)]
struct Archive {
    /// Source name → (version, raw build dependencies).
    sources: BTreeMap<String, (String, String)>,
    /// Binary package → its source.
    source_of: HashMap<String, String>,
    /// Binary package → section (without the component prefix).
    section: HashMap<String, String>,
    /// Virtual package → providers, in index order.
    providers: HashMap<String, Vec<String>>,
}

impl Archive {
    fn read_packages(&mut self, text: &str) {
        for p in paragraphs(text) {
            let Some(name) = p.get("Package") else {
                continue;
            };
            let src = p.get("Source").map_or(name.as_str(), |s| first_word(s));
            self.source_of.insert(name.clone(), src.to_owned());
            if let Some(sec) = p.get("Section") {
                self.section
                    .insert(name.clone(), strip_component(sec).to_owned());
            }
            for prov in p.get("Provides").into_iter().flat_map(|s| s.split(',')) {
                let virt = first_word(prov.trim()).to_owned();
                self.providers.entry(virt).or_default().push(name.clone());
            }
        }
    }

    fn read_sources(&mut self, text: &str) {
        for p in paragraphs(text) {
            let (Some(name), Some(version)) = (p.get("Package"), p.get("Version")) else {
                continue;
            };
            for bin in p.get("Binary").into_iter().flat_map(|s| s.split(',')) {
                self.source_of
                    .entry(bin.trim().to_owned())
                    .or_insert_with(|| name.clone());
            }
            for line in p
                .get("Package-List")
                .into_iter()
                .flat_map(|s| package_list(s))
            {
                self.section.entry(line.0).or_insert(line.1);
            }
            let deps = ["Build-Depends", "Build-Depends-Arch", "Build-Depends-Indep"]
                .iter()
                .filter_map(|f| p.get(f))
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            self.sources.insert(name.clone(), (version.clone(), deps));
        }
    }

    /// The source package a dependency resolves to on amd64, and whether it is a library.
    fn resolve(&self, binary: &str) -> Option<(&str, bool)> {
        let real = if self.source_of.contains_key(binary) {
            binary
        } else {
            self.providers.get(binary)?.first()?.as_str()
        };
        let src = self.source_of.get(real)?;
        Some((src.as_str(), self.is_library(real)))
    }

    /// Library packages by section (`zlib1g-dev` is one, though not named `lib*`), and
    /// `lib*-dev` packages whatever their section.
    fn is_library(&self, binary: &str) -> bool {
        matches!(
            self.section.get(binary).map(String::as_str),
            Some("libs" | "libdevel")
        ) || (binary.starts_with("lib") && binary.ends_with("-dev"))
    }

    /// Nodes (name, version) and edges (input, user, role) by node position.
    fn edges(&self, build_essential: bool) -> (Vec<(String, String)>, Vec<Edge>) {
        let nodes: Vec<(String, String)> = self
            .sources
            .iter()
            .map(|(n, (v, _))| (n.clone(), v.clone()))
            .collect();
        let pos: HashMap<&str, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.as_str(), i))
            .collect();
        let essential: Vec<(usize, Role)> = BUILD_ESSENTIAL
            .iter()
            .filter_map(|b| self.resolve(b))
            .filter_map(|(src, lib)| Some((*pos.get(src)?, role(lib))))
            .collect();
        let mut edges = Vec::new();
        for (user, (name, (_, deps))) in self.sources.iter().enumerate() {
            for alt in deps.split(',') {
                let found = alternatives(alt)
                    .find_map(|b| self.resolve(b))
                    .and_then(|(src, lib)| Some((*pos.get(src)?, role(lib))));
                if let Some((input, r)) = found.filter(|(i, _)| *i != user) {
                    edges.push((input, user, r));
                }
            }
            let is_essential = essential.iter().any(|(i, _)| nodes[*i].0 == *name);
            if build_essential && !is_essential {
                edges.extend(essential.iter().map(|&(i, r)| (i, user, r)));
            }
        }
        (nodes, edges)
    }
}

/// (input, user, role), nodes by position.
type Edge = (usize, usize, Role);

fn role(lib: bool) -> Role {
    if lib { Role::Lib } else { Role::Tool }
}

fn first_word(s: &str) -> &str {
    s.split_whitespace().next().unwrap_or("")
}

fn strip_component(section: &str) -> &str {
    section.rsplit('/').next().unwrap_or(section)
}

/// `Package-List` lines: `name type section priority arch=...`.
fn package_list(s: &str) -> Vec<(String, String)> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 3 < words.len() {
        out.push((
            words[i].to_owned(),
            strip_component(words[i + 2]).to_owned(),
        ));
        i += 4;
        while i < words.len() && words[i].contains('=') {
            i += 1;
        }
    }
    out
}

/// The package names of one `a (>= 1) [amd64] | b` group that apply on amd64, in order.
fn alternatives(group: &str) -> impl Iterator<Item = &str> {
    group.split('|').filter_map(|alt| {
        let alt = alt.trim();
        if !arch_applies(alt) {
            return None;
        }
        let name = first_word(alt).split(':').next()?;
        (!name.is_empty()).then_some(name)
    })
}

fn arch_applies(alt: &str) -> bool {
    let Some(list) = alt
        .split_once('[')
        .and_then(|(_, r)| r.split_once(']'))
        .map(|(l, _)| l)
    else {
        return true;
    };
    let ours = |a: &str| {
        matches!(
            a,
            "amd64" | "any" | "linux-any" | "any-amd64" | "linux-amd64"
        )
    };
    let archs: Vec<&str> = list.split_whitespace().collect();
    if archs.iter().any(|a| a.starts_with('!')) {
        !archs.iter().any(|a| ours(a.trim_start_matches('!')))
    } else {
        archs.iter().any(|a| ours(a))
    }
}

/// Drops the edges that close cycles: within each strongly connected component, an edge
/// is kept only if its input comes before its user in the order (dependents − inputs,
/// descending; name to break ties). Edges between components always stay.
fn break_cycles(nodes: &[(String, String)], edges: Vec<Edge>) -> (Vec<Edge>, usize) {
    let mut g: DiGraph<(), ()> = DiGraph::with_capacity(nodes.len(), edges.len());
    for _ in nodes {
        g.add_node(());
    }
    let mut degree = vec![0i64; nodes.len()];
    for &(from, to, _) in &edges {
        g.add_edge(NodeIndex::new(from), NodeIndex::new(to), ());
        degree[from] += 1;
        degree[to] -= 1;
    }
    let mut component = vec![0usize; nodes.len()];
    for (c, scc) in petgraph::algo::tarjan_scc(&g).iter().enumerate() {
        for n in scc {
            component[n.index()] = c;
        }
    }
    let before = |a: usize, b: usize| (-degree[a], &nodes[a].0) < (-degree[b], &nodes[b].0);
    let total = edges.len();
    let kept: Vec<_> = edges
        .into_iter()
        .filter(|&(from, to, _)| component[from] != component[to] || before(from, to))
        .collect();
    let dropped = total - kept.len();
    (kept, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACKAGES: &str = "Package: libc6-dev\nSource: glibc (2.36-9)\nSection: libdevel\n\n\
Package: gcc-12\nSection: devel\n\n\
Package: debhelper\nSection: devel\nProvides: debhelper-compat (= 13), dh-sequence-x\n\n\
Package: libz1\nSource: zlib\nSection: libs\n\n\
Package: zlib1g-dev\nSource: zlib\nSection: libdevel\n";

    const SOURCES: &str = "Package: glibc\nVersion: 2.36-9\nBinary: libc6-dev\nBuild-Depends: gcc-12\n\n\
Package: gcc-12\nVersion: 12.2\nBinary: gcc-12\nBuild-Depends: libc6.1-dev [alpha ia64], libc6-dev (>= 2.13)\n\n\
Package: debhelper\nVersion: 13\nBinary: debhelper\n\n\
Package: zlib\nVersion: 1.3\nBinary: libz1,\n zlib1g-dev\nBuild-Depends: debhelper-compat (= 13)\n\n\
Package: app\nVersion: 1\nBinary: app\nBuild-Depends: nosuch | zlib1g-dev:any, libfoo [!amd64],\n debhelper-compat (= 13) <!nocheck>\n";

    fn archive() -> Archive {
        let mut a = Archive::default();
        a.read_packages(PACKAGES);
        a.read_sources(SOURCES);
        a
    }

    #[test]
    fn alternatives_and_architectures() {
        let names: Vec<&str> =
            alternatives("a (>= 1) [amd64] | b:any [!amd64] | c <!nocheck>").collect();
        assert_eq!(names, ["a", "c"]);
        assert!(arch_applies("x [linux-any]"));
        assert!(!arch_applies("x [alpha ia64]"));
        assert!(arch_applies("x [!i386]"));
    }

    #[test]
    fn roles_providers_and_cycles() {
        let a = archive();
        assert_eq!(a.resolve("debhelper-compat"), Some(("debhelper", false)));
        assert_eq!(a.resolve("zlib1g-dev"), Some(("zlib", true)));
        let (nodes, edges) = a.edges(false);
        let name = |i: usize| nodes[i].0.as_str();
        let mut got: Vec<(&str, &str, Role)> = edges
            .iter()
            .map(|&(f, t, r)| (name(f), name(t), r))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("debhelper", "app", Role::Tool),
                ("debhelper", "zlib", Role::Tool),
                ("gcc-12", "glibc", Role::Tool),
                ("glibc", "gcc-12", Role::Lib),
                ("zlib", "app", Role::Lib),
            ]
        );
        let (kept, dropped) = break_cycles(&nodes, edges);
        assert_eq!(
            (kept.len(), dropped),
            (4, 1),
            "one edge of the glibc/gcc-12 cycle goes"
        );
    }
}

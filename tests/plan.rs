//! relink-plan, explain and report: hand-made graphs whose plans are checked exactly,
//! bad inputs, property tests against plain reachability, the Markdown report snapshot,
//! and a graph produced by a real Nix 2.8 from derivations written here.

mod support;

use abicut::graph::plan::{self, Abi, AbiFacts, Plan, Status, Tools};
use abicut::graph::{Graph, GraphBuilder, Node, Role, json};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use support::have;
use support::real::NIX_CONFIG;

const BIN: &str = env!("CARGO_BIN_EXE_abicut");

/// `(id, fixed_output, [(input, role)])`.
type Spec<'a> = (&'a str, bool, &'a [(&'a str, &'a str)]);

/// Graph JSON from node specs.
fn graph_json(nodes: &[Spec]) -> String {
    let nodes: Vec<serde_json::Value> = nodes
        .iter()
        .map(|(id, fixed, inputs)| {
            let inputs: serde_json::Map<String, serde_json::Value> = inputs
                .iter()
                .map(|(i, r)| ((*i).to_owned(), serde_json::Value::from(*r)))
                .collect();
            serde_json::json!({ "id": id, "fixed_output": fixed, "inputs": inputs })
        })
        .collect();
    serde_json::json!({ "schema": "abicut-graph", "version": 1, "nodes": nodes }).to_string()
}

fn load(text: &str) -> Graph {
    json::from_slice(Path::new("test.json"), text.as_bytes()).expect("test graph loads")
}

/// Every node's verdict as `status` or `status(kind input)`.
fn verdicts(graph: &Graph, plan: &Plan) -> BTreeMap<String, String> {
    graph
        .topo_order()
        .iter()
        .map(|&n| {
            let e = plan.entry(n);
            let why = match e.reason {
                None => String::new(),
                Some(r) => match r.input() {
                    Some(m) => format!("({} {})", r.kind(), graph.node(m).id),
                    None => format!("({})", r.kind()),
                },
            };
            (
                graph.node(n).id.clone(),
                format!("{}{why}", e.status.as_str()),
            )
        })
        .collect()
}

fn run_plan(graph: &Graph, changed: &[&str], facts: AbiFacts) -> BTreeMap<String, String> {
    let names: Vec<String> = changed.iter().map(|s| (*s).to_owned()).collect();
    let changed = graph.resolve_all(&names).expect("changed nodes exist");
    verdicts(graph, &plan::plan(graph, &changed, &facts, Tools::Strict))
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// Asserts the plan for `changed` under `facts` gives exactly `want`'s verdicts: the one
/// check every hand-made graph below makes, so each test is its graph and its table.
fn assert_plan(graph: &Graph, changed: &str, facts: AbiFacts, want: &[(&str, &str)]) {
    assert_eq!(run_plan(graph, &[changed], facts), expect(want));
}

/// A graph from node specs, as a loaded [`Graph`] rather than its JSON text.
fn graph_of(nodes: &[Spec]) -> Graph {
    load(&graph_json(nodes))
}

fn diamond() -> Graph {
    graph_of(&[
        ("libc", false, &[]),
        ("left", false, &[("libc", "lib")]),
        ("right", false, &[("libc", "lib")]),
        ("app", false, &[("left", "lib"), ("right", "lib")]),
    ])
}

#[test]
fn diamond_abi_changed_compiles_everything() {
    assert_plan(
        &diamond(),
        "libc",
        AbiFacts::Uniform(Abi::Changed),
        &[
            ("libc", "compile(changed)"),
            ("left", "compile(lib-interface libc)"),
            ("right", "compile(lib-interface libc)"),
            ("app", "compile(lib-interface left)"),
        ],
    );
}

#[test]
fn diamond_abi_same_only_relinks() {
    assert_plan(
        &diamond(),
        "libc",
        AbiFacts::Uniform(Abi::Same),
        &[
            ("libc", "compile(changed)"),
            ("left", "relink(lib-output libc)"),
            ("right", "relink(lib-output libc)"),
            ("app", "relink(lib-output left)"),
        ],
    );
}

/// base's interface changes, mid rebuilds but its interface is measured unchanged: the
/// cutoff stops there, top and app only relink.
#[test]
fn cutoff_chain_stops_at_unchanged_interface() {
    let graph = graph_of(&[
        ("base", false, &[]),
        ("mid", false, &[("base", "lib")]),
        ("top", false, &[("mid", "lib")]),
        ("app", false, &[("top", "lib")]),
    ]);
    let facts = AbiFacts::Measured {
        old: expect(&[("base", "b1"), ("mid", "m1"), ("top", "t1")])
            .into_iter()
            .collect(),
        new: expect(&[("base", "b2"), ("mid", "m1"), ("top", "t1")])
            .into_iter()
            .collect(),
    };
    assert_plan(
        &graph,
        "base",
        facts,
        &[
            ("base", "compile(changed)"),
            ("mid", "compile(lib-interface base)"),
            ("top", "relink(lib-output mid)"),
            ("app", "relink(lib-output top)"),
        ],
    );
}

#[test]
fn tool_edge_recompiles_even_when_abi_same() {
    let graph = graph_of(&[
        ("cc", false, &[]),
        ("libz", false, &[("cc", "tool")]),
        ("app", false, &[("libz", "lib")]),
    ]);
    assert_plan(
        &graph,
        "cc",
        AbiFacts::Uniform(Abi::Same),
        &[
            ("cc", "compile(changed)"),
            ("libz", "compile(tool cc)"),
            ("app", "relink(lib-output libz)"),
        ],
    );
}

#[test]
fn runtime_edge_only_relinks() {
    let graph = graph_of(&[
        ("cacert", false, &[]),
        ("curl", false, &[("cacert", "runtime")]),
        ("app", false, &[("curl", "lib")]),
        ("other", false, &[]),
    ]);
    assert_plan(
        &graph,
        "cacert",
        AbiFacts::Uniform(Abi::Changed),
        &[
            ("cacert", "compile(changed)"),
            ("curl", "relink(runtime cacert)"),
            ("app", "relink(lib-output curl)"),
            ("other", "untouched"),
        ],
    );
}

#[test]
fn fixed_output_source_hides_its_inputs() {
    let graph = graph_of(&[
        ("curl", false, &[]),
        ("src", true, &[("curl", "tool")]),
        ("pkg", false, &[("src", "tool")]),
    ]);
    assert_plan(
        &graph,
        "curl",
        AbiFacts::Uniform(Abi::Changed),
        &[
            ("curl", "compile(changed)"),
            ("src", "untouched(fixed-output curl)"),
            ("pkg", "untouched"),
        ],
    );
    assert_plan(
        &graph,
        "src",
        AbiFacts::Uniform(Abi::Same),
        &[
            ("curl", "untouched"),
            ("src", "compile(changed)"),
            ("pkg", "compile(tool src)"),
        ],
    );
}

#[test]
fn duplicate_edges_keep_the_strongest_role() {
    let text = r#"{"schema":"abicut-graph","version":1,"nodes":[
        {"id":"a"},{"id":"b","inputs":{"a":"lib"}}]}"#;
    let mut b = GraphBuilder::default();
    b.add_node(Node::new("a")).unwrap();
    b.add_node(Node::new("b")).unwrap();
    b.add_edge("a", "b", Role::Runtime);
    b.add_edge("a", "b", Role::Tool);
    b.add_edge("a", "b", Role::Lib);
    let g = b.build(Path::new("x")).unwrap();
    assert_eq!(g.edge_count(), 1);
    assert_eq!(g.dag().edge_weights().next(), Some(&Role::Tool));
    assert_eq!(load(text).edge_count(), 1);
}

// ---- the command line ----

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_abicut(args: &[&str]) -> Run {
    abicut_as(Path::new(BIN), args)
}

fn abicut_as(bin: &Path, args: &[&str]) -> Run {
    let out = duct::cmd(bin, args)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .expect("abicut runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `abicut relink-plan GRAPH --changed CHANGED EXTRA...`: most command-line tests run this
/// shape, and naming it keeps each call to what differs (the node, `--abi`, the output).
fn relink_plan(graph: &str, changed: &str, extra: &[&str]) -> Run {
    let mut args = vec!["relink-plan", graph, "--changed", changed];
    args.extend_from_slice(extra);
    run_abicut(&args)
}

/// `abicut explain GRAPH NODE --changed CHANGED EXTRA...`, the explain twin of
/// [`relink_plan`].
fn explain(graph: &str, node: &str, changed: &str, extra: &[&str]) -> Run {
    let mut args = vec!["explain", graph, node, "--changed", changed];
    args.extend_from_slice(extra);
    run_abicut(&args)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write fixture");
    p
}

fn diamond_file(dir: &Path) -> PathBuf {
    write(dir, "diamond.json", &json::to_string(&diamond()).unwrap())
}

#[test]
fn cli_text_json_dot_and_multicall() {
    let dir = tempfile::tempdir().unwrap();
    let g = diamond_file(dir.path());
    let g = g.to_str().unwrap();
    let text = relink_plan(g, "libc", &["--abi", "same"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout
            .contains("relink    app  (lib input left's output changed, its interface did not)"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.ends_with(
        "nodes 4: classic rebuild 4, with abicut: compile 1, relink only 3, untouched 0\n"
    ));

    let j = relink_plan(g, "libc", &["--abi", "changed", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).expect("plan JSON");
    assert_eq!(v["schema"], "abicut-plan");
    assert_eq!(v["totals"]["compile"], 4);
    assert_eq!(v["nodes"][3]["reason"]["kind"], "lib-interface");

    let dot = relink_plan(g, "left", &["--dot"]);
    assert!(dot.stdout.starts_with("digraph plan {"));
    assert!(
        dot.stdout
            .contains("\"left\" [label=\"left\", fillcolor=\"#e04040\"]")
    );
    assert!(
        dot.stdout
            .contains("\"libc\" [label=\"libc\", fillcolor=\"#c8c8c8\"]")
    );

    let link = dir.path().join("relink-plan");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let multi = abicut_as(&link, &[g, "--changed", "libc", "--abi", "same"]);
    assert_eq!(multi.code, 0, "{}", multi.stderr);
    assert_eq!(multi.stdout, text.stdout);
}

#[test]
fn cli_explain_follows_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let g = write(
        dir.path(),
        "g.json",
        &graph_json(&[
            ("cc", false, &[]),
            ("libz", false, &[("cc", "tool")]),
            ("app", false, &[("libz", "lib")]),
        ]),
    );
    let out = explain(g.to_str().unwrap(), "app", "cc", &["--abi", "changed"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "app compiles: lib input libz's interface changed\n\
         \x20 <- libz compiles: tool input cc's output changed\n\
         \x20 <- cc compiles: it is changed\n"
    );
    let same = explain(g.to_str().unwrap(), "app", "cc", &["--abi", "same"]);
    assert!(
        same.stdout
            .starts_with("app only relinks: lib input libz's output changed"),
        "{}",
        same.stdout
    );
}

/// `libc` changes with its interface the same; `perl` links it; `help2man` links it and
/// runs perl; `hello` runs help2man. The Debian chain docs/planning.md's `explain` shows, in small.
fn tool_chain(dir: &Path) -> PathBuf {
    write(
        dir,
        "tools.json",
        &graph_json(&[
            ("libc", false, &[]),
            ("perl", false, &[("libc", "lib")]),
            ("help2man", false, &[("perl", "tool"), ("libc", "lib")]),
            ("hello", false, &[("help2man", "tool")]),
        ]),
    )
}

/// `--tools strict` is the default; `pinned` stops at a tool that only relinks, and
/// `explain` follows the chain each policy makes.
#[test]
fn cli_tools_policy_and_explain() {
    let dir = tempfile::tempdir().unwrap();
    let g = tool_chain(dir.path());
    let g = g.to_str().unwrap();
    let hello_after_libc = |extra: &[&str]| {
        let mut args = vec!["--abi", "same"];
        args.extend(extra);
        let r = explain(g, "hello", "libc", &args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
    };
    let strict = hello_after_libc(&[]);
    assert_eq!(hello_after_libc(&["--tools", "strict"]), strict);
    assert_eq!(
        strict,
        "hello compiles: tool input help2man's output changed\n\
         \x20 <- help2man compiles: tool input perl's output changed\n\
         \x20 <- perl only relinks: lib input libc's output changed, its interface did not\n\
         \x20 <- libc compiles: it is changed\n"
    );
    assert_eq!(
        hello_after_libc(&["--tools", "pinned"]),
        "hello is untouched: tool input help2man only relinks, and compiles run its pinned build-time copy\n\
         \x20 <- help2man only relinks: lib input libc's output changed, its interface did not\n\
         \x20 <- libc compiles: it is changed\n"
    );
    let changed_perl = explain(g, "hello", "perl", &["--abi", "same", "--tools", "pinned"]);
    assert_eq!(
        changed_perl.stdout,
        "hello compiles: tool input help2man compiles\n\
         \x20 <- help2man compiles: tool input perl compiles\n\
         \x20 <- perl compiles: it is changed\n"
    );
    let j = explain(
        g,
        "hello",
        "libc",
        &["--abi", "same", "--tools", "pinned", "--json"],
    );
    let v: serde_json::Value = serde_json::from_str(&j.stdout).expect("explain JSON");
    assert_eq!(v["chains"][0][0]["reason"], "tool-pinned");
    assert_eq!(v["chains"][0][0]["status"], "untouched");
}

/// Plan JSON records the policy, text and totals follow it, and a bad value is a usage
/// error naming the flag.
#[test]
fn cli_tools_json_and_bad_value() {
    let dir = tempfile::tempdir().unwrap();
    let g = tool_chain(dir.path());
    let g = g.to_str().unwrap();
    let plan = |tools: Option<&str>| {
        let mut args = vec![
            "relink-plan",
            g,
            "--changed",
            "libc",
            "--abi",
            "same",
            "--json",
        ];
        if let Some(t) = tools {
            args.extend(["--tools", t]);
        }
        let r = run_abicut(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        serde_json::from_str::<serde_json::Value>(&r.stdout).expect("plan JSON")
    };
    let strict = plan(None);
    assert_eq!(strict["tools"], "strict");
    assert_eq!(strict["totals"]["compile"], 3);
    let pinned = plan(Some("pinned"));
    assert_eq!(pinned["tools"], "pinned");
    assert_eq!(pinned["totals"]["compile"], 1);
    assert_eq!(pinned["totals"]["untouched"], 1);
    assert_eq!(pinned["nodes"][3]["reason"]["kind"], "tool-pinned");
    assert_eq!(pinned["nodes"][3]["reason"]["input"], "help2man");
    for sub in [
        vec!["relink-plan", g, "--changed", "libc"],
        vec!["explain", g, "hello", "--changed", "libc"],
    ] {
        let mut args = sub.clone();
        args.extend(["--tools", "loose"]);
        let r = run_abicut(&args);
        assert_eq!(r.code, 3, "{}", r.stderr);
        assert!(
            r.stderr
                .contains("invalid value 'loose' for '--tools <TOOLS>'")
                && r.stderr.contains("[possible values: strict, pinned]"),
            "{}",
            r.stderr
        );
    }
}

/// `report` shows a change under both policies as two rows, the pinned one saying so, and
/// reads a plan written before `--tools` existed (no `tools` field) as strict.
#[test]
fn report_rows_under_both_tool_policies() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let g = tool_chain(d);
    let mut files = Vec::new();
    for tools in ["strict", "pinned"] {
        let out = d.join(format!("{tools}.json"));
        let (g, o) = (g.to_str().unwrap(), out.to_str().unwrap());
        let r = relink_plan(
            g,
            "libc",
            &["--abi", "same", "--tools", tools, "--json", "-o", o],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        files.push(out);
    }
    let mut old: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[1]).unwrap()).unwrap();
    old.as_object_mut().unwrap().remove("tools");
    let old_file = write(d, "old.json", &old.to_string());
    let paths: Vec<&str> = files
        .iter()
        .chain([&old_file])
        .map(|p| p.to_str().unwrap())
        .collect();
    let mut args = vec!["report"];
    args.extend(&paths);
    let md = run_abicut(&args);
    assert_eq!(md.code, 0, "{}", md.stderr);
    for row in [
        "| libc (abi same) | 4 | 3 | 1 | 0 | 1 (25.0%) |",
        "| libc (abi same, tools pinned) | 4 | 1 | 2 | 1 | 3 (75.0%) |",
    ] {
        assert!(md.stdout.contains(row), "{row} in {}", md.stdout);
    }
    let rows: Vec<&str> = md
        .stdout
        .lines()
        .filter(|l| l.starts_with("| libc"))
        .collect();
    assert_eq!(
        rows[2], "| libc (abi same) | 4 | 1 | 2 | 1 | 3 (75.0%) |",
        "a plan without `tools` is labelled as strict, whatever its figures"
    );
    old["tools"] = "loose".into();
    let bad = write(d, "bad-tools.json", &old.to_string());
    let r = run_abicut(&["report", bad.to_str().unwrap()]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("bad-tools.json: malformed plan JSON: unknown variant `loose`"),
        "{}",
        r.stderr
    );
}

/// Bad input: an error naming the node or the line, exit status 3, no output file.
#[test]
fn cli_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("plan.json");
    let out_s = out.to_str().unwrap();
    let cases: Vec<(PathBuf, &str, &str)> = vec![
        (
            write(
                d,
                "unknown.json",
                &graph_json(&[("a", false, &[("ghost", "lib")])]),
            ),
            "a",
            "input \"ghost\" that is not in the graph",
        ),
        (
            write(
                d,
                "cycle.json",
                &graph_json(&[
                    ("a", false, &[("c", "lib")]),
                    ("b", false, &[("a", "lib")]),
                    ("c", false, &[("b", "tool")]),
                ]),
            ),
            "a",
            "cycle: node",
        ),
        (
            write(
                d,
                "malformed.json",
                "{\"schema\": \"abicut-graph\",\n \"version\": 1,\n \"nodes\": [\n {\"id\": \"a\",}\n]}",
            ),
            "a",
            "line 4",
        ),
        (
            write(
                d,
                "badrole.json",
                r#"{"schema":"abicut-graph","version":1,"nodes":[{"id":"a","inputs":{"b":"linker"}}]}"#,
            ),
            "a",
            "unknown variant `linker`",
        ),
        (
            write(
                d,
                "version.json",
                r#"{"schema":"abicut-graph","version":9,"nodes":[]}"#,
            ),
            "a",
            "version 9 is not supported",
        ),
        (
            write(
                d,
                "nix-bad.json",
                r#"{"/nix/store/aaa-x.drv": {"env": {}}}"#,
            ),
            "x",
            "derivation \"aaa-x.drv\" has no \"outputs\" object",
        ),
        (diamond_file(d), "nosuch", "no node named \"nosuch\""),
        (d.to_path_buf(), "a", "is a directory"),
    ];
    for (graph, changed, want) in cases {
        let r = relink_plan(graph.to_str().unwrap(), changed, &["--json", "-o", out_s]);
        assert_eq!(r.code, 3, "{}: {}", graph.display(), r.stderr);
        assert!(
            r.stderr.contains(want),
            "{}: want {want:?} in {:?}",
            graph.display(),
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        assert!(!out.exists(), "no output file after an error");
    }
    let bad_plan = write(
        d,
        "badplan.json",
        r#"{"schema": "abicut-plan", "version": 1}"#,
    );
    let r = run_abicut(&["report", bad_plan.to_str().unwrap()]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr
            .contains("badplan.json: malformed plan JSON: missing field"),
        "{}",
        r.stderr
    );
}

/// A file of another abicut format says what it is and what was wanted, not that a field
/// is unknown (issue 13, item 9: `report graph.json` said `unknown field 'version'`).
#[test]
fn cli_files_of_another_format_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let graph = diamond_file(d);
    let g = graph.to_str().unwrap();
    let r = run_abicut(&["report", g]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(
        r.stderr.trim_end(),
        format!(
            "abicut: {g}: this is an abicut-graph file, not plan JSON (schema \"abicut-plan\"); \
             `abicut relink-plan GRAPH --changed NAME --json` writes a plan"
        )
    );
    let plan = d.join("plan.json");
    let p = plan.to_str().unwrap();
    let r = relink_plan(g, "libc", &["--json", "-o", p]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = relink_plan(p, "libc", &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("{p}: this is an abicut-plan file, not graph JSON")),
        "{}",
        r.stderr
    );
    for flag in ["--weights", "--roles"] {
        let args: Vec<&str> = if flag == "--weights" {
            vec!["report", p, flag, p]
        } else {
            vec!["relink-plan", g, "--changed", "libc", flag, p]
        };
        let r = run_abicut(&args);
        assert_eq!(r.code, 3, "{}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("{p}: this is an abicut-plan file, not")),
            "{flag}: {}",
            r.stderr
        );
    }
}

/// A file that is not what a command reads says what it is and what was expected, never
/// serde's view of abicut's own types ("invalid length 0, expected struct GraphFile with 3
/// elements", "invalid type: string \"abicut-graph\", expected u32") nor a later symptom
/// (`{}` read as Nix JSON, then "no node named a").
#[test]
fn cli_json_of_the_wrong_shape_says_what_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let graph = diamond_file(d);
    let g = graph.to_str().unwrap();
    let plan = d.join("plan.json");
    let p = plan.to_str().unwrap();
    let r = relink_plan(g, "libc", &["--json", "-o", p]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let array = write(d, "array.json", "[]");
    let empty = write(d, "empty.json", "{}");
    let (a, e) = (array.to_str().unwrap(), empty.to_str().unwrap());
    let cases: [(Vec<&str>, String); 6] = [
        (
            vec!["relink-plan", a, "--changed", "a"],
            format!(
                "{a}: is a JSON array, where graph JSON (schema \"abicut-graph\") is a JSON object"
            ),
        ),
        (
            vec!["report", a],
            format!(
                "{a}: is a JSON array, where plan JSON (schema \"abicut-plan\") is a JSON object"
            ),
        ),
        (
            vec!["relink-plan", e, "--changed", "a"],
            format!("{e}: holds no derivation: a graph is Nix derivation JSON"),
        ),
        (
            vec!["stubgen", "--hash", g],
            format!("{g}: is abicut-graph JSON, not an interface (canonical JSON"),
        ),
        (
            vec!["stubgen", "--hash", p],
            format!("{p}: is abicut-plan JSON, not an interface (canonical JSON"),
        ),
        (
            vec!["diff", g, g],
            format!("{g}: is abicut-graph JSON, not an interface"),
        ),
    ];
    for (args, want) in cases {
        let r = run_abicut(&args);
        assert_eq!(r.code, 3, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains(&want),
            "{args:?}: want {want:?} in {}",
            r.stderr
        );
    }
}

/// `-o` into a directory that does not exist names the target and the missing directory,
/// not the temporary file beside it, and exits 3 (issue 13, item 9).
#[test]
fn cli_output_into_a_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let graph = diamond_file(dir.path());
    let out = dir.path().join("no/such/plan.json");
    let o = out.to_str().unwrap();
    let r = relink_plan(graph.to_str().unwrap(), "libc", &["--json", "-o", o]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let missing = dir.path().join("no/such");
    assert_eq!(
        r.stderr.trim_end(),
        format!(
            "abicut: {o}: cannot be written: the directory {} does not exist",
            missing.display()
        )
    );
}

#[test]
fn cli_role_overrides_change_edges() {
    let dir = tempfile::tempdir().unwrap();
    let g = write(
        dir.path(),
        "g.json",
        &graph_json(&[
            ("glibc", false, &[]),
            ("gcc-wrapper", false, &[("glibc", "tool")]),
            ("app", false, &[("gcc-wrapper", "tool")]),
        ]),
    );
    let roles = write(
        dir.path(),
        "roles.json",
        r#"{"version":1,"rules":[{"input":"glibc","user":"*-wrapper","role":"lib"}]}"#,
    );
    let args = |extra: &[&str]| {
        let mut a = vec![
            "relink-plan",
            g.to_str().unwrap(),
            "--changed",
            "glibc",
            "--abi",
            "same",
        ];
        a.extend_from_slice(extra);
        run_abicut(&a).stdout
    };
    assert!(args(&[]).contains("compile   gcc-wrapper  (tool input glibc's output changed)"));
    assert!(
        args(&["--roles", roles.to_str().unwrap()])
            .contains("relink    gcc-wrapper  (lib input glibc's output changed")
    );
}

// ---- report ----

fn plan_file(dir: &Path, graph: &Path, changed: &str, abi: &str) -> PathBuf {
    let out = dir.join(format!("plan-{changed}-{abi}.json"));
    let (g, o) = (graph.to_str().unwrap(), out.to_str().unwrap());
    let r = relink_plan(g, changed, &["--abi", abi, "--json", "-o", o]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    out
}

#[test]
fn report_markdown_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut nodes = vec![
        serde_json::json!({"id": "libc"}),
        serde_json::json!({"id": "cc"}),
        serde_json::json!({"id": "libz", "inputs": {"libc": "lib", "cc": "tool"}}),
    ];
    // Twelve programs on libz, so the buckets differ before and after.
    for i in 0..12 {
        nodes.push(serde_json::json!({"id": format!("prog{i:02}"), "inputs": {"libz": "lib", "libc": "lib"}}));
    }
    let text =
        serde_json::json!({"schema": "abicut-graph", "version": 1, "nodes": nodes}).to_string();
    let g = write(d, "g.json", &text);
    let weights = write(
        d,
        "weights.json",
        r#"{"version":1,"default":{"build":600,"relink":2},"nodes":{"libc":{"build":3600,"relink":5}}}"#,
    );
    let same = plan_file(d, &g, "libc", "same");
    let changed = plan_file(d, &g, "libc", "changed");
    let cc = plan_file(d, &g, "cc", "same");
    let md = run_abicut(&[
        "report",
        same.to_str().unwrap(),
        changed.to_str().unwrap(),
        cc.to_str().unwrap(),
        "--weights",
        weights.to_str().unwrap(),
    ]);
    assert_eq!(md.code, 0, "{}", md.stderr);
    insta::with_settings!({ snapshot_path => "../snapshots" }, {
        insta::assert_snapshot!("report_markdown", md.stdout);
    });
    let j = run_abicut(&["report", same.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).expect("report JSON");
    assert_eq!(v["rows"][0]["classic"], 14);
    assert_eq!(v["rows"][0]["compile"], 1);
    assert_eq!(v["rows"][0]["bucket_before"], "11-100");
    assert_eq!(v["rows"][0]["bucket_after"], "1-10");
}

// ---- properties ----

/// A random DAG: node j's inputs are among nodes i < j, with random roles; some nodes are
/// fixed-output; some are changed.
fn arb_graph() -> impl Strategy<Value = (Graph, Vec<String>)> {
    (2usize..40)
        .prop_flat_map(|n| {
            let edges = proptest::collection::vec((0..n, 0..n, 0u8..3), 0..n * 3);
            let fixed = proptest::collection::vec(proptest::bool::weighted(0.1), n);
            let changed = proptest::collection::btree_set(0..n, 1..4);
            (Just(n), edges, fixed, changed)
        })
        .prop_map(|(n, edges, fixed, changed)| {
            let mut b = GraphBuilder::default();
            for (i, f) in fixed.iter().enumerate().take(n) {
                let mut node = Node::new(format!("n{i}"));
                node.fixed_output = *f;
                b.add_node(node).unwrap();
            }
            for (x, y, r) in edges {
                let (lo, hi) = (x.min(y), x.max(y));
                if lo != hi {
                    let role = [Role::Lib, Role::Tool, Role::Runtime][r as usize];
                    b.add_edge(format!("n{lo}"), format!("n{hi}"), role);
                }
            }
            let graph = b.build(Path::new("prop")).unwrap();
            (
                graph,
                changed.into_iter().map(|i| format!("n{i}")).collect(),
            )
        })
}

/// Plain reverse reachability from the changed nodes, not through unchanged fixed-output
/// derivations: what a classic build rebuilds.
fn reachable(graph: &Graph, changed: &BTreeSet<usize>) -> BTreeSet<usize> {
    use petgraph::visit::EdgeRef;
    let dag = graph.dag();
    let mut seen: BTreeSet<usize> = changed.clone();
    let mut stack: Vec<_> = changed
        .iter()
        .map(|&i| petgraph::graph::NodeIndex::new(i))
        .collect();
    while let Some(n) = stack.pop() {
        for e in dag.edges_directed(n, petgraph::Direction::Outgoing) {
            let t = e.target();
            if !dag[t].fixed_output && seen.insert(t.index()) {
                stack.push(t);
            }
        }
    }
    seen
}

fn rerun(plan: &Plan, graph: &Graph) -> BTreeSet<usize> {
    graph
        .dag()
        .node_indices()
        .filter(|&n| plan.entry(n).status != Status::Untouched)
        .map(|n| n.index())
        .collect()
}

proptest! {
    #[test]
    fn abi_changed_everywhere_is_reverse_reachability((graph, changed) in arb_graph()) {
        let ix = graph.resolve_all(&changed).unwrap();
        let p = plan::plan(&graph, &ix, &AbiFacts::Uniform(Abi::Changed), Tools::Strict);
        let want = reachable(&graph, &ix.iter().map(|n| n.index()).collect());
        prop_assert_eq!(rerun(&p, &graph), want.clone());
        let classic: BTreeSet<usize> = graph.dag().node_indices().filter(|&n| p.entry(n).classic).map(|n| n.index()).collect();
        prop_assert_eq!(classic, want.clone());
        // Without runtime edges, everything reached recompiles.
        let compiled: BTreeSet<usize> = graph.dag().node_indices().filter(|&n| p.entry(n).status == Status::Compile).map(|n| n.index()).collect();
        let runtime_free = graph.dag().edge_weights().all(|r| *r != Role::Runtime);
        if runtime_free {
            prop_assert_eq!(compiled, want);
        }
    }

    #[test]
    fn nothing_untouched_under_a_changed_input((graph, changed) in arb_graph(), abi in 0u8..3) {
        let abi = [Abi::Same, Abi::Changed, Abi::Unknown][abi as usize];
        let ix = graph.resolve_all(&changed).unwrap();
        let p = plan::plan(&graph, &ix, &AbiFacts::Uniform(abi), Tools::Strict);
        let dag = graph.dag();
        for e in dag.edge_indices() {
            let (from, to) = dag.edge_endpoints(e).unwrap();
            let input_changed = p.entry(from).status != Status::Untouched;
            if input_changed && !dag[to].fixed_output {
                prop_assert_ne!(p.entry(to).status, Status::Untouched, "{} -> {}", dag[from].id, dag[to].id);
            }
        }
        // The cutoff only ever moves nodes from compile to relink.
        let worst = plan::plan(&graph, &ix, &AbiFacts::Uniform(Abi::Changed), Tools::Strict);
        for n in dag.node_indices() {
            prop_assert!(p.entry(n).status <= worst.entry(n).status);
        }
        prop_assert_eq!(rerun(&p, &graph), rerun(&worst, &graph));
    }

    /// `--tools pinned` against the rule evaluated the plain way (petgraph's own
    /// topological sort and edge lists, a node's inputs read whole): a node compiles iff
    /// it changed, a `tool` input compiled, or a `lib` input compiled with its interface
    /// changed; it relinks iff a `lib`/`runtime` input reran anything. And pinned never
    /// does more for a node than strict does.
    #[test]
    fn pinned_is_the_rule_and_never_more_than_strict((graph, changed) in arb_graph(), abi in 0u8..3) {
        let abi = [Abi::Same, Abi::Changed, Abi::Unknown][abi as usize];
        let ix = graph.resolve_all(&changed).unwrap();
        let p = plan::plan(&graph, &ix, &AbiFacts::Uniform(abi), Tools::Pinned);
        let want = pinned_rule(&graph, &ix, abi);
        for n in graph.dag().node_indices() {
            prop_assert_eq!(p.entry(n).status, want[n.index()], "{}", graph.node(n).id);
        }
        let strict = plan::plan(&graph, &ix, &AbiFacts::Uniform(abi), Tools::Strict);
        for n in graph.dag().node_indices() {
            prop_assert!(p.entry(n).status <= strict.entry(n).status, "{}", graph.node(n).id);
        }
    }
}

/// The `--tools pinned` rule for a uniform ABI answer, node by node with whole edge lists.
fn pinned_rule(graph: &Graph, changed: &[petgraph::graph::NodeIndex], abi: Abi) -> Vec<Status> {
    let dag = graph.dag();
    let mut status = vec![Status::Untouched; dag.node_count()];
    let order = petgraph::algo::toposort(dag, None).expect("a DAG");
    for n in order {
        if changed.contains(&n) {
            status[n.index()] = Status::Compile;
            continue;
        }
        if dag[n].fixed_output {
            continue;
        }
        let inputs = dag.edges_directed(n, petgraph::Direction::Incoming);
        let mut compile = false;
        let mut relink = false;
        for e in inputs {
            use petgraph::visit::EdgeRef;
            let s = status[e.source().index()];
            match e.weight() {
                Role::Tool => compile |= s == Status::Compile,
                Role::Lib => {
                    compile |= s == Status::Compile && abi != Abi::Same;
                    relink |= s != Status::Untouched;
                }
                Role::Runtime => relink |= s != Status::Untouched,
            }
        }
        status[n.index()] = if compile {
            Status::Compile
        } else if relink {
            Status::Relink
        } else {
            Status::Untouched
        };
    }
    status
}

// ---- Nix 2.8 ----

/// Tiny derivations (builder /bin/sh, no nixpkgs) with buildInputs, nativeBuildInputs, a
/// multi-output library, a builder from another derivation, a derivation used both as a
/// lib and as a tool (so `tool`), and a fixed-output source.
const NIX_EXPR: &str = r#"
let
  sys = builtins.currentSystem;
  mk = name: attrs: derivation ({ inherit name; system = sys; builder = "/bin/sh";
    args = [ "-c" "echo ${name} > $out" ]; } // attrs);
  src = derivation { name = "app-src"; system = sys; builder = "/bin/sh";
    args = [ "-c" "echo src > $out" ]; outputHashMode = "flat"; outputHashAlgo = "sha256";
    outputHash = "0000000000000000000000000000000000000000000000000000000000000000"; };
  base = mk "base" { pname = "base"; version = "1"; };
  cc = mk "cc" { buildInputs = [ base ]; };
  lib = mk "lib" { outputs = [ "out" "dev" ]; buildInputs = [ base ]; nativeBuildInputs = [ cc ]; };
  tools = mk "tools" { };
  mixed = mk "mixed" { outputs = [ "out" "bin" ]; };
  app = mk "app" { buildInputs = [ lib.dev mixed.out ]; nativeBuildInputs = [ cc mixed.bin ];
    builder = "${tools}/bin/sh"; inherit src; pname = "app"; version = "1.0"; };
in app
"#;

fn nix_graph_json(dir: &Path) -> String {
    let expr = write(dir, "default.nix", NIX_EXPR);
    let drv = duct::cmd!("nix-instantiate", "--no-gc-warning", &expr)
        .env("NIX_CONFIG", NIX_CONFIG)
        .read()
        .expect("nix-instantiate");
    duct::cmd!("nix", "show-derivation", "-r", drv.trim())
        .env("NIX_CONFIG", NIX_CONFIG)
        .read()
        .expect("nix show-derivation -r")
}

/// The same derivations in the newer shape: keys and paths without the store directory,
/// version 4's `inputs: {srcs, drvs: {path: {outputs}}}`, wrapped in `derivations`.
fn to_newer_shape(old: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(old).unwrap();
    let base = |s: &str| s.rsplit('/').next().unwrap().to_owned();
    let mut drvs = serde_json::Map::new();
    for (k, d) in v.as_object().unwrap() {
        let mut d = d.clone();
        let obj = d.as_object_mut().unwrap();
        let input_drvs = obj.remove("inputDrvs").unwrap();
        let inputs: serde_json::Map<String, serde_json::Value> = input_drvs
            .as_object()
            .unwrap()
            .iter()
            .map(|(p, outs)| {
                (
                    base(p),
                    serde_json::json!({ "outputs": outs, "dynamicOutputs": {} }),
                )
            })
            .collect();
        let srcs = obj.remove("inputSrcs").unwrap();
        obj.insert(
            "inputs".into(),
            serde_json::json!({ "srcs": srcs, "drvs": inputs }),
        );
        for out in obj["outputs"].as_object_mut().unwrap().values_mut() {
            if let Some(p) = out.get("path").and_then(|p| p.as_str()).map(base) {
                out["path"] = p.into();
            }
        }
        obj.insert("version".into(), 4.into());
        drvs.insert(base(k), d);
    }
    serde_json::json!({ "version": 4, "derivations": drvs }).to_string()
}

#[test]
fn nix_2_8_graph_roles_and_plan() {
    if !have("nix-instantiate") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let old = nix_graph_json(dir.path());
    let graph_path = write(dir.path(), "nix.json", &old);
    let graph = Graph::load(&graph_path).expect("Nix 2.8 JSON loads");
    assert_eq!(
        graph.node_count(),
        7,
        "base, cc, lib, tools, mixed, app-src, app"
    );
    let roles: BTreeMap<(String, String), Role> = graph
        .dag()
        .edge_indices()
        .map(|e| {
            let (a, b) = graph.dag().edge_endpoints(e).unwrap();
            (
                (graph.node(a).name.clone(), graph.node(b).name.clone()),
                graph.dag()[e],
            )
        })
        .collect();
    let want: BTreeMap<(String, String), Role> = [
        (("base", "cc"), Role::Lib),
        (("base", "lib"), Role::Lib),
        (("cc", "lib"), Role::Tool),
        (("lib", "app"), Role::Lib),
        (("cc", "app"), Role::Tool),
        (("app-src", "app"), Role::Tool),
        (("tools", "app"), Role::Tool),
        (("mixed", "app"), Role::Tool),
    ]
    .into_iter()
    .map(|((a, b), r)| ((a.to_owned(), b.to_owned()), r))
    .collect();
    assert_eq!(roles, want);
    let app = graph.resolve("app");
    assert_eq!(app.len(), 1);
    let node = graph.node(app[0]);
    assert_eq!(
        (node.pname.as_deref(), node.version.as_deref()),
        (Some("app"), Some("1.0"))
    );
    assert!(node.id.ends_with("-app.drv"));
    let src = graph.node(graph.resolve("app-src")[0]);
    assert!(src.fixed_output);
    let lib = graph.node(graph.resolve("lib")[0]);
    assert_eq!(lib.outputs, ["dev", "out"]);

    let r = relink_plan(graph_path.to_str().unwrap(), "base", &["--abi", "same"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout
            .lines()
            .map(|l| l.split("  (").next().unwrap().trim_end())
            .collect::<Vec<_>>(),
        [
            "compile   base",
            "relink    cc",
            "compile   lib",
            "compile   app",
            "nodes 7: classic rebuild 4, with abicut: compile 3, relink only 1, untouched 3"
        ],
        "{}",
        r.stdout
    );

    let want = json::to_string(&graph).unwrap();
    for shape in [to_intermediate_shape(&old), to_newer_shape(&old)] {
        let newer = load_text(dir.path(), &shape);
        assert_eq!(json::to_string(&newer).unwrap(), want);
    }
}

/// The intermediate shape (Nix 2.18 to 2.31): full store paths, but `inputDrvs` values as
/// `{"outputs": [...], "dynamicOutputs": {}}`.
fn to_intermediate_shape(old: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(old).unwrap();
    for d in v.as_object_mut().unwrap().values_mut() {
        for outs in d["inputDrvs"].as_object_mut().unwrap().values_mut() {
            *outs = serde_json::json!({ "outputs": outs.clone(), "dynamicOutputs": {} });
        }
    }
    v.to_string()
}

fn load_text(dir: &Path, text: &str) -> Graph {
    Graph::load(&write(dir, "newer.json", text)).expect("newer shape loads")
}

#[test]
fn cli_interfaces_files_drive_the_cutoff() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let g = write(
        d,
        "chain.json",
        &graph_json(&[
            ("base", false, &[]),
            ("mid", false, &[("base", "lib")]),
            ("top", false, &[("mid", "lib")]),
        ]),
    );
    let old = write(d, "old.json", r#"{"base": "b1", "mid": "m1"}"#);
    let new = write(
        d,
        "new.json",
        r#"{"interfaces": {"base": "b2", "mid": "m1"}}"#,
    );
    let (g, old, new) = (
        g.to_str().unwrap(),
        old.to_str().unwrap(),
        new.to_str().unwrap(),
    );
    let r = relink_plan(g, "base", &["--interfaces", old, new, "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["abi"], "measured");
    let status: Vec<&str> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["status"].as_str().unwrap())
        .collect();
    assert_eq!(status, ["compile", "compile", "relink"]);
    let both = relink_plan(g, "base", &["--interfaces", old, new, "--abi", "same"]);
    assert_eq!(
        both.code, 3,
        "clap rejects --abi with --interfaces, with the usage error status: {}",
        both.stderr
    );
    let bad = write(d, "bad.json", "[1, 2]");
    let r = relink_plan(g, "base", &["--interfaces", old, bad.to_str().unwrap()]);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr
            .contains("bad.json: malformed interface-hash file (a JSON object mapping node names to interface hashes)"),
        "{}",
        r.stderr
    );
}

/// Weights the report cannot sum (1e308 printed `inf h` and `NaN s`) and names no node has
/// (a misspelling would weigh nothing, silently) are refused, naming the file and the key.
#[test]
fn report_refuses_overflowing_weights_and_unknown_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = serde_json::json!({"schema": "abicut-graph", "version": 1, "nodes": [
        {"id": "libc"}, {"id": "app", "inputs": {"libc": "lib"}}]})
    .to_string();
    let g = write(d, "g.json", &text);
    let plan = plan_file(d, &g, "libc", "same");
    for (weights, want) in [
        (
            r#"{"version":1,"nodes":{"libc":{"build":1e308,"relink":1e308},"app":{"build":1e308}}}"#,
            r#"weights.json: "app": times must be seconds from 0 to 1e9"#,
        ),
        (
            r#"{"version":1,"default":{"build":-1}}"#,
            r#"weights.json: "default": times must be seconds"#,
        ),
        (
            r#"{"version":1,"nodes":{"libc":{"build":10},"apq":{"build":5},"zz":{"build":1}}}"#,
            r#"weights.json: no node of the plans has the id, name or pname "apq", "zz""#,
        ),
    ] {
        let w = write(d, "weights.json", weights);
        let r = run_abicut(&[
            "report",
            plan.to_str().unwrap(),
            "--weights",
            w.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 3, "{weights}: {}", r.stdout);
        assert!(r.stderr.contains(want), "{weights}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
    }
    let w = write(
        d,
        "weights.json",
        r#"{"version":1,"nodes":{"libc":{"build":1e9,"relink":1e9},"app":{"build":1e9}}}"#,
    );
    let r = run_abicut(&[
        "report",
        plan.to_str().unwrap(),
        "--weights",
        w.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stdout.contains("inf") && !r.stdout.contains("NaN"),
        "{}",
        r.stdout
    );
}

//! Nix derivation JSON: `nix show-derivation -r` (Nix 2.8) and the later
//! `nix derivation show` shapes (store paths without the store directory, `inputDrvs`
//! values as `{"outputs": [...]}`, format version 4's `inputs: {srcs, drvs}`, and a
//! top-level `{"derivations": {...}}` wrapper).
//!
//! Nix does not say how a derivation uses an input, so roles come from its environment:
//! an input whose output appears in `buildInputs` or `propagatedBuildInputs` is `lib`
//! (it is linked or included), every other input is `tool` (the builder, `stdenv`,
//! `nativeBuildInputs`, `depsBuildBuild`, fetchers…). A role-override file corrects the
//! cases this gets wrong.
//!
//! Ids are `.drv` base names (`<hash>-hello-2.12.drv`), so graphs from either shape agree.

use super::{Graph, GraphBuilder, Node, Role};
use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Environment attributes whose outputs are linked or included, hence `lib` inputs.
const LIB_ATTRS: &[&str] = &["buildInputs", "propagatedBuildInputs"];

/// Environment attributes whose outputs run at build time: `tool` even when another
/// output of the same derivation is also a `lib` input.
const TOOL_ATTRS: &[&str] = &[
    "builder",
    "stdenv",
    "nativeBuildInputs",
    "propagatedNativeBuildInputs",
    "depsBuildBuild",
    "depsBuildBuildPropagated",
    "depsBuildTarget",
    "depsBuildTargetPropagated",
];

/// Parses Nix derivation JSON; errors name the derivation that is malformed.
pub fn from_slice(path: &Path, bytes: &[u8]) -> Result<Graph> {
    let top: Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::invalid(path, format!("malformed derivation JSON: {e}")))?;
    let drvs = derivations(path, &top)?;
    if drvs.is_empty() {
        return Err(Error::invalid(
            path,
            "holds no derivation: a graph is Nix derivation JSON (`nix derivation show -r`, \
             .drv paths mapped to derivations) or abicut graph JSON (\"schema\": \"abicut-graph\")",
        ));
    }
    let owners = output_owners(path, drvs)?;
    let mut b = GraphBuilder::with_capacity(drvs.len(), drvs.len() * 4);
    for (key, drv) in drvs {
        let id = base_name(key);
        let drv = as_object(path, id, drv)?;
        let env = drv.get("env").and_then(Value::as_object);
        let structured = structured_attrs(path, id, drv, env)?;
        let named = |attrs| named_inputs(attrs, env, structured.as_ref(), &owners);
        let (libs, tools) = (named(LIB_ATTRS), named(TOOL_ATTRS));
        for input in input_drvs(path, id, drv)? {
            let input_id = input.as_str();
            let role = if libs.contains(input_id) && !tools.contains(input_id) {
                Role::Lib
            } else {
                Role::Tool
            };
            b.add_edge(&input, id, role);
        }
        b.add_node(node_of(id, drv))
            .map_err(|e| Error::invalid(path, e.to_string()))?;
    }
    b.build(path)
}

/// The map of derivations, unwrapping the newer `{"derivations": {...}, "version": N}`.
fn derivations<'a>(path: &Path, top: &'a Value) -> Result<&'a Map<String, Value>> {
    let obj = top.as_object().ok_or_else(|| {
        Error::invalid(
            path,
            "expected a JSON object mapping .drv paths to derivations",
        )
    })?;
    match obj.get("derivations") {
        Some(Value::Object(inner)) => Ok(inner),
        _ => Ok(obj),
    }
}

fn as_object<'a>(path: &Path, id: &str, v: &'a Value) -> Result<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| Error::invalid(path, format!("derivation {id:?} is not a JSON object")))
}

/// The store object a path is in: `/nix/store/abc-x/bin/sh`, `/nix/store/abc-x` and
/// `abc-x` all name `abc-x`. It is the first component that looks like a store name
/// (32 base-32 characters and a dash), else the last component.
fn base_name(p: &str) -> &str {
    p.split('/')
        .find(|c| is_store_name(c))
        .unwrap_or_else(|| p.rsplit('/').next().unwrap_or(p))
}

fn is_store_name(c: &str) -> bool {
    let b = c.as_bytes();
    b.len() > 33
        && b[32] == b'-'
        && b[..32]
            .iter()
            .all(|x| x.is_ascii_digit() || x.is_ascii_lowercase())
}

/// Maps every known output path (base name) to the derivation that produces it, so
/// `buildInputs` entries, which are output paths, can be traced back to derivations.
fn output_owners<'a>(
    path: &Path,
    drvs: &'a Map<String, Value>,
) -> Result<HashMap<&'a str, &'a str>> {
    let mut owners = HashMap::with_capacity(drvs.len() * 2);
    for (key, drv) in drvs {
        let id = base_name(key);
        for out in outputs(path, id, as_object(path, id, drv)?)?.values() {
            if let Some(p) = out.get("path").and_then(Value::as_str) {
                owners.insert(base_name(p), id);
            }
        }
    }
    Ok(owners)
}

fn outputs<'a>(
    path: &Path,
    id: &str,
    drv: &'a Map<String, Value>,
) -> Result<&'a Map<String, Value>> {
    drv.get("outputs")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::invalid(path, format!("derivation {id:?} has no \"outputs\" object")))
}

/// Input derivation ids from `inputDrvs` (a list of outputs, or `{"outputs": [...]}`) or
/// version 4's `inputs.drvs`.
fn input_drvs(path: &Path, id: &str, drv: &Map<String, Value>) -> Result<Vec<String>> {
    let map = match (drv.get("inputDrvs"), drv.get("inputs")) {
        (Some(v), _) => v,
        (None, Some(inputs)) => match inputs.get("drvs") {
            Some(v) => v,
            None => return Ok(Vec::new()),
        },
        (None, None) => return Ok(Vec::new()),
    };
    let map = map.as_object().ok_or_else(|| {
        Error::invalid(
            path,
            format!("derivation {id:?}: input derivations are not an object"),
        )
    })?;
    Ok(map.keys().map(|k| base_name(k).to_owned()).collect())
}

/// The ids of inputs named (by an output path) in the environment attributes `attrs`,
/// whether given as space-separated env strings or as structured attributes.
fn named_inputs<'a>(
    attrs: &[&str],
    env: Option<&Map<String, Value>>,
    structured: Option<&Value>,
    owners: &HashMap<&str, &'a str>,
) -> HashSet<&'a str> {
    let mut found = HashSet::new();
    let mut add = |p: &str| {
        if let Some(owner) = owners.get(base_name(p)) {
            found.insert(*owner);
        }
    };
    for attr in attrs {
        if let Some(s) = env.and_then(|e| e.get(*attr)).and_then(Value::as_str) {
            s.split_whitespace().for_each(&mut add);
        }
        if let Some(list) = structured.and_then(|s| s.get(*attr)) {
            string_leaves(list, &mut add);
        }
    }
    found
}

/// Structured attributes: version 4's `structuredAttrs`, or the `__json` env string.
fn structured_attrs(
    path: &Path,
    id: &str,
    drv: &Map<String, Value>,
    env: Option<&Map<String, Value>>,
) -> Result<Option<Value>> {
    if let Some(v) = drv.get("structuredAttrs").filter(|v| v.is_object()) {
        return Ok(Some(v.clone()));
    }
    match env.and_then(|e| e.get("__json")).and_then(Value::as_str) {
        Some(s) => serde_json::from_str(s).map(Some).map_err(|e| {
            Error::invalid(
                path,
                format!("derivation {id:?}: malformed __json attribute: {e}"),
            )
        }),
        None => Ok(None),
    }
}

fn string_leaves(v: &Value, f: &mut impl FnMut(&str)) {
    match v {
        Value::String(s) => s.split_whitespace().for_each(f),
        Value::Array(items) => items.iter().for_each(|i| string_leaves(i, f)),
        _ => {}
    }
}

fn node_of(id: &str, drv: &Map<String, Value>) -> Node {
    let env = drv.get("env").and_then(Value::as_object);
    let env_str = |k: &str| {
        env.and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let mut node = Node::new(id);
    node.name = drv
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| env_str("name"))
        .unwrap_or_else(|| name_from_drv(id).to_owned());
    node.pname = env_str("pname");
    node.version = env_str("version");
    if let Some(outs) = drv.get("outputs").and_then(Value::as_object) {
        node.outputs = outs.keys().cloned().collect();
        node.fixed_output = outs
            .values()
            .any(|o| o.get("hash").is_some_and(|h| !h.is_null()));
    }
    node
}

/// `abc123-hello-2.12.drv` → `hello-2.12`.
fn name_from_drv(id: &str) -> &str {
    let s = id.strip_suffix(".drv").unwrap_or(id);
    s.split_once('-').map_or(s, |(_, rest)| rest)
}

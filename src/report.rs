//! The CI report on rebuilds avoided: Markdown for a pull-request comment or a GitHub step
//! summary, and JSON. Several plans (one per changed package) make one report, with a
//! combined row when there is more than one. Plans of one change under both tool policies
//! show both: each row names its plan's ABI assumption, and `tools pinned` when pinned.
//!
//! A weights file gives build and relink times (seconds) per derivation, by id, name or
//! pname, with an optional default:
//!
//! ```json
//! { "version": 1, "default": { "build": 60, "relink": 1 },
//!   "nodes": { "glibc": { "build": 1800, "relink": 4 } } }
//! ```

#![warn(missing_docs)]

use crate::error::{Error, Result};
use crate::fsx::{self, Versioned};
use crate::graph::plan::{PLAN_SCHEMA, PLAN_VERSION, PlanFile, PlanNode, Status, Tools};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The rebuild-count buckets nixpkgs CI turns into `10.rebuild-<platform>: <bucket>` labels.
const BUCKETS: &[(usize, &str)] = &[
    (0, "0"),
    (10, "1-10"),
    (100, "11-100"),
    (500, "101-500"),
    (1000, "501-1000"),
    (2500, "1001-2500"),
    (5000, "2501-5000"),
];

/// The nixpkgs label bucket of a rebuild count.
pub fn bucket(count: usize) -> &'static str {
    BUCKETS
        .iter()
        .find(|(max, _)| count <= *max)
        .map_or("5001+", |(_, label)| label)
}

/// Build and relink time of one derivation, in seconds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cost {
    /// Seconds a full build of the derivation takes.
    pub build: f64,
    /// Seconds its relink alone takes (0 when not given).
    #[serde(default)]
    pub relink: f64,
}

/// Build and relink times per derivation, from `--weights`, for the report's CPU-time column.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    /// Checked by [`Versioned`] before the body is read; a field so that it is required.
    #[serde(rename = "version")]
    _version: u32,
    #[serde(default)]
    default: Option<Cost>,
    #[serde(default)]
    nodes: HashMap<String, Cost>,
    /// The file read, for errors found once the plans are known.
    #[serde(skip)]
    path: PathBuf,
}

/// The most seconds one build or relink may weigh: about 31 years, more than any build
/// takes, and small enough that sums over a whole-nixpkgs plan stay finite (1e308 each
/// printed `inf h`, and `inf - inf`, `NaN s`).
const MAX_SECONDS: f64 = 1e9;

impl Weights {
    /// Reads and checks a weights file (version 1; times from 0 to [`MAX_SECONDS`]).
    pub fn load(path: &Path) -> Result<Weights> {
        let format = Versioned {
            schema: None,
            version: 1,
            made_by: "`--weights` takes build and relink seconds per node (docs/planning.md)",
        };
        let mut w: Weights = fsx::read_json(path, "weights file", Some(format))?;
        w.path = path.to_path_buf();
        let in_range = |t: f64| (0.0..=MAX_SECONDS).contains(&t);
        let mut bad: Vec<&str> = w
            .nodes
            .iter()
            .map(|(k, c)| (k.as_str(), c))
            .chain(w.default.as_ref().map(|c| ("default", c)))
            .filter(|(_, c)| !(in_range(c.build) && in_range(c.relink)))
            .map(|(k, _)| k)
            .collect();
        bad.sort_unstable();
        if let Some(key) = bad.first() {
            return Err(Error::invalid(
                path,
                format!(
                    "{key:?}: times must be seconds from 0 to {MAX_SECONDS:e} (a finite number)"
                ),
            ));
        }
        Ok(w)
    }

    /// Refuses names in `nodes` that no node of `plans` has as id, name or pname: a
    /// misspelled name would otherwise weigh nothing and the report be silently wrong, as
    /// an unknown field would (refused for that reason).
    fn check_names(&self, plans: &[PlanFile]) -> Result<()> {
        let known = |key: &str| {
            plans
                .iter()
                .flat_map(|p| &p.nodes)
                .any(|n| n.id == key || n.name == key || n.pname.as_deref() == Some(key))
        };
        let mut unknown: Vec<&str> = self
            .nodes
            .keys()
            .map(String::as_str)
            .filter(|k| !known(k))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        unknown.sort_unstable();
        Err(Error::invalid(
            &self.path,
            format!(
                "no node of the plans has the id, name or pname {}: misspelled?",
                unknown
                    .iter()
                    .map(|k| format!("{k:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }

    fn cost(&self, node: &PlanNode) -> Option<Cost> {
        self.nodes
            .get(&node.id)
            .or_else(|| self.nodes.get(&node.name))
            .or_else(|| node.pname.as_ref().and_then(|p| self.nodes.get(p)))
            .copied()
            .or(self.default)
    }
}

/// Reads a plan JSON file written by `relink-plan --json`.
pub fn load_plan(path: &Path) -> Result<PlanFile> {
    let format = Versioned {
        schema: Some(PLAN_SCHEMA),
        version: PLAN_VERSION as u64,
        made_by: "`abicut relink-plan GRAPH --changed NAME --json` writes a plan",
    };
    fsx::read_json(path, "plan JSON", Some(format))
}

/// CPU time of a plan under the weights, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CpuTime {
    /// Every classic rebuild's build time.
    pub classic: f64,
    /// Compiles (build + relink) and relinks with abicut.
    pub abicut: f64,
    /// `classic - abicut`: the CPU time the change no longer costs.
    pub avoided: f64,
    /// Nodes that rerun something but have no weight (and no default): left out of the sums.
    pub unweighted: usize,
}

/// One line of the report: one plan, or all plans combined.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The changed nodes and the assumptions, e.g. `glibc (abi same)`; a plan made under
    /// `--tools pinned` says so (`glibc (abi same, tools pinned)`), strict being the default.
    pub change: String,
    /// Nodes in the graph.
    pub nodes: usize,
    /// Nodes a classic build rebuilds.
    pub classic: usize,
    /// Nodes whose build reruns with abicut.
    pub compile: usize,
    /// Nodes that only relink with abicut.
    pub relink: usize,
    /// Nodes reused as they are.
    pub untouched: usize,
    /// `classic - compile`: builds the change no longer costs.
    pub avoided: usize,
    /// The nixpkgs rebuild-count bucket (`101-500`) a classic build falls in.
    pub bucket_before: &'static str,
    /// The bucket with abicut, counting compiles only.
    pub bucket_after: &'static str,
    /// CPU time, when `--weights` were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuTime>,
}

/// The `report --json` document: one row per plan, and a combined row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Always `abicut-report`.
    pub schema: &'static str,
    /// The report JSON version this build writes.
    pub version: u32,
    /// One row per plan, in the order given.
    pub rows: Vec<Row>,
    /// All plans together (a node counts with the most any plan does to it); only with
    /// several plans.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub combined: Option<Row>,
}

/// One report over several plans; weights that name a node none of them has are refused.
pub fn build(plans: &[PlanFile], weights: Option<&Weights>) -> Result<Report> {
    if let Some(w) = weights {
        w.check_names(plans)?;
    }
    let rows = plans
        .iter()
        .map(|p| row(change_label(p), p.nodes.iter(), weights))
        .collect();
    let combined = (plans.len() > 1).then(|| {
        let merged = merge(plans);
        row("all changes".to_owned(), merged.iter(), weights)
    });
    Ok(Report {
        schema: "abicut-report",
        version: 1,
        rows,
        combined,
    })
}

fn change_label(p: &PlanFile) -> String {
    let names: Vec<&str> = p
        .changed
        .iter()
        .map(|id| {
            p.nodes
                .iter()
                .find(|n| &n.id == id)
                .map_or(id.as_str(), |n| n.name.as_str())
        })
        .collect();
    let tools = match p.tools {
        Tools::Strict => "",
        Tools::Pinned => ", tools pinned",
    };
    format!("{} (abi {}{tools})", names.join(", "), p.abi)
}

/// The union of plans by node id: the strongest status, classic if any plan says so.
fn merge(plans: &[PlanFile]) -> Vec<PlanNode> {
    let mut by_id: HashMap<&str, PlanNode> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    for node in plans.iter().flat_map(|p| &p.nodes) {
        match by_id.get_mut(node.id.as_str()) {
            Some(cur) => {
                cur.classic |= node.classic;
                cur.status = cur.status.max(node.status);
            }
            None => {
                order.push(&node.id);
                by_id.insert(&node.id, node.clone());
            }
        }
    }
    order.iter().filter_map(|id| by_id.remove(id)).collect()
}

fn row<'a>(
    change: String,
    nodes: impl Iterator<Item = &'a PlanNode>,
    weights: Option<&Weights>,
) -> Row {
    let mut r = Row {
        change,
        nodes: 0,
        classic: 0,
        compile: 0,
        relink: 0,
        untouched: 0,
        avoided: 0,
        bucket_before: "",
        bucket_after: "",
        cpu: weights.map(|_| CpuTime {
            classic: 0.0,
            abicut: 0.0,
            avoided: 0.0,
            unweighted: 0,
        }),
    };
    for n in nodes {
        r.nodes += 1;
        r.classic += usize::from(n.classic);
        match n.status {
            Status::Compile => r.compile += 1,
            Status::Relink => r.relink += 1,
            Status::Untouched => r.untouched += 1,
        }
        if let (Some(cpu), Some(w)) = (r.cpu.as_mut(), weights) {
            add_cost(cpu, n, w.cost(n));
        }
    }
    r.avoided = r.classic.saturating_sub(r.compile);
    r.bucket_before = bucket(r.classic);
    r.bucket_after = bucket(r.compile);
    if let Some(cpu) = r.cpu.as_mut() {
        cpu.avoided = cpu.classic - cpu.abicut;
    }
    r
}

fn add_cost(cpu: &mut CpuTime, n: &PlanNode, cost: Option<Cost>) {
    if !n.classic && n.status == Status::Untouched {
        return;
    }
    let Some(c) = cost else {
        cpu.unweighted += 1;
        return;
    };
    if n.classic {
        cpu.classic += c.build;
    }
    cpu.abicut += match n.status {
        Status::Compile => c.build + c.relink,
        Status::Relink => c.relink,
        Status::Untouched => 0.0,
    };
}

impl Report {
    fn all_rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().chain(self.combined.as_ref())
    }

    /// Markdown for a pull-request comment or `$GITHUB_STEP_SUMMARY`.
    pub fn to_markdown(&self) -> String {
        let mut md = String::from("## abicut: rebuilds avoided\n\n");
        md.push_str(
            "| change | classic rebuild | abicut compile | relink only | untouched | compiles avoided |\n\
             |---|---:|---:|---:|---:|---:|\n",
        );
        for r in self.all_rows() {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} ({}) |",
                r.change,
                r.classic,
                r.compile,
                r.relink,
                r.untouched,
                r.avoided,
                percent(r.avoided, r.classic)
            );
        }
        md.push_str("\n### nixpkgs rebuild-count labels\n\n| change | classic | with abicut |\n|---|---|---|\n");
        for r in self.all_rows() {
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                r.change, r.bucket_before, r.bucket_after
            );
        }
        if self.all_rows().any(|r| r.cpu.is_some()) {
            md.push_str(
                "\n### CPU time\n\n| change | classic | with abicut | avoided | unweighted nodes |\n\
                 |---|---:|---:|---:|---:|\n",
            );
            for r in self.all_rows() {
                if let Some(c) = r.cpu {
                    let _ = writeln!(
                        md,
                        "| {} | {} | {} | {} | {} |",
                        r.change,
                        duration(c.classic),
                        duration(c.abicut),
                        duration(c.avoided),
                        c.unweighted
                    );
                }
            }
        }
        md
    }
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "0%".to_owned();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

/// Seconds as the largest unit that keeps the figure readable.
fn duration(secs: f64) -> String {
    match secs.abs() {
        s if s >= 3600.0 => format!("{:.1} h", secs / 3600.0),
        s if s >= 60.0 => format!("{:.1} min", secs / 60.0),
        _ => format!("{secs:.0} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::bucket;

    #[test]
    fn buckets_match_nixpkgs_labels() {
        let cases = [
            (0, "0"),
            (1, "1-10"),
            (10, "1-10"),
            (11, "11-100"),
            (500, "101-500"),
            (501, "501-1000"),
            (2500, "1001-2500"),
            (5000, "2501-5000"),
            (5001, "5001+"),
        ];
        for (n, label) in cases {
            assert_eq!(bucket(n), label, "{n}");
        }
    }
}

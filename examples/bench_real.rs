//! The time an ABI-neutral library update costs, with and without abicut, on real software
//! (nix/tests/real: zlib, libpng, expat, libxml2, libxslt from Debian's sources, and a
//! third-party program), tests included. Needs root on Debian with nix-bin (as
//! tests/nix_real.rs):
//!
//!   cargo run --release --example bench_real
//!
//! Builds the set split and classic, then applies the update (a fix in zlib's deflate.c,
//! version bumped) and rebuilds both. The CPU times are those the builders logged in Nix's
//! build logs (user + system of each build, `nix log`), summed per role. Then abicut's plan
//! and report over the classic graph, weighted with the same figures.

#[path = "../tests/support/real.rs"]
mod real;
mod support;

use anyhow::{Context, ensure};
use real::{Build, RealSet};
use std::collections::BTreeMap;
use std::path::Path;

/// Roles of the split that are not a compile: what abicut adds per package.
const SPLIT_LINK: [&str; 3] = ["interface", "indirection", "relink"];

fn main() -> anyhow::Result<()> {
    let abicut = support::abicut_binary();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let set = RealSet::new(repo, &abicut).map_err(anyhow::Error::msg)?;

    let first = set.build(&["checks", "classic.checks"], real::NONE);
    ensure!(first.ok, "the first build failed:\n{}", first.log);
    println!(
        "first build, split and classic: {:.0} s wall, {:.0} CPU s",
        first.elapsed.as_secs_f64(),
        first.built.iter().map(|b| b.cpu_ms as f64).sum::<f64>() / 1000.0
    );
    let graph = set.dir().join("graph.json");
    std::fs::write(&graph, set.classic_graph(real::NONE))?;

    let split = set.build(&["checks"], real::ABI_NEUTRAL);
    ensure!(split.ok, "the split rebuild failed:\n{}", split.log);
    let classic = set.build(&["classic.checks"], real::ABI_NEUTRAL);
    ensure!(classic.ok, "the classic rebuild failed:\n{}", classic.log);

    println!("\nthe update: zlib's deflate.c fixed (deflateBound, level 0), version bumped; CPU s");
    print_builds("split", &split);
    print_builds("classic", &classic);

    let classic_total = classic.cpu_s(&["classic", "test"]);
    let classic_tests = classic.cpu_s(&["test"]);
    let split_total = split.cpu_s(&["compile", "interface", "indirection", "relink", "test"]);
    let split_tests = split.cpu_s(&["test"]);
    println!("\n{:<34} {:>9} {:>9}", "", "classic", "split");
    let row = |what: &str, c: f64, s: f64| println!("{what:<34} {c:>9.2} {s:>9.2}");
    row(
        "builds / compiles",
        classic.cpu_s(&["classic"]),
        split.cpu_s(&["compile"]),
    );
    row(
        "interfaces, indirections, relinks",
        0.0,
        split.cpu_s(&SPLIT_LINK),
    );
    row("tests", classic_tests, split_tests);
    row("total", classic_total, split_total);
    println!(
        "{:<34} {:>8.0}% {:>8.0}%",
        "tests' share",
        100.0 * classic_tests / classic_total,
        100.0 * split_tests / split_total
    );

    report(&abicut, &set, &graph, &split, &classic, &first)?;

    let dependents = classic.packages("classic").len().saturating_sub(1);
    let compiled = split
        .packages("compile")
        .iter()
        .filter(|p| *p != "zlib")
        .count();
    let (passed, failed) = real::test_results(&split.outputs);
    println!(
        "dependents compiled: {compiled} of {dependents}; tests passed: {passed} of {}; classic {:.1} s, split {:.1} s ({:.1} x)",
        passed + failed,
        classic_total,
        split_total,
        classic_total / split_total
    );
    Ok(())
}

/// One line per role: its CPU seconds and the packages it built.
fn print_builds(what: &str, build: &Build) {
    let mut by_role: BTreeMap<&str, Vec<(String, f64)>> = BTreeMap::new();
    for b in &build.built {
        by_role
            .entry(b.role.as_str())
            .or_default()
            .push((b.package.clone(), b.cpu_ms as f64 / 1000.0));
    }
    println!("{what} ({:.0} s wall):", build.elapsed.as_secs_f64());
    for (role, builds) in by_role {
        let list: Vec<String> = builds.iter().map(|(p, s)| format!("{p} {s:.2}")).collect();
        println!(
            "  {role:<12} {:>7.2}  {}",
            builds.iter().map(|(_, s)| s).sum::<f64>(),
            list.join(", ")
        );
    }
}

/// `abicut relink-plan` and `abicut report` over the classic graph, weighted with the
/// measured CPU times (real::weights).
fn report(
    abicut: &Path,
    set: &RealSet,
    graph: &Path,
    split: &Build,
    classic: &Build,
    first: &Build,
) -> anyhow::Result<()> {
    let weights = real::weights(split, classic, first);
    let (_, report) = real::plan_and_report(abicut, set.dir(), graph, &weights)
        .map_err(anyhow::Error::msg)
        .context("abicut relink-plan / report")?;
    println!("\nabicut report over the classic graph, weighted from these logs:\n");
    println!("{}", report.trim_end());
    println!();
    Ok(())
}

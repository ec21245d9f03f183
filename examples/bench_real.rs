//! The time an ABI-neutral library update costs, with and without abicut, on real software
//! (nix/tests/real: zlib, libpng, expat, libxml2, libxslt from Debian's sources, and a
//! third-party program), tests included. Needs root on Debian with nix-bin (as
//! tests/nix_real.rs):
//!
//!   cargo run --release --example bench_real
//!
//! Builds the set split (the tools' runtime pinned at this first build) and classic, then
//! applies the update (a fix in zlib's deflate.c, version bumped) and rebuilds both; and the
//! same split with no pin, on a set of its own. The CPU times are those the builders logged in Nix's
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
    let unpinned = unpinned_update(repo, &abicut)?;

    println!("\nthe update: zlib's deflate.c fixed (deflateBound, level 0), version bumped; CPU s");
    print_builds("split, tools pinned", &split);
    print_builds("split, no pin", &unpinned);
    print_builds("classic", &classic);

    let split_roles = [
        "compile",
        "interface",
        "indirection",
        "relink",
        "tool",
        "test",
    ];
    println!(
        "\n{:<34} {:>9} {:>9} {:>9}",
        "", "classic", "no pin", "pinned"
    );
    let row =
        |what: &str, c: f64, u: f64, s: f64| println!("{what:<34} {c:>9.2} {u:>9.2} {s:>9.2}");
    row(
        "builds / compiles",
        classic.cpu_s(&["classic"]),
        unpinned.cpu_s(&["compile"]),
        split.cpu_s(&["compile"]),
    );
    row(
        "interfaces, indirections, relinks",
        0.0,
        unpinned.cpu_s(&SPLIT_LINK),
        split.cpu_s(&SPLIT_LINK),
    );
    row(
        "tests",
        classic.cpu_s(&["test"]),
        unpinned.cpu_s(&["test"]),
        split.cpu_s(&["test"]),
    );
    let totals = [
        classic.cpu_s(&["classic", "test"]),
        unpinned.cpu_s(&split_roles),
        split.cpu_s(&split_roles),
    ];
    row("total", totals[0], totals[1], totals[2]);

    report(&abicut, &set, &graph, &split, &classic, &first)?;

    let dependents = classic.packages("classic").len().saturating_sub(1);
    let compiled = |b: &Build| {
        b.packages("compile")
            .iter()
            .filter(|p| *p != "zlib")
            .count()
    };
    let (passed, failed) = real::test_results(&split.outputs);
    println!(
        "dependents compiled: {} of {dependents} without a pin, {} pinned; tests passed: {passed} of {}; classic {:.1} s, no pin {:.1} s ({:.1} x), pinned {:.1} s ({:.1} x)",
        compiled(&unpinned),
        compiled(&split),
        passed + failed,
        totals[0],
        totals[1],
        totals[0] / totals[1],
        totals[2],
        totals[0] / totals[2]
    );
    Ok(())
}

/// The same update split with no pin, on a set of its own (a new salt: its builds are its
/// own, none found built by the pinned run): compiles run libxslt's final output, which
/// relinks to the new zlib, so xmlpng compiles again.
fn unpinned_update(repo: &Path, abicut: &Path) -> anyhow::Result<Build> {
    let set = RealSet::new(repo, abicut).map_err(anyhow::Error::msg)?;
    set.pin(None);
    let first = set.build(&["checks"], real::NONE);
    ensure!(first.ok, "the unpinned first build failed:\n{}", first.log);
    let update = set.build(&["checks"], real::ABI_NEUTRAL);
    ensure!(update.ok, "the unpinned rebuild failed:\n{}", update.log);
    Ok(update)
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

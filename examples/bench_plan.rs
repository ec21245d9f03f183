//! Benchmark: loading and planning the Debian graph, and the same graph replicated 4x,
//! to show the plan is linear in the graph's size, under `--tools strict` and `pinned`.
//! Baseline: the 1x graph.
//!
//! ```sh
//! cargo run --release --example debian_graph -- -o debian-graph.json
//! cargo run --release --example bench_plan -- debian-graph.json
//! ```

use abicut::graph::plan::{self, Abi, AbiFacts, Tools};
use abicut::graph::{Graph, json};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const RUNS: usize = 21;

fn main() -> anyhow::Result<()> {
    let path = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "debian-graph.json".to_owned()),
    );
    let base = measure(&path).with_context(|| {
        format!(
            "{} (make it with `cargo run --release --example debian_graph -- -o {0}`)",
            path.display()
        )
    })?;
    let graph = Graph::load(&path)?;
    let dir = tempfile::tempdir()?;
    let big = dir.path().join("graph-4x.json");
    abicut::fsx::write_atomic(&big, json::to_string(&graph.replicate(4)?)?.as_bytes())?;
    let x4 = measure(&big)?;
    println!(
        "graph     nodes    edges  load (ms)  plan warm (ms)  plan cold (ms)  pinned warm (ms)  pinned cold (ms)  (plan: fastest of {RUNS})"
    );
    for (label, m) in [("1x", &base), ("4x", &x4)] {
        println!(
            "{label:<4} {:>9} {:>8} {:>10.1} {:>15.2} {:>15.2} {:>17.2} {:>17.2}",
            m.nodes,
            m.edges,
            ms(m.load),
            ms(m.strict.warm),
            ms(m.strict.cold),
            ms(m.pinned.warm),
            ms(m.pinned.cold)
        );
    }
    println!(
        "4x / 1x: size {:.2}, load {:.2}, plan warm {:.2}, plan cold {:.2}, pinned warm {:.2}, pinned cold {:.2}; load + plan of 1x: {:.0} ms",
        x4.edges as f64 / base.edges as f64,
        ms(x4.load) / ms(base.load),
        ms(x4.strict.warm) / ms(base.strict.warm),
        ms(x4.strict.cold) / ms(base.strict.cold),
        ms(x4.pinned.warm) / ms(base.pinned.warm),
        ms(x4.pinned.cold) / ms(base.pinned.cold),
        ms(base.load + base.strict.warm)
    );
    Ok(())
}

struct Measure {
    nodes: usize,
    edges: usize,
    load: Duration,
    strict: PlanTimes,
    pinned: PlanTimes,
}

/// The fastest plan of `RUNS`, with the caches as the previous run left them and flushed.
struct PlanTimes {
    warm: Duration,
    cold: Duration,
}

/// Times loading `path` (fastest of three), then planning `--changed glibc --abi same` (every replica's
/// glibc, matched by pname) `RUNS` times under each tool policy.
fn measure(path: &Path) -> anyhow::Result<Measure> {
    let mut load = Duration::MAX;
    let mut graph = Graph::default();
    for _ in 0..3 {
        let t = Instant::now();
        graph = Graph::load(path)?;
        load = load.min(t.elapsed());
    }
    let changed = graph.resolve_all(&["glibc".to_owned()])?;
    let facts = AbiFacts::Uniform(Abi::Same);
    let time_plan = |cold: bool, tools: Tools| {
        let mut times: Vec<Duration> = (0..RUNS)
            .map(|_| {
                if cold {
                    evict_caches();
                }
                let t = Instant::now();
                std::hint::black_box(plan::plan(&graph, &changed, &facts, tools));
                t.elapsed()
            })
            .collect();
        times.sort();
        times[0]
    };
    Ok(Measure {
        nodes: graph.node_count(),
        edges: graph.edge_count(),
        load,
        strict: PlanTimes {
            warm: time_plan(false, Tools::Strict),
            cold: time_plan(true, Tools::Strict),
        },
        pinned: PlanTimes {
            warm: time_plan(false, Tools::Pinned),
            cold: time_plan(true, Tools::Pinned),
        },
    })
}

/// Overwrites more memory than the last-level cache holds, so a run starts with the
/// graph out of cache whatever its size; warm runs favour graphs that fit in cache.
fn evict_caches() {
    let mut buf = vec![0u8; 128 << 20];
    for (i, b) in buf.iter_mut().enumerate().step_by(64) {
        *b = i as u8;
    }
    std::hint::black_box(&buf);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

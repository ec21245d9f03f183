//! What the zlib update of the real set (nix/tests/real) costs a binary cache and its users,
//! three ways: classic; the split with relinks in the cache; the split with relinks made by
//! the client (nix/lib.nix's relinkLocally). Needs root on Debian with nix-bin, python3 and
//! unshare (as tests/nix_real.rs and tests/cache.rs):
//!
//!   cargo run --release --example bench_cache
//!
//! Per mode, a signed binary cache served over HTTP on loopback and a client store of its
//! own (tests/support/cache.rs). The builder builds the installed set (every package's
//! `out`: xmlpng and the five libraries) and uploads what a client may substitute; the
//! client installs it, collects garbage, then the builder publishes the update and the
//! client moves to it. Printed: the bytes the cache gained (its narinfos' FileSize), the
//! bytes the client downloaded (FileSize of each NAR the server's access log shows served),
//! the client's CPU time (bash `times` over nix-build and its builders), and its store growth
//! (`du -sb` after `nix-collect-garbage`, with the set as installed and as updated both
//! rooted, and `nix-store --optimise`, both sides). Then, for the client that relinks
//! locally: what it downloaded, and that its relinked outputs equal the builder's byte for
//! byte (`nix-store --dump` on both sides).

#[path = "../tests/support/cache.rs"]
mod cache;
#[path = "../tests/support/real.rs"]
mod real;
mod support;

use anyhow::ensure;
use cache::{Cost, Deployment, Mode, PackageSet};
use real::RealSet;
use std::path::Path;

/// The real set with the zlib update as `updated`.
struct Real(RealSet);

impl PackageSet for Real {
    fn dir(&self) -> &Path {
        self.0.dir()
    }

    fn args(&self, mode: Mode, updated: bool) -> Vec<String> {
        let mut args = self.0.args(if updated {
            real::ABI_NEUTRAL
        } else {
            real::NONE
        });
        args.extend(mode.args());
        args
    }

    fn packages(&self) -> Vec<String> {
        real::PACKAGES.map(str::to_string).to_vec()
    }

    /// Each package's `out` output (not its `tests`).
    fn installed(&self, mode: Mode) -> Vec<String> {
        real::PACKAGES
            .map(|p| match mode {
                Mode::Classic => format!("classic.{p}.out"),
                _ => format!("{p}.out.out"),
            })
            .to_vec()
    }

    fn updated_package(&self) -> &'static str {
        "zlib"
    }
}

fn main() -> anyhow::Result<()> {
    let abicut = support::abicut_binary();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let set = Real(RealSet::new(repo, &abicut).map_err(anyhow::Error::msg)?);
    let deployments = cache::MODES
        .iter()
        .map(|m| Deployment::new(*m).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for d in &deployments {
        let gained = d.publish(&set, false);
        let (_, cpu) = d.install(&set, false);
        d.client.collect_garbage();
        println!(
            "{}: first state, cache {gained} B, client {cpu:.1} CPU s, client store {} B",
            d.mode.name(),
            d.client.store_bytes()
        );
    }
    let costs: Vec<(Mode, Cost)> = deployments
        .iter()
        .map(|d| (d.mode, d.update(&set)))
        .collect();
    println!("\nthe zlib update (deflate.c fixed, version bumped):\n");
    println!("{}", cache::table(&costs));

    let (local_d, local) = (&deployments[2], &costs[2].1);
    ensure!(
        local.dependents == 0,
        "the local client downloaded {} B of dependents",
        local.dependents
    );
    println!(
        "split, relinks made locally: downloaded {:?}",
        local.fetched
    );
    let mut identical = 0;
    for path in &local.outputs {
        ensure!(
            local_d.client.dump(path) == cache::builder_dump(path),
            "{path}: the client's relink differs from the builder's"
        );
        ensure!(!local.fetched.contains(path), "{path} was downloaded");
        identical += 1;
    }
    println!("its {identical} relinked outputs equal the builder's, byte for byte");
    Ok(())
}

//! How long `abicut relocate` takes on the real set's closure (xmlpng, libxslt's xsltproc and
//! libxml2's xmllint with their libraries, built by Nix from nix/tests/real), against
//! `cp -a` of the same closure and against the naive way (examples/relocate-naive.sh: copy,
//! then `patchelf` per ELF file and `sed` per other file). Needs root on Debian with nix-bin
//! and patchelf, as tests/nix_real.rs:
//!
//!   cargo build --release && cargo run --release --example bench_relocate
//!
//! Each way runs RUNS times into a fresh directory (page cache warm after the first); the
//! median is printed, and the ratios against `abicut relocate` to a store directory 4
//! characters longer than `/nix/store` (as `/tmp/nix/store`: every name cut by 4).

#[path = "../tests/support/real.rs"]
mod real;
mod support;

use anyhow::{Context, Result, ensure};
use std::path::{Path, PathBuf};
use std::time::Instant;

const RUNS: usize = 5;

fn main() -> Result<()> {
    let abicut = support::abicut_binary();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let set = real::RealSet::new(repo, &abicut).map_err(anyhow::Error::msg)?;
    let outputs: Vec<PathBuf> = ["xmlpng", "libxslt", "libxml2"]
        .iter()
        .flat_map(|p| set.outputs(&format!("{p}.out"), real::NONE))
        .collect();
    let mut query = vec!["-qR".to_string()];
    query.extend(outputs.iter().map(|o| o.to_string_lossy().into_owned()));
    let listed = real::nix_command("nix-store", &query, set.dir()).run()?;
    ensure!(listed.status.success(), "nix-store -qR: {listed:?}");
    let closure: Vec<String> = String::from_utf8(listed.stdout)?
        .lines()
        .map(str::to_string)
        .collect();
    let (files, bytes) = size(&closure)?;
    println!(
        "the real set's closure of xmlpng, xsltproc and xmllint: {} paths, {files} files, {:.1} MB",
        closure.len(),
        bytes as f64 / 1e6
    );

    let tmp = tempfile::Builder::new()
        .prefix("")
        .rand_bytes(3)
        .tempdir_in("/tmp")?;
    let cache = tmp.path().join("cache");
    let mut copy = vec!["copy".to_string(), "--to".into()];
    copy.push(format!("file://{}", cache.display()));
    copy.extend(outputs.iter().map(|o| o.to_string_lossy().into_owned()));
    let copied = real::nix_command("nix", &copy, set.dir()).run()?;
    ensure!(copied.status.success(), "nix copy: {copied:?}");

    let roots: Vec<String> = outputs
        .iter()
        .map(|o| o.to_string_lossy().into_owned())
        .collect();
    // A fresh `/tmp/XXX` per run (8 characters), and below it a directory of
    // `/nix/store`'s length plus `extra`.
    let runs = std::cell::RefCell::new(Vec::new());
    let dir = |extra: usize| -> Result<String> {
        let fresh = tempfile::Builder::new()
            .prefix("")
            .rand_bytes(3)
            .tempdir_in("/tmp")?;
        let path = fresh.path().join("s".repeat(1 + extra));
        runs.borrow_mut().push(fresh);
        Ok(path.to_string_lossy().into_owned())
    };
    let relocate = |args: Vec<String>| -> Result<()> {
        let out = duct::cmd(&abicut, &args).stdout_null().unchecked().run()?;
        ensure!(out.status.success(), "abicut {args:?}: {out:?}");
        Ok(())
    };
    type Way<'a> = (&'a str, Box<dyn Fn() -> Result<()> + 'a>);
    let ways: Vec<Way> = vec![
        (
            "abicut relocate, store directory 4 longer (names cut)",
            Box::new(|| {
                let mut args = vec!["relocate".to_string()];
                args.extend(roots.iter().cloned());
                args.extend(["--closure".into(), "--to".into(), dir(4)?]);
                relocate(args)
            }),
        ),
        (
            "abicut relocate, same length",
            Box::new(|| {
                let mut args = vec!["relocate".to_string()];
                args.extend(roots.iter().cloned());
                args.extend(["--closure".into(), "--to".into(), dir(0)?]);
                relocate(args)
            }),
        ),
        (
            "abicut relocate --from file:// (xz), 4 longer",
            Box::new(|| {
                let mut args = vec!["relocate".to_string(), "--from".into()];
                args.push(format!("file://{}", cache.display()));
                args.extend(roots.iter().cloned());
                args.extend(["--to".into(), dir(4)?]);
                relocate(args)
            }),
        ),
        (
            "cp -a of the closure",
            Box::new(|| {
                let to = dir(0)?;
                std::fs::create_dir(&to)?;
                let mut args = vec!["-a".to_string()];
                args.extend(closure.iter().cloned());
                args.push(to);
                duct::cmd("cp", &args).run()?;
                Ok(())
            }),
        ),
        (
            "naive: copy, patchelf per ELF, sed per file",
            Box::new(|| {
                let mut args = vec![
                    repo.join("examples/relocate-naive.sh")
                        .display()
                        .to_string(),
                ];
                args.push(dir(0)?);
                args.extend(closure.iter().cloned());
                duct::cmd("bash", &args).stdout_null().stderr_null().run()?;
                Ok(())
            }),
        ),
    ];
    let mut medians = Vec::new();
    for (what, way) in &ways {
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let start = Instant::now();
            way().with_context(|| what.to_string())?;
            times.push(start.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        medians.push(times[RUNS / 2]);
        println!("{what:<55} {:>8.3} s  (median of {RUNS})", times[RUNS / 2]);
    }
    println!(
        "ratio relocate / cp -a:                                {:>6.1}x",
        medians[0] / medians[3]
    );
    println!(
        "ratio naive / relocate:                                {:>6.1}x",
        medians[4] / medians[0]
    );
    Ok(())
}

/// Files (symlinks included) and bytes of regular files under `paths`.
fn size(paths: &[String]) -> Result<(usize, u64)> {
    let (mut files, mut bytes) = (0, 0);
    for p in paths {
        for w in abicut::fsx::walk(Path::new(p))? {
            if w.target.is_some() || w.meta.is_file() {
                files += 1;
                bytes += if w.meta.is_file() { w.meta.len() } else { 0 };
            }
        }
    }
    Ok((files, bytes))
}

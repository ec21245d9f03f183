//! Relink of a large real tree against `cp -a` of it and against the naive relink
//! (`cp -a` then `patchelf --set-rpath` once per ELF file).
//!
//! `cargo run --release --example bench_relink [TREE] [WORKDIR]`
//!
//! TREE (default /usr/lib/x86_64-linux-gnu) is copied to WORKDIR/src (default
//! target/bench-relink); every dynamic ELF file in the copy gets a RUNPATH naming a fake
//! store path, so the mapping occurs in many files, as in a Nix output; symlinks stay as
//! they are (relative ones leading out of the tree included). The three
//! contenders then run in `REPEAT` interleaved rounds on a warm page cache, each after
//! `sync`; every run is printed, and the median of each is used for the ratios. On a
//! busy machine, a WORKDIR on tmpfs (`/dev/shm/...`) keeps disk writeback out of the figures.

use abicut::elf::edit::{self, Edit};
use abicut::relink::{self, NoProgress, Options, mapping::Mapping};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const FROM: &str = "/nix/store/0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-glibc-2.36/lib";
const TO: &str = "/nix/store/1bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-glibc-2.36/lib";
const REPEAT: usize = 5;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tree = PathBuf::from(
        args.first()
            .map_or("/usr/lib/x86_64-linux-gnu", String::as_str),
    );
    let work = PathBuf::from(args.get(1).map_or("target/bench-relink", String::as_str));
    let src = work.join("src");
    let elves = prepare(&tree, &src)?;
    let (files, bytes) = size(&src)?;
    println!(
        "tree: {} ({files} files, {:.0} MB, {} ELF files with RUNPATH {FROM})",
        tree.display(),
        bytes as f64 / 1e6,
        elves.len()
    );
    let opts = Options {
        mappings: vec![Mapping::new(FROM, TO)?],
        ..Options::default()
    };
    // Warm the page cache with the source.
    let warm = work.join("warm");
    cp(&src, &warm)?;
    remove(&warm)?;
    let out = work.join("out");
    let mut runs: [Vec<Duration>; 3] = Default::default();
    for _ in 0..REPEAT {
        runs[0].push(timed(&out, || cp(&src, &out))?);
        runs[1].push(timed(&out, || {
            let s = relink::relink(&src, &out, &opts, &NoProgress)?;
            anyhow::ensure!(
                s.mappings[0].occurrences >= elves.len() as u64,
                "mapping not found"
            );
            Ok(())
        })?);
        runs[2].push(timed(&out, || naive(&src, &out, &elves))?);
    }
    for (name, runs) in ["cp -a", "relink", "naive"].iter().zip(&runs) {
        let shown: Vec<String> = runs
            .iter()
            .map(|t| format!("{:.3}", t.as_secs_f64()))
            .collect();
        println!("runs of {name}: {} s", shown.join(" "));
    }
    // The median: on a shared machine single runs swing both ways, and the
    // median of interleaved rounds is the fairest single figure.
    let median = |r: &[Duration]| {
        let mut v = r.to_vec();
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    let (cp_t, relink_t, naive_t) = (median(&runs[0]), median(&runs[1]), median(&runs[2]));
    println!("median of {REPEAT} runs:");
    println!("cp -a:                      {cp_t:.3} s");
    println!("abicut relink:              {relink_t:.3} s");
    println!("cp -a + patchelf per ELF:   {naive_t:.3} s");
    println!("relink / cp -a:             {:.2}x", relink_t / cp_t);
    println!(
        "naive / relink:             {:.2}x faster",
        naive_t / relink_t
    );
    Ok(())
}

/// Copies the tree and gives every dynamic ELF file a RUNPATH of FROM; returns those files.
fn prepare(tree: &Path, src: &Path) -> anyhow::Result<Vec<PathBuf>> {
    remove(src)?;
    if let Some(parent) = src.parent() {
        fs::create_dir_all(parent)?;
    }
    cp(tree, src)?;
    let mut elves = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir)? {
            let p = e?.path();
            let meta = fs::symlink_metadata(&p)?;
            if meta.is_dir() {
                stack.push(p);
            } else if meta.is_file() && edit::edit_file(&p, &[Edit::SetRpath(FROM.into())]).is_ok()
            {
                elves.push(p);
            }
        }
    }
    elves.sort();
    Ok(elves)
}

fn size(root: &Path) -> anyhow::Result<(u64, u64)> {
    let (mut files, mut bytes) = (0, 0);
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir)? {
            let e = e?;
            let m = fs::symlink_metadata(e.path())?;
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() {
                files += 1;
                bytes += m.len();
            }
        }
    }
    Ok((files, bytes))
}

fn cp(from: &Path, to: &Path) -> anyhow::Result<()> {
    let st = Command::new("cp").arg("-a").arg(from).arg(to).status()?;
    anyhow::ensure!(st.success(), "cp -a {} failed", from.display());
    Ok(())
}

fn remove(p: &Path) -> anyhow::Result<()> {
    if fs::symlink_metadata(p).is_ok() {
        let st = Command::new("rm").arg("-rf").arg(p).status()?;
        anyhow::ensure!(st.success(), "rm -rf {} failed", p.display());
    }
    Ok(())
}

/// `cp -a` followed by one `patchelf --set-rpath` per ELF file.
fn naive(src: &Path, out: &Path, elves: &[PathBuf]) -> anyhow::Result<()> {
    cp(src, out)?;
    for f in elves {
        let rel = f.strip_prefix(src)?;
        let st = Command::new("patchelf")
            .arg("--set-rpath")
            .arg(TO)
            .arg(out.join(rel))
            .status()?;
        anyhow::ensure!(st.success(), "patchelf failed on {}", rel.display());
    }
    Ok(())
}

/// One timed run after `sync`; its output is removed afterwards (untimed), so every
/// contender starts from the same state: the page cache holds the source, not old outputs.
fn timed(out: &Path, run: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    Command::new("sync").status()?;
    let t = Instant::now();
    run()?;
    let elapsed = t.elapsed();
    remove(out)?;
    Ok(elapsed)
}

//! Relink of a large real tree against `cp -a` of it and against the naive relink
//! (`cp -a` then `patchelf --set-rpath` once per ELF file).
//!
//! `cargo run --release --example bench_relink [TREE] [WORKDIR]`
//!
//! TREE (default /usr/lib/x86_64-linux-gnu) is copied to WORKDIR/src (default
//! target/bench-relink); every dynamic ELF file in the copy gets a RUNPATH naming a fake
//! store path, so the mapping occurs in many files, as in a Nix output. Relative symlinks
//! that lead out of the tree are made absolute (relink refuses escaping links). The three
//! contenders then run in `REPEAT` interleaved rounds on a warm page cache, each after
//! `sync`; the best time of each is reported with the ratios.

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
    let mut times = [Duration::MAX; 3];
    for round in 0..REPEAT {
        let out = |name: &str| work.join(format!("out-{name}-{round}"));
        times[0] = times[0].min(timed(|| cp(&src, &out("cp")))?);
        times[1] = times[1].min(timed(|| {
            let s = relink::relink(&src, &out("relink"), &opts, &NoProgress)?;
            anyhow::ensure!(
                s.mappings[0].occurrences >= elves.len() as u64,
                "mapping not found"
            );
            Ok(())
        })?);
        times[2] = times[2].min(timed(|| naive(&src, &out("naive"), &elves))?);
    }
    for round in 0..REPEAT {
        for name in ["cp", "relink", "naive"] {
            remove(&work.join(format!("out-{name}-{round}")))?;
        }
    }
    let [t_cp, t_relink, t_naive] = times;
    let s = |d: Duration| d.as_secs_f64();
    println!("cp -a:                      {:.3} s", s(t_cp));
    println!("abicut relink:              {:.3} s", s(t_relink));
    println!("cp -a + patchelf per ELF:   {:.3} s", s(t_naive));
    println!("relink / cp -a:             {:.2}x", s(t_relink) / s(t_cp));
    println!(
        "naive / relink:             {:.2}x faster",
        s(t_naive) / s(t_relink)
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
            } else if meta.file_type().is_symlink() {
                absolutize_escaping(src, tree, &p)?;
            } else if meta.is_file() && edit::edit_file(&p, &[Edit::SetRpath(FROM.into())]).is_ok()
            {
                elves.push(p);
            }
        }
    }
    elves.sort();
    Ok(elves)
}

fn absolutize_escaping(src: &Path, tree: &Path, link: &Path) -> anyhow::Result<()> {
    let target = fs::read_link(link)?;
    if target.is_absolute() {
        return Ok(());
    }
    let resolved = link.parent().unwrap_or(src).join(&target);
    let root = fs::canonicalize(src)?;
    if fs::canonicalize(&resolved).is_ok_and(|r| r.starts_with(&root)) {
        return Ok(());
    }
    let in_tree = tree.join(link.strip_prefix(src)?);
    let absolute = in_tree.parent().unwrap_or(tree).join(&target);
    fs::remove_file(link)?;
    std::os::unix::fs::symlink(absolute, link)?;
    Ok(())
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

/// One timed run after `sync`. Every run writes a fresh output directory and outputs are
/// removed only at the end: creating files right after deleting thousands makes ext4 skip
/// the recently freed inodes, a cost that would otherwise land on whoever runs next.
fn timed(run: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    Command::new("sync").status()?;
    let t = Instant::now();
    run()?;
    Ok(t.elapsed())
}

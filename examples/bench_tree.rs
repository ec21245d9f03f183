//! Benchmark: interface trees and tree diffs of real Debian packages, against the plain
//! tools a script would use instead: `cp -a` of the same package root (what the tree
//! replaces) and `abidiff` run on every shared-object pair (what `abicut diff` of two
//! trees answers in one run, headers and other files included). Prints times and ratios.
//!
//! `cargo build --release && cargo run --release --example bench_tree`
//! Downloads libc6, libc6-dev, libssl3, libssl-dev, zlib1g and zlib1g-dev (newest build, and
//! libc6/libc6-dev's previous build for the diff) with `apt-get download`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::abicut_binary;

const PACKAGES: &[&str] = &[
    "libc6",
    "libc6-dev",
    "libssl3",
    "libssl-dev",
    "zlib1g",
    "zlib1g-dev",
];

fn main() {
    let abicut = abicut_binary();
    let work = tempfile::tempdir().expect("temporary directory");
    let previous = previous_version("libc6").expect("the archive offers one build of libc6");
    let new_root = unpack(
        &PACKAGES.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        &work.path().join("new"),
    );
    let old_root = unpack(
        &["libc6", "libc6-dev"].map(|p| format!("{p}={previous}")),
        &work.path().join("old"),
    );
    let files = count_files(&new_root);
    println!(
        "package root: {files} files ({} of Debian packages)",
        PACKAGES.join(", ")
    );

    let copy = best_of(3, |i| {
        run(Command::new("cp")
            .arg("-a")
            .arg(&new_root)
            .arg(work.path().join(format!("copy{i}"))))
    });
    let tree = best_of(3, |i| {
        run(Command::new(&abicut)
            .args(["interface", "--self", "/", "-o"])
            .arg(work.path().join(format!("tree{i}")))
            .arg(&new_root))
    });
    let hash = best_of(3, |_| {
        run(Command::new(&abicut)
            .args(["interface", "--self", "/", "--hash"])
            .arg(&new_root)
            .stdout(Stdio::null()))
    });
    println!("cp -a of the root                 {:>8.3} s", secs(copy));
    println!(
        "abicut interface -o (tree)        {:>8.3} s  ({:.2}x cp -a)",
        secs(tree),
        ratio(tree, copy)
    );
    println!(
        "abicut interface --hash (no tree) {:>8.3} s  ({:.2}x cp -a)",
        secs(hash),
        ratio(hash, copy)
    );

    let old_tree = work.path().join("old-tree");
    let libc_tree = work.path().join("libc-tree");
    run(Command::new(&abicut)
        .args(["interface", "--self", "/", "-o"])
        .arg(&old_tree)
        .arg(&old_root));
    let libc_root = unpack(
        &["libc6", "libc6-dev"].map(String::from),
        &work.path().join("libc"),
    );
    run(Command::new(&abicut)
        .args(["interface", "--self", "/", "-o"])
        .arg(&libc_tree)
        .arg(&libc_root));
    let pairs = shared_object_pairs(&old_root, &libc_root);
    let diff = best_of(3, |_| {
        let status = Command::new(&abicut)
            .args(["diff", "--no-patch"])
            .arg(&old_tree)
            .arg(&libc_tree)
            .stdout(Stdio::null())
            .status()
            .expect("abicut runs");
        assert!(matches!(status.code(), Some(0..=2)), "abicut diff failed");
    });
    let per_pair = best_of(1, |_| {
        for (a, b) in &pairs {
            let status = Command::new(&abicut)
                .arg("diff")
                .arg(a)
                .arg(b)
                .stdout(Stdio::null())
                .status()
                .expect("abicut runs");
            assert!(
                matches!(status.code(), Some(0..=2)),
                "abicut diff failed on {}",
                a.display()
            );
        }
    });
    let abidiff = best_of(1, |_| {
        for (a, b) in &pairs {
            let status = Command::new("abidiff")
                .arg(a)
                .arg(b)
                .stdout(Stdio::null())
                .status()
                .expect("abidiff runs (Debian package abigail-tools)");
            assert!(
                status.code().is_some_and(|c| c & 1 == 0),
                "abidiff failed on {}",
                a.display()
            );
        }
    });
    println!(
        "libc6 + libc6-dev {previous} → newest, {} shared-object pairs:",
        pairs.len()
    );
    println!(
        "abidiff, one run per pair           {:>8.3} s",
        secs(abidiff)
    );
    println!(
        "abicut diff, one run per pair       {:>8.3} s  ({:.1}x faster than abidiff)",
        secs(per_pair),
        ratio(abidiff, per_pair)
    );
    println!(
        "abicut diff of the two trees        {:>8.3} s  ({:.1}x faster; headers and all files too)",
        secs(diff),
        ratio(abidiff, diff)
    );
}

fn previous_version(package: &str) -> Option<String> {
    let out = Command::new("apt-cache")
        .args(["madison", package])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut versions: Vec<String> = Vec::new();
    for line in text.lines().filter(|l| l.contains("Packages")) {
        if let Some(v) = line.split('|').nth(1).map(|v| v.trim().to_string())
            && !versions.contains(&v)
        {
            versions.push(v);
        }
    }
    versions.get(1).cloned()
}

fn unpack(specs: &[String], dir: &Path) -> PathBuf {
    let debs = dir.join("debs");
    std::fs::create_dir_all(&debs).expect("download directory");
    run(Command::new("apt-get")
        .arg("download")
        .args(specs)
        .current_dir(&debs)
        .stdout(Stdio::null()));
    let root = dir.join("root");
    for deb in std::fs::read_dir(&debs).expect("downloads") {
        let deb = deb.expect("download").path();
        run(Command::new("dpkg").arg("-x").arg(deb).arg(&root));
    }
    root
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("readable") {
        let p = e.expect("entry").path();
        let meta = std::fs::symlink_metadata(&p).expect("metadata");
        if meta.is_dir() {
            walk(&p, out);
        } else if meta.is_file() {
            out.push(p);
        }
    }
}

fn count_files(root: &Path) -> usize {
    let mut files = Vec::new();
    walk(root, &mut files);
    files.len()
}

/// Real ELF shared objects present in both roots.
fn shared_object_pairs(old: &Path, new: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut files = Vec::new();
    walk(old, &mut files);
    files
        .into_iter()
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name.ends_with(".so") || name.contains(".so.")) && !name.ends_with(".py")
        })
        .filter(|p| std::fs::read(p).is_ok_and(|b| b.starts_with(b"\x7fELF") && b[16] == 3))
        .filter_map(|p| {
            let rel = p.strip_prefix(old).ok()?.to_path_buf();
            let other = new.join(&rel);
            other.is_file().then_some((p, other))
        })
        .collect()
}

fn run(cmd: &mut Command) {
    let status = cmd.status().expect("command runs");
    assert!(status.success(), "{cmd:?} failed");
}

fn best_of(n: usize, mut f: impl FnMut(usize)) -> Duration {
    (0..n)
        .map(|i| {
            let start = Instant::now();
            f(i);
            start.elapsed()
        })
        .min()
        .expect("at least one run")
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

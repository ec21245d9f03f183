//! Benchmark: stubgen over every shared library in a directory, as one batch and as one
//! process per library, against `llvm-ifs --output-elf` run per library. Prints the times
//! and the ratios in one run.
//!
//! `cargo build --release && cargo run --release --example bench_stubgen [-- DIR]`
//! (default DIR: /usr/lib/x86_64-linux-gnu; llvm-ifs from Debian's `llvm` package).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::abicut_binary;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("/usr/lib/x86_64-linux-gnu"), PathBuf::from);
    let abicut = abicut_binary();
    let llvm_ifs = ["llvm-ifs", "llvm-ifs-14"]
        .into_iter()
        .find(|t| {
            Command::new(t)
                .arg("--version")
                .stdout(Stdio::null())
                .status()
                .is_ok()
        })
        .expect("llvm-ifs is not installed (Debian package llvm)");
    let libs = shared_libraries(&dir);
    println!("{} shared libraries under {}", libs.len(), dir.display());
    let out = tempfile::tempdir().expect("temporary directory");

    let (batch, batch_failed) = time(|| {
        let status = Command::new(&abicut)
            .arg("stubgen")
            .arg("--out-dir")
            .arg(out.path().join("batch"))
            .args(&libs)
            .stderr(Stdio::null())
            .status()
            .expect("abicut runs");
        usize::from(!status.success())
    });
    let (per_process, per_failed) = time(|| {
        let dir = out.path().join("each");
        std::fs::create_dir_all(&dir).expect("output directory");
        count_failures(&libs, |lib, n| {
            Command::new(&abicut)
                .arg("stubgen")
                .arg("-o")
                .arg(dir.join(n.to_string()))
                .arg(lib)
                .stderr(Stdio::null())
                .status()
        })
    });
    let (llvm, llvm_failed) = time(|| {
        let dir = out.path().join("llvm");
        std::fs::create_dir_all(&dir).expect("output directory");
        count_failures(&libs, |lib, n| {
            Command::new(llvm_ifs)
                .arg(format!(
                    "--output-elf={}",
                    dir.join(n.to_string()).display()
                ))
                .arg(lib)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
        })
    });
    let written = std::fs::read_dir(out.path().join("batch")).map_or(0, |d| d.count());
    println!(
        "abicut stubgen, one batch:        {:>8.3} s  ({written} stubs; batch exit {})",
        secs(batch),
        if batch_failed == 0 { "0" } else { "non-zero" }
    );
    println!(
        "abicut stubgen, one per library:  {:>8.3} s  ({per_failed} failed)",
        secs(per_process)
    );
    println!(
        "{llvm_ifs} --output-elf, per library: {:>8.3} s  ({llvm_failed} failed)",
        secs(llvm)
    );
    println!(
        "ratio llvm-ifs / abicut batch:        {:>6.1}x",
        secs(llvm) / secs(batch)
    );
    println!(
        "ratio llvm-ifs / abicut per library:  {:>6.1}x",
        secs(llvm) / secs(per_process)
    );
}

fn time<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let start = Instant::now();
    let value = f();
    (start.elapsed(), value)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn count_failures(
    libs: &[PathBuf],
    run: impl Fn(&Path, usize) -> std::io::Result<std::process::ExitStatus>,
) -> usize {
    libs.iter()
        .enumerate()
        .filter(|(n, lib)| !run(lib, *n).is_ok_and(|s| s.success()))
        .count()
}

/// Regular files (each once, symlinks resolved) whose name says `.so` and whose ELF type is
/// ET_DYN.
fn shared_libraries(dir: &Path) -> Vec<PathBuf> {
    let mut libs: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("library directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(".so"))
        })
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .filter(|p| p.is_file() && is_elf_dyn(p))
        .collect();
    libs.sort();
    libs.dedup();
    libs
}

fn is_elf_dyn(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 18];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| head.starts_with(b"\x7fELF") && head[16] == 3 && head[17] == 0)
}

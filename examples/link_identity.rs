//! Runs the link-identity oracle over many libraries at once and prints the count of
//! libraries whose stub links byte-identically in every combination.
//!
//! `cargo run --release --example link_identity -- [--exact] [--target NAME] [LIB|DIR]...`
//! (default: every shared library under /usr/lib/x86_64-linux-gnu). Failures go to stderr.

#[path = "../tests/support/linkcheck.rs"]
mod linkcheck;

use linkcheck::{Target, Verdict};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let target = match args.iter().position(|a| a == "--target") {
        Some(i) if i + 1 < args.len() => {
            let name = args.remove(i + 1);
            args.remove(i);
            linkcheck::cross_targets()
                .into_iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| t)
                .unwrap_or_else(|| panic!("unknown target {name}"))
        }
        _ => Target::native(),
    };
    let options = abicut::stubgen::Options {
        exact: args.iter().any(|a| a == "--exact"),
        ..Default::default()
    };
    args.retain(|a| a != "--exact");
    let mut inputs: Vec<PathBuf> = args.iter().map(PathBuf::from).collect();
    if inputs.is_empty() {
        inputs.push(PathBuf::from(target.libdir));
    }
    let libs = shared_libraries(&inputs);
    let work = tempfile::tempdir().expect("temporary directory");
    let reports: Vec<_> = libs
        .par_iter()
        .enumerate()
        .map(|(i, lib)| {
            let dir = work.path().join(i.to_string());
            let _ = std::fs::create_dir_all(&dir);
            let stub = dir.join("stub.so");
            let made = abicut::stubgen::load(lib, &options)
                .and_then(|iface| {
                    abicut::stubgen::render(&iface, abicut::stubgen::Format::Elf, lib)
                })
                .map_err(|e| e.to_string())
                .and_then(|bytes| std::fs::write(&stub, bytes).map_err(|e| e.to_string()));
            let report = made.and_then(|()| linkcheck::check_library(lib, &stub, &target, &dir));
            let _ = std::fs::remove_dir_all(&dir);
            (lib.clone(), report)
        })
        .collect();
    let (mut linked, mut identical, mut no_stub, mut combos, mut combos_ok) = (0, 0, 0, 0, 0);
    for (lib, report) in &reports {
        match report {
            Err(e) => {
                no_stub += 1;
                eprintln!("NO STUB {}: {e}", lib.display());
            }
            Ok(r) => {
                let real_ok = r.count(|v| !matches!(v, Verdict::RealFails(_)));
                if real_ok == 0 {
                    continue;
                }
                linked += 1;
                combos += real_ok;
                combos_ok += r.count(|v| *v == Verdict::Identical);
                if std::env::var_os("LINKCHECK_VERBOSE").is_some() {
                    eprint!("{}", r.failures());
                }
                if r.all_identical() {
                    identical += 1;
                } else {
                    eprint!("{}", r.failures());
                }
            }
        }
    }
    println!(
        "{} libraries; {no_stub} without a stub; {linked} whose real link succeeds; \
         {identical} of those identical in every combination; {combos_ok}/{combos} combinations identical",
        libs.len()
    );
}

/// Regular files (symlinks resolved, each file once) that are ELF shared objects.
fn shared_libraries(inputs: &[PathBuf]) -> Vec<PathBuf> {
    let mut seen = std::collections::BTreeSet::new();
    let mut libs = Vec::new();
    for input in inputs {
        let entries: Vec<PathBuf> = if input.is_dir() {
            std::fs::read_dir(input)
                .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default()
        } else {
            vec![input.clone()]
        };
        for path in entries {
            let Ok(real) = std::fs::canonicalize(&path) else {
                continue;
            };
            if real.is_file() && is_shared_object(&real) && seen.insert(real.clone()) {
                libs.push(real);
            }
        }
    }
    libs.sort();
    libs
}

fn is_shared_object(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains(".so") {
        return false;
    }
    let mut head = [0u8; 18];
    use std::io::Read;
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|()| {
            let e_type = if head[5] == 2 {
                [head[17], head[16]]
            } else {
                [head[16], head[17]]
            };
            head.starts_with(b"\x7fELF") && u16::from_le_bytes(e_type) == 3
        })
        .unwrap_or(false)
}

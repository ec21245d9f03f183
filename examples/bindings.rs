//! Runs the run-time bindings oracle (tests/support/bindings.rs) over many libraries and
//! prints how many bind the same in every combination, and the combinations per linker.
//!
//! `cargo run --release --example bindings -- [--target NAME] [--stubs default|no-imports|real]
//! [--dependencies unlinked] [LIB|DIR]...` (default: every shared library under
//! /usr/lib/x86_64-linux-gnu; `--target` runs a Debian cross target under qemu-user).
//! `no-imports` is the default interface without any import, as it was before imports were
//! kept; `real` uses each library as its own stub (a control). `--dependencies unlinked`
//! leaves the library's dependencies off the link's command line. Failures go to stderr.

#[path = "../tests/support/bindings.rs"]
mod bindings;
#[path = "support/libs.rs"]
mod libs;
#[path = "../tests/support/linkcheck.rs"]
mod linkcheck;

use abicut::stubgen::{self, Format, Imports, Options};
use bindings::{Runner, Stubs, Verdict};
use libs::shared_libraries_of;
use linkcheck::Target;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let target_name = take(&mut args, "--target");
    let stubs_mode = take(&mut args, "--stubs").unwrap_or_else(|| "default".into());
    let closure_in_link = take(&mut args, "--dependencies").as_deref() != Some("unlinked");
    let (target, runner) = match &target_name {
        Some(name) => {
            let target = linkcheck::cross_target(name);
            let runner = Runner::cross(name, &target);
            (target, runner)
        }
        None => (Target::native(), Runner::native()),
    };
    let lib_path: Vec<PathBuf> = target_name
        .as_ref()
        .map(|_| PathBuf::from(target.libdir))
        .into_iter()
        .collect();
    let libs = shared_libraries_of(&args, target.libdir);
    let work = tempfile::tempdir().expect("temporary directory");
    let done = std::sync::atomic::AtomicUsize::new(0);
    let reports: Vec<_> = libs
        .par_iter()
        .enumerate()
        .map(|(i, lib)| {
            let dir = work.path().join(i.to_string());
            let _ = std::fs::create_dir_all(&dir);
            let report = make_stubs(lib, &dir, &stubs_mode, &lib_path).and_then(|stubs| {
                bindings::check_library_linked(lib, &stubs, &target, &runner, &dir, closure_in_link)
            });
            let _ = std::fs::remove_dir_all(&dir);
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            match &report {
                Ok(r) if !r.all_same() => eprint!("{}", r.failures()),
                Err(e) => eprintln!("NO CHECK {}: {e}", lib.display()),
                _ => {}
            }
            eprintln!("PROGRESS {n}/{} {}", libs.len(), lib.display());
            (lib.clone(), report)
        })
        .collect();
    summarize(&libs, &reports);
}

fn take(args: &mut Vec<String>, flag: &str) -> Option<String> {
    let i = args.iter().position(|a| a == flag)?;
    if i + 1 >= args.len() {
        panic!("{flag} needs a value");
    }
    let value = args.remove(i + 1);
    args.remove(i);
    Some(value)
}

fn summarize(libs: &[PathBuf], reports: &[(PathBuf, Result<bindings::LibReport, String>)]) {
    let (mut checked, mut all_same, mut no_check) = (0, 0, 0);
    let mut per_linker: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for (_, report) in reports {
        let Ok(r) = report else {
            no_check += 1;
            continue;
        };
        if r.results
            .iter()
            .all(|(_, _, v)| matches!(v, Verdict::RealFails(_)))
        {
            continue;
        }
        checked += 1;
        if r.all_same() {
            all_same += 1;
        }
        for (linker, _, verdict) in &r.results {
            let entry = per_linker.entry(linker).or_default();
            match verdict {
                Verdict::RealFails(_) => entry.2 += 1,
                Verdict::Same => {
                    entry.0 += 1;
                    entry.1 += 1;
                }
                _ => entry.1 += 1,
            }
        }
    }
    println!(
        "{} libraries; {no_check} not checked (no stub or no test program); {checked} whose real \
         program links and runs; {all_same} of those bind the same in every combination",
        libs.len()
    );
    for (linker, (same, judged, real_fails)) in per_linker {
        println!(
            "  {linker}: {same}/{judged} combinations the same ({real_fails} where the real library does not link)"
        );
    }
}

fn make_stubs(lib: &Path, dir: &Path, mode: &str, lib_path: &[PathBuf]) -> Result<Stubs, String> {
    if mode == "real" {
        return Ok(Stubs {
            default: lib.to_path_buf(),
            mold: lib.to_path_buf(),
        });
    }
    let mut made = Vec::new();
    for (name, imports) in [
        ("stub-default.so", Imports::Owed),
        ("stub-mold.so", Imports::All),
    ] {
        let options = Options {
            imports,
            lib_path: lib_path.to_vec(),
            ..Options::default()
        };
        let mut iface = stubgen::load(lib, &options).map_err(|e| e.to_string())?;
        if mode == "no-imports" {
            iface.imports.clear();
        }
        let bytes = stubgen::render(&iface, Format::Elf, lib).map_err(|e| e.to_string())?;
        let out = dir.join(name);
        std::fs::write(&out, bytes).map_err(|e| e.to_string())?;
        made.push(out);
    }
    let mold = made.pop().ok_or("no stub")?;
    let default = made.pop().ok_or("no stub")?;
    Ok(Stubs { default, mold })
}

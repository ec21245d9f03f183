//! Runs the link-identity oracle over many libraries at once and prints the count of
//! libraries whose stub links byte-identically in every combination.
//!
//! `cargo run --release --example link_identity -- [--exact] [--target NAME] [LIB|DIR]...`
//! (default: every shared library under /usr/lib/x86_64-linux-gnu). Failures go to stderr.

#[path = "support/libs.rs"]
mod libs;
#[path = "../tests/support/linkcheck.rs"]
mod linkcheck;

use libs::shared_libraries_of;
use linkcheck::{Target, Verdict};
use rayon::prelude::*;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let target = match args.iter().position(|a| a == "--target") {
        Some(i) if i + 1 < args.len() => {
            let name = args.remove(i + 1);
            args.remove(i);
            linkcheck::cross_target(&name)
        }
        _ => Target::native(),
    };
    let options = abicut::stubgen::Options {
        exact: args.iter().any(|a| a == "--exact"),
        ..Default::default()
    };
    args.retain(|a| a != "--exact");
    let libs = shared_libraries_of(&args, target.libdir);
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

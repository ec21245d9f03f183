//! The run-time bindings oracle for the default interface (see tests/support/bindings.rs):
//! a sample of the machine's libraries with all four linkers, Debian's cross C libraries
//! under qemu-user, and the controls: a real library used as its own stub is always the
//! same, and a flex-style library whose program owes it `yylex` fails with an interface
//! that drops imports and passes with the default one.

mod support;

use std::path::{Path, PathBuf};
use support::bindings::{self, Runner, Stubs, Verdict};
use support::linkcheck::{self, Target};
use support::{bin_path, have, run};

const SYSTEM: &str = "/usr/lib/x86_64-linux-gnu";

/// The default stub and the `--imports all` one, made by the abicut binary under test.
fn make_stubs(lib: &Path, dir: &Path, lib_path: &[&str]) -> Stubs {
    let mut made = Vec::new();
    for (name, extra) in [("stub-default.so", None), ("stub-mold.so", Some("all"))] {
        let out = dir.join(name);
        let mut args = vec!["stubgen", "-o", out.to_str().unwrap()];
        if let Some(mode) = extra {
            args.extend(["--imports", mode]);
        }
        for d in lib_path {
            args.extend(["--lib-path", d]);
        }
        args.push(lib.to_str().unwrap());
        run(bin_path(), &args, dir);
        made.push(out);
    }
    Stubs {
        mold: made.pop().unwrap(),
        default: made.pop().unwrap(),
    }
}

/// Whether every tool the oracle needs for `target` is installed (a missing one fails
/// under `CI=true`).
fn tools(target: &Target, runner: &Runner) -> bool {
    let mut needed: Vec<String> = vec!["clang".into(), "readelf".into()];
    needed.extend(target.linkers.iter().map(|(name, flag)| {
        flag.strip_prefix("--ld-path=")
            .map_or(format!("ld.{name}"), str::to_string)
    }));
    needed.extend(runner.tool().map(str::to_string));
    needed.iter().all(|t| have(t))
}

fn check(lib: &Path, stubs: &Stubs, target: &Target, runner: &Runner) -> bindings::LibReport {
    let work = tempfile::tempdir().unwrap();
    bindings::check_library(lib, stubs, target, runner, work.path()).unwrap()
}

fn assert_all_same(report: &bindings::LibReport, combinations: usize) {
    let same = report
        .results
        .iter()
        .filter(|(_, _, v)| *v == Verdict::Same)
        .count();
    assert_eq!(
        same,
        combinations,
        "{same} of {combinations} combinations bind the same for {}:\n{}",
        report.lib.display(),
        report.failures()
    );
}

fn assert_default_binds_the_same(lib: &str) {
    let target = Target::native();
    let runner = Runner::native();
    if !tools(&target, &runner) {
        return;
    }
    let lib = Path::new(SYSTEM).join(lib);
    let dir = tempfile::tempdir().unwrap();
    let stubs = make_stubs(&lib, dir.path(), &[]);
    assert_all_same(&check(&lib, &stubs, &target, &runner), 12);
}

macro_rules! native_bindings {
    ($($test:ident => $lib:expr,)*) => {$(
        #[test]
        fn $test() {
            assert_default_binds_the_same($lib);
        }
    )*};
}

native_bindings! {
    bindings_libc => "libc.so.6",
    bindings_libm => "libm.so.6",
    bindings_libstdcxx => "libstdc++.so.6",
    bindings_libgcc_s => "libgcc_s.so.1",
    bindings_libz => "libz.so.1",
    bindings_libcrypto => "libcrypto.so.3",
    bindings_libssl => "libssl.so.3",
    bindings_libexpat => "libexpat.so.1",
}

/// The interface of the time before imports were kept: the default one with none.
fn stub_without_imports(lib: &Path, dir: &Path) -> PathBuf {
    let json = run(
        bin_path(),
        &["stubgen", "--format", "json", lib.to_str().unwrap()],
        dir,
    );
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["imports"] = serde_json::json!([]);
    std::fs::write(dir.join("no-imports.json"), value.to_string()).unwrap();
    let stub = dir.join("stub-no-imports.so");
    run(
        bin_path(),
        &["stubgen", "-o", stub.to_str().unwrap(), "no-imports.json"],
        dir,
    );
    stub
}

/// flex's libfl in small: the library calls `yylex`, which the program must define.
fn build_libfl(dir: &Path) -> PathBuf {
    std::fs::write(
        dir.join("fl.c"),
        "extern int yylex(void);\nint libmain(void) { return yylex() + 1; }\n",
    )
    .unwrap();
    run(
        "gcc",
        &[
            "-shared",
            "-fPIC",
            "-Wl,-soname,libfl.so",
            "fl.c",
            "-o",
            "libfl.so",
        ],
        dir,
    );
    dir.join("libfl.so")
}

#[test]
fn control_yylex_needs_the_kept_import() {
    let target = Target::native();
    let runner = Runner::native();
    if !have("gcc") || !tools(&target, &runner) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lib = build_libfl(dir.path());
    let stubs = make_stubs(&lib, dir.path(), &[]);
    assert_all_same(&check(&lib, &stubs, &target, &runner), 12);
    let old = stub_without_imports(&lib, dir.path());
    let report = check(
        &lib,
        &Stubs {
            default: old.clone(),
            mold: old,
        },
        &target,
        &runner,
    );
    let differs = report
        .results
        .iter()
        .filter(|(_, _, v)| matches!(v, Verdict::Differs(_)))
        .count();
    assert_eq!(
        differs,
        8,
        "every executable and PIE:\n{}",
        report.failures()
    );
    for (linker, kind, verdict) in &report.results {
        let Verdict::Differs(why) = verdict else {
            assert!(
                *kind == linkcheck::OutputKind::Shared && *verdict == Verdict::Same,
                "{linker} {kind:?}: {verdict:?}"
            );
            continue;
        };
        assert!(
            why.contains("undefined symbol: yylex") && why.contains("exports"),
            "{linker} {kind:?}: {why}"
        );
    }
}

#[test]
fn control_real_library_as_its_own_stub() {
    let target = Target::native();
    let runner = Runner::native();
    if !tools(&target, &runner) {
        return;
    }
    for lib in ["libc.so.6", "libssl.so.3"] {
        let lib = Path::new(SYSTEM).join(lib);
        let stubs = Stubs {
            default: lib.clone(),
            mold: lib.clone(),
        };
        assert_all_same(&check(&lib, &stubs, &target, &runner), 12);
    }
}

macro_rules! cross_bindings {
    ($($test:ident => $name:expr,)*) => {$(
        #[test]
        fn $test() {
            let target = linkcheck::cross_target($name);
            let runner = Runner::cross($name, &target);
            if !tools(&target, &runner) {
                return;
            }
            let combinations = 3 * target.linkers.len();
            for lib in ["libc.so.6", "libm.so.6"] {
                let lib = Path::new(target.libdir).join(lib);
                let dir = tempfile::tempdir().unwrap();
                let stubs = make_stubs(&lib, dir.path(), &[target.libdir]);
                assert_all_same(&check(&lib, &stubs, &target, &runner), combinations);
            }
        }
    )*};
}

cross_bindings! {
    cross_bindings_i386 => "i386",
    cross_bindings_armhf => "armhf",
    cross_bindings_arm64 => "arm64",
    cross_bindings_ppc64el => "ppc64el",
    cross_bindings_riscv64 => "riscv64",
    cross_bindings_s390x => "s390x",
    cross_bindings_mips => "mips",
}

//! `abicut verify` on fixtures built in the test: a good tree passes; a missing library, a
//! missing symbol, a symbol only in the wrong version, a missing version node and a
//! forbidden (stub) path are each reported with file, symbol and version.

mod support;

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use support::files::*;
use support::have;

const PROG_C: &str = "#include <stdio.h>\nint foo_new(void);\nint main(void) { printf(\"%d\\n\", foo_new()); return 0; }\n";

/// The directory of the host C library, for `--lib-path`.
fn libc_dir() -> PathBuf {
    let p = duct::cmd!("cc", "-print-file-name=libc.so.6")
        .read()
        .unwrap();
    fs::canonicalize(p).unwrap().parent().unwrap().to_path_buf()
}

/// Builds libfoo.so into `dir` from a version script and the given definitions.
fn libfoo(work: &Path, dir: &Path, script: &str, body: &str) {
    fs::create_dir_all(dir).unwrap();
    let map = work.join("foo.map");
    write(&map, script);
    let vs = format!("-Wl,--version-script={}", map.display());
    cc(
        work,
        "foo",
        body,
        &dir.join("libfoo.so"),
        &["-shared", "-fPIC", "-Wl,-soname,libfoo.so", &vs],
    );
}

const GOOD_MAP: &str = "FOO_1 { global: foo_old; local: *; };\nFOO_2 { global: foo_new; } FOO_1;\n";
const GOOD_BODY: &str = "int foo_old(void) { return 1; }\nint foo_new(void) { return 2; }\n";

/// A tree: bin/prog (RUNPATH $ORIGIN/../lib) importing foo_new@FOO_2 from lib/libfoo.so.
fn good_tree(work: &Path) -> PathBuf {
    let tree = work.join("tree");
    libfoo(work, &tree.join("lib"), GOOD_MAP, GOOD_BODY);
    fs::create_dir_all(tree.join("bin")).unwrap();
    let l = format!("-L{}", tree.join("lib").display());
    cc(
        work,
        "prog",
        PROG_C,
        &tree.join("bin/prog"),
        &[
            &l,
            "-lfoo",
            "-Wl,-rpath,$ORIGIN/../lib",
            "-Wl,--enable-new-dtags",
        ],
    );
    tree
}

fn verify(tree: &Path, extra: &[&str]) -> (i32, Value) {
    let libc = libc_dir();
    let mut args = vec![
        "verify",
        "--json",
        tree.to_str().unwrap(),
        "--lib-path",
        libc.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = abicut(&args);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
    (code, report)
}

fn kinds(report: &Value) -> Vec<String> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn good_tree_passes_and_runs() {
    if !have("cc") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tree = good_tree(tmp.path());
    assert_eq!(
        duct::cmd(tree.join("bin/prog"), Vec::<String>::new())
            .read()
            .unwrap(),
        "2"
    );
    let (code, report) = verify(&tree, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["elf_objects"], 2);
}

#[test]
fn missing_library() {
    if !have("cc") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tree = good_tree(tmp.path());
    fs::remove_file(tree.join("lib/libfoo.so")).unwrap();
    let (code, report) = verify(&tree, &[]);
    assert_eq!(code, 1);
    assert_eq!(kinds(&report), ["missing-library"]);
    let p = &report["problems"][0];
    assert_eq!(p["library"], "libfoo.so");
    assert!(p["file"].as_str().unwrap().ends_with("bin/prog"));
}

#[test]
fn missing_symbol() {
    if !have("cc") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tree = good_tree(tmp.path());
    let map = "FOO_1 { global: foo_old; local: *; };\nFOO_2 { global: foo_other; } FOO_1;\n";
    libfoo(
        tmp.path(),
        &tree.join("lib"),
        map,
        "int foo_old(void) { return 1; }\nint foo_other(void) { return 3; }\n",
    );
    let (code, report) = verify(&tree, &[]);
    assert_eq!(code, 1);
    assert_eq!(kinds(&report), ["missing-symbol"]);
    let p = &report["problems"][0];
    assert_eq!(p["symbol"], "foo_new");
    assert_eq!(p["version"], "FOO_2");
}

#[test]
fn symbol_only_in_a_wrong_version() {
    if !have("cc") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tree = good_tree(tmp.path());
    let map =
        "FOO_1 { global: foo_old; foo_new; local: *; };\nFOO_2 { global: foo_other; } FOO_1;\n";
    let body = "int foo_old(void) { return 1; }\nint foo_new(void) { return 2; }\nint foo_other(void) { return 3; }\n";
    libfoo(tmp.path(), &tree.join("lib"), map, body);
    let (code, report) = verify(&tree, &[]);
    assert_eq!(code, 1);
    assert_eq!(kinds(&report), ["wrong-version"]);
    let p = &report["problems"][0];
    assert_eq!(p["symbol"], "foo_new");
    assert_eq!(p["version"], "FOO_2");
    assert!(
        p["detail"].as_str().unwrap().contains("foo_new@FOO_1"),
        "{p}"
    );
}

#[test]
fn missing_version_node() {
    if !have("cc") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tree = good_tree(tmp.path());
    libfoo(
        tmp.path(),
        &tree.join("lib"),
        "FOO_1 { global: foo_old; foo_new; local: *; };\n",
        GOOD_BODY,
    );
    let (code, report) = verify(&tree, &[]);
    assert_eq!(code, 1);
    let k = kinds(&report);
    assert!(k.contains(&"missing-version".to_owned()), "{report}");
    assert!(k.contains(&"wrong-version".to_owned()), "{report}");
}

#[test]
fn library_found_only_through_a_forbidden_stub_path() {
    if !have("cc") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let iface = tmp.path().join("iface-foo");
    libfoo(tmp.path(), &iface.join("lib"), GOOD_MAP, GOOD_BODY);
    let tree = tmp.path().join("tree");
    fs::create_dir_all(tree.join("bin")).unwrap();
    let lib = iface.join("lib");
    let l = format!("-L{}", lib.display());
    let r = format!("-Wl,-rpath,{}", lib.display());
    cc(
        tmp.path(),
        "prog",
        PROG_C,
        &tree.join("bin/prog"),
        &[&l, "-lfoo", &r],
    );
    let (code, report) = verify(&tree, &["--forbid", iface.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(kinds(&report), ["forbidden-reference"]);
    assert!(
        report["problems"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("iface-foo")
    );
    // Without the stub directory the library does not resolve at all.
    fs::remove_dir_all(&iface).unwrap();
    let (_, report) = verify(&tree, &["--forbid", iface.to_str().unwrap()]);
    assert_eq!(kinds(&report), ["missing-library", "forbidden-reference"]);
}

#[test]
fn cross_architectures_without_execution() {
    for dir in [
        "/usr/s390x-linux-gnu/lib",
        "/usr/arm-linux-gnueabihf/lib",
        "/usr/mips-linux-gnu/lib",
        "/usr/i686-linux-gnu/lib",
    ] {
        if !have_path(dir) {
            continue;
        }
        let lib = format!("{dir}/libm.so.6");
        let (code, stdout, stderr) = abicut(&["verify", "--json", &lib, "--lib-path", dir]);
        assert_eq!(code, 0, "{lib}: {stdout} {stderr}");
        // Against a library of another architecture nothing resolves.
        let (code, stdout, _) = abicut(&[
            "verify",
            "--json",
            &lib,
            "--lib-path",
            "/usr/aarch64-linux-gnu/lib",
        ]);
        assert_eq!(code, 1, "{lib}: {stdout}");
        assert!(stdout.contains("missing-library"));
    }
}

#[test]
fn hostile_elf_is_reported_not_panicked() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = fs::read("/bin/ls").unwrap();
    write(&tmp.path().join("x"), "");
    fs::write(tmp.path().join("truncated"), &bytes[..bytes.len() / 3]).unwrap();
    let (code, stdout, stderr) = abicut(&["verify", "--json", tmp.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stdout.contains("invalid-elf") && stdout.contains("truncated"),
        "{stdout}"
    );
}

#[test]
fn main_rpath_serves_its_libraries() {
    if !have("cc") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("elsewhere/lib");
    fs::create_dir_all(&lib).unwrap();
    cc(
        tmp.path(),
        "bar",
        "int bar(void) { return 5; }\n",
        &lib.join("libbar.so"),
        &["-shared", "-fPIC"],
    );
    let l = format!("-L{}", lib.display());
    // libfoo needs libbar but has no search path of its own.
    cc(
        tmp.path(),
        "foo2",
        "int bar(void);\nint foo_new(void) { return bar(); }\n",
        &lib.join("libfoo.so"),
        &["-shared", "-fPIC", &l, "-lbar"],
    );
    let tree = tmp.path().join("tree");
    fs::create_dir_all(&tree).unwrap();
    let r = format!("-Wl,-rpath,{}", lib.display());
    cc(
        tmp.path(),
        "prog",
        PROG_C,
        &tree.join("prog"),
        &[&l, "-lfoo", &r, "-Wl,--disable-new-dtags"],
    );
    assert_eq!(
        duct::cmd(tree.join("prog"), Vec::<String>::new())
            .read()
            .unwrap(),
        "5"
    );
    let (code, report) = verify(&tree, &[]);
    assert_eq!(code, 0, "{report}");
}

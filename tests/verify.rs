//! `abicut verify` on fixtures built in the test: a good tree passes; a missing library, a
//! missing symbol, a symbol only in the wrong version, a missing version node and a
//! forbidden (stub) path are each reported with file, symbol and version.

mod support;

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use support::files::*;
use support::{have, run_abicut};

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

/// A temporary directory holding [`good_tree`], or `None` (the test skips) where there is no
/// `cc` to build it: how every test of a change to the good tree starts.
fn good_tree_if_cc() -> Option<(tempfile::TempDir, PathBuf)> {
    if !have("cc") {
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tree = good_tree(tmp.path());
    Some((tmp, tree))
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
    let (code, stdout, stderr) = run_abicut(&args);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
    (code, report)
}

/// The one problem of a failing verify, after checking its exit status (1) and its kind.
fn only_problem((code, report): (i32, Value), kind: &str) -> Value {
    assert_eq!(code, 1, "{report}");
    assert_eq!(kinds(&report), [kind], "{report}");
    report["problems"][0].clone()
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
    let Some((_tmp, tree)) = good_tree_if_cc() else {
        return;
    };
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
    let Some((_tmp, tree)) = good_tree_if_cc() else {
        return;
    };
    fs::remove_file(tree.join("lib/libfoo.so")).unwrap();
    let p = only_problem(verify(&tree, &[]), "missing-library");
    assert_eq!(p["library"], "libfoo.so");
    assert!(p["file"].as_str().unwrap().ends_with("bin/prog"));
}

#[test]
fn missing_symbol() {
    let Some((tmp, tree)) = good_tree_if_cc() else {
        return;
    };
    let map = "FOO_1 { global: foo_old; local: *; };\nFOO_2 { global: foo_other; } FOO_1;\n";
    libfoo(
        tmp.path(),
        &tree.join("lib"),
        map,
        "int foo_old(void) { return 1; }\nint foo_other(void) { return 3; }\n",
    );
    let p = only_problem(verify(&tree, &[]), "missing-symbol");
    assert_eq!(p["symbol"], "foo_new");
    assert_eq!(p["version"], "FOO_2");
}

#[test]
fn symbol_only_in_a_wrong_version() {
    let Some((tmp, tree)) = good_tree_if_cc() else {
        return;
    };
    let map =
        "FOO_1 { global: foo_old; foo_new; local: *; };\nFOO_2 { global: foo_other; } FOO_1;\n";
    let body = "int foo_old(void) { return 1; }\nint foo_new(void) { return 2; }\nint foo_other(void) { return 3; }\n";
    libfoo(tmp.path(), &tree.join("lib"), map, body);
    let p = only_problem(verify(&tree, &[]), "wrong-version");
    assert_eq!(p["symbol"], "foo_new");
    assert_eq!(p["version"], "FOO_2");
    assert!(
        p["detail"].as_str().unwrap().contains("foo_new@FOO_1"),
        "{p}"
    );
}

#[test]
fn missing_version_node() {
    let Some((tmp, tree)) = good_tree_if_cc() else {
        return;
    };
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
    let forbid = ["--forbid", iface.to_str().unwrap()];
    let p = only_problem(verify(&tree, &forbid), "forbidden-reference");
    assert!(p["detail"].as_str().unwrap().contains("iface-foo"), "{p}");
    // Without the stub directory the library does not resolve at all.
    fs::remove_dir_all(&iface).unwrap();
    let (_, report) = verify(&tree, &forbid);
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
        if !have(dir) {
            continue;
        }
        let lib = format!("{dir}/libm.so.6");
        let (code, stdout, stderr) = run_abicut(&["verify", "--json", &lib, "--lib-path", dir]);
        assert_eq!(code, 0, "{lib}: {stdout} {stderr}");
        // Against a library of another architecture nothing resolves.
        let (code, stdout, _) = run_abicut(&[
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
    let (code, stdout, stderr) = run_abicut(&["verify", "--json", tmp.path().to_str().unwrap()]);
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

// ---------------------------------------------------------------------------------------
// Verdicts against the real loader: for good and broken programs, `abicut verify PROG`
// passes exactly when `LD_BIND_NOW=1` ld.so loads PROG (on the host, and under qemu-user
// for aarch64). The fixtures use no C library (a `_start` that exits by system call), so
// one source builds for every architecture with clang and lld alone.

/// Exits by system call: the program needs nothing but the loader and its own libraries.
const EXIT_C: &str = r#"
static void sys_exit(int code) {
#if defined(__x86_64__)
  __asm__ volatile("syscall" :: "a"(60), "D"(code));
#elif defined(__aarch64__)
  register long x0 __asm__("x0") = code;
  register long x8 __asm__("x8") = 93;
  __asm__ volatile("svc #0" :: "r"(x0), "r"(x8));
#else
#error "no exit for this architecture"
#endif
  for (;;) {}
}
"#;

const FOO_PROG: &str =
    "int foo_new(void);\nvoid _start(void) { sys_exit(foo_new() == 2 ? 0 : 1); }\n";
const FL_PROG: &str = "int libmain(void);\nint yylex(void) { return 41; }\nvoid _start(void) { sys_exit(libmain() == 42 ? 0 : 1); }\n";
const FL_STUB: &str = "int libmain(void) { return 1; }\n";
const FL_REAL: &str = "extern int yylex(void);\nint libmain(void) { return yylex() + 1; }\n";

/// An architecture the oracle runs on.
struct Arch {
    triple: &'static str,
    /// Another machine's triple, for libraries the loader must skip.
    other: &'static str,
    /// The root qemu-user and `verify --sysroot` read the target's libraries from.
    sysroot: Option<&'static str>,
}

impl Arch {
    /// Whether ld.so loads `prog` with LD_BIND_NOW=1 (it then runs and exits 0).
    fn loads(&self, prog: &Path) -> bool {
        let p = prog.to_str().unwrap();
        let cmd = match self.sysroot {
            None => duct::cmd(p, Vec::<&str>::new()).env("LD_BIND_NOW", "1"),
            Some(root) => {
                let qemu = format!("qemu-{}", self.triple.split('-').next().unwrap());
                duct::cmd(qemu, ["-L", root, "-E", "LD_BIND_NOW=1", p])
            }
        };
        // The kernel refusing the program (no interpreter) is a failure to load too.
        cmd.stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .is_ok_and(|out| out.status.success())
    }

    /// Whether `abicut verify PROG` passes (no --lib-path: the interpreter's directories).
    fn verifies(&self, prog: &Path) -> (bool, String) {
        let mut args = vec!["verify", prog.to_str().unwrap()];
        if let Some(root) = self.sysroot {
            args.extend(["--sysroot", root]);
        }
        let (code, stdout, stderr) = run_abicut(&args);
        assert!(code == 0 || code == 1, "{stdout} {stderr}");
        (code == 0, stdout)
    }
}

/// Builds C for one architecture with clang and lld, without any C library.
fn build(triple: &str, work: &Path, src: &str, out: &Path, args: &[&str]) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let c = work.join(format!("src{n}.c"));
    write(&c, &format!("{EXIT_C}{src}"));
    fs::create_dir_all(out.parent().unwrap()).unwrap();
    let target = format!("--target={triple}");
    let mut argv = vec![
        target.as_str(),
        "-fuse-ld=lld",
        "-nostdlib",
        "-fPIC",
        "-O1",
        "-Wno-unused-function",
        "-Wl,--allow-shlib-undefined",
        c.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    argv.extend_from_slice(args);
    support::run("clang", &argv, work);
}

/// A shared library `lib<name>.so` (that soname) in `dir`, with an optional version script.
fn shared(
    triple: &str,
    work: &Path,
    dir: &Path,
    name: &str,
    src: &str,
    map: Option<&str>,
    args: &[&str],
) {
    let soname = format!("-Wl,-soname,lib{name}.so");
    let mut all = vec!["-shared", soname.as_str()];
    let vs;
    if let Some(m) = map {
        let f = work.join(format!("{name}-{}.map", dir.display().to_string().len()));
        write(&f, m);
        vs = format!("-Wl,--version-script={}", f.display());
        all.push(&vs);
    }
    all.extend_from_slice(args);
    build(triple, work, src, &dir.join(format!("lib{name}.so")), &all);
}

/// One program of the oracle: builds it under `w` and returns it with whether ld.so is
/// expected to load it (a check on the fixture itself).
type Case = (&'static str, bool, fn(&Arch, &Path) -> PathBuf);

fn foo_lib(a: &Arch, w: &Path, dir: &Path) {
    shared(a.triple, w, dir, "foo", GOOD_BODY, Some(GOOD_MAP), &[]);
}

/// Replaces tree/lib/libfoo.so by one built from `map` and `body`.
fn foo_lib_as(a: &Arch, w: &Path, map: &str, body: &str) {
    shared(
        a.triple,
        w,
        &w.join("tree/lib"),
        "foo",
        body,
        Some(map),
        &[],
    );
}

/// A good libfoo.so for the other machine, in tree/other.
fn other_machines_foo_lib(a: &Arch, w: &Path) {
    let other = w.join("tree/other");
    shared(a.other, w, &other, "foo", GOOD_BODY, Some(GOOD_MAP), &[]);
}

/// Builds `src` as tree/bin/prog, the one program of every case, and returns its path.
fn tree_prog(a: &Arch, w: &Path, src: &str, args: &[&str]) -> PathBuf {
    let prog = w.join("tree/bin/prog");
    build(a.triple, w, src, &prog, args);
    prog
}

/// tree/bin/prog needing libfoo.so, with the given link arguments.
fn foo_prog(a: &Arch, w: &Path, args: &[&str]) -> PathBuf {
    let l = format!("-L{}", w.join("tree/lib").display());
    let mut all = vec![l.as_str(), "-lfoo"];
    all.extend_from_slice(args);
    tree_prog(a, w, FOO_PROG, &all)
}

fn good(a: &Arch, w: &Path) -> PathBuf {
    foo_lib(a, w, &w.join("tree/lib"));
    foo_prog(a, w, &["-Wl,-rpath,$ORIGIN/../lib"])
}

const CASES: &[Case] = &[
    ("good ($ORIGIN/../lib)", true, good),
    ("missing interpreter", false, |a, w| {
        foo_lib(a, w, &w.join("tree/lib"));
        foo_prog(
            a,
            w,
            &[
                "-Wl,-rpath,$ORIGIN/../lib",
                "-Wl,--dynamic-linker=/nonexistent/ld.so.1",
            ],
        )
    }),
    ("missing library", false, |a, w| {
        let p = good(a, w);
        fs::remove_file(w.join("tree/lib/libfoo.so")).unwrap();
        p
    }),
    (
        "RUNPATH /nonexistent/lib, library in the tree",
        false,
        |a, w| {
            foo_lib(a, w, &w.join("tree/lib"));
            foo_prog(a, w, &["-Wl,-rpath,/nonexistent/lib"])
        },
    ),
    ("$ORIGIN/lib pointing nowhere", false, |a, w| {
        foo_lib(a, w, &w.join("tree/lib"));
        foo_prog(a, w, &["-Wl,-rpath,$ORIGIN/lib"])
    }),
    ("$ORIGIN/../$LIB", true, |a, w| {
        let lib = format!("tree/lib/{}", a.triple);
        foo_lib(a, w, &w.join(&lib));
        foo_lib(a, w, &w.join("tree/lib"));
        let p = foo_prog(a, w, &["-Wl,-rpath,$ORIGIN/../$LIB"]);
        fs::remove_file(w.join("tree/lib/libfoo.so")).unwrap();
        p
    }),
    ("missing version", false, |a, w| {
        let p = good(a, w);
        let map = "FOO_1 { global: foo_old; foo_new; local: *; };\n";
        foo_lib_as(a, w, map, GOOD_BODY);
        p
    }),
    ("missing symbol", false, |a, w| {
        let p = good(a, w);
        let map = "FOO_1 { global: foo_old; local: *; };\nFOO_2 { global: foo_other; } FOO_1;\n";
        let body = "int foo_old(void) { return 1; }\nint foo_other(void) { return 3; }\n";
        foo_lib_as(a, w, map, body);
        p
    }),
    ("weak undefined import", true, |a, w| {
        foo_lib(a, w, &w.join("tree/lib"));
        let l = format!("-L{}", w.join("tree/lib").display());
        let src = "int foo_new(void);\nextern int maybe(void) __attribute__((weak));\nvoid _start(void) { sys_exit((maybe ? 1 : 0) + (foo_new() == 2 ? 0 : 1)); }\n";
        tree_prog(a, w, src, &[&l, "-lfoo", "-Wl,-rpath,$ORIGIN/../lib"])
    }),
    (
        "DT_RPATH of the program serves its libraries",
        true,
        |a, w| rpath_chain(a, w, "--disable-new-dtags"),
    ),
    ("DT_RUNPATH of the program does not", false, |a, w| {
        rpath_chain(a, w, "--enable-new-dtags")
    }),
    ("other machine's library skipped", true, |a, w| {
        other_machines_foo_lib(a, w);
        foo_lib(a, w, &w.join("tree/lib"));
        foo_prog(a, w, &["-Wl,-rpath,$ORIGIN/../other:$ORIGIN/../lib"])
    }),
    ("only another machine's library", false, |a, w| {
        other_machines_foo_lib(a, w);
        foo_lib(a, w, &w.join("tree/lib"));
        let p = foo_prog(a, w, &["-Wl,-rpath,$ORIGIN/../other"]);
        fs::remove_file(w.join("tree/lib/libfoo.so")).unwrap();
        p
    }),
    ("non-ELF file first in the path", false, |a, w| {
        write(&w.join("tree/text/libfoo.so"), "INPUT(-lfoo)\n");
        foo_lib(a, w, &w.join("tree/lib"));
        foo_prog(a, w, &["-Wl,-rpath,$ORIGIN/../text:$ORIGIN/../lib"])
    }),
    (
        "yylex: linked against a libfl.so without it, run with the real one",
        false,
        |a, w| yylex(a, w, false),
    ),
    ("yylex: linked against the real libfl.so", true, |a, w| {
        yylex(a, w, true)
    }),
    (
        "library with DT_RPATH: its loader's DT_RPATH serves it too",
        true,
        |a, w| loaders_rpath(a, w, "--disable-new-dtags"),
    ),
    (
        "library with DT_RUNPATH: its loader's DT_RPATH does not",
        false,
        |a, w| loaders_rpath(a, w, "--enable-new-dtags"),
    ),
    (
        "unversioned import, only definition hidden at index 2 (one version)",
        true,
        |a, w| hidden_definition(a, w, "V1 { global: foo_new; local: *; };\n"),
    ),
    (
        "unversioned import, only definition hidden at index 3",
        false,
        |a, w| {
            let map = "V0 { global: foo_old; local: *; };\nV1 { global: foo_new; } V0;\n";
            hidden_definition(a, w, map)
        },
    ),
];

/// rpath_chain's libraries, with libfoo naming a directory of nothing in the given tag
/// (DT_RPATH or DT_RUNPATH), and the program naming both directories in its DT_RPATH.
/// glibc ignores a library's DT_RPATH when it has a DT_RUNPATH, and searches its loaders'
/// DT_RPATH only for a library without DT_RUNPATH.
fn loaders_rpath(a: &Arch, w: &Path, tags: &str) -> PathBuf {
    let own = format!("-Wl,-rpath,/nonexistent,{tags}");
    foo_needing_bar(a, w, &[&own]);
    let rpath = "-Wl,-rpath,$ORIGIN/../lib:$ORIGIN/../lib2,--disable-new-dtags";
    foo_prog(a, w, &[rpath])
}

/// A program linked against a libfoo.so without versions (so it imports foo_new without a
/// version), run with one whose only foo_new is `foo_new@V1`, hidden (non-default), under
/// the version script `map`. glibc's check_match takes a hidden definition for a reference
/// without version only at index 2 or below (the first version a library defines).
fn hidden_definition(a: &Arch, w: &Path, map: &str) -> PathBuf {
    let lib = w.join("tree/lib");
    shared(a.triple, w, &w.join("stub"), "foo", GOOD_BODY, None, &[]);
    let body = "int foo_old(void) { return 1; }\nint impl(void) { return 2; }\n__asm__(\".symver impl, foo_new@V1\");\n";
    shared(a.triple, w, &lib, "foo", body, Some(map), &[]);
    let l = format!("-L{}", w.join("stub").display());
    tree_prog(a, w, FOO_PROG, &[&l, "-lfoo", "-Wl,-rpath,$ORIGIN/../lib"])
}

/// libbar.so in tree/lib2 and libfoo.so in tree/lib needing it, linked with `foo_args`
/// (no search path unless they give one): the pair both rpath cases build, so that they
/// differ only in the search paths.
fn foo_needing_bar(a: &Arch, w: &Path, foo_args: &[&str]) {
    let lib2 = w.join("tree/lib2");
    shared(
        a.triple,
        w,
        &lib2,
        "bar",
        "int bar(void) { return 2; }\n",
        None,
        &[],
    );
    let l2 = format!("-L{}", lib2.display());
    let body = "int bar(void);\nint foo_new(void) { return bar(); }\n";
    let mut args = vec![l2.as_str(), "-lbar"];
    args.extend_from_slice(foo_args);
    shared(a.triple, w, &w.join("tree/lib"), "foo", body, None, &args);
}

/// libbar in tree/lib2, libfoo in tree/lib needing it with no search path of its own, and
/// a program naming both directories in its DT_RPATH or DT_RUNPATH.
fn rpath_chain(a: &Arch, w: &Path, tags: &str) -> PathBuf {
    foo_needing_bar(a, w, &[]);
    let rpath = format!("-Wl,-rpath,$ORIGIN/../lib:$ORIGIN/../lib2,{tags}");
    foo_prog(a, w, &[&rpath])
}

/// The flex case: libfl.so imports yylex, which the program must export.
fn yylex(a: &Arch, w: &Path, against_real: bool) -> PathBuf {
    let stub = w.join("stub");
    let lib = w.join("tree/lib");
    shared(a.triple, w, &stub, "fl", FL_STUB, None, &[]);
    shared(a.triple, w, &lib, "fl", FL_REAL, None, &[]);
    let l = format!("-L{}", if against_real { &lib } else { &stub }.display());
    tree_prog(a, w, FL_PROG, &[&l, "-lfl", "-Wl,-rpath,$ORIGIN/../lib"])
}

/// Runs every case on `arch`; prints the table; fails on any disagreement.
fn oracle(arch: &Arch) {
    let tmp = tempfile::tempdir().unwrap();
    let mut table = format!("{:<70} {:>8} {:>8}\n", arch.triple, "ld.so", "verify");
    let mut wrong = Vec::new();
    for (i, (name, expected, make)) in CASES.iter().enumerate() {
        let w = tmp.path().join(format!("case{i}"));
        fs::create_dir_all(&w).unwrap();
        let prog = make(arch, &w);
        let loads = arch.loads(&prog);
        let (passes, said) = arch.verifies(&prog);
        let word = |b: bool| if b { "loads" } else { "fails" };
        table.push_str(&format!(
            "{name:<70} {:>8} {:>8}\n",
            word(loads),
            word(passes)
        ));
        if loads != *expected || passes != loads {
            wrong.push(format!(
                "{name}: ld.so {loads} (expected {expected}), verify {passes}:\n{said}"
            ));
        }
    }
    eprintln!("{table}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn verdicts_equal_the_host_loader() {
    if !have("clang") || !have("ld.lld") {
        return;
    }
    oracle(&Arch {
        triple: "x86_64-linux-gnu",
        other: "aarch64-linux-gnu",
        sysroot: None,
    });
}

#[test]
fn verdicts_equal_the_aarch64_loader_under_qemu() {
    if !have("clang") || !have("ld.lld") || !have("qemu-aarch64") {
        return;
    }
    if !have("/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1") {
        return;
    }
    oracle(&Arch {
        triple: "aarch64-linux-gnu",
        other: "x86_64-linux-gnu",
        sysroot: Some("/usr/aarch64-linux-gnu"),
    });
}

/// Runs `prog ARGS` as ld.so runs it with `LD_BIND_NOW=1` (every symbol bound before
/// `main`, so a missing one fails the run), output captured: the loader's own verdict the
/// tests compare verify's with.
fn run_bound_now(prog: &Path, args: &[&str]) -> std::process::Output {
    duct::cmd(prog, args)
        .env("LD_BIND_NOW", "1")
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .unwrap()
}

/// `abicut verify --json ARGS...` without any --lib-path: (exit code, report).
fn verify_bare(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["verify", "--json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = run_abicut(&all);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
    (code, report)
}

#[test]
fn interpreter_is_found_at_its_path_or_not_at_all() {
    if !have("cc") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    fs::create_dir_all(&tree).unwrap();
    let t = tree.join("true");
    fs::copy("/bin/true", &t).unwrap();
    let (code, report) = verify_bare(&[tree.to_str().unwrap()]);
    assert_eq!(code, 0, "{report}");
    let (code, _, stderr) = run_abicut(&[
        "elf",
        "--set-interpreter",
        "/nonexistent/ld-linux-x86-64.so.2",
        t.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        duct::cmd(&t, Vec::<&str>::new()).unchecked().run().is_err(),
        "the kernel refuses it"
    );
    // Neither a file of that name in the tree nor one on --lib-path stands in for it.
    let real = duct::cmd!("cc", "-print-file-name=ld-linux-x86-64.so.2")
        .read()
        .unwrap();
    fs::copy(&real, tree.join("ld-linux-x86-64.so.2")).unwrap();
    let libc = libc_dir();
    let args = [tree.to_str().unwrap(), "--lib-path", libc.to_str().unwrap()];
    let p = only_problem(verify_bare(&args), "missing-interpreter");
    assert!(p["file"].as_str().unwrap().ends_with("/true"), "{p}");
}

#[test]
fn runpath_elsewhere_is_not_rescued_by_the_tree() {
    if !have("cc") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    libfoo(tmp.path(), &tree.join("lib"), GOOD_MAP, GOOD_BODY);
    let l = format!("-L{}", tree.join("lib").display());
    let prog = tree.join("bin/prog");
    fs::create_dir_all(prog.parent().unwrap()).unwrap();
    let link_with_runpath = |runpath: &str| {
        let r = format!("-Wl,-rpath,{runpath}");
        let args = [l.as_str(), "-lfoo", &r, "-Wl,--enable-new-dtags"];
        cc(tmp.path(), "prog", PROG_C, &prog, &args);
    };
    link_with_runpath("/nonexistent/lib");
    let ran = duct::cmd(&prog, Vec::<&str>::new())
        .stderr_capture()
        .unchecked()
        .run()
        .unwrap();
    assert!(!ran.status.success());
    let p = only_problem(verify_bare(&[tree.to_str().unwrap()]), "missing-library");
    assert_eq!(p["library"], "libfoo.so");
    // $ORIGIN is expanded, and then the same tree is fine.
    link_with_runpath("$ORIGIN/../lib");
    let (code, report) = verify_bare(&[tree.to_str().unwrap()]);
    assert_eq!(code, 0, "{report}");
}

/// The flex case built as a user would (cc, GNU ld): a program that defines yylex but was
/// linked against a libfl.so that does not import it, so it does not export it, then run
/// with the real libfl.so. ld.so refuses it; verify names the program, libfl.so and yylex.
#[test]
fn program_that_does_not_export_what_a_library_imports() {
    if !have("cc") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    let so = |name: &str, src: &str, dir: &Path| {
        fs::create_dir_all(dir).unwrap();
        cc(
            w,
            name,
            src,
            &dir.join("libfl.so"),
            &["-shared", "-fPIC", "-Wl,-soname,libfl.so"],
        );
    };
    so("stub", FL_STUB, &w.join("stub"));
    let lib = w.join("tree/lib");
    so("real", FL_REAL, &lib);
    let prog = w.join("tree/bin/prog");
    fs::create_dir_all(prog.parent().unwrap()).unwrap();
    let src = "#include <stdio.h>\nint libmain(void);\nint yylex(void) { return 41; }\nint main(void) { printf(\"%d\\n\", libmain()); return 0; }\n";
    for (dir, runs) in [(w.join("stub"), false), (lib.clone(), true)] {
        let l = format!("-L{}", dir.display());
        cc(
            w,
            "prog",
            src,
            &prog,
            &[&l, "-lfl", "-Wl,-rpath,$ORIGIN/../lib"],
        );
        let ran = run_bound_now(&prog, &[]);
        assert_eq!(
            ran.status.success(),
            runs,
            "{}",
            String::from_utf8_lossy(&ran.stderr)
        );
        let verdict = verify_bare(&[prog.to_str().unwrap()]);
        if runs {
            assert_eq!(verdict.0, 0, "{}", verdict.1);
            continue;
        }
        assert!(String::from_utf8_lossy(&ran.stderr).contains("undefined symbol: yylex"));
        let p = only_problem(verdict, "missing-symbol");
        assert!(p["file"].as_str().unwrap().ends_with("bin/prog"), "{p}");
        assert!(p["library"].as_str().unwrap().ends_with("/libfl.so"), "{p}");
        assert_eq!(p["symbol"], "yylex");
    }
}

/// A library checked on its own cannot know its program: libfl.so's unversioned yylex is
/// owed by the program (a note, exit 0), while a versioned import that its library lacks
/// stays a problem. A program in the same tree that does not export yylex still fails.
#[test]
fn library_alone_owes_unversioned_imports_to_its_program() {
    if !have("cc") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    let lib = w.join("tree/lib");
    fs::create_dir_all(&lib).unwrap();
    let soname = ["-shared", "-fPIC", "-Wl,-soname,libfl.so"];
    cc(w, "real", FL_REAL, &lib.join("libfl.so"), &soname);
    let (code, report) = verify(&lib, &[]);
    assert_eq!(code, 0, "{report}");
    let owed = report["owed"].as_array().unwrap();
    assert_eq!(owed.len(), 1, "{report}");
    assert_eq!(owed[0]["kind"], "owed-by-program");
    assert_eq!(owed[0]["symbol"], "yylex");
    let (_, text, _) = run_abicut(&["verify", lib.to_str().unwrap()]);
    assert!(
        text.contains("imports yylex, which nothing it loads defines"),
        "{text}"
    );

    // foo_new@FOO_2 from a libfoo.so that only defines FOO_1: named, so never owed.
    let old_map = "FOO_1 { global: foo_old; local: *; };\n";
    libfoo(
        w,
        &w.join("tree/dep"),
        old_map,
        "int foo_old(void) { return 1; }\n",
    );
    libfoo(w, &w.join("new"), GOOD_MAP, GOOD_BODY);
    let l = format!("-L{}", w.join("new").display());
    let user = "int foo_new(void);\nint user(void) { return foo_new(); }\n";
    let r = "-Wl,-rpath,$ORIGIN/../dep";
    let args = ["-shared", "-fPIC", "-Wl,-soname,libuser.so", &l, "-lfoo", r];
    cc(w, "user", user, &lib.join("libuser.so"), &args);
    let (code, report) = verify(&lib, &[]);
    assert_eq!(code, 1, "{report}");
    assert!(
        kinds(&report).contains(&"missing-version".to_owned()),
        "{report}"
    );
}

/// A host program relinked to a new path runs, and verify passes it with no --lib-path:
/// the C library is found where the host's ld.so looks.
#[test]
fn relinked_host_program_passes_without_lib_path() {
    if !have("cc") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let from = tmp.path().join("aaaaaaaa-pkg");
    let to = tmp.path().join("bbbbbbbb-pkg");
    libfoo(tmp.path(), &from.join("lib"), GOOD_MAP, GOOD_BODY);
    let l = format!("-L{}", from.join("lib").display());
    let r = format!("-Wl,-rpath,{}", from.join("lib").display());
    fs::create_dir_all(from.join("bin")).unwrap();
    cc(
        tmp.path(),
        "prog",
        PROG_C,
        &from.join("bin/prog"),
        &[&l, "-lfoo", &r],
    );
    let map = format!("{}={}", from.display(), to.display());
    let (code, _, stderr) = run_abicut(&[
        "relink",
        "--verify",
        "--map",
        &map,
        from.to_str().unwrap(),
        to.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    fs::remove_dir_all(&from).unwrap();
    let out = duct::cmd(to.join("bin/prog"), Vec::<&str>::new())
        .read()
        .unwrap();
    assert_eq!(out, "2");
    let (code, report) = verify_bare(&[to.to_str().unwrap()]);
    assert_eq!(code, 0, "{report}");
}

/// A symlink is a reference too: one whose target is under a forbidden path is reported,
/// naming the link.
#[test]
fn forbid_catches_symlink_targets() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    let iface = "/nix/store/00000000000000000000000000000000-iface";
    write(&tree.join("lib/plain"), "nothing here\n");
    std::os::unix::fs::symlink(format!("{iface}/lib/libx.so.1"), tree.join("lib/libx.so")).unwrap();
    let p = only_problem(
        verify_bare(&[tree.to_str().unwrap(), "--forbid", iface]),
        "forbidden-reference",
    );
    assert!(p["file"].as_str().unwrap().ends_with("lib/libx.so"), "{p}");
    let (code, report) = verify_bare(&[
        tree.to_str().unwrap(),
        "--forbid",
        "/nix/store/11111111111111111111111111111111-x",
    ]);
    assert_eq!(code, 0, "{report}");
}

/// A position-dependent program with a large dynamic string table, grown by patchelf: it
/// puts the new `.dynstr` in a segment of its own right before the old first one, and the
/// table runs on into that one, as in every nixpkgs output patchelf has grown. ld.so reads
/// it; so must `verify` and `elf`. Real programs too, where the host has them.
#[test]
fn patchelf_grown_programs_are_read_as_the_loader_reads_them() {
    if !have("cc") || !have("patchelf") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut src = String::from("#include <stdio.h>\n");
    for i in 0..600 {
        src.push_str(&format!(
            "int exported_function_number_{i}(void) {{ return {i}; }}\n"
        ));
    }
    src.push_str("int main(void) { puts(\"hi\"); return 0; }\n");
    let prog = tmp.path().join("big");
    cc(tmp.path(), "big", &src, &prog, &["-no-pie", "-rdynamic"]);
    let mut programs = vec![prog];
    for real in ["/usr/bin/python3.11", "/usr/bin/node"] {
        if Path::new(real).exists() {
            let copy = tmp.path().join(Path::new(real).file_name().unwrap());
            fs::copy(real, &copy).unwrap();
            programs.push(copy);
        }
    }
    let rpath = format!("/tmp/{}/lib", "a".repeat(300));
    for p in &programs {
        let path = p.to_str().unwrap();
        support::run("patchelf", &["--set-rpath", &rpath, path], tmp.path());
        let ran = run_bound_now(p, &["--version"]);
        assert!(ran.status.success(), "{path} does not run");
        let (code, report) = verify_bare(&[path]);
        assert_eq!(code, 0, "{path}: {report}");
        let (code, out, err) = run_abicut(&["elf", "--print-needed", path]);
        assert_eq!(code, 0, "{path}: {err}");
        assert!(out.contains("libc.so.6"), "{path}: {out}");
    }
}

/// `-z nodefaultlib` (DF_1_NODEFLIB): ld.so searches neither its default directories nor
/// the ld.so.cache entries in them for the program's libraries, so its C library must come
/// from its own RUNPATH. Each verdict is ld.so's, running the program.
#[test]
fn nodefaultlib_keeps_the_loader_out_of_its_default_directories() {
    if !have("cc") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let prog = tmp.path().join("prog");
    let src = "#include <stdio.h>\nint main(void) { puts(\"ran\"); return 0; }\n";
    let libc = libc_dir();
    let runpath = format!("-Wl,-rpath,{},--enable-new-dtags", libc.display());
    for (extra, loads) in [(None, false), (Some(runpath.as_str()), true)] {
        let mut args = vec!["-Wl,-z,nodefaultlib"];
        args.extend(extra);
        cc(tmp.path(), "prog", src, &prog, &args);
        let ran = run_bound_now(&prog, &[]);
        assert_eq!(ran.status.success(), loads, "{extra:?}: ld.so");
        let (code, report) = verify_bare(&[prog.to_str().unwrap()]);
        assert_eq!(code == 0, loads, "{extra:?}: {report}");
        if !loads {
            assert!(
                kinds(&report).contains(&"missing-library".to_owned()),
                "{report}"
            );
        }
    }
}

/// Damaged copies of a real library that ld.so refuses to load, each for its own reason
/// (`only ET_DYN and ET_EXEC can be loaded`, `no loadable segments`, `no dynamic section`,
/// `address/offset not page-aligned`, `unsupported version of Verneed record`, an
/// assertion on DT_PLTREL): verify refuses each, as ld.so does (it used to pass them all).
/// And a corrupt `.gnu.hash` in a program's library: ld.so finds no foo_new there.
#[test]
fn damaged_files_that_ld_so_refuses_are_refused() {
    use support::corrupt::{DLOPEN_C, Verdict, ldso, variants};
    let libz = "/usr/lib/x86_64-linux-gnu/libz.so.1";
    if !have("cc") || !have(libz) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let probe = tmp.path().join("probe");
    cc(tmp.path(), "probe", DLOPEN_C, &probe, &["-ldl"]);
    let all = variants(&fs::read(libz).unwrap());
    let wanted = [
        "e_type=0",
        "e_phnum=0",
        "(type 0x2) p_filesz=0",
        "phdr 0 (type 0x1) p_vaddr+0x10",
        "vn_version=2",
        "DT_PLTREL+8",
    ];
    for want in wanted {
        let v = all.iter().find(|v| v.detail.ends_with(want)).unwrap();
        let file = tmp.path().join(want.replace(['/', ' ', '(', ')'], "_"));
        fs::write(&file, &v.bytes).unwrap();
        assert_eq!(ldso(&file, &probe, false), Verdict::Refuses, "{want}");
        let (code, out, err) = run_abicut(&["verify", file.to_str().unwrap()]);
        assert_ne!(code, 0, "{want}: {out}{err}");
    }
    let tree = good_tree(tmp.path());
    let lib = tree.join("lib/libfoo.so");
    let broken = variants(&fs::read(&lib).unwrap())
        .into_iter()
        .find(|v| v.detail == "bloom[0]=0")
        .unwrap();
    fs::write(&lib, &broken.bytes).unwrap();
    assert_eq!(ldso(&tree.join("bin/prog"), &probe, true), Verdict::Refuses);
    let p = only_problem(verify(&tree, &[]), "missing-symbol");
    assert_eq!(p["symbol"], "foo_new", "{p}");
}

/// MIPS's and s390x's libc.so.6 can be run, and name their interpreter in a PT_INTERP
/// padded with NULs after the path: the kernel reads the path up to its NUL, and so must
/// verify (it used to look for an interpreter named with the padding).
#[test]
fn interpreter_path_ends_at_its_nul() {
    for root in ["/usr/mips-linux-gnu", "/usr/s390x-linux-gnu"] {
        if !have(root) {
            continue;
        }
        let lib = format!("{root}/lib");
        let (code, report) = verify_bare(&[&lib, "--sysroot", root]);
        assert_eq!(code, 0, "{report}");
    }
}

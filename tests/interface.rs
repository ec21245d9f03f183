//! Interface trees against real packages and a fixture package compiled here: the
//! classification rule on Debian's libssl, zlib and libc packages (stubs that link like the
//! real libraries), the mutation suite (every interface change moves the hash, every
//! neutral change keeps it, and `diff` classifies each), `--self`, and safety.

mod support;

use std::path::{Path, PathBuf};
use support::linkcheck::{self, OutputKind, Target, Verdict};
use support::package::Package;
use support::{bin_path, have, run, run_abicut_in, unpack_debs};

/// Builds the interface tree of `output` into `tree` and returns its hash.
fn tree_hash(output: &Path, tree: &Path, flags: &[&str]) -> String {
    let mut args = vec![
        "interface",
        "--hash",
        "-o",
        tree.to_str().unwrap(),
        output.to_str().unwrap(),
    ];
    args.extend(flags);
    run(bin_path(), &args, output.parent().unwrap())
        .trim()
        .to_string()
}

// ---------------------------------------------------------------- Debian packages (5a)

fn unpack(packages: &[&str], dir: &Path) -> PathBuf {
    let specs: Vec<String> = packages.iter().map(|p| p.to_string()).collect();
    unpack_debs(&specs, dir)
}

fn all_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn elf_type(bytes: &[u8]) -> Option<u16> {
    bytes
        .starts_with(b"\x7fELF")
        .then(|| u16::from_le_bytes([bytes[16], bytes[17]]))
}

/// Trees hold default stubs, which leave out imports and data over-alignment (docs/stubgen.md,
/// "Default and `--exact` interfaces"). On a real library GNU ld sizes its hash table and
/// gold orders its symbols by the imports, so identity is judged where neither enters:
/// lld and mold PIEs and shared objects.
fn assert_links_like(lib: &Path, stub: &Path) {
    let work = tempfile::tempdir().unwrap();
    let target = Target::native();
    let report = linkcheck::check_library(lib, stub, &target, work.path()).unwrap();
    let judged: Vec<_> = report
        .results
        .iter()
        .filter(|(linker, kind, _)| matches!(*linker, "lld" | "mold") && *kind != OutputKind::Exe)
        .collect();
    assert_eq!(judged.len(), 4);
    // A library the real link refuses (the dynamic loader as a link input) says nothing there.
    assert!(
        judged.iter().any(|(_, _, v)| *v == Verdict::Identical)
            && judged
                .iter()
                .all(|(_, _, v)| matches!(v, Verdict::Identical | Verdict::RealFails(_))),
        "{}: tree stub does not link like the library:\n{}",
        lib.display(),
        report.failures()
    );
}

/// Every shared object of the packages is checked for link identity, except that of glibc's
/// 253 iconv modules (`gconv/`, two exports each) only the first three are: the others are
/// checked, as all are, to be exactly their `stubgen` stub.
fn debian_tree(packages: &[&str]) {
    if !["apt-get", "dpkg", "clang", "readelf", "ld.lld", "ld.mold"]
        .iter()
        .all(|t| have(t))
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = unpack(packages, dir.path());
    let tree = dir.path().join("tree");
    let hash = tree_hash(&root, &tree, &["--self", "/"]);
    let again = tree_hash(&root, &dir.path().join("tree2"), &["--self", "/"]);
    assert_eq!(hash, again, "tree hash is not deterministic");
    let mut headers = 0;
    let mut stubs = Vec::new();
    for file in all_files(&root) {
        let rel = file.strip_prefix(&root).unwrap();
        let in_tree = tree.join(rel);
        let relstr = rel.to_str().unwrap();
        let meta = std::fs::symlink_metadata(&file).unwrap();
        if meta.file_type().is_symlink() {
            if std::fs::symlink_metadata(&in_tree).is_ok() {
                assert!(
                    std::fs::symlink_metadata(&in_tree)
                        .unwrap()
                        .file_type()
                        .is_symlink(),
                    "{relstr}: symlink not kept as a symlink"
                );
            }
            continue;
        }
        let bytes = std::fs::read(&file).unwrap();
        let name = file.file_name().unwrap().to_str().unwrap();
        let is_so = name.ends_with(".so")
            || name
                .rsplit_once(".so.")
                .is_some_and(|(_, v)| v.bytes().all(|c| c.is_ascii_digit() || c == b'.'));
        if relstr.starts_with("usr/share/doc") {
            assert!(!in_tree.exists(), "{relstr}: documentation kept");
        } else if relstr.starts_with("usr/include/") {
            headers += 1;
            assert_eq!(
                std::fs::read(&in_tree).ok().as_deref(),
                Some(bytes.as_slice()),
                "{relstr}: header missing or changed"
            );
        } else if elf_type(&bytes) == Some(3) && is_so {
            stubs.push(rel.to_path_buf());
            let stub = std::fs::read(&in_tree).unwrap();
            let expected = dir.path().join("expected.so");
            run(
                bin_path(),
                &[
                    "stubgen",
                    "-o",
                    expected.to_str().unwrap(),
                    file.to_str().unwrap(),
                ],
                dir.path(),
            );
            assert_eq!(
                stub,
                std::fs::read(&expected).unwrap(),
                "{relstr}: not its stub"
            );
            assert!(stub.len() < bytes.len(), "{relstr}: stub not smaller");
        } else if elf_type(&bytes).is_some() && !name.ends_with(".o") {
            assert!(!in_tree.exists(), "{relstr}: executable kept");
        } else if name.ends_with(".a") {
            assert!(
                !in_tree.exists(),
                "{relstr}: static archive kept by default"
            );
        } else if name.ends_with(".pc") || name.ends_with(".o") || (is_so && !bytes.is_empty()) {
            assert_eq!(
                std::fs::read(&in_tree).unwrap(),
                bytes,
                "{relstr}: not copied whole"
            );
        }
    }
    assert!(
        headers > 0 && !stubs.is_empty(),
        "{headers} headers, {} stubs",
        stubs.len()
    );
    let mut gconv = 0;
    let mut linked = 0;
    for rel in &stubs {
        if rel.to_string_lossy().contains("/gconv/") {
            gconv += 1;
            if gconv > 3 {
                continue;
            }
        }
        assert_links_like(&root.join(rel), &tree.join(rel));
        linked += 1;
    }
    eprintln!(
        "{}: {headers} headers, {} stubs, {linked} checked for link identity",
        packages.join(" + "),
        stubs.len()
    );
    let with_static = dir.path().join("tree-static");
    let static_hash = tree_hash(&root, &with_static, &["--self", "/", "--with-static"]);
    let archives = all_files(&with_static)
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "a"))
        .count();
    let expected = all_files(&root)
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "a"))
        .count();
    assert!(
        expected > 0 && archives == expected,
        "{archives} of {expected} archives"
    );
    assert_ne!(static_hash, hash);
}

#[test]
fn debian_libssl_tree() {
    debian_tree(&["libssl-dev", "libssl3"]);
}

#[test]
fn debian_zlib_tree() {
    debian_tree(&["zlib1g-dev", "zlib1g"]);
}

#[test]
fn debian_libc_tree() {
    debian_tree(&["libc6-dev", "libc6"]);
    // glibc's libc.so is a GNU ld script naming libc.so.6 and the loader by absolute path.
}

// ---------------------------------------------------------------- mutation suite (5c)

/// Creates `dir` and builds `package` there, returning its output: every fixture build here
/// goes in a directory of its own, which `Package::build` expects to exist.
fn build_in(package: &Package, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    package.build(dir)
}

/// What a mutation must do to the tree hash and to `diff`'s verdict (exit status).
struct Expect {
    flags: &'static [&'static str],
    hash_changes: bool,
    exit: i32,
}

const CHANGED_BREAKING: Expect = Expect {
    flags: &[],
    hash_changes: true,
    exit: 2,
};
const CHANGED_COMPATIBLE: Expect = Expect {
    flags: &[],
    hash_changes: true,
    exit: 1,
};
const NEUTRAL: Expect = Expect {
    flags: &[],
    hash_changes: false,
    exit: 0,
};

fn mutations() -> Vec<(&'static str, Package, Expect)> {
    let b = Package::base;
    vec![
        (
            "header struct size",
            b().edit(|p| &mut p.header, "int a; };", "int a; long b; };"),
            CHANGED_BREAKING,
        ),
        (
            "macro value",
            b().edit(|p| &mut p.header, "FOO_MAX 10", "FOO_MAX 20"),
            CHANGED_BREAKING,
        ),
        (
            ".pc Cflags",
            b().edit(
                |p| &mut p.pc,
                "Cflags: -I${includedir}",
                "Cflags: -I${includedir} -DFOO",
            ),
            CHANGED_BREAKING,
        ),
        (
            "crt object",
            b().edit(|p| &mut p.crt, "{ }", "{ foo_start(); }"),
            CHANGED_BREAKING,
        ),
        (
            "linker script",
            b().edit(|p| &mut p.script, "libfoo.so.1 )", "libfoo.so.1 -lm )"),
            CHANGED_BREAKING,
        ),
        (
            "added exported function",
            b().edit(
                |p| &mut p.source,
                "int foo_g",
                "int foo_h(void) { return 3; }\nint foo_g",
            )
            .edit(|p| &mut p.map, "foo_g;", "foo_g; foo_h;"),
            CHANGED_COMPATIBLE,
        ),
        (
            "removed function",
            b().edit(|p| &mut p.map, "foo_g; ", ""),
            CHANGED_BREAKING,
        ),
        (
            "data object size",
            b().edit(|p| &mut p.source, "foo_table[4]", "foo_table[8]")
                .edit(|p| &mut p.header, "foo_table[4]", "foo_table[8]"),
            CHANGED_BREAKING,
        ),
        (
            "version node added",
            b().edit(
                |p| &mut p.source,
                "int foo_g",
                "int foo_h(void) { return 3; }\nint foo_g",
            )
            .edit(|p| &mut p.map, "\n", "\nV2 { global: foo_h; } V1;\n"),
            CHANGED_COMPATIBLE,
        ),
        (
            "symbol moved to a new default version",
            b().edit(|p| &mut p.map, "foo_g; ", "").edit(
                |p| &mut p.map,
                "\n",
                "\nV2 { global: foo_g; } V1;\n",
            ),
            CHANGED_BREAKING,
        ),
        (
            "comment-only header change, exact",
            b().edit(
                |p| &mut p.header,
                "/* foo: a fixture library */",
                "/* foo: a library */",
            ),
            CHANGED_BREAKING,
        ),
        (
            "comment-only header change, tokens",
            b().edit(
                |p| &mut p.header,
                "/* foo: a fixture library */",
                "/* foo:\n   a library */\n",
            ),
            Expect {
                flags: &["--headers", "tokens"],
                ..NEUTRAL
            },
        ),
        (
            "static archive without --with-static",
            b().edit(|p| &mut p.static_source, "return 1;", "return 2;"),
            NEUTRAL,
        ),
        (
            "static archive with --with-static",
            b().edit(|p| &mut p.static_source, "return 1;", "return 2;"),
            Expect {
                flags: &["--with-static"],
                ..CHANGED_BREAKING
            },
        ),
        (
            "function body",
            b().edit(|p| &mut p.source, "return 7;", "return 8 * p_unused();")
                .edit(
                    |p| &mut p.source,
                    "#include \"foo.h\"\n",
                    "#include \"foo.h\"\nstatic int p_unused(void) { return 1; }\n",
                ),
            NEUTRAL,
        ),
        (
            "comment in a .c file",
            b().edit(
                |p| &mut p.source,
                "int foo_table",
                "/* the table */\nint foo_table",
            ),
            NEUTRAL,
        ),
        (
            "executable",
            b().edit(|p| &mut p.tool, "\"foo\"", "\"foo!\""),
            NEUTRAL,
        ),
        (
            "documentation",
            b().edit(|p| &mut p.doc, "read me", "read me twice"),
            NEUTRAL,
        ),
    ]
}

/// The change `diff --json` must name for a mutation: (subject contains, reason).
fn expected_change(mutation: &str) -> Option<(&'static str, &'static str)> {
    Some(match mutation {
        "header struct size" | "macro value" | "comment-only header change, exact" => {
            ("include/foo.h", "content_changed")
        }
        ".pc Cflags" => ("pkgconfig/foo.pc", "content_changed"),
        "crt object" => ("lib/foocrt1.o", "content_changed"),
        "linker script" => ("lib/libfoo_all.so", "content_changed"),
        "added exported function" => ("libfoo.so.1: symbol foo_h@@V1", "added"),
        "removed function" => ("libfoo.so.1: symbol foo_g@@V1", "removed"),
        "data object size" => ("libfoo.so.1: symbol foo_table@@V1", "size_changed"),
        "version node added" => ("libfoo.so.1: version V2", "added"),
        "symbol moved to a new default version" => {
            ("libfoo.so.1: symbol foo_g@@V1", "version_changed")
        }
        "static archive with --with-static" => ("lib/libfoo.a", "content_changed"),
        _ => return None,
    })
}

fn names_change(report: &str, subject: &str, reason: &str) -> bool {
    let report: serde_json::Value = serde_json::from_str(report).unwrap();
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["subject"].as_str().unwrap().contains(subject) && c["reason"] == reason)
}

#[test]
fn mutation_suite() {
    if !have("gcc") || !have("ar") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let mut base_trees = std::collections::BTreeMap::new();
    let mut failures = Vec::new();
    let mut report = String::new();
    for (i, (name, package, expect)) in mutations().into_iter().enumerate() {
        let (base_tree, base_hash) = base_trees
            .entry(expect.flags)
            .or_insert_with(|| {
                let dir = work.path().join(format!("base{}", expect.flags.join("")));
                let out = build_in(&Package::base(), &dir);
                let tree = dir.join("tree");
                let hash = tree_hash(&out, &tree, expect.flags);
                (tree, hash)
            })
            .clone();
        let dir = work.path().join(format!("m{i}"));
        let out = build_in(&package, &dir);
        let tree = dir.join("tree");
        let hash = tree_hash(&out, &tree, expect.flags);
        let mut diff_args = vec!["diff", base_tree.to_str().unwrap(), tree.to_str().unwrap()];
        if expect.flags.contains(&"tokens") {
            diff_args.extend(["--headers", "tokens"]);
        }
        let (exit, text, stderr) = run_abicut_in(&diff_args, &dir);
        diff_args.push("--json");
        let (_, json, _) = run_abicut_in(&diff_args, &dir);
        if let Some((subject, reason)) = expected_change(name)
            && !names_change(&json, subject, reason)
        {
            failures.push(format!("{name}: no {reason} change on {subject}:\n{json}"));
        }
        let changed = hash != base_hash;
        report.push_str(&format!(
            "{name:<45} hash {} diff exit {exit}\n",
            if changed { "changed  " } else { "unchanged" }
        ));
        if changed != expect.hash_changes || exit != expect.exit {
            failures.push(format!(
                "{name}: hash changed {changed} (want {}), diff exit {exit} (want {}):\n{text}{stderr}",
                expect.hash_changes, expect.exit
            ));
        }
    }
    eprintln!("{report}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------- --self (5d)

#[test]
fn self_path_change_keeps_the_hash() {
    if !have("gcc") || !have("ar") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    // A new store hash and a new version: the placeholder keeps neither.
    let prefixes = [
        "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-foo-1.0",
        "/nix/store/zyxwvsrqpnmlkjihgfdcba9876543210-foo-1.0.1",
    ];
    let mut with_self = Vec::new();
    let mut without = Vec::new();
    for (i, prefix) in prefixes.iter().enumerate() {
        let dir = work.path().join(format!("p{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut package = Package::base();
        package.prefix = prefix.to_string();
        let out = package.build(&dir);
        without.push(tree_hash(&out, &dir.join("plain"), &[]));
        package.self_symlink = true;
        let dir = work.path().join(format!("s{i}"));
        let out = build_in(&package, &dir);
        let tree = dir.join("tree");
        with_self.push(tree_hash(&out, &tree, &["--self", prefix]));
        let pc = std::fs::read_to_string(tree.join("lib/pkgconfig/foo.pc")).unwrap();
        assert!(
            !pc.contains(prefix) && pc.contains("/nix/store/eeeeeeee"),
            "{pc}"
        );
        let link = std::fs::read_link(tree.join("lib/libfoo.so.1.0")).unwrap();
        assert_eq!(
            link.to_str().unwrap(),
            "/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-foo/lib/libfoo.so.1"
        );
    }
    assert_ne!(
        without[0], without[1],
        "the store path is not in the fixture"
    );
    assert_eq!(
        with_self[0], with_self[1],
        "--self did not normalize the store path"
    );
}

// ---------------------------------------------------------------- safety (4)

#[test]
fn symlink_escaping_the_tree_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let out = one_header_output(work.path());
    std::os::unix::fs::symlink("../../../etc/passwd", out.join("include/evil.h")).unwrap();
    let tree = work.path().join("tree");
    let (exit, _, stderr) = interface_into(&tree, &out, work.path());
    assert_eq!(exit, 3, "{stderr}");
    assert!(
        stderr.contains("include/evil.h") && stderr.contains("outside the tree"),
        "{stderr}"
    );
    std::fs::remove_file(out.join("include/evil.h")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", out.join("include/evil.h")).unwrap();
    let (exit, _, stderr) = interface_into(&tree, &out, work.path());
    assert_eq!(exit, 3, "{stderr}");
    assert!(!tree.exists(), "a tree was written despite the error");
    assert_no_leftovers(work.path());
}

/// `abicut interface -o TREE OUT` run in `dir`, unchecked: the safety tests below expect it
/// to fail (or not) and read its exit status and stderr.
fn interface_into(tree: &Path, out: &Path, dir: &Path) -> (i32, String, String) {
    let (tree, out) = (tree.to_str().unwrap(), out.to_str().unwrap());
    run_abicut_in(&["interface", "-o", tree, out], dir)
}

/// `dir/out` holding one header, `include/a.h`: the least package output the safety
/// tests need to have something to write a tree of.
fn one_header_output(dir: &Path) -> PathBuf {
    let out = dir.join("out");
    std::fs::create_dir_all(out.join("include")).unwrap();
    std::fs::write(out.join("include/a.h"), "int a;\n").unwrap();
    out
}

fn assert_no_leftovers(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains(".abicut-"))
        .collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
}

/// A killed `interface -o DIR` leaves its staging directory beside DIR; the next run for
/// the same DIR removes it (its process is gone), and keeps a running process's.
#[test]
fn killed_runs_leftovers_are_removed() {
    let work = tempfile::tempdir().unwrap();
    let out = one_header_output(work.path());
    // No process has the largest PID; this test's own process is alive.
    let dead = work.path().join(".tree.abicut-4294967295-0");
    let live = work
        .path()
        .join(format!(".tree.abicut-{}-0", std::process::id()));
    std::fs::create_dir_all(dead.join("include")).unwrap();
    std::fs::write(dead.join("include/half.h"), "int").unwrap();
    std::fs::create_dir_all(&live).unwrap();
    let tree = work.path().join("tree");
    tree_hash(&out, &tree, &[]);
    assert!(tree.join("include/a.h").is_file());
    assert!(!dead.exists(), "a killed run's staging directory was left");
    assert!(
        live.exists(),
        "a running process's staging directory was removed"
    );
}

#[test]
fn odd_file_names_work() {
    use std::os::unix::ffi::OsStrExt;
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    std::fs::create_dir_all(out.join("include/sub dir")).unwrap();
    let odd = std::ffi::OsStr::from_bytes(b"na\xffme with space.h");
    std::fs::write(out.join("include/sub dir").join(odd), "int a;\n").unwrap();
    let tree = work.path().join("tree");
    let h1 = tree_hash(&out, &tree, &[]);
    assert!(tree.join("include/sub dir").join(odd).is_file());
    std::fs::write(out.join("include/sub dir").join(odd), "int b;\n").unwrap();
    let h2 = tree_hash(&out, &work.path().join("tree2"), &[]);
    assert_ne!(h1, h2);
}

#[test]
fn existing_output_and_bad_input_are_errors() {
    let work = tempfile::tempdir().unwrap();
    let out = one_header_output(work.path());
    let tree = work.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("keep"), "x").unwrap();
    let (exit, _, stderr) = interface_into(&tree, &out, work.path());
    assert_eq!(exit, 3);
    assert!(stderr.contains("not an empty directory"), "{stderr}");
    assert_eq!(std::fs::read(tree.join("keep")).unwrap(), b"x");
    assert_no_leftovers(work.path());
    // A corrupt shared object is an error naming it, not a skipped file.
    std::fs::create_dir_all(out.join("lib")).unwrap();
    std::fs::write(
        out.join("lib/libbad.so.1"),
        b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0",
    )
    .unwrap();
    let (exit, _, stderr) =
        run_abicut_in(&["interface", "--hash", out.to_str().unwrap()], work.path());
    assert_eq!(exit, 3);
    assert!(stderr.contains("libbad.so.1"), "{stderr}");
    // A FIFO cannot be read as a file: an error naming it, not a skipped entry.
    std::fs::remove_file(out.join("lib/libbad.so.1")).unwrap();
    run(
        "mkfifo",
        &[out.join("lib/pipe").to_str().unwrap()],
        work.path(),
    );
    let (exit, _, stderr) =
        run_abicut_in(&["interface", "--hash", out.to_str().unwrap()], work.path());
    assert_eq!(exit, 3);
    assert!(stderr.contains("lib/pipe"), "{stderr}");
    let (exit, _, stderr) =
        run_abicut_in(&["interface", "--hash", "/nonexistent/out"], work.path());
    assert_eq!(exit, 3);
    assert!(stderr.contains("/nonexistent/out"), "{stderr}");
}

/// `abicut interface --hash -o TREE` of a package's two outputs `out` and `dev`, each its
/// own `--self` path, run in `dir`.
fn package_tree_hash(tree: &Path, out: &Path, dev: &Path, dir: &Path) -> String {
    let (out, dev) = (out.to_str().unwrap(), dev.to_str().unwrap());
    let args = [
        "interface",
        "--hash",
        "-o",
        tree.to_str().unwrap(),
        "--self",
        out,
        "--self",
        dev,
        out,
        dev,
    ];
    run(bin_path(), &args, dir).trim().to_string()
}

#[test]
fn several_outputs_go_under_their_names_without_store_hashes() {
    let work = tempfile::tempdir().unwrap();
    let mut hashes = Vec::new();
    for hash in [
        "0123456789abcdfghijklmnpqrsvwxyz",
        "zyxwvsrqpnmlkjihgfdcba9876543210",
    ] {
        let store = work.path().to_path_buf();
        let out = store.join(format!("{hash}-foo-1.0"));
        let dev = store.join(format!("{hash}-foo-1.0-dev"));
        std::fs::create_dir_all(out.join("lib")).unwrap();
        std::fs::create_dir_all(dev.join("include")).unwrap();
        std::fs::create_dir_all(dev.join("lib")).unwrap();
        std::fs::write(
            out.join("lib/data.la"),
            format!("libdir='{}/lib'\n", out.display()),
        )
        .unwrap();
        std::fs::write(dev.join("include/foo.h"), "int foo;\n").unwrap();
        std::os::unix::fs::symlink(out.join("lib/data.la"), dev.join("lib/data.la")).unwrap();
        let tree = store.join(format!("tree-{hash}"));
        hashes.push(package_tree_hash(&tree, &out, &dev, &store));
        let names: Vec<String> = std::fs::read_dir(&tree)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains(hash)), "{names:?}");
        assert_eq!(names.len(), 2, "{names:?}");
    }
    assert_eq!(hashes[0], hashes[1]);
}

/// Outside a Nix store, two outputs whose paths have one length (`…/p-out`, `…/p-dev`) go
/// under their own names, and a build in another directory has the same hash.
#[test]
fn several_outputs_outside_the_store_go_under_their_names() {
    let work = tempfile::tempdir().unwrap();
    let mut hashes = Vec::new();
    for build in ["build-1", "build-two"] {
        let dir = work.path().join(build);
        let (out, dev) = (dir.join("p-out"), dir.join("p-dev"));
        std::fs::create_dir_all(out.join("lib")).unwrap();
        std::fs::create_dir_all(dev.join("lib/pkgconfig")).unwrap();
        std::fs::write(
            dev.join("lib/pkgconfig/p.pc"),
            format!(
                "libdir={}/lib\nName: p\nVersion: 1\nDescription: p\n",
                out.display()
            ),
        )
        .unwrap();
        std::fs::write(out.join("lib/p.la"), "dlname='libp.so.1'\n").unwrap();
        let tree = work.path().join(format!("tree-{build}"));
        hashes.push(package_tree_hash(&tree, &out, &dev, work.path()));
        let pc = std::fs::read_to_string(tree.join("p-dev/lib/pkgconfig/p.pc")).unwrap();
        assert!(pc.starts_with("libdir=/abicut-self/p-out/lib\n"), "{pc}");
        assert!(tree.join("p-out/lib/p.la").exists());
    }
    assert_eq!(hashes[0], hashes[1]);
}

#[test]
fn symlinks_between_outputs_given_together_are_kept() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("0123456789abcdfghijklmnpqrsvwxyz-foo-1.0");
    let dev = work
        .path()
        .join("0123456789abcdfghijklmnpqrsvwxyz-foo-1.0-dev");
    std::fs::create_dir_all(out.join("lib")).unwrap();
    std::fs::create_dir_all(dev.join("lib")).unwrap();
    std::fs::write(out.join("lib/foo.la"), "libdir='/x'\n").unwrap();
    let target = out.join("lib/foo.la");
    std::os::unix::fs::symlink(&target, dev.join("lib/foo.la")).unwrap();
    let tree = work.path().join("tree");
    let (dev_s, tree_s) = (dev.to_str().unwrap(), tree.to_str().unwrap());
    // Alone, `dev` leads outside its tree.
    let (exit, _, stderr) = run_abicut_in(&["interface", "-o", tree_s, dev_s], work.path());
    assert_eq!(exit, 3, "{stderr}");
    assert!(stderr.contains("outside the tree"), "{stderr}");
    // Given with `out`, the link stays inside the package and is kept as it is.
    let args = ["interface", "-o", tree_s, out.to_str().unwrap(), dev_s];
    run(bin_path(), &args, work.path());
    let link = tree.join(dev.file_name().unwrap()).join("lib/foo.la");
    assert_eq!(std::fs::read_link(link).unwrap(), target);
}

/// `--self PATH=TO` (what nix/hooks passes: the compile output's path becomes the
/// interface's own, of another length) rewrites text to the new length and refuses a
/// binary file holding the path, naming it, with nothing written.
#[test]
fn self_path_to_another_length() {
    let work = tempfile::tempdir().unwrap();
    let out = work
        .path()
        .join("0123456789abcdfghijklmnpqrsvwxyz-foo-1.0.1");
    std::fs::create_dir_all(out.join("lib/pkgconfig")).unwrap();
    std::fs::write(
        out.join("lib/pkgconfig/foo.pc"),
        format!("libdir={}/lib\n", out.display()),
    )
    .unwrap();
    let to = work.path().join("zyxwvsrqpnmlkjihgfdcba9876543210-foo");
    let self_arg = format!("{}={}", out.display(), to.display());
    let tree = work.path().join("tree");
    let args = [
        "interface",
        "-o",
        tree.to_str().unwrap(),
        "--self",
        &self_arg,
        out.to_str().unwrap(),
    ];
    run(bin_path(), &args, work.path());
    let pc = std::fs::read_to_string(tree.join("lib/pkgconfig/foo.pc")).unwrap();
    assert_eq!(pc, format!("libdir={}/lib\n", to.display()));

    // An archive with the path compiled in, kept with --with-static: refused.
    std::fs::write(
        out.join("lib/libfoo.a"),
        format!("!<arch>\n\0{}/share\0", out.display()),
    )
    .unwrap();
    // Without --with-static the archive is not in the tree, so it is not checked either.
    let dropped = work.path().join("tree-without-static");
    let mut args = args.to_vec();
    args[2] = dropped.to_str().unwrap();
    let (exit, _, stderr) = run_abicut_in(&args, work.path());
    assert_eq!(exit, 0, "a file left out of the tree was checked: {stderr}");
    assert!(!dropped.join("lib/libfoo.a").exists());
    let tree = work.path().join("tree-static");
    args[2] = tree.to_str().unwrap();
    args.push("--with-static");
    let (exit, _, stderr) = run_abicut_in(&args, work.path());
    assert_eq!(exit, 3, "{stderr}");
    assert!(
        stderr.contains("lib/libfoo.a") && stderr.contains("another length"),
        "{stderr}"
    );
    assert!(!tree.exists(), "a tree was written despite the error");
}

// ---------------------------------------------------------------- tree modes and file kinds

/// A hand-made package output: a header, a second header, a pkg-config file, a setup hook
/// under nix-support/ and documentation (dropped), in `dir/out`.
fn small_output(dir: &Path) -> PathBuf {
    let out = dir.join("out");
    for (path, text) in [
        ("include/a.h", "int a(void);\n"),
        ("include/c.h", "int c(void);\n"),
        (
            "lib/pkgconfig/a.pc",
            "Name: a\nVersion: 1\nDescription: a\n",
        ),
        ("nix-support/propagated-build-inputs", "/nix/store/x-dep\n"),
        ("share/doc/a/README", "read me\n"),
    ] {
        let file = out.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    out
}

/// `abicut interface --hash` of `out` with extra flags.
fn hash_of(out: &Path, flags: &[&str]) -> String {
    let mut args = vec!["interface", "--hash", out.to_str().unwrap()];
    args.extend(flags);
    run(bin_path(), &args, out.parent().unwrap())
        .trim()
        .to_string()
}

/// The reasons `abicut diff --json` gives for two trees built from `old` and `new`.
fn tree_diff_reasons(old: &Path, new: &Path, dir: &Path) -> Vec<String> {
    let (a, b) = (dir.join("tree-old"), dir.join("tree-new"));
    for (out, tree) in [(old, &a), (new, &b)] {
        let _ = std::fs::remove_dir_all(tree);
        tree_hash(out, tree, &[]);
    }
    let (_, json, stderr) = run_abicut_in(
        &["diff", "--json", a.to_str().unwrap(), b.to_str().unwrap()],
        dir,
    );
    let report: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}{stderr}"));
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["reason"].as_str().unwrap().to_string())
        .collect()
}

/// Applies `change` to a copy of the small output and checks that the tree hash changes and
/// that `diff` of the two trees names `reason`.
fn assert_change_seen(change: impl Fn(&Path), reason: &str) {
    assert_edits_seen(|_| {}, change, reason);
}

/// Two copies of the small output, `old` edited by `edit_old` and `new` by `edit_new`:
/// their tree hashes must differ and `diff` must name `reason`. The general form of
/// [`assert_change_seen`], for a change that needs both sides set up (a symlink's target).
fn assert_edits_seen(edit_old: impl Fn(&Path), edit_new: impl Fn(&Path), reason: &str) {
    let dir = tempfile::tempdir().unwrap();
    let old = small_output(&dir.path().join("old"));
    let new = small_output(&dir.path().join("new"));
    edit_old(&old);
    edit_new(&new);
    assert_ne!(
        hash_of(&old, &[]),
        hash_of(&new, &[]),
        "the tree hash misses: {reason}"
    );
    let reasons = tree_diff_reasons(&old, &new, dir.path());
    assert!(
        reasons.iter().any(|r| r == reason),
        "diff names {reasons:?}, not {reason}"
    );
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn executable_bit_alone_changes_the_hash() {
    assert_change_seen(
        |out| set_mode(&out.join("include/a.h"), 0o755),
        "executable_bit_changed",
    );
}

#[test]
fn symlink_target_alone_changes_the_hash() {
    let link = |out: &Path, to: &str| {
        std::os::unix::fs::symlink(to, out.join("include/b.h")).unwrap();
    };
    assert_edits_seen(
        |old| link(old, "a.h"),
        |new| link(new, "c.h"),
        "symlink_target_changed",
    );
}

#[test]
fn file_turned_symlink_changes_the_hash() {
    assert_edits_seen(
        |old| std::fs::write(old.join("include/b.h"), "int c(void);\n").unwrap(),
        |new| std::os::unix::fs::symlink("c.h", new.join("include/b.h")).unwrap(),
        "file_type_changed",
    );
}

#[test]
fn nix_support_is_kept_and_hashed() {
    let dir = tempfile::tempdir().unwrap();
    let out = small_output(dir.path());
    let tree = dir.path().join("tree");
    tree_hash(&out, &tree, &[]);
    assert_eq!(
        std::fs::read_to_string(tree.join("nix-support/propagated-build-inputs")).unwrap(),
        "/nix/store/x-dep\n"
    );
    assert_change_seen(
        |out| {
            std::fs::write(
                out.join("nix-support/propagated-build-inputs"),
                "/nix/store/y-dep\n",
            )
            .unwrap()
        },
        "content_changed",
    );
}

/// A symlink kept in the tree must lead to something in the tree: one into a dropped file
/// (documentation, a program) would dangle in the interface.
#[test]
fn no_symlink_into_a_dropped_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = small_output(dir.path());
    std::fs::create_dir_all(out.join("bin")).unwrap();
    std::fs::write(out.join("bin/tool"), "#!/bin/sh\n").unwrap();
    set_mode(&out.join("bin/tool"), 0o755);
    std::os::unix::fs::symlink("../share/doc/a/README", out.join("include/readme.h")).unwrap();
    std::os::unix::fs::symlink("../bin/tool", out.join("lib/tool")).unwrap();
    std::os::unix::fs::symlink("a.h", out.join("include/kept.h")).unwrap();
    let tree = dir.path().join("tree");
    tree_hash(&out, &tree, &[]);
    assert!(
        tree.join("include/kept.h").is_symlink(),
        "a symlink to a kept header stays"
    );
    for link in ["include/readme.h", "lib/tool"] {
        let path = tree.join(link);
        assert!(
            !path.is_symlink() || path.exists(),
            "{link} is kept but leads into a dropped file"
        );
    }
}

// ---------------------------------------------------------------- --headers tokens against clang

/// The tokens clang's raw lexer sees in `text`, comments and whitespace left out: the
/// independent judge of whether two headers differ in tokens.
fn clang_tokens(text: &str, dir: &Path) -> Vec<String> {
    let file = dir.join("probe.h");
    std::fs::write(&file, text).unwrap();
    let out = std::process::Command::new("clang")
        .args(["-cc1", "-dump-raw-tokens"])
        .arg(&file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_lowercase()) && l.contains("Loc=<"))
        .filter(|l| !l.starts_with("comment ") && !l.starts_with("unknown "))
        .filter_map(|l| {
            let (kind, rest) = l.split_once(' ')?;
            let spelling = rest.split('\t').next()?;
            Some(format!("{kind} {spelling}"))
        })
        .collect()
}

#[test]
fn header_tokens_hash_agrees_with_clangs_lexer() {
    if !have("clang") {
        return;
    }
    let base = "/* foo */\n#ifndef FOO_H\n#define FOO_H\n#define FOO_MAX 10\n\
                struct foo { int a; };\nint foo_f(struct foo *p);\n#endif\n";
    let variants = [
        (
            "comment changed",
            base.replace("/* foo */", "/* foo, the library */"),
        ),
        (
            "line comment added",
            base.replace("int a; };", "int a; }; // a"),
        ),
        (
            "reindented",
            base.replace("struct foo { int a; };", "struct foo {\n    int a;\n};"),
        ),
        (
            "spaces",
            base.replace("int foo_f(struct foo *p);", "int  foo_f( struct foo * p );"),
        ),
        ("macro value", base.replace("FOO_MAX 10", "FOO_MAX 20")),
        ("renamed field", base.replace("int a;", "int b;")),
        ("added field", base.replace("int a;", "int a; long b;")),
        ("pointer level", base.replace("*p", "**p")),
    ];
    let dir = tempfile::tempdir().unwrap();
    let hash = |text: &str, name: &str| {
        let out = small_output(&dir.path().join(name));
        std::fs::write(out.join("include/a.h"), text).unwrap();
        hash_of(&out, &["--headers", "tokens"])
    };
    let base_hash = hash(base, "base");
    let base_tokens = clang_tokens(base, dir.path());
    let mut same = 0;
    for (i, (name, text)) in variants.iter().enumerate() {
        let clang_same = clang_tokens(text, dir.path()) == base_tokens;
        let ours_same = hash(text, &format!("v{i}")) == base_hash;
        assert_eq!(
            ours_same,
            clang_same,
            "{name}: tokens hash {} but clang's lexer says the tokens are {}",
            if ours_same { "unchanged" } else { "changed" },
            if clang_same { "the same" } else { "different" }
        );
        same += usize::from(clang_same);
    }
    assert!(
        same > 0 && same < variants.len(),
        "the variants cover both outcomes"
    );
}

/// `--imports all` is a mode of the tree hash of its own: a new import that a dependency
/// defines (libc's `strchr`) leaves the default hash alone and must move the `all` one.
#[test]
fn imports_all_hash_sees_an_import_the_default_drops() {
    let dir = tempfile::tempdir().unwrap();
    let output = |name: &str, body: &str| {
        let out = dir.path().join(name).join("out");
        std::fs::create_dir_all(out.join("lib")).unwrap();
        let src = dir.path().join(format!("{name}.c"));
        std::fs::write(
            &src,
            format!("#include <string.h>\nint x(const char *s) {{ {body} }}\n"),
        )
        .unwrap();
        let lib = out.join("lib/libx.so.1");
        let args = ["-shared", "-fPIC", "-Wl,-soname,libx.so.1", "-o"];
        let mut argv: Vec<&str> = args.to_vec();
        argv.extend([lib.to_str().unwrap(), src.to_str().unwrap()]);
        run("cc", &argv, dir.path());
        out
    };
    let old = output("old", "return (int)strlen(s);");
    let new = output("new", "return (int)strlen(s) + (strchr(s, 'a') != 0);");
    assert_eq!(
        hash_of(&old, &[]),
        hash_of(&new, &[]),
        "default keeps a libc import"
    );
    assert_ne!(
        hash_of(&old, &["--imports", "all"]),
        hash_of(&new, &["--imports", "all"]),
        "--imports all misses a new import"
    );
}

/// docs/interface-diff.md: nothing is skipped silently. A shared object cut to its first 16 bytes, or with
/// e_type 0, is still a library a consumer would link: an error naming it, not a file (and
/// a symlink to it) quietly missing from the tree.
#[test]
fn corrupt_shared_objects_are_errors_not_dropped() {
    let libz = std::fs::read("/usr/lib/x86_64-linux-gnu/libz.so.1").unwrap();
    let mut no_type = libz.clone();
    no_type[16..18].copy_from_slice(&[0, 0]);
    for (what, bytes) in [("16 bytes", libz[..16].to_vec()), ("e_type 0", no_type)] {
        let work = tempfile::tempdir().unwrap();
        let out = work.path().join("out");
        std::fs::create_dir_all(out.join("lib")).unwrap();
        std::fs::write(out.join("lib/libz.so.1.2.13"), bytes).unwrap();
        std::os::unix::fs::symlink("libz.so.1.2.13", out.join("lib/libz.so.1")).unwrap();
        let tree = work.path().join("tree");
        let (exit, _, stderr) = interface_into(&tree, &out, work.path());
        assert_eq!(exit, 3, "{what}: {stderr}");
        assert!(stderr.contains("libz.so.1.2.13"), "{what}: {stderr}");
        assert!(!tree.exists(), "{what}");
    }
}

/// `-o DIR` inside the output it reads would land the tree in the package (the next hash
/// differs): refused before anything is written, as relink refuses DEST inside SRC.
#[test]
fn tree_inside_the_output_it_reads_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let out = small_output(work.path());
    for (dest, why) in [
        (out.join("iface"), "lies inside the package output"),
        (out.clone(), "is the package output"),
        (work.path().to_path_buf(), "holds the package output"),
    ] {
        let (exit, _, stderr) = interface_into(&dest, &out, work.path());
        assert_eq!(exit, 3, "{stderr}");
        assert!(stderr.contains(why) && stderr.contains("-o "), "{stderr}");
    }
    assert!(!out.join("iface").exists());
    assert_no_leftovers(&out);
    // Apart from the output, -o may name directories that do not exist yet.
    let apart = work.path().join("new/deep/tree");
    let (exit, _, stderr) = interface_into(&apart, &out, work.path());
    assert_eq!(exit, 0, "{stderr}");
    assert!(apart.join("include/a.h").is_file());
}

/// What the tree keeps of each file it copies or replaces by a stub, compared with the
/// source: the executable bit (the tree's modes are normalised to 0755 or 0644, as the hash
/// sees only that bit) and every symlink's target.
#[test]
fn tree_keeps_executable_bits_and_links_of_the_source() {
    use std::os::unix::fs::PermissionsExt;
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    std::fs::create_dir_all(out.join("include")).unwrap();
    std::fs::create_dir_all(out.join("lib/pkgconfig")).unwrap();
    let libz = std::fs::read("/usr/lib/x86_64-linux-gnu/libz.so.1").unwrap();
    let files: [(&str, &[u8], u32); 5] = [
        ("include/a.h", b"int a;\n", 0o600),
        ("include/run.h", b"int r;\n", 0o750),
        ("lib/pkgconfig/z.pc", b"Name: z\n", 0o444),
        ("lib/libz.so.1.2.13", &libz, 0o755),
        ("lib/libw.so.1", &libz, 0o640),
    ];
    for (rel, bytes, mode) in files {
        std::fs::write(out.join(rel), bytes).unwrap();
        std::fs::set_permissions(out.join(rel), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::os::unix::fs::symlink("libz.so.1.2.13", out.join("lib/libz.so.1")).unwrap();
    std::os::unix::fs::symlink("libz.so.1", out.join("lib/libz.so")).unwrap();
    let tree = work.path().join("tree");
    tree_hash(&out, &tree, &[]);
    for (rel, _, mode) in files {
        let got = std::fs::metadata(tree.join(rel))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777;
        let want = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
        assert_eq!(got, want, "{rel}: mode {got:o}, source {mode:o}");
    }
    for link in ["lib/libz.so.1", "lib/libz.so"] {
        assert_eq!(
            std::fs::read_link(tree.join(link)).unwrap(),
            std::fs::read_link(out.join(link)).unwrap(),
            "{link}"
        );
    }
}

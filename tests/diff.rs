//! `abicut diff` on real updates from Debian's archive (versions picked at test time with
//! `apt-cache madison`), every shared-object pair checked against libabigail's `abidiff`,
//! and the fixture library's verdicts and report shape.

mod support;

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use support::{bin_path, have, run, unpack_debs};

fn abicut_json(args: &[&str]) -> (i32, Value) {
    let out = duct::cmd(bin_path(), args)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "abicut {args:?} exit {code}: {e}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, value)
}

/// The builds of `package` the archive offers, newest first.
fn versions(package: &str) -> Vec<String> {
    let out = duct::cmd!("apt-cache", "madison", package)
        .read()
        .unwrap_or_default();
    let mut versions: Vec<String> = Vec::new();
    for line in out.lines().filter(|l| l.contains("Packages")) {
        if let Some(v) = line.split('|').nth(1).map(|v| v.trim().to_string())
            && !versions.contains(&v)
        {
            versions.push(v);
        }
    }
    versions
}

/// Unpacks `packages` at `version` into `dir/root`.
fn fetch(packages: &[&str], version: &str, dir: &Path) -> PathBuf {
    let specs: Vec<String> = packages.iter().map(|p| format!("{p}={version}")).collect();
    unpack_debs(&specs, dir)
}

fn tree(root: &Path, dest: &Path) -> PathBuf {
    run(
        bin_path(),
        &[
            "interface",
            "--self",
            "/",
            "-o",
            dest.to_str().unwrap(),
            root.to_str().unwrap(),
        ],
        root.parent().unwrap(),
    );
    dest.to_path_buf()
}

/// Real (not symlinked) ELF shared objects under `root`, relative paths.
fn shared_objects(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if meta.is_dir() {
                stack.push(p);
            } else if meta.is_file()
                && (name.ends_with(".so") || name.contains(".so."))
                && !name.ends_with(".py")
            {
                let bytes = std::fs::read(&p).unwrap();
                if bytes.starts_with(b"\x7fELF") && bytes[16] == 3 {
                    out.push(p.strip_prefix(root).unwrap().to_path_buf());
                }
            }
        }
    }
    out.sort();
    out
}

/// abidiff's verdict on symbols (no debug info: symbol tables only): removed or changed
/// symbols are breaking, added ones compatible.
fn abidiff_verdict(old: &Path, new: &Path) -> &'static str {
    let out = duct::cmd!("abidiff", old, new)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code & 1 == 0 && code >= 0,
        "abidiff failed on {}",
        old.display()
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let count = |word: &str| -> u64 {
        text.lines()
            .filter(|l| l.contains("changes summary:"))
            .flat_map(|l| l.split(',').map(str::trim).collect::<Vec<_>>())
            .filter_map(|part| {
                let part = part.rsplit(':').next().unwrap_or(part).trim();
                let mut words = part.split_whitespace();
                let n = words.next()?.parse::<u64>().ok()?;
                (words.next() == Some(word)).then_some(n)
            })
            .sum()
    };
    if code & 8 != 0 || count("Removed") > 0 || count("Changed") > 0 {
        "breaking"
    } else if count("Added") > 0 {
        "compatible"
    } else {
        "identical"
    }
}

/// abicut's verdict on the symbols of two libraries: its diff without layout and warning
/// changes, which abidiff does not look at.
fn abicut_symbol_verdict(old: &Path, new: &Path) -> String {
    let (_, report) = abicut_json(&[
        "diff",
        "--json",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
    ]);
    let verdicts: Vec<&str> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !matches!(c["reason"].as_str(), Some("layout" | "warning_changed")))
        .map(|c| c["verdict"].as_str().unwrap())
        .collect();
    ["breaking", "compatible"]
        .into_iter()
        .find(|v| verdicts.contains(v))
        .unwrap_or("identical")
        .to_string()
}

/// Two unpacked builds, their trees, and abidiff's agreement on every shared object.
struct Pair {
    old_root: PathBuf,
    new_root: PathBuf,
    old_tree: PathBuf,
    new_tree: PathBuf,
    _dir: tempfile::TempDir,
}

fn pair(packages: &[&str], oldest: bool) -> Option<Pair> {
    if !["apt-get", "apt-cache", "dpkg", "abidiff"]
        .iter()
        .all(|t| have(t))
    {
        return None;
    }
    let all = versions(packages[0]);
    if all.len() < 2 {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the archive offers one build of {}",
            packages[0]
        );
        eprintln!("SKIPPED: one build of {} in the archive", packages[0]);
        return None;
    }
    let new = &all[0];
    let old = if oldest { &all[all.len() - 1] } else { &all[1] };
    eprintln!("{}: {old} → {new}", packages.join(" + "));
    let dir = tempfile::tempdir().unwrap();
    let old_root = fetch(packages, old, &dir.path().join("old"));
    let new_root = fetch(packages, new, &dir.path().join("new"));
    let old_tree = tree(&old_root, &dir.path().join("old-tree"));
    let new_tree = tree(&new_root, &dir.path().join("new-tree"));
    let pair = Pair {
        old_root,
        new_root,
        old_tree,
        new_tree,
        _dir: dir,
    };
    pair.assert_abidiff_agrees();
    Some(pair)
}

impl Pair {
    fn assert_abidiff_agrees(&self) {
        let mut compared = 0;
        let mut disagree = Vec::new();
        for rel in shared_objects(&self.old_root) {
            let (old, new) = (self.old_root.join(&rel), self.new_root.join(&rel));
            if !new.is_file() {
                continue;
            }
            compared += 1;
            let ours = abicut_symbol_verdict(&old, &new);
            let theirs = abidiff_verdict(&old, &new);
            if ours != theirs {
                disagree.push(format!(
                    "{}: abicut {ours}, abidiff {theirs}",
                    rel.display()
                ));
            }
        }
        eprintln!(
            "abidiff agrees on {} of {compared} shared objects",
            compared - disagree.len()
        );
        assert!(compared > 0);
        assert!(disagree.is_empty(), "{}", disagree.join("\n"));
    }

    fn diff(&self, headers: &str) -> (i32, Value) {
        abicut_json(&[
            "diff",
            "--json",
            "--headers",
            headers,
            self.old_tree.to_str().unwrap(),
            self.new_tree.to_str().unwrap(),
        ])
    }
}

fn changes(report: &Value) -> Vec<Value> {
    report["changes"].as_array().unwrap().clone()
}

fn subject_path(change: &Value) -> String {
    let subject = change["subject"].as_str().unwrap();
    let subject = subject.strip_prefix("file ").unwrap_or(subject);
    subject.split(": ").next().unwrap().to_string()
}

/// Paths `diff -r` reports as differing or present on one side only, under `sub`.
fn diff_r(old: &Path, new: &Path, sub: &str) -> BTreeSet<String> {
    let out = duct::cmd!("diff", "-rq", old.join(sub), new.join(sub))
        .unchecked()
        .read()
        .unwrap();
    let old_prefix = format!("{}/", old.display());
    let new_prefix = format!("{}/", new.display());
    out.lines()
        .filter_map(|l| {
            if let Some(rest) = l.strip_prefix("Files ") {
                let path = rest.split(" and ").next()?;
                return Some(path.strip_prefix(&old_prefix)?.to_string());
            }
            let rest = l.strip_prefix("Only in ")?;
            let (dir, name) = rest.split_once(": ")?;
            let dir = format!("{dir}/");
            let rel = dir
                .strip_prefix(&old_prefix)
                .or_else(|| dir.strip_prefix(&new_prefix))?;
            Some(format!("{rel}{name}"))
        })
        .collect()
}

fn assert_shared_objects_identical(report: &Value) {
    let so: Vec<String> = changes(report)
        .iter()
        .map(subject_path)
        .filter(|p| p.contains(".so"))
        .collect();
    assert!(so.is_empty(), "shared objects changed: {so:?}");
}

#[test]
fn real_update_libc6() {
    let Some(p) = pair(&["libc6", "libc6-dev"], false) else {
        return;
    };
    let (code, report) = p.diff("exact");
    assert_eq!(code, 2, "{report:#}");
    assert_eq!(report["verdict"], "breaking");
    assert_shared_objects_identical(&report);
    let ours: BTreeSet<String> = changes(&report).iter().map(subject_path).collect();
    let theirs = diff_r(&p.old_root, &p.new_root, "usr/include");
    assert!(!theirs.is_empty());
    assert_eq!(ours, theirs, "abicut and diff -r name different headers");
    // libm: some function became an IFUNC (or back); abicut sees no change.
    let libm = "lib/x86_64-linux-gnu/libm.so.6";
    let types = |root: &Path| -> BTreeSet<String> {
        run(
            "readelf",
            &["--dyn-syms", "-W", root.join(libm).to_str().unwrap()],
            root,
        )
        .lines()
        .filter(|l| l.contains("FUNC"))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(format!("{} {}", f.get(7)?, f.get(3)?))
        })
        .collect()
    };
    let (old_types, new_types) = (types(&p.old_root), types(&p.new_root));
    let flipped: Vec<_> = old_types.symmetric_difference(&new_types).collect();
    assert!(
        flipped.iter().any(|s| s.ends_with("IFUNC")),
        "no FUNC/IFUNC change in libm: {flipped:?}"
    );
    eprintln!("libm type changes: {flipped:?}");
    let (code, _) = abicut_json(&[
        "diff",
        "--json",
        p.old_root.join(libm).to_str().unwrap(),
        p.new_root.join(libm).to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "FUNC → IFUNC counted as a change");
}

#[test]
fn real_update_libssl3_reformatted_headers() {
    let Some(p) = pair(&["libssl3", "libssl-dev"], true) else {
        return;
    };
    let (code, exact) = p.diff("exact");
    assert_eq!(code, 2);
    assert_shared_objects_identical(&exact);
    let (_, tokens) = p.diff("tokens");
    let exact_headers: BTreeSet<String> = changes(&exact)
        .iter()
        .filter(|c| c["reason"] == "content_changed" && subject_path(c).starts_with("usr/include"))
        .map(subject_path)
        .collect();
    let token_changed: BTreeSet<String> = changes(&exact)
        .iter()
        .filter(|c| c["tokens_changed"] == true)
        .map(subject_path)
        .filter(|p| p.starts_with("usr/include"))
        .collect();
    let tokens_headers: BTreeSet<String> = changes(&tokens)
        .iter()
        .filter(|c| c["reason"] == "content_changed")
        .map(subject_path)
        .filter(|p| p.starts_with("usr/include"))
        .collect();
    eprintln!(
        "libssl headers: {} changed bytes, {} changed tokens",
        exact_headers.len(),
        tokens_headers.len()
    );
    assert_eq!(tokens_headers, token_changed);
    assert!(
        tokens_headers.len() < exact_headers.len(),
        "no reformat-only header in this update"
    );
}

fn symbols_added(packages: &[&str]) {
    let Some(p) = pair(packages, false) else {
        return;
    };
    let (code, report) = p.diff("exact");
    let all = changes(&report);
    let symbol_changes: Vec<&Value> = all
        .iter()
        .filter(|c| c["subject"].as_str().unwrap().contains(": symbol "))
        .collect();
    assert!(
        symbol_changes.iter().any(|c| c["reason"] == "added"),
        "no symbol added: {report:#}"
    );
    assert!(
        symbol_changes.iter().all(|c| c["verdict"] == "compatible"),
        "{report:#}"
    );
    let header_changes = all
        .iter()
        .filter(|c| subject_path(c).contains("include/"))
        .count();
    eprintln!(
        "{}: tree verdict {} ({header_changes} header changes)",
        packages[0], report["verdict"]
    );
    if header_changes == 0 {
        assert_eq!(code, 1, "{report:#}");
    }
}

#[test]
fn real_update_libexpat1() {
    symbols_added(&["libexpat1", "libexpat1-dev"]);
}

#[test]
fn real_update_libxml2() {
    symbols_added(&["libxml2", "libxml2-dev"]);
}

// ---------------------------------------------------------------- report shape

/// A hand-written interface (canonical JSON, schema 2), so the snapshot depends on no
/// compiler or linker.
fn interface_json(symbols: &[Value], versions: &[&str], needed: &[&str]) -> String {
    let mut defs =
        vec![serde_json::json!({"flags": 1, "index": 1, "name": "libfoo.so.1", "parents": []})];
    for (i, v) in versions.iter().enumerate() {
        defs.push(serde_json::json!({"flags": 0, "index": i + 2, "name": v, "parents": []}));
    }
    serde_json::json!({
        "file": {"abi_version": 0, "big_endian": false, "elf64": true, "flags": 0, "machine": 62, "os_abi": 0},
        "imports": [], "needed": needed, "needs": [], "schema": 2, "sections": [],
        "soname": "libfoo.so.1", "symbols": symbols, "versions": defs, "warnings": {}
    })
    .to_string()
}

fn sym(name: &str, version: &str, kind: &str, size: u64, region: &str, position: u32) -> Value {
    let mut s = serde_json::json!({
        "binding": "global", "kind": kind, "name": name, "position": position,
        "region": region, "size": size, "version": version, "visibility": "default"
    });
    if kind == "object" {
        s["align"] = 4.into();
        s["section_align"] = 32.into();
    }
    s
}

#[test]
fn report_names_every_reason() {
    let dir = tempfile::tempdir().unwrap();
    let old = interface_json(
        &[
            sym("foo_f", "V1", "func", 0, "text", 1),
            sym("foo_g", "V1", "func", 0, "text", 2),
            sym("foo_table", "V1", "object", 16, "data", 3),
            sym("foo_count", "V1", "object", 4, "data", 4),
            sym("foo_gone", "V1", "func", 0, "text", 5),
            sym("foo_old", "V1", "func", 0, "text", 6),
        ],
        &["V1"],
        &["libc.so.6"],
    );
    let mut weak = sym("foo_f", "V1", "func", 0, "text", 1);
    weak["binding"] = "weak".into();
    let mut hidden = sym("foo_old", "V1", "func", 0, "text", 6);
    hidden["hidden"] = true.into();
    let new = interface_json(
        &[
            weak,
            sym("foo_g", "V2", "func", 0, "text", 2),
            sym("foo_table", "V1", "object", 32, "data", 3),
            sym("foo_count", "V1", "object", 4, "relro", 4),
            sym("foo_h", "V2", "func", 0, "text", 5),
            hidden,
        ],
        &["V1", "V2"],
        &["libc.so.6", "libm.so.6"],
    );
    let (o, n) = (dir.path().join("old.json"), dir.path().join("new.json"));
    std::fs::write(&o, old).unwrap();
    std::fs::write(&n, new).unwrap();
    let (code, report) = abicut_json(&["diff", "--json", o.to_str().unwrap(), n.to_str().unwrap()]);
    assert_eq!(code, 2);
    let text = duct::cmd(
        bin_path(),
        ["diff", o.to_str().unwrap(), n.to_str().unwrap()],
    )
    .unchecked()
    .read()
    .unwrap();
    insta::with_settings!({snapshot_path => "../snapshots"}, {
        insta::assert_json_snapshot!("diff_report", report);
        insta::assert_snapshot!("diff_report_text", text);
    });
    let (code, report) = abicut_json(&["diff", "--json", o.to_str().unwrap(), o.to_str().unwrap()]);
    assert_eq!((code, report["verdict"].as_str()), (0, Some("identical")));
}

#[test]
fn diff_errors_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.json");
    std::fs::write(&file, "{not json").unwrap();
    for args in [
        vec!["diff", dir.path().to_str().unwrap(), file.to_str().unwrap()],
        vec!["diff", file.to_str().unwrap(), file.to_str().unwrap()],
        vec!["diff", "/nonexistent/a", "/nonexistent/b"],
    ] {
        let out = duct::cmd(bin_path(), &args)
            .stderr_capture()
            .stdout_capture()
            .unchecked()
            .run()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
}

/// Every reason a diff of two interfaces can give that the snapshot above does not show,
/// each produced by one edit of a hand-written interface (canonical JSON), with the verdict
/// the reason carries.
#[test]
fn every_interface_reason_is_produced() {
    let base = || -> Value {
        let mut a = sym("foo_a", "V1", "object", 4, "data", 3);
        let b = sym("foo_b", "V1", "object", 4, "data", 4);
        a["alias_of"] = Value::Null;
        serde_json::from_str(&interface_json(
            &[
                sym("foo_f", "V1", "func", 0, "text", 1),
                sym("foo_g", "V1", "func", 0, "text", 2),
                a,
                b,
            ],
            &["V1", "V2"],
            &["libc.so.6"],
        ))
        .unwrap()
    };
    let symbol = |v: &mut Value, name: &str| -> usize {
        v["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .position(|s| s["name"] == name)
            .unwrap()
    };
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, &str, Edit)> = vec![
        (
            "type_changed",
            "breaking",
            Box::new(move |v: &mut Value| {
                let i = symbol(v, "foo_g");
                v["symbols"][i]["kind"] = "notype".into();
            }),
        ),
        (
            "visibility_changed",
            "breaking",
            Box::new(move |v: &mut Value| {
                let i = symbol(v, "foo_f");
                v["symbols"][i]["visibility"] = "protected".into();
            }),
        ),
        (
            "other_changed",
            "breaking",
            Box::new(move |v: &mut Value| {
                let i = symbol(v, "foo_f");
                v["symbols"][i]["other"] = 128.into();
            }),
        ),
        (
            "alias_changed",
            "breaking",
            Box::new(move |v: &mut Value| {
                let i = symbol(v, "foo_b");
                v["symbols"][i]["alias_of"] = "foo_a@@V1".into();
            }),
        ),
        (
            "soname_changed",
            "breaking",
            Box::new(|v: &mut Value| v["soname"] = "libfoo.so.2".into()),
        ),
        (
            "version_node_changed",
            "breaking",
            Box::new(|v: &mut Value| v["versions"][2]["parents"] = serde_json::json!(["V1"])),
        ),
        (
            "section_changed",
            "breaking",
            Box::new(|v: &mut Value| {
                v["sections"] = serde_json::json!([{
                    "align": 8, "data": "04000000", "flags": 2,
                    "name": ".note.gnu.property", "type": 7
                }])
            }),
        ),
        (
            "warning_changed",
            "compatible",
            Box::new(|v: &mut Value| {
                v["warnings"] = serde_json::json!({"foo_g": "foo_g is deprecated"})
            }),
        ),
        (
            "file_class_changed",
            "breaking",
            Box::new(|v: &mut Value| v["file"]["os_abi"] = 3.into()),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.json");
    std::fs::write(&old, base().to_string()).unwrap();
    let (code, report) = abicut_json(&[
        "diff",
        "--json",
        old.to_str().unwrap(),
        old.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{report}");
    let mut failures = Vec::new();
    for (reason, verdict, edit) in &cases {
        let mut new = base();
        edit(&mut new);
        let path = dir.path().join(format!("{reason}.json"));
        std::fs::write(&path, new.to_string()).unwrap();
        let (_, report) = abicut_json(&[
            "diff",
            "--json",
            old.to_str().unwrap(),
            path.to_str().unwrap(),
        ]);
        let found = changes(&report)
            .iter()
            .any(|c| c["reason"] == *reason && c["verdict"] == *verdict);
        if !found {
            failures.push(format!("{reason} ({verdict}) not in {report}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// abidiff's incompatible-change verdict (exit bit 8) and abicut's breaking one on the same
/// pair: a library that drops an exported function.
#[test]
fn abidiff_incompatible_change_is_breaking() {
    if !have("gcc") || !have("abidiff") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let build = |name: &str, source: &str| -> PathBuf {
        let src = dir.path().join(format!("{name}.c"));
        std::fs::write(&src, source).unwrap();
        let lib = dir.path().join(format!("{name}/libdrop.so.1"));
        std::fs::create_dir_all(lib.parent().unwrap()).unwrap();
        run(
            "gcc",
            &[
                "-g",
                "-shared",
                "-fPIC",
                "-Wl,-soname,libdrop.so.1",
                src.to_str().unwrap(),
                "-o",
                lib.to_str().unwrap(),
            ],
            dir.path(),
        );
        lib
    };
    let old = build(
        "old",
        "int drop_kept(int x) { return x + 1; }\nint drop_gone(int x) { return x * 2; }\n",
    );
    let new = build("new", "int drop_kept(int x) { return x + 1; }\n");
    let abidiff = duct::cmd!("abidiff", &old, &new)
        .stdout_capture()
        .unchecked()
        .run()
        .unwrap();
    let code = abidiff.status.code().unwrap_or(-1);
    assert!(
        code >= 0 && code & 8 != 0,
        "abidiff exit {code}, not an incompatible change:\n{}",
        String::from_utf8_lossy(&abidiff.stdout)
    );
    assert_eq!(abidiff_verdict(&old, &new), "breaking");
    let (code, report) = abicut_json(&[
        "diff",
        "--json",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
    ]);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (2, Some("breaking")),
        "{report}"
    );
    assert!(
        changes(&report).iter().any(|c| c["reason"] == "removed"
            && c["subject"].as_str().unwrap_or("").contains("drop_gone")),
        "{report}"
    );
}

/// A library that gained an import no library of its closure defines (flex's `libfl` and
/// `yylex`) now needs every program to define it, or the program dies at start: the diff
/// names the import and calls it breaking, not "layout". A new weak import (a hook a program
/// may define) is compatible; a dropped import is compatible.
#[test]
fn an_import_the_program_owes_is_named_and_judged() {
    if !have("cc") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lib = |name: &str, src: &str| -> PathBuf {
        let c = d.join(format!("{name}.c"));
        std::fs::write(&c, src).unwrap();
        let so = d.join(format!("{name}.so"));
        run(
            "cc",
            &[
                "-shared",
                "-fPIC",
                "-o",
                so.to_str().unwrap(),
                c.to_str().unwrap(),
            ],
            d,
        );
        so
    };
    let old = lib("old", "int f(void) { return 1; }\n");
    let strong = lib(
        "strong",
        "int yylex(void);\nint f(void) { return yylex(); }\n",
    );
    let weak = lib(
        "weak",
        "int hook(void) __attribute__((weak));\nint f(void) { return hook ? hook() : 1; }\n",
    );
    for (a, b, code, reason, verdict) in [
        (&old, &strong, 2, "import_added", "breaking"),
        (&old, &weak, 1, "weak_import_added", "compatible"),
        (&strong, &old, 1, "import_removed", "compatible"),
    ] {
        let (got, report) =
            abicut_json(&["diff", "--json", a.to_str().unwrap(), b.to_str().unwrap()]);
        assert_eq!(got, code, "{report}");
        let name = if reason == "weak_import_added" {
            "hook"
        } else {
            "yylex"
        };
        let found = changes(&report).iter().any(|c| {
            c["reason"] == reason
                && c["verdict"] == verdict
                && c["subject"] == format!("import {name}")
        });
        assert!(found, "{reason} of {name} not in {report}");
    }
    // A text side is read without its dependencies; against a library its imports are
    // judged by that library's closure, so libc's names are no new import.
    let exact = d.join("strong-exact.json");
    run(
        bin_path(),
        &[
            "stubgen",
            "--exact",
            "--format",
            "json",
            "-o",
            exact.to_str().unwrap(),
            strong.to_str().unwrap(),
        ],
        d,
    );
    for (a, b) in [(&strong, &exact), (&exact, &strong)] {
        let (got, report) =
            abicut_json(&["diff", "--json", a.to_str().unwrap(), b.to_str().unwrap()]);
        assert_eq!(got, 0, "{report}");
    }
    let text = std::process::Command::new(bin_path())
        .args(["diff".as_ref(), old.as_os_str(), strong.as_os_str()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("import yylex") && text.contains("undefined symbol: yylex"),
        "{text}"
    );
}

/// A version bump moves every symbol (libLLVM-14 -> libLLVM-15): each is one move, found
/// by name, and a name added twice under the new version moves to its default one (the
/// hidden one is an addition). 20,000 symbols: scanning every addition for each removal,
/// as the diff once did, took minutes on libLLVM.
#[test]
fn a_version_bump_moves_every_symbol() {
    let dir = tempfile::tempdir().unwrap();
    let count = 20_000u32;
    let names: Vec<String> = (0..count).map(|i| format!("f{i:05}")).collect();
    let old: Vec<Value> = names
        .iter()
        .zip(0..)
        .map(|(n, p)| sym(n, "V1", "func", 0, "text", p))
        .collect();
    let mut new: Vec<Value> = names
        .iter()
        .zip(0..)
        .map(|(n, p)| sym(n, "V2", "func", 0, "text", p))
        .collect();
    let mut hidden = sym("f00000", "V1H", "func", 0, "text", count);
    hidden["hidden"] = true.into();
    new.insert(0, hidden);
    let (old_file, new_file) = (dir.path().join("old.json"), dir.path().join("new.json"));
    std::fs::write(&old_file, interface_json(&old, &["V1"], &[])).unwrap();
    std::fs::write(&new_file, interface_json(&new, &["V1H", "V2"], &[])).unwrap();
    let (code, report) = abicut_json(&[
        "diff",
        old_file.to_str().unwrap(),
        new_file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 2, "a symbol moved to another version breaks");
    let reasons = |reason: &str| -> Vec<String> {
        changes(&report)
            .iter()
            .filter(|c| c["reason"] == reason)
            .map(|c| c["subject"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(reasons("version_changed").len(), count as usize);
    assert!(
        reasons("version_changed").contains(&"symbol f00000@@V1".to_owned()),
        "{:?}",
        &reasons("version_changed")[..3]
    );
    let added = reasons("added");
    assert!(added.contains(&"symbol f00000@V1H".to_owned()), "{added:?}");
    assert!(reasons("removed").iter().all(|s| s.starts_with("version ")));
}

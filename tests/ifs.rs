//! llvm-ifs text in and out, with llvm-ifs 14 as the oracle of what is valid: flow-style
//! sequences read as llvm-ifs reads them, malformed ones refused as it refuses them, and a
//! library diffed against its own IFS loses only what the IFS says it cannot carry.

mod support;

use std::path::Path;
use support::{have, on_path, run_abicut_in};

const SYSTEM: &str = "/usr/lib/x86_64-linux-gnu";
const HEAD: &str = "--- !ifs-v1\nIfsVersion: 3.0\n\
                    Target: { ObjectFormat: ELF, Arch: x86_64, Endianness: little, BitWidth: 64 }\n";

/// llvm-ifs 14 (Debian's llvm package installs it under this name).
fn llvm_ifs() -> Option<&'static str> {
    let found = ["llvm-ifs", "llvm-ifs-14"].into_iter().find(|t| on_path(t));
    if found.is_none() {
        have("llvm-ifs-14");
    }
    found
}

/// Runs llvm-ifs on `file`, writing its block-style IFS to `out`: (success, stderr).
fn llvm_reads(tool: &str, file: &Path, out: &Path) -> (bool, String) {
    let run = std::process::Command::new(tool)
        .arg(format!("--output-ifs={}", out.display()))
        .arg(file)
        .output()
        .expect("llvm-ifs runs");
    (
        run.status.success(),
        String::from_utf8_lossy(&run.stderr).into_owned(),
    )
}

#[test]
fn flow_sequences_read_as_llvm_ifs_reads_them() {
    let Some(tool) = llvm_ifs() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        "Symbols: [ { Name: foo, Type: Func } ]\n",
        "NeededLibs: [ libc.so.6, 'libm.so.6' ]\nSymbols: [\n  { Name: foo, Type: Func },\n  { Name: 'bar', Type: Object, Size: 4 } ]\n",
        "Symbols: [ { Name: foo, Type: Func }, { Name: w, Type: Func, Weak: true },\n  { Name: u, Type: Func, Undefined: true } ]\n",
        "Symbols: []\n",
    ];
    for (i, body) in cases.iter().enumerate() {
        let flow = dir.path().join(format!("flow{i}.ifs"));
        std::fs::write(&flow, format!("{HEAD}{body}...\n")).expect("write");
        let block = dir.path().join(format!("block{i}.ifs"));
        let (ok, stderr) = llvm_reads(tool, &flow, &block);
        assert!(ok, "llvm-ifs refuses case {i}: {stderr}");
        let ours = run_abicut_in(
            &["stubgen", "--format", "json", flow.to_str().expect("utf-8")],
            dir.path(),
        );
        let theirs = run_abicut_in(
            &[
                "stubgen",
                "--format",
                "json",
                block.to_str().expect("utf-8"),
            ],
            dir.path(),
        );
        assert_eq!(ours.0, 0, "case {i}: {}", ours.2);
        assert_eq!(theirs.0, 0, "case {i}: {}", theirs.2);
        // llvm-ifs sorts symbols by name, so positions are not compared.
        let symbols = |json: &str| -> serde_json::Value {
            let mut v: serde_json::Value = serde_json::from_str(json).expect("json");
            for list in ["symbols", "imports"] {
                for s in v[list].as_array_mut().into_iter().flatten() {
                    s.as_object_mut().map(|o| o.remove("position"));
                }
            }
            serde_json::json!([v["symbols"], v["imports"], v["needed"]])
        };
        assert_eq!(
            symbols(&ours.1),
            symbols(&theirs.1),
            "case {i}: the flow style reads as llvm-ifs's block style of it"
        );
        if i < 3 {
            assert_ne!(symbols(&ours.1)[0], serde_json::json!([]), "case {i}");
        }
    }
}

#[test]
fn unterminated_flow_sequence_is_refused_as_llvm_ifs_refuses_it() {
    let Some(tool) = llvm_ifs() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("open.ifs");
    std::fs::write(
        &file,
        format!("{HEAD}Symbols: [\n  {{ Name: foo, Type: Func }},\n...\n"),
    )
    .expect("write");
    let (ok, stderr) = llvm_reads(tool, &file, &dir.path().join("x.ifs"));
    assert!(!ok, "llvm-ifs accepts it: {stderr}");
    assert!(stderr.contains("closing ]"), "{stderr}");
    let (code, stdout, stderr) = run_abicut_in(
        &["stubgen", "--format", "json", file.to_str().expect("utf-8")],
        dir.path(),
    );
    assert_eq!(code, 3, "{stdout}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("open.ifs") && stderr.contains("no closing ]"),
        "{stderr}"
    );
}

/// Writes `abicut stubgen --format ifs LIB` into `dir` and returns its path and text.
fn own_ifs(lib: &str, dir: &Path) -> (std::path::PathBuf, String) {
    let (code, text, stderr) = run_abicut_in(
        &["stubgen", "--format", "ifs", &format!("{SYSTEM}/{lib}")],
        dir,
    );
    assert_eq!(code, 0, "{stderr}");
    let path = dir.join(format!("{lib}.ifs"));
    std::fs::write(&path, &text).expect("write");
    (path, text)
}

#[test]
fn a_library_and_its_own_ifs_differ_only_in_what_the_ifs_says_it_cannot_carry() {
    let Some(tool) = llvm_ifs() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    // libz: versions with parents and marker symbols, nothing IFS cannot carry.
    let (z, text) = own_ifs("libz.so.1", dir.path());
    assert!(!text.contains("cannot carry"), "{text}");
    let (code, stdout, stderr) = run_abicut_in(
        &[
            "diff",
            &format!("{SYSTEM}/libz.so.1"),
            z.to_str().expect("utf-8"),
        ],
        dir.path(),
    );
    assert_eq!((code, stdout.as_str()), (0, "identical\n"), "{stderr}");
    // libc and libstdc++: each IFS names what it loses, the diff notes it, and finds
    // nothing else.
    for lib in ["libc.so.6", "libstdc++.so.6"] {
        let (ifs, text) = own_ifs(lib, dir.path());
        let said = text
            .lines()
            .find_map(|l| l.strip_prefix("# abicut: IFS cannot carry "))
            .unwrap_or_else(|| panic!("{lib}'s IFS says what it cannot carry"))
            .to_owned();
        let (ok, stderr) = llvm_reads(tool, &ifs, &dir.path().join("back.ifs"));
        assert!(ok, "llvm-ifs refuses abicut's IFS of {lib}: {stderr}");
        let ifs = ifs.to_str().expect("utf-8");
        let (_, report, stderr) =
            run_abicut_in(&["diff", &format!("{SYSTEM}/{lib}"), ifs], dir.path());
        let note = format!("note: {ifs} is llvm-ifs text, which cannot carry {said}");
        assert!(
            report.lines().any(|l| l == note),
            "{lib}: no `{note}`\n{report}"
        );
        let (_, json, _) = run_abicut_in(
            &["diff", "--json", &format!("{SYSTEM}/{lib}"), ifs],
            dir.path(),
        );
        let json: serde_json::Value = serde_json::from_str(&json).expect("diff --json");
        assert_eq!(
            json["notes"],
            serde_json::json!([&note["note: ".len()..]]),
            "{lib}"
        );
        for line in report.lines().skip(1).filter(|l| !l.starts_with("note: ")) {
            let named = [
                ("alias", "alias groups"),
                ("align", "alignment"),
                ("section", "arch sections"),
                ("warning", "link warnings"),
                ("binding changed (unique → global)", "unique symbols"),
            ]
            .iter()
            .any(|(seen, says)| line.contains(seen) && said.contains(says));
            assert!(
                named,
                "{lib}: a loss the IFS does not name: {line}\n{said}\n{stderr}"
            );
        }
    }
}

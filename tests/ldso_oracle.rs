//! ld.so as the oracle for reading: real libraries (libz, libpng, libexpat) and a program
//! grown by patchelf, corrupted field by field (ELF header, program headers, dynamic
//! entries, hash and version records, truncations). For every variant, `abicut verify FILE`
//! must refuse it exactly when `LD_BIND_NOW=1` ld.so refuses to load it (a library through
//! `dlopen`, the program by running it); variants that crash ld.so or hang are set aside
//! and counted. And an `elf` edit of a variant ld.so loads must never give a file it
//! refuses. `cargo test --profile ci --test ldso_oracle -- --nocapture` prints the counts.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use support::corrupt::{DLOPEN_C, Verdict, ldso, variants};
use support::files::cc;
use support::{have, run_abicut};

const LIBS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/libz.so.1",
    "/usr/lib/x86_64-linux-gnu/libpng16.so.16",
    "/usr/lib/x86_64-linux-gnu/libexpat.so.1",
];

/// A position-dependent program with a large `.dynstr`, grown by patchelf as nixpkgs'
/// fixup does: its string table spans two segments.
fn grown_program(work: &Path) -> PathBuf {
    let mut src = String::from("#include <zlib.h>\n");
    for i in 0..300 {
        src.push_str(&format!(
            "int exported_function_number_{i}(void) {{ return {i}; }}\n"
        ));
    }
    src.push_str("int main(void) { return zlibVersion()[0] == '1' ? 0 : 1; }\n");
    let prog = work.join("grown");
    cc(work, "grown", &src, &prog, &["-no-pie", "-rdynamic", "-lz"]);
    let rpath = format!("/tmp/{}/lib", "r".repeat(300));
    support::run(
        "patchelf",
        &["--set-rpath", &rpath, prog.to_str().unwrap()],
        work,
    );
    prog
}

/// Disagreements understood and left open, each with why: (file, variant). Any other
/// disagreement fails the test; one of these that starts agreeing does not.
const KNOWN: &[(&str, &str)] = &[
    // The probe that dlopens a library already has libc loaded, so a library whose need of
    // libc.so.6 is lost (an empty name, or its first dynamic entry skipped) still finds
    // libc's symbols there; verify judges the library without such a program.
    ("libz.so.1", "DT_NEEDED=0"),
    ("libexpat.so.1", "DT_NEEDED=0"),
    ("libz.so.1", "phdr 4 (type 0x2) p_vaddr+0x10"),
    ("libexpat.so.1", "phdr 4 (type 0x2) p_vaddr+0x10"),
    // The name moves onto the tail of another string that happens to load; verify looks
    // the odd name up and does not find it.
    ("libz.so.1", "DT_NEEDED-0x40"),
    ("grown", "DT_NEEDED-0x40"),
    // Overlapping PT_LOADs: ld.so maps one over the other, verify refuses the file.
    ("libpng16.so.16", "phdr 2 (type 0x1) p_vaddr+0x1000"),
    ("libexpat.so.1", "phdr 2 (type 0x1) p_vaddr+0x1000"),
    ("grown", "phdr 11 (type 0x1) p_vaddr+0x1000"),
    // Cut inside what ld.so does not read while loading (the section headers at the end,
    // or a segment it maps but does not touch); verify wants the whole file.
    ("libz.so.1", "cut 16 bytes before the end"),
    ("libpng16.so.16", "cut 16 bytes before the end"),
    ("libexpat.so.1", "cut 16 bytes before the end"),
    ("grown", "cut 16 bytes before the end"),
];

#[derive(Default)]
struct Tally {
    agree: usize,
    /// ld.so refuses, verify passes.
    passed: usize,
    /// ld.so loads, verify refuses.
    refused: usize,
    crashes: usize,
}

/// `abicut verify FILE`: true when it passes; panics on anything but a verdict or an error.
fn verify_passes(file: &Path) -> bool {
    let (code, out, err) = run_abicut(&["verify", file.to_str().unwrap()]);
    assert!(
        matches!(code, 0 | 1 | 3),
        "{}: exit {code}: {out}{err}",
        file.display()
    );
    code == 0
}

/// Grows `file` with `elf`; true when the edit was made (a refusal leaves it untouched).
fn edit(file: &Path) -> bool {
    let rpath = format!("/tmp/{}/lib", "e".repeat(300));
    let f = file.to_str().unwrap();
    let (code, out, err) =
        run_abicut(&["elf", "--set-rpath", &rpath, "--add-needed", "libm.so.6", f]);
    assert!(matches!(code, 0 | 3), "{f}: exit {code}: {out}{err}");
    code == 0
}

struct Case {
    source: String,
    kind: String,
    detail: String,
    file: PathBuf,
    program: bool,
}

#[test]
fn verify_refuses_exactly_what_ld_so_refuses() {
    if !have("cc") || !have("patchelf") || LIBS.iter().any(|l| !have(l)) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let probe = work.join("probe");
    cc(work, "probe", DLOPEN_C, &probe, &["-ldl"]);
    let mut sources: Vec<(PathBuf, bool)> =
        LIBS.iter().map(|l| (PathBuf::from(l), false)).collect();
    sources.push((grown_program(work), true));
    let mut cases = Vec::new();
    for (source, program) in &sources {
        let bytes = fs::read(source).unwrap();
        let name = source.file_name().unwrap();
        for (i, v) in variants(&bytes).into_iter().enumerate() {
            let dir = work.join(format!("{}-{i}", name.to_string_lossy()));
            fs::create_dir_all(&dir).unwrap();
            let file = dir.join(name);
            fs::write(&file, &v.bytes).unwrap();
            fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).unwrap();
            cases.push(Case {
                source: name.to_string_lossy().into_owned(),
                kind: v.kind,
                detail: v.detail,
                file,
                program: *program,
            });
        }
        // The originals load, and verify passes them: the baseline every variant departs from.
        assert_eq!(
            ldso(source, &probe, *program),
            Verdict::Loads,
            "{}",
            source.display()
        );
        assert!(verify_passes(source), "{}", source.display());
    }
    let results: Vec<(Verdict, bool, Option<Verdict>)> = std::thread::scope(|s| {
        let chunks: Vec<_> = cases
            .chunks(cases.len().div_ceil(2))
            .map(|chunk| {
                s.spawn(|| {
                    chunk
                        .iter()
                        .map(|c| judge_case(c, &probe))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        chunks.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut by_kind: BTreeMap<String, Tally> = BTreeMap::new();
    let (mut wrong, mut known) = (Vec::new(), Vec::new());
    let mut broken_by_edit = Vec::new();
    let (mut edited, mut total) = (0, Tally::default());
    for (c, (ld, passes, after_edit)) in cases.iter().zip(results) {
        let t = by_kind.entry(c.kind.clone()).or_default();
        let what = format!(
            "{} {}: ld.so {ld:?}, verify {}",
            c.source,
            c.detail,
            if passes { "passes" } else { "refuses" }
        );
        match (ld, passes) {
            (Verdict::Crashes, _) => t.crashes += 1,
            (Verdict::Loads, true) | (Verdict::Refuses, false) => t.agree += 1,
            (Verdict::Refuses, true) => t.passed += 1,
            (Verdict::Loads, false) => t.refused += 1,
        }
        if (ld == Verdict::Loads) != passes && ld != Verdict::Crashes {
            let listed = KNOWN.contains(&(c.source.as_str(), c.detail.as_str()));
            if listed { &mut known } else { &mut wrong }.push(what);
        }
        if let Some(after) = after_edit {
            edited += 1;
            if after != Verdict::Loads {
                broken_by_edit.push(format!(
                    "{} {}: after elf edit ld.so {after:?}",
                    c.source, c.detail
                ));
            }
        }
    }
    let mut table = format!(
        "{:<22} {:>6} {:>14} {:>14} {:>8}\n",
        "kind", "agree", "ld.so refuses", "ld.so loads", "crashes"
    );
    table.push_str(&format!(
        "{:<22} {:>6} {:>14} {:>14} {:>8}\n",
        "", "", "verify passes", "verify refuses", "(aside)"
    ));
    for (kind, t) in &by_kind {
        table.push_str(&format!(
            "{kind:<22} {:>6} {:>14} {:>14} {:>8}\n",
            t.agree, t.passed, t.refused, t.crashes
        ));
        total.agree += t.agree;
        total.passed += t.passed;
        total.refused += t.refused;
        total.crashes += t.crashes;
    }
    table.push_str(&format!(
        "{:<22} {:>6} {:>14} {:>14} {:>8}\n{} variants; {edited} that ld.so loads were grown by `elf`, {} of them then refused\n",
        "total", total.agree, total.passed, total.refused, total.crashes, cases.len(), broken_by_edit.len()
    ));
    println!("{table}");
    for w in &known {
        println!("known, left open: {w}");
    }
    for w in &wrong {
        println!("disagree: {w}");
    }
    assert!(cases.len() >= 300, "{} variants", cases.len());
    assert!(broken_by_edit.is_empty(), "{}", broken_by_edit.join("\n"));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// ld.so's verdict, verify's, and (when ld.so loads the variant) ld.so's on a grown copy.
fn judge_case(c: &Case, probe: &Path) -> (Verdict, bool, Option<Verdict>) {
    let ld = ldso(&c.file, probe, c.program);
    let passes = verify_passes(&c.file);
    let after = (ld == Verdict::Loads).then(|| {
        let copy = c.file.with_extension("edited");
        let copy = copy
            .parent()
            .unwrap()
            .join("edited")
            .join(c.file.file_name().unwrap());
        fs::create_dir_all(copy.parent().unwrap()).unwrap();
        fs::copy(&c.file, &copy).unwrap();
        if edit(&copy) {
            Some(ldso(&copy, probe, c.program))
        } else {
            None
        }
    });
    (ld, passes, after.flatten())
}

//! stubgen against real tools: link identity with four linkers on the machine's libraries
//! and Debian's cross C libraries, cutoff and sensitivity on fixtures compiled here, a real
//! ABI-neutral Debian update, bad input, and snapshots of fixture interfaces.

mod support;

use std::path::{Path, PathBuf};
use support::linkcheck::{self, OutputKind, Target, Verdict};
use support::{bin_path, have, on_path, run, run_abicut, unpack_debs};

const SYSTEM: &str = "/usr/lib/x86_64-linux-gnu";

fn make_stub(lib: &Path, dir: &Path) -> PathBuf {
    make_stub_with(lib, dir, &[])
}

fn make_stub_with(lib: &Path, dir: &Path, flags: &[&str]) -> PathBuf {
    let stub = dir.join("stub.so");
    let mut args = vec!["stubgen", "-o", stub.to_str().unwrap()];
    args.extend(flags);
    args.push(lib.to_str().unwrap());
    run(bin_path(), &args, dir);
    stub
}

/// Which stub, and how much identity it must show.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Default stubs leave out imports and accidental over-alignment of data.
    Default,
    /// `--exact`: all combinations, gold included.
    Exact,
}

impl Mode {
    /// Default stubs drop what gold orders by and what copy relocations pad by: they are
    /// judged on bfd, lld and mold PIEs and shared objects, where neither enters.
    fn judges(self, linker: &str, kind: OutputKind) -> bool {
        self == Mode::Exact || (linker != "gold" && kind != OutputKind::Exe)
    }
}

fn assert_link_identity(lib: &Path, target: &Target, mode: Mode) {
    let tools = ["clang", "readelf"];
    if !tools.iter().all(|t| have(t))
        || !target.linkers.iter().all(|(name, flag)| {
            have(
                flag.strip_prefix("--ld-path=")
                    .unwrap_or(&format!("ld.{name}")),
            )
        })
    {
        return;
    }
    if !lib.exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{} is missing",
            lib.display()
        );
        eprintln!("SKIPPED: {} is not installed", lib.display());
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let flags: &[&str] = if mode == Mode::Exact {
        &["--exact"]
    } else {
        &[]
    };
    let stub = make_stub_with(lib, work.path(), flags);
    let report = linkcheck::check_library(lib, &stub, target, work.path()).unwrap();
    let judged: Vec<_> = report
        .results
        .iter()
        .filter(|(linker, kind, _)| mode.judges(linker, *kind))
        .collect();
    let identical = judged
        .iter()
        .filter(|(_, _, v)| *v == Verdict::Identical)
        .count();
    let expected = target
        .linkers
        .iter()
        .flat_map(|(l, _)| OutputKind::ALL.iter().filter(move |k| mode.judges(l, **k)))
        .count();
    assert_eq!(judged.len(), expected);
    assert_eq!(
        identical,
        expected,
        "{} of {expected} combinations identical for {} ({} symbols):\n{}",
        identical,
        lib.display(),
        report.symbols,
        report.failures()
    );
}

macro_rules! native_identity {
    ($($test:ident => $lib:expr,)*) => {$(
        #[test]
        fn $test() {
            let lib = Path::new(SYSTEM).join($lib);
            assert_link_identity(&lib, &Target::native(), Mode::Exact);
        }
    )*};
}

native_identity! {
    identity_libc => "libc.so.6",
    identity_libm => "libm.so.6",
    identity_libstdcxx => "libstdc++.so.6",
    identity_libgcc_s => "libgcc_s.so.1",
    identity_libz => "libz.so.1",
    identity_libcrypto => "libcrypto.so.3",
    identity_libssl => "libssl.so.3",
    identity_libexpat => "libexpat.so.1",
}

macro_rules! cross_identity {
    ($($test:ident => $name:expr,)*) => {$(
        #[test]
        fn $test() {
            let target = linkcheck::cross_target($name);
            for lib in ["libc.so.6", "libm.so.6"] {
                assert_link_identity(&Path::new(target.libdir).join(lib), &target, Mode::Exact);
            }
        }
    )*};
}

cross_identity! {
    cross_i386 => "i386",
    cross_armhf => "armhf",
    cross_arm64 => "arm64",
    cross_ppc64el => "ppc64el",
    cross_riscv64 => "riscv64",
    cross_s390x => "s390x",
    cross_mips => "mips",
}

/// A small versioned library with data, read-only data, TLS, functions and a weak alias.
const FIXTURE: &str = r#"
int fixture_counter = 1;
const int fixture_table[4] = {1, 2, 3, 4};
__thread int fixture_tls;
int fixture_add(int a, int b) { return a + b; }
int fixture_mul(int a, int b) { return a * b; }
extern int fixture_sum(int a, int b) __attribute__((weak, alias("fixture_add")));
"#;

const FIXTURE_MAP: &str = "FIX_1.0 { global: fixture_add; fixture_sum; fixture_counter; \
     fixture_table; fixture_tls; local: *; };\nFIX_2.0 { global: fixture_mul; } FIX_1.0;\n";

struct Fixture {
    source: String,
    map: String,
    flags: Vec<&'static str>,
    soname: &'static str,
}

impl Fixture {
    fn base() -> Fixture {
        Fixture {
            source: FIXTURE.to_string(),
            map: FIXTURE_MAP.to_string(),
            // libc stays needed whatever the library calls, so calls can change alone.
            flags: vec!["-O2", "-Wl,--no-as-needed"],
            soname: "libfix.so.1",
        }
    }

    fn source(mut self, from: &str, to: &str) -> Fixture {
        assert!(self.source.contains(from), "fixture has no {from:?}");
        self.source = self.source.replace(from, to);
        self
    }

    fn map(mut self, from: &str, to: &str) -> Fixture {
        assert!(self.map.contains(from), "map has no {from:?}");
        self.map = self.map.replace(from, to);
        self
    }

    fn flag(mut self, flag: &'static str) -> Fixture {
        self.flags.push(flag);
        self
    }

    /// Compiles the library and returns its stub bytes and ABI hash.
    /// Compiles the library into `dir` and returns its path.
    fn build(&self, dir: &Path) -> PathBuf {
        std::fs::write(dir.join("fix.c"), &self.source).unwrap();
        std::fs::write(dir.join("fix.map"), &self.map).unwrap();
        let soname = format!("-Wl,-soname,{}", self.soname);
        let mut args = vec!["-shared", "-fPIC", "-Wl,--version-script=fix.map", &soname];
        args.extend(self.flags.iter().copied());
        args.extend(["fix.c", "-o", "libfix.so"]);
        run("gcc", &args, dir);
        dir.join("libfix.so")
    }

    /// Compiles the library and returns its stub bytes and ABI hash.
    fn stub(&self) -> (Vec<u8>, String) {
        let dir = tempfile::tempdir().unwrap();
        let lib = self.build(dir.path());
        let stub = make_stub(&lib, dir.path());
        let hash = run(
            bin_path(),
            &["stubgen", "--hash", lib.to_str().unwrap()],
            dir.path(),
        );
        (
            std::fs::read(stub).unwrap(),
            hash.split_whitespace().next().unwrap().to_string(),
        )
    }
}

#[test]
fn cutoff_changes_that_keep_the_interface() {
    if !have("gcc") {
        return;
    }
    let (base, base_hash) = Fixture::base().stub();
    let same = [
        ("function body", Fixture::base().source("return a + b;", "return (a ^ b) + 2 * (a & b);")),
        (
            "function becomes an IFUNC",
            Fixture::base().source(
                "int fixture_mul(int a, int b) { return a * b; }",
                "static int mul_impl(int a, int b) { return a * b; }\n\
                 static void *resolve_mul(void) { return (void *)mul_impl; }\n\
                 int fixture_mul(int a, int b) __attribute__((ifunc(\"resolve_mul\")));",
            ),
        ),
        (
            "static function added",
            Fixture::base().source("int fixture_add", "static int twice(int x) { return 2 * x; }\nint fixture_add"),
        ),
        ("optimisation level", Fixture::base().flag("-O0")),
        ("debug info", Fixture::base().flag("-g")),
        ("RPATH", Fixture::base().flag("-Wl,-rpath,/nix/store/00000000000000000000000000000000-x/lib")),
        (
            "a call into libc added (an import a dependency defines, with its version)",
            Fixture::base().source(
                "int fixture_mul(int a, int b) { return a * b; }",
                "extern int getpid(void);\nint fixture_mul(int a, int b) { return a * b + getpid(); }",
            ),
        ),
        (
            "source reordered",
            Fixture::base().source(
                "int fixture_add(int a, int b) { return a + b; }\nint fixture_mul(int a, int b) { return a * b; }",
                "int fixture_mul(int a, int b) { return a * b; }\nint fixture_add(int a, int b) { return a + b; }",
            ),
        ),
    ];
    for (what, fixture) in same {
        let (stub, hash) = fixture.stub();
        assert_eq!(hash, base_hash, "{what} changed the ABI hash");
        assert!(stub == base, "{what} changed the stub bytes");
    }
}

#[test]
fn sensitivity_changes_that_break_or_extend_the_interface() {
    if !have("gcc") {
        return;
    }
    let (_, base_hash) = Fixture::base().stub();
    let different = [
        (
            "exported symbol added",
            Fixture::base()
                .source(
                    "int fixture_mul",
                    "int fixture_new(void) { return 7; }\nint fixture_mul",
                )
                .map("fixture_mul;", "fixture_mul; fixture_new;"),
        ),
        (
            "exported symbol removed",
            Fixture::base().map("fixture_sum; ", ""),
        ),
        (
            "object size",
            Fixture::base().source("int fixture_counter = 1;", "long fixture_counter = 1;"),
        ),
        (
            "symbol type",
            Fixture::base().source("__thread int fixture_tls;", "int fixture_tls;"),
        ),
        (
            "binding",
            Fixture::base().source(
                "int fixture_mul(int a",
                "__attribute__((weak)) int fixture_mul(int a",
            ),
        ),
        (
            "visibility",
            Fixture::base().source(
                "int fixture_mul(int a",
                "__attribute__((visibility(\"protected\"))) int fixture_mul(int a",
            ),
        ),
        (
            "version",
            Fixture::base().map(
                "FIX_2.0 { global: fixture_mul; }",
                "FIX_3.0 { global: fixture_mul; }",
            ),
        ),
        (
            "default version becomes hidden",
            Fixture::base().source(
                "int fixture_mul(int a",
                "__asm__(\".symver fixture_mul, fixture_mul@FIX_2.0\");\nint fixture_mul(int a",
            ),
        ),
        (
            "SONAME",
            Fixture {
                soname: "libfix.so.2",
                ..Fixture::base()
            },
        ),
        ("NEEDED", Fixture::base().flag("-lm")),
        (
            "an import no dependency defines (the program must provide it)",
            Fixture::base().source(
                "int fixture_mul(int a, int b) { return a * b; }",
                "extern int yylex(void);\nint fixture_mul(int a, int b) { return a * b + yylex(); }",
            ),
        ),
    ];
    for (what, fixture) in different {
        let (_, hash) = fixture.stub();
        assert_ne!(hash, base_hash, "{what} did not change the ABI hash");
    }
}

/// What the default interface keeps of a library's imports: those no library of its
/// `DT_NEEDED` closure defines, found through its RUNPATH (`$ORIGIN` expanded) or
/// `--lib-path`, without versions; `--imports all` keeps every name.
#[test]
fn default_keeps_the_imports_a_program_owes() {
    if !have("gcc") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("deps")).unwrap();
    std::fs::write(d.join("dep.c"), "int dep_f(void) { return 1; }\n").unwrap();
    run(
        "gcc",
        &[
            "-shared",
            "-fPIC",
            "-Wl,-soname,libdep.so",
            "dep.c",
            "-o",
            "deps/libdep.so",
        ],
        d,
    );
    std::fs::write(
        d.join("user.c"),
        "extern int rand(void);\nextern int dep_f(void);\nextern int yylex(void);\n\
         int user(void) { return dep_f() + yylex() + rand(); }\n",
    )
    .unwrap();
    let imports = |lib: &str, flags: &[&str]| -> Vec<String> {
        let mut args = vec!["stubgen", "--format", "json"];
        args.extend(flags);
        args.push(lib);
        let json: serde_json::Value = serde_json::from_str(&run(bin_path(), &args, d)).unwrap();
        let imports = json["imports"].as_array().unwrap();
        assert!(imports.iter().all(|i| i.get("version").is_none()), "{json}");
        imports
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .filter(|n| !n.starts_with("_ITM_") && n != "__gmon_start__")
            .collect()
    };
    for (lib, rpath) in [
        ("origin.so", "-Wl,-rpath,$ORIGIN/deps"),
        ("norpath.so", "-Wl,-O1"),
    ] {
        run(
            "gcc",
            &[
                "-shared", "-fPIC", rpath, "user.c", "-Ldeps", "-ldep", "-o", lib,
            ],
            d,
        );
    }
    assert_eq!(imports("origin.so", &[]), ["yylex"]);
    assert_eq!(
        imports("norpath.so", &[]),
        ["dep_f", "yylex"],
        "a dependency that cannot be found defines nothing"
    );
    assert_eq!(imports("norpath.so", &["--lib-path", "deps"]), ["yylex"]);
    assert_eq!(
        imports("origin.so", &["--imports", "all"]),
        ["__cxa_finalize", "dep_f", "rand", "yylex"]
    );
}

#[test]
fn fixture_stub_links_identically() {
    if !have("gcc") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lib = Fixture::base().build(dir.path());
    assert_link_identity(&lib, &Target::native(), Mode::Default);
    assert_link_identity(&lib, &Target::native(), Mode::Exact);
}

#[test]
fn fixture_interfaces_snapshot() {
    if !have("gcc") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lib = Fixture::base().build(dir.path());
    let json = run(
        bin_path(),
        &["stubgen", "--format", "json", lib.to_str().unwrap()],
        dir.path(),
    );
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    insta::with_settings!({snapshot_path => "../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_json_snapshot!("fixture_interface", value);
    });
}

#[test]
fn batch_reports_bad_inputs_and_finishes_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("not-elf.so"), b"hello, world\n").unwrap();
    let libc = std::fs::read(Path::new(SYSTEM).join("libc.so.6")).unwrap();
    std::fs::write(d.join("truncated.so"), &libc[..200]).unwrap();
    let mut corrupt = libc.clone();
    // e_shoff far past the end of the file.
    corrupt[0x28..0x30].copy_from_slice(&0x7fff_ffff_u64.to_le_bytes());
    std::fs::write(d.join("corrupt.so"), &corrupt).unwrap();
    std::fs::write(
        d.join("archive.a"),
        b"!<arch>\nfoo.o/          0           0     0     644     4         `\nabcd",
    )
    .unwrap();
    std::fs::create_dir(d.join("a-directory.so")).unwrap();
    let static_exe = d.join("static-exe");
    if have("gcc") {
        std::fs::write(d.join("main.c"), "int main(void) { return 0; }\n").unwrap();
        run("gcc", &["-static", "main.c", "-o", "static-exe"], d);
    }
    let out = d.join("out");
    let mut args = vec![
        "stubgen".to_string(),
        "--out-dir".into(),
        out.to_string_lossy().into_owned(),
        Path::new(SYSTEM)
            .join("libz.so.1")
            .to_string_lossy()
            .into_owned(),
    ];
    for bad in [
        "not-elf.so",
        "truncated.so",
        "corrupt.so",
        "archive.a",
        "a-directory.so",
    ] {
        args.push(d.join(bad).to_string_lossy().into_owned());
    }
    if static_exe.exists() {
        args.push(static_exe.to_string_lossy().into_owned());
    }
    let result = duct::cmd(bin_path(), &args)
        .stderr_capture()
        .stdout_capture()
        .unchecked()
        .run()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(3), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for (file, cause) in [
        ("not-elf.so", "not an ELF file"),
        ("truncated.so", "truncated"),
        ("corrupt.so", "section header"),
        ("archive.a", "static archive"),
        ("a-directory.so", "is a directory"),
    ] {
        let line = stderr
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("no error for {file}: {stderr}"));
        assert!(
            line.contains(cause),
            "error for {file} does not say {cause:?}: {line}"
        );
    }
    if static_exe.exists() {
        assert!(
            stderr.contains("static-exe: not a shared library"),
            "{stderr}"
        );
    }
    assert!(
        out.join("libz.so.1").is_file(),
        "the good library was not written"
    );
    let written: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        written,
        vec![std::ffi::OsString::from("libz.so.1")],
        "partial or temporary output left behind"
    );
}

#[test]
fn single_bad_input_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.so"), b"\x7fELF\x02\x01\x01").unwrap();
    let out = dir.path().join("stub.so");
    let result = duct::cmd!(bin_path(), "stubgen", "-o", &out, dir.path().join("bad.so"))
        .stderr_capture()
        .unchecked()
        .run()
        .unwrap();
    assert_eq!(result.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("bad.so"), "{stderr}");
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "temporary file left behind"
    );
}

/// `-o` into a directory that does not exist names the target and the missing directory,
/// not the temporary file beside it (issue 13, item 9).
#[test]
fn output_into_a_missing_directory_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("no/such/dir/stub.so");
    let lib = format!("{SYSTEM}/libz.so.1");
    let (code, _, stderr) = run_abicut(&["stubgen", &lib, "-o", out.to_str().unwrap()]);
    assert_eq!(code, 3);
    let want = format!(
        "abicut: {}: cannot be written: the directory {} does not exist",
        out.display(),
        out.parent().unwrap().display()
    );
    assert_eq!(stderr.trim_end(), want);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn multicall_name_runs_stubgen() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("stubgen");
    std::os::unix::fs::symlink(bin_path(), &link).unwrap();
    let by_link = run(
        &link,
        &["--hash", &format!("{SYSTEM}/libz.so.1")],
        dir.path(),
    );
    let direct = run(
        bin_path(),
        &["stubgen", "--hash", &format!("{SYSTEM}/libz.so.1")],
        dir.path(),
    );
    assert_eq!(by_link, direct);
    assert_eq!(by_link.split_whitespace().next().map(str::len), Some(64));
}

#[test]
fn stub_is_its_own_interface() {
    // Reading a stub gives back the interface it was written from: stubs of stubs are stable.
    let dir = tempfile::tempdir().unwrap();
    for lib in ["libc.so.6", "libstdc++.so.6", "libz.so.1"] {
        let real = Path::new(SYSTEM).join(lib);
        let stub = make_stub(&real, dir.path());
        let again = dir.path().join("again.so");
        run(
            bin_path(),
            &[
                "stubgen",
                "-o",
                again.to_str().unwrap(),
                stub.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert!(
            std::fs::read(&stub).unwrap() == std::fs::read(&again).unwrap(),
            "{lib}: stub of stub differs"
        );
    }
}

#[test]
fn ifs_round_trip_is_read_by_llvm_ifs() {
    // Debian's llvm package installs llvm-ifs-14 (and llvm-ifs only with llvm-defaults).
    let Some(tool) = ["llvm-ifs", "llvm-ifs-14"].into_iter().find(|t| on_path(t)) else {
        have("llvm-ifs");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ifs = run(
        bin_path(),
        &["stubgen", "--format", "ifs", &format!("{SYSTEM}/libz.so.1")],
        dir.path(),
    );
    assert!(
        ifs.contains("deflate@@ZLIB_") || ifs.contains("{ Name: deflate,"),
        "{ifs}"
    );
    assert!(
        ifs.contains("Name: 'gzopen64@ZLIB_1.2.3.3'") || ifs.contains("gzopen64@@ZLIB_1.2.3.3")
    );
    std::fs::write(dir.path().join("z.ifs"), &ifs).unwrap();
    run(
        tool,
        &["--input-format=IFS", "--output-elf=llvm.so", "z.ifs"],
        dir.path(),
    );
    // Our IFS reader accepts llvm-ifs's own output too.
    run(
        tool,
        &["--output-ifs=theirs.ifs", &format!("{SYSTEM}/libz.so.1")],
        dir.path(),
    );
    let from_theirs = run(
        bin_path(),
        &["stubgen", "--format", "json", "theirs.ifs"],
        dir.path(),
    );
    assert!(
        from_theirs.contains("\"name\":\"deflate\""),
        "{from_theirs}"
    );
    let again = run(
        bin_path(),
        &["stubgen", "--format", "ifs", "z.ifs"],
        dir.path(),
    );
    assert_eq!(again, ifs, "IFS → interface → IFS is not stable");
}

/// Two builds of the same Debian package, chosen at test time from what the archive offers.
fn two_versions(package: &str) -> Option<(String, String)> {
    let out = duct::cmd!("apt-cache", "madison", package).read().ok()?;
    let mut versions: Vec<String> = out
        .lines()
        .filter(|l| l.contains("amd64") || l.contains("Packages"))
        .filter_map(|l| l.split('|').nth(1).map(|v| v.trim().to_string()))
        .collect();
    versions.dedup();
    (versions.len() >= 2).then(|| (versions[0].clone(), versions[1].clone()))
}

fn debian_update_keeps_stub(package: &str, libs: &[&str]) {
    if !have("apt-get") || !have("dpkg") {
        return;
    }
    let Some((a, b)) = two_versions(package) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the archive offers one build of {package}"
        );
        eprintln!("SKIPPED: one build of {package} in the archive");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut stubs = Vec::new();
    for version in [&a, &b] {
        let sub = dir.path().join(version.replace(['+', '~', ':'], "_"));
        let root = unpack_debs(&[format!("{package}={version}")], &sub);
        let mut these = Vec::new();
        for lib in libs {
            let path = root.join("usr/lib/x86_64-linux-gnu").join(lib);
            let path = if path.exists() {
                path
            } else {
                root.join("lib/x86_64-linux-gnu").join(lib)
            };
            let out = sub.join(format!("{lib}.stub"));
            run(
                bin_path(),
                &[
                    "stubgen",
                    "-o",
                    out.to_str().unwrap(),
                    path.to_str().unwrap(),
                ],
                &sub,
            );
            these.push((std::fs::read(&path).unwrap(), std::fs::read(&out).unwrap()));
        }
        stubs.push(these);
    }
    for (i, lib) in libs.iter().enumerate() {
        assert!(
            stubs[0][i].0 != stubs[1][i].0,
            "{package} {a} and {b} ship the same {lib}: nothing was tested"
        );
        assert!(
            stubs[0][i].1 == stubs[1][i].1,
            "{lib}: stubs of {package} {a} and {b} differ"
        );
    }
}

#[test]
fn real_update_libssl3() {
    debian_update_keeps_stub("libssl3", &["libssl.so.3", "libcrypto.so.3"]);
}

#[test]
fn real_update_libc6() {
    debian_update_keeps_stub("libc6", &["libc.so.6", "libm.so.6"]);
}

/// Every regular `.so` ELF file under `root`, relative to it.
fn shared_objects_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file()
                && (name.ends_with(".so") || name.contains(".so."))
                && std::fs::read(&path).is_ok_and(|b| b.starts_with(b"\x7fELF"))
            {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// The cutoff on a Debian update, every shared object of the package: which keep their
/// default interface (their dependencies found in the same build through `--lib-path`), and
/// `abicut diff`'s verdict on the others. Printed for docs/stubgen.md with `--nocapture`.
fn debian_pair_cutoff(package: &str) -> Vec<(PathBuf, i32)> {
    let Some((new, old)) = two_versions(package) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the archive offers one build of {package}"
        );
        return Vec::new();
    };
    let dir = tempfile::tempdir().unwrap();
    let roots: Vec<PathBuf> = [&old, &new]
        .iter()
        .map(|v| {
            let sub = dir.path().join(v.replace(['+', '~', ':'], "_"));
            unpack_debs(&[format!("{package}={v}")], &sub)
        })
        .collect();
    let objects = shared_objects_under(&roots[0]);
    assert!(!objects.is_empty(), "{package} {old} has no shared object");
    let hash = |root: &Path, rel: &Path, mode: &[&str]| {
        let lib = root.join(rel);
        let mut args = vec!["stubgen", "--hash"];
        let dirs = [
            root.join("usr/lib/x86_64-linux-gnu"),
            root.join("lib/x86_64-linux-gnu"),
        ];
        let dirs: Vec<String> = dirs
            .iter()
            .map(|d| d.to_string_lossy().into_owned())
            .collect();
        if !mode.contains(&"--exact") {
            for d in &dirs {
                args.extend(["--lib-path", d.as_str()]);
            }
        }
        args.extend(mode);
        args.push(lib.to_str().unwrap());
        run(bin_path(), &args, dir.path())
    };
    let mut kept = [0; 3];
    let mut changed = Vec::new();
    for rel in &objects {
        if !roots[1].join(rel).is_file() {
            continue;
        }
        for (i, mode) in [&["--exact"][..], &[][..], &["--imports", "all"][..]]
            .iter()
            .enumerate()
        {
            let same = hash(&roots[0], rel, mode).split_whitespace().next()
                == hash(&roots[1], rel, mode).split_whitespace().next();
            if same {
                kept[i] += 1;
            } else if mode.is_empty() {
                let (code, out, _) = support::run_abicut_in(
                    &[
                        "diff",
                        roots[0].join(rel).to_str().unwrap(),
                        roots[1].join(rel).to_str().unwrap(),
                    ],
                    dir.path(),
                );
                eprintln!("{package}: {} changed:\n{out}", rel.display());
                changed.push((rel.clone(), code));
            }
        }
    }
    eprintln!(
        "{package} {old} -> {new}: {} shared objects; kept their interface: --exact {}, default {}, --imports all {}",
        objects.len(),
        kept[0],
        kept[1],
        kept[2]
    );
    changed
}

#[test]
fn debian_pairs_cutoff_keeps_every_unchanged_export_set() {
    if !have("apt-get") || !have("dpkg") {
        return;
    }
    for package in ["libc6", "libssl3"] {
        let changed = debian_pair_cutoff(package);
        assert!(changed.is_empty(), "{package}: {changed:?} changed");
    }
    for package in ["libexpat1", "libxml2"] {
        for (rel, code) in debian_pair_cutoff(package) {
            assert_eq!(
                code,
                1,
                "{package}: {} is not a compatible change",
                rel.display()
            );
        }
    }
}

/// The suite (tests/run.sh, and so CI) tests in the `ci` profile, where object's debug
/// assertions check the stub writer's reserve/write counts and an arithmetic overflow
/// panics instead of wrapping. Built in that profile, this test checks both are on.
#[test]
fn the_suite_runs_with_debug_assertions_and_overflow_checks() {
    assert!(include_str!("run.sh").contains("cargo test --profile ci "));
    let manifest = include_str!("../Cargo.toml");
    let profile = manifest
        .split("[profile.ci]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .expect("Cargo.toml has a [profile.ci]");
    for setting in ["debug-assertions = true", "overflow-checks = true"] {
        assert!(profile.contains(setting), "[profile.ci] lacks {setting}");
    }
    let built_in = std::env::current_exe().unwrap();
    let profile_dir = built_in.parent().and_then(Path::parent).unwrap();
    if profile_dir.file_name().is_some_and(|n| n == "ci") {
        let panics = |f: fn()| std::panic::catch_unwind(f).is_err();
        assert!(
            panics(|| debug_assert!(std::hint::black_box(false))),
            "debug assertions are off"
        );
        assert!(
            panics(|| {
                let _ = std::hint::black_box(u8::MAX) + 1;
            }),
            "an overflow wrapped"
        );
    }
}

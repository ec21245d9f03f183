//! `abicut relink` against real programs: relinked binaries must run from the new path,
//! interrupted runs must leave no or a complete DEST, bad mappings must write nothing.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};
use support::files::*;
use support::{bin_path, have, run, run_abicut};

const BASE_C: &str = "int base_add(int a, int b) { return a + b; }\n";
const TOP_C: &str = "int base_add(int, int);\nint top_twice(int a) { return base_add(a, a); }\n";
const PROG_C: &str = "#include <stdio.h>\nint top_twice(int);\nint main(void) { printf(\"result=%d\\n\", top_twice(21)); return 0; }\n";

/// Builds OUT/lib/libbase.so, OUT/lib/libtop.so and OUT/bin/prog, all with RUNPATH OUT/lib,
/// plus a script, a .pc file, a symlink and an empty directory mentioning OUT.
fn build_package(work: &Path, out: &Path) {
    let lib = out.join("lib");
    fs::create_dir_all(&lib).unwrap();
    fs::create_dir_all(out.join("bin")).unwrap();
    fs::create_dir_all(out.join("share/empty")).unwrap();
    let rpath = format!("-Wl,-rpath,{}", lib.display());
    let l = format!("-L{}", lib.display());
    cc(
        work,
        "base",
        BASE_C,
        &lib.join("libbase.so.1"),
        &["-shared", "-fPIC", "-Wl,-soname,libbase.so.1"],
    );
    std::os::unix::fs::symlink("libbase.so.1", lib.join("libbase.so")).unwrap();
    cc(
        work,
        "top",
        TOP_C,
        &lib.join("libtop.so"),
        &["-shared", "-fPIC", &l, "-lbase", &rpath],
    );
    cc(
        work,
        "prog",
        PROG_C,
        &out.join("bin/prog"),
        &[&l, "-ltop", &rpath, "-Wl,--enable-new-dtags"],
    );
    write(
        &out.join("bin/wrapper"),
        &format!("#!/bin/sh\nexec {}/bin/prog \"$@\"\n", out.display()),
    );
    fs::set_permissions(out.join("bin/wrapper"), fs::Permissions::from_mode(0o555)).unwrap();
    write(
        &out.join("lib/pkgconfig/top.pc"),
        &format!(
            "prefix={}\nlibdir=${{prefix}}/lib\nLibs: -L${{libdir}} -ltop\n",
            out.display()
        ),
    );
    std::os::unix::fs::symlink(out.join("bin/prog"), out.join("bin/prog-abs")).unwrap();
}

#[test]
fn relinked_programs_run_from_the_new_path() {
    if !have("cc") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let from = tmp.path().join("aaaaaaaa-pkg");
    let to = tmp.path().join("bbbbbbbb-pkg");
    build_package(tmp.path(), &from);
    assert_eq!(run(from.join("bin/prog"), &[], tmp.path()), "result=42\n");

    let map = format!("{}={}", from.display(), to.display());
    let (code, stdout, stderr) = run_abicut(&[
        "relink",
        "--json",
        "--map",
        &map,
        from.to_str().unwrap(),
        to.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        summary["mappings"][0]["occurrences"].as_u64().unwrap() >= 5,
        "{summary}"
    );
    assert_eq!(summary["files"], 5);
    assert_eq!(summary["symlinks"], 2);

    // Move the original away: the relinked programs must not need it.
    fs::rename(&from, tmp.path().join("gone")).unwrap();
    assert_eq!(run(to.join("bin/prog"), &[], tmp.path()), "result=42\n");
    assert_eq!(run(to.join("bin/wrapper"), &[], tmp.path()), "result=42\n");
    let pc = fs::read_to_string(to.join("lib/pkgconfig/top.pc")).unwrap();
    assert!(pc.contains(to.to_str().unwrap()));
    assert_eq!(
        fs::read_link(to.join("lib/libbase.so")).unwrap(),
        Path::new("libbase.so.1")
    );
    assert_eq!(
        fs::read_link(to.join("bin/prog-abs")).unwrap(),
        to.join("bin/prog")
    );
    assert!(to.join("share/empty").is_dir());
    let mode = fs::metadata(to.join("bin/wrapper"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o555);
    let mode = fs::metadata(to.join("bin/prog"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111);

    // Running again (DEST exists) gives the same bytes.
    let before = snapshot(&to);
    let back = tmp.path().join("gone");
    let (code, _, stderr) = run_abicut(&[
        "relink",
        "--map",
        &map,
        back.to_str().unwrap(),
        to.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(before, snapshot(&to));
}

#[test]
fn bare_hashes_map_file_and_forbid() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let h1 = "0123456789abcdfghijklmnpqrsvwxyz";
    let h2 = "zyxwvsrqpnmlkjihgfdcba9876543210";
    let iface = "/nix/store/00000000000000000000000000000000-iface";
    write(
        &src.join("a.txt"),
        &format!("/nix/store/{h1}-foo {iface}\n"),
    );
    let map_file = tmp.path().join("maps");
    write(
        &map_file,
        &format!(
            "# comment\n{h1}={h2}\n\n{iface} /nix/store/11111111111111111111111111111111-iface\n"
        ),
    );
    let dest = tmp.path().join("dest");
    let (code, stdout, stderr) = run_abicut(&[
        "relink",
        "--json",
        "--map-file",
        map_file.to_str().unwrap(),
        "--forbid",
        iface,
        src.to_str().unwrap(),
        dest.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("\"occurrences\": 1"));
    assert_eq!(
        fs::read_to_string(dest.join("a.txt")).unwrap(),
        format!("/nix/store/{h2}-foo /nix/store/11111111111111111111111111111111-iface\n")
    );

    // Without the interface mapping the forbidden path survives: refused, nothing written.
    let dest2 = tmp.path().join("dest2");
    let (code, _, stderr) = run_abicut(&[
        "relink",
        "--map",
        &format!("{h1}={h2}"),
        "--forbid",
        iface,
        src.to_str().unwrap(),
        dest2.to_str().unwrap(),
    ]);
    assert_eq!(code, 3);
    assert!(
        stderr.contains("a.txt") && stderr.contains("forbidden"),
        "{stderr}"
    );
    assert!(!dest2.exists());
    assert_eq!(
        fs::read_dir(tmp.path()).unwrap().count(),
        3,
        "no temporary left behind"
    );
}

#[test]
fn bad_mappings_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src.join("f"), "x");
    let dest = tmp.path().join("dest");
    let d = dest.to_str().unwrap();
    let s = src.to_str().unwrap();
    for (map, needle) in [
        ("/nix/store/abc=/nix/store/abcd", "lengths differ"),
        ("nothing", "FROM=TO"),
        ("relative=relativ2", "neither"),
    ] {
        let (code, _, stderr) = run_abicut(&["relink", "--map", map, s, d]);
        assert_eq!(code, 3);
        assert!(stderr.contains(needle), "{stderr}");
        assert!(!dest.exists());
    }
    let (code, _, stderr) = run_abicut(&["relink", "--map", "/a=/b", "--map", "/a=/c", s, d]);
    assert_eq!(code, 3);
    assert!(stderr.contains("mapped twice"), "{stderr}");

    assert!(!dest.exists());
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
}

/// A DEST that is SRC, lies inside it or holds it is refused, naming both paths, before
/// anything is written (issue 13, item 11: `relink SRC SRC/inner` used to copy SRC into
/// itself without a word, and `relink SRC/inner SRC` would delete SRC).
#[test]
fn dest_apart_from_src() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src.join("inner/f"), "x");
    let before = snapshot(tmp.path());
    let s = src.to_str().unwrap();
    let inner = src.join("inner");
    let cases = [
        (s.to_owned(), format!("{s}/new"), "lies inside SRC"),
        (s.to_owned(), format!("{s}/inner"), "lies inside SRC"),
        (s.to_owned(), s.to_owned(), "is SRC"),
        (s.to_owned(), format!("{s}/"), "is SRC"),
        (
            inner.to_str().unwrap().to_owned(),
            s.to_owned(),
            "holds SRC",
        ),
    ];
    for (from, to, why) in cases {
        let (code, stdout, stderr) = run_abicut(&["relink", &from, &to]);
        assert_eq!(code, 3, "relink {from} {to}: {stderr}");
        assert!(
            stderr.contains(&format!("DEST {to} {why}"))
                && stderr.contains(&format!("(SRC {from})"))
                && stderr.contains("nothing written"),
            "relink {from} {to}: {stderr}"
        );
        assert!(stdout.is_empty(), "{stdout}");
        assert_eq!(
            snapshot(tmp.path()),
            before,
            "relink {from} {to} wrote something"
        );
    }
}

/// Symlinks are copied as they are, wherever they point (relink never follows one), with
/// mapped paths rewritten in their targets, relative ones that leave the tree included.
#[test]
fn symlinks_are_copied_as_they_are() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let h1 = "0123456789abcdfghijklmnpqrsvwxyz";
    let h2 = "zyxwvsrqpnmlkjihgfdcba9876543210";
    write(&src.join("lib/f"), "x");
    let links = [
        (
            "lib/escapes",
            "../../etc/passwd".to_owned(),
            "../../etc/passwd".to_owned(),
        ),
        (
            "lib/llvm",
            "../llvm-14/lib/libclang-cpp.so.14".into(),
            "../llvm-14/lib/libclang-cpp.so.14".into(),
        ),
        (
            "lib/dangling",
            "nowhere/at/all".into(),
            "nowhere/at/all".into(),
        ),
        ("lib/dir-out", "/etc".into(), "/etc".into()),
        (
            "lib/mapped-rel",
            format!("../../{h1}-dep/lib/libx.so"),
            format!("../../{h2}-dep/lib/libx.so"),
        ),
        (
            "lib/mapped-abs",
            format!("/nix/store/{h1}-dep/lib"),
            format!("/nix/store/{h2}-dep/lib"),
        ),
        ("lib/inside", "f".into(), "f".into()),
    ];
    for (at, target, _) in &links {
        std::os::unix::fs::symlink(target, src.join(at)).unwrap();
    }
    let dest = tmp.path().join("dest");
    let (code, stdout, stderr) = run_abicut(&[
        "relink",
        "--json",
        "--map",
        &format!("{h1}={h2}"),
        src.to_str().unwrap(),
        dest.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["symlinks"], links.len());
    assert_eq!(summary["mappings"][0]["occurrences"], 2);
    for (at, _, expected) in &links {
        assert_eq!(
            fs::read_link(dest.join(at)).unwrap(),
            Path::new(expected),
            "{at}"
        );
    }
    // Nothing was read through a link: /etc was not copied, the file inside is.
    assert_eq!(
        fs::read_dir(dest.join("lib")).unwrap().count(),
        links.len() + 1
    );
}

/// A tree big enough that a relink takes a noticeable time.
fn big_tree(root: &Path, from: &str) {
    let mut block = Vec::new();
    for i in 0..2048 {
        block.extend_from_slice(format!("{i:08} {from}/lib/libx.so ").as_bytes());
    }
    for d in 0..24 {
        for f in 0..25 {
            let p = root.join(format!("d{d}/f{f}"));
            if f == 0 {
                fs::create_dir_all(p.parent().unwrap()).unwrap();
            }
            fs::write(&p, &block).unwrap();
        }
    }
}

/// A small deterministic generator (the seed is printed so a failure can be replayed).
fn next(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

#[test]
fn killed_relink_leaves_no_or_complete_dest() {
    let tmp = tempfile::tempdir().unwrap();
    let from = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x";
    let to = "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-x";
    let src = tmp.path().join("src");
    big_tree(&src, from);
    let map = format!("{from}={to}");
    let reference = tmp.path().join("reference");
    let start = Instant::now();
    let (code, _, stderr) = run_abicut(&[
        "relink",
        "--map",
        &map,
        src.to_str().unwrap(),
        reference.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let full = start.elapsed().as_micros() as u64;
    let expected = snapshot(&reference);

    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("seed {seed}, full run {full} us");
    let (mut complete, mut absent) = (0, 0);
    for round in 0..20 {
        let dest = tmp.path().join(format!("dest{round}"));
        let handle = duct::cmd(
            bin_path(),
            [
                "relink",
                "--map",
                &map,
                src.to_str().unwrap(),
                dest.to_str().unwrap(),
            ],
        )
        .stdout_null()
        .stderr_null()
        .unchecked()
        .start()
        .unwrap();
        std::thread::sleep(Duration::from_micros(next(&mut seed) % (full + full / 4)));
        handle.kill().unwrap();
        handle.wait().unwrap();
        if dest.exists() {
            assert_eq!(snapshot(&dest), expected, "round {round}: DEST incomplete");
            complete += 1;
        } else {
            absent += 1;
        }
        let (code, _, stderr) = run_abicut(&[
            "relink",
            "--map",
            &map,
            src.to_str().unwrap(),
            dest.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "round {round}: rerun failed: {stderr}");
        assert_eq!(snapshot(&dest), expected, "round {round}: rerun differs");
        let prefix = format!(".dest{round}.abicut-");
        let stale: Vec<String> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&prefix))
            .collect();
        assert!(stale.is_empty(), "round {round}: left behind: {stale:?}");
    }
    eprintln!("{absent} killed before completion, {complete} completed");
}

#[test]
fn large_files_hard_links_and_single_files() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let (from, to) = (
        "/nix/store/cccccccccccccccccccccccccccccccc-y",
        "/nix/store/dddddddddddddddddddddddddddddddd-y",
    );
    // Few occurrences in a large file (kernel copy + patches), many (one whole write).
    let mut few = vec![b'x'; 3 << 20];
    for at in [0, 1 << 20, (3 << 20) - from.len()] {
        few[at..at + from.len()].copy_from_slice(from.as_bytes());
    }
    let many = format!("{from} ").repeat(20_000);
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("few"), &few).unwrap();
    fs::write(src.join("many"), &many).unwrap();
    write(&src.join("plain"), "no store path here\n");
    fs::hard_link(src.join("few"), src.join("few-again")).unwrap();
    let dest = tmp.path().join("dest");
    let map = format!("{from}={to}");
    let (code, stdout, stderr) = run_abicut(&[
        "relink",
        "--json",
        "--hardlink-unchanged",
        "--map",
        &map,
        src.to_str().unwrap(),
        dest.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["mappings"][0]["occurrences"], 20_003);
    assert_eq!(summary["files"], 4);
    assert_eq!(summary["files_hardlinked"], 1);
    let expect_few = String::from_utf8(few).unwrap().replace(from, to);
    assert_eq!(fs::read_to_string(dest.join("few")).unwrap(), expect_few);
    assert_eq!(
        fs::read_to_string(dest.join("many")).unwrap(),
        many.replace(from, to)
    );
    let ino = |p: &Path| fs::metadata(p).unwrap().ino();
    assert_eq!(
        ino(&dest.join("few")),
        ino(&dest.join("few-again")),
        "hard links kept"
    );
    assert_ne!(ino(&dest.join("few")), ino(&src.join("few")));
    assert_eq!(
        ino(&dest.join("plain")),
        ino(&src.join("plain")),
        "unchanged file hard-linked"
    );

    // SRC may be a single file.
    let one = tmp.path().join("one");
    let (code, _, stderr) = run_abicut(&[
        "relink",
        "--map",
        &map,
        src.join("many").to_str().unwrap(),
        one.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(fs::read_to_string(&one).unwrap(), many.replace(from, to));
}

#[test]
fn relink_verifies_before_renaming() {
    if !have("cc") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let from = tmp.path().join("aaaaaaaa-pkg");
    let to = tmp.path().join("bbbbbbbb-pkg");
    build_package(tmp.path(), &from);
    let libc = duct::cmd!("cc", "-print-file-name=libc.so.6")
        .read()
        .unwrap();
    let libc_dir = fs::canonicalize(libc)
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let map = format!("{}={}", from.display(), to.display());
    let args = |dest: &Path| {
        vec![
            "relink".to_owned(),
            "--verify".into(),
            "--lib-path".into(),
            libc_dir.display().to_string(),
            "--map".into(),
            map.clone(),
            from.display().to_string(),
            dest.display().to_string(),
        ]
    };
    let a = args(&to);
    let (code, _, stderr) = run_abicut(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{stderr}");

    // The relinked RUNPATH names `to`: without it and without libbase, nothing resolves.
    fs::remove_dir_all(&to).unwrap();
    fs::remove_file(from.join("lib/libbase.so.1")).unwrap();
    let broken = tmp.path().join("cccccccc-pkg");
    let a = args(&broken);
    let (code, _, stderr) = run_abicut(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 3);
    assert!(
        stderr.contains("verification failed") && stderr.contains("libbase.so.1"),
        "{stderr}"
    );
    assert!(!broken.exists());
}

/// `--forbid` holds on every path a file can take: small files, files large enough to be
/// copied by the kernel (with and without hard-linking unchanged files), and symlink targets.
#[test]
fn forbid_covers_large_files_and_symlinks() {
    let tmp = tempfile::tempdir().unwrap();
    let iface = "/nix/store/00000000000000000000000000000000-iface";
    let (from, to) = (
        "/nix/store/cccccccccccccccccccccccccccccccc-y",
        "/nix/store/dddddddddddddddddddddddddddddddd-y",
    );
    let map = format!("{from}={to}");
    let relink = |src: &Path, dest: &Path, extra: &[&str]| {
        let mut args = vec!["relink", "--map", &map, "--forbid", iface];
        args.extend_from_slice(extra);
        args.extend([src.to_str().unwrap(), dest.to_str().unwrap()]);
        run_abicut(&args)
    };
    // 300 KiB: above the size that takes the memory-mapped, kernel-copy path.
    let mut big = vec![b'x'; 300 << 10];
    big[100..100 + from.len()].copy_from_slice(from.as_bytes());
    let clean = tmp.path().join("clean");
    fs::create_dir_all(&clean).unwrap();
    fs::write(clean.join("big"), &big).unwrap();
    let (code, _, stderr) = relink(&clean, &tmp.path().join("ok"), &[]);
    assert_eq!(code, 0, "{stderr}");

    let at = 200 << 10;
    big[at..at + iface.len()].copy_from_slice(iface.as_bytes());
    let large = tmp.path().join("large");
    fs::create_dir_all(&large).unwrap();
    fs::write(large.join("big"), &big).unwrap();
    let unchanged = tmp.path().join("unchanged");
    fs::create_dir_all(&unchanged).unwrap();
    big[100..100 + from.len()].fill(b'x');
    fs::write(unchanged.join("big"), &big).unwrap();
    let link = tmp.path().join("link");
    fs::create_dir_all(&link).unwrap();
    std::os::unix::fs::symlink(format!("{iface}/lib/libx.so"), link.join("libx.so")).unwrap();
    for (src, extra, name) in [
        (&large, &[][..], "big"),
        (&unchanged, &["--hardlink-unchanged"][..], "big"),
        (&link, &[][..], "libx.so"),
    ] {
        let dest = tmp.path().join("dest");
        let (code, _, stderr) = relink(src, &dest, extra);
        assert_eq!(code, 3, "{}: {stderr}", src.display());
        assert!(
            stderr.contains(name) && stderr.contains("forbidden path") && stderr.contains(iface),
            "{stderr}"
        );
        assert!(!dest.exists());
    }
}

/// `--verify` judges the output about to be renamed into place, as the loader will see it
/// at DEST, never SRC: here SRC verifies and the output does not, and the other way round.
#[test]
fn verify_judges_the_output_not_the_source() {
    if !have("cc") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    let good_lib = |dir: &Path, body: &str| {
        fs::create_dir_all(dir).unwrap();
        cc(
            w,
            "foo",
            body,
            &dir.join("libfoo.so"),
            &["-shared", "-fPIC", "-Wl,-soname,libfoo.so"],
        );
    };
    let prog = |root: &Path, libdir: &Path| {
        fs::create_dir_all(root.join("bin")).unwrap();
        good_lib(&w.join("linkwith"), BASE_C_FOO);
        let l = format!("-L{}", w.join("linkwith").display());
        let r = format!("-Wl,-rpath,{}", libdir.display());
        cc(
            w,
            "prog",
            FOO_PROG_C,
            &root.join("bin/prog"),
            &[&l, "-lfoo", &r],
        );
    };
    let iface = w.join("iiiiiiii-foo");
    let real = w.join("rrrrrrrr-foo");
    good_lib(&iface.join("lib"), BASE_C_FOO);
    good_lib(&real.join("lib"), "int foo_other(void) { return 3; }\n");
    let verify = |tree: &Path| run_abicut(&["verify", tree.to_str().unwrap()]).0;

    // SRC loads its library from the interface; the output from the real one, which lacks foo.
    let src = w.join("aaaaaaaa-pkg");
    prog(&src, &iface.join("lib"));
    assert_eq!(verify(&src), 0);
    let map = format!("{}={}", iface.display(), real.display());
    let dest = w.join("bbbbbbbb-pkg");
    let args = |src: &Path, dest: &Path, map: &str| {
        run_abicut(&[
            "relink",
            "--verify",
            "--map",
            map,
            src.to_str().unwrap(),
            dest.to_str().unwrap(),
        ])
    };
    let (code, _, stderr) = args(&src, &dest, &map);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("verification failed") && stderr.contains("foo"),
        "{stderr}"
    );
    assert!(!dest.exists());

    // SRC names a library directory that does not exist; the output the one that does.
    let absent = w.join("xxxxxxxx-foo");
    let there = w.join("gggggggg-foo");
    good_lib(&there.join("lib"), BASE_C_FOO);
    let src2 = w.join("cccccccc-pkg");
    prog(&src2, &absent.join("lib"));
    assert_eq!(verify(&src2), 1);
    let map2 = format!("{}={}", absent.display(), there.display());
    let (code, _, stderr) = args(&src2, &dest, &map2);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(verify(&dest), 0);
}

const BASE_C_FOO: &str = "int foo(void) { return 7; }\n";
const FOO_PROG_C: &str = "int foo(void);\nint main(void) { return foo() == 7 ? 0 : 1; }\n";

/// The kind, mode (with setuid, setgid, sticky) and modification time of every file, and
/// every symlink's target, under `root`: what a relink must keep of its source.
fn shape(
    root: &Path,
) -> Vec<(
    std::path::PathBuf,
    char,
    u32,
    Option<std::time::SystemTime>,
    String,
)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            let m = fs::symlink_metadata(&p).unwrap();
            let mode = m.permissions().mode() & 0o7777;
            if m.file_type().is_symlink() {
                let t = fs::read_link(&p).unwrap().display().to_string();
                out.push((rel, 'l', 0, None, t));
            } else if m.is_dir() {
                out.push((rel, 'd', mode, m.modified().ok(), String::new()));
                stack.push(p);
            } else {
                out.push((rel, 'f', mode, m.modified().ok(), String::new()));
            }
        }
    }
    let m = fs::metadata(root).unwrap();
    let mode = m.permissions().mode() & 0o7777;
    out.push((".".into(), 'd', mode, m.modified().ok(), String::new()));
    out.sort();
    out
}

/// Every file and directory keeps its mode and modification time and every symlink its target, whether
/// it was rewritten or not, small or at least 256 KiB (read through a mapping and copied by
/// the kernel: a path no other test compared modes on).
#[test]
fn relink_keeps_modes_times_and_links_of_every_file() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let (h1, h2) = (
        "0123456789abcdfghijklmnpqrsvwxyz",
        "zyxwvsrqpnmlkjihgfdcba9876543210",
    );
    let big = |with_path: bool| {
        let mut b = vec![b'x'; 300 << 10];
        if with_path {
            b[1000..1032].copy_from_slice(h1.as_bytes());
        }
        b
    };
    let files: [(&str, Vec<u8>, u32); 6] = [
        (
            "bin/small-rewritten",
            format!("#!/bin/sh\n{h1}\n").into_bytes(),
            0o755,
        ),
        ("bin/small-same", b"#!/bin/sh\n".to_vec(), 0o4711),
        ("lib/big-rewritten", big(true), 0o444),
        ("lib/big-same", big(false), 0o640),
        ("lib/big-rewritten-exec", big(true), 0o2755),
        ("share/plain", b"x".to_vec(), 0o600),
    ];
    let epoch = std::time::UNIX_EPOCH;
    for (i, (rel, bytes, mode)) in files.iter().enumerate() {
        let p = src.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, bytes).unwrap();
        let when = epoch + Duration::from_secs(1_000_000 + i as u64);
        let f = fs::File::options().write(true).open(&p).unwrap();
        f.set_times(fs::FileTimes::new().set_modified(when).set_accessed(when))
            .unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(*mode)).unwrap();
    }
    std::os::unix::fs::symlink("big-same", src.join("lib/link")).unwrap();
    std::os::unix::fs::symlink(format!("/nix/store/{h1}-x"), src.join("lib/abs")).unwrap();
    for (i, dir) in ["bin", "lib", "share", ""].iter().enumerate() {
        let when = epoch + Duration::from_secs(2_000_000 + i as u64);
        let handle = fs::File::open(src.join(dir)).unwrap();
        handle
            .set_times(fs::FileTimes::new().set_modified(when))
            .unwrap();
    }
    fs::set_permissions(src.join("share"), fs::Permissions::from_mode(0o555)).unwrap();
    let dest = tmp.path().join("dest");
    let (code, _, stderr) = run_abicut(&[
        "relink",
        "--map",
        &format!("{h1}={h2}"),
        src.to_str().unwrap(),
        dest.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let want: Vec<_> = shape(&src)
        .into_iter()
        .map(|(rel, k, mode, t, target)| (rel, k, mode, t, target.replace(h1, h2)))
        .collect();
    assert_eq!(shape(&dest), want);
    assert!(
        fs::read(dest.join("lib/big-rewritten"))
            .unwrap()
            .windows(32)
            .any(|w| w == h2.as_bytes())
    );
}

/// SRC as a Nix `result` link to a directory is followed, as every other command follows the
/// path it is given; DEST is a directory holding the tree, not a copy of the link.
#[test]
fn relink_follows_a_src_that_is_a_symlink() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real");
    write(&real.join("lib/f"), "0123456789abcdfghijklmnpqrsvwxyz\n");
    std::os::unix::fs::symlink(&real, tmp.path().join("result")).unwrap();
    let dest = tmp.path().join("dest");
    let (code, _, stderr) = run_abicut(&[
        "relink",
        "--map",
        "0123456789abcdfghijklmnpqrsvwxyz=zyxwvsrqpnmlkjihgfdcba9876543210",
        tmp.path().join("result").to_str().unwrap(),
        dest.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(fs::symlink_metadata(&dest).unwrap().is_dir());
    assert_eq!(
        fs::read_to_string(dest.join("lib/f")).unwrap(),
        "zyxwvsrqpnmlkjihgfdcba9876543210\n"
    );
}

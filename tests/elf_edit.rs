//! `abicut elf` edits on real binaries: copies of /usr/bin programs and fixtures (x86_64,
//! run after every edit), and cross objects (ELF32 little-endian, big-endian 32 and 64):
//! `readelf` shows the change and Debian's patchelf reads the same values back.
//! Hostile files are refused with a clear error and left untouched.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use support::files::*;
use support::{have, run_abicut};

fn elf(args: &[&str]) -> String {
    let (code, stdout, stderr) = run_abicut(&[&["elf"], args].concat());
    assert_eq!(code, 0, "abicut elf {args:?}: {stderr}");
    stdout
}

fn readelf(flag: &str, file: &Path) -> String {
    duct::cmd!("readelf", "-W", flag, file).read().unwrap()
}

fn patchelf(flag: &str, file: &Path) -> String {
    duct::cmd!("patchelf", flag, file).read().unwrap()
}

fn run(prog: &Path) -> String {
    duct::cmd(prog, Vec::<String>::new()).read().unwrap()
}

fn tools() -> bool {
    have("cc") && have("readelf") && have("patchelf")
}

/// A program whose library lives in lib/ beside it, found through RUNPATH.
fn fixture(work: &Path) -> (PathBuf, PathBuf) {
    let lib = work.join("lib");
    fs::create_dir_all(&lib).unwrap();
    cc(
        work,
        "val",
        "int val(void) { return 7; }\n",
        &lib.join("libval.so"),
        &["-shared", "-fPIC", "-Wl,-soname,libval.so"],
    );
    let prog = work.join("prog");
    let src = "#include <stdio.h>\nint val(void);\nint main(void) { printf(\"val=%d\\n\", val()); return 0; }\n";
    let l = format!("-L{}", lib.display());
    let r = format!("-Wl,-rpath,{}", lib.display());
    cc(
        work,
        "prog",
        src,
        &prog,
        &[&l, "-lval", &r, "-Wl,--enable-new-dtags"],
    );
    (prog, lib)
}

#[test]
fn rpath_grow_shrink_remove_force() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (prog, lib) = fixture(tmp.path());
    assert_eq!(run(&prog), "val=7");
    let p = prog.to_str().unwrap();

    // Grow: move the library to a much longer directory.
    let long = tmp
        .path()
        .join("a-much-longer-directory-name/that/keeps/going/and/going/lib");
    fs::create_dir_all(&long).unwrap();
    fs::rename(lib.join("libval.so"), long.join("libval.so")).unwrap();
    let l = long.to_str().unwrap();
    elf(&["--set-rpath", l, p]);
    assert_eq!(run(&prog), "val=7");
    assert!(readelf("-d", &prog).contains(&format!("Library runpath: [{l}]")));
    assert_eq!(patchelf("--print-rpath", &prog), l);
    assert_eq!(elf(&["--print-rpath", p]).trim(), l);
    assert!(readelf("-l", &prog).matches("LOAD").count() >= 3);

    // Grow again on the already edited file.
    let longer = format!("/nonexistent/one/two/three/four/five/six/seven:{l}");
    elf(&["--set-rpath", &longer, p]);
    assert_eq!(run(&prog), "val=7");
    assert_eq!(patchelf("--print-rpath", &prog), longer);

    // Shrink in place, then DT_RPATH, then removal.
    fs::rename(long.join("libval.so"), lib.join("libval.so")).unwrap();
    let short = lib.to_str().unwrap();
    let size = fs::metadata(&prog).unwrap().len();
    elf(&["--set-rpath", short, p]);
    assert_eq!(
        fs::metadata(&prog).unwrap().len(),
        size,
        "a shorter RUNPATH is written in place"
    );
    assert_eq!(run(&prog), "val=7");
    assert_eq!(patchelf("--print-rpath", &prog), short);
    elf(&["--set-rpath", short, "--force-rpath", p]);
    assert!(readelf("-d", &prog).contains(&format!("Library rpath: [{short}]")));
    assert_eq!(run(&prog), "val=7");
    elf(&["--remove-rpath", p]);
    let d = readelf("-d", &prog);
    assert!(!d.contains("RPATH") && !d.contains("RUNPATH"), "{d}");
    assert_eq!(patchelf("--print-rpath", &prog), "");
    let ran = duct::cmd(&prog, Vec::<String>::new())
        .env("LD_LIBRARY_PATH", &lib)
        .read()
        .unwrap();
    assert_eq!(ran, "val=7");
}

#[test]
fn needed_edits_on_system_programs() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for name in ["ls", "cat", "sort"] {
        let prog = tmp.path().join(name);
        fs::copy(Path::new("/usr/bin").join(name), &prog).unwrap();
        let p = prog.to_str().unwrap();
        // Enough new entries to outgrow the dynamic section: it moves to the new segment.
        elf(&[
            "--add-needed",
            "libm.so.6",
            "--add-needed",
            "libdl.so.2",
            "--add-needed",
            "librt.so.1",
            "--add-needed",
            "libpthread.so.0",
            "--add-needed",
            "libutil.so.1",
            p,
        ]);
        duct::cmd!(&prog, "--version").stdout_null().run().unwrap();
        let needed = patchelf("--print-needed", &prog);
        assert_eq!(needed, elf(&["--print-needed", p]).trim());
        let doc: serde_json::Value = serde_json::from_str(&elf(&["--json", p])).unwrap();
        assert_eq!(doc["schema"], "abicut-elf", "{doc}");
        let facts = &doc["files"][0];
        let from_json: Vec<&str> = facts["needed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(from_json.join("\n"), needed);
        assert_eq!(
            facts["interpreter"].as_str().unwrap(),
            patchelf("--print-interpreter", &prog)
        );
        for lib in ["libc.so.6", "libm.so.6", "libutil.so.1"] {
            assert!(needed.lines().any(|l| l == lib), "{name}: {needed}");
            assert!(readelf("-d", &prog).contains(&format!("Shared library: [{lib}]")));
        }
        elf(&[
            "--remove-needed",
            "libdl.so.2",
            "--remove-needed",
            "librt.so.1",
            p,
        ]);
        assert!(!patchelf("--print-needed", &prog).contains("libdl.so.2"));
        duct::cmd!(&prog, "--version").stdout_null().run().unwrap();
    }
}

#[test]
fn replace_needed_and_soname() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (prog, lib) = fixture(tmp.path());
    let p = prog.to_str().unwrap();
    let renamed = "libval-with-a-much-longer-name.so.1";
    fs::copy(lib.join("libval.so"), lib.join(renamed)).unwrap();
    fs::remove_file(lib.join("libval.so")).unwrap();
    elf(&["--replace-needed", "libval.so", renamed, p]);
    assert_eq!(run(&prog), "val=7");
    assert_eq!(
        patchelf("--print-needed", &prog).lines().next(),
        Some(renamed)
    );

    let so = lib.join(renamed);
    let s = so.to_str().unwrap();
    elf(&["--set-soname", renamed, s]);
    assert_eq!(patchelf("--print-soname", &so), renamed);
    assert!(readelf("-d", &so).contains(&format!("Library soname: [{renamed}]")));
    assert_eq!(elf(&["--print-soname", s]).trim(), renamed);
    assert_eq!(run(&prog), "val=7");

    // Version needs follow a replaced library name (the loader matches them by name).
    let ls = tmp.path().join("ls");
    fs::copy("/usr/bin/ls", &ls).unwrap();
    let libc_dir = tmp.path().join("libc");
    fs::create_dir_all(&libc_dir).unwrap();
    let real = fs::canonicalize(
        duct::cmd!("cc", "-print-file-name=libc.so.6")
            .read()
            .unwrap(),
    )
    .unwrap();
    fs::copy(&real, libc_dir.join("libc-renamed.so.6")).unwrap();
    elf(&[
        "--replace-needed",
        "libc.so.6",
        "libc-renamed.so.6",
        "--set-rpath",
        libc_dir.to_str().unwrap(),
        ls.to_str().unwrap(),
    ]);
    assert!(readelf("-V", &ls).contains("File: libc-renamed.so.6"));
    duct::cmd!(&ls, "--version").stdout_null().run().unwrap();
}

/// `--output FILE` writes the edited copy with the input's mode and leaves the input as it
/// was.
#[test]
fn output_copy_keeps_the_mode() {
    use std::os::unix::fs::PermissionsExt;
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (prog, _) = fixture(tmp.path());
    fs::set_permissions(&prog, fs::Permissions::from_mode(0o750)).unwrap();
    let before = fs::read(&prog).unwrap();
    let out = tmp.path().join("prog-edited");
    let (p, o) = (prog.to_str().unwrap(), out.to_str().unwrap());
    elf(&["--set-rpath", "/nowhere", "--output", o, p]);
    assert_eq!(patchelf("--print-rpath", &out).trim(), "/nowhere");
    assert_eq!(
        fs::metadata(&out).unwrap().permissions().mode() & 0o7777,
        0o750
    );
    assert_eq!(fs::read(&prog).unwrap(), before, "the input was changed");
}

/// An edit in place keeps what the file was: its mode (setuid included), and a symlink
/// given as the file stays a link while the file it leads to is edited, as patchelf does
/// (the link was replaced by an edited second copy).
#[test]
fn in_place_edit_keeps_mode_and_links() {
    use std::os::unix::fs::PermissionsExt;
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (prog, _) = fixture(tmp.path());
    fs::set_permissions(&prog, fs::Permissions::from_mode(0o4751)).unwrap();
    let link = tmp.path().join("prog-link");
    std::os::unix::fs::symlink(prog.file_name().unwrap(), &link).unwrap();
    elf(&["--set-rpath", "/through/the/link", link.to_str().unwrap()]);
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        fs::read_link(&link).unwrap(),
        Path::new(prog.file_name().unwrap())
    );
    assert_eq!(patchelf("--print-rpath", &prog).trim(), "/through/the/link");
    assert_eq!(
        fs::metadata(&prog).unwrap().permissions().mode() & 0o7777,
        0o4751
    );
}

#[test]
fn interpreter_grows() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (prog, _) = fixture(tmp.path());
    let p = prog.to_str().unwrap();
    let old = elf(&["--print-interpreter", p]).trim().to_owned();
    assert_eq!(patchelf("--print-interpreter", &prog), old);
    let dir = tmp
        .path()
        .join("a/very/long/path/to/the/dynamic/loader/of/this/program");
    fs::create_dir_all(&dir).unwrap();
    let interp = dir.join("ld.so");
    std::os::unix::fs::symlink(&old, &interp).unwrap();
    let i = interp.to_str().unwrap();
    elf(&["--set-interpreter", i, p]);
    assert_eq!(run(&prog), "val=7");
    assert!(readelf("-l", &prog).contains(&format!("[Requesting program interpreter: {i}]")));
    assert_eq!(patchelf("--print-interpreter", &prog), i);
    // Back to the short one (in place).
    elf(&["--set-interpreter", &old, p]);
    assert_eq!(patchelf("--print-interpreter", &prog), old);
    assert_eq!(run(&prog), "val=7");
}

/// Edits a cross library and, where lld can link one, a cross executable; checks with
/// readelf and patchelf, and that `abicut verify` still reads the result.
fn cross(triple: &str, interp: &str, link_exe: bool) {
    let sysroot = format!("/usr/{triple}/lib");
    if !have(&sysroot) || !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let so = tmp.path().join("libm.so.6");
    fs::copy(format!("{sysroot}/libm.so.6"), &so).unwrap();
    let s = so.to_str().unwrap();
    let rpath =
        "/nix/store/00000000000000000000000000000000-a-long-runpath-for-the-cross-library/lib";
    let soname = "libm-renamed-to-something-longer.so.6";
    elf(&[
        "--set-rpath",
        rpath,
        "--set-soname",
        soname,
        "--add-needed",
        "libdl.so.2",
        s,
    ]);
    assert_eq!(patchelf("--print-rpath", &so), rpath, "{triple}");
    assert_eq!(patchelf("--print-soname", &so), soname, "{triple}");
    assert!(patchelf("--print-needed", &so).contains("libdl.so.2"));
    let d = readelf("-d", &so);
    assert!(
        d.contains(&format!("Library runpath: [{rpath}]")),
        "{triple}: {d}"
    );
    let (code, stdout, _) = run_abicut(&["verify", "--json", s, "--lib-path", &sysroot]);
    assert_eq!(code, 0, "{triple}: {stdout}");

    if !link_exe || !have("clang") || !have("ld.lld") {
        return;
    }
    let exe = tmp.path().join("prog");
    let c = tmp.path().join("s.c");
    write(
        &c,
        "int puts(const char *);\nvoid _start(void) { puts(\"hi\"); }\n",
    );
    duct::cmd!(
        "clang",
        format!("--target={triple}"),
        "-fuse-ld=lld",
        "-nostdlib",
        "-fPIC",
        "-o",
        &exe,
        &c,
        format!("{sysroot}/libc.so.6"),
        format!("-Wl,-dynamic-linker,{interp}"),
        "-Wl,-e,_start"
    )
    .run()
    .unwrap();
    let e = exe.to_str().unwrap();
    let long = "/nix/store/11111111111111111111111111111111-glibc-cross-with-a-long-name/lib/ld.so";
    elf(&["--set-interpreter", long, "--set-rpath", rpath, e]);
    assert_eq!(patchelf("--print-interpreter", &exe), long);
    assert_eq!(patchelf("--print-rpath", &exe), rpath);
    assert!(readelf("-l", &exe).contains(&format!("[Requesting program interpreter: {long}]")));
}

#[test]
fn cross_armhf_elf32_le() {
    cross("arm-linux-gnueabihf", "/lib/ld-linux-armhf.so.3", true);
}

#[test]
fn cross_i386_elf32_le() {
    cross("i686-linux-gnu", "/lib/ld-linux.so.2", true);
}

#[test]
fn cross_mips_elf32_be() {
    cross("mips-linux-gnu", "/lib/ld.so.1", true);
}

#[test]
fn cross_s390x_elf64_be() {
    cross("s390x-linux-gnu", "/lib/ld64.so.1", false);
}

/// An i386 program edited to outgrow its dynamic section still runs under the i386 loader.
#[test]
fn i386_program_runs_after_edit() {
    let sysroot = "/usr/i686-linux-gnu/lib";
    if !have(sysroot) || !have("clang") || !have("ld.lld") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let exe = tmp.path().join("p32");
    let c = tmp.path().join("s.c");
    write(
        &c,
        "long write(int, const void *, unsigned long);\nvoid _exit(int);\nvoid _start(void) { write(1, \"hi32\\n\", 5); _exit(0); }\n",
    );
    duct::cmd!(
        "clang",
        "--target=i686-linux-gnu",
        "-fuse-ld=lld",
        "-nostdlib",
        "-fPIC",
        "-o",
        &exe,
        &c,
        format!("{sysroot}/libc.so.6"),
        "-Wl,-dynamic-linker,/lib/ld-linux.so.2"
    )
    .run()
    .unwrap();
    let loader = format!("{sysroot}/ld-linux.so.2");
    // The kernel may not run i386 programs (no IA32 emulation); qemu-user does, so the
    // test never skips for that: without both, `have` fails it under CI=true.
    let native = duct::cmd!(&loader, "--library-path", sysroot, &exe)
        .unchecked()
        .stderr_null()
        .read()
        .unwrap_or_default()
        == "hi32";
    if !native && !have("qemu-i386") {
        return;
    }
    let run32 = |args: &[&str]| -> String {
        let mut all: Vec<&str> = vec![&loader];
        all.extend(args);
        let (program, rest) = if native {
            (all[0].to_string(), all[1..].to_vec())
        } else {
            ("qemu-i386".to_string(), all)
        };
        duct::cmd(program, rest).read().unwrap()
    };
    let e = exe.to_str().unwrap();
    assert_eq!(run32(&["--library-path", sysroot, e]), "hi32");
    let long = format!("{sysroot}/../lib/../lib/../lib/../lib/../lib/../lib");
    let mut args = vec!["--set-rpath", &long];
    for lib in [
        "libm.so.6",
        "libdl.so.2",
        "librt.so.1",
        "libpthread.so.0",
        "libanl.so.1",
        "libutil.so.1",
    ] {
        args.extend(["--add-needed", lib]);
    }
    args.push(e);
    elf(&args);
    assert_eq!(run32(&[e]), "hi32");
    assert!(patchelf("--print-needed", &exe).contains("libutil.so.1"));
}

/// Replacing or removing a DT_NEEDED entry the file does not have is an error that names the
/// file and the entry, and nothing is written (patchelf only warns): a silent no-op would
/// hide a relink that no longer does what it was written for.
#[test]
fn missing_needed_entry_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let prog = tmp.path().join("ls");
    fs::copy("/usr/bin/ls", &prog).unwrap();
    let p = prog.to_str().unwrap();
    let before = fs::read(&prog).unwrap();
    let out = tmp.path().join("out");
    let o = out.to_str().unwrap();
    let absent = "libnot-there.so.1";
    let cases: [&[&str]; 3] = [
        &["--replace-needed", absent, "libother.so.1"],
        &["--remove-needed", absent],
        // One present entry does not excuse the absent one.
        &["--remove-needed", "libc.so.6", "--remove-needed", absent],
    ];
    for args in cases {
        for target in [&[][..], &["--output", o][..]] {
            let (code, stdout, stderr) = run_abicut(&[&["elf"], args, target, &[p]].concat());
            assert_eq!(code, 3, "{args:?} {target:?}: {stderr}");
            assert!(stdout.is_empty(), "{args:?}: {stdout}");
            assert!(
                stderr.contains(p) && stderr.contains(absent),
                "{args:?}: {stderr}"
            );
            assert_eq!(fs::read(&prog).unwrap(), before, "{args:?}: file changed");
            assert!(!out.exists(), "{args:?}: output written");
        }
    }
    assert_eq!(
        fs::read_dir(tmp.path()).unwrap().count(),
        1,
        "no temporary files left"
    );
}

/// `--force-rpath` only qualifies `--set-rpath`; alone it would do nothing, so clap refuses it
/// (a usage error: status 3, as every error).
#[test]
fn force_rpath_needs_set_rpath() {
    let tmp = tempfile::tempdir().unwrap();
    let prog = tmp.path().join("ls");
    fs::copy("/usr/bin/ls", &prog).unwrap();
    let before = fs::read(&prog).unwrap();
    let (code, _, stderr) = run_abicut(&["elf", "--force-rpath", prog.to_str().unwrap()]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("--set-rpath"), "{stderr}");
    assert_eq!(fs::read(&prog).unwrap(), before);
}

/// The program header table moves into the new segment when anything grows (docs/relink.md's
/// trade-off against kernels before 5.17.2), and stays where it is for edits in place.
#[test]
fn program_headers_move_only_when_something_grows() {
    if !have("readelf") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let prog = tmp.path().join("ls");
    fs::copy("/usr/bin/ls", &prog).unwrap();
    let p = prog.to_str().unwrap();
    let phoff = |f: &Path| {
        readelf("-h", f)
            .lines()
            .find(|l| l.contains("Start of program headers"))
            .map(str::to_owned)
            .unwrap()
    };
    let before = phoff(&prog);
    elf(&["--add-needed", "libm.so.6", p]);
    let grown = phoff(&prog);
    assert_ne!(grown, before, "a new string moves the table");
    duct::cmd!(&prog, "--version").stdout_null().run().unwrap();
    elf(&["--remove-needed", "libm.so.6", p]);
    assert_eq!(phoff(&prog), grown, "removing an entry is done in place");
    duct::cmd!(&prog, "--version").stdout_null().run().unwrap();
}

/// An ELF32 file has 32-bit addresses: when no room is left below 4 GiB for the new
/// segment, the edit is refused (it used to be written with its end wrapped past 4 GiB).
#[test]
fn elf32_new_segment_must_fit_below_4_gib() {
    let sysroot = "/usr/i686-linux-gnu/lib";
    if !have(sysroot) {
        return;
    }
    let mut bytes = fs::read(format!("{sysroot}/libm.so.6")).unwrap();
    let word = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let phoff = word(&bytes, 0x1c) as usize;
    let phnum = u16::from_le_bytes(bytes[0x2c..0x2e].try_into().unwrap()) as usize;
    let last_load = (0..phnum)
        .map(|i| phoff + i * 32)
        .rfind(|&o| word(&bytes, o) == 1)
        .unwrap();
    // Move the last PT_LOAD (vaddr and paddr) to end just below 4 GiB, its address still
    // agreeing with its offset modulo the page size (or the file is not loadable at all).
    let (vaddr, memsz) = (word(&bytes, last_load + 8), word(&bytes, last_load + 20));
    let r = vaddr & 0xfff;
    let high = (0xffff_ffff - memsz - r) / 0x1000 * 0x1000 + r;
    // PT_DYNAMIC lies in that segment, and ld.so reads it at its address: it moves along.
    let dynamic = (0..phnum)
        .map(|i| phoff + i * 32)
        .find(|&o| word(&bytes, o) == 2)
        .unwrap();
    let moved = word(&bytes, dynamic + 8).wrapping_add(high.wrapping_sub(vaddr));
    bytes[dynamic + 8..dynamic + 12].copy_from_slice(&moved.to_le_bytes());
    bytes[last_load + 8..last_load + 12].copy_from_slice(&high.to_le_bytes());
    bytes[last_load + 12..last_load + 16].copy_from_slice(&high.to_le_bytes());
    let tmp = tempfile::tempdir().unwrap();
    let so = tmp.path().join("high.so");
    fs::write(&so, &bytes).unwrap();
    let long = "/nix/store/00000000000000000000000000000000-a-runpath-longer-than-any-before/lib";
    let (code, _, stderr) = run_abicut(&["elf", "--set-rpath", long, so.to_str().unwrap()]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("no address space left"), "{stderr}");
    assert_eq!(fs::read(&so).unwrap(), bytes);
}

/// Overwrites `n` bytes at `off` (little-endian) in a copy of an x86_64 file.
fn poke(bytes: &mut [u8], off: usize, n: usize, v: u64) {
    bytes[off..off + n].copy_from_slice(&v.to_le_bytes()[..n]);
}

fn phdr_offset(bytes: &[u8], p_type: u32) -> usize {
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().unwrap()) as usize;
    let phnum = u16::from_le_bytes(bytes[0x38..0x3a].try_into().unwrap()) as usize;
    (0..phnum)
        .map(|i| phoff + i * 56)
        .find(|&o| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()) == p_type)
        .unwrap()
}

#[test]
fn hostile_files_are_refused_and_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let good = fs::read("/usr/bin/ls").unwrap();
    let mut cases: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    cases.push((
        "truncated",
        good[..good.len() / 2].to_vec(),
        "past the end of the file",
    ));
    cases.push(("header-only", good[..40].to_vec(), "truncated"));
    cases.push((
        "not-elf",
        b"#!/bin/sh\necho hi\n".to_vec(),
        "not an ELF file",
    ));
    let mut overlap = good.clone();
    let first_load = phdr_offset(&good, 1);
    let second_load = first_load + 56;
    let vaddr = u64::from_le_bytes(good[first_load + 16..first_load + 24].try_into().unwrap());
    poke(&mut overlap, second_load + 16, 8, vaddr + 0x10);
    cases.push(("overlap", overlap, "overlapping loadable segments"));
    // ld.so reads PT_DYNAMIC at its address (its file offset is no matter).
    let mut outside = good.clone();
    poke(
        &mut outside,
        phdr_offset(&good, 2) + 16,
        8,
        0x7fff_0000_0000,
    );
    cases.push(("dynamic-outside", outside, "not inside any loaded part"));
    let mut bad_strtab = good.clone();
    let dyn_off = u64::from_le_bytes(
        good[phdr_offset(&good, 2) + 8..phdr_offset(&good, 2) + 16]
            .try_into()
            .unwrap(),
    ) as usize;
    let strtab = (0..64)
        .map(|i| dyn_off + i * 16)
        .find(|&o| good[o] == 5)
        .unwrap();
    poke(&mut bad_strtab, strtab + 8, 8, 0x7fff_0000_0000);
    cases.push(("strtab-unmapped", bad_strtab, "DT_STRTAB"));

    for (name, bytes, needle) in cases {
        let f = tmp.path().join(name);
        fs::write(&f, &bytes).unwrap();
        for args in [
            vec![
                "--set-rpath",
                "/x/y/z/a/very/long/path/indeed/longer/than/before",
            ],
            vec!["--print-needed"],
        ] {
            let f_str = f.to_str().unwrap();
            let (code, _, stderr) = run_abicut(&[&["elf"], args.as_slice(), &[f_str]].concat());
            assert_eq!(code, 3, "{name}: {stderr}");
            assert!(
                stderr.contains(name) && stderr.contains(needle),
                "{name}: {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{name}: {stderr}");
            assert_eq!(fs::read(&f).unwrap(), bytes, "{name}: file changed");
        }
        // Given alone, a damaged file is an error; in a tree, a problem of the tree.
        let (code, _, stderr) = run_abicut(&["verify", "--json", f.to_str().unwrap()]);
        assert_eq!(code, 3, "{name}: {stderr}");
        assert!(stderr.contains(name), "{name}: {stderr}");
        let alone = tmp.path().join(format!("{name}.tree"));
        fs::create_dir(&alone).unwrap();
        fs::write(alone.join(name), &bytes).unwrap();
        let (code, stdout, _) = run_abicut(&["verify", "--json", alone.to_str().unwrap()]);
        fs::remove_dir_all(&alone).unwrap();
        if name != "not-elf" {
            assert_eq!(code, 1, "{name}: {stdout}");
            assert!(stdout.contains("invalid-elf"), "{name}: {stdout}");
        } else {
            assert_eq!(
                code, 0,
                "{name}: a file that is not ELF is skipped: {stdout}"
            );
        }
    }
    assert_eq!(
        fs::read_dir(tmp.path()).unwrap().count(),
        6,
        "no temporary files left"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
    /// Corrupting header, program-header or dynamic bytes of a real program never panics
    /// the editor or the dependency reader: either it works or it says why it does not.
    #[test]
    fn corrupted_files_never_panic(
        header_flips in proptest::collection::vec((0usize..0x400, proptest::prelude::any::<u8>()), 0..6),
        flips in proptest::collection::vec((0usize..1 << 20, proptest::prelude::any::<u8>()), 0..6),
        cut in proptest::option::of(0usize..200_000),
    ) {
        let mut bytes = fs::read("/usr/bin/true").unwrap();
        let len = bytes.len();
        for (at, v) in header_flips.into_iter().chain(flips) {
            bytes[at % len] = v;
        }
        if let Some(c) = cut {
            bytes.truncate(c.min(len));
        }
        let path = Path::new("corrupt");
        let _ = abicut::elf::deps::read(path, &bytes);
        if let Ok(elf) = abicut::elf::edit::ElfFile::parse(path, bytes) {
            let _ = elf.needed();
            let _ = elf.interpreter();
            let _ = elf.edit(&[
                abicut::elf::edit::Edit::SetRpath("/a/much/longer/runpath/than/any/before/it".into()),
                abicut::elf::edit::Edit::AddNeeded("libextra.so.1".into()),
                abicut::elf::edit::Edit::SetInterpreter("/a/much/longer/interpreter/path/ld.so".into()),
            ]);
        }
    }
}

/// ld.so loads files whose `p_align` is no power of two (it checks only that address and
/// offset agree modulo its page size); a grown file must still load. With PT_LOADs aligned
/// to 0x1001, the new segment used to be placed modulo 0x1001, not page-aligned, and the
/// edited program crashed at start.
#[test]
fn growing_a_file_whose_p_align_is_no_power_of_two() {
    if !tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for pie in ["-pie", "-no-pie"] {
        let exe = tmp.path().join(format!("prog{pie}"));
        let src = "#include <stdio.h>\nint main(void) { puts(\"odd\"); return 0; }\n";
        cc(tmp.path(), "odd", src, &exe, &[pie]);
        let mut bytes = fs::read(&exe).unwrap();
        let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().unwrap()) as usize;
        let phnum = u16::from_le_bytes(bytes[0x38..0x3a].try_into().unwrap()) as usize;
        for o in (0..phnum).map(|i| phoff + i * 56) {
            if u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()) == 1 {
                poke(&mut bytes, o + 48, 8, 0x1001);
            }
        }
        fs::write(&exe, &bytes).unwrap();
        assert_eq!(run(&exe), "odd", "{pie}: runs before the edit");
        let long = format!("/tmp/{}", "d".repeat(300));
        let e = exe.to_str().unwrap();
        elf(&["--set-rpath", &long, "--add-needed", "libm.so.6", e]);
        assert_eq!(run(&exe), "odd", "{pie}: runs after the edit");
        for line in readelf("-l", &exe).lines().filter(|l| l.contains("LOAD")) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (off, vaddr) = (fields[1], fields[2]);
            let parse = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
            assert_eq!(parse(off) % 0x1000, parse(vaddr) % 0x1000, "{pie}: {line}");
        }
    }
}

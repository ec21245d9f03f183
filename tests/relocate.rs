//! `abicut relocate` on real Nix-built closures (nix/tests' prog1 with its libraries and
//! interpreter, built by Debian's Nix 2.8 in the test) and on a hand-made store: the
//! relocated programs run and print what they print from /nix/store, `abicut verify` finds
//! every library and no reference to /nix/store, and bad input writes nothing.

mod support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use support::cache::BinaryCache;
use support::real::nix_command;
use support::user::{Nobody, TmpNix};
use support::{bin_path, have, run, run_abicut};

/// The host's library directories, as nix/tests' stdenv passes them to `verify`.
const LIB_PATHS: [&str; 4] = [
    "--lib-path",
    "/lib/x86_64-linux-gnu",
    "--lib-path",
    "/usr/lib/x86_64-linux-gnu",
];

/// prog1's output path, built once per test process with this abicut (None: no Nix).
fn prog1() -> Option<&'static str> {
    static BUILT: OnceLock<Option<String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            if !have("nix-build") || !have("gcc") || !have("pkg-config") {
                return None;
            }
            let dir = tempfile::tempdir().unwrap();
            let bin = dir.path().join("abicut/bin");
            std::fs::create_dir_all(&bin).unwrap();
            std::fs::copy(bin_path(), bin.join("abicut")).unwrap();
            let set = Path::new(env!("CARGO_MANIFEST_DIR")).join("nix/tests");
            let abicut = dir.path().join("abicut");
            let out = nix_command(
                "nix-build",
                [
                    set.as_os_str(),
                    "--arg".as_ref(),
                    "abicut".as_ref(),
                    abicut.as_os_str(),
                    "-A".as_ref(),
                    "prog1.out".as_ref(),
                    "--no-out-link".as_ref(),
                ],
                dir.path(),
            )
            .run()
            .unwrap();
            let log = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "nix-build failed:\n{log}");
            let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
            assert!(path.starts_with("/nix/store/"), "{path}\n{log}");
            Some(path)
        })
        .as_deref()
}

/// A fresh directory with a short name directly under /tmp (`/tmp/XXX`, 8 bytes), so that
/// store directories below it are about as long as `/nix/store` (10).
fn short_tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("")
        .rand_bytes(3)
        .tempdir_in("/tmp")
        .unwrap()
}

/// prog1 ([`prog1`]) and a [`short_tmp`] to work in, when prog1 is built and every one of
/// `tools` is on PATH; None (the test skips) otherwise.
fn prog1_in_tmp(tools: &[&str]) -> Option<(&'static str, tempfile::TempDir)> {
    let prog1 = prog1()?;
    tools.iter().all(|t| have(t)).then(|| (prog1, short_tmp()))
}

/// The single entry of `store` whose name contains `name`.
fn entry(store: &Path, name: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(store)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(name))
        .collect();
    assert_eq!(found.len(), 1, "{name} in {}: {found:?}", store.display());
    found[0].clone()
}

/// Every file and symlink target under `root` that contains `needle`.
fn naming(root: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for w in abicut::fsx::walk(root).unwrap() {
        let bytes = match &w.target {
            Some(t) => t.as_os_str().as_encoded_bytes().to_vec(),
            None if w.meta.is_file() => std::fs::read(&w.path).unwrap(),
            None => continue,
        };
        if memchr::memmem::find(&bytes, needle).is_some() {
            out.push(w.path);
        }
    }
    out
}

/// Relocates prog1's closure to `store`, runs both programs, verifies: the common oracle
/// of the real-closure tests.
fn relocate_and_run(prog1: &str, store: &Path) {
    let store_s = store.to_str().unwrap();
    let (code, stdout, stderr) = run_abicut(&["relocate", prog1, "--closure", "--to", store_s]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        std::fs::read_dir(store).unwrap().count(),
        5,
        "prog1, mid's lib and its indirection, base and its indirection:\n{stdout}"
    );
    let moved = entry(store, &prog1[44..prog1.len() - 3]);
    let (from_nix, relocated) = (
        run(Path::new(prog1).join("bin/prog1"), &[], store),
        run(moved.join("bin/prog1"), &[], store),
    );
    assert_eq!(relocated, from_nix);
    assert!(relocated.contains("mid_compute(2) = 42"), "{relocated}");
    let libdir = run(moved.join("bin/prog1-base-libdir"), &[], store);
    assert!(
        libdir.starts_with(&format!("{store_s}/"))
            && Path::new(libdir.trim()).join("libbase.so.1").is_file(),
        "the script names the relocated base: {libdir}"
    );
    let mut args = vec!["verify", store_s, "--forbid", "/nix/store"];
    args.extend(LIB_PATHS);
    let (code, stdout, stderr) = run_abicut(&args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(naming(store, b"/nix/store"), Vec::<PathBuf>::new());
}

/// `/nix/store` (10) to `/tmp/XXX/ab` (11): names lose one character (`base-abi` becomes
/// `base-ab`), PT_INTERP, RUNPATH, the script and the indirections' symlinks follow.
#[test]
fn longer_store_dir_runs_and_verifies() {
    let Some((prog1, tmp)) = prog1_in_tmp(&[]) else {
        return;
    };
    let store = tmp.path().join("ab");
    relocate_and_run(prog1, &store);
    assert!(
        std::fs::read_dir(&store).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with("-base-ab")),
        "base's indirection is cut to `base-ab`"
    );
}

/// `/tmp/XXX/s` (10): the same length, a plain prefix rewrite.
#[test]
fn same_length_store_dir_runs_and_verifies() {
    let Some((prog1, tmp)) = prog1_in_tmp(&[]) else {
        return;
    };
    let store = tmp.path().join("s");
    relocate_and_run(prog1, &store);
    assert_eq!(
        entry(&store, "prog1").file_name(),
        Path::new(prog1).file_name()
    );
}

/// `/tmp/XXX` (8): names are padded with `_`.
#[test]
fn shorter_store_dir_pads_names() {
    let Some((prog1, tmp)) = prog1_in_tmp(&[]) else {
        return;
    };
    relocate_and_run(prog1, tmp.path());
    assert!(
        entry(tmp.path(), "prog1")
            .to_string_lossy()
            .ends_with("-prog1-1.0__")
    );
}

/// A store directory longer than `base-abi` can absorb (+8): an error naming every name too
/// short and the longest directory that fits, nothing written.
#[test]
fn names_too_short_are_refused_before_writing() {
    let Some((prog1, tmp)) = prog1_in_tmp(&[]) else {
        return;
    };
    let store = tmp.path().join("nix/store");
    let (code, _, stderr) = run_abicut(&[
        "relocate",
        prog1,
        "--closure",
        "--to",
        store.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("2 names are too short")
            && stderr.contains("-base-abi (`base-abi`)")
            && stderr.contains("-base-1.0 (`base-1.0`)")
            && stderr.contains("at most 7 characters longer"),
        "{stderr}"
    );
    assert!(!tmp.path().join("nix").exists(), "nothing written");
}

/// Without `--closure`, references to paths left behind are reported per file, exit 1.
#[test]
fn references_left_behind_are_reported() {
    let Some((prog1, tmp)) = prog1_in_tmp(&[]) else {
        return;
    };
    let store = tmp.path().join("s");
    let (code, stdout, stderr) = run_abicut(&["relocate", prog1, "--to", store.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("bin/prog1: still names the old store directory")
            && stdout.contains("bin/prog1-base-libdir: still names the old store directory"),
        "{stdout}"
    );
}

/// `--closure-from` takes `nix-store -qR` output: the same closure as the scan.
#[test]
fn closure_from_a_listing() {
    let Some((prog1, tmp)) = prog1_in_tmp(&["nix-store"]) else {
        return;
    };
    let listing = tmp.path().join("closure");
    let out = duct::cmd!("nix-store", "-qR", prog1).read().unwrap();
    std::fs::write(&listing, out).unwrap();
    let store = tmp.path().join("s");
    let (code, stdout, stderr) = run_abicut(&[
        "relocate",
        prog1,
        "--closure-from",
        listing.to_str().unwrap(),
        "--to",
        store.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(std::fs::read_dir(&store).unwrap().count(), 5, "{stdout}");
}

const H1: &str = "0123456789abcdfghijklmnpqrsvwxyz";
const H2: &str = "zyxwvsrqpnmlkjihgfdcba9876543210";

/// A hand-made store `<tmp>/store` (as long as needed) with two paths: `lib-1.0` holding
/// gzip files naming itself (one stored, one compressed), an xz file, and `app-2.0` with an absolute and a relative
/// symlink into `lib-1.0` and a text file naming `<hash>-lib-1.0` without a directory.
fn fake_store(tmp: &Path) -> (PathBuf, PathBuf) {
    let store = tmp.join("store");
    let lib = store.join(format!("{H1}-lib-1.0"));
    let app = store.join(format!("{H2}-app-2.0"));
    std::fs::create_dir_all(lib.join("share")).unwrap();
    std::fs::create_dir_all(app.join("bin")).unwrap();
    for (file, times) in [("share/short.gz", 1), ("share/long.gz", 100)] {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let text = format!("prefix={}\n", lib.display()).repeat(times);
        std::io::Write::write_all(&mut gz, text.as_bytes()).unwrap();
        std::fs::write(lib.join(file), gz.finish().unwrap()).unwrap();
    }
    std::fs::write(lib.join("share/data.xz"), b"\xfd7zXZ\0rest").unwrap();
    std::fs::write(lib.join("share/self"), format!("{}/share\n", lib.display())).unwrap();
    std::os::unix::fs::symlink(lib.join("share"), app.join("abs")).unwrap();
    std::os::unix::fs::symlink(format!("../../{H1}-lib-1.0/share"), app.join("bin/rel")).unwrap();
    std::fs::write(
        app.join("bare"),
        format!("see {H1}-lib-1.0 and {}\n", lib.display()),
    )
    .unwrap();
    (lib, app)
}

/// Relative and absolute symlinks follow a shortened name; compressed data and a bare
/// `<hash>-<old name>` are reported per file; the rest is rewritten.
#[test]
fn symlinks_follow_and_what_cannot_be_rewritten_is_reported() {
    let tmp = short_tmp();
    let (lib, app) = fake_store(tmp.path());
    let old_len = tmp.path().join("store").as_os_str().len();
    let new = tmp.path().join("store.new");
    assert_eq!(new.as_os_str().len(), old_len + 4);
    let (code, stdout, stderr) = run_abicut(&[
        "relocate",
        app.to_str().unwrap(),
        "--closure",
        "--to",
        new.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let new_lib = new.join(format!("{H1}-lib"));
    let new_app = new.join(format!("{H2}-app"));
    assert_eq!(
        std::fs::read_to_string(new_lib.join("share/self")).unwrap(),
        format!("{}/share\n", new_lib.display())
    );
    for link in ["abs", "bin/rel"] {
        assert!(new_app.join(link).join("self").is_file(), "{link} resolves");
    }
    assert_eq!(
        std::fs::read_link(new_app.join("bin/rel")).unwrap(),
        Path::new(&format!("../../{H1}-lib/share"))
    );
    // flate2 stores so short a text as it is (short.gz): the path inside is rewritten, and
    // the gzip checksum no longer matches. long.gz compresses it.
    for (file, what) in [
        ("share/short.gz", "gzip data that does not decompress"),
        (
            "share/long.gz",
            "compressed data naming the old store directory",
        ),
        ("share/data.xz", "compressed data that was not checked"),
    ] {
        let line = format!("{}: holds {what}", new_lib.join(file).display());
        assert!(stdout.contains(&line), "{line}\n{stdout}");
    }
    let line = format!(
        "{}: names a store path's old name",
        new_app.join("bare").display()
    );
    assert!(stdout.contains(&line), "{line}\n{stdout}");
    assert!(lib.join("share/self").is_file(), "the source stays");
}

/// A new store directory that ends with the old one (`/nix/store` to `/tmp/nix/store`): every
/// relocated file names the new directory, which holds the old one's name; that is not a
/// reference to the old directory, for relocate's report nor for `verify --forbid`, while
/// a real one beside it (`-L<old>/…`, a path left behind) still is.
#[test]
fn a_new_store_dir_ending_with_the_old_one_is_not_the_old_one() {
    let tmp = short_tmp();
    let old = tmp.path().join("s");
    let path = old.join(format!("{H1}-a-long-name-1.0"));
    std::fs::create_dir_all(path.join("lib")).unwrap();
    let own = format!("prefix={}\n", path.display());
    std::fs::write(path.join("lib/own.pc"), &own).unwrap();
    let new =
        Path::new(&format!("{}/n", tmp.path().display())).join(old.strip_prefix("/").unwrap());
    // Compressed data cannot be rewritten; this names the new directory already (a path
    // outside the relocated set, so no rewrite is due), which is not the old one.
    let elsewhere = format!("prefix={}/{H2}-elsewhere\n", new.display());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, elsewhere.repeat(50).as_bytes()).unwrap();
    std::fs::write(path.join("lib/own.gz"), gz.finish().unwrap()).unwrap();
    let left = format!("Libs: -L{}/{H2}-elsewhere/lib\n", old.display());
    std::fs::write(path.join("lib/left.pc"), &left).unwrap();
    let (code, stdout, stderr) = run_abicut(&[
        "relocate",
        path.to_str().unwrap(),
        "--to",
        new.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let moved = entry(&new, H1);
    let reported: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with(new.to_str().unwrap()))
        .collect();
    let line = format!(
        "{}: still names the old store directory (1 times",
        moved.join("lib/left.pc").display()
    );
    assert!(
        reported.len() == 1 && reported[0].starts_with(&line),
        "only left.pc is reported:\n{stdout}"
    );
    let forbid = old.to_str().unwrap();
    std::fs::remove_file(moved.join("lib/left.pc")).unwrap();
    let (code, stdout, stderr) = run_abicut(&["verify", new.to_str().unwrap(), "--forbid", forbid]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    std::fs::write(moved.join("lib/left.pc"), left).unwrap();
    let (code, stdout, _) = run_abicut(&["verify", new.to_str().unwrap(), "--forbid", forbid]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("left.pc"), "{stdout}");
}

/// Bad input: not a store path, a path that does not exist, an existing destination, a
/// listing with a bad line, a store directory that is not canonical: exit 3, the culprit
/// named, nothing written.
#[test]
fn bad_input_is_refused_and_writes_nothing() {
    let tmp = short_tmp();
    let (_, app) = fake_store(tmp.path());
    let app_s = app.to_str().unwrap();
    let new = tmp.path().join("new00");
    let new_s = new.to_str().unwrap();
    let missing = tmp.path().join(format!("store/{H1}-gone"));
    let listing = tmp.path().join("listing");
    std::fs::write(&listing, format!("{app_s}\n/etc/passwd\n")).unwrap();
    let listing_s = listing.to_str().unwrap();
    let cases: [(Vec<&str>, &str); 5] = [
        (vec!["/etc/passwd"], "/etc/passwd: not a store path"),
        (vec![missing.to_str().unwrap()], "-gone: No such file"),
        (
            vec![app_s, "--closure-from", listing_s],
            "line 2: /etc/passwd: not a store path",
        ),
        (vec![app_s, "--to", "/tmp//x"], "must be canonical"),
        (
            vec![app_s, "--to", "relative/store"],
            "must be an absolute path",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["relocate"];
        all.extend(&args);
        if !args.contains(&"--to") {
            all.extend(["--to", new_s]);
        }
        let (code, stdout, stderr) = run_abicut(&all);
        assert_eq!(code, 3, "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains(want), "{args:?}: want {want}, got {stderr}");
        assert!(!new.exists(), "{args:?} wrote nothing");
    }
    let (code, _, stderr) = run_abicut(&["relocate", app_s, "--to", new_s]);
    assert_eq!(code, 1, "app alone leaves lib's references: {stderr}");
    let (code, _, stderr) = run_abicut(&["relocate", app_s, "--to", new_s]);
    assert_eq!(code, 3);
    assert!(stderr.contains("already exists"), "{stderr}");
}

/// An unprivileged user (nobody, through `setpriv`, no namespaces) relocates prog1's
/// closure from the store to a directory under its own $HOME, and, with no Nix of its own,
/// from a signed cache over HTTP to `/tmp/nix/store` and `$HOME/.nix` (4 and 5 characters
/// longer than `/nix/store`: names cut by as much), and runs it in each: what it prints from `/nix/store`, with
/// `/nix` hidden. Run as any other user the test runs as that user.
#[test]
fn unprivileged_user_relocates_under_home_and_tmp_nix() {
    let Some(prog1) = prog1() else { return };
    let Some(user) = Nobody::new(&bin_path()) else {
        return;
    };
    let expected = run(Path::new(prog1).join("bin/prog1"), &[], Path::new("."));
    let relocate = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let out = user.cmd(&user.abicut(), &args).run().unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    let runs_there = |store: &Path| {
        let moved = entry(store, &prog1[11..43]);
        let out = user
            .cmd_without_nix(&moved.join("bin/prog1"), &[])
            .run()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
        if user.is_root_run() {
            let owner = duct::cmd!("stat", "-c", "%U", &moved).read().unwrap();
            assert_eq!(owner.trim(), "nobody", "written by nobody");
        }
    };
    let store = user.home().join("s");
    relocate(&[
        "relocate",
        prog1,
        "--closure",
        "--to",
        store.to_str().unwrap(),
    ]);
    runs_there(&store);
    if !have("nix") || !have("python3") {
        assert!(
            std::env::var_os("CI").is_none(),
            "nix and python3 are needed"
        );
        return;
    }
    let cache = cache(prog1, "xz");
    let url = cache.url();
    let tmp_nix = TmpNix::claim(&user);
    for store in [tmp_nix.store(), user.home().join(".nix")] {
        let to = store.to_str().unwrap();
        relocate(&[
            "relocate",
            "--from",
            &url,
            prog1,
            "--to",
            to,
            "--trusted-key",
            cache.public_key(),
        ]);
        runs_there(&store);
        let cut = "prog1-1.0".len() - (to.len() - "/nix/store".len());
        assert_eq!(
            entry(&store, &prog1[11..43]).file_name().unwrap(),
            &prog1[11..44 + cut],
            "the name cut by the difference"
        );
    }
}

/// `--register` writes what a Nix for the new store directory takes: `nix-store
/// --register-validity --hash-given` accepts it, `--verify-path` recomputes every NAR hash
/// and agrees, `-qR` gives the relocated closure, `nix-env -i` installs prog1 into a
/// profile where it runs; a changed byte makes `--verify-path` fail,
/// so the check is real.
#[test]
fn nix_for_the_new_store_accepts_the_registration() {
    let Some((prog1, tmp)) = prog1_in_tmp(&["nix-store"]) else {
        return;
    };
    let store = tmp.path().join("s");
    let reg = tmp.path().join("registration");
    let (code, stdout, stderr) = run_abicut(&[
        "relocate",
        prog1,
        "--closure",
        "--to",
        store.to_str().unwrap(),
        "--register",
        reg.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let nix_in = |program: &str, args: &[&str], stdin: Option<&Path>| {
        let mut cmd = nix_command(program, args, tmp.path())
            .env("NIX_STORE_DIR", &store)
            .env("NIX_STATE_DIR", tmp.path().join("state"))
            .env("NIX_LOG_DIR", tmp.path().join("log"));
        if let Some(file) = stdin {
            cmd = cmd.stdin_path(file);
        }
        cmd.run().unwrap()
    };
    let nix = |args: &[&str], stdin: Option<&Path>| nix_in("nix-store", args, stdin);
    let out = nix(&["--register-validity", "--hash-given"], Some(&reg));
    assert!(out.status.success(), "{out:?}");
    let moved = entry(&store, "-prog1-");
    let moved_s = moved.to_str().unwrap();
    let out = nix(&["--verify-path", moved_s], None);
    assert!(out.status.success(), "{out:?}");
    let out = nix(&["-qR", moved_s], None);
    let closure = String::from_utf8_lossy(&out.stdout);
    assert_eq!(closure.lines().count(), 5, "{closure}");
    assert!(
        closure
            .lines()
            .all(|l| l.starts_with(store.to_str().unwrap())),
        "{closure}"
    );
    let profile = tmp.path().join("profile");
    let out = nix_in(
        "nix-env",
        &["-p", profile.to_str().unwrap(), "-i", moved_s],
        None,
    );
    assert!(out.status.success(), "nix-env -i: {out:?}");
    assert_eq!(
        run(profile.join("bin/prog1"), &[], tmp.path()),
        run(Path::new(prog1).join("bin/prog1"), &[], tmp.path()),
        "installed into a profile of the new store, it runs"
    );
    let script = moved.join("bin/prog1-base-libdir");
    abicut::fsx::set_mode(&moved.join("bin"), 0o755).unwrap();
    let text = std::fs::read_to_string(&script).unwrap();
    abicut::fsx::set_mode(&script, 0o755).unwrap();
    std::fs::write(&script, text.replace("echo", "ECHO")).unwrap();
    let out = nix(&["--verify-path", moved_s], None);
    assert!(!out.status.success(), "a changed file fails --verify-path");
}

/// A signed binary cache of prog1's closure, its NARs compressed by `compression`, served
/// over HTTP on loopback; its key is named `relocate-test`.
fn cache(prog1: &str, compression: &str) -> BinaryCache {
    let cache = BinaryCache::start("relocate-test").unwrap();
    cache
        .push_paths_compressed(&[PathBuf::from(prog1)], compression)
        .unwrap();
    cache
}

/// From a signed cache over HTTP on loopback (every compression Nix writes) and over
/// file://, to a longer store directory: the programs run as from /nix/store, verify finds
/// no /nix/store, the signature is checked (a wrong key is refused, nothing written).
#[test]
fn from_a_signed_binary_cache_over_http_and_file() {
    let Some((prog1, tmp)) = prog1_in_tmp(&["nix", "python3"]) else {
        return;
    };
    let from_nix = run(Path::new(prog1).join("bin/prog1"), &[], tmp.path());
    let caches = ["xz", "zstd", "bzip2", "none"].map(|compression| cache(prog1, compression));
    for (i, cache) in caches.iter().enumerate() {
        for (j, url) in [cache.url(), cache.file_url()].iter().enumerate() {
            let store = tmp.path().join(format!("{i}{j}/"));
            let store = store.to_str().unwrap().trim_end_matches('/');
            let (code, stdout, stderr) = run_abicut(&[
                "relocate",
                "--from",
                url,
                prog1,
                "--to",
                store,
                "--trusted-key",
                cache.public_key(),
            ]);
            assert_eq!(code, 0, "{url}: {stdout}{stderr}");
            let moved = entry(Path::new(store), "-prog1-");
            assert_eq!(
                run(moved.join("bin/prog1"), &[], tmp.path()),
                from_nix,
                "{url}"
            );
            let mut args = vec!["verify", store, "--forbid", "/nix/store"];
            args.extend(LIB_PATHS);
            let (code, stdout, stderr) = run_abicut(&args);
            assert_eq!(code, 0, "{stdout}{stderr}");
        }
    }
    let url = caches[0].file_url();
    let store = tmp.path().join("wk");
    let wrong = "relocate-test:".to_string() + &"A".repeat(43) + "=";
    let (code, _, stderr) = run_abicut(&[
        "relocate",
        "--from",
        &url,
        prog1,
        "--to",
        store.to_str().unwrap(),
        "--trusted-key",
        &wrong,
    ]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("no valid signature by a trusted key"),
        "{stderr}"
    );
    assert!(!store.exists());
}

/// A narinfo whose NarHash is wrong, a truncated NAR, a missing path: errors naming the
/// file, nothing written.
#[test]
fn bad_caches_are_refused_and_write_nothing() {
    let Some((prog1, tmp)) = prog1_in_tmp(&["nix", "python3"]) else {
        return;
    };
    let hash = &prog1[11..43];
    let cache = cache(prog1, "none");
    let relocate = |store: &str| {
        let store = tmp.path().join(store);
        let out = run_abicut(&[
            "relocate",
            "--from",
            &cache.file_url(),
            prog1,
            "--to",
            store.to_str().unwrap(),
        ]);
        assert!(!store.exists(), "nothing written");
        out
    };
    let narinfo = cache.files().join(format!("{hash}.narinfo"));
    let text = std::fs::read_to_string(&narinfo).unwrap();
    let nar_hash = text
        .lines()
        .find_map(|l| l.strip_prefix("NarHash: sha256:"))
        .unwrap();
    let mut wrong = nar_hash.to_string();
    wrong.replace_range(0..1, if nar_hash.starts_with('0') { "1" } else { "0" });
    let line = format!("NarHash: sha256:{nar_hash}");
    std::fs::write(
        &narinfo,
        text.replace(&line, &format!("NarHash: sha256:{wrong}")),
    )
    .unwrap();
    let (code, _, stderr) = relocate("w1");
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains(".nar: NAR of") && stderr.contains("its narinfo says"),
        "{stderr}"
    );
    std::fs::write(&narinfo, &text).unwrap();
    let nar = cache
        .files()
        .join(text.lines().find_map(|l| l.strip_prefix("URL: ")).unwrap());
    let bytes = std::fs::read(&nar).unwrap();
    std::fs::write(&nar, &bytes[..bytes.len() / 2]).unwrap();
    let (code, _, stderr) = relocate("w2");
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("truncated or wrong"), "{stderr}");
    std::fs::remove_file(&narinfo).unwrap();
    let (code, _, stderr) = relocate("w3");
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains(&format!("{hash}.narinfo")), "{stderr}");
}

/// `--json`: one document, `schema` first, with the moves and the findings by kind.
#[test]
fn json_summary_is_one_document() {
    let tmp = short_tmp();
    let (_, app) = fake_store(tmp.path());
    let new = tmp.path().join("store.new");
    let (code, stdout, stderr) = run_abicut(&[
        "relocate",
        app.to_str().unwrap(),
        "--closure",
        "--to",
        new.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stdout
            .lines()
            .nth(1)
            .unwrap()
            .contains("\"schema\": \"abicut-relocate\"")
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["paths"].as_array().unwrap().len(), 2);
    let kinds: std::collections::BTreeSet<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    let want = [
        "compressed-broken",
        "compressed-reference",
        "compressed-unchecked",
        "old-name",
    ];
    assert_eq!(kinds, want.into_iter().collect());
}

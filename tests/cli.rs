//! The command line as a user meets it: usage lines that work as printed, output into a
//! closed pipe, names under multicall links.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::bin_path;

/// A chain graph `n0 <- n1 <- ... <- n{len-1}`, each linking the one before.
fn chain_graph(dir: &Path, len: usize) -> PathBuf {
    let nodes: Vec<serde_json::Value> = (0..len)
        .map(|i| {
            let inputs = if i == 0 {
                serde_json::json!({})
            } else {
                serde_json::json!({ format!("n{}", i - 1): "lib" })
            };
            serde_json::json!({ "id": format!("n{i}"), "inputs": inputs })
        })
        .collect();
    let graph = serde_json::json!({ "schema": "abicut-graph", "version": 1, "nodes": nodes });
    let path = dir.join("graph.json");
    std::fs::write(&path, graph.to_string()).expect("write graph");
    path
}

/// Runs `abicut ARGS | head -1` in bash and returns (abicut's exit status, its stderr, the
/// line `head` printed).
fn into_head(args: &[&str]) -> (i32, String, String) {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let script = format!(
        "'{}' {} 2>stderr | head -1; echo \"status=${{PIPESTATUS[0]}}\"",
        bin_path().display(),
        quoted.join(" ")
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = stdout
        .lines()
        .find_map(|l| l.strip_prefix("status="))
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1);
    let stderr = std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default();
    (
        status,
        stderr,
        stdout.lines().next().unwrap_or("").to_owned(),
    )
}

#[test]
fn relink_plan_into_closed_pipe_exits_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let graph = chain_graph(dir.path(), 20_000);
    let graph = graph.to_str().expect("utf-8 path");
    let (status, stderr, first) = into_head(&["relink-plan", graph, "--changed", "n0"]);
    assert_eq!(
        status, 0,
        "abicut exits 0 when head closes the pipe: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!first.is_empty(), "head saw the first line");
}

/// head closing the pipe loses the rest of the report, not the verdict: breaking is 2.
#[test]
fn diff_into_closed_pipe_keeps_its_verdict() {
    let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
    let libm = "/usr/lib/x86_64-linux-gnu/libm.so.6";
    let (status, stderr, first) = into_head(&["diff", libc, libm]);
    assert_eq!(
        status, 2,
        "abicut diff | head exits with the verdict, breaking: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(first, "breaking");
}

/// The `Usage:` line `abicut ARGS --help` prints, without the `Usage: ` prefix.
fn usage(program: &Path, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .arg("--help")
        .output()
        .expect("abicut runs");
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    help.lines()
        .find_map(|l| l.strip_prefix("Usage: "))
        .unwrap_or_else(|| panic!("no usage line in {help}"))
        .to_owned()
}

/// Runs a usage line as printed, each `<PLACEHOLDER>` replaced by its value.
fn run_usage(line: &str, values: &[(&str, &str)]) -> std::process::Output {
    let words: Vec<String> = line
        .split_whitespace()
        .skip(1)
        .filter(|w| *w != "[OPTIONS]")
        .map(|w| {
            values
                .iter()
                .find(|(k, _)| *k == w)
                .map_or_else(|| w.to_owned(), |(_, v)| (*v).to_owned())
        })
        .collect();
    assert!(
        !words.iter().any(|w| w.starts_with('<')),
        "unfilled: {line}"
    );
    Command::new(bin_path())
        .args(&words)
        .output()
        .expect("abicut runs")
}

#[test]
fn relink_plan_and_explain_usage_order_works() {
    let dir = tempfile::tempdir().expect("tempdir");
    let graph = chain_graph(dir.path(), 3);
    let graph = graph.to_str().expect("utf-8 path");
    let values = [("<NAME>", "n0"), ("<GRAPH>", graph), ("<NODE>", "n2")];
    for cmd in ["relink-plan", "explain"] {
        let line = usage(&bin_path(), &[cmd]);
        let out = run_usage(&line, &values);
        assert!(
            out.status.success(),
            "usage line `{line}` fails: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn changed_repeats_before_and_after_the_graph() {
    let dir = tempfile::tempdir().expect("tempdir");
    let graph = chain_graph(dir.path(), 4);
    let graph = graph.to_str().expect("utf-8 path");
    let before = support::run_abicut_in(
        &[
            "relink-plan",
            "--changed",
            "n0",
            "--changed",
            "n2",
            graph,
            "--json",
        ],
        dir.path(),
    );
    let after = support::run_abicut_in(
        &[
            "relink-plan",
            graph,
            "--changed",
            "n0",
            "--changed",
            "n2",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(before.0, 0, "{}", before.2);
    assert_eq!(before.1, after.1);
    assert!(before.1.contains("\"n2\""), "{}", before.1);
}

/// A Nix-like graph: derivations named `pname-version`, no pname recorded.
fn versioned_graph(dir: &Path, extra: &[&str]) -> PathBuf {
    let mut nodes = vec![
        serde_json::json!({ "id": "/nix/store/a-base-1.0.drv", "name": "base-1.0" }),
        serde_json::json!({ "id": "/nix/store/b-python3-3.11.drv", "name": "python3-3.11" }),
        serde_json::json!({
            "id": "/nix/store/c-app-2.drv",
            "name": "app-2",
            "inputs": { "/nix/store/a-base-1.0.drv": "lib" }
        }),
    ];
    for (i, name) in extra.iter().enumerate() {
        nodes
            .push(serde_json::json!({ "id": format!("/nix/store/x{i}-{name}.drv"), "name": name }));
    }
    let graph = serde_json::json!({ "schema": "abicut-graph", "version": 1, "nodes": nodes });
    let path = dir.join("nix-graph.json");
    std::fs::write(&path, graph.to_string()).expect("write graph");
    path
}

#[test]
fn changed_matches_a_derivation_name_without_its_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let graph = versioned_graph(dir.path(), &[]);
    let graph = graph.to_str().expect("utf-8 path");
    let plan = |name: &str| {
        support::run_abicut_in(
            &["relink-plan", graph, "--changed", name, "--abi", "changed"],
            dir.path(),
        )
    };
    let (code, by_version_free, stderr) = plan("base");
    assert_eq!(code, 0, "{stderr}");
    let (_, by_full, _) = plan("base-1.0");
    assert_eq!(by_version_free, by_full);
    assert!(by_full.contains("app-2"), "{by_full}");
    let (code, _, stderr) = plan("python3");
    assert_eq!(code, 0, "a digit inside the name stays in it: {stderr}");
}

#[test]
fn a_version_free_name_matching_two_derivations_is_an_error_listing_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let graph = versioned_graph(dir.path(), &["base-2.0"]);
    let graph = graph.to_str().expect("utf-8 path");
    let (code, stdout, stderr) =
        support::run_abicut_in(&["relink-plan", graph, "--changed", "base"], dir.path());
    assert_eq!(code, 3, "{stdout}");
    assert!(stderr.contains("ambiguous"), "{stderr}");
    assert!(
        stderr.contains("base-1.0") && stderr.contains("base-2.0"),
        "{stderr}"
    );
}

#[test]
fn stubgen_multicall_usage_names_stubgen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("stubgen");
    std::os::unix::fs::symlink(bin_path(), &link).expect("symlink");
    let line = usage(&link, &[]);
    assert!(line.starts_with("stubgen "), "usage under stubgen: {line}");
    let out = Command::new(&link).output().expect("stubgen runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("abicut stubgen"), "{stderr}");
}

#[test]
fn every_elf_print_flag_has_help_text() {
    let out = Command::new(bin_path())
        .args(["elf", "--help"])
        .output()
        .expect("abicut runs");
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--print-rpath",
        "--print-interpreter",
        "--print-soname",
        "--print-needed",
    ] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(flag))
            .unwrap_or_else(|| panic!("{flag} missing from help:\n{help}"));
        assert!(
            line.trim_start().len() > flag.len() + 5,
            "{flag} has no help text: {line:?}"
        );
    }
}

/// README, docs/ and the sources cite only documents the repository holds.
#[test]
fn no_citation_of_a_design_document_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if root.join("DESIGN.md").exists() {
        return;
    }
    let mut files = vec![root.join("README.md")];
    for dir in ["docs", "src", "examples"] {
        for entry in walkdir(&root.join(dir)) {
            files.push(entry);
        }
    }
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            !text.contains("DESIGN.md"),
            "{} cites DESIGN.md, which is not in the repository",
            file.display()
        );
    }
}

/// Every file under `dir`, recursively.
fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// An apt configuration file under `dir` whose state (lists, caches) is private and empty,
/// so that what apt reports does not depend on whether this machine ever ran `apt-get
/// update` (a brand-new machine has no index under /var/lib/apt/lists).
fn private_apt_state(dir: &Path) -> PathBuf {
    for sub in ["lists/partial", "cache/archives/partial"] {
        std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
    }
    let conf = dir.join("apt.conf");
    let text = format!(
        "Dir::State::Lists \"{0}/lists/\";\nDir::Cache \"{0}/cache/\";\nDir::State::status \"/dev/null\";\n",
        dir.display()
    );
    std::fs::write(&conf, text).expect("write apt.conf");
    conf
}

/// Runs examples/debian-sources.sh against the apt configuration in `etc` (no update) and
/// returns what `apt-get indextargets` then reports: (deb targets, deb-src targets, stderr).
fn debian_sources(etc: &Path, apt_conf: &Path) -> (Vec<String>, Vec<String>, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/debian-sources.sh");
    let run = Command::new("sh")
        .arg(&script)
        .env("APT_ETC", etc)
        .env("APT_CONFIG", apt_conf)
        .env("ABICUT_NO_UPDATE", "1")
        .output()
        .expect("sh runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out = Command::new("apt-get")
        .env("APT_CONFIG", apt_conf)
        .arg(format!("-o=Dir::Etc={}", etc.display()))
        .args([
            "indextargets",
            "--no-release-info",
            "--format",
            "$(TARGET_OF) $(REPO_URI) $(RELEASE) $(COMPONENT)",
        ])
        .output()
        .expect("apt-get runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    lines.dedup();
    let of = |kind: &str| -> Vec<String> {
        lines
            .iter()
            .filter_map(|l| l.strip_prefix(kind))
            .map(str::to_owned)
            .collect()
    };
    (
        of("deb "),
        of("deb-src "),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn debian_sources_adds_only_missing_deb_src_entries() {
    if !support::have("apt-get") {
        return;
    }
    let keyring = "/usr/share/keyrings/debian-archive-keyring.gpg";
    for deb822 in [true, false] {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = tempfile::tempdir().expect("tempdir");
        let apt_conf = private_apt_state(state.path());
        let etc = dir.path();
        std::fs::create_dir_all(etc.join("sources.list.d")).expect("mkdir");
        if deb822 {
            let stanza = |uri: &str, suites: &str| {
                format!(
                    "Types: deb\nURIs: {uri}\nSuites: {suites}\nComponents: main\nSigned-By: {keyring}\n"
                )
            };
            let text = stanza("http://deb.debian.org/debian", "bookworm bookworm-updates")
                + "\n"
                + &stanza("http://deb.debian.org/debian-security", "bookworm-security");
            std::fs::write(etc.join("sources.list.d/debian.sources"), text).expect("write");
        } else {
            let text = format!(
                "deb [signed-by={keyring}] http://deb.debian.org/debian bookworm main\n\
                 deb [signed-by={keyring}] http://deb.debian.org/debian bookworm-updates main\n\
                 deb [signed-by={keyring}] http://deb.debian.org/debian-security bookworm-security main\n"
            );
            std::fs::write(etc.join("sources.list"), text).expect("write");
        }
        // One deb-src entry the user already has, in a file of their own.
        std::fs::write(
            etc.join("sources.list.d/mine.list"),
            format!("deb-src [signed-by={keyring}] http://deb.debian.org/debian bookworm main\n"),
        )
        .expect("write");
        for _ in 0..2 {
            let (deb, src, stderr) = debian_sources(etc, &apt_conf);
            assert_eq!(deb.len(), 3, "{deb:?}");
            assert_eq!(src, deb, "every deb entry has its deb-src, once");
            assert!(
                !stderr.contains("configured multiple times") && !stderr.contains("E:"),
                "apt complains (deb822={deb822}): {stderr}"
            );
        }
    }
}

/// tests/run.sh asks tests/apt-indexes.sh whether apt needs an update before the tests that
/// ask the archive run: on a machine whose lists hold no index (a brand-new one) it must say
/// so, and once every suite has one it must not.
#[test]
fn apt_indexes_says_when_a_brand_new_machine_needs_apt_get_update() {
    if !support::have("apt-get") {
        return;
    }
    let state = tempfile::tempdir().expect("tempdir");
    let apt_conf = private_apt_state(state.path());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apt-indexes.sh");
    let fresh = || {
        Command::new("bash")
            .arg(&script)
            .env("APT_CONFIG", &apt_conf)
            .status()
            .expect("bash runs")
            .success()
    };
    assert!(!fresh(), "no index at all, yet no apt-get update");
    let targets = Command::new("apt-get")
        .env("APT_CONFIG", &apt_conf)
        .args([
            "indextargets",
            "--no-release-info",
            "--format",
            "$(FILENAME)",
        ])
        .arg("Created-By: Packages")
        .output()
        .expect("apt-get runs");
    let files = String::from_utf8_lossy(&targets.stdout).into_owned();
    let (all, arch): (Vec<&str>, Vec<&str>) = files.lines().partition(|f| f.contains("binary-all"));
    assert!(
        !arch.is_empty(),
        "apt is configured to fetch no Packages index"
    );
    let (first, rest) = arch.split_at(1);
    std::fs::write(first[0], b"").expect("write index");
    if !rest.is_empty() {
        assert!(!fresh(), "a suite lacks its index, yet no apt-get update");
    }
    for file in rest {
        std::fs::write(file, b"").expect("write index");
    }
    // A suite's Release need not list binary-all: its absence asks for no update.
    assert!(
        fresh(),
        "every suite has an index ({} without binary-all), yet apt-get update is asked for",
        all.len()
    );
}

/// README and the documents in docs/, whose commands the README walk runs as root.
fn documents() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    files.extend(
        walkdir(&root.join("docs"))
            .into_iter()
            .filter(|f| f.extension().is_some_and(|e| e == "md")),
    );
    files
        .into_iter()
        .map(|f| {
            let text =
                std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            (f, text)
        })
        .collect()
}

#[test]
fn docs_run_debian_sources_without_sudo() {
    let planning = include_str!("../docs/planning.md");
    assert!(planning.contains("sh examples/debian-sources.sh"));
    for (file, text) in documents() {
        assert!(
            !text.lines().any(|l| l.trim_start().starts_with("sudo ")),
            "{}: a root Debian machine has no sudo",
            file.display()
        );
    }
}

/// An example's binary, built in the profile this test was built in (`release`, or `ci` under
/// tests/run.sh), so that the example finds the `abicut` binary `cargo test` built beside it.
fn example(name: &str) -> PathBuf {
    let profile_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent()?.parent().map(Path::to_path_buf))
        .expect("test binary sits in target/<profile>/deps");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(dir) => dir,
        None => panic!("no profile directory above {}", profile_dir.display()),
    };
    // Always asked for: `cargo test` builds examples only as test targets, so a binary in
    // target/<profile>/examples may be older than the source (a no-op when it is current).
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--profile", profile, "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success());
    profile_dir.join("examples").join(name)
}

#[test]
fn bench_relink_leaves_nothing_behind() {
    if !support::have("patchelf") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).expect("mkdir");
    for lib in ["libz.so.1", "libm.so.6"] {
        std::fs::copy(
            Path::new("/usr/lib/x86_64-linux-gnu").join(lib),
            tree.join(lib),
        )
        .expect("copy a library");
    }
    let work = dir.path().join("work");
    std::fs::create_dir(&work).expect("mkdir");
    let out = Command::new(example("bench_relink"))
        .arg(&tree)
        .arg(&work)
        .current_dir(dir.path())
        .output()
        .expect("bench runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left: Vec<_> = std::fs::read_dir(&work).expect("read_dir").collect();
    assert!(left.is_empty(), "the bench left {left:?} in its WORKDIR");
}

/// Bare `abicut` in README's commands needs it on PATH: the install step comes first.
/// The README walk (tests/readme.rs) runs README before every document in docs/, so a bare
/// `abicut` there comes after README's install; no document has an install of abicut of its
/// own (`cargo install --path`) that a reader could take for the one to run first.
/// Installing another tool (docs/testing.md installs cargo-fuzz) is not that.
#[test]
fn readme_installs_abicut_before_using_it_bare() {
    for (file, text) in documents().iter().skip(1) {
        assert!(
            !text.contains("cargo install --path"),
            "{} installs abicut; README's install step is the one the walk relies on",
            file.display()
        );
    }
    let readme = include_str!("../README.md");
    let install = readme
        .find("cargo install --path .")
        .expect("README has an install step");
    let mut offset = 0;
    let mut in_sh = false;
    let mut first_bare = None;
    for line in readme.split_inclusive('\n') {
        if line.starts_with("```") {
            in_sh = line.trim_end() == "```sh" && !in_sh;
        } else if in_sh && line.trim_start().starts_with("abicut ") && first_bare.is_none() {
            first_bare = Some(offset);
        }
        offset += line.len();
    }
    let first_bare = first_bare.expect("README runs abicut somewhere");
    assert!(
        install < first_bare,
        "README runs bare `abicut` (offset {first_bare}) before installing it (offset {install})"
    );
}

/// An unknown ABI (the default `--abi unknown`, or a node missing from `--interfaces`)
/// counts as changed: the dependents compile, as under `--abi changed`, not as under `same`.
#[test]
fn unknown_abi_counts_as_changed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let graph = chain_graph(dir.path(), 3);
    let graph = graph.to_str().expect("utf-8 path");
    let plan = |extra: &[&str]| {
        let mut args = vec!["relink-plan", graph, "--changed", "n0"];
        args.extend(extra);
        let (code, text, stderr) = support::run_abicut_in(&args, dir.path());
        assert_eq!(code, 0, "{stderr}");
        text
    };
    let changed = plan(&["--abi", "changed"]);
    let same = plan(&["--abi", "same"]);
    assert_ne!(changed, same);
    assert!(changed.contains("compile   n1"), "{changed}");
    assert_eq!(
        plan(&[]),
        changed,
        "the default is unknown, which counts as changed"
    );
    assert_eq!(plan(&["--abi", "unknown"]), changed);
    let old = dir.path().join("old.json");
    let new = dir.path().join("new.json");
    std::fs::write(&old, r#"{"n1": "h1"}"#).expect("write");
    std::fs::write(&new, r#"{"n1": "h1"}"#).expect("write");
    let measured = plan(&["--interfaces", old.to_str().unwrap(), new.to_str().unwrap()]);
    assert!(
        measured.contains("compile   n1"),
        "n0 is missing from the measurements, so unknown: {measured}"
    );
}

/// Every command prints through `cli::out` (a closed pipe is handled there); a bare
/// `println!` would panic on one again.
#[test]
fn no_command_prints_around_cli_out() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = walkdir(&root.join("src/cli"));
    files.push(root.join("src/main.rs"));
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            let bare = line.contains("println!(") && !line.contains("eprintln!(")
                || line.contains("print!(") && !line.contains("eprint!(");
            assert!(
                !bare,
                "{}:{}: prints around cli::out: {line}",
                file.display(),
                n + 1
            );
        }
    }
}

/// Runs `abicut ARGS` in `dir`: (exit status, stdout, stderr).
fn run_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    support::run_abicut_in(args, dir)
}

const LIBZ: &str = "/usr/lib/x86_64-linux-gnu/libz.so.1";
const LIBM: &str = "/usr/lib/x86_64-linux-gnu/libm.so.6";

/// An error names the path and the cause first, not a rule about the arguments.
#[test]
fn diff_of_a_missing_path_names_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, _, stderr) = run_in(dir.path(), &["diff", ".", "/nonexistent"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.starts_with("abicut: /nonexistent: No such file or directory"),
        "{stderr}"
    );
}

/// A single file given to verify must be ELF: empty, text and truncated files are errors
/// (exit 3) naming the file once and the cause, not `0 problems` or a doubled path.
#[test]
fn verify_of_a_file_that_is_not_a_sound_elf_object_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let libz = std::fs::read(LIBZ).expect("libz");
    std::fs::write(dir.path().join("empty"), b"").expect("write");
    std::fs::write(dir.path().join("text"), b"hello\n").expect("write");
    std::fs::write(dir.path().join("trunc.so"), &libz[..100]).expect("write");
    for (name, cause) in [
        ("empty", "empty file"),
        ("text", "not an ELF object"),
        ("trunc.so", "truncated"),
    ] {
        let (code, stdout, stderr) = run_in(dir.path(), &["verify", name]);
        assert_eq!(code, 3, "{name}: {stdout}{stderr}");
        assert!(
            stderr.starts_with(&format!("abicut: {name}: ")) && stderr.contains(cause),
            "{name}: {stderr}"
        );
        assert_eq!(
            stderr.matches(&format!("{name}:")).count(),
            1,
            "the path once: {stderr}"
        );
        assert_eq!(stdout, "", "{name}: no report");
    }
    // In a directory, a damaged ELF file is a problem (exit 1) named once, and a file that
    // is not ELF is skipped.
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).expect("mkdir");
    std::fs::write(tree.join("trunc.so"), &libz[..100]).expect("write");
    std::fs::write(tree.join("text"), b"hello\n").expect("write");
    let (code, stdout, stderr) = run_in(dir.path(), &["verify", "tree"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let line = stdout.lines().next().unwrap_or_default();
    assert!(
        line.starts_with("tree/trunc.so: program header"),
        "{stdout}"
    );
    assert_eq!(
        line.matches("trunc.so").count(),
        1,
        "the path once: {stdout}"
    );
    assert!(
        stdout.contains("2 files, 0 ELF objects, 1 problems"),
        "{stdout}"
    );
    // With --forbid there is something to check in any file: references.
    std::fs::write(dir.path().join("script"), b"exec /nix/store/bad/bin/x\n").expect("write");
    let forbid = |file: &str| run_in(dir.path(), &["verify", "--forbid", "/nix/store/bad", file]).0;
    assert_eq!(forbid("text"), 0);
    assert_eq!(forbid("script"), 1);
    assert_eq!(
        forbid("trunc.so"),
        3,
        "a damaged ELF file is still an error"
    );
}

#[test]
fn elf_print_interpreter_of_a_file_without_one_names_it() {
    let (code, _, stderr) = run_in(Path::new("."), &["elf", "--print-interpreter", LIBZ]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains(&format!("{LIBZ}: no interpreter")),
        "{stderr}"
    );
}

/// `abicut elf FILE` with nothing to do says so (as readelf does) and leaves FILE alone.
#[test]
fn elf_without_an_edit_or_query_refuses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = dir.path().join("libz.so.1");
    std::fs::copy(LIBZ, &lib).expect("copy");
    let (code, stdout, stderr) = run_in(dir.path(), &["elf", "libz.so.1"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("nothing to do"), "{stderr}");
    assert!(
        stderr.contains("--print-needed"),
        "says what to add: {stderr}"
    );
    assert_eq!(stdout, "");
    assert_eq!(
        std::fs::read(&lib).expect("read"),
        std::fs::read(LIBZ).expect("libz")
    );
}

/// `diff` details show values as people write them, never Rust's `Some("...")` or `[...]`.
#[test]
fn diff_details_are_plain_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, json, stderr) = run_in(dir.path(), &["stubgen", "--format", "json", LIBZ]);
    assert_eq!(code, 0, "{stderr}");
    let old: serde_json::Value = serde_json::from_str(&json).expect("canonical JSON");
    let mut new = old.clone();
    new["soname"] = serde_json::Value::Null;
    new["needed"] = serde_json::json!(["libc.so.6", "libm.so.6"]);
    std::fs::write(dir.path().join("old.json"), old.to_string()).expect("write");
    std::fs::write(dir.path().join("new.json"), new.to_string()).expect("write");
    let (code, text, stderr) = run_in(dir.path(), &["diff", "old.json", "new.json"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        text.contains("soname: soname changed (libz.so.1 → (none))"),
        "{text}"
    );
    assert!(
        text.contains("needed: needed changed (libc.so.6 → libc.so.6, libm.so.6)"),
        "{text}"
    );
    assert!(!text.contains("Some(") && !text.contains("[\""), "{text}");
}

/// `--hash` of several libraries prints `HASH  PATH` per library, in order, each the hash
/// the library has alone; `--json` one document; `--format json` one line per library.
#[test]
fn stubgen_hashes_and_json_of_several_libraries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let alone = |lib: &str| {
        let (code, out, err) = run_in(dir.path(), &["stubgen", "--hash", lib]);
        assert_eq!(code, 0, "{err}");
        out
    };
    let (code, both, stderr) = run_in(dir.path(), &["stubgen", "--hash", LIBZ, LIBM]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(both, alone(LIBZ) + &alone(LIBM));
    let (zhash, zpath) = both
        .lines()
        .next()
        .and_then(|l| l.split_once("  "))
        .expect("line");
    assert_eq!((zhash.len(), zpath), (64, LIBZ));

    let (code, doc, stderr) = run_in(dir.path(), &["stubgen", "--hash", "--json", LIBZ, LIBM]);
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&doc).expect("one JSON document");
    assert_eq!(doc["schema"], "abicut-hashes");
    assert_eq!(doc["libraries"][0]["path"], LIBZ);
    assert_eq!(doc["libraries"][0]["abi_hash"], zhash);
    assert_eq!(doc["libraries"].as_array().map(Vec::len), Some(2));

    let json = |libs: &[&str]| {
        let (code, out, err) = run_in(
            dir.path(),
            &[&["stubgen", "--format", "json"], libs].concat(),
        );
        assert_eq!(code, 0, "{err}");
        out
    };
    assert_eq!(json(&[LIBZ, LIBM]), json(&[LIBZ]) + &json(&[LIBM]));

    let (code, _, stderr) = run_in(dir.path(), &["stubgen", LIBZ, LIBM]);
    assert_eq!(
        code, 3,
        "ELF stubs of several libraries need --out-dir: {stderr}"
    );
}

/// Two inputs with one file name would leave one output for two hashes: refused, naming
/// both and the output, before anything is written.
#[test]
fn stubgen_out_dir_refuses_two_libraries_with_one_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    for sub in ["a", "b"] {
        std::fs::create_dir(dir.path().join(sub)).expect("mkdir");
        std::fs::copy(LIBZ, dir.path().join(sub).join("libz.so.1")).expect("copy");
    }
    let (code, stdout, stderr) = run_in(
        dir.path(),
        &[
            "stubgen",
            "--hash",
            "--out-dir",
            "out",
            "a/libz.so.1",
            "b/libz.so.1",
        ],
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("a/libz.so.1 and b/libz.so.1 would both be written to out/libz.so.1"),
        "{stderr}"
    );
    assert_eq!(stdout, "", "no hash printed");
    assert!(!dir.path().join("out").exists(), "nothing written");
}

/// A usage error exits 3, like any error: clap's 2 would read as `diff`'s "breaking".
#[test]
fn a_usage_error_exits_with_the_error_status() {
    let (code, _, stderr) = run_in(Path::new("."), &["diff", "--no-such-flag", LIBZ, LIBZ]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("--no-such-flag"), "{stderr}");
    let (code, stdout, _) = run_in(Path::new("."), &["diff", "--help"]);
    assert_eq!(code, 0, "help is not an error");
    assert!(stdout.contains("Exit status"), "{stdout}");
}

/// `explain --json` and `interface --json` print one document each, with their schema.
#[test]
fn explain_and_interface_json_are_documents_with_a_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let graph = chain_graph(dir.path(), 3);
    let graph = graph.to_str().expect("utf-8 path");
    let (code, doc, stderr) = run_in(
        dir.path(),
        &["explain", graph, "n2", "--changed", "n0", "--json"],
    );
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&doc).expect("one JSON document");
    assert_eq!(
        (&doc["schema"], &doc["version"]),
        (&"abicut-explain".into(), &1.into())
    );
    let ids: Vec<&str> = doc["chains"][0]
        .as_array()
        .expect("one chain")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, ["n2", "n1", "n0"], "{doc}");

    let out = dir.path().join("out/lib");
    std::fs::create_dir_all(&out).expect("mkdir");
    std::fs::copy(LIBZ, out.join("libz.so.1")).expect("copy");
    let (code, doc, stderr) = run_in(dir.path(), &["interface", "--hash", "--json", "out"]);
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&doc).expect("one JSON document");
    assert_eq!(doc["schema"], "abicut-interface", "{doc}");
    let (_, hash, _) = run_in(dir.path(), &["interface", "--hash", "out"]);
    assert_eq!(doc["hash"].as_str().map(|h| format!("{h}\n")), Some(hash));
}

/// README's promise for `--json` (under "Commands"): every command prints one pretty
/// document (never JSON Lines), which starts with its `schema` and `version`.
#[test]
fn every_json_output_is_one_document_with_schema_and_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let graph = chain_graph(d, 3);
    let graph = graph.to_str().expect("utf-8 path");
    std::fs::create_dir_all(d.join("out/lib")).expect("mkdir");
    std::fs::copy(LIBZ, d.join("out/lib/libz.so.1")).expect("copy");
    let (code, _, stderr) = run_in(
        d,
        &[
            "relink-plan",
            graph,
            "--changed",
            "n0",
            "--json",
            "-o",
            "plan.json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let commands: [&[&str]; 9] = [
        &["stubgen", "--hash", "--json", LIBZ, LIBM],
        &["interface", "--hash", "--json", "out"],
        &["diff", "--json", LIBZ, LIBM],
        &["relink", "--json", "out", "relinked"],
        &["elf", "--json", LIBZ, LIBM],
        &["verify", "--json", "out"],
        &["relink-plan", graph, "--changed", "n0", "--json"],
        &["explain", graph, "n2", "--changed", "n0", "--json"],
        &["report", "--json", "plan.json"],
    ];
    for args in commands {
        let (code, stdout, stderr) = run_in(d, args);
        assert!(code < 3, "{args:?}: {stderr}");
        let doc: serde_json::Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not one document: {e}: {stdout}"));
        let first = stdout.lines().nth(1).unwrap_or_default();
        assert!(
            first.trim_start().starts_with("\"schema\": \"abicut-"),
            "{args:?}: {stdout}"
        );
        assert!(doc["version"].is_u64(), "{args:?}: {stdout}");
        assert!(
            stdout.ends_with("}\n"),
            "{args:?}: pretty, one final newline"
        );
    }
}

/// Runs `abicut ARGS` in `dir` with 1 GiB of address space and 20 s: a command that blocks on
/// a FIFO or reads /dev/zero to its end fails the test instead of hanging it or eating the
/// machine's memory. (exit status, stderr); killed is -1.
fn run_bounded(args: &[&str], dir: &Path) -> (i32, String) {
    let out = Command::new("timeout")
        .args([
            "-s",
            "KILL",
            "20",
            "sh",
            "-c",
            "ulimit -v 1048576; exec \"$0\" \"$@\"",
        ])
        .arg(bin_path())
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("timeout runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every command that reads a file given on its command line refuses one that is not a
/// regular file (a FIFO would block it, /dev/zero never ends, /dev/null cannot be mapped),
/// naming the file and what it is, at once.
#[test]
fn special_files_are_refused_clearly_never_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let made = Command::new("mkfifo")
        .arg(dir.path().join("fifo"))
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let fifo = "fifo: is a FIFO (named pipe), expected a regular file";
    let zero = "/dev/zero: is a character device, expected a regular file";
    let null = "/dev/null: is a character device, expected a regular file";
    let cases: [(&[&str], &str); 9] = [
        (&["stubgen", "--hash", "fifo"], fifo),
        (&["diff", "fifo", "fifo"], fifo),
        (&["elf", "--print-needed", "fifo"], fifo),
        (&["verify", "fifo"], fifo),
        (&["stubgen", "--hash", "/dev/null"], null),
        (&["relink-plan", "/dev/zero", "--changed", "x"], zero),
        (&["report", "/dev/zero"], zero),
        (&["relink", "--map-file", "/dev/zero", "src", "dst"], zero),
        (&["explain", "/dev/zero", "a", "--changed", "a"], zero),
    ];
    for (args, want) in cases {
        let (code, stderr) = run_bounded(args, dir.path());
        assert_eq!(code, 3, "abicut {args:?}: {stderr}");
        assert!(stderr.contains(want), "abicut {args:?}: {stderr}");
    }
    assert!(!dir.path().join("dst").exists());
}

/// One reader of ELF headers, one wording: every command that reads a library says the same
/// of a file cut inside its ELF header (stubgen once said "type is too big (2) for 0").
#[test]
fn a_truncated_elf_header_reads_the_same_to_every_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let libz = std::fs::read("/usr/lib/x86_64-linux-gnu/libz.so.1").expect("libz");
    std::fs::write(dir.path().join("cut.so"), &libz[..52]).expect("write");
    let want = "cut.so: truncated: the ELF header needs 0x40 bytes, the file has 0x34";
    for args in [
        &["stubgen", "--hash", "cut.so"][..],
        &["verify", "cut.so"],
        &["elf", "--print-needed", "cut.so"],
        &["diff", "cut.so", "cut.so"],
    ] {
        let (code, stderr) = run_bounded(args, dir.path());
        assert_eq!(code, 3, "abicut {args:?}: {stderr}");
        assert!(stderr.contains(want), "abicut {args:?}: {stderr}");
    }
}

/// `stubgen --hash` prints `HASH  PATH` "as b3sum does": a name holding a newline or a
/// backslash is escaped as b3sum escapes it (a leading `\`, then `\n` and `\\`), one line.
#[test]
fn stubgen_hash_escapes_names_as_b3sum_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let libz = std::fs::read("/usr/lib/x86_64-linux-gnu/libz.so.1").expect("libz");
    std::fs::write(dir.path().join("plain.so"), &libz).expect("write");
    std::fs::write(dir.path().join("na\nm\\e.so"), &libz).expect("write");
    let (code, plain, stderr) =
        support::run_abicut_in(&["stubgen", "--hash", "plain.so"], dir.path());
    assert_eq!(code, 0, "{stderr}");
    let hash = plain.split_whitespace().next().expect("a hash");
    let (code, odd, stderr) =
        support::run_abicut_in(&["stubgen", "--hash", "na\nm\\e.so"], dir.path());
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(odd, format!("\\{hash}  na\\nm\\\\e.so\n"));
}

/// Exit status of `abicut ARGS` in `dir` whose reader closed standard output before
/// abicut wrote anything (`abicut ... | head -0`).
fn status_with_closed_stdout(args: &[&str], dir: &Path) -> Option<i32> {
    let mut child = Command::new(bin_path())
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("abicut starts");
    drop(child.stdout.take());
    child.wait().expect("abicut ends").code()
}

/// Where the verdict is known before printing, it is the exit status even when the reader
/// has gone: `abicut verify TREE | head -1` with problems found, `abicut diff A B | head -1`
/// on a breaking diff, a stubgen batch with a failed library. Only what was to be printed is
/// lost.
#[test]
fn a_closed_pipe_keeps_the_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir(d.join("tree")).expect("mkdir");
    let (code, _, stderr) = support::run_abicut_in(
        &[
            "elf",
            "--add-needed",
            "libnot-here.so.1",
            "--output",
            "tree/prog",
            "/usr/bin/true",
        ],
        d,
    );
    assert_eq!(code, 0, "{stderr}");
    let lib = "/usr/lib/x86_64-linux-gnu";
    let (libz, libm) = (format!("{lib}/libz.so.1"), format!("{lib}/libm.so.6"));
    std::fs::write(d.join("bad.so"), b"not a library").expect("write");
    std::fs::create_dir(d.join("stubs")).expect("mkdir");
    for (args, want) in [
        (vec!["verify", "tree"], 1),
        (vec!["verify", "--json", "tree"], 1),
        (vec!["diff", &libz, &libm], 2),
        (vec!["diff", "--json", &libz, &libm], 2),
        (
            vec!["stubgen", "--hash", "--out-dir", "stubs", &libz, "bad.so"],
            3,
        ),
    ] {
        let (code, _, _) = support::run_abicut_in(&args, d);
        assert_eq!(code, want, "abicut {args:?} with its output read");
        assert_eq!(
            status_with_closed_stdout(&args, d),
            Some(want),
            "abicut {args:?} | head -0"
        );
    }
}

//! Real software through the split (issue 12), with a real Nix: five upstream projects from
//! Debian's source packages (zlib, libpng, expat, libxml2, libxslt) and a third-party
//! program on top, each built by its own build system, split and classic
//! (nix/tests/real). Every package's test suite runs after its final build, against the
//! real libraries.
//!
//! One test, since every step needs the builds before it: the first build of both; an
//! ABI-neutral update of zlib (a fix in deflate.c, a version bump) that compiles zlib alone
//! (the tools' runtime pinned at the first build: xmlpng's build runs xsltproc, which links
//! libxml2 and zlib) and relinks and retests everything above it; the classic rebuild of the same sources,
//! whose programs bind every symbol exactly as the split's do; and an update that changes
//! zlib.h, which compiles zlib's dependents again.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::cache::BinaryCache;
use support::real::{self, Build, RealSet};
use support::user::{Nobody, TmpNix};
use support::{bin_path, have, run_abicut};

fn sorted(items: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn assert_tests_pass(build: &Build, what: &str) -> (usize, usize) {
    let (passed, failed) = real::test_results(&build.outputs);
    assert!(build.ok, "{what} failed:\n{}", tail(&build.log));
    assert_eq!(failed, 0, "{what}: failed tests");
    (passed, failed)
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(80)..].join("\n")
}

fn summary(what: &str, build: &Build) {
    let roles = [
        "classic",
        "compile",
        "interface",
        "indirection",
        "relink",
        "tool",
        "test",
    ];
    eprintln!("{what}: {:.1} s", build.elapsed.as_secs_f64());
    for role in roles {
        let packages = build.packages(role);
        if !packages.is_empty() {
            eprintln!(
                "  {role:<12} {:>6.1} cpu-s  {}",
                build.cpu_s(&[role]),
                packages.join(" ")
            );
        }
    }
}

#[test]
fn real_software_through_the_split() {
    let tools = [
        "nix-build",
        "apt-get",
        "dpkg-source",
        "autoreconf",
        "libtoolize",
        "patch",
        "g++",
    ];
    if !tools.iter().all(|t| have(t)) {
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let set = RealSet::new(repo, &bin_path()).unwrap();
    let zlib_and_above = sorted(&["zlib", "libpng", "libxml2", "libxslt", "xmlpng"]);

    let first = set.build(&["checks", "classic.checks"], real::NONE);
    summary("first build, split and classic", &first);
    let graph = set.dir().join("graph.json");
    std::fs::write(&graph, set.classic_graph(real::NONE)).unwrap();
    let (passed, _) = assert_tests_pass(&first, "the first build");
    assert!(passed >= 90, "only {passed} test cases ran");
    assert_eq!(
        first.packages("test").len(),
        12,
        "a test per package, split and classic"
    );

    // The ABI-neutral update, the tools' runtime pinned at the first build: zlib compiles,
    // nothing above it does, xmlpng included, whose build runs libxslt's xsltproc (its
    // build-time copy runs on the pinned libxml2 and zlib, and keeps its path); zlib and
    // everything above it relinks and runs its tests again (xmlpng's check the picture
    // xsltproc rendered at build time); expat, which does not use zlib, is left.
    let update = set.build(&["checks"], real::ABI_NEUTRAL);
    summary("ABI-neutral update of zlib, split", &update);
    assert_tests_pass(&update, "the split after the ABI-neutral update");
    assert_eq!(update.packages("compile"), ["zlib"], "compiled");
    assert!(
        update.packages("tool").is_empty(),
        "build-time copies built"
    );
    assert_eq!(update.packages("interface"), ["zlib"], "interfaces built");
    // A library's indirection mirrors its final output, so it follows every relink (the
    // program at the top has no dependents, so no indirection is built for it).
    assert_eq!(
        update.packages("indirection"),
        sorted(&["zlib", "libpng", "libxml2", "libxslt"]),
        "indirections built"
    );
    assert_eq!(update.packages("relink"), zlib_and_above, "relinked");
    assert_eq!(update.packages("test"), zlib_and_above, "tests rerun");

    let classic = set.build(&["classic.checks"], real::ABI_NEUTRAL);
    summary("ABI-neutral update of zlib, classic", &classic);
    assert_tests_pass(&classic, "the classic build after the update");
    assert_eq!(
        classic.packages("classic"),
        zlib_and_above,
        "classic rebuilds"
    );

    // abicut's plan over the classic graph is what Nix did, and the report, weighted with
    // the CPU times the builders logged, shows the time avoided.
    let weights = real::weights(&update, &classic, &first);
    let (plan, report) = real::plan_and_report(&bin_path(), set.dir(), &graph, &weights).unwrap();
    eprintln!("{report}");
    assert_eq!(real::planned(&plan, "compile"), update.packages("compile"));
    assert_eq!(
        real::planned(&plan, "relink"),
        sorted(&["libpng", "libxml2", "libxslt", "xmlpng"])
    );
    assert_eq!(real::planned(&plan, "untouched"), ["expat"]);
    assert!(report.contains("### CPU time"), "{report}");
    assert!(report.contains("| 0 |"), "every node weighted: {report}");

    // The split's programs bind as the classic ones do: the same symbols, from the same
    // libraries, in the same order.
    let scratch = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for p in real::PACKAGES {
        let split = real::programs(&set.outputs(&format!("{p}.out"), real::ABI_NEUTRAL));
        let classic = real::programs(&set.outputs(&format!("classic.{p}"), real::ABI_NEUTRAL));
        assert_eq!(
            split.keys().collect::<Vec<_>>(),
            classic.keys().collect::<Vec<_>>(),
            "{p}: programs"
        );
        for (name, program) in &split {
            let ours = real::bindings(program, scratch.path());
            let theirs = real::bindings(&classic[name], scratch.path());
            assert!(!ours.is_empty(), "{name}: no bindings");
            let diff: BTreeMap<usize, (&String, &String)> = ours
                .iter()
                .zip(&theirs)
                .enumerate()
                .filter(|(_, (a, b))| a != b)
                .take(5)
                .collect();
            assert!(
                ours.len() == theirs.len() && diff.is_empty(),
                "{name}: {} vs {} bindings, first differences {diff:?}",
                ours.len(),
                theirs.len()
            );
            compared += 1;
        }
    }
    eprintln!("bindings: the same for all {compared} programs");
    assert!(compared >= 15, "only {compared} programs");

    let (nix_passed, _) = real::test_results(&update.outputs);
    relocated_suites_pass(&set, nix_passed);

    // A header change: zlib's dependents compile again; expat, which does not use zlib,
    // does not.
    let header = set.build(&["checks"], real::HEADER_CHANGE);
    summary("zlib.h changed, split", &header);
    assert_tests_pass(&header, "the split after the header change");
    let compiled = header.packages("compile");
    for p in ["zlib", "libpng", "libxml2", "xmlpng"] {
        assert!(
            compiled.contains(&p.to_string()),
            "{p} not compiled: {compiled:?}"
        );
    }
    assert!(!compiled.contains(&"expat".to_string()), "{compiled:?}");
}

/// Issue 19: the updated split (every package's outputs and their closure) pushed to a
/// signed binary cache served over HTTP on loopback, relocated from it by an unprivileged
/// user with no Nix (`abicut relocate --from`) to `/tmp/nix/store` and to `$HOME/.nix`
/// (4 and 5 characters longer than `/nix/store`: every name is cut by as much); there no file
/// names `/nix/store`, `verify` passes, and every package's test suite, run as that user
/// with `/nix` hidden, passes as many cases as it did in Nix.
fn relocated_suites_pass(set: &RealSet, nix_passed: usize) {
    let Some(user) = Nobody::new(&bin_path()) else {
        assert!(std::env::var_os("CI").is_none(), "setpriv is needed");
        return;
    };
    let outputs: Vec<PathBuf> = real::PACKAGES
        .iter()
        .flat_map(|p| set.outputs(&format!("{p}.out"), real::ABI_NEUTRAL))
        .collect();
    let cache = BinaryCache::start("abicut-relocate-1").unwrap();
    cache.push_paths(&outputs).unwrap();
    let suites: Vec<Suite> = real::PACKAGES
        .iter()
        .map(|p| Suite::prepare(set, &user, p))
        .collect();
    let tmp_nix = TmpNix::claim(&user);
    for store in [tmp_nix.store(), user.home().join(".nix")] {
        let to = store.to_string_lossy().into_owned();
        let mut args = vec!["relocate".to_string(), "--from".into(), cache.url()];
        args.extend(outputs.iter().map(|o| o.to_string_lossy().into_owned()));
        args.extend(["--to".into(), to.clone(), "--trusted-key".into()]);
        args.push(cache.public_key().to_string());
        let start = std::time::Instant::now();
        let out = user.cmd(&user.abicut(), &args).run().unwrap();
        assert!(out.status.success(), "relocate to {to}: {out:?}");
        let moved = std::fs::read_dir(&store).unwrap().count();
        eprintln!(
            "relocated {moved} paths from the cache to {to} as an unprivileged user in {:.2} s",
            start.elapsed().as_secs_f64()
        );
        // The host's C runtime comes from the interpreter's default directories: a
        // `--lib-path` would come before RUNPATH and give the host's expat and libxml2.
        let (code, stdout, stderr) = run_abicut(&["verify", &to, "--forbid", "/nix/store"]);
        assert_eq!(code, 0, "verify {to}: {stdout}{stderr}");
        // `/tmp/nix/store` holds `/nix/store`; what it names is not the old directory.
        let grep = duct::cmd!("grep", "-rlP", "(?<!/tmp)/nix/store", &store)
            .unchecked()
            .stdout_capture()
            .run()
            .unwrap();
        assert_eq!(
            grep.status.code(),
            Some(1),
            "files naming /nix/store: {}",
            String::from_utf8_lossy(&grep.stdout)
        );
        let passed: usize = suites.iter().map(|s| s.run(&user, &store)).sum();
        eprintln!("  test suites from {to}, /nix hidden: {passed} cases passed, 0 failed");
        assert_eq!(passed, nix_passed, "cases passed in {to} and in Nix");
    }
}

/// One package's test suite as its test derivation runs it (`nix show-derivation` of
/// `checks.P`: the script, its helpers, the sources it reads), copied where the user can
/// read it, run against the relocated outputs instead of the `/nix/store` ones.
struct Suite {
    dir: PathBuf,
    /// The derivation's environment (`name`; its sources and scripts).
    env: BTreeMap<String, String>,
    /// `package`, `package_out`, `package_tests`, … and the package's output each names:
    /// in the environment they are placeholders of content-addressed outputs.
    package: Vec<(String, PathBuf)>,
}

impl Suite {
    fn prepare(set: &RealSet, user: &Nobody, pname: &str) -> Suite {
        let mut args = set.args(real::ABI_NEUTRAL);
        args.extend(["-A".into(), format!("checks.{pname}")]);
        let drv = real::nix_command("nix-instantiate", &args, set.dir())
            .run()
            .unwrap();
        assert!(drv.status.success(), "{drv:?}");
        let drv = String::from_utf8_lossy(&drv.stdout).trim().to_string();
        let show = real::nix_command("nix", ["show-derivation", &drv], set.dir())
            .run()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
        let env: BTreeMap<String, String> = json[&drv]["env"]
            .as_object()
            .unwrap()
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect();
        let dir = user.home().join("suites").join(pname);
        std::fs::create_dir_all(&dir).unwrap();
        for file in ["checkScript", "checkCommon", "src"] {
            let copied = duct::cmd!("cp", "-rL", &env[file], dir.join(file)).run();
            assert!(copied.is_ok(), "{pname}: copy {file}");
        }
        user.give(&dir);
        let outputs = set.outputs(&format!("{pname}.out"), real::ABI_NEUTRAL);
        let mut package = vec![("package".to_string(), outputs[0].clone())];
        for path in outputs {
            let output = if path.to_string_lossy().ends_with("-tests") {
                "tests"
            } else {
                "out"
            };
            package.push((format!("package_{output}"), path));
        }
        Suite { dir, env, package }
    }

    /// Runs the suite against the relocated outputs in `store`; its passed cases.
    fn run(&self, user: &Nobody, store: &Path) -> usize {
        let name = store.file_name().unwrap().to_string_lossy().into_owned();
        let (work, out) = (
            self.dir.join(format!("work-{name}")),
            self.dir.join(format!("out-{name}")),
        );
        std::fs::create_dir_all(&work).unwrap();
        user.give(&work);
        let relocated = |path: &Path| -> String {
            let path = path.to_string_lossy();
            let hash = &path["/nix/store/".len().."/nix/store/".len() + 33];
            let found = std::fs::read_dir(store)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(hash));
            found
                .unwrap_or_else(|| panic!("{path} not relocated"))
                .to_string_lossy()
                .into_owned()
        };
        let mut env: Vec<String> = vec![
            "PATH=/usr/bin:/bin".into(),
            format!("out={}", out.display()),
            format!("name={}", self.env["name"]),
        ];
        for file in ["checkScript", "checkCommon", "src"] {
            env.push(format!("{file}={}", self.dir.join(file).display()));
        }
        for (key, path) in &self.package {
            env.push(format!("{key}={}", relocated(path)));
        }
        let mut args: Vec<String> = vec!["-i".into()];
        args.extend(env);
        args.extend(["bash", "-c", "set -euo pipefail; source \"$checkScript\""].map(String::from));
        let run = user
            .cmd_without_nix(Path::new("/usr/bin/env"), &args)
            .dir(&work)
            .run()
            .unwrap();
        let results = std::fs::read_to_string(out.join("results")).unwrap_or_default();
        assert!(
            run.status.success() && !results.contains("FAIL "),
            "{}'s suite from {}: {}{}",
            self.env["name"],
            store.display(),
            String::from_utf8_lossy(&run.stderr),
            results
        );
        results.lines().filter(|l| l.starts_with("PASS ")).count()
    }
}

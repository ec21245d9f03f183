//! What an update costs a binary cache and its users (issue 18), with a real Nix, a real
//! signed binary cache served over HTTP on loopback and a client store of its own
//! (tests/support/cache.rs): the package set in nix/tests, its base library changed
//! ABI-neutrally (new code, version bumped), three ways: classic; the split with relinks in
//! the cache; the split with relinks made by the client (nix/lib.nix's relinkLocally).
//!
//! Checked: each client runs the new code after the update; a client that relinks locally,
//! after `nix-collect-garbage`, downloads no dependent's compile output again (only base's
//! new compile output), builds its relinks itself, and they equal the builder's byte for
//! byte (the same content-addressed paths, the same NARs); it downloads less than both
//! other clients, which download every dependent again.

mod support;

use std::path::{Path, PathBuf};
use support::cache::{self, Cost, Deployment, Mode, PackageSet};
use support::files::{copy_dir, edit_file};
use support::{bin_path, have};

const PACKAGES: [&str; 6] = ["base", "cc", "gen", "mid", "prog1", "prog2"];

/// A private copy of nix/ (salted so every output is new to the builder's store), the
/// abicut binary, and the pin (the set as first built: the tools' runtime).
struct TestSet {
    dir: tempfile::TempDir,
}

impl TestSet {
    fn new() -> TestSet {
        let dir = tempfile::tempdir().unwrap();
        let nix = dir.path().join("nix");
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("nix"), &nix);
        let bin = dir.path().join("abicut/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy(bin_path(), bin.join("abicut")).unwrap();
        let nonce = format!(
            "{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
        );
        for p in PACKAGES {
            let script = nix.join(format!("tests/src/{p}/build.sh"));
            let text = std::fs::read_to_string(&script).unwrap();
            let salt = format!(
                "mkdir -p \"$out/include\"\necho '/* cache test {nonce} */' > \"$out/include/test-run.h\"\n"
            );
            std::fs::write(&script, format!("{text}{salt}")).unwrap();
        }
        copy_dir(&nix, &dir.path().join("pin/nix"));
        TestSet { dir }
    }

    /// The ABI-neutral update: base's greeting changes, and its version.
    fn update(&self) {
        let nix = self.dir.path().join("nix/tests");
        edit_file(
            &nix.join("src/base/base.c"),
            "hello from base v1",
            "hello from base v2",
        );
        edit_file(
            &nix.join("default.nix"),
            "pname = \"base\";\n      version = \"1.0\"",
            "pname = \"base\";\n      version = \"1.0.1\"",
        );
    }

    fn abicut(&self) -> PathBuf {
        self.dir.path().join("abicut")
    }
}

impl PackageSet for TestSet {
    fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The sources are edited in place by [`TestSet::update`], so `updated` changes nothing.
    fn args(&self, mode: Mode, _updated: bool) -> Vec<String> {
        let abicut = self.abicut().display().to_string();
        let pin = format!(
            "import {}/pin/nix/tests {{ abicut = {abicut}; }}",
            self.dir.path().display()
        );
        let mut args = vec![
            "nix/tests".to_string(),
            "--arg".into(),
            "abicut".into(),
            abicut,
            "--arg".into(),
            "toolRuntime".into(),
            pin,
        ];
        args.extend(mode.args());
        args
    }

    fn packages(&self) -> Vec<String> {
        PACKAGES.map(str::to_string).to_vec()
    }

    /// Every output of each (`.all`: nix-build of a derivation builds its default output).
    fn installed(&self, mode: Mode) -> Vec<String> {
        ["base", "mid", "prog1", "prog2"]
            .map(|p| match mode {
                Mode::Classic => format!("classic.{p}.all"),
                _ => format!("{p}.out.all"),
            })
            .to_vec()
    }

    fn updated_package(&self) -> &'static str {
        "base"
    }
}

/// The output of prog1 as the client runs it.
fn prog1_says(d: &Deployment, outputs: &[String]) -> String {
    let prog1 = outputs
        .iter()
        .find(|o| o.ends_with("-prog1-1.0"))
        .unwrap_or_else(|| panic!("no prog1 in {outputs:?}"));
    d.client
        .must(Path::new("/"), &format!("{prog1}/bin/prog1"), &[])
        .stdout
}

/// The builder's output paths of `attr` (all outputs).
fn builder_paths(set: &TestSet, mode: Mode, attr: &str) -> Vec<String> {
    let mut args = set.args(mode, true);
    args.extend(["-A".into(), format!("{attr}.all"), "--no-out-link".into()]);
    nix_ok(set, "nix-build", &args)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The standard output of a Nix command run in the set's directory, which must succeed.
fn nix_ok(set: &TestSet, program: &str, args: &[String]) -> String {
    let out = support::real::nix_command(program, args, set.dir())
        .run()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `allowSubstitutes` and `preferLocalBuild` of the derivation of `attr`, as Nix stores them
/// ("" false, "1" true, None unset).
fn policy(set: &TestSet, mode: Mode, attr: &str) -> (Option<String>, Option<String>) {
    // The derivation is a GC root in the test's directory while it is read: a garbage
    // collection by another test in between must not take it (an unrooted one was read as
    // a derivation without these fields once, in a parallel run).
    let root = set.dir().join(format!("policy-{}-{attr}", mode.name()));
    let mut args = set.args(mode, false);
    args.extend(["-A".into(), attr.into(), "--add-root".into()]);
    args.push(root.display().to_string());
    nix_ok(set, "nix-instantiate", &args);
    let json = nix_ok(
        set,
        "nix",
        &["show-derivation".into(), root.display().to_string()],
    );
    let field = |name: &str| {
        let key = format!("\"{name}\": \"");
        json.split(&key)
            .nth(1)
            .and_then(|r| r.split('"').next())
            .map(str::to_string)
    };
    (field("allowSubstitutes"), field("preferLocalBuild"))
}

#[test]
fn relinks_made_locally_are_never_substituted() {
    if !have("nix-instantiate") {
        return;
    }
    let set = TestSet::new();
    let local = (Some(String::new()), Some("1".to_string()));
    for attr in ["mid.out", "mid.indirection", "gen.tool"] {
        assert_eq!(policy(&set, Mode::SplitLocal, attr), local, "{attr}");
        assert_eq!(
            policy(&set, Mode::SplitInCache, attr),
            (None, None),
            "{attr}"
        );
    }
    for attr in ["mid.compile", "mid.interface"] {
        assert_eq!(policy(&set, Mode::SplitLocal, attr), (None, None), "{attr}");
    }
}

#[test]
fn an_update_through_a_real_binary_cache_three_ways() {
    if !["nix-build", "gcc", "pkg-config", "python3", "unshare"]
        .iter()
        .all(|t| have(t))
    {
        return;
    }
    let set = TestSet::new();
    let deployments: Vec<Deployment> = cache::MODES
        .iter()
        .map(|m| Deployment::new(*m).unwrap())
        .collect();

    // The first state: published, installed, garbage collected.
    for d in &deployments {
        d.publish(&set, false);
        let (outputs, _) = d.install(&set, false);
        assert!(
            prog1_says(d, &outputs).contains("hello from base v1"),
            "{}",
            d.mode.name()
        );
        d.client.collect_garbage();
        eprintln!(
            "{}: the client's store after the first install and a GC: {} B",
            d.mode.name(),
            d.client.store_bytes()
        );
    }

    set.update();
    let costs: Vec<(Mode, Cost)> = deployments
        .iter()
        .map(|d| (d.mode, d.update(&set)))
        .collect();
    eprintln!("{}", cache::table(&costs));
    for (d, (_, cost)) in deployments.iter().zip(&costs) {
        assert!(
            prog1_says(d, &cost.outputs).contains("hello from base v2"),
            "{}: the old code after the update",
            d.mode.name()
        );
        eprintln!("{}: fetched {:?}", d.mode.name(), cost.fetched);
    }
    let [classic, in_cache, local] = [&costs[0].1, &costs[1].1, &costs[2].1];
    // Relinks in the cache save the builder's compiles, not the bytes: every dependent is a
    // new store path, served whole. Made locally, they cost the cache and the client only
    // what compiled (here base, the bulk of this small set, so the gap is small; see
    // examples/bench_cache.rs for the real set).
    assert!(in_cache.fetched.len() >= classic.fetched.len());
    assert!(local.downloaded < classic.downloaded);
    assert!(local.downloaded < in_cache.downloaded);
    assert!(local.cache_gain < in_cache.cache_gain);
    assert_eq!(local.dependents, 0, "no dependent's bytes downloaded");
    assert!(classic.dependents > 0 && in_cache.dependents >= classic.dependents);

    // The client that relinks locally downloaded base's new compile output and nothing of
    // any dependent: their compile outputs survived the garbage collection, referenced by
    // the final outputs' nix-support/abicut-compile.
    let local_d = &deployments[2];
    let base_compile = builder_paths(&set, Mode::SplitLocal, "base.compile");
    for p in &local.fetched {
        assert!(
            base_compile.contains(p),
            "the local client downloaded {p}, not base's compile output"
        );
    }
    assert!(!local.fetched.is_empty(), "base's new compile output");
    for p in ["mid", "prog1", "prog2"] {
        for path in builder_paths(&set, Mode::SplitLocal, &format!("{p}.compile")) {
            assert!(local_d.client.has(&path), "{path} is gone from the client");
            assert!(!local.fetched.contains(&path), "{path} downloaded again");
        }
    }

    // Its relinks are the builder's, byte for byte: the same content-addressed paths, and
    // the same NAR serialisation of each.
    let mut compared = 0;
    for p in ["base", "mid", "prog1", "prog2"] {
        let builder = builder_paths(&set, Mode::SplitLocal, &format!("{p}.out"));
        for path in &builder {
            assert!(
                local.outputs.contains(path),
                "{path} not on the client: {:?}",
                local.outputs
            );
            assert_eq!(
                local_d.client.dump(path),
                cache::builder_dump(path),
                "{path}: the client's relink differs from the builder's"
            );
            compared += 1;
        }
    }
    assert!(compared >= 6, "only {compared} outputs compared");
    // And none of them came from the cache, which has none of them.
    for path in &local.outputs {
        assert!(!local.fetched.contains(path), "{path} was downloaded");
        assert!(
            !local_d.cache.narinfos().contains_key(path),
            "{path} is in the cache"
        );
    }
}

/// The overlay (nix/tests/stdenv, the stand-in nixpkgs) with `relinkLocally = true`: the
/// relink's derivation carries the policy, and its output names its compile output in
/// nix-support/abicut-compile, a runtime reference, so garbage collection keeps it.
#[test]
fn the_overlay_relinks_locally_and_keeps_the_compile_output() {
    if !have("nix-build") || !have("gcc") {
        return;
    }
    let set = TestSet::new();
    let abicut = set.abicut().display().to_string();
    let args = |program: &str| {
        let args: Vec<String> = [
            "nix/tests/stdenv",
            "--arg",
            "abicut",
            &abicut,
            "--arg",
            "packages",
            "[ \"base\" \"mid\" \"prog\" ]",
            "--arg",
            "relinkLocally",
            "true",
            "-A",
            "prog",
        ]
        .map(str::to_string)
        .to_vec();
        support::real::nix_command(program, args, set.dir())
            .run()
            .unwrap()
    };
    let built = args("nix-build");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let out = String::from_utf8_lossy(&built.stdout).trim().to_string();
    let listed =
        std::fs::read_to_string(Path::new(&out).join("nix-support/abicut-compile")).unwrap();
    let refs =
        support::real::nix_command("nix-store", ["-q", "--references", out.as_str()], set.dir())
            .run()
            .unwrap();
    let refs = String::from_utf8_lossy(&refs.stdout).into_owned();
    assert!(!listed.trim().is_empty());
    for compile in listed.lines() {
        assert!(compile.ends_with("-prog-1.0"), "{compile}");
        assert!(
            refs.lines().any(|r| r == compile),
            "{compile} is not a reference of {out}"
        );
    }
    let drv = args("nix-instantiate");
    let drv = String::from_utf8_lossy(&drv.stdout).trim().to_string();
    let show = support::real::nix_command("nix", ["show-derivation", drv.as_str()], set.dir())
        .run()
        .unwrap();
    let json = String::from_utf8_lossy(&show.stdout);
    assert!(json.contains("\"allowSubstitutes\": \"\""), "{json}");
    assert!(json.contains("\"preferLocalBuild\": \"1\""), "{json}");
}

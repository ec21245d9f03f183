//! The real package set (nix/tests/real) through a real Nix: shared by tests/nix_real.rs and
//! examples/bench_real.rs. Builds, updates, what Nix built (role, package, the time its
//! builder logged), test results, and the dynamic bindings of every program.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The Nix settings every test build uses (tests/nix.rs too): Debian's nix-bin as root, no
/// sandbox, no binary cache, content-addressed derivations on.
pub const NIX_CONFIG: &str = "build-users-group =\nsandbox = false\nsubstituters =\n\
                              experimental-features = nix-command ca-derivations";

/// `program ARGS` (`nix-build`, `nix`, …) in `dir` under [`NIX_CONFIG`], both streams
/// captured, its status left to the caller.
pub fn nix_command<A>(program: &str, args: A, dir: &Path) -> duct::Expression
where
    A: IntoIterator,
    A::Item: Into<std::ffi::OsString>,
{
    duct::cmd(program, args)
        .dir(dir)
        .env("NIX_CONFIG", NIX_CONFIG)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
}

/// What one `nix-build` run did, before any reading of its derivations.
pub struct NixBuild {
    pub ok: bool,
    /// Standard error: Nix's progress and the builders' logs.
    pub log: String,
    pub elapsed: Duration,
    /// The output paths it printed, one per attribute.
    pub outputs: Vec<String>,
}

impl NixBuild {
    /// Runs `nix_build` (a `nix-build` command capturing both streams, unchecked) and times it.
    pub fn run(nix_build: duct::Expression) -> std::io::Result<NixBuild> {
        let start = Instant::now();
        let out = nix_build.run()?;
        Ok(NixBuild {
            ok: out.status.success(),
            log: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: start.elapsed(),
            outputs: String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_string)
                .collect(),
        })
    }

    /// The derivations its log says it built, in order.
    pub fn derivations(&self) -> impl Iterator<Item = &str> {
        self.log
            .lines()
            .filter_map(|l| l.strip_prefix("building '")?.split('\'').next())
    }
}

/// Every package of the set, bottom first.
pub const PACKAGES: [&str; 6] = ["zlib", "libpng", "expat", "libxml2", "libxslt", "xmlpng"];

/// Where Debian's sources are unpacked, once per machine (sources.sh is idempotent).
pub const SOURCES: &str = "/var/cache/abicut/real-sources";

/// The ABI-neutral update: a fix in zlib's deflate.c, with a version bump.
pub const ABI_NEUTRAL: &str =
    r#"{ zlib = { version = "1.2.13.dfsg.1"; patches = [ "zlib-deflatebound-level0.patch" ]; }; }"#;
/// An update that changes zlib.h as well.
pub const HEADER_CHANGE: &str = r#"{ zlib = { version = "1.2.13.1"; patches = [ "zlib-deflatebound-level0.patch" "zlib-version-1.2.13.1.patch" ]; }; }"#;
/// No update.
pub const NONE: &str = "{ }";

/// One derivation Nix built, as its builder logged it.
#[derive(Debug, Clone)]
pub struct Built {
    pub drv: String,
    /// compile, interface, indirection, relink, test, or classic.
    pub role: String,
    /// The package's pname.
    pub package: String,
    pub wall_ms: u64,
    pub cpu_ms: u64,
}

/// What one `nix-build` did.
pub struct Build {
    pub ok: bool,
    pub log: String,
    pub elapsed: Duration,
    pub built: Vec<Built>,
    pub outputs: Vec<PathBuf>,
}

impl Build {
    /// The packages built in `role`, sorted.
    pub fn packages(&self, role: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .built
            .iter()
            .filter(|b| b.role == role)
            .map(|b| b.package.clone())
            .collect();
        v.sort();
        v
    }

    /// CPU seconds of the builds in `roles`.
    pub fn cpu_s(&self, roles: &[&str]) -> f64 {
        self.built
            .iter()
            .filter(|b| roles.contains(&b.role.as_str()))
            .map(|b| b.cpu_ms as f64 / 1000.0)
            .sum()
    }
}

/// The package set as one test run sees it: a copy of nix/ (edits to the work tree during a
/// run do not reach it), this run's abicut, and a salt that makes every output new to the
/// store (otherwise content-addressed outputs of an earlier run would be found built).
pub struct RealSet {
    dir: tempfile::TempDir,
    salt: String,
    /// The updates the tool runtime is pinned at (the set evaluated with them), or no pin.
    pin: std::cell::Cell<Option<&'static str>>,
}

impl RealSet {
    /// Fetches Debian's sources if missing (as root, through apt), copies `abicut`.
    pub fn new(repo: &Path, abicut: &Path) -> Result<RealSet, String> {
        let fetch = duct::cmd!("sh", repo.join("nix/tests/real/sources.sh"), SOURCES)
            .stderr_capture()
            .unchecked()
            .run()
            .map_err(|e| format!("sources.sh: {e}"))?;
        if !fetch.status.success() {
            return Err(format!(
                "sources.sh failed: {}",
                String::from_utf8_lossy(&fetch.stderr)
            ));
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        copy_dir(&repo.join("nix"), &dir.path().join("nix")).map_err(|e| e.to_string())?;
        let bin = dir.path().join("abicut/bin");
        std::fs::create_dir_all(&bin).map_err(|e| e.to_string())?;
        std::fs::copy(abicut, bin.join("abicut")).map_err(|e| format!("{abicut:?}: {e}"))?;
        let salt = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|e| e.to_string())?
                .as_nanos()
        );
        Ok(RealSet {
            dir,
            salt,
            pin: std::cell::Cell::new(Some(NONE)),
        })
    }

    /// Builds from now on with the tool runtime pinned at the set with `updates`, or with no
    /// pin (compiles then run tools' final outputs). A new set is pinned at [`NONE`].
    pub fn pin(&self, updates: Option<&'static str>) {
        self.pin.set(updates);
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The set's file and its `--arg`s, with `updates` applied (tests/support/cache.rs adds
    /// its own).
    pub fn args(&self, updates: &str) -> Vec<String> {
        let abicut = self
            .dir
            .path()
            .join("abicut")
            .to_string_lossy()
            .into_owned();
        let mut args = [
            "nix/tests/real",
            "--arg",
            "abicut",
            &abicut,
            "--arg",
            "sources",
            SOURCES,
            "--argstr",
            "salt",
            &self.salt,
            "--arg",
            "updates",
            updates,
        ]
        .map(str::to_string)
        .to_vec();
        if let Some(pinned) = self.pin.get() {
            let runtime = format!(
                "import ./nix/tests/real {{ abicut = {abicut}; sources = {SOURCES}; salt = \"{}\"; updates = {pinned}; }}",
                self.salt
            );
            args.extend(["--arg".into(), "toolRuntime".into(), runtime]);
        }
        args
    }

    fn nix(&self, program: &str, args: &[String]) -> duct::Expression {
        nix_command(program, args, self.dir.path())
    }

    /// Builds `attrs` (say `checks`, `classic.checks`) with `updates` applied; two builds
    /// at a time, each with both cores.
    pub fn build(&self, attrs: &[&str], updates: &str) -> Build {
        let mut args = self.args(updates);
        for a in attrs {
            args.extend(["-A".to_string(), a.to_string()]);
        }
        args.extend(["--no-out-link", "-j2", "--cores", "2", "--keep-going"].map(String::from));
        let run = NixBuild::run(self.nix("nix-build", &args)).expect("nix-build starts");
        let built = run
            .derivations()
            .filter_map(|drv| self.built(drv))
            .collect();
        Build {
            ok: run.ok,
            built,
            elapsed: run.elapsed,
            outputs: run.outputs.iter().map(PathBuf::from).collect(),
            log: run.log,
        }
    }

    /// The line the builder of `drv` left in its log: "abicut-builder: ROLE NAME WALL ms
    /// CPU cpu-ms"; its package from the derivation's own pname-bearing name.
    fn built(&self, drv: &str) -> Option<Built> {
        let log = self.nix("nix", &["log".into(), drv.into()]).run().ok()?;
        let log = String::from_utf8_lossy(&log.stdout);
        let line = log
            .lines()
            .find_map(|l| l.split("abicut-builder: ").nth(1))?;
        let f: Vec<&str> = line.split_whitespace().collect();
        let [role, name, wall, "ms", cpu, "cpu-ms"] = f.as_slice() else {
            return None;
        };
        Some(Built {
            drv: drv.to_string(),
            role: role.to_string(),
            package: name.split('-').next()?.to_string(),
            wall_ms: wall.parse().ok()?,
            cpu_ms: cpu.parse().ok()?,
        })
    }

    /// Every output path of `attr` (a package's `out`, or `classic.P`), built if needed.
    pub fn outputs(&self, attr: &str, updates: &str) -> Vec<PathBuf> {
        let mut args = self.args(updates);
        args.extend(["-A".into(), format!("{attr}.all"), "--no-out-link".into()]);
        let out = self
            .nix("nix-build", &args)
            .run()
            .expect("nix-build starts");
        assert!(
            out.status.success(),
            "{attr}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(PathBuf::from)
            .collect()
    }

    /// The classic derivation graph (`nix show-derivation -r` of every classic package).
    pub fn classic_graph(&self, updates: &str) -> Vec<u8> {
        let mut args = self.args(updates);
        for p in PACKAGES {
            args.extend(["-A".into(), format!("classic.{p}")]);
        }
        let drvs = self
            .nix("nix-instantiate", &args)
            .run()
            .expect("nix-instantiate");
        let mut show = vec!["show-derivation".to_string(), "-r".to_string()];
        show.extend(
            String::from_utf8_lossy(&drvs.stdout)
                .lines()
                .map(String::from),
        );
        self.nix("nix", &show)
            .run()
            .expect("nix show-derivation")
            .stdout
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// (passed, failed) over the results files of test derivations' outputs.
pub fn test_results(outputs: &[PathBuf]) -> (usize, usize) {
    let mut passed = 0;
    let mut failed = 0;
    for out in outputs {
        let text = std::fs::read_to_string(out.join("results")).unwrap_or_default();
        passed += text.lines().filter(|l| l.starts_with("PASS ")).count();
        failed += text.lines().filter(|l| l.starts_with("FAIL ")).count();
    }
    (passed, failed)
}

/// Every ELF program under bin/ of `outputs`, by "OUTPUT-NAME-WITHOUT-HASH/bin/FILE".
pub fn programs(outputs: &[PathBuf]) -> BTreeMap<String, PathBuf> {
    let mut found = BTreeMap::new();
    for out in outputs {
        let Ok(entries) = std::fs::read_dir(out.join("bin")) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let elf = std::fs::read(&path).is_ok_and(|b| b.starts_with(b"\x7fELF"));
            if elf {
                let file = entry.file_name().to_string_lossy().into_owned();
                found.insert(format!("{}/bin/{file}", strip_hash(out)), path);
            }
        }
    }
    found
}

/// A store path's name without its hash: "zlib-1.2.13.dfsg-tests".
fn strip_hash(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.split_once('-')
        .map_or(name.clone(), |(_, rest)| rest.to_string())
}

/// What the dynamic loader bound when `program` started (LD_BIND_NOW=1, so every symbol
/// binds at start-up; LD_DEBUG=bindings): one line per binding, the process id dropped and
/// every path cut to its file name, since the store paths differ between two builds of the
/// same sources (and a split program reaches its libraries through an indirection).
pub fn bindings(program: &Path, scratch: &Path) -> Vec<String> {
    let out = duct::cmd!(program)
        .dir(scratch)
        .env("LD_BIND_NOW", "1")
        .env("LD_DEBUG", "bindings")
        .stdin_null()
        .stdout_null()
        .stderr_capture()
        .unchecked()
        .run()
        .expect("program starts");
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.split_once("binding file ").map(|(_, b)| b))
        .map(|b| {
            b.split(' ')
                .map(|w| w.rsplit('/').next().unwrap_or(w))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The weights file `abicut report --weights` reads, from what the builders logged: per
/// package, `build` is its classic build (from `classic`, or `first` for a package the
/// update left alone), `relink` all the split ran for it besides a compile (interface,
/// indirection, relink, tests).
pub fn weights(split: &Build, classic: &Build, first: &Build) -> serde_json::Value {
    let mut nodes = serde_json::Map::new();
    for p in PACKAGES {
        let of = |b: &Build, roles: &[&str]| -> f64 {
            b.built
                .iter()
                .filter(|x| x.package == p && roles.contains(&x.role.as_str()))
                .map(|x| x.cpu_ms as f64 / 1000.0)
                .sum()
        };
        let mut build = of(classic, &["classic"]);
        if build == 0.0 {
            build = of(first, &["classic"]);
        }
        let relink = of(split, &["interface", "indirection", "relink", "test"]);
        nodes.insert(
            p.to_string(),
            serde_json::json!({ "build": build, "relink": relink }),
        );
    }
    serde_json::json!({ "version": 1, "nodes": nodes })
}

/// `abicut relink-plan GRAPH --changed zlib --abi same --tools pinned --json` into
/// DIR/plan.json (the builds pin the tools' runtime), then
/// `abicut report` of it with `weights`: (the plan, the Markdown report).
pub fn plan_and_report(
    abicut: &Path,
    dir: &Path,
    graph: &Path,
    weights: &serde_json::Value,
) -> Result<(serde_json::Value, String), String> {
    let weights_file = dir.join("weights.json");
    let plan_file = dir.join("plan.json");
    std::fs::write(&weights_file, weights.to_string()).map_err(|e| e.to_string())?;
    let run = |args: Vec<&std::ffi::OsStr>| -> Result<String, String> {
        let out = duct::cmd(abicut, args)
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    run(vec![
        os("relink-plan"),
        graph.as_os_str(),
        os("--changed"),
        os("zlib"),
        os("--abi"),
        os("same"),
        os("--tools"),
        os("pinned"),
        os("--json"),
        os("-o"),
        plan_file.as_os_str(),
    ])?;
    let report = run(vec![
        os("report"),
        plan_file.as_os_str(),
        os("--weights"),
        weights_file.as_os_str(),
    ])?;
    let plan = std::fs::read(&plan_file).map_err(|e| e.to_string())?;
    let plan = serde_json::from_slice(&plan).map_err(|e| e.to_string())?;
    Ok((plan, report))
}

/// The packages a plan gives `status` (compile, relink, ...), sorted.
pub fn planned(plan: &serde_json::Value, status: &str) -> Vec<String> {
    let mut v: Vec<String> = plan["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["status"] == status)
        .filter_map(|n| n["pname"].as_str().map(String::from))
        .collect();
    v.sort();
    v
}

//! End to end with a real Nix (Debian's nix-bin, Nix 2.8): the package set in nix/tests is
//! built through nix/lib.nix, changed, and rebuilt; what Nix reports building decides.
//!
//! Scenarios (issue 6): an ABI-neutral change of the base library rebuilds no compile
//! derivation of a dependent and reruns every relink; an added export, a header macro and a
//! `.pc` flag rebuild dependents' compiles; a removed function breaks the compile loudly;
//! the plan from `abicut relink-plan` over the classic derivation graph equals what Nix built.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::{abicut, have};

const NIX_CONFIG: &str = "build-users-group =\nsandbox = false\nsubstituters =\n\
                          experimental-features = nix-command ca-derivations";
const PACKAGES: [&str; 4] = ["base", "mid", "prog1", "prog2"];

/// A private copy of nix/ (so sources can be mutated) and of the abicut binary.
struct World {
    dir: tempfile::TempDir,
}

/// What one `nix-build` did: (role, package) of every derivation it reported building.
struct Build {
    ok: bool,
    built: BTreeSet<(String, String)>,
    log: String,
    elapsed: Duration,
}

impl Build {
    fn rebuilt(&self, role: &str) -> BTreeSet<String> {
        self.built
            .iter()
            .filter(|(r, _)| r == role)
            .map(|(_, p)| p.clone())
            .collect()
    }
}

impl World {
    fn new() -> Option<World> {
        if !have("nix-build") || !have("gcc") || !have("pkg-config") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("nix"),
            &dir.path().join("nix"),
        );
        let bin = dir.path().join("abicut/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy(abicut(), bin.join("abicut")).unwrap();
        Some(World { dir })
    }

    fn src(&self, file: &str) -> PathBuf {
        self.dir.path().join("nix/tests/src").join(file)
    }

    fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.src(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has no {from:?}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
    }

    fn nix(&self, program: &str, args: &[&str]) -> duct::Expression {
        duct::cmd(program, args)
            .dir(self.dir.path())
            .env("NIX_CONFIG", NIX_CONFIG)
            .stdout_capture()
            .stderr_capture()
            .unchecked()
    }

    fn common_args(&self) -> Vec<String> {
        vec![
            "nix/tests".into(),
            "--arg".into(),
            "abicut".into(),
            self.dir
                .path()
                .join("abicut")
                .to_string_lossy()
                .into_owned(),
        ]
    }

    /// Builds the final outputs of every package.
    fn build(&self) -> Build {
        let mut args = self.common_args();
        for p in PACKAGES {
            args.extend(["-A".into(), format!("{p}.out")]);
        }
        args.push("--no-out-link".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let start = Instant::now();
        let out = self.nix("nix-build", &args).run().unwrap();
        let elapsed = start.elapsed();
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        let built = log
            .lines()
            .filter_map(|l| l.strip_prefix("building '")?.split('\'').next())
            .map(|drv| self.role_of(drv))
            .collect();
        Build {
            ok: out.status.success(),
            built,
            log,
            elapsed,
        }
    }

    /// (abicutRole, package) of a derivation, from Nix's own view of it.
    fn role_of(&self, drv: &str) -> (String, String) {
        let out = self.nix("nix", &["show-derivation", drv]).run().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let env = &json.as_object().unwrap().values().next().unwrap()["env"];
        let role = env["abicutRole"].as_str().unwrap_or("classic").to_string();
        let name = env["name"].as_str().unwrap();
        let package = name.split('-').next().unwrap().to_string();
        (role, package)
    }

    fn run(&self, program: &str) -> String {
        let mut args = self.common_args();
        args.extend([
            "-A".into(),
            format!("{program}.out"),
            "--no-out-link".into(),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.nix("nix-build", &args).run().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let exe = format!("{path}/bin/{program}");
        let result = duct::cmd!(&exe).stdout_capture().run().unwrap();
        String::from_utf8_lossy(&result.stdout).into_owned()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Builds everything once; returns the world and the first build.
fn built_world() -> Option<(World, Build)> {
    let world = World::new()?;
    let first = world.build();
    assert!(first.ok, "first build failed:\n{}", first.log);
    assert!(world.run("prog1").contains("hello from base v1"));
    Some((world, first))
}

#[test]
fn abi_neutral_change_rebuilds_no_dependent_compile() {
    let Some((world, first)) = built_world() else {
        return;
    };
    world.edit(
        "base/base.c",
        "hello from base v1",
        "hello from base v2, faster",
    );
    let second = world.build();
    assert!(second.ok, "{}", second.log);
    eprintln!(
        "first build {:.2}s ({} derivations), rebuild {:.2}s ({} derivations): {:?}",
        first.elapsed.as_secs_f64(),
        first.built.len(),
        second.elapsed.as_secs_f64(),
        second.built.len(),
        second.built
    );
    assert_eq!(
        second.rebuilt("compile"),
        set(&["base"]),
        "compiles rebuilt"
    );
    assert_eq!(second.rebuilt("relink"), set(&PACKAGES), "relinks rebuilt");
    assert_eq!(
        second.rebuilt("interface"),
        set(&["base"]),
        "interfaces rebuilt"
    );
    // The programs run the new library code.
    assert!(world.run("prog1").contains("hello from base v2, faster"));
    assert!(world.run("prog2").contains("mid_compute(5) = 45"));
}

#[test]
fn added_export_rebuilds_dependent_compiles() {
    let Some((world, _)) = built_world() else {
        return;
    };
    world.edit(
        "base/base.c",
        "const char *base_greeting",
        "int base_extra(void) { return 7; }\nconst char *base_greeting",
    );
    world.edit("base/base.map", "base_calls;", "base_calls; base_extra;");
    let build = world.build();
    assert!(build.ok, "{}", build.log);
    assert_eq!(build.rebuilt("compile"), set(&PACKAGES));
}

#[test]
fn header_macro_rebuilds_dependent_compiles() {
    let Some((world, _)) = built_world() else {
        return;
    };
    world.edit(
        "base/base.h",
        "#define BASE_MAGIC 40",
        "#define BASE_MAGIC 41",
    );
    let build = world.build();
    assert!(build.ok, "{}", build.log);
    assert_eq!(build.rebuilt("compile"), set(&PACKAGES));
    assert!(world.run("prog1").contains("mid_compute(2) = 43; magic 41"));
}

#[test]
fn pkg_config_flag_rebuilds_dependent_compiles() {
    let Some((world, _)) = built_world() else {
        return;
    };
    world.edit("mid/mid.pc.in", "-DMID_FLAG=1", "-DMID_FLAG=2");
    let build = world.build();
    assert!(build.ok, "{}", build.log);
    assert_eq!(build.rebuilt("compile"), set(&["mid", "prog2"]));
    assert!(world.run("prog2").contains("MID_FLAG = 2"));
}

#[test]
fn removed_function_breaks_the_compile() {
    let Some((world, _)) = built_world() else {
        return;
    };
    world.edit("base/base.map", " base_greeting;", "");
    let build = world.build();
    assert!(!build.ok, "the build succeeded without base_greeting");
    assert!(build.log.contains("base_greeting"), "{}", build.log);
    assert!(
        build.log.contains("undefined reference") || build.log.contains("undefined symbol"),
        "{}",
        build.log
    );
}

#[test]
fn plan_matches_what_nix_built() {
    let Some((world, _)) = built_world() else {
        return;
    };
    // The classic graph of the same packages, as Nix prints it.
    let mut args = world.common_args();
    args.extend([
        "-A".into(),
        "classic.prog1".into(),
        "-A".into(),
        "classic.prog2".into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let drvs = world.nix("nix-instantiate", &args).run().unwrap();
    assert!(
        drvs.status.success(),
        "{}",
        String::from_utf8_lossy(&drvs.stderr)
    );
    let drvs = String::from_utf8_lossy(&drvs.stdout).into_owned();
    let mut show = vec!["show-derivation", "-r"];
    show.extend(drvs.lines());
    let graph = world.nix("nix", &show).run().unwrap();
    assert!(graph.status.success());
    let graph_file = world.dir.path().join("graph.json");
    std::fs::write(&graph_file, &graph.stdout).unwrap();

    world.edit("base/base.c", "hello from base v1", "hello from base v2");
    let build = world.build();
    assert!(build.ok, "{}", build.log);

    let plan_file = world.dir.path().join("plan.json");
    let plan = duct::cmd!(
        abicut(),
        "relink-plan",
        &graph_file,
        "--changed",
        "base-1.0",
        "--abi",
        "same",
        "--json"
    )
    .stdout_capture()
    .run()
    .unwrap();
    std::fs::write(&plan_file, &plan.stdout).unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let planned = |action: &str| -> BTreeSet<String> {
        plan["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["status"] == action || (action == "relink" && n["status"] == "compile"))
            .filter_map(|n| n["name"].as_str())
            .map(|n| n.split('-').next().unwrap().to_string())
            .filter(|n| PACKAGES.contains(&n.as_str()))
            .collect()
    };
    assert_eq!(
        planned("compile"),
        build.rebuilt("compile"),
        "plan vs Nix: compiles"
    );
    assert_eq!(
        planned("relink"),
        build.rebuilt("relink"),
        "plan vs Nix: relinks"
    );
    let report = duct::cmd!(abicut(), "report", &plan_file).read().unwrap();
    eprintln!("{report}");
}

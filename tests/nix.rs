//! End to end with a real Nix (Debian's nix-bin, Nix 2.8): the package set in nix/tests is
//! built through nix/lib.nix, changed, and rebuilt; what Nix reports building decides.
//!
//! Scenarios (issues 6 and 10): an ABI-neutral change of the base library rebuilds no
//! compile derivation of a dependent and reruns every relink, also when base's version
//! changes with it (the interface is named from the pname, and dependents' outputs then
//! differ only in the indirections' store hashes); an added export, a header macro and a
//! `.pc` flag rebuild dependents' compiles; a removed function breaks the compile loudly;
//! the plan from `abicut relink-plan` over the classic derivation graph equals what Nix built.
//! `mid` has three outputs (out, lib, dev) that refer to each other, as nixpkgs libraries do.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::files::{copy_dir, edit_file};
use support::real::{NixBuild, nix_command};
use support::{bin_path, have, run};

const PACKAGES: [&str; 6] = ["base", "cc", "gen", "mid", "prog1", "prog2"];

/// A private copy of nix/ (so sources can be mutated) and of the abicut binary, and a copy
/// of that nix/ as it was when the pin last moved (`pin/nix`): the tool runtime the builds
/// pin, unless `pinned` is off.
struct World {
    dir: tempfile::TempDir,
    pinned: std::cell::Cell<bool>,
}

/// What one `nix-build` did: (role, package) of every derivation it reported building.
struct Build {
    ok: bool,
    built: BTreeSet<(String, String)>,
    log: String,
    elapsed: Duration,
    /// The output paths nix-build printed.
    outputs: Vec<String>,
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
        std::fs::copy(bin_path(), bin.join("abicut")).unwrap();
        let world = World {
            dir,
            pinned: std::cell::Cell::new(true),
        };
        world.salt();
        world.move_pin();
        Some(world)
    }

    /// Pins the tools' runtime to the set as it is now (nix/lib.nix's `toolRuntime`: the same
    /// set evaluated from this copy), as a maintainer moves the pin for a toolchain refresh.
    fn move_pin(&self) {
        let pin = self.dir.path().join("pin");
        if pin.exists() {
            std::fs::remove_dir_all(&pin).unwrap();
        }
        copy_dir(&self.dir.path().join("nix"), &pin.join("nix"));
    }

    /// Builds from now on with the pin or without (compiles then run tools' final outputs).
    fn set_pinned(&self, pinned: bool) {
        self.pinned.set(pinned);
    }

    /// `--arg toolRuntime EXPR` for the set at `set` (a directory under nix/), evaluated from
    /// the pin's copy with `args`, when pinned.
    fn pin_args(&self, set: &str, args: &str) -> Vec<String> {
        if !self.pinned.get() {
            return Vec::new();
        }
        let expr = format!(
            "import {}/pin/{set} {{ abicut = {}; {args} }}",
            self.dir.path().display(),
            self.dir.path().join("abicut").display()
        );
        vec!["--arg".into(), "toolRuntime".into(), expr]
    }

    /// Makes every output of this world new to the store, so that what Nix builds depends
    /// on this test alone: content-addressed outputs equal to an earlier run's would be
    /// found already built (that is the cutoff itself). Each package installs a header
    /// holding a nonce, which reaches its interface and so everything downstream.
    fn salt(&self) {
        let nonce = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        for script in PACKAGES
            .iter()
            .map(|p| format!("{p}/build.sh"))
            .chain(["prog1/build-static.sh".to_string()])
        {
            let script = self.src(&script);
            let text = std::fs::read_to_string(&script).unwrap();
            let salt = format!(
                "mkdir -p \"$out/include\"\necho '/* test run {nonce} */' > \"$out/include/test-run.h\"\n"
            );
            std::fs::write(&script, format!("{text}{salt}")).unwrap();
        }
    }

    fn src(&self, file: &str) -> PathBuf {
        self.dir.path().join("nix/tests/src").join(file)
    }

    fn edit(&self, file: &str, from: &str, to: &str) {
        edit_file(&self.src(file), from, to);
    }

    /// Changes the version of `package` in nix/tests/default.nix (each package states its
    /// pname on the line before its version).
    fn bump(&self, package: &str, from: &str, to: &str) {
        let pname = format!("pname = \"{package}\";\n      version = ");
        edit_file(
            &self.dir.path().join("nix/tests/default.nix"),
            &format!("{pname}\"{from}\""),
            &format!("{pname}\"{to}\""),
        );
    }

    fn nix(&self, program: &str, args: &[&str]) -> duct::Expression {
        nix_command(program, args, self.dir.path())
    }

    /// nix/tests with this world's abicut, and its pin.
    fn common_args(&self) -> Vec<String> {
        let mut args = self.set_args("nix/tests");
        args.extend(self.pin_args("nix/tests", ""));
        args
    }

    fn set_args(&self, set: &str) -> Vec<String> {
        vec![
            set.into(),
            "--arg".into(),
            "abicut".into(),
            self.dir
                .path()
                .join("abicut")
                .to_string_lossy()
                .into_owned(),
        ]
    }

    /// Builds every package again after a change, which must build.
    fn rebuild(&self) -> Build {
        let build = self.build();
        assert!(build.ok, "{}", build.log);
        build
    }

    /// Builds the final outputs of every package.
    fn build(&self) -> Build {
        let mut args = self.common_args();
        for p in PACKAGES {
            args.extend(["-A".into(), format!("{p}.out")]);
        }
        self.build_with(args)
    }

    /// Builds `attrs` from the stand-in nixpkgs with nix/overlay.nix splitting `packages`
    /// except `opt_out`, with structured attributes by default or not.
    fn build_overlay(
        &self,
        packages: &str,
        opt_out: &str,
        structured: bool,
        attrs: &[&str],
    ) -> Build {
        let mut args = self.set_args("nix/tests/stdenv");
        let config = format!("{{ structuredAttrsByDefault = {structured}; }}");
        let given = [
            ("packages", packages),
            ("optOut", opt_out),
            ("config", config.as_str()),
        ];
        for (name, value) in given {
            args.extend(["--arg".into(), name.into(), value.into()]);
        }
        // The pin is the same stand-in set, split the same way, evaluated from the pin's copy.
        let same: String = given.iter().map(|(n, v)| format!("{n} = {v}; ")).collect();
        args.extend(self.pin_args("nix/tests/stdenv", &same));
        for attr in attrs {
            args.extend(["-A".into(), attr.to_string()]);
        }
        self.build_with(args)
    }

    /// nix/tests/stdenv/checks.nix, with structured attributes or not.
    fn checks_args(&self, structured: bool) -> Vec<String> {
        let mut args = self.set_args("nix/tests/stdenv/checks.nix");
        args.extend(["--arg".into(), "structured".into(), structured.to_string()]);
        args
    }

    fn build_with(&self, mut args: Vec<String>) -> Build {
        args.push("--no-out-link".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = NixBuild::run(self.nix("nix-build", &args)).unwrap();
        let built = run.derivations().map(|drv| self.role_of(drv)).collect();
        Build {
            ok: run.ok,
            built,
            log: run.log,
            elapsed: run.elapsed,
            outputs: run.outputs,
        }
    }

    /// (abicutRole, package) of a derivation, from Nix's own view of it.
    fn role_of(&self, drv: &str) -> (String, String) {
        let out = self.nix("nix", &["show-derivation", drv]).run().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let env = &json.as_object().unwrap().values().next().unwrap()["env"];
        // With structured attributes the attributes are one JSON document.
        let structured: Option<serde_json::Value> = env["__json"]
            .as_str()
            .map(|text| serde_json::from_str(text).unwrap());
        let env = structured.as_ref().unwrap_or(env);
        let role = env["abicutRole"].as_str().unwrap_or("classic").to_string();
        let name = env["name"].as_str().unwrap();
        let package = name.split('-').next().unwrap().to_string();
        (role, package)
    }

    /// The final (relinked) store path of each output of the dependents of base.
    fn dependent_outputs(&self) -> Vec<(&'static str, PathBuf)> {
        let attrs = [
            "mid.out.out",
            "mid.out.lib",
            "mid.out.dev",
            "prog1.out",
            "prog2.out",
        ];
        let mut args = self.common_args();
        for attr in attrs {
            args.extend(["-A".into(), attr.into()]);
        }
        let build = self.build_with(args);
        assert!(build.ok, "{}", build.log);
        assert_eq!(build.outputs.len(), attrs.len(), "{:?}", build.outputs);
        attrs
            .into_iter()
            .zip(build.outputs.iter().map(PathBuf::from))
            .collect()
    }

    /// Builds `attr` (one output) and returns its store path.
    fn build_attr(&self, attr: &str) -> PathBuf {
        let mut args = self.common_args();
        args.extend(["-A".into(), attr.into()]);
        let build = self.build_with(args);
        assert!(build.ok, "{}", build.log);
        PathBuf::from(&build.outputs[0])
    }

    fn run(&self, program: &str) -> String {
        self.run_in(&format!("{program}.out"), program)
    }

    /// Builds the attribute `attr` and runs bin/`program` from it.
    fn run_in(&self, attr: &str, program: &str) -> String {
        run_program(&self.build_attr(attr).to_string_lossy(), program)
    }
}

fn run_program(output: &str, program: &str) -> String {
    run(
        Path::new(output).join("bin").join(program),
        &[],
        Path::new("."),
    )
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

/// Builds a built world again after `change`; the compiles Nix reran must be `compiles`.
/// Returns the world for further checks, or None when a tool is missing.
fn compiles_after(change: impl Fn(&World), compiles: &[&str]) -> Option<World> {
    let (world, _) = built_world()?;
    change(&world);
    assert_eq!(world.rebuild().rebuilt("compile"), set(compiles));
    Some(world)
}

/// A header change that reaches every dependent's compile (prog1 prints the magic).
fn raise_base_magic(world: &World) {
    world.edit(
        "base/base.h",
        "#define BASE_MAGIC 40",
        "#define BASE_MAGIC 41",
    );
}

/// The import names mid's stub keeps (GNU nm, an oracle apart from abicut), its interface
/// built with `interfaceImports` as given.
fn mid_stub_imports(world: &World, imports: &str) -> BTreeSet<String> {
    let mut args = world.common_args();
    args.extend(
        [
            "--argstr",
            "interfaceImports",
            imports,
            "-A",
            "mid.interface.lib",
        ]
        .map(String::from),
    );
    let build = world.build_with(args);
    assert!(build.ok, "{}", build.log);
    let stub = Path::new(&build.outputs[0]).join("lib/libmid.so.1");
    let nm = duct::cmd!("nm", "-D", "--undefined-only", &stub)
        .read()
        .unwrap();
    nm.lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(|s| s.split('@').next().unwrap_or(s).to_string())
        .collect()
}

/// mold exports a program's definition only for names a library in the link references, so
/// lib.nix's `interfaceImports = "all"` keeps in the stubs what the default drops: mid's
/// imports from base, which base (in mid's closure) defines.
#[test]
fn interface_imports_all_keeps_what_mold_needs() {
    if !have("nm") {
        return;
    }
    let Some(world) = World::new() else {
        return;
    };
    let owed = mid_stub_imports(&world, "owed");
    let all = mid_stub_imports(&world, "all");
    assert!(!owed.contains("base_add"), "{owed:?}");
    assert!(all.contains("base_add"), "{all:?}");
    assert!(owed.is_subset(&all), "{owed:?} {all:?}");
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
    let second = world.rebuild();
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
    // The indirections of the libraries whose final output changed.
    assert_eq!(second.rebuilt("indirection"), set(&["base", "mid"]));
    // gen links base, but its build-time copy runs on the pinned base: not rebuilt.
    assert_eq!(
        second.rebuilt("tool"),
        set(&[]),
        "build-time copies rebuilt"
    );
    // The programs run the new library code.
    assert!(world.run("prog1").contains("hello from base v2, faster"));
    assert!(world.run("prog2").contains("mid_compute(5) = 45"));
    // mid's program, in its `out` output, loads libmid from its `lib` output; mid-gen.h,
    // which basegen wrote in mid's build, is still the one it printed.
    let midtool = world.run_in("mid.out.out", "midtool");
    assert!(midtool.contains("hello from base v2, faster"), "{midtool}");
    assert!(midtool.ends_with("; gen 7\n"), "{midtool}");
}

/// Without a pin a compile runs its tools' final outputs: basegen links base, so it relinks
/// after base's ABI-neutral change, and mid, whose build runs it, compiles again. mid's
/// interface comes out the same (basegen printed the same), so the programs do not.
#[test]
fn abi_neutral_change_without_a_pin_compiles_the_tools_users() {
    let Some(world) = World::new() else {
        return;
    };
    world.set_pinned(false);
    let first = world.build();
    assert!(first.ok, "{}", first.log);
    world.edit("base/base.c", "hello from base v1", "hello from base v2");
    let second = world.rebuild();
    assert_eq!(second.rebuilt("compile"), set(&["base", "mid"]));
    assert_eq!(second.rebuilt("interface"), set(&["base", "mid"]));
    assert!(world.run("prog1").contains("hello from base v2"));
}

/// The wrapper passed base's crt-like object to every link (it is in prog1), and a change
/// of basegen's own code compiles it and its users: its build-time copy changes, mid
/// compiles and installs a new mid-gen.h, which is part of mid's interface.
#[test]
fn tool_change_compiles_its_users() {
    let Some((world, _)) = built_world() else {
        return;
    };
    if have("nm") {
        let prog1 = world.build_attr("prog1.out");
        let symbols = duct::cmd!("nm", prog1.join("bin/prog1")).read().unwrap();
        assert!(symbols.contains("base_crt_tag"), "{symbols}");
    }
    world.edit("gen/gen.c", "#define GEN_SEED 7", "#define GEN_SEED 8");
    let build = world.rebuild();
    assert_eq!(build.rebuilt("tool"), set(&["gen"]));
    assert_eq!(
        build.rebuilt("compile"),
        set(&["gen", "mid", "prog1", "prog2"])
    );
    let midtool = world.run_in("mid.out.out", "midtool");
    assert!(midtool.ends_with("; gen 8\n"), "{midtool}");
}

/// base exports a new function and basegen uses it: gen compiles against base's new
/// interface, and its build-time copy, verified against the pinned base, fails, naming the
/// tool, the symbol and the pin. Once the pin moves, everything builds and runs.
#[test]
fn a_tool_needing_more_than_the_pin_fails_until_the_pin_moves() {
    let Some((world, _)) = built_world() else {
        return;
    };
    world.edit(
        "base/base.c",
        "const char *base_greeting",
        "int base_twice(int a) { return 2 * a; }\nconst char *base_greeting",
    );
    world.edit("base/base.map", "base_calls;", "base_calls; base_twice;");
    world.edit(
        "base/base.h",
        "int base_add(int a, int b);",
        "int base_add(int a, int b);\nint base_twice(int a);",
    );
    world.edit("gen/gen.c", "base_add(GEN_SEED, 0)", "base_twice(GEN_SEED)");
    let failed = world.build();
    assert!(!failed.ok, "the tool ran on a pin lacking base_twice");
    for said in [
        "build-time copy of gen-1.0 does not run on the pinned tool runtime (base=base-1.0)",
        "undefined symbol base_twice@BASE_1.0",
        "Move the pin (toolRuntime)",
    ] {
        assert!(
            failed.log.contains(said),
            "{said:?} not in:\n{}",
            failed.log
        );
    }
    world.move_pin();
    let moved = world.rebuild();
    assert!(moved.rebuilt("tool").contains("gen"), "{:?}", moved.built);
    let midtool = world.run_in("mid.out.out", "midtool");
    assert!(midtool.ends_with("; gen 14\n"), "{midtool}");
}

/// Every file and symlink of a store output, by relative path: its bytes or its target.
fn contents(root: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.insert(rel, target.into_os_string().into_encoded_bytes());
            } else if meta.is_dir() {
                dirs.push(path);
            } else {
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// `bytes` with the store hash of every path named one of `names` (exactly: `-base-abi`, not
/// `-base-1.0`) replaced by a fixed one.
fn normalize(bytes: &[u8], names: &[&str]) -> Vec<u8> {
    const STORE: &[u8] = b"/nix/store/";
    let mut out = bytes.to_vec();
    let name_char = |c: &u8| c.is_ascii_alphanumeric() || b"+-._?=".contains(c);
    let mut at = 0;
    while let Some(found) = memchr_find(&out[at..], STORE) {
        let hash = at + found + STORE.len();
        let name_at = hash + 33;
        if name_at <= out.len() && out[hash + 32] == b'-' {
            let len = out[name_at..].iter().take_while(|c| name_char(c)).count();
            if names
                .iter()
                .any(|n| n.as_bytes() == &out[name_at..name_at + len])
            {
                out[hash..hash + 32].fill(b'x');
            }
        }
        at = hash;
    }
    out
}

fn memchr_find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Issue 10: nixpkgs renames a package on nearly every update. base-1.0 -> base-1.0.1 with
/// an ABI-neutral change compiles base alone: its interface, named `base`, comes out the
/// same at the same path. The dependents' outputs then differ from the previous ones only
/// in the store hashes of the indirections they point to (and, in mid's program, of mid's
/// own outputs, which changed because libmid points to base's indirection).
#[test]
fn version_bump_with_abi_neutral_change_compiles_only_the_package() {
    let Some((world, _)) = built_world() else {
        return;
    };
    let before = world.dependent_outputs();
    let tools = ["gen.tool", "cc.compile"].map(|attr| world.build_attr(attr));
    world.bump("base", "1.0", "1.0.1");
    world.edit(
        "base/base.c",
        "hello from base v1",
        "hello from base v1.0.1",
    );
    let build = world.rebuild();
    eprintln!("built after the bump: {:?}", build.built);
    assert_eq!(build.rebuilt("compile"), set(&["base"]), "compiles rebuilt");
    assert_eq!(build.rebuilt("interface"), set(&["base"]));
    assert_eq!(build.rebuilt("indirection"), set(&["base", "mid"]));
    assert_eq!(build.rebuilt("relink"), set(&PACKAGES));
    // What the compiles run keeps its path: basegen's build-time copy (on the pinned base)
    // and the wrapper's compile output (naming base's interface).
    assert_eq!(
        ["gen.tool", "cc.compile"].map(|attr| world.build_attr(attr)),
        tools
    );
    assert!(world.run("prog1").contains("hello from base v1.0.1"));
    assert!(world.run("prog2").contains("mid_compute(5) = 45"));
    let midtool = world.run_in("mid.out.out", "midtool");
    assert!(midtool.contains("hello from base v1.0.1"), "{midtool}");

    let after = world.dependent_outputs();
    let names = [
        "base-abi",
        "mid-abi",
        "mid-abi-lib",
        "mid-abi-dev",
        "mid-1.0",
        "mid-1.0-lib",
        "mid-1.0-dev",
    ];
    let mut differ = 0;
    for ((attr, old), (_, new)) in before.iter().zip(&after) {
        let (old, new) = (contents(old), contents(new));
        assert_eq!(
            old.keys().collect::<Vec<_>>(),
            new.keys().collect::<Vec<_>>(),
            "{attr}"
        );
        for (rel, bytes) in &old {
            let changed = &new[rel];
            differ += usize::from(bytes != changed);
            assert!(
                normalize(bytes, &names) == normalize(changed, &names),
                "{attr}: {} differs beyond the indirections' paths",
                rel.display()
            );
        }
    }
    // prog1's binary, libmid and midtool at least point to a new indirection.
    assert!(differ >= 3, "only {differ} files changed");

    // prog1's interpreter (base ships the dynamic linker, as glibc does) is reached through
    // base's indirection, which mirrors base's final output with symlinks; prog1 ran above.
    let mut args = world.common_args();
    args.extend(["-A".into(), "base.indirection".into()]);
    let indirection = world.build_with(args);
    assert!(indirection.ok, "{}", indirection.log);
    let prog1 = &after.iter().find(|(a, _)| *a == "prog1.out").unwrap().1;
    let headers = duct::cmd!("readelf", "-l", prog1.join("bin/prog1"))
        .read()
        .unwrap();
    let interp = format!("{}/lib/ld-base.so.2", indirection.outputs[0]);
    assert!(headers.contains(&interp), "{headers}");
    let real = std::fs::canonicalize(&interp).unwrap();
    assert!(
        real.to_string_lossy()
            .ends_with("-base-1.0.1/lib/ld-base.so.2"),
        "{}",
        real.display()
    );
    // So does a path in a script.
    let libdir = run_program(&prog1.to_string_lossy(), "prog1-base-libdir");
    assert_eq!(libdir.trim(), format!("{}/lib", indirection.outputs[0]));
    let real = std::fs::canonicalize(Path::new(libdir.trim()).join("libbase.so.1")).unwrap();
    assert!(
        real.to_string_lossy()
            .ends_with("-base-1.0.1/lib/libbase.so.1"),
        "{}",
        real.display()
    );
}

/// The same bump with a header change: base's interface changes, so its dependents compile.
#[test]
fn version_bump_with_header_change_compiles_dependents() {
    let bump = |world: &World| {
        world.bump("base", "1.0", "1.0.1");
        raise_base_magic(world);
    };
    let Some(world) = compiles_after(bump, &PACKAGES) else {
        return;
    };
    assert!(world.run("prog1").contains("mid_compute(2) = 43; magic 41"));
}

#[test]
fn added_export_rebuilds_dependent_compiles() {
    compiles_after(add_base_export, &PACKAGES);
}

#[test]
fn header_macro_rebuilds_dependent_compiles() {
    let Some(world) = compiles_after(raise_base_magic, &PACKAGES) else {
        return;
    };
    assert!(world.run("prog1").contains("mid_compute(2) = 43; magic 41"));
}

#[test]
fn pkg_config_flag_rebuilds_dependent_compiles() {
    let flag = |world: &World| world.edit("mid/mid.pc.in", "-DMID_FLAG=1", "-DMID_FLAG=2");
    // The .pc file is part of mid's interface, which both programs compile against.
    let Some(world) = compiles_after(flag, &["mid", "prog1", "prog2"]) else {
        return;
    };
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

/// `relink-plan --tools pinned` on the classic graph (the builds pin the tools' runtime),
/// told what happened to base's interface, plans the compiles and relinks Nix then
/// performs: for an ABI-neutral change (only base compiles: gen, a tool of mid, and cc, a
/// tool of every compile, only relink) and for an added export (every dependent compiles).
#[test]
fn plan_matches_what_nix_built() {
    plan_matches_nix("same", |world| {
        world.edit("base/base.c", "hello from base v1", "hello from base v2")
    });
}

#[test]
fn plan_matches_what_nix_built_for_an_interface_change() {
    plan_matches_nix("changed", add_base_export);
}

/// base exports one more function: its interface changes.
fn add_base_export(world: &World) {
    world.edit(
        "base/base.c",
        "const char *base_greeting",
        "int base_extra(void) { return 7; }\nconst char *base_greeting",
    );
    world.edit("base/base.map", "base_calls;", "base_calls; base_extra;");
}

fn plan_matches_nix(abi: &str, change: impl Fn(&World)) {
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

    change(&world);
    let build = world.rebuild();

    let plan_file = world.dir.path().join("plan.json");
    let plan = duct::cmd!(
        bin_path(),
        "relink-plan",
        &graph_file,
        "--changed",
        "base-1.0",
        "--abi",
        abi,
        "--tools",
        "pinned",
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
    let report = duct::cmd!(bin_path(), "report", &plan_file).read().unwrap();
    eprintln!("{report}");
}

const OVERLAY_SPLIT: &str = r#"[ "base" "cc" "gen" "mid" "prog" "progstatic" ]"#;

/// nix/overlay.nix over the stand-in for nixpkgs' stdenv (nix/tests/stdenv), with
/// structured attributes off or on: `prog` names its input the ordinary way,
/// `buildInputs = [ mid ]` (getDev picks the dev output of mid's interface, which
/// propagates mid's lib and base), and `progstatic` links `base.static`. base's version
/// goes from 1.0 to 1.0.1 with an ABI-neutral change: base compiles, and progstatic,
/// whose input is base's archive; mid and prog only relink. The stand-in's stdenv, as
/// nixpkgs' final one, has a compiler wrapper (cc, passing base) and a tool linked against
/// base on every build's PATH (gen, which mid's build also names and runs), both from the
/// set: with the tool runtime pinned no compile reruns for them (the wrapper's compile output
/// and gen's build-time copy keep their paths); without a pin every compile that runs gen
/// does, as in nixpkgs today. The programs run the new code, and mid's dev output lists
/// each propagated path once.
fn overlay_scenario(structured: bool) {
    let Some(world) = World::new() else {
        return;
    };
    let attrs = ["prog", "progstatic"];
    // Without the pin first: gen relinks, and every compile of stdenv's runs it.
    world.set_pinned(false);
    let first = world.build_overlay(OVERLAY_SPLIT, "[ ]", structured, &attrs);
    assert!(first.ok, "{}", first.log);
    world.edit("base/base.c", "hello from base v1", "hello from base v0");
    let unpinned = world.build_overlay(OVERLAY_SPLIT, "[ ]", structured, &attrs);
    assert!(unpinned.ok, "{}", unpinned.log);
    assert_eq!(
        unpinned.rebuilt("classic"),
        set(&["base", "mid", "prog", "progstatic"]),
        "{}",
        unpinned.log
    );
    world.move_pin();
    world.set_pinned(true);
    let first = world.build_overlay(OVERLAY_SPLIT, "[ ]", structured, &attrs);
    assert!(first.ok, "{}", first.log);
    world.edit("base/base.c", "hello from base v0", "hello from base v2");
    edit_file(
        &world.dir.path().join("nix/tests/stdenv/default.nix"),
        "pname = \"base\";\n        version = \"1.0\";",
        "pname = \"base\";\n        version = \"1.0.1\";",
    );
    let second = world.build_overlay(OVERLAY_SPLIT, "[ ]", structured, &attrs);
    assert!(second.ok, "{}", second.log);
    eprintln!(
        "structured attributes {structured}: built {:?}",
        second.built
    );
    // The stand-in's compile derivations are the packages themselves (no abicutRole).
    assert_eq!(
        second.rebuilt("classic"),
        set(&["base", "progstatic"]),
        "{}",
        second.log
    );
    assert_eq!(second.rebuilt("interface"), set(&["base"]));
    assert_eq!(
        second.rebuilt("relink"),
        set(&["base", "mid", "prog", "progstatic"])
    );
    assert_eq!(
        second.rebuilt("tool"),
        set(&[]),
        "build-time copies rebuilt"
    );
    assert!(run_program(&second.outputs[0], "prog1").contains("hello from base v2"));
    assert!(run_program(&second.outputs[1], "progstatic").contains("hello from base v2"));

    let dev = world.build_overlay(OVERLAY_SPLIT, "[ ]", structured, &["mid.dev"]);
    assert!(dev.ok, "{}", dev.log);
    let listed = std::fs::read_to_string(
        Path::new(&dev.outputs[0]).join("nix-support/propagated-build-inputs"),
    )
    .unwrap();
    let paths: Vec<&str> = listed.split_whitespace().collect();
    let unique: BTreeSet<&str> = paths.iter().copied().collect();
    assert_eq!(paths.len(), unique.len(), "listed twice: {listed}");
    assert_eq!(paths.len(), 3, "base, mid's lib and out: {listed}");
}

#[test]
fn overlay_splits_stdenv_packages() {
    overlay_scenario(false);
}

#[test]
fn overlay_splits_stdenv_packages_with_structured_attrs() {
    overlay_scenario(true);
}

/// An opted-out package is a classic build again, over split inputs and stdenv's tools'
/// final outputs.
#[test]
fn overlay_opt_out_is_a_classic_build() {
    let Some(world) = World::new() else {
        return;
    };
    let first = world.build_overlay(OVERLAY_SPLIT, r#"[ "mid" ]"#, false, &["prog"]);
    assert!(first.ok, "{}", first.log);
    world.edit("base/base.c", "hello from base v1", "hello from base v3");
    let opted = world.build_overlay(OVERLAY_SPLIT, r#"[ "mid" ]"#, false, &["prog"]);
    assert!(opted.ok, "{}", opted.log);
    assert_eq!(opted.rebuilt("classic"), set(&["base", "mid", "prog"]));
    // The classic mid runs stdenv's tools' final outputs, which relink to the new base.
    assert_eq!(opted.rebuilt("relink"), set(&["base", "cc", "gen", "prog"]));
    assert!(run_program(&opted.outputs[0], "prog1").contains("hello from base v3"));
}

/// The stand-in behaves as nixpkgs' stdenv where the overlay touches it, and the split
/// packages keep what nixpkgs users rely on (nix/tests/stdenv/checks.nix): the facts
/// (getDev and outputSpecified, pname, version, meta, passthru, outputs, override,
/// overrideAttrs) and runHook's order (the postFixup string, then the hook array, then
/// stdenv's _multioutPropagateDev appending), with structured attributes off and on.
#[test]
fn stand_in_behaves_like_nixpkgs_stdenv() {
    let Some(world) = World::new() else {
        return;
    };
    for structured in [false, true] {
        let mut args = world.checks_args(structured);
        args.extend(["--eval", "--strict", "--json", "-A", "facts"].map(String::from));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = world.nix("nix-instantiate", &args).run().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let facts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for (name, fact) in facts.as_object().unwrap() {
            assert_eq!(fact["got"], fact["want"], "structured {structured}: {name}");
        }
        // What each check derivation wrote: out/order, and dev's propagated inputs with
        // the store paths reduced to their names.
        let seen = |attr: &str| -> (String, String) {
            let mut args = world.checks_args(structured);
            args.extend(["-A".into(), attr.into(), "-A".into(), format!("{attr}.dev")]);
            let build = world.build_with(args);
            assert!(build.ok, "{}", build.log);
            let order = std::fs::read_to_string(Path::new(&build.outputs[0]).join("order"))
                .unwrap()
                .replace('\n', " ");
            let dev = std::fs::read_to_string(
                Path::new(&build.outputs[1]).join("nix-support/propagated-build-inputs"),
            )
            .unwrap()
            .replace(&build.outputs[0], "OUT");
            (order, dev.trim().to_string())
        };
        let (order, dev) = seen("hookOrder");
        assert_eq!(order, "string array ", "runHook order");
        assert_eq!(dev, "hook OUT", "_multioutPropagateDev after the hooks");
        assert_eq!(seen("emptyString").1, "hook");
        // An empty list is an empty bash array under structured attributes, which the
        // hook takes for unset: it appends.
        let want = if structured { "hook OUT" } else { "hook" };
        assert_eq!(seen("emptyList").1, want, "structured {structured}");
    }
}

/// A reference abicut cannot see (the bare store hash of an interface) is refused by Nix
/// itself: mkDerivation hands disallowedReferences over as placeholders, and with
/// structured attributes Nix reads only outputChecks.
#[test]
fn overlay_relink_refuses_a_hidden_interface_reference() {
    let Some(world) = World::new() else {
        return;
    };
    for structured in [false, true] {
        let build = world.build_overlay(r#"[ "base" "leak" ]"#, "[ ]", structured, &["leak"]);
        assert!(!build.ok, "structured {structured}: the leak was accepted");
        assert!(
            build.log.contains("is not allowed to refer to"),
            "{}",
            build.log
        );
    }
}

/// What cannot be built here (package.nix and flake.nix need nixpkgs, which cannot be
/// fetched) is at least parsed by the real Nix, like every other Nix file of the repository.
#[test]
fn every_nix_file_parses() {
    if !have("nix-instantiate") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("flake.nix")];
    let mut dirs = vec![root.join("nix")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "nix") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 6, "{files:?}");
    for file in files {
        let out = duct::cmd!("nix-instantiate", "--parse", &file)
            .stdout_null()
            .stderr_capture()
            .unchecked()
            .run()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The fenced ```sh block of docs/nix.md that contains `marker`.
fn nix_doc_block(marker: &str) -> String {
    let doc = include_str!("../docs/nix.md");
    doc.split("```sh\n")
        .skip(1)
        .filter_map(|b| b.split("\n```").next())
        .find(|b| b.contains(marker))
        .unwrap_or_else(|| panic!("docs/nix.md has no sh block with {marker:?}"))
        .to_owned()
}

/// docs/nix.md's Nix snippet, run as written (no NIX_CONFIG from the test: the snippet sets it)
/// from the top of a copy of the repository's nix/ directory, with `abicut` on PATH; the
/// program prints what the snippet's comment says it prints.
#[test]
fn docs_nix_snippet_runs_as_written() {
    let Some(world) = World::new() else { return };
    let block = nix_doc_block("example.nix");
    let expected = block
        .lines()
        .find_map(|l| l.strip_prefix("./result/bin/midtool"))
        .and_then(|l| l.split_once("# "))
        .map(|(_, said)| said.trim().to_owned())
        .expect("docs/nix.md says what midtool prints");
    let bin = bin_path();
    let path = format!(
        "{}:{}",
        bin.parent().expect("binary directory").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = duct::cmd("bash", ["-euo", "pipefail", "-c", block.as_str()])
        .dir(world.dir.path())
        .env("PATH", path)
        .env_remove("NIX_CONFIG")
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "docs/nix.md's Nix snippet fails:\n{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().last(), Some(expected.as_str()), "{stdout}");
}

//! The run-time bindings oracle for the default interface: a program that references every
//! export of a library, defines what the library owes its program and interposes a few of
//! the library's imports, is linked against the real library and against its stub (same
//! command, directory and output name), and both outputs run against the *real* library
//! with `LD_BIND_NOW=1 LD_DEBUG=bindings` (shared objects through a small `dlopen`
//! loader). The loader's bindings, the exported dynamic symbols, `DT_NEEDED` and the
//! dynamic relocations must be the same, and copy relocations at least as aligned as the
//! stub promises.
//!
//! Everything about the library comes from GNU readelf, not from abicut. The link holds the
//! library's whole `DT_NEEDED` closure (the real files), so every linker sees what the
//! library's dependencies define, as a link against a library and its dependencies does.

#![allow(dead_code)]

use super::linkcheck::{self, OutputKind, Target};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// How programs for a target run: directly, or under qemu-user with the target's sysroot.
#[derive(Clone, Debug)]
pub struct Runner {
    pub qemu: Option<(&'static str, PathBuf)>,
}

impl Runner {
    pub fn native() -> Runner {
        Runner { qemu: None }
    }

    /// qemu-user for a Debian cross target (name as in [`linkcheck::cross_targets`]).
    pub fn cross(name: &str, target: &Target) -> Runner {
        let qemu = match name {
            "i386" => "qemu-i386",
            "armhf" => "qemu-arm",
            "arm64" => "qemu-aarch64",
            "ppc64el" => "qemu-ppc64le",
            "riscv64" => "qemu-riscv64",
            "s390x" => "qemu-s390x",
            _ => "qemu-mips",
        };
        let sysroot = Path::new(target.libdir)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Runner {
            qemu: Some((qemu, sysroot)),
        }
    }

    pub fn tool(&self) -> Option<&'static str> {
        self.qemu.as_ref().map(|(q, _)| *q)
    }
}

/// The stubs under test: the default interface for GNU ld, gold and lld, and the one with
/// every import (`--imports all`) for mold.
#[derive(Clone, Debug)]
pub struct Stubs {
    pub default: PathBuf,
    pub mold: PathBuf,
}

impl Stubs {
    fn for_linker(&self, linker: &str) -> &Path {
        if linker == "mold" {
            &self.mold
        } else {
            &self.default
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Same,
    /// What differs, first differences of each kind.
    Differs(String),
    /// The real library does not link or run this way; the combination says nothing.
    RealFails(String),
    /// The real library links, the stub does not.
    StubFails(String),
}

#[derive(Debug)]
pub struct LibReport {
    pub lib: PathBuf,
    pub results: Vec<(&'static str, OutputKind, Verdict)>,
}

impl LibReport {
    /// Every combination the real library links gave the same, and at least one did.
    pub fn all_same(&self) -> bool {
        self.results.iter().any(|(_, _, v)| *v == Verdict::Same)
            && self
                .results
                .iter()
                .all(|(_, _, v)| matches!(v, Verdict::Same | Verdict::RealFails(_)))
    }

    pub fn failures(&self) -> String {
        let mut out = String::new();
        for (linker, kind, verdict) in &self.results {
            if *verdict != Verdict::Same {
                let _ = writeln!(
                    out,
                    "  {} {linker} {kind:?}: {verdict:?}",
                    self.lib.display()
                );
            }
        }
        out
    }
}

/// One dynamic symbol as GNU readelf prints it.
#[derive(Clone, Debug)]
struct DynSym {
    name: String,
    version: Option<String>,
    kind: String,
    size: u64,
    value: u64,
    ndx: String,
}

fn dyn_syms(file: &Path) -> Result<Vec<DynSym>, String> {
    let out = linkcheck::run("readelf", &["-W".into(), "--dyn-syms".into(), s(file)])?;
    let mut syms = Vec::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 || !f[0].ends_with(':') || !matches!(f[4], "GLOBAL" | "WEAK" | "UNIQUE") {
            continue;
        }
        if !matches!(f[5], "DEFAULT" | "PROTECTED") {
            continue;
        }
        let (name, version) = match f[7].split_once('@') {
            Some((n, v)) => (n, Some(v.trim_start_matches('@').to_string())),
            None => (f[7], None),
        };
        let size = if let Some(hex) = f[2].strip_prefix("0x") {
            u64::from_str_radix(hex, 16).unwrap_or(0)
        } else {
            f[2].parse().unwrap_or(0)
        };
        syms.push(DynSym {
            name: name.to_string(),
            version,
            kind: f[3].to_string(),
            size,
            value: u64::from_str_radix(f[1], 16).unwrap_or(0),
            ndx: f[6].to_string(),
        });
    }
    Ok(syms)
}

fn dynamic_entries(file: &Path, tag: &str) -> Result<Vec<String>, String> {
    let out = linkcheck::run("readelf", &["-W".into(), "-d".into(), s(file)])?;
    Ok(out
        .lines()
        .filter(|l| l.contains(&format!("({tag})")))
        .filter_map(|l| {
            let start = l.find('[')?;
            let end = l.rfind(']')?;
            Some(l[start + 1..end].to_string())
        })
        .collect())
}

/// The library's `DT_NEEDED` closure, breadth first, searched for by name in `dirs`.
fn closure(lib: &Path, dirs: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut found: Vec<PathBuf> = Vec::new();
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut queue = std::collections::VecDeque::from(dynamic_entries(lib, "NEEDED")?);
    while let Some(name) = queue.pop_front() {
        if !names.insert(name.clone()) {
            continue;
        }
        let Some(path) = dirs.iter().map(|d| d.join(&name)).find(|p| p.is_file()) else {
            continue;
        };
        queue.extend(dynamic_entries(&path, "NEEDED")?);
        found.push(path);
    }
    Ok(found)
}

/// What the test program defines and references for one library.
struct Program {
    source: String,
    deps: Vec<PathBuf>,
}

fn program(lib: &Path, target: &Target) -> Result<Program, String> {
    let exports = linkcheck::exported_symbols(lib)?;
    let mut dirs: Vec<PathBuf> = lib.parent().map(Path::to_path_buf).into_iter().collect();
    dirs.push(PathBuf::from(target.libdir));
    if target.libdir.starts_with("/usr/lib/") {
        dirs.push(PathBuf::from(target.libdir.trim_start_matches("/usr")));
    }
    let deps = closure(lib, &dirs)?;
    let mut provided: BTreeMap<String, DynSym> = BTreeMap::new();
    for dep in &deps {
        for sym in dyn_syms(dep)? {
            if sym.ndx != "UND" {
                provided.entry(sym.name.clone()).or_insert(sym);
            }
        }
    }
    let exported: BTreeSet<&str> = exports.iter().map(|e| e.name.as_str()).collect();
    let imports: BTreeMap<String, DynSym> = dyn_syms(lib)?
        .into_iter()
        .filter(|s| s.ndx == "UND" && !exported.contains(s.name.as_str()))
        .map(|s| (s.name.clone(), s))
        .collect();
    let mut defs = String::new();
    for (i, imp) in imports.values().enumerate() {
        if !provided.contains_key(&imp.name) {
            define(&mut defs, i, &imp.name, &imp.kind, 64);
        }
    }
    for (i, sym) in interposed(&imports, &provided) {
        define(&mut defs, i + imports.len(), &sym.name, &sym.kind, sym.size);
    }
    Ok(Program {
        source: format!("{defs}\n{}", references(&exports)),
        deps,
    })
}

/// Two functions and one data object the library imports and a dependency defines, public
/// names first: the program's definitions must win, as they do against the real library.
fn interposed<'a>(
    imports: &BTreeMap<String, DynSym>,
    provided: &'a BTreeMap<String, DynSym>,
) -> Vec<(usize, &'a DynSym)> {
    let mut candidates: Vec<&DynSym> = imports
        .keys()
        .filter_map(|n| provided.get(n))
        .filter(|s| s.version.is_some() || !s.name.starts_with('_'))
        .collect();
    candidates.sort_by_key(|s| (s.name.starts_with('_'), s.name.clone()));
    let funcs = candidates.iter().filter(|s| s.kind == "FUNC").take(2);
    let objects = candidates
        .iter()
        .filter(|s| s.kind == "OBJECT" && s.size > 0)
        .take(1);
    funcs.chain(objects).copied().enumerate().collect()
}

fn define(out: &mut String, i: usize, name: &str, kind: &str, size: u64) {
    let _ = match kind {
        "TLS" => writeln!(
            out,
            "__thread char d{i}[{size}] __asm__(\"{name}\") = {{1}};"
        ),
        "OBJECT" => writeln!(
            out,
            "char d{i}[{}] __asm__(\"{name}\") __attribute__((aligned(16))) = {{1}};",
            size.max(1)
        ),
        _ => writeln!(
            out,
            "void d{i}(void) __asm__(\"{name}\");\nvoid d{i}(void) {{}}"
        ),
    };
}

/// References to every export that run no code of the library: addresses only.
fn references(exports: &[linkcheck::Exported]) -> String {
    let (decls, uses) = linkcheck::references(exports);
    format!(
        "{decls}\n#ifdef __arm__\nvoid __aeabi_read_tp(void) {{}}\n#endif\n\
         void sink(void *p);\nvoid sink(void *p) {{ __asm__ volatile(\"\" :: \"r\"(p)); }}\n\
         void abicut_refs(void);\nvoid abicut_refs(void) {{\n{uses}}}\n\
         #if defined(__i386__) || defined(__x86_64__)\n__attribute__((force_align_arg_pointer))\n#endif\n\
         void _start(void) {{ __builtin_trap(); }}\n"
    )
}

/// The shared-object loader: `dlopen("./out", RTLD_NOW)`, its error on stderr, then a trap.
const LOADER: &str = r#"
extern void *dlopen(const char *file, int mode);
extern char *dlerror(void);
extern long write(int fd, const void *buf, unsigned long n);
#if defined(__i386__) || defined(__x86_64__)
__attribute__((force_align_arg_pointer))
#endif
void _start(void) {
  if (!dlopen("./out", 2)) {
    const char *e = dlerror();
    unsigned long n = 0;
    while (e && e[n]) n++;
    write(2, "dlopen: ", 8);
    write(2, e, n);
    write(2, "\n", 1);
  }
  __builtin_trap();
}
"#;

/// What one output shows: its bindings at run time and its dynamic-linking facts.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    bindings: Vec<String>,
    exports: BTreeSet<String>,
    needed: Vec<String>,
    relocations: Vec<String>,
}

/// Checks one library against its stubs for one target.
pub fn check_library(
    lib: &Path,
    stubs: &Stubs,
    target: &Target,
    runner: &Runner,
    work: &Path,
) -> Result<LibReport, String> {
    check_library_linked(lib, stubs, target, runner, work, true)
}

/// [`check_library`], with the library's dependencies on the link's command line or not
/// (`closure_in_link`; GNU ld then still reads them through `-rpath-link`, gold and lld do
/// not): what the default interface assumes, measured.
pub fn check_library_linked(
    lib: &Path,
    stubs: &Stubs,
    target: &Target,
    runner: &Runner,
    work: &Path,
    closure_in_link: bool,
) -> Result<LibReport, String> {
    let name = lib
        .file_name()
        .ok_or("library has no file name")?
        .to_string_lossy()
        .into_owned();
    let libdir = work.join("lib");
    std::fs::create_dir_all(&libdir).map_err(|e| e.to_string())?;
    let installed = libdir.join(&name);
    if let Some(soname) = dynamic_entries(lib, "SONAME")?.first()
        && *soname != name
    {
        let _ = std::os::unix::fs::symlink(&name, libdir.join(soname));
    }
    let mut program = program(lib, target)?;
    if !closure_in_link {
        program.deps.clear();
    }
    let src = work.join("prog.c");
    std::fs::write(&src, &program.source).map_err(|e| e.to_string())?;
    std::fs::write(work.join("loader.c"), LOADER).map_err(|e| e.to_string())?;
    let mut results = Vec::new();
    for kind in OutputKind::ALL {
        let (cflags, ldflags) = kind.flags();
        let obj = work.join(format!("prog-{kind:?}.o"));
        linkcheck::compile(target, cflags, &src, &obj)?;
        for (linker, ld_flag) in &target.linkers {
            let mut observed = Vec::new();
            for input in [lib, stubs.for_linker(linker)] {
                copy(input, &installed)?;
                let linked = linkcheck::link_with(
                    target,
                    ld_flag,
                    ldflags,
                    &obj,
                    &name,
                    &program.deps,
                    work,
                );
                copy(lib, &installed)?;
                observed.push(linked.and_then(|()| observe(kind, target, runner, work)));
            }
            let stub = observed.pop().unwrap_or(Err(String::new()));
            let real = observed.pop().unwrap_or(Err(String::new()));
            let verdict = match (real, stub) {
                (Err(e), _) => Verdict::RealFails(e),
                (Ok(_), Err(e)) => Verdict::StubFails(e),
                (Ok(real), Ok(stub)) => {
                    let aligned = copies_aligned(&work.join("out"), stubs.for_linker(linker));
                    compare(&real, &stub, aligned)
                }
            };
            results.push((*linker, kind, verdict));
        }
    }
    Ok(LibReport {
        lib: lib.to_path_buf(),
        results,
    })
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    let _ = std::fs::remove_file(to);
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("copy {}: {e}", from.display()))
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn observe(
    kind: OutputKind,
    target: &Target,
    runner: &Runner,
    work: &Path,
) -> Result<Observed, String> {
    let out = work.join("out");
    let program = if kind == OutputKind::Shared {
        let loader = work.join("loader");
        if !loader.exists() {
            build_loader(target, work)?;
        }
        loader
    } else {
        out.clone()
    };
    let program = s(&program);
    let env = [
        ("LD_BIND_NOW", "1".to_string()),
        ("LD_DEBUG", "bindings".to_string()),
        ("LD_LIBRARY_PATH", s(&work.join("lib"))),
    ];
    let mut args: Vec<String> = Vec::new();
    let command = match &runner.qemu {
        Some((qemu, sysroot)) => {
            args.extend(["-L".into(), s(sysroot)]);
            for (k, v) in &env {
                args.extend(["-E".into(), format!("{k}={v}")]);
            }
            args.push(program);
            qemu.to_string()
        }
        None => program,
    };
    let mut cmd = duct::cmd(&command, &args)
        .dir(work)
        .stdout_null()
        .stderr_capture()
        .unchecked();
    if runner.qemu.is_none() {
        for (k, v) in &env {
            cmd = cmd.env(k, v);
        }
    }
    let result = cmd.run().map_err(|e| format!("{command}: {e}"))?;
    let stderr = String::from_utf8_lossy(&result.stderr);
    let mut bindings: Vec<String> = stderr
        .lines()
        .filter_map(|l| {
            let text = l.split_once(":\t").map_or(l, |(_, rest)| rest).trim();
            (text.starts_with("binding file")
                || text.contains("error")
                || text.starts_with("dlopen:"))
            .then(|| text.to_string())
        })
        .collect();
    bindings.sort();
    if !bindings.iter().any(|b| b.starts_with("binding file")) {
        return Err(format!("no bindings printed: {}", first_lines(&stderr)));
    }
    Ok(Observed {
        bindings,
        exports: dyn_syms(&out)?
            .into_iter()
            .filter(|s| s.ndx != "UND")
            .map(|s| match s.version {
                Some(v) => format!("{}@{v}", s.name),
                None => s.name,
            })
            .collect(),
        needed: dynamic_entries(&out, "NEEDED")?,
        relocations: relocations(&out)?,
    })
}

fn first_lines(text: &str) -> String {
    text.lines().take(3).collect::<Vec<_>>().join(" | ")
}

fn build_loader(target: &Target, work: &Path) -> Result<(), String> {
    let obj = work.join("loader.o");
    linkcheck::compile(target, &["-fno-pic"], &work.join("loader.c"), &obj)?;
    let bfd = target
        .linkers
        .iter()
        .find(|(l, _)| *l == "bfd")
        .map(|(_, f)| f.clone())
        .unwrap_or_else(|| "-fuse-ld=bfd".into());
    let mut args: Vec<String> = vec![
        format!("--target={}", target.triple),
        "-nostdlib".into(),
        bfd,
        "-no-pie".into(),
    ];
    args.extend(target.cflags.iter().map(|s| s.to_string()));
    args.extend([
        s(&obj),
        format!("{}/libc.so.6", target.libdir),
        "-o".into(),
        s(&work.join("loader")),
    ]);
    linkcheck::run("clang", &args).map(|_| ())
}

/// `TYPE SYMBOL@VERSION` of every dynamic relocation, sorted (addends and offsets are
/// layout, not binding).
fn relocations(file: &Path) -> Result<Vec<String>, String> {
    let out = linkcheck::run("readelf", &["-W".into(), "-r".into(), s(file)])?;
    let mut relocs: Vec<String> = out
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 3 || !f[2].starts_with("R_") {
                return None;
            }
            let symbol = f.get(4).filter(|s| **s != "+").copied().unwrap_or("");
            Some(format!("{} {symbol}", f[2]))
        })
        .collect();
    relocs.sort();
    Ok(relocs)
}

/// Every copy relocation of one of the stub's symbols (name and version; a copy of a
/// definition another library of the link gives, as mold picks libz3's `UNIQUE` object over
/// libLLVM's weak one, is that library's business) lands at an address at least as aligned
/// as the stub promises: `min(section alignment, 2^ctz(value), next_pow2(size))` of the
/// stub's symbol, what every linker honours (GNU ld caps by the size). An error names the
/// first that does not.
fn copies_aligned(out: &Path, stub: &Path) -> Result<(), String> {
    let relocs = linkcheck::run("readelf", &["-W".into(), "-r".into(), s(out)])?;
    let promised = promised_alignment(stub)?;
    for line in relocs.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 || !f[2].ends_with("_COPY") {
            continue;
        }
        let address = u64::from_str_radix(f[3], 16).unwrap_or(0);
        let (name, version) = match f[4].split_once('@') {
            Some((n, v)) => (n, Some(v.trim_start_matches('@').to_string())),
            None => (f[4], None),
        };
        let Some(&align) = promised.get(&(name.to_string(), version)) else {
            continue;
        };
        if !address.is_multiple_of(align) {
            return Err(format!(
                "copy of {name} at {address:#x}, promised alignment {align}"
            ));
        }
    }
    Ok(())
}

type Promised = BTreeMap<(String, Option<String>), u64>;

fn promised_alignment(stub: &Path) -> Result<Promised, String> {
    let sections = linkcheck::run("readelf", &["-W".into(), "-S".into(), s(stub)])?;
    let mut section_align: BTreeMap<String, u64> = BTreeMap::new();
    for line in sections.lines() {
        let Some(rest) = line.trim_start().strip_prefix('[') else {
            continue;
        };
        let Some((index, fields)) = rest.split_once(']') else {
            continue;
        };
        if let Some(al) = fields
            .split_whitespace()
            .last()
            .and_then(|a| a.parse().ok())
        {
            section_align.insert(index.trim().to_string(), al);
        }
    }
    Ok(dyn_syms(stub)?
        .into_iter()
        .filter(|s| s.kind == "OBJECT")
        .map(|s| {
            let section = section_align.get(&s.ndx).copied().unwrap_or(1).max(1);
            let value = if s.value == 0 {
                section
            } else {
                1u64 << s.value.trailing_zeros().min(63)
            };
            let align = section.min(value).min(s.size.max(1).next_power_of_two());
            ((s.name, s.version), align)
        })
        .collect())
}

fn compare(real: &Observed, stub: &Observed, aligned: Result<(), String>) -> Verdict {
    let mut why = Vec::new();
    let sym_diff = |a: &[String], b: &[String]| {
        let a: BTreeSet<&String> = a.iter().collect();
        let b: BTreeSet<&String> = b.iter().collect();
        let only_real: Vec<_> = a.difference(&b).take(3).collect();
        let only_stub: Vec<_> = b.difference(&a).take(3).collect();
        format!("real only {only_real:?}, stub only {only_stub:?}")
    };
    if real.bindings != stub.bindings {
        why.push(format!(
            "bindings: {}",
            sym_diff(&real.bindings, &stub.bindings)
        ));
    }
    if real.exports != stub.exports {
        let a: Vec<String> = real.exports.iter().cloned().collect();
        let b: Vec<String> = stub.exports.iter().cloned().collect();
        why.push(format!("exports: {}", sym_diff(&a, &b)));
    }
    if real.needed != stub.needed {
        why.push(format!("needed: {:?} vs {:?}", real.needed, stub.needed));
    }
    if real.relocations != stub.relocations {
        why.push(format!(
            "relocations ({} vs {}): {}",
            real.relocations.len(),
            stub.relocations.len(),
            sym_diff(&real.relocations, &stub.relocations)
        ));
    }
    if let Err(e) = aligned {
        why.push(e);
    }
    if why.is_empty() {
        Verdict::Same
    } else {
        Verdict::Differs(why.join("; "))
    }
}

//! The link-identity oracle: an object referencing every exported symbol of a library is
//! linked against the real library and against its stub, with each linker and output kind,
//! and the outputs must be byte-identical (mold's outputs after zeroing the size and type of
//! undefined symbol entries, which mold copies from the library and the loader never reads).
//!
//! The symbol list comes from GNU readelf, not from abicut, so a symbol abicut failed to
//! read shows up as a failed link against the stub rather than going unnoticed.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A target: the clang triple and flags, and the linkers that can link for it.
#[derive(Clone, Debug)]
pub struct Target {
    pub triple: &'static str,
    pub cflags: &'static [&'static str],
    /// (name, driver flag selecting it)
    pub linkers: Vec<(&'static str, String)>,
    /// Directory of the target's libraries, for `-rpath-link` (indirect dependencies).
    pub libdir: &'static str,
}

impl Target {
    /// The machine's own target, with all four linkers.
    pub fn native() -> Target {
        Target {
            triple: "x86_64-linux-gnu",
            cflags: &[],
            linkers: ["bfd", "gold", "lld", "mold"]
                .iter()
                .map(|l| (*l, format!("-fuse-ld={l}")))
                .collect(),
            libdir: "/usr/lib/x86_64-linux-gnu",
        }
    }

    /// A Debian cross target: lld (where it has a backend) and the target's GNU ld.
    pub fn cross(
        triple: &'static str,
        gnu_prefix: &str,
        cflags: &'static [&'static str],
        libdir: &'static str,
        with_lld: bool,
    ) -> Target {
        let mut linkers = vec![("bfd", format!("--ld-path=/usr/bin/{gnu_prefix}-ld.bfd"))];
        if with_lld {
            linkers.push(("lld", "-fuse-ld=lld".to_string()));
        }
        Target {
            triple,
            cflags,
            linkers,
            libdir,
        }
    }
}

/// The cross target named `name` in [`cross_targets`]; an unknown name is a test bug.
pub fn cross_target(name: &str) -> Target {
    cross_targets()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| t)
        .unwrap_or_else(|| panic!("unknown target {name}"))
}

/// Debian's cross C libraries: (name, target). lld has no SystemZ backend before LLVM 18,
/// so s390x is linked with its GNU ld only.
pub fn cross_targets() -> Vec<(&'static str, Target)> {
    vec![
        (
            "i386",
            Target::cross(
                "i686-linux-gnu",
                "i686-linux-gnu",
                &[],
                "/usr/i686-linux-gnu/lib",
                true,
            ),
        ),
        (
            "armhf",
            Target::cross(
                "arm-linux-gnueabihf",
                "arm-linux-gnueabihf",
                &[
                    "-march=armv7-a",
                    "-mfpu=vfpv3-d16",
                    "-mfloat-abi=hard",
                    "-mthumb",
                ],
                "/usr/arm-linux-gnueabihf/lib",
                true,
            ),
        ),
        (
            "arm64",
            Target::cross(
                "aarch64-linux-gnu",
                "aarch64-linux-gnu",
                &[],
                "/usr/aarch64-linux-gnu/lib",
                true,
            ),
        ),
        (
            "ppc64el",
            Target::cross(
                "powerpc64le-linux-gnu",
                "powerpc64le-linux-gnu",
                &[],
                "/usr/powerpc64le-linux-gnu/lib",
                true,
            ),
        ),
        (
            "riscv64",
            Target::cross(
                "riscv64-linux-gnu",
                "riscv64-linux-gnu",
                &["-march=rv64gc", "-mabi=lp64d"],
                "/usr/riscv64-linux-gnu/lib",
                true,
            ),
        ),
        (
            "s390x",
            Target::cross(
                "s390x-linux-gnu",
                "s390x-linux-gnu",
                &[],
                "/usr/s390x-linux-gnu/lib",
                false,
            ),
        ),
        (
            "mips",
            Target::cross(
                "mips-linux-gnu",
                "mips-linux-gnu",
                &[],
                "/usr/mips-linux-gnu/lib",
                true,
            ),
        ),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    Exe,
    Pie,
    Shared,
}

impl OutputKind {
    pub const ALL: [OutputKind; 3] = [OutputKind::Exe, OutputKind::Pie, OutputKind::Shared];

    pub fn flags(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            OutputKind::Exe => (&["-fno-pic"], &["-no-pie"]),
            OutputKind::Pie => (&["-fPIE"], &["-pie"]),
            OutputKind::Shared => (&["-fPIC"], &["-shared"]),
        }
    }
}

/// The verdict for one (linker, output kind) combination.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Identical,
    /// Both linked, the outputs differ (first differing offset and sizes).
    Differs(String),
    /// The real library does not link this way; the combination says nothing.
    RealFails(String),
    /// The real library links, the stub does not: a missing interface element.
    StubFails(String),
}

#[derive(Debug)]
pub struct LibReport {
    pub lib: PathBuf,
    pub symbols: usize,
    pub results: Vec<(&'static str, OutputKind, Verdict)>,
}

impl LibReport {
    /// Every combination whose real link succeeded gave identical bytes, and at least one did.
    pub fn all_identical(&self) -> bool {
        self.results
            .iter()
            .any(|(_, _, v)| *v == Verdict::Identical)
            && self
                .results
                .iter()
                .all(|(_, _, v)| matches!(v, Verdict::Identical | Verdict::RealFails(_)))
    }

    pub fn count(&self, f: impl Fn(&Verdict) -> bool) -> usize {
        self.results.iter().filter(|(_, _, v)| f(v)).count()
    }

    pub fn failures(&self) -> String {
        let mut out = String::new();
        for (linker, kind, verdict) in &self.results {
            if !matches!(verdict, Verdict::Identical) {
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

/// One exported symbol as GNU readelf prints it.
pub struct Exported {
    pub name: String,
    /// The version and whether it is non-default (`@`).
    pub version: Option<(String, bool)>,
    pub kind: String,
}

/// Reads the exported dynamic symbols of `lib` with GNU readelf.
pub fn exported_symbols(lib: &Path) -> Result<Vec<Exported>, String> {
    let out = duct::cmd!("readelf", "-W", "--dyn-syms", lib)
        .stderr_null()
        .read()
        .map_err(|e| format!("readelf: {e}"))?;
    let mut syms = Vec::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 || !f[0].ends_with(':') {
            continue;
        }
        let (kind, bind, vis, ndx, full) = (f[3], f[4], f[5], f[6], f[7]);
        if ndx == "UND" || !matches!(bind, "GLOBAL" | "WEAK" | "UNIQUE") {
            continue;
        }
        if !matches!(vis, "DEFAULT" | "PROTECTED") {
            continue;
        }
        if ndx == "ABS" && full.split('@').next_back() == full.split('@').next() {
            // A version's own marker symbol (`ZLIB_1.2.2@@ZLIB_1.2.2`): nothing references it.
            continue;
        }
        let (name, version) = match full.split_once("@@") {
            Some((n, v)) => (n, Some((v.to_string(), false))),
            None => match full.split_once('@') {
                Some((n, v)) => (n, Some((v.to_string(), true))),
                None => (full, None),
            },
        };
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'$')
        {
            continue;
        }
        syms.push(Exported {
            name: name.to_string(),
            version,
            kind: kind.to_string(),
        });
    }
    Ok(syms)
}

/// C source referencing every symbol: functions and data through their addresses (in a
/// non-PIC object that makes canonical PLT entries and copy relocations), TLS through the
/// address of the variable, non-default versions through `.symver`.
fn reference_source(syms: &[Exported]) -> String {
    let (decls, uses) = references(syms);
    // ARM's TLS access calls `__aeabi_read_tp`, which lives in libgcc, not in the C library.
    format!(
        "{decls}\n#ifdef __arm__\nvoid __aeabi_read_tp(void) {{}}\n#endif\nvoid sink(void *p);\nvoid sink(void *p) {{ __asm__ volatile(\"\" :: \"r\"(p)); }}\n\
         void _start(void) {{\n{uses}}}\n"
    )
}

/// The declarations of every symbol under a local name `r{i}` (a non-default version bound
/// through `.symver`), and the statements that pass each one's address to `sink`: the body
/// of every reference source, the link-identity one above and the bindings harness's.
pub fn references(syms: &[Exported]) -> (String, String) {
    let mut decls = String::new();
    let mut uses = String::new();
    for (i, s) in syms.iter().enumerate() {
        let asm_name = match &s.version {
            Some((v, true)) => {
                let local = format!("abicut_ref_{i}");
                let _ = writeln!(decls, "__asm__(\".symver {local}, {}@{v}\");", s.name);
                local
            }
            _ => s.name.clone(),
        };
        let decl = match s.kind.as_str() {
            "FUNC" | "IFUNC" => format!("extern void r{i}(void) __asm__(\"{asm_name}\");"),
            "TLS" => format!("extern __thread char r{i}[] __asm__(\"{asm_name}\");"),
            _ => format!("extern char r{i}[] __asm__(\"{asm_name}\");"),
        };
        let _ = writeln!(decls, "{decl}");
        let _ = writeln!(uses, "  sink((void *)r{i});");
    }
    (decls, uses)
}

/// Checks one library against its stub for one target. `stub` is the stub's path.
pub fn check_library(
    lib: &Path,
    stub: &Path,
    target: &Target,
    work: &Path,
) -> Result<LibReport, String> {
    let syms = exported_symbols(lib)?;
    let name = lib
        .file_name()
        .ok_or("library has no file name")?
        .to_string_lossy()
        .into_owned();
    std::fs::create_dir_all(work.join("lib")).map_err(|e| e.to_string())?;
    let src = work.join("refs.c");
    std::fs::write(&src, reference_source(&syms)).map_err(|e| e.to_string())?;
    let mut results = Vec::new();
    for kind in OutputKind::ALL {
        let (cflags, ldflags) = kind.flags();
        let obj = work.join(format!("refs-{kind:?}.o"));
        compile(target, cflags, &src, &obj)?;
        for (linker, ld_flag) in &target.linkers {
            let installed = work.join("lib").join(&name);
            let mut outputs = Vec::new();
            for input in [lib, stub] {
                std::fs::copy(input, &installed)
                    .map_err(|e| format!("copy {}: {e}", input.display()))?;
                outputs.push(link(target, ld_flag, ldflags, &obj, &name, work));
            }
            let stub_out = outputs.pop().unwrap_or(Err(String::new()));
            let real_out = outputs.pop().unwrap_or(Err(String::new()));
            let verdict = match (real_out, stub_out) {
                (Err(e), _) => Verdict::RealFails(e),
                (Ok(_), Err(e)) => Verdict::StubFails(e),
                (Ok(mut real), Ok(mut stubbed)) => {
                    if *linker == "mold" {
                        zero_undefined_size_and_type(&mut real);
                        zero_undefined_size_and_type(&mut stubbed);
                    }
                    compare(&real, &stubbed)
                }
            };
            results.push((*linker, kind, verdict));
        }
    }
    Ok(LibReport {
        lib: lib.to_path_buf(),
        symbols: syms.len(),
        results,
    })
}

pub fn compile(target: &Target, cflags: &[&str], src: &Path, obj: &Path) -> Result<(), String> {
    let mut args: Vec<String> = vec![
        format!("--target={}", target.triple),
        "-c".into(),
        "-O1".into(),
        "-w".into(),
        "-ffreestanding".into(),
        "-fno-asynchronous-unwind-tables".into(),
    ];
    args.extend(target.cflags.iter().map(|s| s.to_string()));
    args.extend(cflags.iter().map(|s| s.to_string()));
    args.push(src.to_string_lossy().into_owned());
    args.push("-o".into());
    args.push(obj.to_string_lossy().into_owned());
    run("clang", &args).map(|_| ())
}

fn link(
    target: &Target,
    ld_flag: &str,
    ldflags: &[&str],
    obj: &Path,
    lib_name: &str,
    work: &Path,
) -> Result<Vec<u8>, String> {
    link_with(target, ld_flag, ldflags, obj, lib_name, &[], work)?;
    std::fs::read(work.join("out")).map_err(|e| e.to_string())
}

/// Links `obj` against `lib/LIB_NAME` (and `extra`, after it) into WORK/out, run from
/// `work` so the command line, and so the output, is the same for a library and its stub.
pub fn link_with(
    target: &Target,
    ld_flag: &str,
    ldflags: &[&str],
    obj: &Path,
    lib_name: &str,
    extra: &[PathBuf],
    work: &Path,
) -> Result<(), String> {
    let _ = std::fs::remove_file(work.join("out"));
    let mut args: Vec<String> = vec![
        format!("--target={}", target.triple),
        "-nostdlib".into(),
        ld_flag.to_string(),
        "-Wl,--build-id=none".into(),
        format!("-Wl,-rpath-link,{}", target.libdir),
    ];
    args.extend(target.cflags.iter().map(|s| s.to_string()));
    args.extend(ldflags.iter().map(|s| s.to_string()));
    args.push(obj.to_string_lossy().into_owned());
    args.push(format!("lib/{lib_name}"));
    args.extend(extra.iter().map(|p| p.to_string_lossy().into_owned()));
    args.extend(["-o".into(), "out".into()]);
    let result = duct::cmd("clang", &args)
        .dir(work)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| e.to_string())?;
    if !result.status.success() {
        let err = String::from_utf8_lossy(&result.stderr);
        let errors: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("error"))
            .take(3)
            .collect();
        return Err(errors.join(" | "));
    }
    Ok(())
}

pub fn run(program: &str, args: &[String]) -> Result<String, String> {
    let result = duct::cmd(program, args)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|e| format!("{program}: {e}"))?;
    if !result.status.success() {
        return Err(format!(
            "{program} failed: {}",
            String::from_utf8_lossy(&result.stderr)
                .lines()
                .take(5)
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
    Ok(String::from_utf8_lossy(&result.stdout).into_owned())
}

fn compare(real: &[u8], stub: &[u8]) -> Verdict {
    if real == stub {
        return Verdict::Identical;
    }
    let first = real.iter().zip(stub).position(|(a, b)| a != b);
    Verdict::Differs(format!(
        "sizes {} vs {}, first difference at {:?}",
        real.len(),
        stub.len(),
        first.map(|o| format!("{o:#x}"))
    ))
}

/// Zeroes `st_size` and the type nibble of `st_info` of every undefined entry in `.dynsym`
/// and `.symtab`: the only fields mold copies from a library's definitions into its output.
pub fn zero_undefined_size_and_type(bytes: &mut [u8]) {
    use goblin::elf::Elf;
    let Ok(elf) = Elf::parse(bytes) else { return };
    let is64 = elf.is_64;
    let le = elf.little_endian;
    let entsize = if is64 { 24 } else { 16 };
    let mut patches = Vec::new();
    for sh in &elf.section_headers {
        if sh.sh_type != goblin::elf::section_header::SHT_DYNSYM
            && sh.sh_type != goblin::elf::section_header::SHT_SYMTAB
        {
            continue;
        }
        let count = sh.sh_size as usize / entsize;
        for i in 1..count {
            patches.push(sh.sh_offset as usize + i * entsize);
        }
    }
    drop(elf);
    for off in patches {
        let (shndx_at, info_at, size_at, size_len) = if is64 {
            (off + 6, off + 4, off + 16, 8)
        } else {
            (off + 14, off + 12, off + 8, 4)
        };
        if off + entsize > bytes.len() {
            continue;
        }
        let shndx = if le {
            u16::from_le_bytes([bytes[shndx_at], bytes[shndx_at + 1]])
        } else {
            u16::from_be_bytes([bytes[shndx_at], bytes[shndx_at + 1]])
        };
        if shndx != 0 {
            continue;
        }
        bytes[info_at] &= 0xf0;
        bytes[size_at..size_at + size_len].fill(0);
    }
}

//! Field-targeted corruptions of real x86_64 ELF files, and ld.so's verdict on a file: the
//! oracle that `verify` and `elf` are judged by (tests/ldso_oracle.rs, tests/verify.rs).

use goblin::elf::Elf;
use goblin::elf::dynamic::*;
use goblin::elf::program_header::{PT_DYNAMIC, PT_LOAD};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One corrupted copy of a file: what was changed (the kind, for counting) and the bytes.
pub struct Variant {
    pub kind: String,
    pub detail: String,
    pub bytes: Vec<u8>,
}

/// Little-endian write of the low `n` bytes of `v` at `off`, in a copy.
fn poked(bytes: &[u8], off: usize, n: usize, v: u64) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[off..off + n].copy_from_slice(&v.to_le_bytes()[..n]);
    out
}

fn read(bytes: &[u8], off: usize, n: usize) -> u64 {
    let mut b = [0u8; 8];
    b[..n].copy_from_slice(&bytes[off..off + n]);
    u64::from_le_bytes(b)
}

struct Maker<'a> {
    bytes: &'a [u8],
    out: Vec<Variant>,
}

impl Maker<'_> {
    fn set(&mut self, kind: &str, detail: String, off: usize, n: usize, v: u64) {
        if off + n <= self.bytes.len() && read(self.bytes, off, n) != v {
            let bytes = poked(self.bytes, off, n, v);
            self.out.push(Variant {
                kind: kind.to_owned(),
                detail,
                bytes,
            });
        }
    }

    fn add(&mut self, kind: &str, detail: String, off: usize, n: usize, delta: u64) {
        if off + n <= self.bytes.len() {
            let v = read(self.bytes, off, n).wrapping_add(delta);
            let mask = if n == 8 { u64::MAX } else { (1 << (8 * n)) - 1 };
            self.set(kind, detail, off, n, v & mask);
        }
    }
}

/// The dynamic tags whose values the corpus corrupts (addresses and sizes ld.so reads).
const TAGS: &[(u64, &str)] = &[
    (DT_STRTAB, "DT_STRTAB"),
    (DT_STRSZ, "DT_STRSZ"),
    (DT_SYMTAB, "DT_SYMTAB"),
    (DT_GNU_HASH, "DT_GNU_HASH"),
    (DT_HASH, "DT_HASH"),
    (DT_VERNEED, "DT_VERNEED"),
    (DT_VERNEEDNUM, "DT_VERNEEDNUM"),
    (DT_VERSYM, "DT_VERSYM"),
    (DT_VERDEF, "DT_VERDEF"),
    (DT_NEEDED, "DT_NEEDED"),
    (DT_SONAME, "DT_SONAME"),
    (DT_RUNPATH, "DT_RUNPATH"),
    (DT_PLTREL, "DT_PLTREL"),
    (DT_RELAENT, "DT_RELAENT"),
    (DT_SYMENT, "DT_SYMENT"),
    (DT_FLAGS_1, "DT_FLAGS_1"),
];

/// Every corruption of `bytes` (an x86_64 ELF64 file) the corpus tries: header fields,
/// program header fields, dynamic entries, hash and version records, truncations.
pub fn variants(bytes: &[u8]) -> Vec<Variant> {
    let elf = Elf::parse(bytes).expect("a sound original");
    let mut m = Maker {
        bytes,
        out: Vec::new(),
    };
    for t in [0u64, 1, 4, 0xfe00] {
        m.set("e_type", format!("e_type={t}"), 16, 2, t);
    }
    m.set("e_phnum", "e_phnum=0".into(), 0x38, 2, 0);
    m.set("e_phnum", "e_phnum=1".into(), 0x38, 2, 1);
    m.set("e_ident", "e_phentsize=32".into(), 0x36, 2, 32);
    m.set("e_ident", "EI_VERSION=0".into(), 6, 1, 0);
    m.set("e_ident", "EI_PAD".into(), 10, 1, 1);
    m.set("e_ident", "e_version=0".into(), 0x14, 4, 0);
    let phoff = elf.header.e_phoff as usize;
    for (i, p) in elf.program_headers.iter().enumerate() {
        let at = phoff + i * 56;
        let d = |f: &str| format!("phdr {i} (type {:#x}) {f}", p.p_type);
        m.set("phdr p_type", d("p_type=0"), at, 4, 0);
        m.add("phdr p_offset", d("p_offset+0x10"), at + 8, 8, 0x10);
        m.add("phdr p_offset", d("p_offset+0x1000"), at + 8, 8, 0x1000);
        m.add("phdr p_vaddr", d("p_vaddr+0x10"), at + 16, 8, 0x10);
        m.add("phdr p_vaddr", d("p_vaddr+0x1000"), at + 16, 8, 0x1000);
        m.set("phdr p_filesz", d("p_filesz=0"), at + 32, 8, 0);
        m.add("phdr p_filesz", d("p_filesz+0x10"), at + 32, 8, 0x10);
        m.set("phdr p_memsz", d("p_memsz=0"), at + 40, 8, 0);
        m.set("phdr p_align", d("p_align=3"), at + 48, 8, 3);
        if p.p_type == PT_LOAD || p.p_type == PT_DYNAMIC {
            m.set("phdr p_flags", d("p_flags=0"), at + 4, 4, 0);
        }
    }
    dynamic(&elf, &mut m);
    sections(&elf, &mut m);
    for n in [0x34, 0x40, bytes.len() / 4, bytes.len() / 2] {
        m.out.push(Variant {
            kind: "truncation".into(),
            detail: format!("cut at {n:#x}"),
            bytes: bytes[..n].to_vec(),
        });
    }
    // Named without its offset, which depends on the library's build: an expectation about
    // it holds for whatever build of the library the machine has.
    m.out.push(Variant {
        kind: "truncation".into(),
        detail: "cut 16 bytes before the end".into(),
        bytes: bytes[..bytes.len().saturating_sub(16)].to_vec(),
    });
    m.out
}

fn dynamic(elf: &Elf, m: &mut Maker) {
    let Some(p) = elf.program_headers.iter().find(|p| p.p_type == PT_DYNAMIC) else {
        return;
    };
    let base = p.p_offset as usize;
    let mut k = 0;
    while base + k * 16 + 16 <= m.bytes.len() {
        let at = base + k * 16;
        let tag = read(m.bytes, at, 8);
        if tag == DT_NULL {
            break;
        }
        m.set(
            "PT_DYNAMIC entry",
            format!("dyn {k} (tag {tag:#x}) -> DT_NULL"),
            at,
            8,
            0,
        );
        if let Some((_, name)) = TAGS.iter().find(|(t, _)| *t == tag) {
            for (what, delta) in [
                ("+8", 8u64),
                ("+0x100000", 0x100000),
                ("-0x40", 0u64.wrapping_sub(0x40)),
            ] {
                m.add(name, format!("{name}{what}"), at + 8, 8, delta);
            }
            m.set(name, format!("{name}=0"), at + 8, 8, 0);
        }
        k += 1;
    }
}

/// Offset of the section named `name`.
fn section(elf: &Elf, name: &str) -> Option<usize> {
    elf.section_headers
        .iter()
        .find(|s| elf.shdr_strtab.get_at(s.sh_name) == Some(name))
        .map(|s| s.sh_offset as usize)
}

fn sections(elf: &Elf, m: &mut Maker) {
    if let Some(h) = section(elf, ".gnu.hash") {
        let k = "gnu hash";
        m.set(k, "nbuckets=0".into(), h, 4, 0);
        m.add(k, "symoffset+1".into(), h + 4, 4, 1);
        m.set(k, "bloom words=3".into(), h + 8, 4, 3);
        m.set(k, "bloom[0]=0".into(), h + 16, 8, 0);
        let nwords = read(m.bytes, h + 8, 4) as usize;
        let buckets = h + 16 + nwords * 8;
        m.set(k, "bucket[0]=0".into(), buckets, 4, 0);
        m.add(k, "bucket[0]+1".into(), buckets, 4, 1);
        let nbuckets = read(m.bytes, h, 4) as usize;
        m.add(k, "chain[0]^2".into(), buckets + nbuckets * 4, 4, 2);
    }
    if let Some(r) = section(elf, ".gnu.version_r") {
        let k = "verneed";
        m.set(k, "vn_version=2".into(), r, 2, 2);
        m.set(k, "vn_cnt=0".into(), r + 2, 2, 0);
        m.add(k, "vn_file+1".into(), r + 4, 4, 1);
        m.add(k, "vn_aux+4".into(), r + 8, 4, 4);
        let aux = r + read(m.bytes, r + 8, 4) as usize;
        m.add(k, "vna_hash+1".into(), aux, 4, 1);
        m.set(k, "vna_flags=weak".into(), aux + 4, 2, 2);
        m.set(k, "vna_other=0x7fff".into(), aux + 6, 2, 0x7fff);
        m.add(k, "vna_name+1".into(), aux + 8, 4, 1);
    }
    if let Some(d) = section(elf, ".gnu.version_d") {
        let k = "verdef";
        m.set(k, "vd_version=2".into(), d, 2, 2);
        m.set(k, "vd_ndx=9".into(), d + 4, 2, 9);
        m.add(k, "vd_hash+1".into(), d + 8, 4, 1);
    }
    if let Some(v) = section(elf, ".gnu.version") {
        let k = "versym";
        for i in [1usize, 2, 5] {
            m.set(k, format!("versym[{i}]=0x7fff"), v + 2 * i, 2, 0x7fff);
            m.set(k, format!("versym[{i}]=0"), v + 2 * i, 2, 0);
        }
    }
}

/// What ld.so did with a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Loads,
    Refuses,
    /// Killed by a signal, or still running after the time limit: set aside.
    Crashes,
}

/// Runs `cmd` with `LD_BIND_NOW=1` and a time limit: exit 0 loads; a refusal by ld.so (or
/// by the kernel: the program cannot be executed) refuses; a signal or a hang crashes.
pub fn judge(mut cmd: Command) -> Verdict {
    let child = cmd
        .env("LD_BIND_NOW", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return Verdict::Refuses;
    };
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                return match status.code() {
                    Some(0) => Verdict::Loads,
                    Some(_) => Verdict::Refuses,
                    None => Verdict::Crashes,
                };
            }
            Ok(None) if start.elapsed() < Duration::from_secs(5) => {
                std::thread::sleep(Duration::from_millis(2));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Verdict::Crashes;
            }
        }
    }
}

/// A program that `dlopen`s its argument with `RTLD_NOW` and exits 0 only when that worked.
pub const DLOPEN_C: &str = "#include <dlfcn.h>\n#include <stdio.h>\nint main(int argc, char **argv) {\n  if (argc != 2 || !dlopen(argv[1], RTLD_NOW)) { fprintf(stderr, \"%s\\n\", dlerror()); return 1; }\n  return 0;\n}\n";

/// ld.so's verdict on `file`: a program is run, a shared library `dlopen`ed by `probe`.
pub fn ldso(file: &Path, probe: &Path, is_program: bool) -> Verdict {
    if is_program {
        judge(Command::new(file))
    } else {
        let mut c = Command::new(probe);
        c.arg(file);
        judge(c)
    }
}

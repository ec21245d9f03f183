//! patchelf-style edits of existing ELF files: RUNPATH/RPATH, DT_NEEDED, SONAME and the
//! interpreter, for any class (ELF32/ELF64) and byte order.
//!
//! Values that fit in place are written in place. Anything that must grow (a new string,
//! a longer interpreter, more dynamic entries than the section has room for) goes into one
//! new loadable segment appended to the file, as patchelf does: the program header table
//! moves there too (it needs one more entry), and `PT_PHDR`, `PT_INTERP`, `PT_DYNAMIC`, the
//! section headers and `DT_STRTAB`/`DT_STRSZ` are pointed at the new copies. The old bytes
//! stay where they are, so every existing string offset and address remains valid.
//!
//! The file is validated before anything is touched (every header, segment and section
//! must lie inside the file, loadable segments must not overlap, the dynamic section and
//! its string table must be mapped), so hostile input is refused with a clear error.

use crate::error::{Error, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PT_PHDR: u32 = 6;
const PF_W: u32 = 2;
const PF_R: u32 = 4;
const SHT_NOBITS: u32 = 8;

pub const DT_NULL: u64 = 0;
pub const DT_NEEDED: u64 = 1;
pub const DT_STRTAB: u64 = 5;
pub const DT_STRSZ: u64 = 10;
pub const DT_SONAME: u64 = 14;
pub const DT_RPATH: u64 = 15;
pub const DT_RUNPATH: u64 = 29;
const DT_VERNEED: u64 = 0x6fff_fffe;
const DT_VERNEEDNUM: u64 = 0x6fff_ffff;
/// MIPS: the address of the RLD map, relative to this dynamic entry's own address.
const DT_MIPS_RLD_MAP_REL: u64 = 0x7000_0035;
const EM_MIPS: u16 = 8;

/// Reads and writes integers in the file's class and byte order.
#[derive(Clone, Copy, Debug)]
struct Layout {
    is64: bool,
    le: bool,
}

impl Layout {
    fn word_size(self) -> usize {
        if self.is64 { 8 } else { 4 }
    }

    fn get(self, b: &[u8], off: usize, n: usize) -> Option<u64> {
        let s = b.get(off..off.checked_add(n)?)?;
        let mut v = 0u64;
        for i in 0..n {
            let byte = if self.le { s[n - 1 - i] } else { s[i] };
            v = (v << 8) | u64::from(byte);
        }
        Some(v)
    }

    fn put(self, b: &mut [u8], off: usize, n: usize, v: u64) {
        for i in 0..n {
            let shift = if self.le { 8 * i } else { 8 * (n - 1 - i) };
            b[off + i] = (v >> shift) as u8;
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Phdr {
    p_type: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    paddr: u64,
    filesz: u64,
    memsz: u64,
    align: u64,
}

#[derive(Clone, Copy, Debug)]
struct Shdr {
    sh_type: u32,
    addr: u64,
    offset: u64,
    size: u64,
}

/// An ELF file parsed for editing, with its bytes.
pub struct ElfFile {
    path: PathBuf,
    data: Vec<u8>,
    lay: Layout,
    machine: u16,
    phdrs: Vec<Phdr>,
    shdrs: Vec<Shdr>,
    shoff: usize,
    shentsize: usize,
    /// File offset and capacity (entries) of the dynamic array, if the file has one.
    dyn_off: usize,
    dyn_cap: usize,
    dynamic: Vec<(u64, u64)>,
    /// File offset and size of the dynamic string table.
    str_off: usize,
    str_size: usize,
}

/// One requested change. Several are applied together, in order, into one new segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    SetRpath(String),
    /// Sets DT_RPATH instead of DT_RUNPATH (patchelf's `--force-rpath`).
    SetOldRpath(String),
    RemoveRpath,
    ReplaceNeeded(String, String),
    AddNeeded(String),
    RemoveNeeded(String),
    SetInterpreter(String),
    SetSoname(String),
}

impl ElfFile {
    pub fn read(path: &Path) -> Result<ElfFile> {
        let data = crate::fsx::read(path)?;
        ElfFile::parse(path, data)
    }

    pub fn parse(path: &Path, data: Vec<u8>) -> Result<ElfFile> {
        Parser { path, data: &data }
            .parse()
            .map(|p| ElfFile { data, ..p })
    }

    fn bad(&self, reason: impl Into<String>) -> Error {
        Error::invalid(&self.path, reason)
    }

    pub fn is_64(&self) -> bool {
        self.lay.is64
    }

    pub fn machine(&self) -> u16 {
        self.machine
    }

    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    fn string(&self, off: u64) -> Result<String> {
        let start = usize::try_from(off)
            .ok()
            .filter(|&o| o < self.str_size)
            .ok_or_else(|| {
                self.bad(format!(
                    "string offset {off:#x} outside the dynamic string table"
                ))
            })?;
        let table = &self.data[self.str_off..self.str_off + self.str_size];
        let len = memchr::memchr(0, &table[start..])
            .ok_or_else(|| self.bad("unterminated string in the dynamic string table"))?;
        Ok(String::from_utf8_lossy(&table[start..start + len]).into_owned())
    }

    fn values(&self, tag: u64) -> Result<Vec<String>> {
        self.dynamic
            .iter()
            .filter(|(t, _)| *t == tag)
            .map(|(_, v)| self.string(*v))
            .collect()
    }

    pub fn needed(&self) -> Result<Vec<String>> {
        self.values(DT_NEEDED)
    }

    /// RUNPATH if present, else RPATH (what patchelf `--print-rpath` shows).
    pub fn rpath(&self) -> Result<Option<String>> {
        let run = self.values(DT_RUNPATH)?;
        let old = self.values(DT_RPATH)?;
        Ok(run.into_iter().next().or_else(|| old.into_iter().next()))
    }

    pub fn soname(&self) -> Result<Option<String>> {
        Ok(self.values(DT_SONAME)?.into_iter().next())
    }

    pub fn interpreter(&self) -> Result<Option<String>> {
        let Some(p) = self.phdrs.iter().find(|p| p.p_type == PT_INTERP) else {
            return Ok(None);
        };
        let bytes = &self.data[p.offset as usize..(p.offset + p.filesz) as usize];
        let len = memchr::memchr(0, bytes).unwrap_or(bytes.len());
        Ok(Some(String::from_utf8_lossy(&bytes[..len]).into_owned()))
    }

    /// Applies `edits` and returns the new file bytes (the file on disk is untouched).
    pub fn edit(&self, edits: &[Edit]) -> Result<Vec<u8>> {
        let mut plan = Plan::new(self);
        for e in edits {
            plan.apply(e)?;
        }
        plan.finish()
    }
}

/// Checks that `bytes` is a structurally sound ELF file (see the module documentation).
pub fn validate(path: &Path, bytes: &[u8]) -> Result<()> {
    Parser { path, data: bytes }.parse().map(|_| ())
}

/// Edits `path` in place, atomically (temporary file beside it, mode kept, rename).
pub fn edit_file(path: &Path, edits: &[Edit]) -> Result<()> {
    let elf = ElfFile::read(path)?;
    let out = elf.edit(edits)?;
    let mode = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .permissions()
        .mode();
    crate::fsx::write_atomic(path, &out)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(path, e))
}

struct Parser<'a> {
    path: &'a Path,
    data: &'a [u8],
}

impl Parser<'_> {
    fn bad(&self, reason: impl Into<String>) -> Error {
        Error::invalid(self.path, reason)
    }

    fn get(&self, lay: Layout, off: usize, n: usize) -> Result<u64> {
        lay.get(self.data, off, n).ok_or_else(|| {
            self.bad(format!(
                "truncated: needs bytes at {off:#x}..{:#x}",
                off + n
            ))
        })
    }

    fn range(&self, what: &str, off: u64, size: u64) -> Result<()> {
        match off.checked_add(size) {
            Some(end) if end <= self.data.len() as u64 => Ok(()),
            _ => Err(self.bad(format!(
                "{what} at {off:#x}+{size:#x} extends past the end of the file ({:#x} bytes): truncated or corrupt",
                self.data.len()
            ))),
        }
    }

    fn parse(&self) -> Result<ElfFile> {
        let d = self.data;
        if d.len() < 16 || &d[..4] != b"\x7fELF" {
            return Err(self.bad("not an ELF file"));
        }
        let is64 = match d[4] {
            1 => false,
            2 => true,
            c => return Err(self.bad(format!("unknown ELF class {c}"))),
        };
        let le = match d[5] {
            1 => true,
            2 => false,
            c => return Err(self.bad(format!("unknown ELF data encoding {c}"))),
        };
        let lay = Layout { is64, le };
        let w = lay.word_size();
        let machine = self.get(lay, 18, 2)? as u16;
        let (phoff, shoff) = (self.get(lay, 24 + w, w)?, self.get(lay, 24 + 2 * w, w)?);
        let base = 24 + 3 * w + 4;
        let phentsize = self.get(lay, base + 2, 2)? as usize;
        let phnum = self.get(lay, base + 4, 2)? as usize;
        let shentsize = self.get(lay, base + 6, 2)? as usize;
        let shnum = self.get(lay, base + 8, 2)? as usize;
        let phdrs = self.phdrs(lay, phoff, phentsize, phnum)?;
        let shdrs = self.shdrs(lay, shoff, shentsize, shnum)?;
        check_loads(&phdrs).map_err(|r| self.bad(r))?;
        let mut elf = ElfFile {
            path: self.path.to_path_buf(),
            data: Vec::new(),
            lay,
            machine,
            phdrs,
            shdrs,
            shoff: shoff as usize,
            shentsize,
            dyn_off: 0,
            dyn_cap: 0,
            dynamic: Vec::new(),
            str_off: 0,
            str_size: 0,
        };
        self.dynamic(&mut elf)?;
        Ok(elf)
    }

    fn phdrs(&self, lay: Layout, phoff: u64, entsize: usize, num: usize) -> Result<Vec<Phdr>> {
        if num == 0 {
            return Ok(Vec::new());
        }
        let want = if lay.is64 { 56 } else { 32 };
        if entsize != want {
            return Err(self.bad(format!(
                "program header entry size {entsize}, expected {want}"
            )));
        }
        self.range("program header table", phoff, (entsize * num) as u64)?;
        let mut out = Vec::with_capacity(num);
        for i in 0..num {
            let o = phoff as usize + i * entsize;
            let g = |off: usize, n: usize| self.get(lay, o + off, n);
            let p = if lay.is64 {
                Phdr {
                    p_type: g(0, 4)? as u32,
                    flags: g(4, 4)? as u32,
                    offset: g(8, 8)?,
                    vaddr: g(16, 8)?,
                    paddr: g(24, 8)?,
                    filesz: g(32, 8)?,
                    memsz: g(40, 8)?,
                    align: g(48, 8)?,
                }
            } else {
                Phdr {
                    p_type: g(0, 4)? as u32,
                    offset: g(4, 4)?,
                    vaddr: g(8, 4)?,
                    paddr: g(12, 4)?,
                    filesz: g(16, 4)?,
                    memsz: g(20, 4)?,
                    flags: g(24, 4)? as u32,
                    align: g(28, 4)?,
                }
            };
            self.range(&format!("segment {i}"), p.offset, p.filesz)?;
            if p.p_type == PT_LOAD && p.filesz > p.memsz {
                return Err(self.bad(format!("segment {i}: file size larger than memory size")));
            }
            out.push(p);
        }
        Ok(out)
    }

    fn shdrs(&self, lay: Layout, shoff: u64, entsize: usize, num: usize) -> Result<Vec<Shdr>> {
        if shoff == 0 || num == 0 {
            return Ok(Vec::new());
        }
        let want = if lay.is64 { 64 } else { 40 };
        if entsize != want {
            return Err(self.bad(format!(
                "section header entry size {entsize}, expected {want}"
            )));
        }
        self.range("section header table", shoff, (entsize * num) as u64)?;
        let w = lay.word_size();
        let mut out = Vec::with_capacity(num);
        for i in 0..num {
            let o = shoff as usize + i * entsize;
            let s = Shdr {
                sh_type: self.get(lay, o + 4, 4)? as u32,
                addr: self.get(lay, o + 8 + w, w)?,
                offset: self.get(lay, o + 8 + 2 * w, w)?,
                size: self.get(lay, o + 8 + 3 * w, w)?,
            };
            if s.sh_type != SHT_NOBITS && s.sh_type != 0 {
                self.range(&format!("section {i}"), s.offset, s.size)?;
            }
            out.push(s);
        }
        Ok(out)
    }

    fn dynamic(&self, elf: &mut ElfFile) -> Result<()> {
        let Some(p) = elf.phdrs.iter().find(|p| p.p_type == PT_DYNAMIC).copied() else {
            return Ok(());
        };
        let ent = 2 * elf.lay.word_size();
        elf.dyn_off = p.offset as usize;
        elf.dyn_cap = p.filesz as usize / ent;
        for i in 0..elf.dyn_cap {
            let o = elf.dyn_off + i * ent;
            let tag = self.get(elf.lay, o, ent / 2)?;
            if tag == DT_NULL {
                break;
            }
            elf.dynamic
                .push((tag, self.get(elf.lay, o + ent / 2, ent / 2)?));
        }
        let find = |t| {
            elf.dynamic
                .iter()
                .find(|(tag, _)| *tag == t)
                .map(|(_, v)| *v)
        };
        let (Some(addr), Some(size)) = (find(DT_STRTAB), find(DT_STRSZ)) else {
            return if elf.dynamic.is_empty() {
                Ok(())
            } else {
                Err(self.bad("dynamic section without DT_STRTAB/DT_STRSZ"))
            };
        };
        let off = vaddr_to_offset(&elf.phdrs, addr, size).ok_or_else(|| {
            self.bad(format!(
                "DT_STRTAB {addr:#x}+{size:#x} is not inside any loaded part of the file"
            ))
        })?;
        self.range("dynamic string table", off, size)?;
        elf.str_off = off as usize;
        elf.str_size = size as usize;
        Ok(())
    }
}

/// Loadable segments must not overlap in memory (a loader would map one over the other).
fn check_loads(phdrs: &[Phdr]) -> std::result::Result<(), String> {
    let mut loads: Vec<_> = phdrs.iter().filter(|p| p.p_type == PT_LOAD).collect();
    loads.sort_by_key(|p| p.vaddr);
    for pair in loads.windows(2) {
        let end = pair[0]
            .vaddr
            .checked_add(pair[0].memsz)
            .ok_or("loadable segment wraps around the address space")?;
        if end > pair[1].vaddr {
            return Err(format!(
                "overlapping loadable segments at {:#x} and {:#x}",
                pair[0].vaddr, pair[1].vaddr
            ));
        }
    }
    Ok(())
}

/// The file offset of `size` bytes at `vaddr`, if one loadable segment holds them in the file.
fn vaddr_to_offset(phdrs: &[Phdr], vaddr: u64, size: u64) -> Option<u64> {
    phdrs
        .iter()
        .filter(|p| p.p_type == PT_LOAD)
        .find(|p| {
            vaddr >= p.vaddr
                && matches!((vaddr.checked_add(size), p.vaddr.checked_add(p.filesz)), (Some(a), Some(b)) if a <= b)
        })
        .map(|p| p.offset + (vaddr - p.vaddr))
}

fn align_up(v: u64, a: u64) -> u64 {
    v.div_ceil(a.max(1)) * a.max(1)
}

/// Pending changes to one file.
struct Plan<'a> {
    elf: &'a ElfFile,
    /// Copy of the old string table bytes (in-place edits) plus appended strings.
    strtab: Vec<u8>,
    /// Dynamic entries with the index they had (for MIPS relative entries), None if new.
    dynamic: Vec<(u64, u64, Option<usize>)>,
    interp: Option<String>,
    /// DT_NEEDED names replaced, and the offset of their new name, for version needs.
    pending_verneed: Vec<(String, u64)>,
}

impl<'a> Plan<'a> {
    fn new(elf: &'a ElfFile) -> Plan<'a> {
        Plan {
            elf,
            strtab: elf.data[elf.str_off..elf.str_off + elf.str_size].to_vec(),
            dynamic: elf
                .dynamic
                .iter()
                .enumerate()
                .map(|(i, &(t, v))| (t, v, Some(i)))
                .collect(),
            interp: None,
            pending_verneed: Vec::new(),
        }
    }

    fn need_dynamic(&self) -> Result<()> {
        if self.elf.dynamic.is_empty() || self.elf.str_size == 0 {
            return Err(self
                .elf
                .bad("not a dynamically linked file (no dynamic section)"));
        }
        Ok(())
    }

    /// Appends a string to the (new) string table and returns its offset.
    fn add_string(&mut self, s: &str) -> Result<u64> {
        if s.as_bytes().contains(&0) {
            return Err(Error::Usage(format!("value {s:?} contains a NUL byte")));
        }
        let off = self.strtab.len() as u64;
        self.strtab.extend_from_slice(s.as_bytes());
        self.strtab.push(0);
        Ok(off)
    }

    fn apply(&mut self, e: &Edit) -> Result<()> {
        match e {
            Edit::SetInterpreter(i) => {
                if !self.elf.phdrs.iter().any(|p| p.p_type == PT_INTERP) {
                    return Err(self
                        .elf
                        .bad("no PT_INTERP: not a dynamically linked executable"));
                }
                self.interp = Some(i.clone());
                return Ok(());
            }
            _ => self.need_dynamic()?,
        }
        match e {
            Edit::SetRpath(p) => self.set_rpath(DT_RUNPATH, p),
            Edit::SetOldRpath(p) => self.set_rpath(DT_RPATH, p),
            Edit::RemoveRpath => {
                self.dynamic
                    .retain(|(t, _, _)| *t != DT_RPATH && *t != DT_RUNPATH);
                Ok(())
            }
            Edit::ReplaceNeeded(old, new) => self.replace_needed(old, new),
            Edit::AddNeeded(n) => self.add_needed(n),
            Edit::RemoveNeeded(n) => self.remove_needed(n),
            Edit::SetSoname(so) => self.set_soname(so),
            Edit::SetInterpreter(_) => Ok(()),
        }
    }

    /// New entries go after the last DT_NEEDED, so existing ones keep their search order.
    fn after_needed(&self) -> usize {
        self.dynamic
            .iter()
            .rposition(|(t, _, _)| *t == DT_NEEDED)
            .map_or(0, |i| i + 1)
    }

    fn add_needed(&mut self, name: &str) -> Result<()> {
        if self.has_needed(name)? {
            return Ok(());
        }
        let off = self.add_string(name)?;
        let at = self.after_needed();
        self.dynamic.insert(at, (DT_NEEDED, off, None));
        Ok(())
    }

    /// Refuses a name the file does not need: patchelf only warns, but a build tool that
    /// quietly does nothing hides a relink that no longer does what it was written for.
    fn missing_needed(&self, name: &str, flag: &str) -> Error {
        self.elf.bad(format!(
            "{flag} {name}: the file has no DT_NEEDED entry {name}"
        ))
    }

    fn remove_needed(&mut self, name: &str) -> Result<()> {
        let names = self.strings_of(DT_NEEDED)?;
        if !names.iter().any(|n| n == name) {
            return Err(self.missing_needed(name, "--remove-needed"));
        }
        let mut i = 0;
        self.dynamic.retain(|(t, _, _)| {
            if *t != DT_NEEDED {
                return true;
            }
            i += 1;
            names.get(i - 1).is_none_or(|s| s != name)
        });
        Ok(())
    }

    fn set_soname(&mut self, soname: &str) -> Result<()> {
        let off = self.add_string(soname)?;
        match self.dynamic.iter_mut().find(|(t, _, _)| *t == DT_SONAME) {
            Some(entry) => entry.1 = off,
            None => self.dynamic.insert(0, (DT_SONAME, off, None)),
        }
        Ok(())
    }

    fn string_at(&self, off: u64) -> Result<String> {
        let start = off as usize;
        let rest = self.strtab.get(start..).ok_or_else(|| {
            self.elf
                .bad(format!("string offset {off:#x} outside the string table"))
        })?;
        let len =
            memchr::memchr(0, rest).ok_or_else(|| self.elf.bad("unterminated dynamic string"))?;
        Ok(String::from_utf8_lossy(&rest[..len]).into_owned())
    }

    fn strings_of(&self, tag: u64) -> Result<Vec<String>> {
        self.dynamic
            .iter()
            .filter(|(t, _, _)| *t == tag)
            .map(|(_, v, _)| self.string_at(*v))
            .collect()
    }

    fn has_needed(&self, n: &str) -> Result<bool> {
        Ok(self.strings_of(DT_NEEDED)?.iter().any(|s| s == n))
    }

    /// Sets RUNPATH (or RPATH), dropping the other kind: in place when the new value is not
    /// longer than the old one (paths are never shared with other strings), else appended.
    fn set_rpath(&mut self, tag: u64, path: &str) -> Result<()> {
        let other = if tag == DT_RUNPATH {
            DT_RPATH
        } else {
            DT_RUNPATH
        };
        let existing = self
            .dynamic
            .iter()
            .position(|(t, _, _)| *t == tag || *t == other);
        let Some(i) = existing else {
            let off = self.add_string(path)?;
            let at = self.after_needed();
            self.dynamic.insert(at, (tag, off, None));
            return Ok(());
        };
        let off = self.dynamic[i].1;
        let old_len = self.string_at(off)?.len();
        if path.len() <= old_len && off < self.elf.str_size as u64 && !path.as_bytes().contains(&0)
        {
            let s = off as usize;
            self.strtab[s..s + old_len].fill(0);
            self.strtab[s..s + path.len()].copy_from_slice(path.as_bytes());
        } else {
            self.dynamic[i].1 = self.add_string(path)?;
        }
        self.dynamic[i].0 = tag;
        self.dynamic.retain(|(t, _, _)| *t != other);
        Ok(())
    }

    fn replace_needed(&mut self, old: &str, new: &str) -> Result<()> {
        let strs: Vec<String> = self
            .dynamic
            .iter()
            .map(|(t, v, _)| {
                if *t == DT_NEEDED {
                    self.string_at(*v)
                } else {
                    Ok(String::new())
                }
            })
            .collect::<Result<_>>()?;
        if !strs
            .iter()
            .zip(&self.dynamic)
            .any(|(s, (t, _, _))| *t == DT_NEEDED && s == old)
        {
            return Err(self.missing_needed(old, "--replace-needed"));
        }
        let off = self.add_string(new)?;
        for (s, entry) in strs.iter().zip(self.dynamic.iter_mut()) {
            if entry.0 == DT_NEEDED && s == old {
                entry.1 = off;
            }
        }
        self.pending_verneed.push((old.to_owned(), off));
        Ok(())
    }

    /// Lays out the result: everything that fits stays in place, the rest goes into one
    /// new loadable segment at the end of the file.
    fn finish(self) -> Result<Vec<u8>> {
        let elf = self.elf;
        let mut out = elf.data.clone();
        let grow = Growth {
            strtab: self.strtab.len() > elf.str_size,
            dynamic: self.dynamic.len() + 1 > elf.dyn_cap,
            interp: self.interp_index().filter(|&k| {
                self.interp
                    .as_ref()
                    .is_some_and(|i| i.len() as u64 + 1 > elf.phdrs[k].filesz)
            }),
        };
        if !grow.strtab {
            out[elf.str_off..elf.str_off + elf.str_size].copy_from_slice(&self.strtab);
        }
        if let (Some(i), Some(k), None) = (&self.interp, self.interp_index(), grow.interp) {
            let p = elf.phdrs[k];
            let slot = &mut out[p.offset as usize..(p.offset + p.filesz) as usize];
            slot.fill(0);
            slot[..i.len()].copy_from_slice(i.as_bytes());
        }
        let place = if grow.any() {
            self.grow(&mut out, &grow)?
        } else {
            Placement {
                dyn_off: elf.dyn_off,
                dyn_vaddr: self.dyn_vaddr(),
                dyn_cap: elf.dyn_cap,
                str_vaddr: None,
            }
        };
        let dynamic = self.final_dynamic(place.str_vaddr, place.dyn_vaddr);
        elf.write_dynamic(&mut out, place.dyn_off, place.dyn_cap, &dynamic);
        self.patch_verneed(&mut out)?;
        Ok(out)
    }

    fn interp_index(&self) -> Option<usize> {
        self.elf.phdrs.iter().position(|p| p.p_type == PT_INTERP)
    }

    /// Appends the new segment (program headers, then whatever grew) and points the
    /// program headers, section headers and ELF header at it.
    fn grow(&self, out: &mut Vec<u8>, grow: &Growth) -> Result<Placement> {
        let elf = self.elf;
        let w = elf.lay.word_size();
        let mut phdrs = elf.phdrs.clone();
        let mut seg = NewSegment::start(elf, out);
        let phdr_at = seg.reserve((phdrs.len() + 1) * elf.phentsize(), w);
        if let (Some(k), Some(i)) = (grow.interp, &self.interp) {
            let bytes = [i.as_bytes(), &[0]].concat();
            let (off, addr) = seg.put(&bytes, 1);
            phdrs[k] = moved(phdrs[k], off, addr, bytes.len() as u64);
            self.move_section(out, elf.phdrs[k].offset, off, addr, bytes.len() as u64);
        }
        let mut str_vaddr = None;
        if grow.strtab {
            let (off, addr) = seg.put(&self.strtab, 1);
            str_vaddr = Some(addr);
            self.move_section(out, elf.str_off as u64, off, addr, self.strtab.len() as u64);
        }
        let mut place = Placement {
            dyn_off: elf.dyn_off,
            dyn_vaddr: self.dyn_vaddr(),
            dyn_cap: elf.dyn_cap,
            str_vaddr,
        };
        if grow.dynamic {
            let n = self.dynamic.len() + 1;
            let size = (n * 2 * w) as u64;
            let off = seg.reserve(n * 2 * w, w);
            place.dyn_off = off as usize;
            place.dyn_vaddr = seg.vaddr_of(off);
            place.dyn_cap = n;
            for p in phdrs.iter_mut().filter(|p| p.p_type == PT_DYNAMIC) {
                *p = moved(*p, off, place.dyn_vaddr, size);
            }
            self.move_section(out, elf.dyn_off as u64, off, place.dyn_vaddr, size);
        }
        let load = seg.finish(out, grow.dynamic);
        let at = phdrs
            .iter()
            .rposition(|p| p.p_type == PT_LOAD)
            .map_or(phdrs.len(), |i| i + 1);
        phdrs.insert(at, load);
        if phdrs.len() >= 0xffff {
            return Err(elf.bad("too many program headers"));
        }
        let table_size = (phdrs.len() * elf.phentsize()) as u64;
        let table_addr = load.vaddr + (phdr_at - load.offset);
        for p in phdrs.iter_mut().filter(|p| p.p_type == PT_PHDR) {
            *p = moved(*p, phdr_at, table_addr, table_size);
        }
        elf.write_ehdr_phdrs(out, phdr_at, &phdrs);
        Ok(place)
    }

    fn dyn_vaddr(&self) -> u64 {
        self.elf
            .phdrs
            .iter()
            .find(|p| p.p_type == PT_DYNAMIC)
            .map_or(0, |p| p.vaddr)
    }

    /// The dynamic entries to write: string table moved if it grew, MIPS self-relative
    /// entries corrected for their new position.
    fn final_dynamic(&self, str_vaddr: Option<u64>, new_dyn_vaddr: u64) -> Vec<(u64, u64)> {
        let ent = 2 * self.elf.lay.word_size() as u64;
        let old_dyn_vaddr = self.dyn_vaddr();
        let mask = if self.elf.lay.is64 {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        };
        self.dynamic
            .iter()
            .enumerate()
            .map(|(i, &(t, v, orig))| match (t, orig) {
                (DT_STRTAB, _) => (t, str_vaddr.unwrap_or(v)),
                (DT_STRSZ, _) => (t, self.strtab.len() as u64),
                (DT_MIPS_RLD_MAP_REL, Some(o)) if self.elf.machine == EM_MIPS => {
                    let old_addr = old_dyn_vaddr + o as u64 * ent;
                    let new_addr = new_dyn_vaddr + i as u64 * ent;
                    (t, v.wrapping_add(old_addr).wrapping_sub(new_addr) & mask)
                }
                _ => (t, v),
            })
            .collect()
    }

    /// Points the section header that described old bytes at `old_off` at their new copy.
    fn move_section(&self, out: &mut [u8], old_off: u64, off: u64, addr: u64, size: u64) {
        let elf = self.elf;
        let w = elf.lay.word_size();
        for (i, s) in elf.shdrs.iter().enumerate() {
            if s.offset == old_off && s.sh_type != SHT_NOBITS && s.sh_type != 0 && s.addr != 0 {
                let o = elf.shoff + i * elf.shentsize;
                elf.lay.put(out, o + 8 + w, w, addr);
                elf.lay.put(out, o + 8 + 2 * w, w, off);
                elf.lay.put(out, o + 8 + 3 * w, w, size);
            }
        }
    }

    /// Version needs name their library by its DT_NEEDED string: keep them in step with
    /// `--replace-needed`, as the loader matches them by name.
    fn patch_verneed(&self, out: &mut [u8]) -> Result<()> {
        if self.pending_verneed.is_empty() {
            return Ok(());
        }
        let elf = self.elf;
        let find = |t| {
            elf.dynamic
                .iter()
                .find(|(tag, _)| *tag == t)
                .map(|(_, v)| *v)
        };
        let (Some(addr), Some(num)) = (find(DT_VERNEED), find(DT_VERNEEDNUM)) else {
            return Ok(());
        };
        let mut off = vaddr_to_offset(&elf.phdrs, addr, 16)
            .ok_or_else(|| elf.bad("DT_VERNEED is not inside any loaded part of the file"))?;
        for _ in 0..num.min(1 << 16) {
            let o = off as usize;
            let file = elf
                .lay
                .get(&elf.data, o + 4, 4)
                .ok_or_else(|| elf.bad("truncated version needs"))?;
            let name = self.string_at(file)?;
            if let Some((_, new)) = self.pending_verneed.iter().find(|(old, _)| *old == name) {
                elf.lay.put(out, o + 4, 4, *new);
            }
            let next = elf
                .lay
                .get(&elf.data, o + 12, 4)
                .ok_or_else(|| elf.bad("truncated version needs"))?;
            if next == 0 {
                break;
            }
            off += next;
        }
        Ok(())
    }
}

/// What no longer fits where it was.
struct Growth {
    strtab: bool,
    dynamic: bool,
    /// The index of PT_INTERP when the new interpreter is longer than its slot.
    interp: Option<usize>,
}

impl Growth {
    fn any(&self) -> bool {
        self.strtab || self.dynamic || self.interp.is_some()
    }
}

/// Where the dynamic array and string table end up.
struct Placement {
    dyn_off: usize,
    dyn_vaddr: u64,
    dyn_cap: usize,
    str_vaddr: Option<u64>,
}

/// `p` describing `size` bytes at a new offset and address.
fn moved(p: Phdr, offset: u64, addr: u64, size: u64) -> Phdr {
    Phdr {
        offset,
        vaddr: addr,
        paddr: addr,
        filesz: size,
        memsz: size,
        ..p
    }
}

/// The loadable segment appended for grown data, built in its own buffer.
struct NewSegment {
    offset: u64,
    vaddr: u64,
    page: u64,
    buf: Vec<u8>,
}

impl NewSegment {
    /// Starts at the end of the file (no padding) and at an address past every loaded byte
    /// that agrees with the offset modulo the page size, as mmap requires. The page size is
    /// the largest segment alignment, capped at 64 KiB (some linkers align to 2 MiB for huge
    /// pages; padding the file to that would only waste space).
    fn start(elf: &ElfFile, out: &mut Vec<u8>) -> NewSegment {
        let loads = elf.phdrs.iter().filter(|p| p.p_type == PT_LOAD);
        let page = loads
            .clone()
            .map(|p| p.align)
            .max()
            .unwrap_or(0)
            .clamp(0x1000, 0x10000);
        let end = loads
            .map(|p| p.vaddr.saturating_add(p.memsz))
            .max()
            .unwrap_or(0);
        let offset = align_up(out.len() as u64, 16);
        out.resize(offset as usize, 0);
        NewSegment {
            offset,
            vaddr: align_up(end, page) + offset % page,
            page,
            buf: Vec::new(),
        }
    }

    fn vaddr_of(&self, off: u64) -> u64 {
        self.vaddr + (off - self.offset)
    }

    /// Reserves `size` zeroed bytes (aligned) and returns their file offset.
    fn reserve(&mut self, size: usize, align: usize) -> u64 {
        let at = align_up(self.buf.len() as u64, align as u64) as usize;
        self.buf.resize(at + size, 0);
        self.offset + at as u64
    }

    /// Appends `bytes`, returning their file offset and address.
    fn put(&mut self, bytes: &[u8], align: usize) -> (u64, u64) {
        let off = self.reserve(bytes.len(), align);
        let at = (off - self.offset) as usize;
        self.buf[at..].copy_from_slice(bytes);
        (off, self.vaddr_of(off))
    }

    fn finish(self, out: &mut Vec<u8>, writable: bool) -> Phdr {
        out.extend_from_slice(&self.buf);
        let size = self.buf.len() as u64;
        Phdr {
            p_type: PT_LOAD,
            flags: if writable { PF_R | PF_W } else { PF_R },
            offset: self.offset,
            vaddr: self.vaddr,
            paddr: self.vaddr,
            filesz: size,
            memsz: size,
            align: self.page,
        }
    }
}

impl ElfFile {
    fn phentsize(&self) -> usize {
        if self.lay.is64 { 56 } else { 32 }
    }

    fn write_ehdr_phdrs(&self, out: &mut [u8], phoff: u64, phdrs: &[Phdr]) {
        let (lay, w) = (self.lay, self.lay.word_size());
        lay.put(out, 24 + w, w, phoff);
        lay.put(out, 24 + 3 * w + 4 + 4, 2, phdrs.len() as u64);
        for (i, p) in phdrs.iter().enumerate() {
            let o = phoff as usize + i * self.phentsize();
            let fields: [(usize, usize, u64); 8] = if lay.is64 {
                [
                    (0, 4, p.p_type.into()),
                    (4, 4, p.flags.into()),
                    (8, 8, p.offset),
                    (16, 8, p.vaddr),
                    (24, 8, p.paddr),
                    (32, 8, p.filesz),
                    (40, 8, p.memsz),
                    (48, 8, p.align),
                ]
            } else {
                [
                    (0, 4, p.p_type.into()),
                    (4, 4, p.offset),
                    (8, 4, p.vaddr),
                    (12, 4, p.paddr),
                    (16, 4, p.filesz),
                    (20, 4, p.memsz),
                    (24, 4, p.flags.into()),
                    (28, 4, p.align),
                ]
            };
            for (off, n, v) in fields {
                lay.put(out, o + off, n, v);
            }
        }
    }

    /// Writes the dynamic array at `off`, padding its `cap` slots with DT_NULL.
    fn write_dynamic(&self, out: &mut [u8], off: usize, cap: usize, entries: &[(u64, u64)]) {
        if cap == 0 {
            return;
        }
        let w = self.lay.word_size();
        for i in 0..cap {
            let (t, v) = entries.get(i).copied().unwrap_or((DT_NULL, 0));
            self.lay.put(out, off + i * 2 * w, w, t);
            self.lay.put(out, off + i * 2 * w + w, w, v);
        }
    }
}

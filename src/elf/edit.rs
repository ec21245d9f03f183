//! patchelf-style edits of existing ELF files: RUNPATH/RPATH, DT_NEEDED, SONAME and the
//! interpreter, for any class (ELF32/ELF64) and byte order.
//!
//! Values that fit in place are written in place. Anything that must grow (a new string,
//! a longer interpreter, more dynamic entries than the section has room for) goes into one
//! new loadable segment appended to the file, as patchelf does for libraries: the program
//! header table moves there too (it needs one more entry), and `PT_PHDR`, `PT_INTERP`,
//! `PT_DYNAMIC`, the section headers and `DT_STRTAB`/`DT_STRSZ` are pointed at the new
//! copies. The old bytes stay where they are, so every existing string offset and address
//! remains valid.
//!
//! What that costs: the program header table always moves when anything grows, for
//! executables too. Linux before commit 0da1d5002745 ("fs/binfmt_elf: Fix AT_PHDR for
//! unusual ELF files", 2022-03-02; in 5.17.2 and backported to 5.16.19, 5.15.33 and
//! 5.10.110) computed a program's `AT_PHDR` from its first `PT_LOAD`, so on an older kernel
//! an executable whose table moved into the new segment gets a wrong `AT_PHDR` and the
//! dynamic loader fails to start it. Libraries are not affected (the loader maps them
//! itself). patchelf keeps the table at the start of the file whenever the sections after
//! it can be moved out of its way, and relocates it only when they cannot (NixOS/patchelf
//! PR #544, the comment in its `rewriteSectionsLibrary`); abicut never shifts existing
//! bytes, so it does not have that option.
//!
//! The file is checked by [`super::validate`] before anything is touched (every header,
//! segment and section must lie inside the file, loadable segments must not overlap, the
//! dynamic section and its string table must be mapped), so hostile input is refused with
//! a clear error. Headers are decoded and encoded with goblin's types in the file's class
//! and byte order.

use super::arch;
use super::validate::{self, vaddr_to_offset};
use crate::error::{Error, Result};
use goblin::container::Ctx;
use goblin::elf::dynamic::{
    DT_NEEDED, DT_NULL, DT_RPATH, DT_RUNPATH, DT_SONAME, DT_STRSZ, DT_STRTAB, DT_VERNEED,
    DT_VERNEEDNUM, Dyn,
};
use goblin::elf::header::Header;
use goblin::elf::program_header::{
    PF_R, PF_W, PT_DYNAMIC, PT_INTERP, PT_LOAD, PT_PHDR, ProgramHeader,
};
use goblin::elf::section_header::{SHT_NOBITS, SHT_NULL, SectionHeader};
use scroll::ctx::SizeWith;
use scroll::{Pread, Pwrite};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Offsets of `vn_file` and `vn_next` in an `Elf32_Verneed`/`Elf64_Verneed` (the same in
/// both classes; goblin keeps its raw version-need type private).
const VN_FILE: usize = 4;
const VN_NEXT: usize = 12;

/// An ELF file parsed for editing, with its bytes.
pub struct ElfFile {
    path: PathBuf,
    data: Vec<u8>,
    ctx: Ctx,
    header: Header,
    phdrs: Vec<ProgramHeader>,
    shdrs: Vec<SectionHeader>,
    /// File offset and capacity (entries) of the dynamic array, if the file has one.
    dyn_off: usize,
    dyn_cap: usize,
    dynamic: Vec<Dyn>,
    /// File offset and size of the dynamic string table.
    str_off: usize,
    str_size: usize,
    /// The string offsets the symbol and version records name ([`super::deps`]), or
    /// `None` when `verify`'s reader cannot read the file: then no string is known to be
    /// unshared, and none is rewritten in place.
    named_strings: Option<Vec<u64>>,
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
        let h = validate::check(path, &data)?;
        let dynamic = h.dynamic.unwrap_or_default();
        let deps = super::deps::read(path, &data).ok();
        // Strings past DT_STRSZ that ld.so still reads must move with the table.
        let str_size = strings_end(
            &data,
            dynamic.strtab,
            deps.as_ref().map_or(0, |d| d.strings_end),
        );
        Ok(ElfFile {
            path: path.to_path_buf(),
            data,
            ctx: h.ctx,
            header: h.header,
            phdrs: h.phdrs,
            shdrs: h.shdrs,
            dyn_off: dynamic.offset,
            dyn_cap: dynamic.capacity,
            dynamic: dynamic.entries,
            str_off: dynamic.strtab.0,
            str_size,
            named_strings: deps.map(|d| d.named_strings),
        })
    }

    /// How many bytes of PT_INTERP `k` a new interpreter may be written over in place: the
    /// old name and its NUL, within `p_filesz` and the file, and none where they would
    /// overlap the ELF or program or section headers (the fuzz target `elf_edit` found a
    /// PT_INTERP at offset 0, over which a new name overwrote the ELF magic). A name that
    /// does not fit goes into the new segment, and the old bytes stay.
    fn interp_room(&self, k: usize) -> u64 {
        let p = &self.phdrs[k];
        let (Ok(start), Ok(size)) = (usize::try_from(p.p_offset), usize::try_from(p.p_filesz))
        else {
            return 0;
        };
        let end = start.saturating_add(size).min(self.data.len());
        let Some(bytes) = self.data.get(start..end) else {
            return 0;
        };
        let room = memchr::memchr(0, bytes).map_or(bytes.len(), |n| n + 1);
        let h = &self.header;
        let tables = [
            (0, u64::from(h.e_ehsize)),
            (h.e_phoff, u64::from(h.e_phnum) * u64::from(h.e_phentsize)),
            (h.e_shoff, u64::from(h.e_shnum) * u64::from(h.e_shentsize)),
        ];
        let (from, to) = (start as u64, (start + room) as u64);
        let overlaps = tables
            .iter()
            .any(|&(at, len)| len > 0 && from < at.saturating_add(len) && at < to);
        if overlaps { 0 } else { room as u64 }
    }

    fn bad(&self, reason: impl Into<String>) -> Error {
        Error::invalid(&self.path, reason)
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
            .filter(|d| d.d_tag == tag)
            .map(|d| self.string(d.d_val))
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
        // Inside the file: every segment was checked by `validate`.
        let bytes = &self.data[p.p_offset as usize..(p.p_offset + p.p_filesz) as usize];
        let len = memchr::memchr(0, bytes).unwrap_or(bytes.len());
        Ok(Some(String::from_utf8_lossy(&bytes[..len]).into_owned()))
    }

    /// Applies `edits` and returns the new file bytes (the file on disk is untouched).
    pub fn edit(&self, edits: &[Edit]) -> Result<Vec<u8>> {
        let mut pending = Pending::new(self);
        for e in edits {
            pending.apply(e)?;
        }
        pending.finish()
    }
}

/// Applies `edits` to the file at `path` in place, keeping its mode.
pub fn edit_file(path: &Path, edits: &[Edit]) -> Result<()> {
    edit_to(path, path, edits)
}

/// Applies `edits` to `input` and writes the result to `output` atomically, with `input`'s
/// mode (an edited program stays executable), set before the rename. Edited in place
/// through a symlink (`lib/libfoo.so -> libfoo.so.1`), the file it leads to is edited and
/// the link stays a link, as with patchelf: renaming over the link would turn it into a
/// second copy.
pub fn edit_to(input: &Path, output: &Path, edits: &[Edit]) -> Result<()> {
    let out = ElfFile::read(input)?.edit(edits)?;
    let mode = std::fs::metadata(input)
        .map_err(|e| Error::io(input, e))?
        .permissions()
        .mode();
    let target;
    let output = if output == input {
        target = std::fs::canonicalize(input).map_err(|e| Error::io(input, e))?;
        &target
    } else {
        output
    };
    crate::fsx::write_atomic_mode(output, &out, mode)
}

/// How much of the dynamic string table at `(offset, size)` the file uses: at least
/// `DT_STRSZ`, and as far as its strings reach, within the file.
fn strings_end(data: &[u8], (offset, size): (usize, usize), used: u64) -> usize {
    let used = usize::try_from(used).unwrap_or(usize::MAX);
    size.max(used).min(data.len().saturating_sub(offset))
}

/// Whether a dynamic entry's value is an offset into the dynamic string table.
fn is_string_tag(tag: u64) -> bool {
    /// `DT_AUXILIARY`, `DT_FILTER`, `DT_CONFIG`, `DT_DEPAUDIT`, `DT_AUDIT` (filters and
    /// audit libraries; goblin names none of them).
    const MORE: [u64; 5] = [
        0x7fff_fffd,
        0x7fff_ffff,
        0x6fff_fefa,
        0x6fff_fefb,
        0x6fff_fefc,
    ];
    matches!(tag, DT_NEEDED | DT_SONAME | DT_RPATH | DT_RUNPATH) || MORE.contains(&tag)
}

/// The largest power of two not above `v` (0 for 0).
fn power_of_two_at_most(v: u64) -> u64 {
    v.checked_ilog2().map_or(0, |bits| 1 << bits)
}

fn align_up(v: u64, a: u64) -> u64 {
    v.div_ceil(a.max(1)) * a.max(1)
}

/// One dynamic entry to write, with the index it had (for MIPS self-relative entries),
/// `None` if it is new.
#[derive(Clone, Copy, Debug)]
struct Entry {
    tag: u64,
    val: u64,
    orig: Option<usize>,
}

impl Entry {
    fn new(tag: u64, val: u64) -> Entry {
        Entry {
            tag,
            val,
            orig: None,
        }
    }
}

/// Changes to one file, not yet written.
struct Pending<'a> {
    elf: &'a ElfFile,
    /// Copy of the old string table bytes (in-place edits) plus appended strings.
    strtab: Vec<u8>,
    dynamic: Vec<Entry>,
    interp: Option<String>,
    /// DT_NEEDED names replaced, and the offset of their new name, for version needs.
    pending_verneed: Vec<(String, u64)>,
}

impl<'a> Pending<'a> {
    fn new(elf: &'a ElfFile) -> Pending<'a> {
        Pending {
            elf,
            strtab: elf.data[elf.str_off..elf.str_off + elf.str_size].to_vec(),
            dynamic: elf
                .dynamic
                .iter()
                .enumerate()
                .map(|(i, d)| Entry {
                    tag: d.d_tag,
                    val: d.d_val,
                    orig: Some(i),
                })
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
        if !matches!(e, Edit::SetInterpreter(_)) {
            self.need_dynamic()?;
        }
        match e {
            Edit::SetInterpreter(i) => self.set_interpreter(i),
            Edit::SetRpath(p) => self.set_rpath(DT_RUNPATH, p),
            Edit::SetOldRpath(p) => self.set_rpath(DT_RPATH, p),
            Edit::RemoveRpath => {
                self.dynamic
                    .retain(|d| d.tag != DT_RPATH && d.tag != DT_RUNPATH);
                Ok(())
            }
            Edit::ReplaceNeeded(old, new) => self.replace_needed(old, new),
            Edit::AddNeeded(n) => self.add_needed(n),
            Edit::RemoveNeeded(n) => self.remove_needed(n),
            Edit::SetSoname(so) => self.set_soname(so),
        }
    }

    fn set_interpreter(&mut self, interp: &str) -> Result<()> {
        if self.interp_index().is_none() {
            return Err(self
                .elf
                .bad("no PT_INTERP: not a dynamically linked executable"));
        }
        self.interp = Some(interp.to_owned());
        Ok(())
    }

    /// New entries go after the last DT_NEEDED, so existing ones keep their search order.
    fn after_needed(&self) -> usize {
        self.dynamic
            .iter()
            .rposition(|d| d.tag == DT_NEEDED)
            .map_or(0, |i| i + 1)
    }

    fn add_needed(&mut self, name: &str) -> Result<()> {
        if self.has_needed(name)? {
            return Ok(());
        }
        let off = self.add_string(name)?;
        let at = self.after_needed();
        self.dynamic.insert(at, Entry::new(DT_NEEDED, off));
        Ok(())
    }

    /// Refuses a name the file does not need: patchelf only warns, but a build tool that
    /// quietly does nothing hides a relink that no longer does what it was written for.
    fn missing_needed(&self, name: &str, action: &str) -> Error {
        self.elf
            .bad(format!("no DT_NEEDED entry {name} to {action}"))
    }

    fn remove_needed(&mut self, name: &str) -> Result<()> {
        let names = self.strings_of(DT_NEEDED)?;
        if !names.iter().any(|n| n == name) {
            return Err(self.missing_needed(name, "remove"));
        }
        let mut i = 0;
        self.dynamic.retain(|d| {
            if d.tag != DT_NEEDED {
                return true;
            }
            i += 1;
            names.get(i - 1).is_none_or(|s| s != name)
        });
        Ok(())
    }

    fn set_soname(&mut self, soname: &str) -> Result<()> {
        let off = self.add_string(soname)?;
        match self.dynamic.iter_mut().find(|d| d.tag == DT_SONAME) {
            Some(entry) => entry.val = off,
            None => self.dynamic.insert(0, Entry::new(DT_SONAME, off)),
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
            .filter(|d| d.tag == tag)
            .map(|d| self.string_at(d.val))
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
            .position(|d| d.tag == tag || d.tag == other);
        let Some(i) = existing else {
            let off = self.add_string(path)?;
            let at = self.after_needed();
            self.dynamic.insert(at, Entry::new(tag, off));
            return Ok(());
        };
        let off = self.dynamic[i].val;
        let old_len = self.string_at(off)?.len();
        if path.len() <= old_len
            && off < self.elf.str_size as u64
            && !path.as_bytes().contains(&0)
            && !self.shared(off, old_len as u64)
        {
            let s = off as usize;
            self.strtab[s..s + old_len].fill(0);
            self.strtab[s..s + path.len()].copy_from_slice(path.as_bytes());
        } else {
            self.dynamic[i].val = self.add_string(path)?;
        }
        self.dynamic[i].tag = tag;
        self.dynamic.retain(|d| d.tag != other);
        Ok(())
    }

    /// Whether another string shares the `len` bytes at string offset `off` (below the
    /// table's size), the old value of a run path: another dynamic entry's (a soname or a
    /// needed name at the same offset, one merged into its tail, or one it is the tail of,
    /// as linkers merge strings), or one a symbol or version record names. Such bytes
    /// cannot be rewritten in place; the new run path is appended and the old one left for
    /// the others. Unknown (the file's symbols could not be read) counts as shared.
    fn shared(&self, off: u64, len: u64) -> bool {
        let inside = |o: u64| {
            if o >= off {
                o - off < len
            } else {
                // A string starting before `off` reaches it unless a NUL ends it first
                // (`o < off`, and `off` is inside the table).
                memchr::memchr(0, &self.strtab[o as usize..off as usize]).is_none()
            }
        };
        let Some(named) = &self.elf.named_strings else {
            return true;
        };
        named.iter().any(|&o| inside(o))
            || self.dynamic.iter().any(|d| {
                is_string_tag(d.tag) && d.tag != DT_RPATH && d.tag != DT_RUNPATH && inside(d.val)
            })
    }

    fn replace_needed(&mut self, old: &str, new: &str) -> Result<()> {
        let strs: Vec<String> = self
            .dynamic
            .iter()
            .map(|d| {
                if d.tag == DT_NEEDED {
                    self.string_at(d.val)
                } else {
                    Ok(String::new())
                }
            })
            .collect::<Result<_>>()?;
        if !strs
            .iter()
            .zip(&self.dynamic)
            .any(|(s, d)| d.tag == DT_NEEDED && s == old)
        {
            return Err(self.missing_needed(old, "replace"));
        }
        let off = self.add_string(new)?;
        for (s, entry) in strs.iter().zip(self.dynamic.iter_mut()) {
            if entry.tag == DT_NEEDED && s == old {
                entry.val = off;
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
                    .is_some_and(|i| i.len() as u64 + 1 > elf.interp_room(k))
            }),
        };
        if !grow.strtab {
            out[elf.str_off..elf.str_off + elf.str_size].copy_from_slice(&self.strtab);
        }
        if let (Some(i), Some(k), None) = (&self.interp, self.interp_index(), grow.interp) {
            let start = elf.phdrs[k].p_offset as usize;
            let slot = &mut out[start..start + elf.interp_room(k) as usize];
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
        elf.write_dynamic(&mut out, place.dyn_off, place.dyn_cap, &dynamic)?;
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
        let w = elf.word_size();
        let mut phdrs = elf.phdrs.clone();
        let mut seg = NewSegment::start(elf, out)?;
        let phdr_at = seg.reserve((phdrs.len() + 1) * elf.phentsize(), w);
        if let (Some(k), Some(i)) = (grow.interp, &self.interp) {
            let bytes = [i.as_bytes(), &[0]].concat();
            let (off, addr) = seg.put(&bytes, 1);
            phdrs[k] = moved(&phdrs[k], off, addr, bytes.len() as u64);
            self.move_section(out, elf.phdrs[k].p_offset, off, addr, bytes.len() as u64)?;
        }
        let mut str_vaddr = None;
        if grow.strtab {
            let (off, addr) = seg.put(&self.strtab, 1);
            str_vaddr = Some(addr);
            self.move_section(out, elf.str_off as u64, off, addr, self.strtab.len() as u64)?;
        }
        let mut place = Placement {
            dyn_off: elf.dyn_off,
            dyn_vaddr: self.dyn_vaddr(),
            dyn_cap: elf.dyn_cap,
            str_vaddr,
        };
        if grow.dynamic {
            let n = self.dynamic.len() + 1;
            let size = n * elf.dynentsize();
            let off = seg.reserve(size, w);
            place.dyn_off = off as usize;
            place.dyn_vaddr = seg.vaddr_of(off);
            place.dyn_cap = n;
            for p in phdrs.iter_mut().filter(|p| p.p_type == PT_DYNAMIC) {
                *p = moved(p, off, place.dyn_vaddr, size as u64);
            }
            self.move_section(out, elf.dyn_off as u64, off, place.dyn_vaddr, size as u64)?;
        }
        let load = seg.finish(elf, out, grow.dynamic)?;
        let table_addr = load.p_vaddr + (phdr_at - load.p_offset);
        let at = phdrs
            .iter()
            .rposition(|p| p.p_type == PT_LOAD)
            .map_or(phdrs.len(), |i| i + 1);
        phdrs.insert(at, load);
        if phdrs.len() >= 0xffff {
            return Err(elf.bad("too many program headers"));
        }
        let table_size = (phdrs.len() * elf.phentsize()) as u64;
        for p in phdrs.iter_mut().filter(|p| p.p_type == PT_PHDR) {
            *p = moved(p, phdr_at, table_addr, table_size);
        }
        elf.write_ehdr_phdrs(out, phdr_at, &phdrs)?;
        Ok(place)
    }

    fn dyn_vaddr(&self) -> u64 {
        self.elf
            .phdrs
            .iter()
            .find(|p| p.p_type == PT_DYNAMIC)
            .map_or(0, |p| p.p_vaddr)
    }

    /// The dynamic entries to write: string table moved if it grew, self-relative entries
    /// ([`arch::is_self_relative`]) corrected for their new position.
    fn final_dynamic(&self, str_vaddr: Option<u64>, new_dyn_vaddr: u64) -> Vec<Dyn> {
        let elf = self.elf;
        let ent = elf.dynentsize() as u64;
        let old_dyn_vaddr = self.dyn_vaddr();
        let mask = if elf.word_size() == 8 {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        };
        let machine = elf.header.e_machine;
        let value = |i: usize, d: &Entry| match (d.tag, d.orig) {
            (DT_STRTAB, _) => str_vaddr.unwrap_or(d.val),
            (DT_STRSZ, _) => self.strtab.len() as u64,
            (tag, Some(o)) if arch::is_self_relative(machine, tag) => {
                // Addresses wrap as the target's address arithmetic does.
                let old_addr = old_dyn_vaddr.wrapping_add((o as u64).wrapping_mul(ent));
                let new_addr = new_dyn_vaddr.wrapping_add((i as u64).wrapping_mul(ent));
                d.val.wrapping_add(old_addr).wrapping_sub(new_addr) & mask
            }
            _ => d.val,
        };
        self.dynamic
            .iter()
            .enumerate()
            .map(|(i, d)| Dyn {
                d_tag: d.tag,
                d_val: value(i, d),
            })
            .collect()
    }

    /// Points the section header that described old bytes at `old_off` at their new copy.
    fn move_section(
        &self,
        out: &mut [u8],
        old_off: u64,
        off: u64,
        addr: u64,
        size: u64,
    ) -> Result<()> {
        let elf = self.elf;
        let entsize = SectionHeader::size_with(&elf.ctx) as u64;
        for (i, s) in elf.shdrs.iter().enumerate() {
            if s.sh_offset == old_off
                && s.sh_type != SHT_NOBITS
                && s.sh_type != SHT_NULL
                && s.sh_addr != 0
            {
                let at = elf.header.e_shoff + i as u64 * entsize;
                let updated = SectionHeader {
                    sh_addr: addr,
                    sh_offset: off,
                    sh_size: size,
                    ..s.clone()
                };
                elf.encode(out, "section header", updated, at)?;
            }
        }
        Ok(())
    }

    /// Version needs name their library by its DT_NEEDED string: keep them in step with
    /// `--replace-needed`, as the loader matches them by name.
    fn patch_verneed(&self, out: &mut [u8]) -> Result<()> {
        if self.pending_verneed.is_empty() {
            return Ok(());
        }
        let elf = self.elf;
        let find = |t| elf.dynamic.iter().find(|d| d.d_tag == t).map(|d| d.d_val);
        let (Some(addr), Some(num)) = (find(DT_VERNEED), find(DT_VERNEEDNUM)) else {
            return Ok(());
        };
        let mut off = vaddr_to_offset(&elf.phdrs, addr, 16)
            .ok_or_else(|| elf.bad("DT_VERNEED is not inside any loaded part of the file"))?;
        let word = |at: u64| -> Result<u32> {
            usize::try_from(at)
                .ok()
                .and_then(|at| elf.data.pread_with::<u32>(at, elf.ctx.le).ok())
                .ok_or_else(|| elf.bad("truncated version needs"))
        };
        for _ in 0..num.min(1 << 16) {
            let file = word(off + VN_FILE as u64)?;
            let name = self.string_at(u64::from(file))?;
            if let Some((_, new)) = self.pending_verneed.iter().find(|(old, _)| *old == name) {
                // The new name was appended to a string table of 32-bit offsets.
                let new = u32::try_from(*new)
                    .map_err(|_| elf.bad("dynamic string table larger than 4 GiB"))?;
                let at = (off as usize) + VN_FILE;
                out.pwrite_with(new, at, elf.ctx.le)
                    .map_err(|e| elf.bad(format!("cannot write a version need: {e}")))?;
            }
            let next = word(off + VN_NEXT as u64)?;
            if next == 0 {
                break;
            }
            off += u64::from(next);
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
fn moved(p: &ProgramHeader, offset: u64, addr: u64, size: u64) -> ProgramHeader {
    ProgramHeader {
        p_offset: offset,
        p_vaddr: addr,
        p_paddr: addr,
        p_filesz: size,
        p_memsz: size,
        ..p.clone()
    }
}

/// The loadable segment appended for grown data, built in its own buffer.
struct NewSegment {
    offset: u64,
    vaddr: u64,
    page: u64,
    /// The highest address the segment may reach.
    limit: u64,
    buf: Vec<u8>,
}

impl NewSegment {
    /// Starts at the end of the file (no padding) and at an address past every loaded byte
    /// that agrees with the offset modulo the page size, as mmap requires. The page size is
    /// the largest power of two not above the largest segment alignment, between 4 and 64
    /// KiB (some linkers align to 2 MiB for huge pages; padding the file to that would only
    /// waste space). ld.so loads files whose `p_align` is no power of two (0x1001), but a
    /// segment placed modulo such a value would not be page-aligned.
    fn start(elf: &ElfFile, out: &mut Vec<u8>) -> Result<NewSegment> {
        let loads = elf.phdrs.iter().filter(|p| p.p_type == PT_LOAD);
        let largest = loads.clone().map(|p| p.p_align).max().unwrap_or(0);
        let page = power_of_two_at_most(largest).clamp(0x1000, 0x10000);
        // `validate` refused loads that wrap around, so no end overflows.
        let end = loads
            .map(|p| p.p_vaddr + p.p_memsz.max(p.p_filesz))
            .max()
            .unwrap_or(0);
        let offset = align_up(out.len() as u64, 16);
        // ELF32 addresses are 32 bits; ELF64 user space is the lower half of the address
        // space on every Linux architecture.
        let limit = if elf.word_size() == 8 {
            1 << 63
        } else {
            u64::from(u32::MAX)
        };
        let vaddr = Some(end)
            .filter(|&e| e <= limit)
            .map(|e| align_up(e, page) + offset % page)
            .filter(|&v| v <= limit)
            .ok_or_else(|| {
                elf.bad(format!(
                    "no address space left for a new segment after {end:#x}"
                ))
            })?;
        out.resize(offset as usize, 0);
        Ok(NewSegment {
            offset,
            vaddr,
            page,
            limit,
            buf: Vec::new(),
        })
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

    fn finish(self, elf: &ElfFile, out: &mut Vec<u8>, writable: bool) -> Result<ProgramHeader> {
        let size = self.buf.len() as u64;
        if size > self.limit - self.vaddr {
            return Err(elf.bad(format!(
                "no address space left for a new segment of {size:#x} bytes at {:#x}",
                self.vaddr
            )));
        }
        out.extend_from_slice(&self.buf);
        Ok(ProgramHeader {
            p_type: PT_LOAD,
            p_flags: if writable { PF_R | PF_W } else { PF_R },
            p_offset: self.offset,
            p_vaddr: self.vaddr,
            p_paddr: self.vaddr,
            p_filesz: size,
            p_memsz: size,
            p_align: self.page,
        })
    }
}

/// Encoding, in the file's class and byte order.
impl ElfFile {
    fn word_size(&self) -> usize {
        if self.ctx.is_big() { 8 } else { 4 }
    }

    fn phentsize(&self) -> usize {
        ProgramHeader::size_with(&self.ctx)
    }

    fn dynentsize(&self) -> usize {
        Dyn::size_with(&self.ctx)
    }

    /// Writes `value` at `off` in `out`, which holds the place (a copy of the checked file,
    /// or the new segment appended to it).
    fn encode<T>(&self, out: &mut [u8], what: &str, value: T, off: u64) -> Result<()>
    where
        T: scroll::ctx::TryIntoCtx<Ctx, Error = goblin::error::Error>,
    {
        usize::try_from(off)
            .ok()
            .and_then(|at| out.pwrite_with(value, at, self.ctx).ok())
            .map(|_| ())
            .ok_or_else(|| self.bad(format!("cannot write the {what} at {off:#x}")))
    }

    /// Points the ELF header at the program header table written at `phoff`.
    fn write_ehdr_phdrs(&self, out: &mut [u8], phoff: u64, phdrs: &[ProgramHeader]) -> Result<()> {
        let header = Header {
            e_phoff: phoff,
            e_phnum: phdrs.len() as u16,
            ..self.header
        };
        out.pwrite_with(header, 0, self.ctx.le)
            .map_err(|e| self.bad(format!("cannot write the ELF header: {e}")))?;
        let entsize = self.phentsize() as u64;
        for (i, p) in phdrs.iter().enumerate() {
            self.encode(out, "program header", p.clone(), phoff + i as u64 * entsize)?;
        }
        Ok(())
    }

    /// Writes the dynamic array at `off`, padding its `cap` slots with DT_NULL.
    fn write_dynamic(&self, out: &mut [u8], off: usize, cap: usize, entries: &[Dyn]) -> Result<()> {
        let entsize = self.dynentsize();
        for i in 0..cap {
            let d = entries.get(i).cloned().unwrap_or(Dyn {
                d_tag: DT_NULL,
                d_val: 0,
            });
            self.encode(out, "dynamic entry", d, (off + i * entsize) as u64)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `libz` with a RUNPATH whose string is the soname's, or a tail of it, as a linker
    /// that merges strings may leave it.
    fn sharing(runpath_into_soname: u64) -> ElfFile {
        let path = Path::new("/usr/lib/x86_64-linux-gnu/libz.so.1");
        let libz = ElfFile::read(path).unwrap();
        let grown = libz
            .edit(&[Edit::SetRpath("/some/run/path".into())])
            .unwrap();
        let mut elf = ElfFile::parse(path, grown).unwrap();
        let soname = elf.dynamic.iter().find(|d| d.d_tag == DT_SONAME).unwrap();
        let soname = soname.d_val;
        let i = elf
            .dynamic
            .iter()
            .position(|d| d.d_tag == DT_RUNPATH)
            .unwrap();
        // ELF64 little-endian: d_val is the second 8 bytes of the 16-byte entry.
        let at = elf.dyn_off + 16 * i + 8;
        let val = soname + runpath_into_soname;
        elf.data[at..at + 8].copy_from_slice(&val.to_le_bytes());
        ElfFile::parse(path, elf.data).unwrap()
    }

    /// Found by the `elf_edit` fuzz target: a shorter RUNPATH was written over the old one's
    /// bytes even when the soname (or another string) shared them, so `elf --set-rpath /x`
    /// also renamed the library to `/x`. Shared bytes are now left alone and the new value
    /// appended.
    #[test]
    fn set_rpath_keeps_a_string_that_shares_its_bytes() {
        for (into, old_rpath) in [(0, "libz.so.1"), (3, "z.so.1")] {
            let elf = sharing(into);
            assert_eq!(elf.rpath().unwrap().as_deref(), Some(old_rpath));
            assert_eq!(elf.soname().unwrap().as_deref(), Some("libz.so.1"));
            let out = elf.edit(&[Edit::SetRpath("/x".into())]).unwrap();
            let out = ElfFile::parse(Path::new("out"), out).unwrap();
            assert_eq!(out.rpath().unwrap().as_deref(), Some("/x"));
            assert_eq!(out.soname().unwrap().as_deref(), Some("libz.so.1"));
        }
        // Unshared, a shorter value is still written in place (the old one cleared, so that
        // no stale store path stays in the file): the string table does not grow.
        let path = Path::new("/usr/lib/x86_64-linux-gnu/libz.so.1");
        let libz = ElfFile::read(path).unwrap();
        let grown = libz
            .edit(&[Edit::SetRpath("/some/run/path".into())])
            .unwrap();
        let elf = ElfFile::parse(path, grown).unwrap();
        let out = elf.edit(&[Edit::SetRpath("/x".into())]).unwrap();
        assert_eq!(out.len(), elf.data.len());
        let out = ElfFile::parse(path, out).unwrap();
        assert_eq!(out.rpath().unwrap().as_deref(), Some("/x"));
    }
}

//! The structural check every ELF file passes before [`super::deps`] reads it or
//! [`super::edit`] changes it: the ELF header, every program header, the segments the
//! kernel and ld.so read by file offset (`PT_LOAD`, `PT_INTERP`), every section header and
//! section, the dynamic array (read at its address, as ld.so reads it) and the dynamic
//! string table must lie inside the file; loadable segments must neither wrap around the
//! address space nor overlap; a dynamic section with entries must have a mapped string
//! table. A file meant to be loaded must also pass what ld.so checks before it reads on
//! ([`loadable`]). Headers are decoded with goblin's types, in the file's class and byte
//! order, so nothing here counts bytes.
//!
//! Hostile input is an error that names the file and the cause, never a panic: whoever
//! reads on relies on these bounds.

use crate::error::{Error, Malformed, Result};
use goblin::container::Ctx;
use goblin::elf::dynamic::{DT_NULL, DT_STRSZ, DT_STRTAB, Dyn};
use goblin::elf::header::{self, Header};
use goblin::elf::program_header::{PT_DYNAMIC, PT_INTERP, PT_LOAD, ProgramHeader};
use goblin::elf::section_header::{SHT_NOBITS, SHT_NULL, SectionHeader};
use scroll::Pread;
use scroll::ctx::SizeWith;
use std::path::Path;

/// The headers of an ELF file that passed the check, decoded.
#[derive(Debug)]
pub struct Headers {
    /// Class and byte order, for decoding and encoding anything else in the file.
    pub ctx: Ctx,
    pub header: Header,
    pub phdrs: Vec<ProgramHeader>,
    pub shdrs: Vec<SectionHeader>,
    /// The dynamic array, when the file has a `PT_DYNAMIC`.
    pub dynamic: Option<Dynamic>,
}

/// Where the dynamic array is and what it holds.
#[derive(Debug, Default)]
pub struct Dynamic {
    /// File offset of the array.
    pub offset: usize,
    /// How many entries `PT_DYNAMIC` has room for.
    pub capacity: usize,
    /// The entries before the first `DT_NULL`.
    pub entries: Vec<Dyn>,
    /// File offset and size of the dynamic string table (0, 0 when there are no entries).
    pub strtab: (usize, usize),
}

impl Dynamic {
    /// Bounds the room an editor may rewrite to what lies before the next thing in the file
    /// (a section, the string table), keeping at least the entries and their `DT_NULL`.
    /// `p_filesz` says how much room there is, but ld.so never reads it: the fuzz target
    /// `elf_edit` found a damaged file whose `p_filesz` reached past `.dynstr`, and removing
    /// an RPATH cleared the string table with `DT_NULL`s.
    fn stop_before(&mut self, starts: impl Iterator<Item = usize>, entsize: usize) {
        let floor = self.entries.len() + 1;
        for start in starts.filter(|&s| s > self.offset) {
            let room = (start - self.offset) / entsize.max(1);
            self.capacity = self.capacity.min(room.max(floor));
        }
    }

    /// The value of the first entry tagged `tag`.
    pub fn get(&self, tag: u64) -> Option<u64> {
        self.entries
            .iter()
            .find(|d| d.d_tag == tag)
            .map(|d| d.d_val)
    }
}

/// Checks `bytes` (the content of `path`) and returns its decoded headers.
pub fn check(path: &Path, bytes: &[u8]) -> Result<Headers> {
    Checker { path, bytes }.check()
}

struct Checker<'a> {
    path: &'a Path,
    bytes: &'a [u8],
}

impl Checker<'_> {
    fn bad(&self, reason: impl Into<String>) -> Error {
        Error::invalid(self.path, reason)
    }

    /// `size` bytes at `off` must lie inside the file.
    fn range(&self, what: &str, off: u64, size: u64) -> Result<()> {
        match off.checked_add(size) {
            Some(end) if end <= self.bytes.len() as u64 => Ok(()),
            _ => Err(self.bad(format!(
                "{what} at {off:#x}+{size:#x} extends past the end of the file ({:#x} bytes): truncated or corrupt",
                self.bytes.len()
            ))),
        }
    }

    /// Decodes one `T` at `off`, which a `range` check has already put inside the file.
    fn decode<'b, T>(&'b self, what: &str, off: u64, ctx: Ctx) -> Result<T>
    where
        T: scroll::ctx::TryFromCtx<'b, Ctx, Error = goblin::error::Error>,
    {
        let at = usize::try_from(off).map_err(|_| self.bad(format!("{what}: bad offset")))?;
        self.bytes
            .pread_with(at, ctx)
            .map_err(|e| self.bad(format!("corrupt {what}: {e}")))
    }

    fn check(&self) -> Result<Headers> {
        let (header, ctx) = super::header(self.bytes).map_err(|r| Error::at(self.path, r))?;
        let phdrs = self.phdrs(&header, ctx)?;
        let shdrs = self.shdrs(&header, ctx)?;
        check_loads(&phdrs).map_err(|r| Error::at(self.path, r))?;
        loadable(self.bytes, &header, &phdrs).map_err(|r| Error::at(self.path, r))?;
        let mut dynamic = self.dynamic(&phdrs, ctx, header.e_machine)?;
        if let Some(d) = &mut dynamic {
            let sections = shdrs
                .iter()
                .filter(|s| s.sh_type != SHT_NOBITS && s.sh_size > 0)
                .filter_map(|s| usize::try_from(s.sh_offset).ok());
            d.stop_before(sections.chain([d.strtab.0]), Dyn::size_with(&ctx));
        }
        Ok(Headers {
            ctx,
            header,
            phdrs,
            shdrs,
            dynamic,
        })
    }

    /// A header table of `num` entries of `entsize` bytes (`want` for this class) at `off`.
    fn table(&self, what: &str, off: u64, entsize: u16, num: u16, want: usize) -> Result<()> {
        if usize::from(entsize) != want {
            return Err(self.bad(format!("{what} entry size {entsize}, expected {want}")));
        }
        let size = u64::from(entsize) * u64::from(num);
        self.range(&format!("{what} table"), off, size)
    }

    fn phdrs(&self, h: &Header, ctx: Ctx) -> Result<Vec<ProgramHeader>> {
        if h.e_phnum == 0 {
            return Ok(Vec::new());
        }
        let want = ProgramHeader::size_with(&ctx);
        self.table("program header", h.e_phoff, h.e_phentsize, h.e_phnum, want)?;
        (0..u64::from(h.e_phnum))
            .map(|i| {
                let p: ProgramHeader =
                    self.decode("program header", h.e_phoff + i * want as u64, ctx)?;
                // What the kernel and ld.so map or read by file offset; the others are read
                // by address, inside these.
                if matches!(p.p_type, PT_LOAD | PT_INTERP) {
                    self.range(&format!("segment {i}"), p.p_offset, p.p_filesz)?;
                }
                Ok(p)
            })
            .collect()
    }

    fn shdrs(&self, h: &Header, ctx: Ctx) -> Result<Vec<SectionHeader>> {
        if h.e_shoff == 0 || h.e_shnum == 0 {
            return Ok(Vec::new());
        }
        let want = SectionHeader::size_with(&ctx);
        self.table("section header", h.e_shoff, h.e_shentsize, h.e_shnum, want)?;
        (0..u64::from(h.e_shnum))
            .map(|i| {
                let s: SectionHeader =
                    self.decode("section header", h.e_shoff + i * want as u64, ctx)?;
                if s.sh_type != SHT_NOBITS && s.sh_type != SHT_NULL {
                    self.range(&format!("section {i}"), s.sh_offset, s.sh_size)?;
                }
                Ok(s)
            })
            .collect()
    }

    fn dynamic(&self, phdrs: &[ProgramHeader], ctx: Ctx, machine: u16) -> Result<Option<Dynamic>> {
        let Some(p) = phdrs.iter().find(|p| p.p_type == PT_DYNAMIC) else {
            return Ok(None);
        };
        // ld.so reads the array at its address, whatever `p_offset` says; the editor writes
        // it back there.
        let (at, end) = span(phdrs, p.p_vaddr).ok_or_else(|| {
            self.bad(format!(
                "PT_DYNAMIC at {:#x} is not inside any loaded part of the file",
                p.p_vaddr
            ))
        })?;
        self.range("dynamic section", at, end - at)?;
        let ent = Dyn::size_with(&ctx) as u64;
        let capacity = (p.p_filesz / ent).min((end - at) / ent);
        let mut entries = Vec::new();
        for i in 0..capacity {
            let d: Dyn = self.decode("dynamic entry", at + i * ent, ctx)?;
            if d.d_tag == DT_NULL {
                break;
            }
            entries.push(d);
        }
        let mut dynamic = Dynamic {
            // Inside the file: checked above.
            offset: at as usize,
            capacity: capacity as usize,
            entries,
            strtab: (0, 0),
        };
        relocation_tables(&dynamic, ctx, machine).map_err(|r| Error::at(self.path, r))?;
        let (Some(addr), Some(size)) = (dynamic.get(DT_STRTAB), dynamic.get(DT_STRSZ)) else {
            return if dynamic.entries.is_empty() {
                Ok(Some(dynamic))
            } else {
                Err(self.bad("dynamic section without DT_STRTAB/DT_STRSZ"))
            };
        };
        // ld.so never reads DT_STRSZ: a string ends at its NUL. The table is taken as far as
        // DT_STRSZ says where that is mapped, else as far as the mapping goes.
        let (off, end) = span(phdrs, addr).ok_or_else(|| {
            self.bad(format!(
                "DT_STRTAB {addr:#x} is not inside any loaded part of the file"
            ))
        })?;
        let size = size.min(end - off);
        self.range("dynamic string table", off, size)?;
        dynamic.strtab = (off as usize, size as usize);
        Ok(Some(dynamic))
    }
}

/// The page size every Linux architecture supports; a larger one only adds constraints.
const MIN_PAGE: u64 = 0x1000;

/// What glibc's `open_verify` and `_dl_map_object_from_fd` refuse before reading anything
/// else, in their words: a file meant to be loaded (a program or shared object, or any file
/// with a dynamic section) must be one ld.so would map. Object files and core dumps are not
/// loaded, so they pass as long as they claim no dynamic section.
pub fn loadable(
    bytes: &[u8],
    h: &Header,
    phdrs: &[ProgramHeader],
) -> std::result::Result<(), Malformed> {
    // The kernel maps a program and checks none of the identification; ld.so checks it on
    // the objects it opens itself.
    let opened_by_ldso = !phdrs.iter().any(|p| p.p_type == PT_INTERP);
    if opened_by_ldso && (bytes[header::EI_VERSION] != 1 || h.e_version != 1) {
        return Err(Malformed::from(
            "ELF file version ident does not match current one",
        ));
    }
    let dynamic = phdrs.iter().find(|p| p.p_type == PT_DYNAMIC);
    match h.e_type {
        header::ET_EXEC | header::ET_DYN => {}
        header::ET_REL | header::ET_CORE if dynamic.is_none() => return Ok(()),
        t => {
            return Err(Malformed(format!(
                "e_type {t}: only ET_DYN and ET_EXEC can be loaded"
            )));
        }
    }
    if opened_by_ldso
        && bytes[header::EI_ABIVERSION + 1..header::SIZEOF_IDENT]
            .iter()
            .any(|&b| b != 0)
    {
        return Err(Malformed::from("nonzero padding in e_ident"));
    }
    if !phdrs.iter().any(|p| p.p_type == PT_LOAD) {
        return Err(Malformed::from("object file has no loadable segments"));
    }
    for (i, p) in phdrs
        .iter()
        .enumerate()
        .filter(|(_, p)| p.p_type == PT_LOAD)
    {
        if p.p_vaddr.wrapping_sub(p.p_offset) % MIN_PAGE != 0 {
            return Err(Malformed(format!(
                "segment {i}: ELF load command address/offset not page-aligned"
            )));
        }
    }
    if !opened_by_ldso {
        program_headers_where_pt_phdr_says(h, phdrs)?;
    }
    match dynamic {
        // The checks of `_dl_map_object_from_fd`, which maps what ld.so opens itself.
        _ if !opened_by_ldso => Ok(()),
        Some(d) if d.p_filesz == 0 || (d.p_vaddr == 0 && h.e_type == header::ET_DYN) => {
            Err(Malformed::from("object file has no dynamic section"))
        }
        None if h.e_type == header::ET_DYN => {
            Err(Malformed::from("object file has no dynamic section"))
        }
        _ => Ok(()),
    }
}

/// ld.so takes a program's load address from `PT_PHDR` (the address of the program
/// headers the kernel passes, less `p_vaddr`): it must be where the headers are loaded.
fn program_headers_where_pt_phdr_says(
    h: &Header,
    phdrs: &[ProgramHeader],
) -> std::result::Result<(), Malformed> {
    use goblin::elf::program_header::PT_PHDR;
    match phdrs.iter().find(|p| p.p_type == PT_PHDR) {
        Some(p) if vaddr_to_offset(phdrs, p.p_vaddr, 0) != Some(h.e_phoff) => {
            Err(Malformed(format!(
                "PT_PHDR at {:#x} is not where the program headers are loaded",
                p.p_vaddr
            )))
        }
        _ => Ok(()),
    }
}

/// What glibc's `elf_get_dynamic_info` asserts about relocation tables ("Inconsistency
/// detected by ld.so"): `DT_PLTREL` names the machine's kind of relocation, and the entry
/// size of a table that is there is the size of its entries.
fn relocation_tables(d: &Dynamic, ctx: Ctx, machine: u16) -> std::result::Result<(), Malformed> {
    use goblin::elf::dynamic::{DT_PLTREL, DT_REL, DT_RELA, DT_RELAENT, DT_RELENT};
    use goblin::elf::header::*;
    let word = if ctx.container.is_big() { 8 } else { 4 };
    // The machines whose glibc port fixes one kind; any other may use either.
    let kinds: &[u64] = match machine {
        EM_386 | EM_ARM => &[DT_REL],
        EM_X86_64 | EM_AARCH64 | EM_RISCV | EM_PPC64 | EM_S390 => &[DT_RELA],
        _ => &[DT_REL, DT_RELA],
    };
    if let Some(k) = d.get(DT_PLTREL).filter(|k| !kinds.contains(k)) {
        return Err(Malformed(format!(
            "DT_PLTREL {k} is not a relocation kind of this machine"
        )));
    }
    for (table, ent, size) in [
        (DT_RELA, DT_RELAENT, 3 * word),
        (DT_REL, DT_RELENT, 2 * word),
    ] {
        if d.get(table).is_some() && d.get(ent) != Some(size) {
            return Err(Malformed(format!(
                "relocation entry size {:?}, expected {size}",
                d.get(ent)
            )));
        }
    }
    Ok(())
}

/// Loadable segments must not wrap around the address space, nor overlap in memory (a
/// loader would map one over the other).
pub fn check_loads(phdrs: &[ProgramHeader]) -> std::result::Result<(), Malformed> {
    let mut loads = Vec::new();
    for p in phdrs.iter().filter(|p| p.p_type == PT_LOAD) {
        // ld.so maps the file image even where it is larger than the memory size.
        let end = p
            .p_vaddr
            .checked_add(p.p_memsz.max(p.p_filesz))
            .ok_or_else(|| {
                format!(
                    "loadable segment at {:#x} wraps around the address space",
                    p.p_vaddr
                )
            })?;
        loads.push((p.p_vaddr, end));
    }
    loads.sort_unstable();
    for pair in loads.windows(2) {
        if pair[0].1 > pair[1].0 {
            return Err(Malformed(format!(
                "overlapping loadable segments at {:#x} and {:#x}",
                pair[0].0, pair[1].0
            )));
        }
    }
    Ok(())
}

/// The file offset of `size` bytes at `vaddr`, if the loader maps all of them from the file:
/// from one loadable segment's file image, or from several whose images follow each other
/// both in memory and in the file, as glibc maps them side by side. patchelf leaves a grown
/// `.dynstr` spanning such a pair, and ld.so reads it whole.
pub fn vaddr_to_offset(phdrs: &[ProgramHeader], vaddr: u64, size: u64) -> Option<u64> {
    let (offset, end) = span(phdrs, vaddr)?;
    (end - offset >= size).then_some(offset)
}

/// The file offset of `vaddr` and the end (as a file offset) of the bytes mapped from the
/// file from there on without a break: what a reader of a NUL-terminated string or of a
/// table of unknown length at `vaddr` may read.
pub fn span(phdrs: &[ProgramHeader], vaddr: u64) -> Option<(u64, u64)> {
    // Called for every word the readers read: no allocation here.
    let loads = || phdrs.iter().filter(|p| p.p_type == PT_LOAD);
    let first = loads().find(|p| {
        vaddr >= p.p_vaddr
            && p.p_vaddr
                .checked_add(p.p_filesz)
                .is_some_and(|e| vaddr <= e)
    })?;
    let offset = first.p_offset.checked_add(vaddr - first.p_vaddr)?;
    let mut reached = (
        first.p_vaddr.checked_add(first.p_filesz)?,
        first.p_offset.checked_add(first.p_filesz)?,
    );
    // Each step covers a new non-empty segment, so this ends after at most one per segment.
    while let Some(next) = loads().find(|p| p.p_filesz > 0 && (p.p_vaddr, p.p_offset) == reached) {
        reached = (
            next.p_vaddr.checked_add(next.p_filesz)?,
            next.p_offset.checked_add(next.p_filesz)?,
        );
    }
    Some((offset, reached.1))
}

/// [`span`] of one file's loadable segments with the walk over segments that follow each
/// other done once per segment, not once per read: readers that look up every symbol of a
/// library read hundreds of thousands of words, and the walk was most of each read. Gives
/// what [`span`] gives, for every address.
pub struct Spans(Vec<SpanFrom>);

/// One loadable segment, in program-header order: where its file image lies in memory and
/// in the file, and where the bytes mapped without a break from it end.
struct SpanFrom {
    vaddr: u64,
    /// `p_vaddr + p_filesz`; None when that overflows (no address is inside then).
    end: Option<u64>,
    offset: u64,
    /// The end, as a file offset, of the run of segments from this one; None when a sum
    /// overflows on the way (then [`span`] gives None for the addresses inside).
    reach: Option<u64>,
}

impl Spans {
    pub fn of(phdrs: &[ProgramHeader]) -> Spans {
        let loads = || phdrs.iter().filter(|p| p.p_type == PT_LOAD);
        let reach = |first: &ProgramHeader| -> Option<u64> {
            let mut reached = (
                first.p_vaddr.checked_add(first.p_filesz)?,
                first.p_offset.checked_add(first.p_filesz)?,
            );
            while let Some(next) =
                loads().find(|p| p.p_filesz > 0 && (p.p_vaddr, p.p_offset) == reached)
            {
                reached = (
                    next.p_vaddr.checked_add(next.p_filesz)?,
                    next.p_offset.checked_add(next.p_filesz)?,
                );
            }
            Some(reached.1)
        };
        Spans(
            loads()
                .map(|p| SpanFrom {
                    vaddr: p.p_vaddr,
                    end: p.p_vaddr.checked_add(p.p_filesz),
                    offset: p.p_offset,
                    reach: reach(p),
                })
                .collect(),
        )
    }

    /// [`span`]`(phdrs, vaddr)`.
    pub fn span(&self, vaddr: u64) -> Option<(u64, u64)> {
        let first = self
            .0
            .iter()
            .find(|s| vaddr >= s.vaddr && s.end.is_some_and(|e| vaddr <= e))?;
        let offset = first.offset.checked_add(vaddr - first.vaddr)?;
        Some((offset, first.reach?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The precomputed spans agree with [`span`] at every address around every segment
    /// boundary, for segments that follow each other, overlap, leave gaps or overflow.
    #[test]
    fn spans_agree_with_span() {
        let layouts = [
            vec![load(0, 0, 0x100, 0x100), load(0x100, 0x100, 0x80, 0x200)],
            vec![
                load(0x1000, 0x0, 0x200, 0x200),
                load(0x1200, 0x200, 0x100, 0x100),
                load(0x1300, 0x300, 0, 0x100),
                load(0x1300, 0x300, 0x40, 0x40),
            ],
            vec![load(0x10, 0x20, 0x30, 0x30), load(0x0, 0x0, 0x100, 0x100)],
            vec![load(u64::MAX - 4, 0, 8, 8), load(0x40, u64::MAX - 2, 4, 4)],
            vec![load(0x0, 0x1000, 0x10, 0x10), load(0x1000, 0x0, 0x10, 0x10)],
        ];
        for phdrs in layouts {
            let spans = Spans::of(&phdrs);
            let mut probes = vec![0, 1, u64::MAX, u64::MAX - 1];
            for p in &phdrs {
                for base in [p.p_vaddr, p.p_vaddr.wrapping_add(p.p_filesz)] {
                    for d in 0..3u64 {
                        probes.push(base.wrapping_add(d));
                        probes.push(base.wrapping_sub(d));
                    }
                }
            }
            for v in probes {
                assert_eq!(spans.span(v), span(&phdrs, v), "{v:#x} in {phdrs:?}");
            }
        }
    }

    fn load(vaddr: u64, offset: u64, filesz: u64, memsz: u64) -> ProgramHeader {
        ProgramHeader {
            p_type: PT_LOAD,
            p_flags: 0,
            p_offset: offset,
            p_vaddr: vaddr,
            p_paddr: vaddr,
            p_filesz: filesz,
            p_memsz: memsz,
            p_align: 0x1000,
        }
    }

    #[test]
    fn loads_may_touch_but_not_overlap_or_wrap() {
        let a = load(0x1000, 0, 0x100, 0x1000);
        let b = load(0x2000, 0x100, 0x100, 0x100);
        assert_eq!(check_loads(&[b.clone(), a.clone()]), Ok(()));
        let overlapping = load(0x1fff, 0x100, 0x100, 0x100);
        let err = check_loads(&[a.clone(), overlapping]).unwrap_err();
        assert!(err.0.contains("overlapping"), "{err}");
        let wraps = load(u64::MAX - 0xff, 0, 0, 0x100);
        let err = check_loads(&[wraps]).unwrap_err();
        assert!(err.0.contains("wraps"), "{err}");
        // Only PT_LOAD counts: a PT_DYNAMIC inside a load is the normal case.
        let inside = ProgramHeader {
            p_type: PT_DYNAMIC,
            ..load(0x1010, 0x10, 0x10, 0x10)
        };
        assert_eq!(check_loads(&[a, inside]), Ok(()));
    }

    #[test]
    fn vaddr_maps_only_inside_a_load_file_image() {
        let phdrs = [load(0x1000, 0x200, 0x100, 0x800)];
        assert_eq!(vaddr_to_offset(&phdrs, 0x1000, 0x100), Some(0x200));
        assert_eq!(vaddr_to_offset(&phdrs, 0x1080, 0x10), Some(0x280));
        // Past the file image (in .bss), before the segment, or wrapping: not in the file.
        assert_eq!(vaddr_to_offset(&phdrs, 0x1080, 0x81), None);
        assert_eq!(vaddr_to_offset(&phdrs, 0xfff, 1), None);
        assert_eq!(vaddr_to_offset(&phdrs, u64::MAX, 2), None);
        let dynamic = ProgramHeader {
            p_type: PT_DYNAMIC,
            ..phdrs[0].clone()
        };
        assert_eq!(vaddr_to_offset(&[dynamic], 0x1000, 1), None);
    }

    /// patchelf's layout: a new first segment right before the old one, in memory and in the
    /// file; a table may run from one into the other, not into a gap or a moved segment.
    #[test]
    fn vaddr_range_may_span_segments_adjacent_in_memory_and_file() {
        let grown = [
            load(0x3ff000, 0, 0x1000, 0x1000),
            load(0x400000, 0x1000, 0x2000, 0x2000),
        ];
        assert_eq!(vaddr_to_offset(&grown, 0x3ff598, 0x1000), Some(0x598));
        assert_eq!(vaddr_to_offset(&grown, 0x3ff598, 0x2a68), Some(0x598));
        assert_eq!(
            vaddr_to_offset(&grown, 0x3ff598, 0x2a69),
            None,
            "past the second"
        );
        let elsewhere_in_file = [
            load(0x3ff000, 0, 0x1000, 0x1000),
            load(0x400000, 0x3000, 0x2000, 0x2000),
        ];
        assert_eq!(vaddr_to_offset(&elsewhere_in_file, 0x3ff598, 0x1000), None);
        let bss_between = [
            load(0x3ff000, 0, 0x800, 0x1000),
            load(0x400000, 0x1000, 0x2000, 0x2000),
        ];
        assert_eq!(vaddr_to_offset(&bss_between, 0x3ff598, 0x1000), None);
    }
}

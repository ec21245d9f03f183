//! [`Interface`] → linkable ELF stub bytes, on `object`'s low-level ELF writer.
//!
//! The stub is written from the canonical form alone, so the same interface always gives
//! the same bytes. It holds no code and no data, only what a linker reads:
//!
//! ```text
//! PT_LOAD  R    ELF header, program headers, alloc notes, .hash, .dynsym, .dynstr,
//!               .gnu.version, .gnu.version_d, then NOBITS read-only data sections
//! PT_LOAD  R X  .text (NOBITS): one 16-byte slot per function address
//! PT_LOAD  RW   .tbss (TLS), .dynamic, NOBITS relro sections (PT_GNU_RELRO ends here),
//!               NOBITS writable data, NOBITS read-only-in-writable data
//! ```
//!
//! Data objects get one NOBITS section per (region, section alignment), and each alias
//! group an address whose trailing zeros give exactly the recorded alignment: that is what
//! GNU ld, gold, lld and mold read to lay out copy relocations.

mod layout;

use super::arch;
use crate::error::Malformed;
use crate::iface::{Binding, Import, Interface, Kind, Region, Symbol, Visibility};
use foldhash::HashMap;
use layout::{Entry, Layout, Slot, TEXT_SLOT, align_up, nobits_name, nobits_placement};
use object::Endianness;
use object::elf;
use object::write::StringId;
use object::write::elf::{
    FileHeader, ProgramHeader, SectionHeader, Sym, Verdef, Vernaux, Verneed, Writer,
};

const PAGE: u64 = 0x1000;

/// The first string of `iface` that the stub would have to write and that holds a NUL
/// byte. The ELF reader never makes one, but canonical JSON (`"\u0000"`) and llvm-ifs
/// text can carry one, and `object`'s string tables assert they get none: the fuzz target
/// `stubgen` found `abicut stubgen` panicking on such JSON.
fn with_nul(iface: &Interface) -> Option<&str> {
    let versions = iface
        .versions
        .iter()
        .flat_map(|v| std::iter::once(&v.name).chain(&v.parents));
    let needs = iface
        .needs
        .iter()
        .flat_map(|n| std::iter::once(&n.file).chain(n.versions.iter().map(|v| &v.name)));
    let symbols = iface.symbols.iter().flat_map(|s| {
        std::iter::once(&s.name)
            .chain(&s.alias_of)
            .chain(&s.version)
    });
    let imports = iface
        .imports
        .iter()
        .flat_map(|i| std::iter::once(&i.name).chain(&i.version).chain(&i.from));
    let sections = iface.sections.iter().map(|s| &s.name);
    let warnings = iface.warnings.iter().flat_map(|(k, v)| [k, v]);
    iface
        .soname
        .iter()
        .chain(&iface.needed)
        .chain(versions)
        .chain(needs)
        .chain(symbols)
        .chain(imports)
        .chain(sections)
        .chain(warnings)
        .map(String::as_str)
        .find(|s| s.contains('\0'))
}

/// Writes the stub of `iface`. Fails only on an inconsistent interface (a symbol whose
/// alias or version is not defined), which the ELF reader never produces.
pub fn write_stub(iface: &Interface) -> Result<Vec<u8>, Malformed> {
    if let Some(name) = with_nul(iface) {
        return Err(Malformed(format!(
            "the name {name:?} contains a NUL byte, which no ELF string can hold"
        )));
    }
    // Canonical JSON can say anything; the ELF reader gives powers of two (or 0: none).
    if let Some(s) = iface.symbols.iter().find(|s| {
        [s.align, s.section_align]
            .iter()
            .any(|&a| a != 0 && !a.is_power_of_two())
    }) {
        return Err(Malformed(format!(
            "symbol {}: alignment {} in a section aligned to {}: not a power of two, which no \
             stub address can give",
            s.name, s.align, s.section_align
        )));
    }
    for section in &iface.sections {
        section.check()?;
    }
    refuse_shared_version_indexes(iface)?;
    let shape = Shape::new(iface);
    let layout = Layout::new(iface, shape.versym)?;
    let blobs = Blob::all(iface);
    let nobits: Vec<(Slot, String)> = layout
        .spaces
        .keys()
        .filter(|slot| !matches!(slot, Slot::Abs | Slot::Common))
        .map(|slot| (*slot, nobits_name(*slot)))
        .collect();
    let mut out = Vec::new();
    StubWriter::new(iface, shape, layout, &blobs, &mut out)
        .write(&nobits)
        .map_err(|e| format!("cannot write ELF stub: {e}"))?;
    Ok(out)
}

/// Refuses two version definitions with one index: a symbol's `.gnu.version` entry names a
/// version by index, so the stub would give every symbol of either version the same one
/// (the fuzz target `json_read` found canonical JSON defining `FIX_1.0` and `FIX_2.0` both
/// at index 2, whose stub read back with two symbols keyed `FIX_1.0@@FIX_1.0`).
fn refuse_shared_version_indexes(iface: &Interface) -> Result<(), Malformed> {
    let mut seen: HashMap<u16, &str> = HashMap::default();
    for v in &iface.versions {
        if let Some(other) = seen.insert(v.index, &v.name) {
            return Err(Malformed(format!(
                "version definitions {other} and {} share index {}: no stub can tell their \
                 symbols apart",
                v.name, v.index
            )));
        }
    }
    Ok(())
}

/// A section copied into the stub as it is: an arch note or attribute section, or a
/// `.gnu.warning.SYM` section.
struct Blob {
    name: String,
    data: Vec<u8>,
    sh_type: u32,
    flags: u64,
    align: u64,
}

impl Blob {
    fn all(iface: &Interface) -> Vec<Blob> {
        let arch = iface.sections.iter().map(|s| Blob {
            name: s.name.clone(),
            data: unhex(&s.data),
            sh_type: s.sh_type,
            flags: s.flags,
            align: s.align.max(1),
        });
        let warnings = iface.warnings.iter().map(|(sym, text)| Blob {
            name: format!(".gnu.warning.{sym}"),
            data: [text.as_bytes(), &[0]].concat(),
            sh_type: elf::SHT_PROGBITS.0,
            flags: 0,
            align: 1,
        });
        let mut blobs: Vec<Blob> = arch.chain(warnings).collect();
        // Alloc blobs live in the first segment, the others after the dynamic section.
        blobs.sort_by_key(|b| !b.is_alloc());
        blobs
    }

    fn is_alloc(&self) -> bool {
        self.flags & elf::SHF_ALLOC.0 != 0
    }

    /// The segments that describe an alloc blob besides its `PT_LOAD`; none for a blob
    /// that is not loaded (a non-alloc `.MIPS.abiflags` from canonical JSON or a damaged
    /// library got a `PT_MIPS_ABIFLAGS` that was never reserved: the fuzz target `stubgen`
    /// found it).
    fn segment_types(&self) -> &'static [elf::ProgramType] {
        if self.is_alloc() {
            arch::extra_segments(&self.name)
        } else {
            &[]
        }
    }
}

/// Dynamic string ids, added before anything is reserved.
struct Strings {
    needed: Vec<StringId>,
    soname: Option<StringId>,
    exports: Vec<StringId>,
    imports: Vec<StringId>,
    versions: Vec<(StringId, Vec<StringId>)>,
    needs: Vec<(StringId, Vec<StringId>)>,
}

/// File offsets fixed by the first pass.
#[derive(Default)]
struct Offsets {
    blobs: Vec<(StringId, u64)>,
    nobits: HashMap<Slot, StringId>,
    hash: u64,
    dynsym: u64,
    dynstr: u64,
    versym: u64,
    verdef: u64,
    verneed: u64,
    end_of_headers: u64,
    dynamic: u64,
}

/// Virtual addresses of the segments, fixed after the first pass.
struct Addresses {
    rodata_end: u64,
    text_offset: u64,
    text: u64,
    text_size: u64,
    rw: u64,
    relro_end: u64,
    /// End of the `PF_W` `PT_GNU_RELRO` (gold's), which starts at `relro_end`.
    writable_relro_end: u64,
    rw_end: u64,
}

/// What the stub holds, decided once: `reserve`, the writes and the section headers read
/// only this, so adding a section or a dynamic tag is one change here. object checks that
/// the reserved counts match the written ones only with debug assertions, which the `ci`
/// profile (tests/run.sh) keeps on.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    /// A SysV `.hash` ([`arch::has_sysv_hash`]).
    hash: bool,
    /// `.gnu.version`: whenever the library defines or needs versions.
    versym: bool,
    /// `.gnu.version_d`.
    verdef: bool,
    /// `.gnu.version_r`.
    verneed: bool,
    /// The dynamic tags in the order `write_dynamic` emits them, `DT_NULL` last.
    dynamic: Vec<elf::DynamicTag>,
}

impl Shape {
    fn new(iface: &Interface) -> Shape {
        let hash = arch::has_sysv_hash(iface.file.machine);
        let verdef = !iface.versions.is_empty();
        let verneed = !iface.needs.is_empty();
        let versym = verdef || verneed;
        let mut dynamic = vec![elf::DT_NEEDED; iface.needed.len()];
        let optional = |present: bool, tags: &[elf::DynamicTag]| {
            if present { tags.to_vec() } else { Vec::new() }
        };
        dynamic.extend(optional(iface.soname.is_some(), &[elf::DT_SONAME]));
        dynamic.extend(optional(hash, &[elf::DT_HASH]));
        dynamic.extend([
            elf::DT_STRTAB,
            elf::DT_SYMTAB,
            elf::DT_STRSZ,
            elf::DT_SYMENT,
        ]);
        dynamic.extend(optional(versym, &[elf::DT_VERSYM]));
        dynamic.extend(optional(verdef, &[elf::DT_VERDEF, elf::DT_VERDEFNUM]));
        dynamic.extend(optional(verneed, &[elf::DT_VERNEED, elf::DT_VERNEEDNUM]));
        dynamic.push(elf::DT_NULL);
        Shape {
            hash,
            versym,
            verdef,
            verneed,
            dynamic,
        }
    }
}

/// Writes one stub in the two passes `object`'s writer needs: reserve, then write in the
/// same order.
struct StubWriter<'a> {
    iface: &'a Interface,
    layout: Layout,
    blobs: &'a [Blob],
    w: Writer<'a>,
    strings: Strings,
    shape: Shape,
}

impl<'a> StubWriter<'a> {
    fn new(
        iface: &'a Interface,
        shape: Shape,
        layout: Layout,
        blobs: &'a [Blob],
        out: &'a mut Vec<u8>,
    ) -> StubWriter<'a> {
        let endian = if iface.file.big_endian {
            Endianness::Big
        } else {
            Endianness::Little
        };
        let mut w = Writer::new(endian, iface.file.elf64, out);
        let strings = Strings {
            needed: add_all(&mut w, iface.needed.iter().map(String::as_str)),
            soname: iface
                .soname
                .as_ref()
                .map(|s| w.add_dynamic_string(s.as_bytes())),
            exports: add_all(&mut w, iface.symbols.iter().map(|s| s.name.as_str())),
            imports: add_all(&mut w, iface.imports.iter().map(|s| s.name.as_str())),
            versions: iface
                .versions
                .iter()
                .map(|v| {
                    let own = w.add_dynamic_string(v.name.as_bytes());
                    (own, add_all(&mut w, v.parents.iter().map(String::as_str)))
                })
                .collect(),
            needs: iface
                .needs
                .iter()
                .map(|n| {
                    let file = w.add_dynamic_string(n.file.as_bytes());
                    (
                        file,
                        add_all(&mut w, n.versions.iter().map(|v| v.name.as_str())),
                    )
                })
                .collect(),
        };
        StubWriter {
            iface,
            layout,
            blobs,
            w,
            strings,
            shape,
        }
    }

    fn write(mut self, nobits: &'a [(Slot, String)]) -> object::write::Result<()> {
        let offsets = self.reserve(nobits)?;
        let addresses = self.assign_addresses(&offsets);
        self.write_program_headers(&offsets, &addresses)?;
        self.write_dynamic_tables(&offsets);
        self.write_dynamic(&offsets)?;
        for (blob, (_, offset)) in self.blobs.iter().zip(&offsets.blobs) {
            if !blob.is_alloc() {
                self.w.pad_until(*offset);
                self.w.write(&blob.data);
            }
        }
        self.w.write_shstrtab();
        self.write_section_headers(&offsets, &addresses);
        Ok(())
    }

    fn dynsym_count(&self) -> u32 {
        self.layout.order.len() as u32 + 1
    }

    fn hash_buckets(&self) -> u32 {
        (self.dynsym_count() / 2).max(1)
    }

    fn has_writable_relro(&self) -> bool {
        self.layout
            .spaces
            .keys()
            .any(|slot| matches!(slot, Slot::Data(r, _) if r.relro() == Some(true)))
    }

    fn segment_count(&self) -> u32 {
        let tls = u32::from(self.layout.spaces.contains_key(&Slot::Tls))
            + u32::from(self.has_writable_relro());
        let extra: usize = self.blobs.iter().map(|b| b.segment_types().len()).sum();
        3 + 2 + tls + extra as u32 // PT_LOAD x3, PT_DYNAMIC, PT_GNU_RELRO
    }

    /// First pass: every part of the file, in the order it is written.
    fn reserve(&mut self, nobits: &'a [(Slot, String)]) -> object::write::Result<Offsets> {
        let iface = self.iface;
        let mut o = Offsets::default();
        self.w.reserve_file_header();
        self.w.reserve_program_headers(self.segment_count());
        self.w.reserve_null_section_index();
        for blob in self.blobs.iter().filter(|b| b.is_alloc()) {
            let reserved = self.reserve_blob(blob);
            o.blobs.push(reserved);
        }
        if self.shape.hash {
            self.w.reserve_hash_section_index();
            o.hash = self
                .w
                .reserve_hash(self.hash_buckets(), self.dynsym_count());
        }
        self.w.reserve_dynsym_section_index();
        self.w.reserve_dynstr_section_index();
        if self.shape.versym {
            self.w.reserve_gnu_versym_section_index();
        }
        if self.shape.verdef {
            self.w.reserve_gnu_verdef_section_index();
        }
        if self.shape.verneed {
            self.w.reserve_gnu_verneed_section_index();
        }
        self.w.reserve_null_dynamic_symbol_index();
        for _ in &self.layout.order {
            self.w.reserve_dynamic_symbol_index();
        }
        o.dynsym = self.w.reserve_dynsym();
        o.dynstr = self.w.reserve_dynstr()?;
        if self.shape.versym {
            o.versym = self.w.reserve_gnu_versym();
        }
        if self.shape.verdef {
            let aux: usize = iface.versions.iter().map(|v| 1 + v.parents.len()).sum();
            o.verdef = self.w.reserve_gnu_verdef(iface.versions.len() as u16, aux);
        }
        if self.shape.verneed {
            let aux: usize = iface.needs.iter().map(|n| n.versions.len()).sum();
            o.verneed = self.w.reserve_gnu_verneed(iface.needs.len() as u16, aux);
        }
        o.end_of_headers = self.w.reserved_len();
        for (slot, name) in nobits {
            let index = self.w.reserve_section_index();
            o.nobits
                .insert(*slot, self.w.add_section_name(name.as_bytes()));
            if let Some(space) = self.layout.spaces.get_mut(slot) {
                space.index = index.0;
            }
        }
        self.w.reserve_dynamic_section_index();
        o.dynamic = self.w.reserve_dynamic(self.shape.dynamic.len());
        for blob in self.blobs.iter().filter(|b| !b.is_alloc()) {
            let reserved = self.reserve_blob(blob);
            o.blobs.push(reserved);
        }
        self.w.reserve_shstrtab_section_index();
        self.w.reserve_shstrtab()?;
        self.w.reserve_section_headers();
        Ok(o)
    }

    fn reserve_blob(&mut self, blob: &'a Blob) -> (StringId, u64) {
        self.w.reserve_section_index();
        let name = self.w.add_section_name(blob.name.as_bytes());
        (name, self.w.reserve(blob.data.len() as u64, blob.align))
    }

    /// Segment 1 maps the file from address 0 and ends with the read-only data; text and
    /// the writable segment follow on fresh pages, congruent to their file offsets.
    fn assign_addresses(&mut self, o: &Offsets) -> Addresses {
        let dynamic_size = self.dynamic_size();
        let spaces = &mut self.layout.spaces;
        let mut va = o.end_of_headers;
        for (slot, space) in spaces.iter_mut() {
            if let Slot::Data(Region::Rodata, _) = slot {
                space.addr = align_up(va, space.align);
                va = space.addr + space.size;
            }
        }
        let rodata_end = va;
        let text_offset = align_up(o.end_of_headers, TEXT_SLOT);
        let text = align_up(rodata_end, PAGE) + text_offset % PAGE;
        let text_size = spaces.get(&Slot::Text).map_or(0, |s| s.size);
        if let Some(space) = spaces.get_mut(&Slot::Text) {
            space.addr = text;
        }
        let rw = align_up(text + text_size, PAGE) + o.dynamic % PAGE;
        if let Some(space) = spaces.get_mut(&Slot::Tls) {
            space.addr = rw;
        }
        let mut va = rw + dynamic_size;
        let mut relro_end = [va, va];
        for relro in [Some(false), Some(true), None] {
            let start = va;
            for (slot, space) in spaces.iter_mut() {
                if matches!(slot, Slot::Data(r, _) if *r != Region::Rodata && r.relro() == relro) {
                    space.addr = align_up(va, space.align);
                    va = space.addr + space.size;
                }
            }
            match relro {
                Some(false) => relro_end[0] = va,
                Some(true) => relro_end[1] = va.max(start),
                None => {}
            }
        }
        Addresses {
            rodata_end,
            text_offset,
            text,
            text_size,
            rw,
            relro_end: relro_end[0],
            writable_relro_end: relro_end[1],
            rw_end: va,
        }
    }

    fn dynamic_size(&self) -> u64 {
        self.shape.dynamic.len() as u64 * if self.iface.file.elf64 { 16 } else { 8 }
    }

    fn write_program_headers(&mut self, o: &Offsets, a: &Addresses) -> object::write::Result<()> {
        let file = &self.iface.file;
        self.w.write_file_header(&FileHeader {
            os_abi: elf::OsAbi(file.os_abi),
            abi_version: file.abi_version,
            e_type: elf::ET_DYN,
            e_machine: elf::Machine(file.machine),
            e_entry: 0,
            e_flags: elf::FileFlags(file.flags),
        })?;
        self.w.write_align_program_headers();
        let (r, w, x) = (elf::PF_R.0, elf::PF_W.0, elf::PF_X.0);
        let dynamic = self.dynamic_size();
        let tls = self
            .layout
            .spaces
            .get(&Slot::Tls)
            .map(|s| (s.size, s.align));
        let mut headers = vec![
            segment(elf::PT_LOAD, r, 0, 0, o.end_of_headers, a.rodata_end, PAGE),
            segment(
                elf::PT_LOAD,
                r | x,
                a.text_offset,
                a.text,
                0,
                a.text_size,
                PAGE,
            ),
            segment(
                elf::PT_LOAD,
                r | w,
                o.dynamic,
                a.rw,
                dynamic,
                a.rw_end - a.rw,
                PAGE,
            ),
            segment(
                elf::PT_DYNAMIC,
                r | w,
                o.dynamic,
                a.rw,
                dynamic,
                dynamic,
                if file.elf64 { 8 } else { 4 },
            ),
            segment(
                elf::PT_GNU_RELRO,
                r,
                o.dynamic,
                a.rw,
                dynamic,
                a.relro_end - a.rw,
                1,
            ),
        ];
        if let Some((size, align)) = tls {
            headers.push(segment(elf::PT_TLS, r, o.dynamic, a.rw, 0, size, align));
        }
        if self.has_writable_relro() {
            let size = a.writable_relro_end - a.relro_end;
            let offset = o.dynamic + dynamic;
            headers.push(segment(
                elf::PT_GNU_RELRO,
                r | w,
                offset,
                a.relro_end,
                0,
                size,
                1,
            ));
        }
        for (blob, (_, offset)) in self.blobs.iter().zip(&o.blobs) {
            let len = blob.data.len() as u64;
            for p_type in blob.segment_types() {
                headers.push(segment(*p_type, r, *offset, *offset, len, len, blob.align));
            }
        }
        for header in &headers {
            self.w.write_program_header(header);
        }
        Ok(())
    }

    /// The alloc blobs, then `.hash`, `.dynsym`, `.dynstr` and the version sections.
    fn write_dynamic_tables(&mut self, o: &Offsets) {
        for blob in self.blobs.iter().filter(|b| b.is_alloc()) {
            self.w.write_align(blob.align);
            self.w.write(&blob.data);
        }
        let (iface, layout) = (self.iface, &self.layout);
        if self.shape.hash {
            let name = |entry: Entry| match entry {
                Entry::Export(e) => &iface.symbols[e].name,
                Entry::Import(m) => &iface.imports[m].name,
            };
            self.w
                .write_hash(self.hash_buckets(), self.dynsym_count(), |i| {
                    let entry = layout.order[i.checked_sub(1)? as usize];
                    Some(elf::hash(name(entry).as_bytes()))
                });
        }
        self.w.write_null_dynamic_symbol();
        for entry in &layout.order {
            let sym = match *entry {
                Entry::Export(i) => {
                    let st_name = self.w.dynamic_string_offset(Some(self.strings.exports[i]));
                    elf_symbol(&iface.symbols[i], st_name, layout, i)
                }
                Entry::Import(i) => {
                    let st_name = self.w.dynamic_string_offset(Some(self.strings.imports[i]));
                    import_symbol(&iface.imports[i], st_name)
                }
            };
            self.w.write_dynamic_symbol(&sym);
        }
        self.w.write_dynstr();
        if self.shape.versym {
            self.w.write_null_gnu_versym();
            for entry in &layout.order {
                let index = match *entry {
                    Entry::Export(i) => i,
                    Entry::Import(i) => iface.symbols.len() + i,
                };
                self.w
                    .write_gnu_versym(elf::VersymIndex(layout.versym[index]));
            }
        }
        self.write_verdefs();
        self.write_verneeds();
        self.w.pad_until(o.dynamic);
    }

    fn write_verdefs(&mut self) {
        if !self.shape.verdef {
            return;
        }
        self.w.write_align_gnu_verdef();
        for (v, (own, parents)) in self.iface.versions.iter().zip(&self.strings.versions) {
            self.w.write_gnu_verdef(&Verdef {
                version: elf::VER_DEF_CURRENT,
                flags: elf::VersionFlags(v.flags),
                index: elf::VersionIndex(v.index),
                aux_count: 1 + parents.len() as u16,
                name: self.w.dynamic_string_offset(Some(*own)),
                hash: elf::hash(v.name.as_bytes()),
            });
            // Parents are written by hand: object 0.40's `write_gnu_verdaux` counts the
            // first (own-name) entry again and so links the last parent to a next entry
            // that does not exist, which GNU ld rejects (".gnu.version_d invalid entry").
            for (k, parent) in parents.iter().enumerate() {
                let next: u32 = if k + 1 < parents.len() { 8 } else { 0 };
                let name = self.w.dynamic_string_offset(Some(*parent));
                self.w
                    .write(&verdaux_bytes(name, next, self.iface.file.big_endian));
            }
        }
    }

    fn write_verneeds(&mut self) {
        if !self.shape.verneed {
            return;
        }
        self.w.write_align_gnu_verneed();
        for (need, (file, versions)) in self.iface.needs.iter().zip(&self.strings.needs) {
            self.w.write_gnu_verneed(&Verneed {
                version: elf::VER_NEED_CURRENT,
                aux_count: need.versions.len() as u16,
                file: self.w.dynamic_string_offset(Some(*file)),
            });
            for (v, name) in need.versions.iter().zip(versions) {
                self.w.write_gnu_vernaux(&Vernaux {
                    flags: elf::VersionFlags(v.flags),
                    index: elf::VersionIndex(v.index),
                    name: self.w.dynamic_string_offset(Some(*name)),
                    hash: elf::hash(v.name.as_bytes()),
                });
            }
        }
    }

    /// The dynamic entries, one per tag of the shape, in its order.
    fn write_dynamic(&mut self, o: &Offsets) -> object::write::Result<()> {
        self.w.write_align_dynamic();
        let mut needed = self.strings.needed.iter();
        for &tag in &self.shape.dynamic {
            let string = match tag {
                elf::DT_NEEDED => needed.next().copied(),
                elf::DT_SONAME => self.strings.soname,
                _ => None,
            };
            match string {
                Some(id) => self.w.write_dynamic_string(tag, id)?,
                None => {
                    let value = self.dynamic_value(tag, o);
                    self.w.write_dynamic(tag, value)?
                }
            }
        }
        Ok(())
    }

    /// The value of a dynamic entry that is not a string.
    fn dynamic_value(&self, tag: elf::DynamicTag, o: &Offsets) -> u64 {
        let iface = self.iface;
        match tag {
            elf::DT_HASH => o.hash,
            elf::DT_STRTAB => o.dynstr,
            elf::DT_SYMTAB => o.dynsym,
            elf::DT_STRSZ => u64::from(self.w.dynstr_len()),
            elf::DT_SYMENT => {
                if iface.file.elf64 {
                    24
                } else {
                    16
                }
            }
            elf::DT_VERSYM => o.versym,
            elf::DT_VERDEF => o.verdef,
            elf::DT_VERDEFNUM => iface.versions.len() as u64,
            elf::DT_VERNEED => o.verneed,
            elf::DT_VERNEEDNUM => iface.needs.len() as u64,
            _ => 0,
        }
    }

    /// Section headers in the order the sections were reserved. object writes the optional
    /// ones only if they were reserved; the shape is tested here too, for the reader.
    fn write_section_headers(&mut self, o: &Offsets, a: &Addresses) {
        self.w.write_null_section_header();
        for (blob, (name, offset)) in self
            .blobs
            .iter()
            .zip(&o.blobs)
            .filter(|(b, _)| b.is_alloc())
        {
            self.write_blob_header(blob, *name, *offset, *offset);
        }
        if self.shape.hash {
            self.w.write_hash_section_header(o.hash);
        }
        self.w.write_dynsym_section_header(o.dynsym, 1);
        self.w.write_dynstr_section_header(o.dynstr);
        if self.shape.versym {
            self.w.write_gnu_versym_section_header(o.versym);
        }
        if self.shape.verdef {
            self.w.write_gnu_verdef_section_header(o.verdef);
        }
        if self.shape.verneed {
            self.w.write_gnu_verneed_section_header(o.verneed);
        }
        for (slot, space) in &self.layout.spaces {
            let Some(name) = o.nobits.get(slot) else {
                continue;
            };
            let (offset, flags) =
                nobits_placement(*slot, o.end_of_headers, a.text_offset, o.dynamic);
            self.w.write_section_header(&SectionHeader {
                sh_name: self.w.section_name_offset(Some(*name)),
                sh_type: elf::SHT_NOBITS,
                sh_flags: elf::SectionFlags(flags),
                sh_addr: space.addr,
                sh_offset: offset,
                sh_size: space.size,
                sh_link: 0,
                sh_info: 0,
                sh_addralign: space.align.max(1),
                sh_entsize: 0,
            });
        }
        self.w.write_dynamic_section_header(a.rw);
        for (blob, (name, offset)) in self
            .blobs
            .iter()
            .zip(&o.blobs)
            .filter(|(b, _)| !b.is_alloc())
        {
            self.write_blob_header(blob, *name, *offset, 0);
        }
        self.w.write_shstrtab_section_header();
    }

    fn write_blob_header(&mut self, blob: &Blob, name: StringId, offset: u64, addr: u64) {
        self.w.write_section_header(&SectionHeader {
            sh_name: self.w.section_name_offset(Some(name)),
            sh_type: elf::SectionType(blob.sh_type),
            sh_flags: elf::SectionFlags(blob.flags),
            sh_addr: addr,
            sh_offset: offset,
            sh_size: blob.data.len() as u64,
            sh_link: 0,
            sh_info: 0,
            sh_addralign: blob.align,
            sh_entsize: 0,
        });
    }
}

fn add_all<'a>(w: &mut Writer<'a>, names: impl Iterator<Item = &'a str>) -> Vec<StringId> {
    names.map(|n| w.add_dynamic_string(n.as_bytes())).collect()
}

fn segment(
    p_type: elf::ProgramType,
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    align: u64,
) -> ProgramHeader {
    ProgramHeader {
        p_type,
        p_flags: elf::ProgramFlags(flags),
        p_offset: offset,
        p_vaddr: vaddr,
        p_paddr: vaddr,
        p_filesz: filesz,
        p_memsz: memsz,
        p_align: align,
    }
}

fn elf_symbol(sym: &Symbol, st_name: u32, layout: &Layout, i: usize) -> Sym {
    let (slot, _) = layout.placed[i];
    let visibility = match sym.visibility {
        Visibility::Default => elf::STV_DEFAULT.0,
        Visibility::Protected => elf::STV_PROTECTED.0,
    };
    let (section, st_shndx) = match slot {
        Slot::Abs => (None, elf::SHN_ABS),
        Slot::Common => (None, elf::SHN_COMMON),
        _ => (Some(layout.spaces[&slot].index), elf::SHN_UNDEF),
    };
    Sym {
        section,
        st_name,
        st_info: elf::SymbolInfo::new(symbol_bind(sym.binding), symbol_type(sym.kind)),
        st_other: elf::SymbolOther(sym.other | visibility),
        st_shndx,
        st_value: layout.value(i, sym),
        st_size: sym.size,
    }
}

fn import_symbol(imp: &Import, st_name: u32) -> Sym {
    Sym {
        section: None,
        st_name,
        st_info: elf::SymbolInfo::new(symbol_bind(imp.binding), symbol_type(imp.kind)),
        st_other: elf::STV_DEFAULT.into(),
        st_shndx: elf::SHN_UNDEF,
        st_value: 0,
        st_size: 0,
    }
}

fn symbol_type(kind: Kind) -> elf::SymbolType {
    match kind {
        Kind::Func => elf::STT_FUNC,
        Kind::Object => elf::STT_OBJECT,
        Kind::Tls => elf::STT_TLS,
        Kind::Common => elf::STT_COMMON,
        Kind::Notype => elf::STT_NOTYPE,
    }
}

fn symbol_bind(binding: Binding) -> elf::SymbolBind {
    match binding {
        Binding::Global => elf::STB_GLOBAL,
        Binding::Weak => elf::STB_WEAK,
        Binding::Unique => elf::STB_GNU_UNIQUE,
    }
}

/// Decodes the hex of an [`ArchSection`]; odd or invalid digits were refused when the
/// interface was read, so any left here decode as zero.
fn unhex(hex: &str) -> Vec<u8> {
    hex.as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .unwrap_or(0)
        })
        .collect()
}

fn verdaux_bytes(name: u32, next: u32, big_endian: bool) -> [u8; 8] {
    let (a, b) = if big_endian {
        (name.to_be_bytes(), next.to_be_bytes())
    } else {
        (name.to_le_bytes(), next.to_le_bytes())
    };
    [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]
}

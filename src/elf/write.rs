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

use crate::iface::{ArchSection, Binding, Import, Interface, Kind, Region, Symbol, Visibility};
use object::Endianness;
use object::elf;
use object::write::StringId;
use object::write::elf::{
    FileHeader, ProgramHeader, SectionHeader, SectionIndex, Sym, Verdef, Vernaux, Verneed, Writer,
};
use std::collections::{BTreeMap, HashMap};

const PAGE: u64 = 0x1000;
const TEXT_SLOT: u64 = 16;

/// Writes the stub of `iface`. Fails only on an inconsistent interface (a symbol whose
/// alias or version is not defined), which the ELF reader never produces.
pub fn write_stub(iface: &Interface) -> Result<Vec<u8>, String> {
    let layout = Layout::new(iface)?;
    let mut out = Vec::new();
    emit(iface, layout, &mut out).map_err(|e| format!("cannot write ELF stub: {e}"))?;
    Ok(out)
}

/// A `.dynsym` entry of the stub: an exported symbol or an import, by index.
#[derive(Clone, Copy, Debug)]
enum Entry {
    Export(usize),
    Import(usize),
}

/// Which NOBITS section a symbol lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Slot {
    Text,
    Tls,
    Data(Region, u64),
    Abs,
    Common,
}

/// A NOBITS section of the stub and the groups placed in it.
#[derive(Debug, Default)]
struct Space {
    align: u64,
    size: u64,
    addr: u64,
    index: u32,
}

/// Where every symbol goes: its slot and its offset inside the slot's section.
struct Layout {
    /// `.dynsym` entries after the null symbol, in recorded position order.
    order: Vec<Entry>,
    placed: Vec<(Slot, u64)>,
    spaces: BTreeMap<Slot, Space>,
    versym: Vec<u16>,
}

impl Layout {
    fn new(iface: &Interface) -> Result<Layout, String> {
        let group_size = group_sizes(&iface.symbols);
        let mut spaces: BTreeMap<Slot, Space> = BTreeMap::new();
        let mut leaders: HashMap<String, u64> = HashMap::new();
        let mut placed = Vec::with_capacity(iface.symbols.len());
        for sym in &iface.symbols {
            let key = sym.sort_key();
            let slot = slot_of(sym);
            let offset = match &sym.alias_of {
                Some(leader) => leaders.get(leader.as_str()).copied().ok_or_else(|| {
                    format!(
                        "symbol {key} is an alias of {leader}, which comes later or does not exist"
                    )
                })?,
                None => allocate(&mut spaces, slot, sym, group_size[&key]),
            };
            placed.push((slot, offset));
            if sym.alias_of.is_none() {
                leaders.insert(key, offset);
            }
        }
        let versym = versym_entries(iface)?;
        let mut order: Vec<(u32, Entry)> = iface
            .symbols
            .iter()
            .enumerate()
            .map(|(i, s)| (s.position, Entry::Export(i)))
            .chain(
                iface
                    .imports
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.position, Entry::Import(i))),
            )
            .collect();
        order.sort_by_key(|(position, _)| *position);
        let order = order.into_iter().map(|(_, e)| e).collect();
        Ok(Layout {
            order,
            placed,
            spaces,
            versym,
        })
    }

    fn value(&self, i: usize, sym: &Symbol) -> u64 {
        let (slot, offset) = self.placed[i];
        match slot {
            Slot::Abs | Slot::Common => sym.value,
            Slot::Tls => offset,
            Slot::Text => self.spaces[&slot].addr + offset + sym.value,
            Slot::Data(..) => self.spaces[&slot].addr + offset,
        }
    }
}

/// The size each alias group needs: the largest member, and at least one byte so that
/// distinct groups never share an address.
fn group_sizes(symbols: &[Symbol]) -> HashMap<String, u64> {
    let mut sizes: HashMap<String, u64> = HashMap::new();
    for sym in symbols {
        let leader = sym.alias_of.clone().unwrap_or_else(|| sym.sort_key());
        let entry = sizes.entry(leader).or_insert(1);
        *entry = (*entry).max(sym.size);
    }
    sizes
}

fn slot_of(sym: &Symbol) -> Slot {
    match sym.region {
        Region::Text => Slot::Text,
        Region::Tls => Slot::Tls,
        Region::Abs => Slot::Abs,
        Region::Common => Slot::Common,
        r => Slot::Data(r, sym.section_align.max(1)),
    }
}

/// Places a new group in its section: at an address that is a multiple of the symbol's
/// alignment and, when that is below the section's alignment, an odd multiple of it, so
/// that `min(section alignment, 2^ctz(value))` gives back exactly the recorded alignment.
fn allocate(spaces: &mut BTreeMap<Slot, Space>, slot: Slot, sym: &Symbol, size: u64) -> u64 {
    let space = spaces.entry(slot).or_default();
    match slot {
        Slot::Abs | Slot::Common => 0,
        Slot::Text => {
            let offset = space.size;
            space.align = TEXT_SLOT;
            space.size += TEXT_SLOT;
            offset
        }
        Slot::Tls => {
            space.align = space.align.max(8);
            let offset = align_up(space.size, 8);
            space.size = offset + size;
            offset
        }
        Slot::Data(_, section_align) => {
            space.align = section_align;
            let align = sym.align.clamp(1, section_align);
            let mut offset = align_up(space.size, align);
            if align < section_align && (offset / align).is_multiple_of(2) {
                offset += align;
            }
            space.size = offset + size;
            offset
        }
    }
}

/// `.gnu.version` values of the exports followed by those of the imports (empty when the
/// library has no versioning at all).
fn versym_entries(iface: &Interface) -> Result<Vec<u16>, String> {
    if iface.versions.is_empty() && iface.needs.is_empty() {
        return Ok(Vec::new());
    }
    let defined: HashMap<&str, u16> = iface
        .versions
        .iter()
        .map(|v| (v.name.as_str(), v.index))
        .collect();
    let needed: HashMap<(&str, &str), u16> = iface
        .needs
        .iter()
        .flat_map(|n| {
            n.versions
                .iter()
                .map(move |v| ((n.file.as_str(), v.name.as_str()), v.index))
        })
        .collect();
    let exports = iface.symbols.iter().map(|sym| {
        let base = match (&sym.version, sym.local_version) {
            (_, true) => 0,
            (None, false) => 1,
            (Some(v), false) => *defined.get(v.as_str()).ok_or_else(|| {
                format!("symbol {} has version {v}, which is not defined", sym.name)
            })?,
        };
        Ok(base | if sym.hidden { 0x8000 } else { 0 })
    });
    let imports = iface
        .imports
        .iter()
        .map(|imp| match (&imp.from, &imp.version) {
            (Some(file), Some(v)) => needed
                .get(&(file.as_str(), v.as_str()))
                .copied()
                .ok_or_else(|| {
                    format!(
                        "import {} needs version {v} from {file}, which is not listed",
                        imp.name
                    )
                }),
            _ => Ok(1),
        });
    exports.chain(imports).collect()
}

fn align_up(value: u64, align: u64) -> u64 {
    value.div_ceil(align.max(1)) * align.max(1)
}

/// Section indices and names reserved in the first pass.
struct Reserved {
    alloc_arch: Vec<(SectionIndex, StringId, u64)>,
    other_arch: Vec<(SectionIndex, StringId, u64)>,
    warnings: Vec<(SectionIndex, StringId, u64)>,
    nobits_names: HashMap<Slot, StringId>,
    needed: Vec<StringId>,
    soname: Option<StringId>,
    names: Vec<StringId>,
    import_names: Vec<StringId>,
    version_names: Vec<(StringId, Vec<StringId>)>,
    need_names: Vec<(StringId, Vec<StringId>)>,
}

fn emit(iface: &Interface, mut layout: Layout, out: &mut Vec<u8>) -> object::write::Result<()> {
    let endian = if iface.file.big_endian {
        Endianness::Big
    } else {
        Endianness::Little
    };
    let nobits: Vec<(Slot, String)> = layout
        .spaces
        .keys()
        .filter(|slot| !matches!(slot, Slot::Abs | Slot::Common))
        .map(|slot| (*slot, nobits_name(*slot)))
        .collect();
    let mut w = Writer::new(endian, iface.file.elf64, out);
    let (alloc_arch, other_arch): (Vec<&ArchSection>, Vec<&ArchSection>) = iface
        .sections
        .iter()
        .partition(|s| s.flags & elf::SHF_ALLOC.0 != 0);
    let arch_data: HashMap<&str, Vec<u8>> = iface
        .sections
        .iter()
        .map(|s| (s.name.as_str(), unhex(&s.data)))
        .collect();
    let warning_data: Vec<(String, Vec<u8>)> = iface
        .warnings
        .iter()
        .map(|(sym, text)| {
            let mut data = text.as_bytes().to_vec();
            data.push(0);
            (format!(".gnu.warning.{sym}"), data)
        })
        .collect();
    let use_hash = iface.file.machine != elf::EM_S390.0;
    let has_versions = !iface.versions.is_empty();
    let has_needs = !iface.needs.is_empty();
    let has_versym = has_versions || has_needs;
    let has_tls = layout.spaces.contains_key(&Slot::Tls);
    let has_property = iface
        .sections
        .iter()
        .any(|s| s.name == ".note.gnu.property");
    let has_abiflags = iface.sections.iter().any(|s| s.name == ".MIPS.abiflags");

    // Strings first: their offsets are needed by the version definitions.
    let needed: Vec<StringId> = iface
        .needed
        .iter()
        .map(|n| w.add_dynamic_string(n.as_bytes()))
        .collect();
    let soname = iface
        .soname
        .as_ref()
        .map(|s| w.add_dynamic_string(s.as_bytes()));
    let names: Vec<StringId> = iface
        .symbols
        .iter()
        .map(|s| w.add_dynamic_string(s.name.as_bytes()))
        .collect();
    let import_names: Vec<StringId> = iface
        .imports
        .iter()
        .map(|s| w.add_dynamic_string(s.name.as_bytes()))
        .collect();
    let need_names: Vec<(StringId, Vec<StringId>)> = iface
        .needs
        .iter()
        .map(|n| {
            let file = w.add_dynamic_string(n.file.as_bytes());
            let versions = n
                .versions
                .iter()
                .map(|v| w.add_dynamic_string(v.name.as_bytes()))
                .collect();
            (file, versions)
        })
        .collect();
    let version_names: Vec<(StringId, Vec<StringId>)> = iface
        .versions
        .iter()
        .map(|v| {
            let own = w.add_dynamic_string(v.name.as_bytes());
            let parents = v
                .parents
                .iter()
                .map(|p| w.add_dynamic_string(p.as_bytes()))
                .collect();
            (own, parents)
        })
        .collect();

    // First pass: reserve the file layout in the order it is written.
    let segment_count = 3
        + 1 // PT_DYNAMIC
        + 1 // PT_GNU_RELRO
        + u32::from(has_tls)
        + if has_property { 2 } else { 0 }
        + u32::from(has_abiflags);
    w.reserve_file_header();
    w.reserve_program_headers(segment_count);
    w.reserve_null_section_index();
    let mut reserved = Reserved {
        alloc_arch: Vec::new(),
        other_arch: Vec::new(),
        warnings: Vec::new(),
        nobits_names: HashMap::new(),
        needed,
        soname,
        names,
        import_names,
        version_names,
        need_names,
    };
    for s in &alloc_arch {
        let index = w.reserve_section_index();
        let name = w.add_section_name(s.name.as_bytes());
        let offset = w.reserve(arch_data[s.name.as_str()].len() as u64, s.align.max(1));
        reserved.alloc_arch.push((index, name, offset));
    }
    let dynsym_count = (iface.symbols.len() + iface.imports.len()) as u32 + 1;
    let hash_buckets = (dynsym_count / 2).max(1);
    let hash_offset = if use_hash {
        w.reserve_hash_section_index();
        w.reserve_hash(hash_buckets, dynsym_count)
    } else {
        0
    };
    w.reserve_dynsym_section_index();
    w.reserve_dynstr_section_index();
    if has_versym {
        w.reserve_gnu_versym_section_index();
    }
    if has_versions {
        w.reserve_gnu_verdef_section_index();
    }
    if has_needs {
        w.reserve_gnu_verneed_section_index();
    }
    w.reserve_null_dynamic_symbol_index();
    for _ in &layout.order {
        w.reserve_dynamic_symbol_index();
    }
    let dynsym_offset = w.reserve_dynsym();
    let dynstr_offset = w.reserve_dynstr()?;
    let versym_offset = if has_versym {
        w.reserve_gnu_versym()
    } else {
        0
    };
    let verdef_offset = if has_versions {
        let aux: usize = iface.versions.iter().map(|v| 1 + v.parents.len()).sum();
        w.reserve_gnu_verdef(iface.versions.len() as u16, aux)
    } else {
        0
    };
    let verneed_offset = if has_needs {
        let aux: usize = iface.needs.iter().map(|n| n.versions.len()).sum();
        w.reserve_gnu_verneed(iface.needs.len() as u16, aux)
    } else {
        0
    };
    let end_of_headers = w.reserved_len();

    // NOBITS sections: indices now, addresses below.
    for (slot, name) in &nobits {
        let slot = *slot;
        let index = w.reserve_section_index();
        let name = w.add_section_name(name.as_bytes());
        reserved.nobits_names.insert(slot, name);
        if let Some(space) = layout.spaces.get_mut(&slot) {
            space.index = index.0;
        }
    }
    let dynamic_count = iface.needed.len()
        + usize::from(iface.soname.is_some())
        + usize::from(use_hash)
        + 4
        + usize::from(has_versym)
        + if has_versions { 2 } else { 0 }
        + if has_needs { 2 } else { 0 }
        + 1;
    w.reserve_dynamic_section_index();
    let dynamic_offset = w.reserve_dynamic(dynamic_count);
    for s in &other_arch {
        let index = w.reserve_section_index();
        let name = w.add_section_name(s.name.as_bytes());
        let offset = w.reserve(arch_data[s.name.as_str()].len() as u64, s.align.max(1));
        reserved.other_arch.push((index, name, offset));
    }
    for (name, data) in &warning_data {
        let index = w.reserve_section_index();
        let name = w.add_section_name(name.as_bytes());
        let offset = w.reserve(data.len() as u64, 1);
        reserved.warnings.push((index, name, offset));
    }
    w.reserve_shstrtab_section_index();
    w.reserve_shstrtab()?;
    w.reserve_section_headers();

    // Addresses: segment 1 maps the file from 0, the others follow on fresh pages.
    let mut va = end_of_headers;
    let mut rodata_end = va;
    for (slot, space) in layout.spaces.iter_mut() {
        if let Slot::Data(Region::Rodata, _) = slot {
            space.addr = align_up(va, space.align);
            va = space.addr + space.size;
            rodata_end = va;
        }
    }
    let text_offset = align_up(end_of_headers, TEXT_SLOT);
    let text_va = align_up(rodata_end, PAGE) + text_offset % PAGE;
    let text_size = layout.spaces.get(&Slot::Text).map_or(0, |s| s.size);
    if let Some(text) = layout.spaces.get_mut(&Slot::Text) {
        text.addr = text_va;
    }
    let rw_va = align_up(text_va + text_size, PAGE) + dynamic_offset % PAGE;
    let tls_align = layout.spaces.get(&Slot::Tls).map_or(1, |s| s.align);
    let tls_size = layout.spaces.get(&Slot::Tls).map_or(0, |s| s.size);
    if let Some(tls) = layout.spaces.get_mut(&Slot::Tls) {
        tls.addr = rw_va;
    }
    let dynamic_size = dynamic_count as u64 * if iface.file.elf64 { 16 } else { 8 };
    let mut va = rw_va + dynamic_size;
    let mut relro_end = va;
    for in_relro in [true, false] {
        for (slot, space) in layout.spaces.iter_mut() {
            if matches!(slot, Slot::Data(r, _) if *r != Region::Rodata && r.in_relro() == in_relro)
            {
                space.addr = align_up(va, space.align);
                va = space.addr + space.size;
            }
        }
        if in_relro {
            relro_end = va;
        }
    }
    let rw_end = va;

    // Second pass: write everything in the reserved order.
    let osabi = elf::OsAbi(iface.file.os_abi);
    w.write_file_header(&FileHeader {
        os_abi: osabi,
        abi_version: iface.file.abi_version,
        e_type: elf::ET_DYN,
        e_machine: elf::Machine(iface.file.machine),
        e_entry: 0,
        e_flags: elf::FileFlags(iface.file.flags),
    })?;
    w.write_align_program_headers();
    let load = |flags: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64| ProgramHeader {
        p_type: elf::PT_LOAD,
        p_flags: elf::ProgramFlags(flags),
        p_offset: offset,
        p_vaddr: vaddr,
        p_paddr: vaddr,
        p_filesz: filesz,
        p_memsz: memsz,
        p_align: PAGE,
    };
    w.write_program_header(&load(elf::PF_R.0, 0, 0, end_of_headers, rodata_end));
    w.write_program_header(&load(
        elf::PF_R.0 | elf::PF_X.0,
        text_offset,
        text_va,
        0,
        text_size,
    ));
    w.write_program_header(&load(
        elf::PF_R.0 | elf::PF_W.0,
        dynamic_offset,
        rw_va,
        dynamic_size,
        rw_end - rw_va,
    ));
    w.write_program_header(&ProgramHeader {
        p_type: elf::PT_DYNAMIC,
        p_flags: elf::ProgramFlags(elf::PF_R.0 | elf::PF_W.0),
        p_offset: dynamic_offset,
        p_vaddr: rw_va,
        p_paddr: rw_va,
        p_filesz: dynamic_size,
        p_memsz: dynamic_size,
        p_align: if iface.file.elf64 { 8 } else { 4 },
    });
    w.write_program_header(&ProgramHeader {
        p_type: elf::PT_GNU_RELRO,
        p_flags: elf::PF_R,
        p_offset: dynamic_offset,
        p_vaddr: rw_va,
        p_paddr: rw_va,
        p_filesz: dynamic_size,
        p_memsz: relro_end - rw_va,
        p_align: 1,
    });
    if has_tls {
        w.write_program_header(&ProgramHeader {
            p_type: elf::PT_TLS,
            p_flags: elf::PF_R,
            p_offset: dynamic_offset,
            p_vaddr: rw_va,
            p_paddr: rw_va,
            p_filesz: 0,
            p_memsz: tls_size,
            p_align: tls_align,
        });
    }
    for (s, (_, _, offset)) in alloc_arch.iter().zip(&reserved.alloc_arch) {
        let size = arch_data[s.name.as_str()].len() as u64;
        let header = |p_type| ProgramHeader {
            p_type,
            p_flags: elf::PF_R,
            p_offset: *offset,
            p_vaddr: *offset,
            p_paddr: *offset,
            p_filesz: size,
            p_memsz: size,
            p_align: s.align.max(1),
        };
        match s.name.as_str() {
            ".note.gnu.property" => {
                w.write_program_header(&header(elf::PT_NOTE));
                w.write_program_header(&header(elf::PT_GNU_PROPERTY));
            }
            ".MIPS.abiflags" => w.write_program_header(&header(elf::PT_MIPS_ABIFLAGS)),
            _ => {}
        }
    }

    for s in &alloc_arch {
        w.write_align(s.align.max(1));
        w.write(&arch_data[s.name.as_str()]);
    }
    if use_hash {
        w.write_hash(hash_buckets, dynsym_count, |i| {
            let name = match layout.order[i.checked_sub(1)? as usize] {
                Entry::Export(e) => &iface.symbols[e].name,
                Entry::Import(m) => &iface.imports[m].name,
            };
            Some(elf::hash(name.as_bytes()))
        });
    }
    w.write_null_dynamic_symbol();
    for entry in &layout.order {
        let sym = match *entry {
            Entry::Export(i) => {
                let st_name = w.dynamic_string_offset(Some(reserved.names[i]));
                elf_symbol(&iface.symbols[i], st_name, &layout, i)
            }
            Entry::Import(i) => {
                let st_name = w.dynamic_string_offset(Some(reserved.import_names[i]));
                import_symbol(&iface.imports[i], st_name)
            }
        };
        w.write_dynamic_symbol(&sym);
    }
    w.write_dynstr();
    if has_versym {
        w.write_null_gnu_versym();
        for entry in &layout.order {
            let index = match *entry {
                Entry::Export(i) => i,
                Entry::Import(i) => iface.symbols.len() + i,
            };
            w.write_gnu_versym(elf::VersymIndex(layout.versym[index]));
        }
    }
    if has_versions {
        w.write_align_gnu_verdef();
        for (v, (own, parents)) in iface.versions.iter().zip(&reserved.version_names) {
            w.write_gnu_verdef(&Verdef {
                version: elf::VER_DEF_CURRENT,
                flags: elf::VersionFlags(v.flags),
                index: elf::VersionIndex(v.index),
                aux_count: 1 + parents.len() as u16,
                name: w.dynamic_string_offset(Some(*own)),
                hash: elf::hash(v.name.as_bytes()),
            });
            // Parents are written by hand: object 0.40's `write_gnu_verdaux` counts the
            // first (own-name) entry again and so links the last parent to a next entry
            // that does not exist, which GNU ld rejects (".gnu.version_d invalid entry").
            for (k, parent) in parents.iter().enumerate() {
                let next: u32 = if k + 1 < parents.len() { 8 } else { 0 };
                let name = w.dynamic_string_offset(Some(*parent));
                w.write(&verdaux_bytes(name, next, iface.file.big_endian));
            }
        }
    }
    if has_needs {
        w.write_align_gnu_verneed();
        for (need, (file, versions)) in iface.needs.iter().zip(&reserved.need_names) {
            w.write_gnu_verneed(&Verneed {
                version: elf::VER_NEED_CURRENT,
                aux_count: need.versions.len() as u16,
                file: w.dynamic_string_offset(Some(*file)),
            });
            for (v, name) in need.versions.iter().zip(versions) {
                w.write_gnu_vernaux(&Vernaux {
                    flags: elf::VersionFlags(v.flags),
                    index: elf::VersionIndex(v.index),
                    name: w.dynamic_string_offset(Some(*name)),
                    hash: elf::hash(v.name.as_bytes()),
                });
            }
        }
    }
    w.pad_until(dynamic_offset);
    w.write_align_dynamic();
    for id in &reserved.needed {
        w.write_dynamic_string(elf::DT_NEEDED, *id)?;
    }
    if let Some(id) = reserved.soname {
        w.write_dynamic_string(elf::DT_SONAME, id)?;
    }
    if use_hash {
        w.write_dynamic(elf::DT_HASH, hash_offset)?;
    }
    w.write_dynamic(elf::DT_STRTAB, dynstr_offset)?;
    w.write_dynamic(elf::DT_SYMTAB, dynsym_offset)?;
    w.write_dynamic(elf::DT_STRSZ, u64::from(w.dynstr_len()))?;
    w.write_dynamic(elf::DT_SYMENT, if iface.file.elf64 { 24 } else { 16 })?;
    if has_versym {
        w.write_dynamic(elf::DT_VERSYM, versym_offset)?;
    }
    if has_versions {
        w.write_dynamic(elf::DT_VERDEF, verdef_offset)?;
        w.write_dynamic(elf::DT_VERDEFNUM, iface.versions.len() as u64)?;
    }
    if has_needs {
        w.write_dynamic(elf::DT_VERNEED, verneed_offset)?;
        w.write_dynamic(elf::DT_VERNEEDNUM, iface.needs.len() as u64)?;
    }
    w.write_dynamic(elf::DT_NULL, 0)?;
    for (s, (_, _, offset)) in other_arch.iter().zip(&reserved.other_arch) {
        w.pad_until(*offset);
        w.write(&arch_data[s.name.as_str()]);
    }
    for ((_, data), (_, _, offset)) in warning_data.iter().zip(&reserved.warnings) {
        w.pad_until(*offset);
        w.write(data);
    }
    w.write_shstrtab();

    w.write_null_section_header();
    for (s, (_, name, offset)) in alloc_arch.iter().zip(&reserved.alloc_arch) {
        w.write_section_header(&arch_header(
            s,
            &arch_data,
            w.section_name_offset(Some(*name)),
            *offset,
            *offset,
        ));
    }
    if use_hash {
        w.write_hash_section_header(hash_offset);
    }
    w.write_dynsym_section_header(dynsym_offset, 1);
    w.write_dynstr_section_header(dynstr_offset);
    if has_versym {
        w.write_gnu_versym_section_header(versym_offset);
    }
    if has_versions {
        w.write_gnu_verdef_section_header(verdef_offset);
    }
    if has_needs {
        w.write_gnu_verneed_section_header(verneed_offset);
    }
    for (slot, space) in &layout.spaces {
        let Some(name) = reserved.nobits_names.get(slot) else {
            continue;
        };
        let (offset, flags) = nobits_placement(*slot, end_of_headers, text_offset, dynamic_offset);
        w.write_section_header(&SectionHeader {
            sh_name: w.section_name_offset(Some(*name)),
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
    w.write_dynamic_section_header(rw_va);
    for (s, (_, name, offset)) in other_arch.iter().zip(&reserved.other_arch) {
        w.write_section_header(&arch_header(
            s,
            &arch_data,
            w.section_name_offset(Some(*name)),
            *offset,
            0,
        ));
    }
    for ((_, data), (_, name, offset)) in warning_data.iter().zip(&reserved.warnings) {
        w.write_section_header(&SectionHeader {
            sh_name: w.section_name_offset(Some(*name)),
            sh_type: elf::SHT_PROGBITS,
            sh_flags: elf::SectionFlags(0),
            sh_addr: 0,
            sh_offset: *offset,
            sh_size: data.len() as u64,
            sh_link: 0,
            sh_info: 0,
            sh_addralign: 1,
            sh_entsize: 0,
        });
    }
    w.write_shstrtab_section_header();
    Ok(())
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

/// Section names of the stub. Names carry meaning only for gold, which treats a writable
/// `.data.rel.ro` as read-only; the others say what they hold and their alignment.
fn nobits_name(slot: Slot) -> String {
    let base = match slot {
        Slot::Text => return ".text".into(),
        Slot::Tls => return ".tbss".into(),
        Slot::Abs | Slot::Common => return String::new(),
        Slot::Data(Region::Relro | Region::DataNamedRelro, _) => return ".data.rel.ro".into(),
        Slot::Data(Region::Rodata, _) => ".rodata",
        Slot::Data(Region::RelroOther, _) => ".relro",
        Slot::Data(Region::RodataInWritable, _) => ".rodata.rw",
        Slot::Data(..) => ".data",
    };
    match slot {
        Slot::Data(_, align) => format!("{base}.a{align}"),
        _ => base.into(),
    }
}

/// File offset and flags of a NOBITS section: the offset is where its segment's file
/// image ends, as linkers write it.
fn nobits_placement(slot: Slot, rodata: u64, text: u64, rw: u64) -> (u64, u64) {
    let alloc = elf::SHF_ALLOC.0;
    let write = elf::SHF_WRITE.0;
    match slot {
        Slot::Text => (text, alloc | elf::SHF_EXECINSTR.0),
        Slot::Tls => (rw, alloc | write | elf::SHF_TLS.0),
        Slot::Data(Region::Rodata, _) => (rodata, alloc),
        Slot::Data(Region::RodataInWritable, _) => (rw, alloc),
        _ => (rw, alloc | write),
    }
}

fn arch_header(
    s: &ArchSection,
    data: &HashMap<&str, Vec<u8>>,
    sh_name: u32,
    offset: u64,
    addr: u64,
) -> SectionHeader {
    SectionHeader {
        sh_name,
        sh_type: elf::SectionType(s.sh_type),
        sh_flags: elf::SectionFlags(s.flags),
        sh_addr: addr,
        sh_offset: offset,
        sh_size: data[s.name.as_str()].len() as u64,
        sh_link: 0,
        sh_info: 0,
        sh_addralign: s.align,
        sh_entsize: 0,
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

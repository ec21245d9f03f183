//! ELF shared object → [`Interface`]. The only place that parses input ELF for interfaces.
//!
//! It reads what linkers read from a shared object (see lld's `SharedFile::parse` and
//! binutils' `elf_link_add_object_symbols`): the section headers, `.dynsym` with
//! `.gnu.version`, `.gnu.version_d`, the `.dynamic` section, the program headers (lld and
//! mold decide whether a copy-relocated object is read-only from the segments), and the
//! arch note/attribute sections. Everything is bounds-checked: bad input is an error that
//! names the file, never a panic.

use super::{FileType, arch};
use crate::error::Malformed;
use crate::iface::{
    ArchSection, Binding, FileClass, Import, Interface, Key, Kind, NeededVersion, Region,
    SCHEMA_VERSION, Symbol, VersionDef, VersionNeed, Visibility, unique_keys,
};
use foldhash::{HashMap, HashMapExt};
use goblin::container::Ctx;
use goblin::elf::dynamic::{self, Dyn};
use goblin::elf::header::{self, Header};
use goblin::elf::program_header::{self, ProgramHeader};
use goblin::elf::section_header::{self, SectionHeader};
use goblin::elf::sym::{self, Sym};
use goblin::elf::symver::{VerdefSection, VerneedSection, VersymSection};
use scroll::Pread;
use scroll::ctx::SizeWith;
use std::collections::BTreeMap;

const WARNING_PREFIX: &str = ".gnu.warning.";

/// Reads the interface of a shared object held in memory (see [`crate::stubgen::load`] for
/// files). Errors are path-less [`Malformed`] reasons; the caller names the file with
/// [`Error::at`](crate::Error::at).
pub fn read_bytes(bytes: &[u8]) -> Result<Interface, Malformed> {
    let elf = Parsed::new(bytes)?;
    elf.interface()
}

/// A string table read where a name is looked up, not split up front: goblin's `Strtab`
/// splits and UTF-8-checks the whole table on every parse, which was a tenth of a stubgen
/// batch (`.dynstr` is read for symbols, dynamic entries and both version sections).
struct Strings<'a>(&'a [u8]);

impl<'a> Strings<'a> {
    /// The NUL-terminated string at `offset` (a name may be the tail of a longer string,
    /// as linkers merge them), or why it cannot be read, phrased to follow what names it.
    fn get(&self, offset: usize) -> Result<&'a str, String> {
        let tail = self.0.get(offset..).ok_or_else(|| {
            format!(
                "at {offset:#x} lies outside its string table ({:#x} bytes)",
                self.0.len()
            )
        })?;
        let end = memchr::memchr(0, tail)
            .ok_or_else(|| format!("at {offset:#x} runs to the end of its string table"))?;
        std::str::from_utf8(&tail[..end]).map_err(|_| format!("at {offset:#x} is not UTF-8"))
    }
}

/// The parts of an ELF file the interface is made from, parsed and bounds-checked.
struct Parsed<'a> {
    bytes: &'a [u8],
    header: Header,
    ctx: Ctx,
    sections: Vec<SectionHeader>,
    segments: Vec<ProgramHeader>,
    shstrtab: Strings<'a>,
}

impl<'a> Parsed<'a> {
    fn new(bytes: &'a [u8]) -> Result<Self, Malformed> {
        check_magic(bytes)?;
        let (header, ctx) = super::header(bytes)?;
        if FileType::from(header.e_type) != FileType::Dynamic {
            return Err(Malformed(format!(
                "not a shared library (ELF type {}, expected ET_DYN)",
                header::et_to_str(header.e_type)
            )));
        }
        check_table(
            bytes,
            "section header table",
            header.e_shoff,
            header.e_shnum,
            header.e_shentsize,
        )?;
        check_table(
            bytes,
            "program header table",
            header.e_phoff,
            header.e_phnum,
            header.e_phentsize,
        )?;
        let sections =
            SectionHeader::parse(bytes, header.e_shoff as usize, header.e_shnum as usize, ctx)
                .map_err(|e| format!("corrupt section header table: {e}"))?;
        let segments =
            ProgramHeader::parse(bytes, header.e_phoff as usize, header.e_phnum as usize, ctx)
                .map_err(|e| format!("corrupt program header table: {e}"))?;
        let mut parsed = Parsed {
            bytes,
            header,
            ctx,
            sections,
            segments,
            shstrtab: Strings(&[]),
        };
        let shstrndx = parsed.header.e_shstrndx as usize;
        if shstrndx != 0 {
            parsed.shstrtab = parsed.strtab(shstrndx, "section name table")?;
        }
        Ok(parsed)
    }

    fn section_name(&self, sh: &SectionHeader) -> &'a str {
        self.shstrtab.get(sh.sh_name).unwrap_or("")
    }

    /// The file bytes of section `index`, checked against the file size.
    fn section_data(&self, index: usize, what: &str) -> Result<&'a [u8], Malformed> {
        let sh = self
            .sections
            .get(index)
            .ok_or_else(|| format!("{what}: section index {index} does not exist"))?;
        if sh.sh_type == section_header::SHT_NOBITS {
            return Ok(&[]);
        }
        let start = usize::try_from(sh.sh_offset).map_err(|_| format!("{what}: bad offset"))?;
        let len = usize::try_from(sh.sh_size).map_err(|_| format!("{what}: bad size"))?;
        start
            .checked_add(len)
            .and_then(|end| self.bytes.get(start..end))
            .ok_or_else(|| {
                Malformed(format!(
                    "{what} (section {index}) lies outside the file: offset {start:#x}, size {len:#x}, file size {:#x}",
                    self.bytes.len()
                ))
            })
    }

    fn strtab(&self, index: usize, what: &str) -> Result<Strings<'a>, Malformed> {
        self.section_data(index, what).map(Strings)
    }

    fn find_section(&self, sh_type: u32) -> Option<usize> {
        self.sections.iter().position(|s| s.sh_type == sh_type)
    }

    fn interface(&self) -> Result<Interface, Malformed> {
        let dynsym_index = self.find_section(section_header::SHT_DYNSYM).ok_or(
            "no dynamic symbol table (.dynsym): not a shared library, or a static executable",
        )?;
        let dynsym_sh = &self.sections[dynsym_index];
        let dynstr = self.strtab(dynsym_sh.sh_link as usize, "dynamic string table")?;
        let syms = self.dynamic_symbols(dynsym_index)?;
        let (soname, needed, flags_1) = self.dynamic_entries()?;
        if flags_1 & dynamic::DF_1_PIE != 0 {
            return Err("is a position-independent executable, not a shared library".into());
        }
        let versym = VersymSection::parse(self.bytes, &self.sections, self.ctx)
            .map_err(|e| format!("corrupt .gnu.version: {e}"))?;
        let versions = self.version_definitions()?;
        let version_names: HashMap<u16, &str> = versions
            .iter()
            .map(|v| (v.index, v.name.as_str()))
            .collect();
        let needs = self.version_needs()?;
        let needed_versions: HashMap<u16, (&str, &str)> = needs
            .iter()
            .flat_map(|n| {
                n.versions
                    .iter()
                    .map(move |v| (v.index, (n.file.as_str(), v.name.as_str())))
            })
            .collect();
        let mut symbols = Vec::new();
        let mut imports = Vec::new();
        let mut addresses = Vec::new();
        let mut position = 0u32;
        for (i, sym) in syms.iter().enumerate().skip(1) {
            if !is_global(sym) {
                continue;
            }
            position += 1;
            let name = dynstr
                .get(sym.st_name)
                .map_err(|e| format!("dynamic symbol {i}'s name {e}"))?;
            let raw_version = match &versym {
                Some(vs) => {
                    vs.get_at(i)
                        .ok_or_else(|| format!("symbol {name}: no .gnu.version entry"))?
                        .vs_val
                }
                None => 1,
            };
            if sym.st_shndx == section_header::SHN_UNDEF as usize {
                imports.push(import(name, sym, raw_version, position, &needed_versions)?);
                continue;
            }
            let mut symbol = self.symbol(name, sym, raw_version, &version_names)?;
            symbol.position = position;
            addresses.push((symbol.region, sym.st_shndx, sym.st_value));
            symbols.push(symbol);
        }
        link_aliases(&mut symbols, &addresses)?;
        let mut iface = Interface {
            file: self.file_class(),
            imports,
            needed,
            needs,
            schema: SCHEMA_VERSION,
            sections: self.arch_sections()?,
            soname,
            symbols,
            versions,
            warnings: self.warnings()?,
        };
        iface.canonicalize();
        Ok(iface)
    }

    fn dynamic_symbols(&self, index: usize) -> Result<Vec<Sym>, Malformed> {
        let data = self.section_data(index, ".dynsym")?;
        let entsize = Sym::size_with(&self.ctx);
        Sym::parse(data, 0, data.len() / entsize, self.ctx)
            .map_err(|e| Malformed(format!("corrupt .dynsym: {e}")))
    }

    /// `DT_SONAME`, `DT_NEEDED` (in order) and `DT_FLAGS_1`, from the `.dynamic` section.
    fn dynamic_entries(&self) -> Result<(Option<String>, Vec<String>, u64), Malformed> {
        let Some(index) = self.find_section(section_header::SHT_DYNAMIC) else {
            return Ok((None, Vec::new(), 0));
        };
        let data = self.section_data(index, ".dynamic")?;
        let strings = self.strtab(self.sections[index].sh_link as usize, ".dynamic strings")?;
        let string = |d: &Dyn| {
            strings
                .get(d.d_val as usize)
                .map(str::to_owned)
                .map_err(|e| {
                    format!(
                        "dynamic entry {}'s string {e}",
                        dynamic::tag_to_str(d.d_tag)
                    )
                })
        };
        let (mut soname, mut needed, mut flags_1) = (None, Vec::new(), 0);
        let mut offset = 0;
        while offset < data.len() {
            let d: Dyn = data
                .gread_with(&mut offset, self.ctx)
                .map_err(|e| format!("corrupt .dynamic: {e}"))?;
            match d.d_tag {
                dynamic::DT_NULL => break,
                dynamic::DT_SONAME => soname = Some(string(&d)?),
                dynamic::DT_NEEDED => needed.push(string(&d)?),
                dynamic::DT_FLAGS_1 => flags_1 = d.d_val,
                _ => {}
            }
        }
        Ok((soname, needed, flags_1))
    }

    fn version_definitions(&self) -> Result<Vec<VersionDef>, Malformed> {
        let Some(index) = self.find_section(section_header::SHT_GNU_VERDEF) else {
            return Ok(Vec::new());
        };
        let strings = self.strtab(self.sections[index].sh_link as usize, "version strings")?;
        let section = VerdefSection::parse(self.bytes, &self.sections, self.ctx)
            .map_err(|e| format!("corrupt .gnu.version_d: {e}"))?
            .ok_or("corrupt .gnu.version_d")?;
        let name = |offset: usize| {
            strings
                .get(offset)
                .map(str::to_owned)
                .map_err(|e| format!("version name {e}"))
        };
        let mut defs = Vec::new();
        for def in section.iter() {
            let mut aux = def.iter();
            let own = aux
                .next()
                .ok_or_else(|| format!("version definition {} has no name", def.vd_ndx))?;
            defs.push(VersionDef {
                flags: def.vd_flags,
                index: def.vd_ndx,
                name: name(own.vda_name)?,
                parents: aux.map(|a| name(a.vda_name)).collect::<Result<_, _>>()?,
            });
        }
        defs.sort_by_key(|d| d.index);
        Ok(defs)
    }

    fn version_needs(&self) -> Result<Vec<VersionNeed>, Malformed> {
        let Some(index) = self.find_section(section_header::SHT_GNU_VERNEED) else {
            return Ok(Vec::new());
        };
        let strings = self.strtab(self.sections[index].sh_link as usize, "version strings")?;
        let section = VerneedSection::parse(self.bytes, &self.sections, self.ctx)
            .map_err(|e| format!("corrupt .gnu.version_r: {e}"))?
            .ok_or("corrupt .gnu.version_r")?;
        let name = |offset: usize| {
            strings
                .get(offset)
                .map(str::to_owned)
                .map_err(|e| format!("needed version name {e}"))
        };
        let mut needs = Vec::new();
        for need in section.iter() {
            let versions = need
                .iter()
                .map(|aux| {
                    Ok(NeededVersion {
                        flags: aux.vna_flags,
                        index: aux.vna_other,
                        name: name(aux.vna_name)?,
                    })
                })
                .collect::<Result<_, Malformed>>()?;
            needs.push(VersionNeed {
                file: name(need.vn_file)?,
                versions,
            });
        }
        Ok(needs)
    }

    fn symbol(
        &self,
        name: &str,
        sym: &Sym,
        raw_version: u16,
        version_names: &HashMap<u16, &str>,
    ) -> Result<Symbol, Malformed> {
        let region = self.region(name, sym)?;
        let kind = kind(sym);
        let index = raw_version & 0x7fff;
        let version = match index {
            0 | 1 => None,
            n => Some(
                version_names
                    .get(&n)
                    .map(|v| (*v).to_owned())
                    .ok_or_else(|| format!("symbol {name}: version index {n} is not defined"))?,
            ),
        };
        let (section_align, align) = if region.is_data() {
            self.alignment(sym)
                .map_err(|why| Malformed(format!("symbol {name}: {why}")))?
        } else {
            (0, 0)
        };
        Ok(Symbol {
            align,
            alias_of: None,
            binding: binding(sym),
            hidden: raw_version & 0x8000 != 0,
            kind,
            local_version: index == 0,
            name: name.to_owned(),
            other: sym.st_other & !0x3,
            position: 0,
            region,
            section_align,
            size: if kind == Kind::Func { 0 } else { sym.st_size },
            value: self.kept_value(sym, region, kind),
            version,
            visibility: if sym.st_visibility() == sym::STV_PROTECTED {
                Visibility::Protected
            } else {
                Visibility::Default
            },
        })
    }

    /// The part of `st_value` that is interface: all of it for absolute and common symbols
    /// (a common symbol's value is its alignment), the ISA bit of functions on the machines
    /// that have one ([`arch::keeps_isa_bit`]).
    fn kept_value(&self, sym: &Sym, region: Region, kind: Kind) -> u64 {
        match region {
            Region::Abs | Region::Common => sym.st_value,
            Region::Text if kind == Kind::Func && arch::keeps_isa_bit(self.header.e_machine) => {
                sym.st_value & 1
            }
            _ => 0,
        }
    }

    fn region(&self, name: &str, sym: &Sym) -> Result<Region, Malformed> {
        match sym.st_shndx as u32 {
            section_header::SHN_ABS => return Ok(Region::Abs),
            section_header::SHN_COMMON => return Ok(Region::Common),
            _ => {}
        }
        let sh = self.sections.get(sym.st_shndx).ok_or_else(|| {
            format!(
                "symbol {name} is defined in section {}, which does not exist",
                sym.st_shndx
            )
        })?;
        let flags = sh.sh_flags;
        if sym.st_type() == sym::STT_TLS || flags & u64::from(section_header::SHF_TLS) != 0 {
            return Ok(Region::Tls);
        }
        if flags & u64::from(section_header::SHF_EXECINSTR) != 0 {
            return Ok(Region::Text);
        }
        Ok(data_region(
            flags & u64::from(section_header::SHF_WRITE) != 0,
            self.in_read_only_segment(sym.st_value),
            self.in_relro(sym.st_value),
            self.section_name(sh) == ".data.rel.ro",
        ))
    }

    /// GNU ld's test: inside any `PT_GNU_RELRO`, whatever its flags.
    fn in_relro(&self, value: u64) -> bool {
        self.segments.iter().any(|ph| {
            ph.p_type == program_header::PT_GNU_RELRO
                && value >= ph.p_vaddr
                && value - ph.p_vaddr < ph.p_memsz
        })
    }

    /// lld's and mold's test: inside a non-writable `PT_LOAD` or inside `PT_GNU_RELRO`.
    fn in_read_only_segment(&self, value: u64) -> bool {
        self.segments.iter().any(|ph| {
            (ph.p_type == program_header::PT_LOAD || ph.p_type == program_header::PT_GNU_RELRO)
                && ph.p_flags & program_header::PF_W == 0
                && value >= ph.p_vaddr
                && value - ph.p_vaddr < ph.p_memsz
        })
    }

    /// (section alignment, value alignment) as linkers compute them for copy relocations.
    /// A section alignment that is not a power of two is refused, as lld refuses it: no
    /// stub can give a symbol such an alignment, so the stub's own interface would differ
    /// (the fuzz target `elf_read` found one of 40).
    fn alignment(&self, sym: &Sym) -> Result<(u64, u64), Malformed> {
        let section_align = self
            .sections
            .get(sym.st_shndx)
            .map_or(1, |sh| sh.sh_addralign.max(1));
        if !section_align.is_power_of_two() {
            return Err(Malformed(format!(
                "its section's alignment {section_align} is not a power of two"
            )));
        }
        let align = if sym.st_value == 0 {
            section_align
        } else {
            (1u64 << sym.st_value.trailing_zeros().min(63)).min(section_align)
        };
        Ok((section_align, align))
    }

    fn file_class(&self) -> FileClass {
        let ident = &self.header.e_ident;
        FileClass {
            abi_version: ident[header::EI_ABIVERSION],
            big_endian: ident[header::EI_DATA] == header::ELFDATA2MSB,
            elf64: ident[header::EI_CLASS] == header::ELFCLASS64,
            flags: self.header.e_flags,
            machine: self.header.e_machine,
            os_abi: normalized_os_abi(ident[header::EI_OSABI]),
        }
    }

    fn arch_sections(&self) -> Result<Vec<ArchSection>, Malformed> {
        let mut kept = Vec::new();
        for (index, sh) in self.sections.iter().enumerate() {
            let name = self.section_name(sh);
            if ArchSection::kept_type(name).is_none() {
                continue;
            }
            let data = self.section_data(index, name)?;
            let section = ArchSection {
                align: sh.sh_addralign,
                data: hex(data),
                flags: sh.sh_flags,
                name: name.to_owned(),
                sh_type: sh.sh_type,
            };
            section.check()?;
            kept.push(section);
        }
        Ok(kept)
    }

    /// `.gnu.warning.SYMBOL` sections: GNU ld prints their text when a link uses SYMBOL.
    fn warnings(&self) -> Result<BTreeMap<String, String>, Malformed> {
        let mut warnings = BTreeMap::new();
        for (index, sh) in self.sections.iter().enumerate() {
            let name = self.section_name(sh);
            if let Some(symbol) = name.strip_prefix(WARNING_PREFIX) {
                let data = self.section_data(index, name)?;
                let text = data.split(|b| *b == 0).next().unwrap_or_default();
                warnings.insert(
                    symbol.to_owned(),
                    String::from_utf8_lossy(text).into_owned(),
                );
            }
        }
        Ok(warnings)
    }
}

/// The region of a data symbol from the three linkers' tests (see [`Region`]): its
/// section's `SHF_WRITE` and name (gold), whether its address lies in a read-only
/// `PT_LOAD` or `PT_GNU_RELRO` (lld, mold) and whether in any `PT_GNU_RELRO` (GNU ld).
fn data_region(
    writable: bool,
    read_only_segment: bool,
    in_relro: bool,
    named_relro: bool,
) -> Region {
    match (writable, read_only_segment, in_relro, named_relro) {
        (false, true, _, _) => Region::Rodata,
        (false, false, _, _) => Region::RodataInWritable,
        (true, true, _, true) => Region::Relro,
        (true, true, _, false) => Region::RelroOther,
        (true, false, true, true) => Region::RelroWritableSegment,
        (true, false, true, false) => Region::RelroOtherWritableSegment,
        (true, false, false, true) => Region::DataNamedRelro,
        (true, false, false, false) => Region::Data,
    }
}

/// GNU ld marks a library `ELFOSABI_GNU` as soon as it holds one IFUNC or unique symbol,
/// and no linker treats an input library differently for it (the GNU OS/ABI of an output
/// comes from its relocatable inputs): both are `ELFOSABI_NONE` to a consumer, so turning a
/// function into an IFUNC does not change the interface. Other OS/ABIs are kept.
fn normalized_os_abi(os_abi: u8) -> u8 {
    if os_abi == header::ELFOSABI_GNU {
        header::ELFOSABI_NONE
    } else {
        os_abi
    }
}

/// An archive is the one non-ELF file users often hand to stubgen: say what it is.
fn check_magic(bytes: &[u8]) -> Result<(), Malformed> {
    if bytes.starts_with(b"!<arch>\n") {
        return Err("is a static archive (ar), not a shared library".into());
    }
    Ok(())
}

/// A header table must lie inside the file; one that does not means a truncated file (the
/// table starts inside it) or a corrupt offset (it starts beyond the end).
fn check_table(
    bytes: &[u8],
    what: &str,
    offset: u64,
    count: u16,
    entsize: u16,
) -> Result<(), Malformed> {
    let len = bytes.len() as u64;
    let end = offset.saturating_add(u64::from(count) * u64::from(entsize));
    if count == 0 || end <= len {
        return Ok(());
    }
    if offset < len {
        Err(Malformed(format!(
            "truncated ELF file: the {what} ends at {end:#x}, past the end of the file ({len:#x} bytes)"
        )))
    } else {
        Err(Malformed(format!(
            "corrupt {what} offset {offset:#x}: past the end of the file ({len:#x} bytes)"
        )))
    }
}

/// Global, weak or GNU unique, default or protected: what other objects can bind to (when
/// defined) or must provide (when undefined). Linkers skip every other `.dynsym` entry.
fn is_global(sym: &Sym) -> bool {
    let bind = sym.st_bind();
    let visible = matches!(sym.st_visibility(), sym::STV_DEFAULT | sym::STV_PROTECTED);
    matches!(bind, sym::STB_GLOBAL | sym::STB_WEAK | sym::STB_GNU_UNIQUE) && visible
}

fn binding(sym: &Sym) -> Binding {
    match sym.st_bind() {
        sym::STB_WEAK => Binding::Weak,
        sym::STB_GNU_UNIQUE => Binding::Unique,
        _ => Binding::Global,
    }
}

fn import(
    name: &str,
    sym: &Sym,
    raw_version: u16,
    position: u32,
    needed_versions: &HashMap<u16, (&str, &str)>,
) -> Result<Import, Malformed> {
    let (from, version) = match raw_version & 0x7fff {
        0 | 1 => (None, None),
        n => {
            let (file, version) = needed_versions.get(&n).ok_or_else(|| {
                format!("undefined symbol {name}: version index {n} is not needed from any file")
            })?;
            (Some((*file).to_owned()), Some((*version).to_owned()))
        }
    };
    Ok(Import {
        binding: binding(sym),
        from,
        kind: kind(sym),
        name: name.to_owned(),
        position,
        version,
    })
}

fn kind(sym: &Sym) -> Kind {
    match sym.st_type() {
        sym::STT_FUNC | sym::STT_GNU_IFUNC => Kind::Func,
        sym::STT_OBJECT => Kind::Object,
        sym::STT_TLS => Kind::Tls,
        sym::STT_COMMON => Kind::Common,
        _ => Kind::Notype,
    }
}

/// Marks every symbol that shares its address with an earlier one (in canonical order) as an
/// alias of it, and puts the symbols in that order. Addresses are compared within a region and section, as linkers do when
/// redirecting the aliases of a copy-relocated object.
///
/// Two definitions with one key (`name`, `name@VER` or `name@@VER`) are refused: the same
/// definition given twice, or a name holding `@` that reads as another's version. The
/// interface names aliases by key, so its stub could not be written (the fuzz target
/// `stubgen` found a symbol `@` beside an empty name of an empty hidden version).
fn link_aliases(
    symbols: &mut [Symbol],
    addresses: &[(Region, usize, u64)],
) -> Result<(), Malformed> {
    let keys: Vec<Key> = symbols.iter().map(Symbol::key).collect();
    let mut order: Vec<usize> = (0..symbols.len()).collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
    unique_keys(order.iter().map(|&i| keys[i]))?;
    let mut leaders: HashMap<(Region, usize, u64), usize> = HashMap::new();
    let mut aliases = Vec::new();
    for &i in &order {
        let (region, _, _) = addresses[i];
        if matches!(region, Region::Abs | Region::Common) {
            continue;
        }
        match leaders.get(&addresses[i]) {
            Some(&leader) => aliases.push((i, keys[leader].to_string())),
            None => {
                leaders.insert(addresses[i], i);
            }
        }
    }
    drop(keys);
    for (i, leader) in aliases {
        symbols[i].alias_of = Some(leader);
    }
    put_in_order(symbols, &order);
    Ok(())
}

/// Moves `items[order[k]]` to position k, following each cycle of the permutation, so that
/// [`Interface::canonicalize`] finds the symbols in key order and its sort only checks it
/// (sorting the symbols themselves was a fifth of a stubgen batch).
fn put_in_order<T>(items: &mut [T], order: &[usize]) {
    let mut placed = vec![false; items.len()];
    for start in 0..items.len() {
        if placed[start] {
            continue;
        }
        let mut at = start;
        loop {
            placed[at] = true;
            let from = order[at];
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

fn hex(data: &[u8]) -> String {
    use std::fmt::Write;
    data.iter()
        .fold(String::with_capacity(data.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every combination of the linkers' tests, and the region each one is.
    #[test]
    fn data_region_truth_table() {
        use Region::*;
        // (writable, in a read-only segment, in PT_GNU_RELRO, named .data.rel.ro)
        let table = [
            ((false, true, false, false), Rodata),
            ((false, true, true, true), Rodata),
            ((false, false, false, false), RodataInWritable),
            ((false, false, true, true), RodataInWritable),
            ((true, true, true, true), Relro),
            ((true, true, false, true), Relro),
            ((true, true, true, false), RelroOther),
            ((true, true, false, false), RelroOther),
            ((true, false, true, true), RelroWritableSegment),
            ((true, false, true, false), RelroOtherWritableSegment),
            ((true, false, false, true), DataNamedRelro),
            ((true, false, false, false), Data),
        ];
        for ((w, ro, relro, named), region) in table {
            assert_eq!(
                data_region(w, ro, relro, named),
                region,
                "{w} {ro} {relro} {named}"
            );
        }
    }

    #[test]
    fn only_archives_and_non_elf_are_refused_by_magic() {
        let err = |b: &[u8]| read_bytes(b).unwrap_err().0;
        assert!(err(b"!<arch>\nfoo").contains("static archive"));
        assert!(err(b"#!/bin/sh\n").contains("no ELF magic"));
        assert!(err(b"\x7fELF\x02").contains("truncated"));
        assert!(check_magic(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0").is_ok());
    }
}

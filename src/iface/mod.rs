//! The interface model: everything a static linker reads from a shared object, and nothing else.
//!
//! An [`Interface`] is the canonical form of a library's ABI. It is built from an ELF file by
//! the ELF reader (`elf::read`), printed as canonical JSON (fields in sorted order, symbols
//! sorted), hashed with BLAKE3 into the ABI hash, and turned back into a linkable stub by the
//! stub writer (`elf::write`). Anything that is not here cannot influence a link against the
//! stub, so anything a linker's output depends on must be here: the link-identity tests are
//! the judge. The model imports nothing from the rest of the crate: readers, writers and the
//! diff depend on it, never the reverse.
//!
//! Struct fields are declared in alphabetical order so that serde's field order is the sorted
//! key order of canonical JSON (RFC 8785 style; every number here is an integer).

#![warn(missing_docs)]

pub mod ifs;
mod malformed;

pub use malformed::Malformed;

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Version of the canonical JSON schema. Bump on any change that alters the hash of an
/// unchanged library, so stale hashes are never compared with new ones.
pub const SCHEMA_VERSION: u32 = 2;

/// The interface of one shared object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// ELF identification and header fields a linker checks for compatibility.
    pub file: FileClass,
    /// Undefined dynamic symbols the library imports, sorted by position. A linker exports a
    /// program's definition of any of them, and gold numbers every symbol name it reads.
    /// The default interface keeps only those no dependency defines ([`Interface::normalize`]).
    pub imports: Vec<Import>,
    /// `DT_NEEDED` entries, in their original order (linkers search them in order).
    pub needed: Vec<String>,
    /// `.gnu.version_r`: the versions the library needs from each file, in file order.
    pub needs: Vec<VersionNeed>,
    /// Always [`SCHEMA_VERSION`].
    pub schema: u32,
    /// Architecture note and attribute sections that linkers merge or check, by name.
    pub sections: Vec<ArchSection>,
    /// `DT_SONAME`, if the object has one.
    pub soname: Option<String>,
    /// Every exported (defined, global or weak) dynamic symbol, sorted by [`Symbol::sort_key`].
    pub symbols: Vec<Symbol>,
    /// Version definitions in index order (index 1 is the base version).
    pub versions: Vec<VersionDef>,
    /// Link-time warnings (`.gnu.warning.SYMBOL` sections): symbol name → message.
    pub warnings: BTreeMap<String, String>,
}

/// What makes two objects link-compatible: class, byte order, machine, ABI and flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileClass {
    /// `EI_ABIVERSION`, copied so the stub declares the same ABI revision as the library.
    pub abi_version: u8,
    /// `EI_DATA` is big-endian: a stub must use the library's byte order to link at all.
    pub big_endian: bool,
    /// `EI_CLASS` is ELFCLASS64: decides the stub's layout and which objects may link with it.
    pub elf64: bool,
    /// `e_flags`: ARM float ABI, MIPS ABI and ISA, RISC-V float ABI, PPC64 ABI version.
    pub flags: u32,
    /// `e_machine`.
    pub machine: u16,
    /// `EI_OSABI`, e.g. `ELFOSABI_GNU` for a library with IFUNC or unique symbols.
    pub os_abi: u8,
}

/// A section kept verbatim because linkers read it from shared objects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchSection {
    /// `sh_addralign`, copied to the stub's section.
    pub align: u64,
    /// Contents as lowercase hex (canonical and diffable).
    pub data: String,
    /// `sh_flags`, copied to the stub's section.
    pub flags: u64,
    /// The section name (`.note.gnu.property`, `.ARM.attributes`, …), the key linkers merge by.
    pub name: String,
    /// `sh_type` (`SHT_NOTE`, `SHT_ARM_ATTRIBUTES`, …), named `type` in JSON.
    #[serde(rename = "type")]
    pub sh_type: u32,
}

impl ArchSection {
    /// The sections kept, each with the `sh_type` linkers know it by (`SHT_NOTE`,
    /// `SHT_ARM_ATTRIBUTES`, `SHT_MIPS_ABIFLAGS`, `SHT_RISCV_ATTRIBUTES`,
    /// `SHT_GNU_ATTRIBUTES`).
    pub const KEPT: [(&'static str, u32); 5] = [
        (".note.gnu.property", 7),
        (".ARM.attributes", 0x7000_0003),
        (".MIPS.abiflags", 0x7000_002a),
        (".riscv.attributes", 0x7000_0003),
        (".gnu.attributes", 0x6fff_fff5),
    ];

    /// The `sh_type` a kept section named `name` has, or None when no such section is kept.
    pub fn kept_type(name: &str) -> Option<u32> {
        Self::KEPT.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    /// Refuses a section its stub could not carry: one not kept, or of another type than its
    /// name's. Copied as it is, a `.MIPS.abiflags` of type `SHT_GNU_verdef` became the
    /// stub's first version definition section, which readers take for the real one (the
    /// fuzz target `elf_read` found it).
    pub fn check(&self) -> Result<(), Malformed> {
        match Self::kept_type(&self.name) {
            Some(t) if t == self.sh_type => Ok(()),
            Some(t) => Err(Malformed(format!(
                "section {} has type {:#x}, where such a section has {t:#x}",
                self.name, self.sh_type
            ))),
            None => Err(Malformed(format!(
                "section {} is not one a stub keeps",
                self.name
            ))),
        }
    }
}

/// One entry of `.gnu.version_d`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionDef {
    /// `vd_flags` (`VER_FLG_BASE`, `VER_FLG_WEAK`).
    pub flags: u16,
    /// `vd_ndx`, the value `.gnu.version` entries refer to.
    pub index: u16,
    /// The version name (`GLIBC_2.34`) that symbols and consumers' `.gnu.version_r` name.
    pub name: String,
    /// Names of the parent versions (the verdaux entries after the first).
    pub parents: Vec<String>,
}

/// One file of `.gnu.version_r` and the versions needed from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionNeed {
    /// The `DT_NEEDED` name (`vn_file`) the versions are needed from.
    pub file: String,
    /// The versions needed from that file, in file order.
    pub versions: Vec<NeededVersion>,
}

/// One version a library needs from another file (a `vna` entry of `.gnu.version_r`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeededVersion {
    /// `vna_flags` (`VER_FLG_WEAK`).
    pub flags: u16,
    /// `vna_other`: the index `.gnu.version` entries use.
    pub index: u16,
    /// The version name (`GLIBC_2.2.5`), which the dynamic loader checks the file defines.
    pub name: String,
}

/// An undefined dynamic symbol of the library.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Import {
    /// Weak imports may stay undefined at run time; a linker treats them differently.
    pub binding: Binding,
    /// The file the version is needed from, with `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The symbol type as the library's `.dynsym` records it.
    pub kind: Kind,
    /// The symbol name, without version.
    pub name: String,
    /// Position in `.dynsym` among all global symbols, shared with [`Symbol::position`].
    pub position: u32,
    /// The version needed (`vna_name`), with `from`; none for an unversioned import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// The kinds of symbol a consumer can tell apart. `STT_GNU_IFUNC` is [`Kind::Func`]: to a
/// consumer an IFUNC is a function, and glibc turns functions into IFUNCs in bug-fix updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `STT_COMMON`: a tentative definition the linker sizes and places.
    Common,
    /// `STT_FUNC` and `STT_GNU_IFUNC`: callable through the PLT.
    Func,
    /// `STT_NOTYPE`: linker-defined markers and hand-written assembly symbols.
    Notype,
    /// `STT_OBJECT`: data, which a program may copy-relocate (so its size is ABI).
    Object,
    /// `STT_TLS`: thread-local data, reached through TLS relocations.
    Tls,
}

impl Kind {
    /// The canonical JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Common => "common",
            Kind::Func => "func",
            Kind::Notype => "notype",
            Kind::Object => "object",
            Kind::Tls => "tls",
        }
    }
}

/// The symbol bindings a consumer's link can tell apart (local symbols are not exported).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Binding {
    /// `STB_GLOBAL`: the definition a program binds to.
    Global,
    /// `STB_GNU_UNIQUE`: one definition process-wide (C++ inline statics); needs `ELFOSABI_GNU`.
    Unique,
    /// `STB_WEAK`: a program's own definition may override it without a clash.
    Weak,
}

impl Binding {
    /// The canonical JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Binding::Global => "global",
            Binding::Unique => "unique",
            Binding::Weak => "weak",
        }
    }
}

/// Only exported visibilities exist in a `.dynsym` that other objects can bind to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// `STV_DEFAULT`: preemptible, a program's definition may interpose.
    Default,
    /// `STV_PROTECTED`: the library binds to its own definition, so linkers refuse or warn
    /// on copy-relocating it.
    Protected,
}

impl Visibility {
    /// The canonical JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Default => "default",
            Visibility::Protected => "protected",
        }
    }
}

/// Where a symbol lives, as far as a linker can tell. Linkers place copy-relocated objects
/// by three different tests, and a stub must answer all three as the library does:
/// GNU ld treats a section as read-only when it is not writable or lies in `PT_GNU_RELRO`
/// (whatever that segment's flags); gold when it is not writable or is named
/// `.data.rel.ro`; lld and mold when the address lies in a `PT_LOAD` or `PT_GNU_RELRO`
/// without `PF_W` (gold marks its `PT_GNU_RELRO` `RW`, so the three disagree on gold's
/// libraries).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    /// `SHN_ABS`: the value itself is the interface.
    Abs,
    /// `SHN_COMMON`.
    Common,
    /// Writable section outside `PT_GNU_RELRO`.
    Data,
    /// Writable section named `.data.rel.ro` outside `PT_GNU_RELRO` (linked with `-z norelro`).
    DataNamedRelro,
    /// Writable section named `.data.rel.ro` inside `PT_GNU_RELRO`.
    Relro,
    /// Writable section with another name inside `PT_GNU_RELRO` (glibc's `__libc_IO_vtables`).
    RelroOther,
    /// Writable section named `.data.rel.ro` inside a `PT_GNU_RELRO` that has `PF_W`, as gold
    /// writes it: read-only to GNU ld and gold, writable to lld and mold.
    RelroWritableSegment,
    /// Writable section with another name inside a `PT_GNU_RELRO` that has `PF_W`.
    RelroOtherWritableSegment,
    /// Read-only section in a read-only segment.
    Rodata,
    /// Read-only section inside a writable segment.
    RodataInWritable,
    /// Executable section.
    Text,
    /// Thread-local storage.
    Tls,
}

impl Region {
    /// The canonical JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Abs => "abs",
            Region::Common => "common",
            Region::Data => "data",
            Region::DataNamedRelro => "data_named_relro",
            Region::Relro => "relro",
            Region::RelroOther => "relro_other",
            Region::RelroWritableSegment => "relro_writable_segment",
            Region::RelroOtherWritableSegment => "relro_other_writable_segment",
            Region::Rodata => "rodata",
            Region::RodataInWritable => "rodata_in_writable",
            Region::Text => "text",
            Region::Tls => "tls",
        }
    }

    /// Regions whose symbols can be copy-relocated, and so carry alignment.
    pub fn is_data(self) -> bool {
        !matches!(
            self,
            Region::Abs | Region::Common | Region::Text | Region::Tls
        )
    }

    /// Which `PT_GNU_RELRO` of a stub holds the region: `Some(false)` the read-only one,
    /// `Some(true)` the one with `PF_W`, `None` neither.
    pub fn relro(self) -> Option<bool> {
        match self {
            Region::Relro | Region::RelroOther => Some(false),
            Region::RelroWritableSegment | Region::RelroOtherWritableSegment => Some(true),
            _ => None,
        }
    }
}

/// One exported dynamic symbol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Symbol {
    /// Alignment of the symbol's address as linkers compute it for copy relocations:
    /// the section's alignment, reduced by the trailing zeros of the value. Data regions only.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub align: u64,
    /// The sort key of the first symbol (in canonical order) at the same address, when this
    /// one is not that first symbol. Linkers redirect aliases of a copy-relocated object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias_of: Option<String>,
    /// Global, weak or unique: decides whether a program's definition clashes or overrides.
    pub binding: Binding,
    /// The version is non-default (`name@VER`, `VERSYM_HIDDEN`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub hidden: bool,
    /// What a consumer may do with it: call it, copy-relocate it, reach it through TLS.
    pub kind: Kind,
    /// Version index 0 (`VER_NDX_LOCAL`) on an exported symbol, as some MIPS objects have.
    #[serde(default, skip_serializing_if = "is_false")]
    pub local_version: bool,
    /// The symbol name, without version (the version is in `version`).
    pub name: String,
    /// `st_other` bits beyond visibility (AArch64 variant PCS, PPC64 local entry, MIPS).
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    pub other: u8,
    /// Position in the library's `.dynsym` among its global symbols (imports included).
    /// GNU ld (its `.dynstr`), gold (its `.dynsym`) and mold (its PLT) emit a library's
    /// symbols in the order they read them, and gold numbers names, imports included, in
    /// that order: a stub keeps the order to link identically.
    pub position: u32,
    /// Which of the linkers' read-only tests the symbol's section passes (see [`Region`]).
    pub region: Region,
    /// Alignment of the section holding the symbol. Data regions only (GNU ld caps a
    /// copy relocation's alignment by it, lld and mold by the value's alignment too).
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub section_align: u64,
    /// `st_size`, except for functions, whose size no consumer depends on.
    pub size: u64,
    /// `st_value` for `SHN_ABS` and common symbols, and the ISA bit of functions on ARM
    /// (Thumb) and MIPS (MIPS16, microMIPS: in `.dynsym` only the odd value marks them).
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub value: u64,
    /// Name of the version definition, for versions other than the base/global one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Default or protected: linkers refuse or warn on copy-relocating protected data.
    pub visibility: Visibility,
}

impl Symbol {
    /// `name`, `name@VER` (hidden) or `name@@VER` (default): unique within an interface.
    pub fn sort_key(&self) -> String {
        self.key().0.concat()
    }

    /// [`Symbol::sort_key`] borrowed: ordered and compared as the string it spells, without
    /// building it (the keys of every symbol were sorted and compared several times per
    /// library, a tenth of a stubgen batch in allocations).
    pub fn key(&self) -> Key<'_> {
        match &self.version {
            None => Key([&self.name, "", ""]),
            Some(v) if self.hidden => Key([&self.name, "@", v]),
            Some(v) => Key([&self.name, "@@", v]),
        }
    }
}

/// A symbol's key as the parts it is spelled from ([`Symbol::key`]). Equality and order are
/// those of the spelled string, so a name holding `@` compares as the key it reads as.
#[derive(Clone, Copy, Debug)]
pub struct Key<'a>([&'a str; 3]);

impl Key<'_> {
    fn bytes(&self) -> impl Iterator<Item = &[u8]> {
        self.0
            .iter()
            .map(|p| p.as_bytes())
            .filter(|p| !p.is_empty())
    }

    /// Compares the spelled key with `other` (an `alias_of`, say) without spelling it.
    pub fn cmp_str(&self, other: &str) -> Ordering {
        cmp_spelled(self.bytes(), std::iter::once(other.as_bytes()))
    }
}

/// Compares two strings given as runs of parts, comparing slices rather than bytes.
fn cmp_spelled<'x>(
    mut a: impl Iterator<Item = &'x [u8]>,
    mut b: impl Iterator<Item = &'x [u8]>,
) -> Ordering {
    let (mut x, mut y): (&[u8], &[u8]) = (&[], &[]);
    loop {
        if x.is_empty() {
            x = a.next().unwrap_or_default();
        }
        if y.is_empty() {
            y = b.next().unwrap_or_default();
        }
        match (x.is_empty(), y.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }
        let n = x.len().min(y.len());
        match x[..n].cmp(&y[..n]) {
            Ordering::Equal => (x, y) = (&x[n..], &y[n..]),
            unequal => return unequal,
        }
    }
}

impl Ord for Key<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Names that differ within the shorter one decide alone: most pairs of symbols.
        let (a, b) = (self.0[0].as_bytes(), other.0[0].as_bytes());
        let n = a.len().min(b.len());
        match a[..n].cmp(&b[..n]) {
            Ordering::Equal => cmp_spelled(self.bytes(), other.bytes()),
            unequal => unequal,
        }
    }
}

impl PartialOrd for Key<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Key<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Key<'_> {}

/// Refuses two exported symbols with one key among `sorted` (in key order): the same
/// definition given twice, or a name holding `@` that reads as another's version. The
/// interface names aliases by key, and a stub's reader refuses such symbols, so every reader
/// (ELF, canonical JSON, llvm-ifs text) and the stub writer refuse them (the fuzz target
/// `stubgen` found llvm-ifs text naming one object twice, whose stub did not read back).
pub fn unique_keys<'a>(sorted: impl IntoIterator<Item = Key<'a>>) -> Result<(), Malformed> {
    let mut last: Option<Key> = None;
    for key in sorted {
        if last == Some(key) {
            return Err(Malformed(format!(
                "two exported symbols read as {:?}: a definition given twice, or a name \
                 holding `@` that reads as a version",
                key.to_string()
            )));
        }
        last = Some(key);
    }
    Ok(())
}

impl std::fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|p| f.write_str(p))
    }
}

/// The alignment an object of `size` bytes has at most: the power of two at or above it (a
/// size no power of two reaches gets the largest, where `next_power_of_two` overflowed on
/// a size from llvm-ifs text that the fuzz target `elf_read` found).
pub fn natural_align(size: u64) -> u64 {
    size.max(1).checked_next_power_of_two().unwrap_or(1 << 63)
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero_u8(v: &u8) -> bool {
    *v == 0
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

impl Interface {
    /// Canonical JSON: compact, sorted keys (by declaration order), sorted symbols.
    pub fn to_canonical_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("structs of strings and integers always serialize")
    }

    /// The ABI hash: BLAKE3 of the canonical JSON, in hex.
    pub fn abi_hash(&self) -> String {
        blake3::hash(&self.to_canonical_json()).to_hex().to_string()
    }

    /// Puts symbols and sections in canonical order, so that an interface built in any
    /// order (by the ELF reader, from llvm-ifs text, by hand) has one form.
    pub fn canonicalize(&mut self) {
        self.symbols.sort_by(|a, b| a.key().cmp(&b.key()));
        self.imports.sort_by_key(|i| i.position);
        self.sections.sort_by(|a, b| a.name.cmp(&b.name));
    }

    /// Turns an exact interface into the default one: what a program's links and bindings
    /// depend on, without what churns in ABI-neutral updates. `provided` tells whether the
    /// library's own dependencies (its `DT_NEEDED` closure) define a name.
    ///
    /// Kept imports: those no dependency defines. A program linked against the library must
    /// define them (flex's `yylex`, the weak hooks `__gmon_start__` and
    /// `_ITM_registerTMCloneTable`), and GNU ld, gold, lld and mold export a program's
    /// definition only because a library in the link references it. Dropped: the imports a
    /// dependency defines (GNU ld, gold and lld export a program's definition of those
    /// because the dependency in the link defines it; mold does not, so a link with mold
    /// takes the interface with every import, `provided` always false), the versions and
    /// version needs of imports (libssl3 3.0.17 → 3.0.22 dropped
    /// `setsockopt@GLIBC_2.2.5`), and positions: exports keep only their relative order,
    /// imports come first, by name.
    ///
    /// Data alignment becomes `min(section alignment, next_pow2(size))`: an object's C
    /// alignment divides its size and never exceeds its section's, so accesses compiled from
    /// its type still hold, while the address-derived alignment churns with layout (libc6
    /// u7 → u14 moved `sys_nerr` from a 32- to a 16-aligned address). What it gives up: an
    /// object declared over-aligned in a header (`__attribute__((aligned(64)))` on a small
    /// variable) is promised less than its declaration says, and copy relocations are padded
    /// differently from a link against the real library.
    pub fn normalize(&mut self, provided: &dyn Fn(&str) -> bool) {
        self.needs.clear();
        self.imports.retain(|i| !provided(&i.name));
        for import in &mut self.imports {
            import.from = None;
            import.version = None;
        }
        self.imports.sort_by(|a, b| a.name.cmp(&b.name));
        self.imports.dedup_by(|a, b| a.name == b.name);
        for (rank, import) in self.imports.iter_mut().enumerate() {
            import.position = rank as u32 + 1;
        }
        let first = self.imports.len() as u32 + 1;
        let mut order: Vec<usize> = (0..self.symbols.len()).collect();
        order.sort_by_key(|&i| self.symbols[i].position);
        for (rank, i) in order.into_iter().enumerate() {
            self.symbols[i].position = first + rank as u32;
        }
        for sym in &mut self.symbols {
            if sym.region.is_data() {
                let align = sym.section_align.max(1).min(natural_align(sym.size));
                sym.align = align;
                sym.section_align = align;
            }
        }
    }

    /// Parses canonical (or hand-written) JSON, checking the schema version. Another of
    /// abicut's JSON files (a graph, a plan) is named as such: its string `schema` would
    /// otherwise read as "invalid type: string, expected u32".
    pub fn from_json(bytes: &[u8]) -> Result<Interface, Malformed> {
        #[derive(Deserialize)]
        struct Probe {
            schema: Option<serde_json::Value>,
        }
        const WANTED: &str = "an interface (canonical JSON as `abicut stubgen --format json` \
                              writes it, a JSON object with a numeric \"schema\")";
        if let Ok(Probe {
            schema: Some(serde_json::Value::String(s)),
        }) = serde_json::from_slice(bytes)
        {
            return Err(Malformed(format!("is {s} JSON, not {WANTED}")));
        }
        let mut iface: Interface =
            serde_json::from_slice(bytes).map_err(|e| format!("malformed interface JSON: {e}"))?;
        if iface.schema != SCHEMA_VERSION {
            return Err(Malformed(format!(
                "interface schema {} is not supported (this abicut reads schema {SCHEMA_VERSION})",
                iface.schema
            )));
        }
        iface.canonicalize();
        unique_keys(iface.symbols.iter().map(Symbol::key))?;
        Ok(iface)
    }
}

#[cfg(test)]
mod tests {
    use super::{Binding, Kind, Region, Visibility};

    /// `as_str` is the canonical JSON name, so text that prints it (`abicut diff`) and the
    /// JSON cannot drift.
    #[test]
    fn as_str_is_the_json_name() {
        fn check<T: serde::Serialize>(values: &[T], name: fn(&T) -> &'static str) {
            for v in values {
                assert_eq!(serde_json::to_value(v).ok(), Some(name(v).into()));
            }
        }
        check(
            &[
                Kind::Common,
                Kind::Func,
                Kind::Notype,
                Kind::Object,
                Kind::Tls,
            ],
            |k| k.as_str(),
        );
        check(&[Binding::Global, Binding::Unique, Binding::Weak], |b| {
            b.as_str()
        });
        check(&[Visibility::Default, Visibility::Protected], |v| {
            v.as_str()
        });
        check(
            &[
                Region::Abs,
                Region::Common,
                Region::Data,
                Region::DataNamedRelro,
                Region::Relro,
                Region::RelroOther,
                Region::RelroWritableSegment,
                Region::RelroOtherWritableSegment,
                Region::Rodata,
                Region::RodataInWritable,
                Region::Text,
                Region::Tls,
            ],
            |r| r.as_str(),
        );
    }
}

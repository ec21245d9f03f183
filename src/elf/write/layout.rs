//! Where every symbol of a stub goes: which NOBITS section (slot) and at which address, so
//! that alias groups share an address and each data object's address has exactly the
//! alignment the interface records. This half changes when a linker-compatibility finding
//! does; the emission in `mod.rs` changes with object's writer.

use crate::error::Malformed;
use crate::iface::{Interface, Key, Region, Symbol, unique_keys};
use foldhash::HashMap;
use object::elf;
use std::collections::BTreeMap;

/// The size of a function's slot in `.text`.
pub(super) const TEXT_SLOT: u64 = 16;

/// A `.dynsym` entry of the stub: an exported symbol or an import, by index.
#[derive(Clone, Copy, Debug)]
pub(super) enum Entry {
    Export(usize),
    Import(usize),
}

/// Which NOBITS section a symbol lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Slot {
    Text,
    Tls,
    Data(Region, u64),
    Abs,
    Common,
}

/// A NOBITS section of the stub and the groups placed in it.
#[derive(Debug, Default)]
pub(super) struct Space {
    pub(super) align: u64,
    pub(super) size: u64,
    pub(super) addr: u64,
    pub(super) index: u32,
}

/// Where every symbol goes: its slot and its offset inside the slot's section.
pub(super) struct Layout {
    /// `.dynsym` entries after the null symbol, in recorded position order.
    pub(super) order: Vec<Entry>,
    pub(super) placed: Vec<(Slot, u64)>,
    pub(super) spaces: BTreeMap<Slot, Space>,
    pub(super) versym: Vec<u16>,
}

impl Layout {
    /// Places every symbol; `versioned` says whether the stub has `.gnu.version`.
    pub(super) fn new(iface: &Interface, versioned: bool) -> Result<Layout, Malformed> {
        let keys: Vec<Key> = iface.symbols.iter().map(Symbol::key).collect();
        let mut by_key: Vec<usize> = (0..keys.len()).collect();
        by_key.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
        unique_keys(by_key.iter().map(|&i| keys[i]))?;
        let leaders: Vec<Option<usize>> = iface
            .symbols
            .iter()
            .enumerate()
            .map(|(i, sym)| match &sym.alias_of {
                Some(leader) => by_key
                    .binary_search_by(|&j| keys[j].cmp_str(leader))
                    .ok()
                    .map(|at| by_key[at]),
                None => Some(i),
            })
            .collect();
        let group_size = group_sizes(&iface.symbols, &leaders);
        let mut spaces: BTreeMap<Slot, Space> = BTreeMap::new();
        let mut offsets: Vec<Option<u64>> = vec![None; keys.len()];
        let mut placed = Vec::with_capacity(iface.symbols.len());
        for (i, sym) in iface.symbols.iter().enumerate() {
            let slot = slot_of(sym);
            let offset = match (&sym.alias_of, leaders[i]) {
                (None, _) => allocate(&mut spaces, slot, sym, group_size[i]),
                (Some(leader), at) => {
                    let offset = at.and_then(|l| offsets[l]).ok_or_else(|| {
                        format!(
                            "symbol {} is an alias of {leader}, which comes later or does not \
                             exist",
                            keys[i]
                        )
                    })?;
                    // An alias shares its leader's address, so its section: the reader
                    // links aliases within one region and section only (the fuzz target
                    // `json_read` found an object said to alias a function, whose section
                    // the stub never made).
                    if at.is_some_and(|l| placed.get(l).is_some_and(|&(s, _)| s != slot)) {
                        return Err(Malformed(format!(
                            "symbol {} is an alias of {leader}, which lies in another section",
                            keys[i]
                        )));
                    }
                    offset
                }
            };
            placed.push((slot, offset));
            offsets[i] = Some(offset);
        }
        let versym = if versioned {
            versym_entries(iface)?
        } else {
            Vec::new()
        };
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

    pub(super) fn value(&self, i: usize, sym: &Symbol) -> u64 {
        let (slot, offset) = self.placed[i];
        match slot {
            Slot::Abs | Slot::Common => sym.value,
            Slot::Tls => offset,
            Slot::Text => self.spaces[&slot].addr + offset + sym.value,
            Slot::Data(..) => self.spaces[&slot].addr + offset,
        }
    }
}

/// The size each alias group needs, at its leader's index (`leaders[i]`: the index of
/// symbol i's leader, itself for a leader): the largest member, and at least one byte so
/// that distinct groups never share an address.
fn group_sizes(symbols: &[Symbol], leaders: &[Option<usize>]) -> Vec<u64> {
    let mut sizes = vec![1; symbols.len()];
    for (sym, leader) in symbols.iter().zip(leaders) {
        if let Some(l) = *leader {
            sizes[l] = sizes[l].max(sym.size);
        }
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

/// `.gnu.version` values of the exports followed by those of the imports.
fn versym_entries(iface: &Interface) -> Result<Vec<u16>, Malformed> {
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
                Malformed(format!(
                    "symbol {} has version {v}, which is not defined",
                    sym.name
                ))
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
                    Malformed(format!(
                        "import {} needs version {v} from {file}, which is not listed",
                        imp.name
                    ))
                }),
            _ => Ok(1),
        });
    exports.chain(imports).collect()
}

pub(super) fn align_up(value: u64, align: u64) -> u64 {
    value.div_ceil(align.max(1)) * align.max(1)
}

/// Section names of the stub. Names carry meaning only for gold, which treats a writable
/// `.data.rel.ro` as read-only; the others say what they hold and their alignment.
pub(super) fn nobits_name(slot: Slot) -> String {
    let base = match slot {
        Slot::Text => return ".text".into(),
        Slot::Tls => return ".tbss".into(),
        Slot::Abs | Slot::Common => return String::new(),
        Slot::Data(Region::Relro | Region::DataNamedRelro, _) => return ".data.rel.ro".into(),
        Slot::Data(Region::Rodata, _) => ".rodata",
        Slot::Data(Region::RelroWritableSegment, _) => return ".data.rel.ro".into(),
        Slot::Data(Region::RelroOther | Region::RelroOtherWritableSegment, _) => ".relro",
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
pub(super) fn nobits_placement(slot: Slot, rodata: u64, text: u64, rw: u64) -> (u64, u64) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iface::{Binding, Kind, Visibility};
    use proptest::prelude::*;

    fn data(align: u64, section_align: u64, size: u64) -> Symbol {
        Symbol {
            align,
            alias_of: None,
            binding: Binding::Global,
            hidden: false,
            kind: Kind::Object,
            local_version: false,
            name: "d".into(),
            other: 0,
            position: 0,
            region: Region::Data,
            section_align,
            size,
            value: 0,
            version: None,
            visibility: Visibility::Default,
        }
    }

    /// The alignment a linker reads back from an offset in a section aligned to
    /// `section_align` (read.rs `alignment`: a value of 0 has the section's).
    fn read_back(offset: u64, section_align: u64) -> u64 {
        if offset == 0 {
            section_align
        } else {
            (1u64 << offset.trailing_zeros()).min(section_align)
        }
    }

    proptest! {
        /// Whatever the order and sizes, every group gets an offset from which linkers read
        /// back exactly its recorded alignment, and no two groups overlap.
        #[test]
        fn allocate_gives_back_the_recorded_alignment(
            shift in 0u32..7,
            groups in proptest::collection::vec((0u32..7, 0u64..100), 1..40),
        ) {
            let section_align = 1u64 << shift;
            let slot = Slot::Data(Region::Data, section_align);
            let mut spaces = BTreeMap::new();
            let mut end = 0;
            for (align_shift, size) in groups {
                let align = (1u64 << align_shift).min(section_align);
                let sym = data(align, section_align, size);
                let offset = allocate(&mut spaces, slot, &sym, size.max(1));
                prop_assert_eq!(read_back(offset, section_align), align);
                prop_assert!(offset >= end, "overlaps the previous group");
                end = offset + size.max(1);
            }
            prop_assert_eq!(spaces[&slot].size, end);
            prop_assert_eq!(spaces[&slot].align, section_align);
        }
    }

    #[test]
    fn functions_get_one_slot_each_and_tls_eight_byte_alignment() {
        let mut spaces = BTreeMap::new();
        let f = data(0, 0, 0);
        assert_eq!(allocate(&mut spaces, Slot::Text, &f, 1), 0);
        assert_eq!(allocate(&mut spaces, Slot::Text, &f, 1), TEXT_SLOT);
        assert_eq!(allocate(&mut spaces, Slot::Tls, &f, 3), 0);
        assert_eq!(allocate(&mut spaces, Slot::Tls, &f, 4), 8);
        assert_eq!(allocate(&mut spaces, Slot::Abs, &f, 4), 0);
    }

    /// Section names and flags by slot: gold reads only the name `.data.rel.ro`; the flags
    /// and the segment a section's offset points into are what GNU ld, lld and mold read.
    #[test]
    fn nobits_names_and_placement() {
        let (alloc, write) = (elf::SHF_ALLOC.0, elf::SHF_WRITE.0);
        let (rodata, text, rw) = (0x100, 0x110, 0x2000);
        let cases = [
            (Slot::Text, ".text", (text, alloc | elf::SHF_EXECINSTR.0)),
            (Slot::Tls, ".tbss", (rw, alloc | write | elf::SHF_TLS.0)),
            (Slot::Data(Region::Rodata, 8), ".rodata.a8", (rodata, alloc)),
            (
                Slot::Data(Region::RodataInWritable, 4),
                ".rodata.rw.a4",
                (rw, alloc),
            ),
            (
                Slot::Data(Region::Relro, 8),
                ".data.rel.ro",
                (rw, alloc | write),
            ),
            (
                Slot::Data(Region::DataNamedRelro, 8),
                ".data.rel.ro",
                (rw, alloc | write),
            ),
            (
                Slot::Data(Region::RelroWritableSegment, 8),
                ".data.rel.ro",
                (rw, alloc | write),
            ),
            (
                Slot::Data(Region::RelroOther, 32),
                ".relro.a32",
                (rw, alloc | write),
            ),
            (
                Slot::Data(Region::RelroOtherWritableSegment, 1),
                ".relro.a1",
                (rw, alloc | write),
            ),
            (
                Slot::Data(Region::Data, 16),
                ".data.a16",
                (rw, alloc | write),
            ),
        ];
        for (slot, name, placement) in cases {
            assert_eq!(nobits_name(slot), name, "{slot:?}");
            assert_eq!(
                nobits_placement(slot, rodata, text, rw),
                placement,
                "{slot:?}"
            );
        }
    }
}

//! What is special about one machine, in one place. Everything else in `elf/` is the same
//! for every `e_machine`; a quirk found on a new target goes here, with the evidence.

use goblin::elf::header::{EM_ARM, EM_MIPS, EM_S390};
use object::elf::{PT_GNU_PROPERTY, PT_MIPS_ABIFLAGS, PT_NOTE, ProgramType};

/// MIPS: the address of the run-time linker map, relative to the address of this dynamic
/// entry itself, so it must change when the entry moves. goblin has no name for it.
pub const DT_MIPS_RLD_MAP_REL: u64 = 0x7000_0035;

/// Whether a stub for `machine` gets a SysV `.hash`. s390x's has 8-byte entries, which
/// object does not write; no linker reads a library's hash table, so s390 stubs go without.
pub fn has_sysv_hash(machine: u16) -> bool {
    machine != EM_S390
}

/// Whether bit 0 of a function's `st_value` is interface: it selects the instruction set
/// the function is entered in, Thumb on ARM, MIPS16 or microMIPS on MIPS (in `.dynsym` the
/// MIPS linkers mark compressed functions by the odd value alone, not by `st_other`). A
/// linker calling the function, or making a PLT entry for it, must know which.
pub fn keeps_isa_bit(machine: u16) -> bool {
    matches!(machine, EM_ARM | EM_MIPS)
}

/// Whether dynamic entry `tag` holds an address relative to the entry's own, so that moving
/// the dynamic array must correct it.
pub fn is_self_relative(machine: u16, tag: u64) -> bool {
    machine == EM_MIPS && tag == DT_MIPS_RLD_MAP_REL
}

/// The segments, besides its `PT_LOAD`, that describe an allocated section a stub copies:
/// the loader and linkers find these sections through their segments.
pub fn extra_segments(section: &str) -> &'static [ProgramType] {
    match section {
        ".note.gnu.property" => &[PT_NOTE, PT_GNU_PROPERTY],
        ".MIPS.abiflags" => &[PT_MIPS_ABIFLAGS],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use goblin::elf::header::{EM_AARCH64, EM_X86_64};

    #[test]
    fn quirks_apply_to_their_machines_only() {
        assert!(!has_sysv_hash(EM_S390) && has_sysv_hash(EM_X86_64));
        assert!(keeps_isa_bit(EM_ARM) && keeps_isa_bit(EM_MIPS));
        assert!(!keeps_isa_bit(EM_AARCH64) && !keeps_isa_bit(EM_X86_64));
        assert!(is_self_relative(EM_MIPS, DT_MIPS_RLD_MAP_REL));
        assert!(!is_self_relative(EM_X86_64, DT_MIPS_RLD_MAP_REL));
        assert_eq!(extra_segments(".MIPS.abiflags"), &[PT_MIPS_ABIFLAGS]);
        assert!(extra_segments(".ARM.attributes").is_empty());
    }
}

//! ELF in and out: [`read`] parses shared objects into interfaces, [`write`](mod@write) writes stubs,
//! [`deps`] reads dependency facts for verification, [`loader`] finds
//! libraries as the dynamic loader does, [`edit`] makes patchelf-style edits. [`validate`]
//! is the structural check `deps` and `edit` share, [`arch`] what is special about one
//! machine.

pub mod arch;
pub mod closure;
pub mod deps;
pub mod edit;
pub mod facts;
pub mod hash;
pub mod image;
pub mod loader;
pub mod read;
pub mod validate;
pub mod write;

use goblin::elf::header::{self, ELFMAG, ET_DYN, ET_EXEC, ET_REL};

/// True when `bytes` starts with the ELF magic.
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(ELFMAG)
}

/// What an ELF file is, from its `e_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// `ET_REL`: an object file (`.o`, or an archive member).
    Relocatable,
    /// `ET_EXEC`: a position-dependent executable.
    Executable,
    /// `ET_DYN`: a shared object, or a position-independent executable.
    Dynamic,
    /// Any other `e_type` (core files, OS- or processor-specific types).
    Other(u16),
}

impl From<u16> for FileType {
    fn from(e_type: u16) -> FileType {
        match e_type {
            ET_REL => FileType::Relocatable,
            ET_EXEC => FileType::Executable,
            ET_DYN => FileType::Dynamic,
            other => FileType::Other(other),
        }
    }
}

/// The type of an ELF file from its first 18 bytes; `None` when they are not ELF, are too
/// few, or name no byte order. Reads no further, so callers can classify files by a prefix.
pub fn file_type(bytes: &[u8]) -> Option<FileType> {
    if !is_elf(bytes) {
        return None;
    }
    let raw = [*bytes.get(16)?, *bytes.get(17)?];
    let e_type = match *bytes.get(header::EI_DATA)? {
        header::ELFDATA2LSB => u16::from_le_bytes(raw),
        header::ELFDATA2MSB => u16::from_be_bytes(raw),
        _ => return None,
    };
    Some(FileType::from(e_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_type_reads_either_byte_order() {
        let mut le = *b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0";
        assert_eq!(file_type(&le), Some(FileType::Dynamic));
        le[16] = 1;
        assert_eq!(file_type(&le), Some(FileType::Relocatable));
        let be = *b"\x7fELF\x01\x02\x01\0\0\0\0\0\0\0\0\0\0\x02";
        assert_eq!(file_type(&be), Some(FileType::Executable));
        let core = *b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x04\0";
        assert_eq!(file_type(&core), Some(FileType::Other(4)));
        assert_eq!(file_type(&le[..17]), None, "too short");
        let mut odd = le;
        odd[5] = 7;
        assert_eq!(file_type(&odd), None, "unknown byte order");
        assert_eq!(file_type(b"!<arch>\n0123456789"), None);
        assert!(is_elf(&le) && !is_elf(b"\x7fEL"));
    }
}

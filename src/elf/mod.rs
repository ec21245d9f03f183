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

use crate::iface::Malformed;
use goblin::container::{Container, Ctx, Endian};
use goblin::elf::header::{self, ELFMAG, ET_DYN, ET_EXEC, ET_REL, Header};
use scroll::Pread;
use scroll::ctx::SizeWith;

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

/// The ELF header of `bytes` and the class and byte order it declares. Every command reads
/// headers here, so a file cut short or with an unknown class is worded one way whichever
/// command meets it.
pub fn header(bytes: &[u8]) -> Result<(Header, Ctx), Malformed> {
    if !is_elf(bytes) {
        return Err("not an ELF file (no ELF magic)".into());
    }
    if bytes.len() < header::SIZEOF_IDENT {
        return Err(truncated(
            "identification",
            header::SIZEOF_IDENT,
            bytes.len(),
        ));
    }
    let container = match bytes[header::EI_CLASS] {
        header::ELFCLASS32 => Container::Little,
        header::ELFCLASS64 => Container::Big,
        c => return Err(Malformed(format!("unknown ELF class {c}"))),
    };
    let endian = match bytes[header::EI_DATA] {
        header::ELFDATA2LSB => Endian::Little,
        header::ELFDATA2MSB => Endian::Big,
        d => return Err(Malformed(format!("unknown ELF data encoding {d}"))),
    };
    let ctx = Ctx::new(container, endian);
    let size = Header::size_with(&ctx);
    if bytes.len() < size {
        return Err(truncated("header", size, bytes.len()));
    }
    let header = bytes
        .pread_with(0, ctx.le)
        .map_err(|e| Malformed(format!("corrupt ELF header: {e}")))?;
    Ok((header, ctx))
}

fn truncated(what: &str, need: usize, have: usize) -> Malformed {
    Malformed(format!(
        "truncated: the ELF {what} needs {need:#x} bytes, the file has {have:#x}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One wording for a bad header, whichever command reads it (stubgen once said "type is
    /// too big (2) for 0" of a 52-byte file where verify said it was truncated).
    #[test]
    fn header_words_each_defect_once() {
        let libz = std::fs::read("/usr/lib/x86_64-linux-gnu/libz.so.1").unwrap();
        let err = |b: &[u8]| header(b).unwrap_err().0;
        assert_eq!(
            err(&libz[..52]),
            "truncated: the ELF header needs 0x40 bytes, the file has 0x34"
        );
        assert_eq!(
            err(&libz[..8]),
            "truncated: the ELF identification needs 0x10 bytes, the file has 0x8"
        );
        assert_eq!(err(b"!<arch>\n"), "not an ELF file (no ELF magic)");
        let mut bad = libz[..64].to_vec();
        bad[header::EI_CLASS] = 7;
        assert_eq!(err(&bad), "unknown ELF class 7");
        assert_eq!(header(&libz[..64]).unwrap().0.e_type, ET_DYN);
    }

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

//! An object as ld.so sees it once mapped: everything past the program headers is read by
//! address, through the dynamic section, as the loader reads it. Section headers, which
//! the loader never looks at, play no part, and neither does `DT_STRSZ`: a string ends at
//! its NUL.
//!
//! Every read is bounded by the bytes the loader maps from the file
//! ([`super::validate::span`]); a read past them is refused, where ld.so would read stray
//! memory or fault.

use super::validate::{Headers, Spans};
use crate::error::Malformed;
use goblin::elf::sym::Sym;
use scroll::Pread;
use std::borrow::Cow;

type Read<T> = std::result::Result<T, Malformed>;

/// A checked file and its headers.
pub struct Image<'a> {
    pub bytes: &'a [u8],
    pub headers: &'a Headers,
    /// [`super::validate::span`] of `headers.phdrs`, computed once.
    spans: Spans,
}

impl<'a> Image<'a> {
    pub fn new(bytes: &'a [u8], headers: &'a Headers) -> Image<'a> {
        Image {
            bytes,
            headers,
            spans: Spans::of(&headers.phdrs),
        }
    }

    pub fn is_64(&self) -> bool {
        self.headers.ctx.container.is_big()
    }

    pub fn little_endian(&self) -> bool {
        self.headers.ctx.le.is_little()
    }

    /// The bytes mapped from the file at `vaddr`, up to the end of the span it lies in.
    pub fn mapped(&self, vaddr: u64) -> Read<&'a [u8]> {
        let (from, to) = self.spans.span(vaddr).ok_or_else(|| {
            Malformed(format!(
                "address {vaddr:#x} is not inside any loaded part of the file"
            ))
        })?;
        usize::try_from(from)
            .ok()
            .zip(usize::try_from(to).ok())
            .and_then(|(f, t)| self.bytes.get(f..t.min(self.bytes.len())))
            .ok_or_else(|| Malformed(format!("address {vaddr:#x} lies past the end of the file")))
    }

    /// `len` bytes at `vaddr`.
    pub fn at(&self, vaddr: u64, len: usize) -> Read<&'a [u8]> {
        self.mapped(vaddr)?.get(..len).ok_or_else(|| {
            Malformed(format!(
                "{len} bytes at {vaddr:#x} run past the loaded part of the file"
            ))
        })
    }

    /// An unsigned integer of `len` (2, 4 or 8) bytes at `vaddr`, in the file's byte order.
    pub fn uint(&self, vaddr: u64, len: usize) -> Read<u64> {
        self.at(vaddr, len).map(|raw| self.decode(raw))
    }

    /// `raw` (2, 4 or 8 bytes, or fewer) as an unsigned integer in the file's byte order.
    pub fn decode(&self, raw: &[u8]) -> u64 {
        let len = raw.len().min(8);
        let raw = &raw[..len];
        let le = self.little_endian();
        // The sizes the readers use, without a copy of unknown length (a call per word).
        match (len, le) {
            (2, true) => u64::from(u16::from_le_bytes([raw[0], raw[1]])),
            (2, false) => u64::from(u16::from_be_bytes([raw[0], raw[1]])),
            (4, true) => u64::from(u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]])),
            (4, false) => u64::from(u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]])),
            _ => {
                let mut b = [0u8; 8];
                if le {
                    b[..len].copy_from_slice(raw);
                    u64::from_le_bytes(b)
                } else {
                    b[8 - len..].copy_from_slice(raw);
                    u64::from_be_bytes(b)
                }
            }
        }
    }

    /// A machine word (address, `r_info`) at `vaddr`.
    pub fn word(&self, vaddr: u64) -> Read<u64> {
        self.uint(vaddr, self.word_size())
    }

    pub fn word_size(&self) -> usize {
        if self.is_64() { 8 } else { 4 }
    }

    /// The NUL-terminated string at `vaddr`.
    pub fn str(&self, vaddr: u64) -> Read<String> {
        self.str_ref(vaddr).map(Cow::into_owned)
    }

    /// [`Image::str`], borrowed from the file where it is valid UTF-8 (almost every name):
    /// a reader that only compares or counts names allocates nothing for them.
    pub fn str_ref(&self, vaddr: u64) -> Read<Cow<'a, str>> {
        let bytes = self.mapped(vaddr)?;
        let end = memchr::memchr(0, bytes).ok_or_else(|| {
            Malformed(format!(
                "string at {vaddr:#x} has no end in the loaded part of the file"
            ))
        })?;
        Ok(String::from_utf8_lossy(&bytes[..end]))
    }

    /// Symbol `index` of the table at `symtab`.
    pub fn sym(&self, symtab: u64, index: u64) -> Read<Sym> {
        let size = if self.is_64() { 24 } else { 16 };
        let at = index
            .checked_mul(size)
            .and_then(|d| symtab.checked_add(d))
            .ok_or_else(|| Malformed::from("symbol index out of range"))?;
        self.at(at, size as usize)?
            .pread_with(0, self.headers.ctx)
            .map_err(|e| Malformed(format!("corrupt symbol {index}: {e}")))
    }
}

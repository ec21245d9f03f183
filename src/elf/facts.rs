//! What `abicut elf --json` prints: the dynamic entries of ELF files that `elf` edits.

use super::edit::ElfFile;
use crate::error::Result;
use serde::Serialize;
use std::path::Path;

/// The `schema` field of ELF facts JSON.
pub const SCHEMA: &str = "abicut-elf";
/// The ELF facts JSON version this build writes.
pub const VERSION: u32 = 1;

/// The facts of several files, in the order given.
#[derive(Debug, Clone, Serialize)]
pub struct FactsFile {
    pub schema: &'static str,
    pub version: u32,
    pub files: Vec<Facts>,
}

/// One file's program interpreter, run path, soname and needed libraries; `null` where
/// the file has none.
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    pub file: String,
    pub interpreter: Option<String>,
    /// `DT_RUNPATH`, or `DT_RPATH` when there is no `DT_RUNPATH`.
    pub rpath: Option<String>,
    pub soname: Option<String>,
    /// `DT_NEEDED` entries in file order.
    pub needed: Vec<String>,
}

impl Facts {
    /// The facts of `elf`, read from `path`.
    pub fn of(path: &Path, elf: &ElfFile) -> Result<Facts> {
        Ok(Facts {
            file: path.to_string_lossy().into_owned(),
            interpreter: elf.interpreter()?,
            rpath: elf.rpath()?,
            soname: elf.soname()?,
            needed: elf.needed()?,
        })
    }
}

impl FactsFile {
    pub fn new(files: Vec<Facts>) -> FactsFile {
        FactsFile {
            schema: SCHEMA,
            version: VERSION,
            files,
        }
    }
}

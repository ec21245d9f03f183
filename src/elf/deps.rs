//! The dynamic-linking facts `verify` needs from an ELF file: NEEDED, RPATH/RUNPATH,
//! interpreter, and the dynamic symbols it defines and imports, with their versions.
//!
//! The file is first checked by [`super::validate`] (bounds of every header,
//! segment, section and of the dynamic string table), so goblin only ever sees
//! structurally sound input.

use crate::error::{Error, Result};
use goblin::elf::Elf;
use goblin::elf::sym::{STB_LOCAL, STB_WEAK, STT_FILE, STT_SECTION};
use std::collections::HashMap;
use std::path::Path;

/// One dynamic symbol: defined (exported) or undefined (imported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynSym {
    pub name: String,
    /// The version name: the definition's for a defined symbol, the needed one for an import.
    pub version: Option<String>,
    /// For a defined symbol: a non-default (`@`) version.
    pub hidden: bool,
    pub weak: bool,
}

/// A version an object needs from one of its libraries (`.gnu.version_r`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub file: String,
    pub version: String,
    pub weak: bool,
}

/// What the dynamic loader would look at.
#[derive(Debug, Clone, Default)]
pub struct Deps {
    pub is_64: bool,
    pub little_endian: bool,
    pub machine: u16,
    /// ET_EXEC or ET_DYN with a dynamic section; static and relocatable files are not.
    pub dynamic: bool,
    pub soname: Option<String>,
    pub needed: Vec<String>,
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    pub interpreter: Option<String>,
    /// `DT_FLAGS_1` (`DF_1_NODEFLIB` keeps the loader out of its default directories).
    pub flags_1: u64,
    pub defined: Vec<DynSym>,
    pub undefined: Vec<DynSym>,
    pub version_defs: Vec<String>,
    pub version_needs: Vec<Need>,
    /// Whether the file has symbol versioning at all (an unversioned library satisfies any version).
    pub versioned: bool,
}

/// Reads the dynamic-linking facts of an ELF file.
pub fn read(path: &Path, bytes: &[u8]) -> Result<Deps> {
    super::validate::check(path, bytes)?;
    let elf = Elf::parse(bytes).map_err(|e| Error::invalid(path, format!("malformed ELF: {e}")))?;
    let str_at = |off: usize| elf.dynstrtab.get_at(off).map(str::to_owned);
    let split = |v: &Vec<&str>| -> Vec<String> {
        v.iter()
            .flat_map(|s| s.split(':'))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let mut deps = Deps {
        is_64: elf.is_64,
        little_endian: elf.little_endian,
        machine: elf.header.e_machine,
        dynamic: elf.dynamic.is_some(),
        soname: elf.soname.map(str::to_owned),
        needed: elf.libraries.iter().map(|s| s.to_string()).collect(),
        rpath: split(&elf.rpaths),
        runpath: split(&elf.runpaths),
        interpreter: elf.interpreter.map(str::to_owned),
        flags_1: elf.dynamic.as_ref().map_or(0, |d| d.info.flags_1),
        versioned: elf.versym.is_some(),
        ..Deps::default()
    };
    let mut def_names: HashMap<u16, String> = HashMap::new();
    if let Some(vd) = &elf.verdef {
        for d in vd.iter() {
            if let Some(name) = d.iter().next().and_then(|a| str_at(a.vda_name)) {
                def_names.insert(d.vd_ndx, name.clone());
                deps.version_defs.push(name);
            }
        }
    }
    let mut need_names: HashMap<u16, String> = HashMap::new();
    if let Some(vn) = &elf.verneed {
        for n in vn.iter() {
            let file = str_at(n.vn_file).unwrap_or_default();
            for a in n.iter() {
                let version = str_at(a.vna_name).unwrap_or_default();
                need_names.insert(a.vna_other, version.clone());
                deps.version_needs.push(Need {
                    file: file.clone(),
                    version,
                    weak: a.vna_flags & 2 != 0,
                });
            }
        }
    }
    for (i, sym) in elf.dynsyms.iter().enumerate().skip(1) {
        if sym.st_bind() == STB_LOCAL || matches!(sym.st_type(), STT_SECTION | STT_FILE) {
            continue;
        }
        let Some(name) = str_at(sym.st_name).filter(|n| !n.is_empty()) else {
            continue;
        };
        let vs = elf.versym.as_ref().and_then(|v| v.get_at(i));
        let index = vs.as_ref().map_or(1, |v| v.version());
        let undefined = sym.st_shndx == 0;
        let names = if undefined { &need_names } else { &def_names };
        let symbol = DynSym {
            name,
            version: if index > 1 {
                names.get(&index).cloned()
            } else {
                None
            },
            hidden: vs.as_ref().is_some_and(|v| v.is_hidden()),
            weak: sym.st_bind() == STB_WEAK,
        };
        if undefined {
            deps.undefined.push(symbol);
        } else {
            deps.defined.push(symbol);
        }
    }
    Ok(deps)
}

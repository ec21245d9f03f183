//! The dynamic-linking facts `verify` needs from an ELF file: NEEDED, RPATH/RUNPATH,
//! interpreter, and the dynamic symbols it defines and imports, with their versions.
//!
//! The file is first checked by [`super::validate`] (bounds of every header, segment and
//! section, and what ld.so refuses before it reads on). Then it is read as the loader reads
//! it ([`super::image`]): from the dynamic section, by address; symbols only as far as
//! the hash tables reach, and definitions only where a lookup finds them ([`super::hash`]).

use super::hash::Table;
use super::image::Image;
use crate::error::{Error, Malformed, Result};
use foldhash::{HashMap, HashMapExt};
use goblin::elf::dynamic::*;
use goblin::elf::header::EM_MIPS;
use goblin::elf::program_header::PT_INTERP;
use goblin::elf::sym::{STB_LOCAL, STB_WEAK, STT_FILE, STT_SECTION};
use std::borrow::Cow;
use std::path::Path;

/// One dynamic symbol: defined (exported) or undefined (imported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynSym {
    pub name: String,
    /// The version name: the definition's for a defined symbol, the needed one for an import.
    pub version: Option<String>,
    /// For a defined symbol: a non-default (`@`) version.
    pub hidden: bool,
    /// The version index (`.gnu.version`, without the hidden bit; 1 when there is none):
    /// glibc lets an unversioned import bind to a definition of index 2 or below.
    pub index: u16,
    pub weak: bool,
}

/// A version an object needs from one of its libraries (`.gnu.version_r`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub file: String,
    pub version: String,
    /// `vna_hash`: ld.so matches a definition by hash and name.
    pub hash: u32,
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
    /// The definitions a lookup can reach through the object's hash table ([`super::hash`]).
    pub defined: Vec<DynSym>,
    pub undefined: Vec<DynSym>,
    /// Its own global definitions that its dynamic relocations name: ld.so looks each up in
    /// the global scope as it does an import, through the hash tables.
    pub looked_up: Vec<DynSym>,
    pub version_defs: Vec<String>,
    /// `vd_hash` of each of `version_defs`, in the same order.
    pub version_def_hashes: Vec<u32>,
    /// Why the version definitions cannot be read, when they cannot: every version another
    /// object needs from this one is then missing.
    pub broken_version_defs: Option<String>,
    /// How far into the dynamic string table the strings it uses reach: `DT_STRSZ` may say
    /// less, and ld.so does not read it.
    pub strings_end: u64,
    /// The string-table offsets that the symbol and version records read name (the
    /// dynamic entries' offsets are in the dynamic section): an edit that rewrites a string
    /// in place must not overwrite a string one of these points into (linkers merge a
    /// string into the tail of another).
    pub named_strings: Vec<u64>,
    pub version_needs: Vec<Need>,
    /// Whether the file has symbol versioning at all (an unversioned library satisfies any version).
    pub versioned: bool,
}

/// Reads the dynamic-linking facts of an ELF file.
pub fn read(path: &Path, bytes: &[u8]) -> Result<Deps> {
    read_as(path, bytes, Part::All)
}

/// [`read`] for a `DT_NEEDED` closure: what finds the objects (soname, needed, paths,
/// interpreter, flags, class and machine) and the definitions a lookup finds (without their
/// versions' names), but not the imports (`undefined`, `looked_up` and the versions they need are left empty). Every check
/// of [`read`] is made, so a file fails here exactly when it fails there, and is not
/// loadable to a closure in the same cases; only the records nobody reads are not made
/// (a tenth of a default `stubgen`'s time).
pub fn read_links(path: &Path, bytes: &[u8]) -> Result<Deps> {
    read_as(path, bytes, Part::Links)
}

/// Only what finds an object's dependencies: the headers (checked as [`read`] checks
/// them) and the dynamic section's soname, needed names, paths and flags, and the
/// interpreter. No symbol or version is read, so a file [`read`] refuses for its symbols or
/// versions is read here. For the root of a closure, whose own definitions the closure
/// never asks for: reading every symbol of each library of a `stubgen` batch only to drop
/// them was a third of the closures' cost.
pub fn read_loader(path: &Path, bytes: &[u8]) -> Result<Deps> {
    read_as(path, bytes, Part::Loader)
}

/// How much of a file [`read_as`] reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Everything ([`read`]).
    All,
    /// All but the imports ([`read_links`]).
    Links,
    /// The dynamic section's links alone ([`read_loader`]).
    Loader,
}

fn read_as(path: &Path, bytes: &[u8], part: Part) -> Result<Deps> {
    let headers = super::validate::check(path, bytes)?;
    let image = Image::new(bytes, &headers);
    let reader = Reader {
        image: &image,
        strings_end: std::cell::Cell::new(0),
        imports: part == Part::All,
        symbols: part != Part::Loader,
        named: std::cell::RefCell::default(),
    };
    reader
        .deps()
        .map(|deps| Deps {
            strings_end: reader.strings_end.get(),
            named_strings: reader.named.take(),
            ..deps
        })
        .map_err(|m| Error::at(path, m))
}

type Read<T> = std::result::Result<T, Malformed>;

/// The most records a version chain is followed for: more than any real object has, and a
/// bound on a chain that loops.
const MAX_RECORDS: usize = 1 << 16;

struct Reader<'a> {
    image: &'a Image<'a>,
    /// The end of the furthest string read so far (offset into the string table).
    strings_end: std::cell::Cell<u64>,
    /// Whether to record imports ([`read_links`] does not).
    imports: bool,
    /// Whether to read versions and symbols at all ([`read_loader`] does not).
    symbols: bool,
    /// The offsets [`Reader::named`] was asked for.
    named: std::cell::RefCell<Vec<u64>>,
}

impl<'a> Reader<'a> {
    fn get(&self, tag: u64) -> Option<u64> {
        self.image.headers.dynamic.as_ref()?.get(tag)
    }

    fn all(&self, tag: u64) -> Vec<u64> {
        let Some(d) = &self.image.headers.dynamic else {
            return Vec::new();
        };
        d.entries
            .iter()
            .filter(|e| e.d_tag == tag)
            .map(|e| e.d_val)
            .collect()
    }

    /// The string at offset `off` of the dynamic string table.
    fn string(&self, off: u64) -> Read<String> {
        self.string_ref(off).map(Cow::into_owned)
    }

    /// [`Reader::string`], borrowed from the file where it can be (symbol names are read
    /// for every symbol, and most are only compared).
    fn string_ref(&self, off: u64) -> Read<Cow<'a, str>> {
        let strtab = self
            .get(DT_STRTAB)
            .ok_or_else(|| Malformed::from("dynamic section without DT_STRTAB"))?;
        let at = strtab
            .checked_add(off)
            .ok_or_else(|| Malformed(format!("string offset {off:#x} out of range")))?;
        let s = self.image.str_ref(at)?;
        let end = off.saturating_add(s.len() as u64 + 1);
        self.strings_end.set(self.strings_end.get().max(end));
        Ok(s)
    }

    /// [`Reader::string`] for a symbol or version record, keeping the offset in
    /// [`Deps::named_strings`].
    fn named(&self, off: u64) -> Read<String> {
        self.named_ref(off).map(Cow::into_owned)
    }

    /// [`Reader::named`], borrowed as [`Reader::string_ref`] is.
    fn named_ref(&self, off: u64) -> Read<Cow<'a, str>> {
        self.named.borrow_mut().push(off);
        self.string_ref(off)
    }

    fn strings(&self, tag: u64) -> Read<Vec<String>> {
        self.all(tag).into_iter().map(|o| self.string(o)).collect()
    }

    fn paths(&self, tag: u64) -> Read<Vec<String>> {
        Ok(self
            .strings(tag)?
            .iter()
            .flat_map(|s| s.split(':'))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// `PT_INTERP`, which the kernel reads by file offset.
    fn interpreter(&self) -> Option<String> {
        let p = self
            .image
            .headers
            .phdrs
            .iter()
            .find(|p| p.p_type == PT_INTERP)?;
        let from = usize::try_from(p.p_offset).ok()?;
        let to = from.checked_add(usize::try_from(p.p_filesz).ok()?)?;
        let raw = self.image.bytes.get(from..to)?;
        let end = memchr::memchr(0, raw).unwrap_or(raw.len());
        Some(String::from_utf8_lossy(&raw[..end]).into_owned())
    }

    fn deps(&self) -> Read<Deps> {
        let h = self.image.headers;
        let mut deps = Deps {
            is_64: self.image.is_64(),
            little_endian: self.image.little_endian(),
            machine: h.header.e_machine,
            dynamic: h.dynamic.is_some(),
            // Read only when another object's DT_NEEDED is matched against it.
            soname: self
                .all(DT_SONAME)
                .first()
                .and_then(|&o| self.string(o).ok()),
            needed: self.strings(DT_NEEDED)?,
            rpath: self.paths(DT_RPATH)?,
            runpath: self.paths(DT_RUNPATH)?,
            interpreter: self.interpreter(),
            flags_1: self.get(DT_FLAGS_1).unwrap_or(0),
            versioned: self.get(DT_VERSYM).is_some(),
            ..Deps::default()
        };
        if !self.symbols {
            return Ok(deps);
        }
        // ld.so reads the definitions only to match another object's need or a symbol's
        // version: a broken record fails those, not the loading of this object.
        let def_names = match self.version_defs(&mut deps) {
            Ok(names) => names,
            Err(why) => {
                deps.version_defs.clear();
                deps.version_def_hashes.clear();
                deps.broken_version_defs = Some(why.0);
                HashMap::new()
            }
        };
        let need_names = self.version_needs(&mut deps)?;
        self.symbols(&mut deps, &def_names, &need_names)?;
        Ok(deps)
    }

    /// `DT_VERDEF`, followed by `vd_next` as ld.so does: index to name.
    fn version_defs(&self, deps: &mut Deps) -> Read<HashMap<u16, String>> {
        let mut names = HashMap::new();
        let Some(start) = self.get(DT_VERDEF) else {
            return Ok(names);
        };
        let img = self.image;
        self.chain(start, 16, "Verdef", |at| {
            self.record_version(at, "Verdef")?;
            let ndx = img.uint(at.wrapping_add(4), 2)? as u16;
            let hash = img.uint(at.wrapping_add(8), 4)? as u32;
            let aux = img.uint(at.wrapping_add(12), 4)?;
            let name = self.named(img.uint(at.wrapping_add(aux), 4)?)?;
            names.insert(ndx & 0x7fff, name.clone());
            deps.version_defs.push(name);
            deps.version_def_hashes.push(hash);
            Ok(())
        })?;
        Ok(names)
    }

    /// `DT_VERNEED`, followed by `vn_next` and `vna_next` as ld.so does: index to name.
    fn version_needs(&self, deps: &mut Deps) -> Read<HashMap<u16, String>> {
        let mut names = HashMap::new();
        let Some(start) = self.get(DT_VERNEED) else {
            return Ok(names);
        };
        let img = self.image;
        self.chain(start, 12, "Verneed", |at| {
            self.record_version(at, "Verneed")?;
            let file = self.named(img.uint(at.wrapping_add(4), 4)?)?;
            let aux = at.wrapping_add(img.uint(at.wrapping_add(8), 4)?);
            self.chain(aux, 12, "Vernaux", |aux| {
                let version = self.named(img.uint(aux.wrapping_add(8), 4)?)?;
                names.insert(
                    img.uint(aux.wrapping_add(6), 2)? as u16 & 0x7fff,
                    version.clone(),
                );
                let need = Need {
                    file: file.clone(),
                    version,
                    hash: img.uint(aux, 4)? as u32,
                    weak: img.uint(aux.wrapping_add(4), 2)? & 2 != 0,
                };
                if self.imports {
                    deps.version_needs.push(need);
                }
                Ok(())
            })
        })?;
        Ok(names)
    }

    /// Visits a chain of version records from `at`, each record's 32-bit `next` (at
    /// `next_at` in it) relative to the record and 0 at the end, as ld.so follows them. A
    /// chain that does not end within [`MAX_RECORDS`] is malformed: ld.so would loop.
    fn chain(
        &self,
        mut at: u64,
        next_at: u64,
        what: &str,
        mut visit: impl FnMut(u64) -> Read<()>,
    ) -> Read<()> {
        for _ in 0..MAX_RECORDS {
            visit(at)?;
            match self.image.uint(at.wrapping_add(next_at), 4)? {
                0 => return Ok(()),
                next => at = at.wrapping_add(next),
            }
        }
        Err(Malformed(format!("{what} chain does not end")))
    }

    /// ld.so knows version 1 of Verdef and Verneed records only.
    fn record_version(&self, at: u64, what: &str) -> Read<()> {
        match self.image.uint(at, 2)? {
            1 => Ok(()),
            version => Err(Malformed(format!(
                "unsupported version {version} of {what} record"
            ))),
        }
    }

    /// The symbol indexes the dynamic relocations name (`DT_RELA`, `DT_REL`, `DT_JMPREL`),
    /// sorted, each once, without 0 (a sorted list: a library has thousands of relocations
    /// and a set's hashing was a tenth of reading it).
    fn relocated(&self) -> Read<Vec<u64>> {
        let word = self.image.word_size() as u64;
        let plt = if self.get(DT_PLTREL) == Some(DT_REL) {
            2
        } else {
            3
        };
        let tables = [
            (DT_RELA, DT_RELASZ, 3 * word),
            (DT_REL, DT_RELSZ, 2 * word),
            (DT_JMPREL, DT_PLTRELSZ, plt * word),
        ];
        let mut out = Vec::new();
        for (table, size, ent) in tables {
            let (Some(at), Some(size)) = (self.get(table), self.get(size)) else {
                continue;
            };
            self.image
                .at(at, usize::try_from(size).unwrap_or(usize::MAX))?;
            for i in 0..size / ent {
                let info = self.image.word(at.wrapping_add(i * ent + word))?;
                out.push(self.symbol_of(info));
            }
        }
        out.sort_unstable();
        out.dedup();
        if out.first() == Some(&0) {
            out.remove(0);
        }
        Ok(out)
    }

    /// The symbol index in an `r_info`.
    fn symbol_of(&self, info: u64) -> u64 {
        let d = &self.image;
        match (d.is_64(), d.little_endian()) {
            // MIPS64's little-endian r_info puts the symbol in the first 32 bits.
            (true, true) if d.headers.header.e_machine == EM_MIPS => info & 0xffff_ffff,
            (true, _) => info >> 32,
            (false, _) => info >> 8,
        }
    }

    fn symbols(
        &self,
        deps: &mut Deps,
        def_names: &HashMap<u16, String>,
        need_names: &HashMap<u16, String>,
    ) -> Read<()> {
        let Some(symtab) = self.get(DT_SYMTAB) else {
            return Ok(());
        };
        let table = Table::new(self.image, self.get(DT_GNU_HASH), self.get(DT_HASH));
        let relocated = self.relocated()?;
        let is_relocated = |i: u64| relocated.binary_search(&i).is_ok();
        let count = table
            .symbol_count()?
            .max(relocated.last().map_or(0, |m| m + 1));
        let versym = self.get(DT_VERSYM);
        // The name of every symbol a lookup may stop at, by index (None for the others):
        // pushed in index order, so it grows only as far as the symbols read.
        // `count` is the file's word: a hint, bounded so a corrupt table allocates nothing.
        let hint = count.min(1 << 16) as usize;
        let mut names: Vec<Option<Cow<'a, str>>> = Vec::with_capacity(hint);
        names.push(None);
        let mut defined = Vec::with_capacity(hint);
        for i in 1..count {
            let sym = self.image.sym(symtab, i)?;
            if sym.st_bind() == STB_LOCAL || matches!(sym.st_type(), STT_SECTION | STT_FILE) {
                names.push(None);
                continue;
            }
            let name = self.named_ref(sym.st_name as u64)?;
            // An empty name is looked up like any other, where a relocation names it.
            if name.is_empty() && !is_relocated(i) {
                names.push(None);
                continue;
            }
            let vs = match versym {
                Some(v) => Some(self.image.uint(v.wrapping_add(2 * i), 2)? as u16),
                None => None,
            };
            let index = vs.map_or(1, |v| v & 0x7fff);
            let undefined = sym.st_shndx == 0;
            if undefined && !self.imports {
                names.push(Some(name));
                continue;
            }
            let versions = if undefined { need_names } else { def_names };
            let symbol = DynSym {
                name: name.clone().into_owned(),
                // Without imports, only the names defined are asked for (a default stub's
                // closure): a version string per definition was a tenth of reading one.
                version: (index > 1 && self.imports)
                    .then(|| versions.get(&index).cloned())
                    .flatten(),
                hidden: vs.is_some_and(|v| v & 0x8000 != 0),
                index,
                weak: sym.st_bind() == STB_WEAK,
            };
            names.push(Some(name));
            if undefined {
                deps.undefined.push(symbol);
            } else {
                if self.imports && is_relocated(i) {
                    deps.looked_up.push(symbol.clone());
                }
                defined.push((i as usize, symbol));
            }
        }
        let names: Vec<Option<&str>> = names.iter().map(Option::as_deref).collect();
        let wanted: Vec<&str> = defined.iter().map(|(_, s)| s.name.as_str()).collect();
        let found = table.findable(&wanted, &names)?;
        deps.defined = defined
            .into_iter()
            .filter(|(i, _)| found.get(*i).copied().unwrap_or(false))
            .map(|(_, s)| s)
            .collect();
        Ok(())
    }
}

/// Whether a version need is met by a definition with this name and hash (ld.so's
/// `match_symbol`).
pub fn need_met(need: &Need, deps: &Deps) -> bool {
    deps.version_defs
        .iter()
        .zip(&deps.version_def_hashes)
        .any(|(name, &hash)| *name == need.version && hash == need.hash)
}

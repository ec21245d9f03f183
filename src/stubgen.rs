//! `stubgen`: interfaces of libraries, rendered as stubs, canonical JSON or llvm-ifs text,
//! one at a time or as a parallel batch.

#![warn(missing_docs)]

use crate::elf::closure::{Defined, Resolver};
use crate::error::{Error, Malformed, Result};
use crate::iface::{Interface, ifs};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What `stubgen` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A linkable ELF stub.
    Elf,
    /// The canonical JSON the ABI hash is taken over.
    Json,
    /// llvm-ifs text (IfsVersion 3.0).
    Ifs,
}

impl Format {
    /// The file-name suffix a batch appends to the library's name.
    fn suffix(self) -> &'static str {
        match self {
            Format::Elf => "",
            Format::Json => ".json",
            Format::Ifs => ".ifs",
        }
    }
}

/// Which imports the default interface keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Imports {
    /// Those no library of the library's `DT_NEEDED` closure defines: the ones a program must
    /// provide. GNU ld, gold and lld export a program's definition of the others because the
    /// dependency that defines them is in the link.
    #[default]
    Owed,
    /// Every import name. mold exports a program's definition only when a library in the
    /// link references it, so a program that interposes what a library imports from its
    /// own dependency (a `malloc`, libssl's `ASN1_ANY_it`) needs the name in the stub.
    All,
}

/// Which interface to take.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Keep everything a linker's output can depend on, imports and exact data alignment
    /// included, instead of the default interface; see [`Interface::normalize`].
    pub exact: bool,
    /// Which imports the default interface keeps.
    pub imports: Imports,
    /// Directories searched for the library's dependencies after its own RUNPATH and
    /// before the default ones, as `LD_LIBRARY_PATH` is by the loader.
    pub lib_path: Vec<PathBuf>,
}

/// Loads an interface from a shared library, a stub, canonical JSON or llvm-ifs text,
/// telling them apart by content rather than by name.
pub fn load(path: &Path, options: &Options) -> Result<Interface> {
    load_with(path, options, &Resolver::default())
}

/// [`load`], with the dependencies' parses cached in `resolver` (a batch, or the libraries
/// of one interface tree, share one).
pub fn load_with(path: &Path, options: &Options, resolver: &Resolver) -> Result<Interface> {
    load_source_with(path, options, resolver).map(|(iface, _)| iface)
}

/// [`load_with`], also saying which format the file was in ([`Format::Elf`] for a library
/// or a stub), for reports that must say what that format could not carry.
pub fn load_source_with(
    path: &Path,
    options: &Options,
    resolver: &Resolver,
) -> Result<(Interface, Format)> {
    let bytes = crate::fsx::map(path)?;
    let (parsed, format) = parse_bytes(&bytes);
    let mut iface = parsed.map_err(|reason| Error::at(path, reason))?;
    if !options.exact {
        let provided = match options.imports {
            Imports::Owed => {
                resolver.offer(path, &bytes);
                resolver.defined_names(path, &options.lib_path)
            }
            Imports::All => Defined::default(),
        };
        iface.normalize(&|name| provided.contains(name));
    }
    Ok((iface, format))
}

/// The exact interface in `bytes`, told apart by content as [`load`] does, and the format
/// it was in. Separate from [`parse`] so the fuzz targets (`crate::fuzzing`) read bytes
/// without a file.
pub(crate) fn parse_bytes(bytes: &[u8]) -> (Result<Interface, Malformed>, Format) {
    match bytes.first() {
        Some(b'{') => (Interface::from_json(bytes), Format::Json),
        Some(b'-') if bytes.starts_with(b"--- !ifs-v1") => (
            std::str::from_utf8(bytes)
                .map_err(|_| Malformed::from("llvm-ifs text is not UTF-8"))
                .and_then(ifs::parse),
            Format::Ifs,
        ),
        _ => (crate::elf::read::read_bytes(bytes), Format::Elf),
    }
}

/// Renders an interface in `format`.
pub fn render(iface: &Interface, format: Format, path: &Path) -> Result<Vec<u8>> {
    match format {
        Format::Elf => crate::elf::write::write_stub(iface).map_err(|r| Error::at(path, r)),
        Format::Json => {
            let mut json = iface.to_canonical_json();
            json.push(b'\n');
            Ok(json)
        }
        Format::Ifs => Ok(ifs::render(iface).into_bytes()),
    }
}

/// [`load`] of several libraries in parallel, sharing one resolver; the first failure, in
/// the order given, is the error.
pub fn load_all(paths: &[PathBuf], options: &Options) -> Result<Vec<Interface>> {
    let resolver = Resolver::default();
    paths
        .par_iter()
        .map(|p| load_with(p, options, &resolver))
        .collect()
}

/// The `schema` field of hash JSON.
pub const HASHES_SCHEMA: &str = "abicut-hashes";
/// The hash JSON version this build writes.
pub const HASHES_VERSION: u32 = 1;

/// ABI hashes of libraries, as `stubgen --hash --json` prints them.
#[derive(Debug, Clone, Serialize)]
pub struct Hashes {
    /// Always [`HASHES_SCHEMA`].
    pub schema: &'static str,
    /// Always [`HASHES_VERSION`].
    pub version: u32,
    /// In the order the libraries were given.
    pub libraries: Vec<LibraryHash>,
}

/// One library's ABI hash.
#[derive(Debug, Clone, Serialize)]
pub struct LibraryHash {
    /// The library as given.
    pub path: String,
    /// [`Interface::abi_hash`]: equal hashes mean equal stubs, so a link against either
    /// library gives the same output.
    pub abi_hash: String,
}

impl Hashes {
    /// The document for these libraries, with its schema and version.
    pub fn new(libraries: Vec<LibraryHash>) -> Hashes {
        Hashes {
            schema: HASHES_SCHEMA,
            version: HASHES_VERSION,
            libraries,
        }
    }

    /// The hashes for people and scripts: `HASH  PATH` per line, as `b3sum` prints them. A
    /// path holding a newline, carriage return or backslash is escaped as b3sum escapes it
    /// (`\HASH  na\nme`), so every library stays one line and the list can be checked.
    pub fn to_text(&self) -> String {
        self.libraries
            .iter()
            .map(|l| match escaped(&l.path) {
                Some(path) => format!("\\{}  {path}\n", l.abi_hash),
                None => format!("{}  {}\n", l.abi_hash, l.path),
            })
            .collect()
    }
}

/// `path` with `\\`, newline and carriage return escaped, when it holds any (b3sum's rule).
fn escaped(path: &str) -> Option<String> {
    path.contains(['\\', '\n', '\r']).then(|| {
        path.replace('\\', "\\\\")
            .replace('\n', "\\n")
            .replace('\r', "\\r")
    })
}

impl LibraryHash {
    /// The entry for `path` (printed lossily if not UTF-8).
    pub fn new(path: &Path, abi_hash: String) -> LibraryHash {
        LibraryHash {
            path: path.to_string_lossy().into_owned(),
            abi_hash,
        }
    }
}

/// The result of one library in a batch.
#[derive(Debug)]
pub struct Outcome {
    /// The library as given.
    pub input: PathBuf,
    /// The written file and, if asked for, the ABI hash; or why this library failed.
    pub result: Result<(PathBuf, Option<String>)>,
}

/// Writes the interface of each library to `out_dir` (created if need be) in parallel,
/// with its ABI hash if `hash` (serializing the canonical JSON is a tenth of a batch's
/// time, so only on request). Every library is tried; a failure is reported in its [`Outcome`] and does not
/// stop the others. Two libraries that would be written to one file (`a/libexpat.so.1`,
/// `b/libexpat.so.1`) are refused before anything is written: one would silently replace
/// the other.
pub fn batch(
    libs: &[PathBuf],
    out_dir: &Path,
    format: Format,
    options: &Options,
    hash: bool,
) -> Result<Vec<Outcome>> {
    let outputs = libs
        .iter()
        .map(|lib| output_path(lib, out_dir, format))
        .collect::<Result<Vec<_>>>()?;
    refuse_shared_outputs(libs, &outputs)?;
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let resolver = Resolver::default();
    Ok(libs
        .par_iter()
        .zip(&outputs)
        .map(|(lib, out)| Outcome {
            input: lib.clone(),
            result: make(lib, format, options, hash, &resolver).and_then(|(bytes, abi_hash)| {
                crate::fsx::write_atomic(out, &bytes).map(|()| (out.clone(), abi_hash))
            }),
        })
        .collect())
}

/// Where a batch writes `lib`'s output: `out_dir/<file name><format suffix>`.
fn output_path(lib: &Path, out_dir: &Path, format: Format) -> Result<PathBuf> {
    let name = lib
        .file_name()
        .ok_or_else(|| Error::invalid(lib, "has no file name"))?;
    let mut file_name = name.to_os_string();
    file_name.push(format.suffix());
    Ok(out_dir.join(file_name))
}

fn refuse_shared_outputs(libs: &[PathBuf], outputs: &[PathBuf]) -> Result<()> {
    let mut first: HashMap<&Path, &Path> = HashMap::new();
    for (lib, out) in libs.iter().zip(outputs) {
        if let Some(other) = first.insert(out, lib) {
            return Err(Error::Usage(format!(
                "{} and {} would both be written to {}: give libraries with distinct file \
                 names, or run once per library with -o",
                other.display(),
                lib.display(),
                out.display()
            )));
        }
    }
    Ok(())
}

/// One library's output and, if asked for, its ABI hash.
fn make(
    lib: &Path,
    format: Format,
    options: &Options,
    hash: bool,
    resolver: &Resolver,
) -> Result<(Vec<u8>, Option<String>)> {
    let iface = load_with(lib, options, resolver)?;
    let bytes = render(&iface, format, lib)?;
    Ok((bytes, hash.then(|| iface.abi_hash())))
}

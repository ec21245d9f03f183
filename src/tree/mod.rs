//! Interface trees: what a compile derivation may see of a package, and its Merkle hash.
//!
//! A consumer's build reads more than a library's `.so`: headers, pkg-config and cmake
//! files, libtool archives, crt objects and linker scripts. All of it is the package's
//! interface, so all of it is copied into the tree and hashed, and everything a build
//! cannot read (executables, documentation, data) is left out so that it cannot defeat the
//! cutoff. Each file is put in a [`Class`] by [`classify`], a rule over its path and its
//! first bytes that the README documents.
//!
//! The tree is built in memory ([`build`]), hashed ([`Tree::hash`]) and written beside its
//! destination and renamed into place ([`write`]), so an interrupted run leaves no half tree.
//! [`read`] loads a tree already on disk, for `diff` and for checking a hash.

pub mod tokens;

use crate::elf::closure::Resolver;
use crate::error::{Error, Result};
use crate::store;
use crate::stubgen;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// How headers enter the hash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HeaderMode {
    /// Byte for byte.
    #[default]
    Exact,
    /// Over their C preprocessor tokens ([`tokens::normalize`]): comments and whitespace
    /// do not count.
    Tokens,
}

/// How to build a tree.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The package's own store paths, and what each becomes in the tree.
    pub self_paths: Vec<SelfPath>,
    /// Keep static archives (left out by default: they change with any code change).
    pub with_static: bool,
    pub headers: HeaderMode,
    /// Which imports each stub keeps: `All` when a consumer links with mold (see
    /// [`stubgen::Imports`]).
    pub imports: stubgen::Imports,
}

/// One of the package's own paths (`--self PATH[=TO]`) and what it becomes in the tree: `TO`
/// when given (nix/hooks names the interface derivation's own output there), else a
/// placeholder without the store hash or the version (see [`placeholders`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelfPath {
    pub path: PathBuf,
    pub to: Option<PathBuf>,
}

impl std::str::FromStr for SelfPath {
    type Err = Error;

    /// `PATH` or `PATH=TO`. Nix allows `=` in store names, so the split is at the first `=`
    /// that starts an absolute path.
    fn from_str(s: &str) -> Result<SelfPath> {
        let (path, to) = match s.find("=/") {
            Some(at) => (&s[..at], Some(PathBuf::from(&s[at + 1..]))),
            None => (s, None),
        };
        Ok(SelfPath {
            path: PathBuf::from(path),
            to,
        })
    }
}

/// What a file is to a consumer's build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// An ELF shared object (`ET_DYN`, named `*.so` or `*.so.*`): replaced by its stub.
    SharedObject,
    /// Anything under an `include` directory, or named `*.h`, `*.hh`, `*.hpp`, `*.hxx`.
    Header,
    PkgConfig,
    Cmake,
    Libtool,
    /// A relocatable ELF object named `*.o` (crt objects).
    Object,
    /// A text file named like a shared object (glibc's `libc.so`), or `*.lds`.
    LinkerScript,
    /// Anything under a `nix-support` directory: nixpkgs' stdenv reads what an input
    /// propagates and its setup hook from there, so it shapes a consumer's build.
    NixSupport,
    /// `*.a`, or an `ar` archive by content: kept only with `--with-static`.
    StaticArchive,
    /// Executables, documentation, data: not part of the interface.
    Dropped,
}

impl Class {
    fn kept(self, options: &Options) -> bool {
        match self {
            Class::Dropped => false,
            Class::StaticArchive => options.with_static,
            _ => true,
        }
    }
}

/// One entry of a tree. Directories are implied by the paths of their entries; a
/// directory with nothing kept in it is not part of the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    File { bytes: Vec<u8>, exec: bool },
    Symlink { target: Vec<u8> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub class: Class,
    pub node: Node,
}

/// An interface tree: entries by relative path (bytes, `/`-separated, so non-UTF-8 names
/// survive), in byte order.
#[derive(Clone, Debug, Default)]
pub struct Tree {
    pub entries: BTreeMap<Vec<u8>, Entry>,
    pub headers: HeaderMode,
}

const ELF_MAGIC: &[u8] = b"\x7fELF";
const ET_REL: u16 = 1;
const ET_DYN: u16 = 3;

/// The file-classification rule (README, "interface"). `rel` is the path inside the tree.
pub fn classify(rel: &[u8], bytes: &[u8]) -> Class {
    let name = rel.rsplit(|&c| c == b'/').next().unwrap_or(rel);
    let ext = extension(name);
    if in_documentation(rel) {
        return Class::Dropped;
    }
    let mut dirs = rel.split(|&c| c == b'/').rev().skip(1);
    if dirs.any(|dir| dir == b"nix-support") {
        return Class::NixSupport;
    }
    if bytes.starts_with(ELF_MAGIC) {
        return match elf_type(bytes) {
            Some(ET_DYN) if is_so_name(name) => Class::SharedObject,
            Some(ET_REL) if ext == Some(b"o") => Class::Object,
            // glibc's libmcheck.a is a single object under an archive's name.
            Some(ET_REL) if ext == Some(b"a") => Class::StaticArchive,
            _ => Class::Dropped,
        };
    }
    if bytes.starts_with(b"!<arch>\n") || bytes.starts_with(b"!<thin>\n") || ext == Some(b"a") {
        return Class::StaticArchive;
    }
    let in_include = rel
        .split(|&c| c == b'/')
        .rev()
        .skip(1)
        .any(|dir| dir == b"include");
    match ext {
        _ if in_include => Class::Header,
        Some(b"h" | b"hh" | b"hpp" | b"hxx") => Class::Header,
        Some(b"pc") => Class::PkgConfig,
        Some(b"cmake") => Class::Cmake,
        Some(b"la") => Class::Libtool,
        Some(b"lds") => Class::LinkerScript,
        _ if is_so_name(name) => Class::LinkerScript,
        _ => Class::Dropped,
    }
}

fn extension(name: &[u8]) -> Option<&[u8]> {
    let dot = name.iter().rposition(|&c| c == b'.')?;
    (dot > 0).then(|| &name[dot + 1..])
}

/// `libfoo.so`, `libfoo.so.1`, `libfoo.so.1.2.3` (not `libfoo.so.6-gdb.py`).
fn is_so_name(name: &[u8]) -> bool {
    if name.ends_with(b".so") {
        return true;
    }
    memchr::memmem::rfind(name, b".so.").is_some_and(|at| {
        let version = &name[at + 4..];
        !version.is_empty() && version.iter().all(|&c| c.is_ascii_digit() || c == b'.')
    })
}

/// Documentation trees under `share/`, whose example headers no build includes.
fn in_documentation(rel: &[u8]) -> bool {
    let dirs: Vec<&[u8]> = rel.split(|&c| c == b'/').collect();
    dirs.windows(2).any(|w| {
        w[0] == b"share" && matches!(w[1], b"doc" | b"man" | b"info" | b"gtk-doc" | b"locale")
    })
}

fn elf_type(bytes: &[u8]) -> Option<u16> {
    let raw = [*bytes.get(16)?, *bytes.get(17)?];
    match bytes.get(5)? {
        1 => Some(u16::from_le_bytes(raw)),
        2 => Some(u16::from_be_bytes(raw)),
        _ => None,
    }
}

/// Builds the interface tree of package outputs. One output is mirrored at the tree's root;
/// several go under their file names (Nix store paths have distinct ones), the store hash
/// replaced by the placeholder when the output is one of the `--self` paths.
pub fn build(outputs: &[PathBuf], options: &Options) -> Result<Tree> {
    let selfs = SelfPaths::new(&options.self_paths)?;
    let mut tree = Tree {
        entries: BTreeMap::new(),
        headers: options.headers,
    };
    let mut prefixes = std::collections::BTreeSet::new();
    let own_paths: Vec<&[u8]> = options
        .self_paths
        .iter()
        .map(|p| p.path.as_os_str().as_bytes())
        .collect();
    let given: Vec<&[u8]> = outputs
        .iter()
        .map(|p| p.as_os_str().as_bytes())
        .filter(|p| p.starts_with(b"/"))
        .collect();
    let package = Package {
        selfs: &selfs,
        outputs: &given,
        stubs: stubgen::Options {
            imports: options.imports,
            ..stubgen::Options::default()
        },
        resolver: Resolver::default(),
    };
    for (i, output) in outputs.iter().enumerate() {
        let path = output.as_os_str().as_bytes();
        let own = if own_paths.len() == outputs.len() {
            Some(own_paths[i])
        } else {
            path.starts_with(b"/").then_some(path)
        };
        let prefix = if outputs.len() == 1 {
            Vec::new()
        } else {
            output_prefix(output, &selfs)?
        };
        if !prefixes.insert(prefix.clone()) {
            return Err(Error::invalid(
                output,
                "another output has the same file name",
            ));
        }
        build_output(output, own, &prefix, options, &package, &mut tree)?;
    }
    Ok(tree)
}

/// Where an output goes in a tree of several: under its file name, with its store hash
/// replaced like any other self-reference, or the hash would be in every path of the tree.
fn output_prefix(output: &Path, selfs: &SelfPaths) -> Result<Vec<u8>> {
    let replaced = selfs.replace_text(output.as_os_str().as_bytes());
    let name = Path::new(OsStr::from_bytes(&replaced))
        .file_name()
        .ok_or_else(|| Error::invalid(output, "has no file name to place it under"))?;
    let mut prefix = name.as_bytes().to_vec();
    prefix.push(b'/');
    Ok(prefix)
}

/// What makes outputs one package: its own store paths, and the outputs given together (a
/// `dev` output's `lib/libz.so` may lead into the `out` output by absolute path).
struct Package<'a> {
    selfs: &'a SelfPaths,
    outputs: &'a [&'a [u8]],
    stubs: stubgen::Options,
    /// One for the whole tree: the libraries of a package share their dependencies (every
    /// one of glibc's 274 objects needs libc.so.6), so each is parsed once.
    resolver: Resolver,
}

impl Package<'_> {
    fn contains(&self, target: &[u8]) -> bool {
        self.selfs.contains(target) || self.outputs.iter().any(|o| strip_dir(target, o).is_some())
    }
}

/// A raw item found by the walk.
enum Raw {
    File { path: PathBuf, exec: bool },
    Symlink { target: Vec<u8> },
}

fn build_output(
    root: &Path,
    own: Option<&[u8]>,
    prefix: &[u8],
    options: &Options,
    package: &Package,
    tree: &mut Tree,
) -> Result<()> {
    let selfs = package.selfs;
    let meta = std::fs::metadata(root).map_err(|e| Error::io(root, e))?;
    if !meta.is_dir() {
        return Err(Error::invalid(
            root,
            "is not a directory (a package output)",
        ));
    }
    let mut raw = Vec::new();
    walk(root, Vec::new(), &mut raw)?;
    let files: Vec<(Vec<u8>, Entry)> = raw
        .par_iter()
        .filter_map(|(rel, item)| match item {
            Raw::File { path, exec } => Some(file_entry(rel, path, *exec, package)),
            Raw::Symlink { .. } => None,
        })
        .collect::<Result<_>>()?;
    let files: BTreeMap<Vec<u8>, Entry> = files.into_iter().collect();
    let links: BTreeMap<&[u8], &[u8]> = raw
        .iter()
        .filter_map(|(rel, item)| match item {
            Raw::Symlink { target } => Some((rel.as_slice(), target.as_slice())),
            Raw::File { .. } => None,
        })
        .collect();
    let resolver = Links {
        root,
        own,
        files: &files,
        links: &links,
        package,
    };
    for (rel, target) in &links {
        let class = resolver.class(rel, target)?;
        if class.kept(options) {
            let node = Node::Symlink {
                target: selfs.replace_text(target),
            };
            tree.entries
                .insert([prefix, rel].concat(), Entry { class, node });
        }
    }
    for (rel, entry) in files {
        if entry.class.kept(options) {
            tree.entries.insert([prefix, &rel].concat(), entry);
        }
    }
    Ok(())
}

/// Collects every file and symlink under `dir`; never follows a symlink.
fn walk(dir: &Path, rel: Vec<u8>, out: &mut Vec<(Vec<u8>, Raw)>) -> Result<()> {
    let mut children: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|e| e.map_err(|e| Error::io(dir, e)))
        .collect::<Result<_>>()?;
    children.sort_by_key(|e| e.file_name());
    for child in children {
        let path = child.path();
        let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
        let mut child_rel = rel.clone();
        if !child_rel.is_empty() {
            child_rel.push(b'/');
        }
        child_rel.extend_from_slice(child.file_name().as_bytes());
        let kind = meta.file_type();
        if kind.is_symlink() {
            let target = std::fs::read_link(&path).map_err(|e| Error::io(&path, e))?;
            let target = target.as_os_str().as_bytes().to_vec();
            out.push((child_rel, Raw::Symlink { target }));
        } else if kind.is_dir() {
            walk(&path, child_rel, out)?;
        } else if kind.is_file() {
            let exec = meta.permissions().mode() & 0o111 != 0;
            out.push((child_rel, Raw::File { path, exec }));
        } else {
            return Err(Error::invalid(
                path,
                "is a device, socket or FIFO: a package output holds none, and it cannot be read",
            ));
        }
    }
    Ok(())
}

/// Reads and classifies one file, replacing it by its stub if it is a shared object.
fn file_entry(rel: &[u8], path: &Path, exec: bool, package: &Package) -> Result<(Vec<u8>, Entry)> {
    let bytes = crate::fsx::read(path)?;
    let class = classify(rel, &bytes);
    let bytes = match class {
        Class::SharedObject => {
            let iface = stubgen::load_with(path, &package.stubs, &package.resolver)?;
            stubgen::render(&iface, stubgen::Format::Elf, path)?
        }
        Class::Dropped => Vec::new(),
        _ => bytes,
    };
    let node = Node::File {
        bytes: package.selfs.replace_file(&bytes, path)?,
        exec,
    };
    Ok((rel.to_vec(), Entry { class, node }))
}

/// A symlink takes the class of the file it leads to inside the same output (so it is kept
/// exactly when that file is, and never left dangling into a dropped file); one that leads
/// nowhere inside the output is kept when its own name is. A target outside the output is
/// refused. An absolute target is inside when it lies in the output's own path (`own`: its
/// `--self` path, `/` for a package unpacked from a Debian archive, or the output as given),
/// or in another of the package's outputs (then its own name decides).
struct Links<'a> {
    root: &'a Path,
    own: Option<&'a [u8]>,
    files: &'a BTreeMap<Vec<u8>, Entry>,
    links: &'a BTreeMap<&'a [u8], &'a [u8]>,
    package: &'a Package<'a>,
}

/// Where a symlink leads.
enum Lead {
    /// To this path inside the output.
    Inside(Vec<u8>),
    /// Into another of the package's own outputs.
    OwnOutput,
}

impl Links<'_> {
    fn class(&self, rel: &[u8], target: &[u8]) -> Result<Class> {
        let by_name = classify(rel, b"");
        let mut at = match self.lead(rel, rel, target)? {
            Lead::Inside(at) => at,
            Lead::OwnOutput => return Ok(by_name),
        };
        for _ in 0..40 {
            if let Some(entry) = self.files.get(&at) {
                return Ok(entry.class);
            }
            match self.links.get(at.as_slice()) {
                Some(next) => match self.lead(rel, &at, next)? {
                    Lead::Inside(next) => at = next,
                    Lead::OwnOutput => return Ok(by_name),
                },
                None => return Ok(by_name),
            }
        }
        Ok(by_name)
    }

    fn lead(&self, link: &[u8], from: &[u8], target: &[u8]) -> Result<Lead> {
        let refuse = || escaping(&self.root.join(OsStr::from_bytes(link)), target);
        if !target.starts_with(b"/") {
            return resolve(from, target).map(Lead::Inside).ok_or_else(refuse);
        }
        if let Some(rest) = self.own.and_then(|own| strip_dir(target, own)) {
            return resolve(b"", rest).map(Lead::Inside).ok_or_else(refuse);
        }
        if self.package.contains(target) {
            return Ok(Lead::OwnOutput);
        }
        Err(refuse())
    }
}

/// `path` without the directory `dir`, if it lies in it.
fn strip_dir<'a>(path: &'a [u8], dir: &[u8]) -> Option<&'a [u8]> {
    if dir == b"/" {
        return Some(path);
    }
    let rest = path.strip_prefix(dir)?;
    (rest.is_empty() || rest.starts_with(b"/")).then_some(rest)
}

fn escaping(link: &Path, target: &[u8]) -> Error {
    Error::invalid(
        link,
        format!(
            "symlink to {} points outside the tree (refused, not followed)",
            String::from_utf8_lossy(target)
        ),
    )
}

/// The tree path a relative symlink at `rel` names, or `None` if it leaves the tree.
fn resolve(rel: &[u8], target: &[u8]) -> Option<Vec<u8>> {
    let mut parts: Vec<&[u8]> = rel.split(|&c| c == b'/').collect();
    parts.pop();
    for part in target.split(|&c| c == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join(&b'/'))
}

/// The package's own store paths and what each becomes.
struct SelfPaths {
    paths: Vec<Vec<u8>>,
    matcher: Option<aho_corasick::AhoCorasick>,
    replacements: Vec<Vec<u8>>,
}

impl SelfPaths {
    fn new(given: &[SelfPath]) -> Result<SelfPaths> {
        let bytes = |p: &Path| p.as_os_str().as_bytes().to_vec();
        let paths: Vec<Vec<u8>> = given.iter().map(|s| bytes(&s.path)).collect();
        if let Some(p) = paths.iter().find(|p| !p.starts_with(b"/")) {
            return Err(Error::Usage(format!(
                "--self {}: expected an absolute store path",
                String::from_utf8_lossy(p)
            )));
        }
        // `/` (a package unpacked at the root) only places absolute symlinks; it has no text
        // to replace.
        let replaced: Vec<&SelfPath> = given.iter().filter(|s| s.path != Path::new("/")).collect();
        let matcher = if replaced.is_empty() {
            None
        } else {
            let m = aho_corasick::AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                .build(replaced.iter().map(|s| bytes(&s.path)))
                .map_err(|e| Error::Usage(format!("--self: {e}")))?;
            Some(m)
        };
        let plain: Vec<Vec<u8>> = replaced.iter().map(|s| bytes(&s.path)).collect();
        let placeholders = placeholders(&plain);
        let replacements = replaced
            .iter()
            .zip(placeholders)
            .map(|(s, ph)| s.to.as_deref().map_or(ph, bytes))
            .collect();
        Ok(SelfPaths {
            paths,
            matcher,
            replacements,
        })
    }

    /// For symlink targets and names: text, whose length may change.
    fn replace_text(&self, bytes: &[u8]) -> Vec<u8> {
        match &self.matcher {
            Some(m) => m.replace_all_bytes(bytes, &self.replacements),
            None => bytes.to_vec(),
        }
    }

    /// For a file's content. A text file may change length (a `.pc`, a header, a linker
    /// script); a binary one (a stub, a static archive, a crt object) may not, since its
    /// offsets and string tables would no longer match: that is an error naming the file,
    /// never a silently corrupted tree. Stubs keep no RUNPATH, so in practice only a
    /// static archive or an object with a path compiled in meets it.
    fn replace_file(&self, bytes: &[u8], file: &Path) -> Result<Vec<u8>> {
        let Some(m) = &self.matcher else {
            return Ok(bytes.to_vec());
        };
        let needs_length_change =
            |f: &aho_corasick::Match| self.replacements[f.pattern().as_usize()].len() != f.len();
        if let Some(found) = m.find_iter(bytes).find(needs_length_change)
            && is_binary(bytes)
        {
            let to = &self.replacements[found.pattern().as_usize()];
            return Err(Error::invalid(
                file,
                format!(
                    "is a binary file holding the package's own path {}, which the tree \
                     names {} (another length); a binary file cannot be rewritten to \
                     another length: leave it out of the interface (static archives are \
                     out by default) or keep the package's name the same length",
                    String::from_utf8_lossy(&bytes[found.range()]),
                    String::from_utf8_lossy(to)
                ),
            ));
        }
        Ok(m.replace_all_bytes(bytes, &self.replacements))
    }

    fn contains(&self, target: &[u8]) -> bool {
        self.paths.iter().any(|p| strip_dir(target, p).is_some())
    }
}

/// Binary by content: ELF, an `ar` archive, or any NUL byte.
fn is_binary(bytes: &[u8]) -> bool {
    bytes.starts_with(ELF_MAGIC) || bytes.starts_with(b"!<arch>\n") || bytes.contains(&0)
}

const PLACEHOLDER_HASH: [u8; 32] = [b'e'; 32];

/// The placeholders of a package's own paths. A Nix store path `<dir>/<hash>-<name>`
/// becomes `<dir>/eeee…-<pname><suffix>`: the hash and the version go, since either
/// changes on an update that keeps the interface (nixpkgs renames a package on nearly every
/// update), and the output suffix stays, so `out`, `lib` and `dev` stay apart. The package
/// name is the shortest store name that every other one extends with `-<output>`
/// (`mid-1.0` for `mid-1.0`, `mid-1.0-lib`, `mid-1.0-dev`), and its pname is what Nix's
/// `builtins.parseDrvName` keeps (up to the first `-` not followed by a letter). Any other
/// path becomes `/abicut-self-----…`, of its own length.
fn placeholders(paths: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let names: Vec<Option<(usize, &[u8])>> = paths.iter().map(|p| store_name(p)).collect();
    let package = names
        .iter()
        .flatten()
        .map(|(_, n)| *n)
        .filter(|n| {
            names
                .iter()
                .flatten()
                .all(|(_, o)| o == n || o.strip_prefix(*n).is_some_and(|r| r.starts_with(b"-")))
        })
        .min_by_key(|n| n.len());
    paths
        .iter()
        .zip(&names)
        .map(|(path, name)| match name {
            Some((at, name)) => {
                let package = package.unwrap_or(name);
                let mut out = path[..*at].to_vec();
                out.extend_from_slice(&PLACEHOLDER_HASH);
                out.push(b'-');
                out.extend_from_slice(store::pname(package));
                out.extend_from_slice(&name[package.len()..]);
                out
            }
            None => {
                let mut out: Vec<u8> = b"/abicut-self".iter().copied().take(path.len()).collect();
                out.resize(path.len(), b'-');
                out
            }
        })
        .collect()
}

/// Where the base name of a store path `<dir>/<32-char hash>-<name>` starts, and its name.
fn store_name(path: &[u8]) -> Option<(usize, &[u8])> {
    let at = path.iter().rposition(|&c| c == b'/').map_or(0, |i| i + 1);
    let base = &path[at..];
    let is_hash = |c: &u8| c.is_ascii_digit() || c.is_ascii_lowercase();
    (base.len() > 33 && base[32] == b'-' && base[..32].iter().all(is_hash))
        .then(|| (at, &base[33..]))
}

/// Loads a tree already on disk, as written by [`write`]: every file and symlink, nothing
/// transformed, classified by the same rule (so `--headers tokens` hashes the same files).
pub fn read(dir: &Path, headers: HeaderMode) -> Result<Tree> {
    let meta = std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    if !meta.is_dir() {
        return Err(Error::invalid(
            dir,
            "is not a directory (an interface tree)",
        ));
    }
    let mut raw = Vec::new();
    walk(dir, Vec::new(), &mut raw)?;
    let entries = raw
        .into_par_iter()
        .map(|(rel, item)| {
            let entry = match item {
                Raw::File { path, exec } => {
                    let bytes = crate::fsx::read(&path)?;
                    Entry {
                        class: classify(&rel, &bytes),
                        node: Node::File { bytes, exec },
                    }
                }
                Raw::Symlink { target } => Entry {
                    class: classify(&rel, b""),
                    node: Node::Symlink { target },
                },
            };
            Ok((rel, entry))
        })
        .collect::<Result<_>>()?;
    Ok(Tree { entries, headers })
}

/// Writes `tree` to `dest`: built in a temporary directory beside it and renamed into
/// place, so a failed or killed run leaves no half tree. `dest` must not exist, or be empty.
pub fn write(tree: &Tree, dest: &Path) -> Result<()> {
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".abicut-tree-")
        .tempdir_in(parent)
        .map_err(|e| Error::io(parent, e))?;
    for (rel, entry) in &tree.entries {
        write_entry(tmp.path(), rel, entry)?;
    }
    set_mode(tmp.path(), 0o755)?;
    std::fs::rename(tmp.path(), dest).map_err(|e| {
        let reason = if dest.exists() {
            "already exists and is not an empty directory".to_string()
        } else {
            format!("cannot rename the finished tree into place: {e}")
        };
        Error::invalid(dest, reason)
    })?;
    let _ = tmp.keep();
    Ok(())
}

fn write_entry(root: &Path, rel: &[u8], entry: &Entry) -> Result<()> {
    let path = root.join(OsStr::from_bytes(rel));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    match &entry.node {
        Node::File { bytes, exec } => {
            std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
            set_mode(&path, if *exec { 0o755 } else { 0o644 })
        }
        Node::Symlink { target } => std::os::unix::fs::symlink(OsStr::from_bytes(target), &path)
            .map_err(|e| Error::io(&path, e)),
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(path, e))
}

impl Entry {
    /// The hash of this entry's content: its bytes, a header's tokens in token mode, a
    /// symlink's target.
    pub fn content_hash(&self, headers: HeaderMode) -> blake3::Hash {
        match &self.node {
            Node::File { bytes, .. }
                if self.class == Class::Header && headers == HeaderMode::Tokens =>
            {
                blake3::hash(&tokens::normalize(bytes))
            }
            Node::File { bytes, .. } => blake3::hash(bytes),
            Node::Symlink { target } => blake3::hash(target),
        }
    }
}

/// Kind bytes of the Merkle encoding.
const KIND_FILE: u8 = b'f';
const KIND_SYMLINK: u8 = b'l';
const KIND_DIR: u8 = b'd';

/// A child's kind byte, executable bit and content hash.
type Leaf = (u8, bool, blake3::Hash);

/// A directory of the Merkle tree: children by name.
#[derive(Default)]
struct Dir<'a> {
    dirs: BTreeMap<&'a [u8], Dir<'a>>,
    leaves: BTreeMap<&'a [u8], Leaf>,
}

impl Tree {
    /// The Merkle hash: each directory hashes its children in name order as (name, kind,
    /// executable bit, content hash), a child directory's content hash being its own hash.
    /// Nothing else (no times, owners or modes beyond the executable bit) enters. The header
    /// mode is part of the hash, so hashes taken in different modes never compare equal.
    pub fn hash(&self) -> String {
        let mut root = Dir::default();
        for (rel, entry) in &self.entries {
            let mut parts: Vec<&[u8]> = rel.split(|&c| c == b'/').collect();
            let Some(name) = parts.pop() else { continue };
            let mut dir = &mut root;
            for part in parts {
                dir = dir.dirs.entry(part).or_default();
            }
            let (kind, exec) = match entry.node {
                Node::File { exec, .. } => (KIND_FILE, exec),
                Node::Symlink { .. } => (KIND_SYMLINK, false),
            };
            dir.leaves
                .insert(name, (kind, exec, entry.content_hash(self.headers)));
        }
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"abicut interface tree 1\0");
        hasher.update(match self.headers {
            HeaderMode::Exact => b"headers=exact\0",
            HeaderMode::Tokens => b"headers=tokens",
        });
        hasher.update(dir_hash(&root).as_bytes());
        hasher.finalize().to_hex().to_string()
    }
}

fn dir_hash(dir: &Dir) -> blake3::Hash {
    let mut children: Vec<(&[u8], Leaf)> = dir
        .dirs
        .iter()
        .map(|(name, sub)| (*name, (KIND_DIR, false, dir_hash(sub))))
        .chain(dir.leaves.iter().map(|(name, leaf)| (*name, *leaf)))
        .collect();
    children.sort_by(|a, b| a.0.cmp(b.0));
    let mut hasher = blake3::Hasher::new();
    for (name, (kind, exec, hash)) in children {
        hasher.update(&(name.len() as u64).to_le_bytes());
        hasher.update(name);
        hasher.update(&[kind, u8::from(exec)]);
        hasher.update(hash.as_bytes());
    }
    hasher.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_rule() {
        let elf_dyn = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0";
        let elf_rel = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x01\0";
        let elf_exe = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0";
        assert_eq!(
            classify(b"lib/libz.so.1.2.13", elf_dyn),
            Class::SharedObject
        );
        assert_eq!(classify(b"bin/pie-tool", elf_dyn), Class::Dropped);
        assert_eq!(classify(b"bin/tool", elf_exe), Class::Dropped);
        assert_eq!(classify(b"lib/Scrt1.o", elf_rel), Class::Object);
        assert_eq!(
            classify(b"lib/libc.so", b"/* GNU ld script */"),
            Class::LinkerScript
        );
        assert_eq!(classify(b"lib/libz.a", b"!<arch>\n"), Class::StaticArchive);
        assert_eq!(classify(b"lib/libmcheck.a", elf_rel), Class::StaticArchive);
        assert_eq!(classify(b"include/c++/12/vector", b"x"), Class::Header);
        assert_eq!(classify(b"include", b"x"), Class::Dropped);
        assert_eq!(classify(b"lib/pkgconfig/z.pc", b"x"), Class::PkgConfig);
        assert_eq!(classify(b"lib/cmake/Z/ZConfig.cmake", b"x"), Class::Cmake);
        assert_eq!(classify(b"lib/libz.la", b"x"), Class::Libtool);
        assert_eq!(
            classify(b"nix-support/propagated-build-inputs", b"x"),
            Class::NixSupport
        );
        assert_eq!(
            classify(b"abc-zlib-dev/nix-support/setup-hook", b"x"),
            Class::NixSupport
        );
        assert_eq!(classify(b"bin/nix-support", b"x"), Class::Dropped);
        assert_eq!(classify(b"share/doc/z/README", b"x"), Class::Dropped);
        assert_eq!(classify(b"share/doc/z/examples/x.h", b"x"), Class::Dropped);
        assert_eq!(
            classify(b"share/gdb/libc.so.6-gdb.py", b"x"),
            Class::Dropped
        );
    }

    #[test]
    fn placeholders_drop_hash_and_version_keep_outputs() {
        let one = |p: &str| placeholders(&[p.as_bytes().to_vec()]).remove(0);
        let a = one("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-zlib-1.3");
        let b = one("/nix/store/zyxwvsrqpnmlkjihgfdcba9876543210-zlib-1.3.1");
        assert_eq!(a, b);
        assert_eq!(a, b"/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-zlib");
        let outputs: Vec<Vec<u8>> = ["mid-1.0", "mid-1.0-lib", "mid-1.0-dev"]
            .iter()
            .map(|n| format!("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-{n}").into_bytes())
            .collect();
        let ends: Vec<String> = placeholders(&outputs)
            .iter()
            .map(|p| String::from_utf8_lossy(&p[44..]).into_owned())
            .collect();
        assert_eq!(ends, ["mid", "mid-lib", "mid-dev"]);
        assert_eq!(one("/tmp/x").len(), 6);
    }

    #[test]
    fn self_path_with_a_target() {
        let s: SelfPath = "/nix/store/a-x=y-1.0=/nix/store/b-x=y".parse().unwrap();
        assert_eq!(s.path, Path::new("/nix/store/a-x=y-1.0"));
        assert_eq!(s.to.as_deref(), Some(Path::new("/nix/store/b-x=y")));
        let selfs = SelfPaths::new(&[s]).unwrap();
        let text = selfs.replace_file(b"libdir=/nix/store/a-x=y-1.0/lib\n", Path::new("x.pc"));
        assert_eq!(text.unwrap(), b"libdir=/nix/store/b-x=y/lib\n");
        let binary = selfs.replace_file(b"\0/nix/store/a-x=y-1.0/lib", Path::new("lib/x.a"));
        let message = binary.unwrap_err().to_string();
        assert!(
            message.contains("lib/x.a") && message.contains("another length"),
            "{message}"
        );
    }

    #[test]
    fn symlinks_resolve_inside_only() {
        assert_eq!(
            resolve(b"lib/libz.so", b"libz.so.1"),
            Some(b"lib/libz.so.1".to_vec())
        );
        assert_eq!(
            resolve(b"lib/a", b"../include/x.h"),
            Some(b"include/x.h".to_vec())
        );
        assert_eq!(resolve(b"lib/a", b"../../etc/passwd"), None);
    }
}

//! Interface trees: what a compile derivation may see of a package, and its Merkle hash.
//!
//! A consumer's build reads more than a library's `.so`: headers, pkg-config and cmake
//! files, libtool archives, crt objects and linker scripts. All of it is the package's
//! interface, so all of it is copied into the tree and hashed, and everything a build
//! cannot read (executables, documentation, data) is left out so that it cannot defeat the
//! cutoff. Each file is put in a [`Class`] by [`classify`], a rule over its path and its
//! first bytes that docs/interface-diff.md documents.
//!
//! The tree is built in memory ([`build`]), hashed ([`Tree::hash`]) and written beside its
//! destination and renamed into place ([`write()`]), so an interrupted run leaves no half tree.
//! [`read`] loads a tree already on disk, for `diff` and for checking a hash.
//!
//! One concern per file: `classify.rs` is the rule docs/interface-diff.md documents; `links.rs` which
//! symlinks are kept and which refused; `selfpaths.rs` the package's own paths (`--self`);
//! `hash.rs` the Merkle hash; `disk.rs` reading and writing trees; `tokens.rs` the header
//! normal form of `--headers tokens`. Store-path reading is shared with relink in
//! [`crate::store`].

mod classify;
mod disk;
mod hash;
mod links;
mod selfpaths;
mod summary;
pub mod tokens;

pub use classify::{Class, classify};
pub use disk::{check_apart, read, write};
pub use selfpaths::SelfPath;
pub use summary::Summary;

use crate::elf::closure::Resolver;
use crate::error::{Error, Result};
use crate::stubgen;
use disk::Raw;
use links::{Links, strip_dir};
use rayon::prelude::*;
use selfpaths::SelfPaths;
use serde::Serialize;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
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
pub(super) struct Package<'a> {
    selfs: &'a SelfPaths,
    outputs: &'a [&'a [u8]],
    stubs: stubgen::Options,
    /// One for the whole tree: the libraries of a package share their dependencies (every
    /// one of glibc's 274 objects needs libc.so.6), so each is parsed once.
    resolver: Resolver,
}

impl Package<'_> {
    pub(super) fn contains(&self, target: &[u8]) -> bool {
        self.selfs.contains(target) || self.outputs.iter().any(|o| strip_dir(target, o).is_some())
    }
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
    let raw = disk::list(root)?;
    let files: Vec<(Vec<u8>, Entry)> = raw
        .par_iter()
        .filter_map(|(rel, item)| match item {
            Raw::File { path, exec } => Some(file_entry(rel, path, *exec, options, package)),
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

/// Reads and classifies one file, replacing it by its stub if it is a shared object. A file
/// the tree leaves out (a static archive without `--with-static`) is emptied before the
/// self-path check: what is not in the tree cannot leak a self path into it.
fn file_entry(
    rel: &[u8],
    path: &Path,
    exec: bool,
    options: &Options,
    package: &Package,
) -> Result<(Vec<u8>, Entry)> {
    let bytes = crate::fsx::read(path)?;
    let class = classify(rel, &bytes);
    let bytes = match class {
        Class::SharedObject => {
            let iface = stubgen::load_with(path, &package.stubs, &package.resolver)?;
            stubgen::render(&iface, stubgen::Format::Elf, path)?
        }
        _ if !class.kept(options) => Vec::new(),
        _ => bytes,
    };
    let node = Node::File {
        bytes: package.selfs.replace_file(&bytes, path)?,
        exec,
    };
    Ok((rel.to_vec(), Entry { class, node }))
}

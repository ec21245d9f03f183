//! Trees on disk: listing a package output, loading a tree written before, and writing one.

use super::{Entry, HeaderMode, Node, Tree, classify};
use crate::error::{Error, Result};
use crate::fsx::{self, Overlap, Staging};
use rayon::prelude::*;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A file or symlink found under a package output or a tree.
pub(super) enum Raw {
    File { path: PathBuf, exec: bool },
    Symlink { target: Vec<u8> },
}

/// Every file and symlink under `dir`, by relative path (bytes, `/`-separated); never
/// follows a symlink. A device, socket or FIFO is an error: no package output holds one.
pub(super) fn list(dir: &Path) -> Result<Vec<(Vec<u8>, Raw)>> {
    let mut out = Vec::new();
    for walked in fsx::walk(dir)? {
        let rel = walked.rel.as_os_str().as_bytes().to_vec();
        let kind = walked.meta.file_type();
        if let Some(target) = walked.target {
            let target = target.as_os_str().as_bytes().to_vec();
            out.push((rel, Raw::Symlink { target }));
        } else if kind.is_file() {
            let exec = walked.meta.permissions().mode() & 0o111 != 0;
            let path = walked.path;
            out.push((rel, Raw::File { path, exec }));
        } else if !kind.is_dir() {
            return Err(Error::invalid(
                walked.path,
                "is a device, socket or FIFO: a package output holds none, and it cannot be read",
            ));
        }
    }
    Ok(out)
}

/// Loads a tree already on disk, as written by [`write()`]: every file and symlink, nothing
/// transformed, classified by the same rule (so `--headers tokens` hashes the same files).
pub fn read(dir: &Path, headers: HeaderMode) -> Result<Tree> {
    let meta = std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    if !meta.is_dir() {
        return Err(Error::invalid(
            dir,
            "is not a directory (an interface tree)",
        ));
    }
    let entries = list(dir)?
        .into_par_iter()
        .map(|(rel, item)| {
            let entry = match item {
                Raw::File { path, exec } => {
                    let bytes = fsx::read(&path)?;
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

/// Refuses a tree directory `dest` that is, lies inside or holds one of the `outputs` it is
/// made from, before anything is read: inside one, the next run would read the tree into
/// itself and hash differently; holding one, the tree could not replace it.
pub fn check_apart(outputs: &[PathBuf], dest: &Path) -> Result<()> {
    for output in outputs {
        let why = match fsx::overlap(output, dest)? {
            None => continue,
            Some(Overlap::Same) => "is the package output",
            Some(Overlap::Inside) => "lies inside the package output",
            Some(Overlap::Holds) => "holds the package output",
        };
        return Err(Error::Usage(format!(
            "-o {} {why} {}: the tree would be read into itself; give a directory outside it",
            dest.display(),
            output.display()
        )));
    }
    Ok(())
}

/// Writes `tree` to `dest`: built beside it ([`Staging`]) and renamed into place, so a
/// failed or killed run leaves no half tree, and a killed run's leftovers go on the next.
/// `dest` must not exist, or be empty.
pub fn write(tree: &Tree, dest: &Path) -> Result<()> {
    let parent = fsx::parent_dir(dest);
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let staging = Staging::new(dest)?;
    let root = staging.path();
    std::fs::create_dir(root).map_err(|e| Error::io(root, e))?;
    for (rel, entry) in &tree.entries {
        write_entry(root, rel, entry)?;
    }
    fsx::set_mode(root, 0o755)?;
    staging.commit().map_err(|e| {
        let reason = if dest.exists() {
            "already exists and is not an empty directory".to_string()
        } else {
            format!("cannot rename the finished tree into place: {e}")
        };
        Error::invalid(dest, reason)
    })
}

fn write_entry(root: &Path, rel: &[u8], entry: &Entry) -> Result<()> {
    let path = root.join(OsStr::from_bytes(rel));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    match &entry.node {
        Node::File { bytes, exec } => {
            std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
            fsx::set_mode(&path, if *exec { 0o755 } else { 0o644 })
        }
        Node::Symlink { target } => std::os::unix::fs::symlink(OsStr::from_bytes(target), &path)
            .map_err(|e| Error::io(&path, e)),
    }
}

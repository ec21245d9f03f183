//! The closure of store paths: everything they reference, found as Nix finds references
//! (the hash of another store path in a file's bytes or a symlink's target), or read from
//! a `nix-store -qR` listing.

use super::{HASH_LEN, StorePath};
use crate::error::{Error, Result};
use crate::fsx;
use crate::store::is_nix_hash;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Reads a listing of store paths, one per line (`nix-store -qR` output); blank lines and
/// `#` comments are skipped, anything else must be a store path.
pub fn read_listing(file: &Path) -> Result<Vec<StorePath>> {
    let bytes = fsx::read(file)?;
    let text = String::from_utf8(bytes).map_err(|_| Error::invalid(file, "not UTF-8 text"))?;
    text.lines()
        .enumerate()
        .map(|(n, l)| (n, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(n, l)| {
            StorePath::parse(Path::new(l))
                .map_err(|e| Error::invalid(file, format!("line {}: {e}", n + 1)))
        })
        .collect()
}

/// `roots` and every store path they reference, directly or not. A reference is the store
/// directory followed by the hash of an entry of that directory, in a file's bytes, or an
/// entry's `<hash>-` as a component of a symlink's target (relative links between paths).
pub fn scan(roots: &[StorePath]) -> Result<Vec<StorePath>> {
    let Some(first) = roots.first() else {
        return Ok(Vec::new());
    };
    let index = index(&first.dir)?;
    let mut seen: BTreeSet<StorePath> = roots.iter().cloned().collect();
    let mut todo: Vec<StorePath> = roots.to_vec();
    while let Some(path) = todo.pop() {
        for hash in references(&path)? {
            if let Some(found) = index.get(&hash)
                && seen.insert(found.clone())
            {
                todo.push(found.clone());
            }
        }
    }
    Ok(seen.into_iter().collect())
}

/// The store directory's entries by hash (`.drv` files and outputs alike).
fn index(dir: &str) -> Result<BTreeMap<String, StorePath>> {
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = Path::new(dir).join(entry.file_name());
        if let Ok(sp) = StorePath::parse(&path) {
            out.insert(sp.hash.clone(), sp);
        }
    }
    Ok(out)
}

/// The hashes `path` names: after `<dir>/` in any file, in any symlink target.
fn references(path: &StorePath) -> Result<BTreeSet<String>> {
    let root = path.path();
    let prefix = format!("{}/", path.dir);
    let finder = memchr::memmem::Finder::new(prefix.as_bytes());
    let mut out = BTreeSet::new();
    let meta = fs::symlink_metadata(&root).map_err(|e| Error::io(&root, e))?;
    let mut files = Vec::new();
    if meta.is_dir() {
        for w in fsx::walk(&root)? {
            if let Some(target) = &w.target {
                link_hashes(target.as_os_str().as_bytes(), &mut out);
            } else if w.meta.is_file() {
                files.push(w.path);
            }
        }
    } else if meta.is_symlink() {
        let target = fs::read_link(&root).map_err(|e| Error::io(&root, e))?;
        link_hashes(target.as_os_str().as_bytes(), &mut out);
    } else {
        files.push(root);
    }
    for file in files {
        let bytes = fsx::map(&file)?;
        for at in finder.find_iter(&bytes) {
            let start = at + prefix.len();
            if let Some(hash) = bytes.get(start..start + HASH_LEN)
                && is_nix_hash(hash)
            {
                out.insert(String::from_utf8_lossy(hash).into_owned());
            }
        }
    }
    out.remove(&path.hash);
    Ok(out)
}

/// Hashes of `<hash>-<name>` components of a symlink target, absolute or relative.
fn link_hashes(target: &[u8], out: &mut BTreeSet<String>) {
    for comp in target.split(|&b| b == b'/') {
        if comp.len() > HASH_LEN && comp[HASH_LEN] == b'-' && is_nix_hash(&comp[..HASH_LEN]) {
            out.insert(String::from_utf8_lossy(&comp[..HASH_LEN]).into_owned());
        }
    }
}

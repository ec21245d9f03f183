//! What a Nix configured for the new store directory needs to take the relocated paths as
//! valid: `nix-store --register-validity --hash-given` input, one block per path with the
//! NAR hash and size of the relocated content and its references (found by hash, as Nix
//! finds them when it builds).

use super::{Plan, StorePath};
use crate::error::{Error, Result};
use crate::fsx;
use crate::store;
use aho_corasick::AhoCorasick;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// One relocated path as Nix's database records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathInfo {
    pub path: String,
    /// `sha256:<hex>` of the path's NAR serialisation.
    pub nar_hash: String,
    pub nar_size: u64,
    /// Full store paths, sorted (the path itself included when it refers to itself).
    pub references: Vec<String>,
}

impl PathInfo {
    /// The block `--register-validity --hash-given` reads: path, hash, size, deriver
    /// (none), the number of references, the references.
    pub fn to_registration(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n\n{}\n",
            self.path,
            self.nar_hash,
            self.nar_size,
            self.references.len()
        );
        for r in &self.references {
            out.push_str(r);
            out.push('\n');
        }
        out
    }
}

/// Finds which paths of a plan a tree refers to, by their hashes.
pub struct References<'a> {
    ac: AhoCorasick,
    targets: Vec<&'a StorePath>,
}

impl<'a> References<'a> {
    pub fn new(plan: &'a Plan) -> Result<References<'a>> {
        let targets: Vec<&StorePath> = plan.paths.iter().map(|(_, to)| to).collect();
        let ac = store::automaton(targets.iter().map(|t| t.hash.as_bytes()))?;
        Ok(References { ac, targets })
    }

    /// The [`PathInfo`] of `to`, whose content is at `dest`.
    pub fn info(&self, to: &StorePath, dest: &Path) -> Result<PathInfo> {
        let (nar_hash, nar_size) = nar_hash(dest)?;
        let mut found = BTreeSet::new();
        let meta = std::fs::symlink_metadata(dest).map_err(|e| Error::io(dest, e))?;
        if meta.is_dir() {
            for w in fsx::walk(dest)? {
                match &w.target {
                    Some(t) => self.scan(t.as_os_str().as_bytes(), &mut found),
                    None if w.meta.is_file() => self.scan(&fsx::map(&w.path)?, &mut found),
                    None => {}
                }
            }
        } else if meta.is_symlink() {
            let t = std::fs::read_link(dest).map_err(|e| Error::io(dest, e))?;
            self.scan(t.as_os_str().as_bytes(), &mut found);
        } else {
            self.scan(&fsx::map(dest)?, &mut found);
        }
        Ok(PathInfo {
            path: to.text(),
            nar_hash,
            nar_size,
            references: found.into_iter().collect(),
        })
    }

    fn scan(&self, bytes: &[u8], found: &mut BTreeSet<String>) {
        for m in self.ac.find_iter(bytes) {
            found.insert(self.targets[m.pattern().as_usize()].text());
        }
    }
}

/// `sha256:<hex>` and size of the NAR serialisation of `path`.
fn nar_hash(path: &Path) -> Result<(String, u64)> {
    let nar_error =
        |e: &dyn std::fmt::Display| Error::invalid(path, format!("cannot serialise as a NAR: {e}"));
    let mut encoder = nix_nar::Encoder::new(path).map_err(|e| nar_error(&e))?;
    let mut sink = HashSink(Sha256::new(), 0);
    std::io::copy(&mut encoder, &mut sink).map_err(|e| nar_error(&e))?;
    let hex: String = sink
        .0
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((format!("sha256:{hex}"), sink.1))
}

/// The registration of every path of `plan`, relocated under `root` (as
/// [`super::relocate`] wrote them), in the plan's order.
pub fn infos(plan: &Plan, root: Option<&Path>) -> Result<Vec<PathInfo>> {
    use rayon::prelude::*;
    let refs = References::new(plan)?;
    plan.paths
        .par_iter()
        .map(|(_, to)| refs.info(to, &super::dest_of(root, to)))
        .collect()
}

/// Hashes and counts what is written to it.
struct HashSink(Sha256, u64);

impl Write for HashSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        self.1 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

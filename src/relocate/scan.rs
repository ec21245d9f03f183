//! What a relocation could not rewrite, per file: references to the old store directory
//! left (paths outside the relocated set), a path's old `<hash>-<name>` outside a full path
//! (it cannot shrink in place), and compressed data, whose store paths a byte rewrite
//! cannot reach.

use super::Plan;
use crate::error::{Error, Result};
use crate::fsx;
use crate::store;
use aho_corasick::AhoCorasick;
use serde::Serialize;
use std::io::Read;
use std::path::{Path, PathBuf};

/// One file's problem.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    pub file: PathBuf,
    pub kind: Kind,
    /// How many times, and the first occurrence as text.
    pub count: u64,
    pub example: String,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The old store directory is still named: a path not in the relocated set.
    OldStoreDir,
    /// `<hash>-<old name>` outside a full store path: a relative or split reference whose
    /// name was shortened or padded, which a same-length rewrite cannot follow.
    OldName,
    /// gzip data naming the old store directory.
    CompressedReference,
    /// gzip data that does not decompress: corrupt, or a store path in a stored (not
    /// compressed) block was rewritten and the checksum no longer matches.
    CompressedBroken,
    /// xz, bzip2 or zstd data: not decompressed, so store paths inside are neither found
    /// nor rewritten.
    CompressedUnchecked,
}

impl Finding {
    pub fn to_text(&self) -> String {
        let what = match self.kind {
            Kind::OldStoreDir => "still names the old store directory",
            Kind::OldName => "names a store path's old name outside a full path",
            Kind::CompressedReference => "holds compressed data naming the old store directory",
            Kind::CompressedBroken => "holds gzip data that does not decompress",
            Kind::CompressedUnchecked => "holds compressed data that was not checked",
        };
        format!(
            "{}: {what} ({} times; first: {})",
            self.file.display(),
            self.count,
            self.example
        )
    }
}

/// The patterns of one relocation: pattern 0 is `<old dir>/`, then each renamed path's
/// `<hash>-<old name>`.
pub struct Scanner {
    ac: AhoCorasick,
    old_dir: Vec<u8>,
    /// Per pattern after the first, the new `<hash>-<name'>`: a padded name extends the
    /// old one, so an occurrence that reads as the longer new one was rewritten (a cut
    /// name is a prefix of the old one and proves nothing).
    new_bases: Vec<Vec<u8>>,
    /// `<new dir>/` when it ends with `<old dir>/` (`/tmp/nix/store/` and `/nix/store/`):
    /// an old-directory match at the end of it is the new directory.
    new_dir: Option<Vec<u8>>,
}

impl Scanner {
    pub fn new(plan: &Plan) -> Result<Scanner> {
        let old_dir = format!("{}/", plan.old_dir).into_bytes();
        let renamed: Vec<_> = plan
            .paths
            .iter()
            .filter(|(f, t)| f.name != t.name)
            .collect();
        let mut patterns = vec![old_dir.clone()];
        patterns.extend(renamed.iter().map(|(f, _)| f.base().into_bytes()));
        Ok(Scanner {
            ac: store::automaton(patterns.iter().map(|p| p.as_slice()))?,
            new_bases: renamed.iter().map(|(_, t)| t.base().into_bytes()).collect(),
            new_dir: Some(format!("{}/", plan.new_dir).into_bytes())
                .filter(|new| new.len() > old_dir.len() && new.ends_with(&old_dir)),
            old_dir,
        })
    }

    /// Every finding in the tree (or file) at `root`, symlink targets included.
    pub fn scan(&self, root: &Path) -> Result<Vec<Finding>> {
        let meta = std::fs::symlink_metadata(root).map_err(|e| Error::io(root, e))?;
        let mut out = Vec::new();
        if !meta.is_dir() {
            self.file(root, &mut out)?;
            return Ok(out);
        }
        for w in fsx::walk(root)? {
            if let Some(target) = &w.target {
                let bytes = std::os::unix::ffi::OsStrExt::as_bytes(target.as_os_str());
                out.extend(self.plain(&w.path, bytes));
            } else if w.meta.is_file() {
                self.file(&w.path, &mut out)?;
            }
        }
        Ok(out)
    }

    fn file(&self, path: &Path, out: &mut Vec<Finding>) -> Result<()> {
        let bytes = fsx::map(path)?;
        out.extend(self.plain(path, &bytes));
        out.extend(self.compressed(path, &bytes)?);
        Ok(())
    }

    /// Uncompressed references: one finding per kind, counted.
    fn plain(&self, path: &Path, bytes: &[u8]) -> Vec<Finding> {
        let mut out: Vec<Finding> = Vec::new();
        for m in self.ac.find_iter(bytes) {
            let kind = match m.pattern().as_usize() {
                0 if self.in_new_dir(bytes, m.end()) => continue,
                0 => Kind::OldStoreDir,
                pid if m.len() < self.new_bases[pid - 1].len()
                    && bytes[m.start()..].starts_with(&self.new_bases[pid - 1]) =>
                {
                    continue;
                }
                _ => Kind::OldName,
            };
            match out.iter_mut().find(|f| f.kind == kind) {
                Some(f) => f.count += 1,
                None => out.push(Finding {
                    file: path.to_path_buf(),
                    kind,
                    count: 1,
                    example: text_at(bytes, m.start()),
                }),
            }
        }
        out
    }

    fn in_new_dir(&self, bytes: &[u8], end: usize) -> bool {
        self.new_dir
            .as_ref()
            .is_some_and(|new| bytes[..end].ends_with(new))
    }

    /// gzip data is decompressed and searched for the old store directory; other
    /// compressed formats are reported as unchecked.
    fn compressed(&self, path: &Path, bytes: &[u8]) -> Result<Option<Finding>> {
        const UNCHECKED: [(&[u8], &str); 3] = [
            (b"\xfd7zXZ\0", "xz"),
            (b"BZh", "bzip2"),
            (b"\x28\xb5\x2f\xfd", "zstd"),
        ];
        if let Some((_, format)) = UNCHECKED.iter().find(|(magic, _)| bytes.starts_with(magic)) {
            return Ok(Some(Finding {
                file: path.to_path_buf(),
                kind: Kind::CompressedUnchecked,
                count: 1,
                example: format!("{format} data"),
            }));
        }
        if !bytes.starts_with(b"\x1f\x8b") {
            return Ok(None);
        }
        let mut plain = Vec::new();
        if let Err(e) = flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut plain) {
            return Ok(Some(Finding {
                file: path.to_path_buf(),
                kind: Kind::CompressedBroken,
                count: 1,
                example: e.to_string(),
            }));
        }
        let finder = memchr::memmem::Finder::new(&self.old_dir);
        let mut hits = finder
            .find_iter(&plain)
            .filter(|&at| !self.in_new_dir(&plain, at + self.old_dir.len()));
        Ok(hits.next().map(|first| Finding {
            file: path.to_path_buf(),
            kind: Kind::CompressedReference,
            count: 1 + hits.count() as u64,
            example: format!("gzip data: {}", text_at(&plain, first)),
        }))
    }
}

/// The printable run of bytes starting at `at` (a path as the file has it), at most 120.
fn text_at(bytes: &[u8], at: usize) -> String {
    let run = bytes[at..]
        .iter()
        .take(120)
        .take_while(|b| b.is_ascii_graphic())
        .count();
    String::from_utf8_lossy(&bytes[at..at + run]).into_owned()
}

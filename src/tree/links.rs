//! Symlinks in an interface tree: which class each takes, and which are refused.

use super::{Class, Entry, Package, classify};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A symlink takes the class of the file it leads to inside the same output (so it is kept
/// exactly when that file is, and never left dangling into a dropped file); one that leads
/// nowhere inside the output is kept when its own name is. A target outside the output is
/// refused. An absolute target is inside when it lies in the output's own path (`own`: its
/// `--self` path, `/` for a package unpacked from a Debian archive, or the output as given),
/// or in another of the package's outputs (then its own name decides).
pub(super) struct Links<'a> {
    pub(super) root: &'a Path,
    pub(super) own: Option<&'a [u8]>,
    pub(super) files: &'a BTreeMap<Vec<u8>, Entry>,
    pub(super) links: &'a BTreeMap<&'a [u8], &'a [u8]>,
    pub(super) package: &'a Package<'a>,
}

/// Where a symlink leads.
enum Lead {
    /// To this path inside the output.
    Inside(Vec<u8>),
    /// Into another of the package's own outputs.
    OwnOutput,
}

impl Links<'_> {
    /// The class of the symlink at `rel` leading to `target`; an error if it leaves the
    /// package.
    pub(super) fn class(&self, rel: &[u8], target: &[u8]) -> Result<Class> {
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
pub(super) fn strip_dir<'a>(path: &'a [u8], dir: &[u8]) -> Option<&'a [u8]> {
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

#[cfg(test)]
mod tests {
    use super::*;

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

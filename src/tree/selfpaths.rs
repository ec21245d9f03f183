//! The package's own paths (`--self`): a package names itself in its `.pc` files, libtool
//! archives and symlinks, by a store path whose hash and version change on every update.
//! The tree holds a stable name in their place, so the interface hash changes only when the
//! interface does.

use super::links::strip_dir;
use crate::error::{Error, Result};
use crate::store::{self, Replacer};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// One of the package's own paths (`--self PATH[=TO]`) and what it becomes in the tree: `TO`
/// when given (nix/hooks names the interface derivation's own output there), else a
/// placeholder without the store hash or the version (see [`store::placeholders`]).
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

/// The package's own store paths and what each becomes.
pub(super) struct SelfPaths {
    paths: Vec<Vec<u8>>,
    replacer: Replacer,
}

impl SelfPaths {
    pub(super) fn new(given: &[SelfPath]) -> Result<SelfPaths> {
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
        let plain: Vec<Vec<u8>> = replaced.iter().map(|s| bytes(&s.path)).collect();
        let placeholders = store::placeholders(&plain);
        let replacements: Vec<Vec<u8>> = replaced
            .iter()
            .zip(placeholders)
            .map(|(s, ph)| s.to.as_deref().map_or(ph, bytes))
            .collect();
        let pairs = plain
            .iter()
            .zip(&replacements)
            .map(|(from, to)| (from.as_slice(), to.as_slice()));
        Ok(SelfPaths {
            paths,
            replacer: Replacer::new(pairs)?,
        })
    }

    /// For symlink targets and names: text, whose length may change.
    pub(super) fn replace_text(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len());
        let mut done = 0;
        for found in self.matches(bytes) {
            out.extend_from_slice(&bytes[done..found.start()]);
            out.extend_from_slice(self.replacer.replacement(found.pattern().as_usize()));
            done = found.end();
        }
        out.extend_from_slice(&bytes[done..]);
        out
    }

    /// Each occurrence of a self path that ends a path component: `/opt/foo` in
    /// `/opt/foo/include` or `"/opt/foo"`, never in `/opt/foobar/include`, another package.
    fn matches<'a>(&'a self, bytes: &'a [u8]) -> impl Iterator<Item = aho_corasick::Match> + 'a {
        self.replacer
            .find_iter(bytes)
            .filter(|m| bytes.get(m.end()).is_none_or(|&c| !continues_name(c)))
    }

    /// For a file's content. A text file may change length (a `.pc`, a header, a linker
    /// script); a binary one (a stub, a static archive, a crt object) may not, since its
    /// offsets and string tables would no longer match: that is an error naming the file,
    /// never a silently corrupted tree. Stubs keep no RUNPATH, so in practice only a
    /// static archive or an object with a path compiled in meets it.
    pub(super) fn replace_file(&self, bytes: &[u8], file: &Path) -> Result<Vec<u8>> {
        let r = &self.replacer;
        let needs_length_change =
            |f: &aho_corasick::Match| r.replacement(f.pattern().as_usize()).len() != f.len();
        if let Some(found) = self.matches(bytes).find(needs_length_change)
            && is_binary(bytes)
        {
            let to = r.replacement(found.pattern().as_usize());
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
        Ok(self.replace_text(bytes))
    }

    pub(super) fn contains(&self, target: &[u8]) -> bool {
        self.paths.iter().any(|p| strip_dir(target, p).is_some())
    }
}

/// Whether `c` would continue a path component: any byte a Nix store name may hold
/// (letters, digits, `+-._?=`). A store path `/nix/store/H-foo` followed by `-dev` or `bar`
/// is another output or package; followed by `/`, a quote, a space or `:` it ends.
fn continues_name(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"+-._?=".contains(&c)
}

/// Binary by content: ELF, an `ar` archive, or any NUL byte.
fn is_binary(bytes: &[u8]) -> bool {
    crate::elf::is_elf(bytes) || bytes.starts_with(b"!<arch>\n") || bytes.contains(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--self /opt/foo` is that directory, not every path that starts with its letters.
    #[test]
    fn self_paths_match_whole_path_components() {
        let s: SelfPath = "/opt/foo=/abicut-self".parse().unwrap();
        let selfs = SelfPaths::new(&[s]).unwrap();
        let text =
            b"a=/opt/foo/include b=/opt/foobar/include c=/opt/foo-dev d=\"/opt/foo\" e=/opt/foo";
        assert_eq!(
            selfs.replace_text(text),
            b"a=/abicut-self/include b=/opt/foobar/include c=/opt/foo-dev d=\"/abicut-self\" e=/abicut-self"
        );
        let archive = b"!<arch>\n\0/opt/foobar/lib\0";
        assert_eq!(
            selfs.replace_file(archive, Path::new("lib/x.a")).unwrap(),
            archive
        );
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
}

//! Rewrite mappings (`FROM=TO`) and the one-pass scanner built from them.
//!
//! Mappings must keep every byte offset in place (store-path hash rewriting as Nix does
//! for content-addressed derivations), so every pair must be the same length.

use crate::error::{Error, Result};
use crate::store::{self, Replacer};
use aho_corasick::AhoCorasick;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::store::is_nix_hash;

/// One same-length replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub from: String,
    pub to: String,
}

impl Mapping {
    /// Parses `FROM=TO`, where each side is an absolute path (a Nix store path) or a bare
    /// 32-character nix-base32 hash, and both sides have the same length.
    pub fn parse(spec: &str) -> Result<Mapping> {
        let (from, to) = spec
            .split_once('=')
            .ok_or_else(|| Error::Usage(format!("mapping `{spec}`: expected FROM=TO")))?;
        Mapping::new(from.trim(), to.trim())
    }

    pub fn new(from: &str, to: &str) -> Result<Mapping> {
        check_side(from)?;
        check_side(to)?;
        if from.len() != to.len() {
            return Err(Error::Usage(format!(
                "mapping {from} -> {to}: lengths differ ({} vs {} bytes); relink rewrites in place, \
                 use `abicut elf` edits for length-changing paths",
                from.len(),
                to.len()
            )));
        }
        Ok(Mapping {
            from: from.to_owned(),
            to: to.to_owned(),
        })
    }
}

fn check_side(side: &str) -> Result<()> {
    if is_nix_hash(side) || (side.starts_with('/') && side.len() > 1) {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "`{side}` is neither an absolute store path nor a 32-character nix-base32 hash"
        )))
    }
}

/// Reads a mapping file: one `FROM=TO` (or `FROM TO`) per line, `#` comments and blank lines ignored.
pub fn read_map_file(path: &Path) -> Result<Vec<Mapping>> {
    let bytes = crate::fsx::read(path)?;
    let text = String::from_utf8(bytes).map_err(|_| Error::invalid(path, "not UTF-8 text"))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parsed = match line.split_once(char::is_whitespace) {
            Some((from, to)) if !line.contains('=') => Mapping::new(from.trim(), to.trim()),
            _ => Mapping::parse(line),
        };
        out.push(parsed.map_err(|e| Error::invalid(path, format!("line {}: {e}", n + 1)))?);
    }
    Ok(out)
}

/// Refuses mappings whose result would depend on which one wins: a FROM given twice with
/// different TOs, or a FROM inside another FROM (a hash inside a store path) that the two
/// would rewrite differently. Where they agree (`/nix/store/H1-foo=/nix/store/H2-foo` and
/// `H1=H2`) either one gives the same bytes.
pub fn check_consistent(maps: &[Mapping]) -> Result<()> {
    for (i, a) in maps.iter().enumerate() {
        if let Some(b) = maps[..i].iter().find(|b| b.from == a.from && b.to != a.to) {
            return Err(Error::Usage(format!(
                "{} is mapped twice: to {} and to {}",
                a.from, b.to, a.to
            )));
        }
    }
    for outer in maps {
        for inner in maps.iter().filter(|m| m.from.len() < outer.from.len()) {
            if let Some(at) = disagreement(outer, inner) {
                return Err(Error::Usage(format!(
                    "{} is mapped to {}, but inside {} (mapped to {}) it would become {}: \
                     give mappings that agree",
                    inner.from,
                    inner.to,
                    outer.from,
                    outer.to,
                    &outer.to[at..at + inner.to.len()]
                )));
            }
        }
    }
    Ok(())
}

/// Where `inner.from` occurs in `outer.from` while `outer` rewrites those bytes to something
/// other than `inner.to`. Both map to equal lengths, so offsets line up.
fn disagreement(outer: &Mapping, inner: &Mapping) -> Option<usize> {
    let (from, to) = (outer.from.as_bytes(), outer.to.as_bytes());
    let (needle, want) = (inner.from.as_bytes(), inner.to.as_bytes());
    memchr::memmem::find_iter(from, needle).find(|&at| to.get(at..at + want.len()) != Some(want))
}

/// All mappings compiled into one [`Replacer`], so each file is scanned once whatever the
/// number of mappings. Every mapping keeps its length ([`Mapping::new`]), so changes are
/// patched in place.
pub struct Rewriter(Replacer);

impl Rewriter {
    pub fn new(maps: &[Mapping]) -> Result<Rewriter> {
        let pairs = maps.iter().map(|m| (m.from.as_bytes(), m.to.as_bytes()));
        Ok(Rewriter(Replacer::new(pairs)?))
    }

    pub fn patterns(&self) -> usize {
        self.0.patterns()
    }

    /// Finds every occurrence in `bytes` (one scan for all mappings), adding to `counts`
    /// (one per mapping) and returning those that change bytes: (offset, mapping index).
    pub fn find(&self, bytes: &[u8], counts: &mut [u64]) -> Vec<(usize, usize)> {
        let mut changes = Vec::new();
        for m in self.0.find_iter(bytes) {
            let pid = m.pattern().as_usize();
            counts[pid] += 1;
            if bytes[m.range()] != *self.0.replacement(pid) {
                changes.push((m.start(), pid));
            }
        }
        changes
    }

    /// The replacement bytes of mapping `pid`.
    pub fn replacement(&self, pid: usize) -> &[u8] {
        self.0.replacement(pid)
    }

    /// Applies changes found by [`Rewriter::find`] to `buf`.
    pub fn apply(&self, buf: &mut [u8], changes: &[(usize, usize)]) {
        for &(at, pid) in changes {
            let to = self.0.replacement(pid);
            buf[at..at + to.len()].copy_from_slice(to);
        }
    }
}

/// Finds forbidden references (`--forbid`).
pub struct Forbidden {
    ac: Option<AhoCorasick>,
    names: Vec<String>,
    /// Longer paths that end with a forbidden one and are not references to it: the
    /// directories holding the tree. A closure relocated from `/nix/store` to
    /// `/tmp/nix/store` names its own store directory everywhere, and every such name
    /// holds `/nix/store`; while `-L/nix/store/…` in a `.pc` file is a reference, so no
    /// rule about the byte before a match can tell the two apart.
    within: Vec<Vec<u8>>,
}

impl Forbidden {
    pub fn new(paths: &[String]) -> Result<Forbidden> {
        let ac = if paths.is_empty() {
            None
        } else {
            Some(store::automaton(paths.iter().map(|p| p.as_bytes()))?)
        };
        Ok(Forbidden {
            ac,
            names: paths.to_vec(),
            within: Vec::new(),
        })
    }

    /// Matches inside a name of `dir` or of one of its ancestors, where that name ends
    /// with a forbidden path, are not references.
    pub fn within(mut self, dir: &Path) -> Forbidden {
        for ancestor in dir.ancestors() {
            let text = ancestor.as_os_str().as_bytes();
            let holds = |n: &String| text.len() > n.len() && text.ends_with(n.as_bytes());
            if self.names.iter().any(holds) && !self.within.iter().any(|w| w == text) {
                self.within.push(text.to_vec());
            }
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.ac.is_none()
    }

    /// The first forbidden path that `bytes` contains, if any.
    pub fn find(&self, bytes: &[u8]) -> Option<&str> {
        let inside = |end: usize| {
            self.within
                .iter()
                .any(|w| bytes[..end].ends_with(w.as_slice()))
        };
        let m = self
            .ac
            .as_ref()?
            .find_iter(bytes)
            .find(|m| !inside(m.end()))?;
        Some(&self.names[m.pattern().as_usize()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "0123456789abcdfghijklmnpqrsvwxyz";
    const H2: &str = "zyxwvsrqpnmlkjihgfdcba9876543210";

    #[test]
    fn parses_paths_and_hashes() {
        assert!(Mapping::parse(&format!("{H1}={H2}")).is_ok());
        assert!(Mapping::parse("/nix/store/a-x=/nix/store/b-x").is_ok());
        assert!(
            !is_nix_hash("0123456789abcdfghijklmnpqrsvwxye"),
            "e is not nix-base32"
        );
        let err = Mapping::parse("/a/b=/a/bc").unwrap_err().to_string();
        assert!(
            err.contains("/a/b -> /a/bc") && err.contains("lengths differ"),
            "{err}"
        );
        assert!(Mapping::parse("/a").is_err());
        assert!(Mapping::parse("a=b").is_err());
    }

    /// Each side is trimmed, and the root alone is not a store path.
    #[test]
    fn trims_sides_and_refuses_the_bare_root() {
        assert_eq!(
            Mapping::parse(" /a = /b ").unwrap(),
            Mapping::new("/a", "/b").unwrap()
        );
        assert!(Mapping::parse("/=/").is_err());
    }

    #[test]
    fn refuses_conflicting_mappings() {
        let m = |f: &str, t: &str| Mapping::new(f, t).unwrap();
        assert!(check_consistent(&[m("/a", "/b"), m("/a", "/b")]).is_ok());
        let err = check_consistent(&[m("/a", "/b"), m("/a", "/c")]).unwrap_err();
        assert_eq!(err.to_string(), "/a is mapped twice: to /b and to /c");
    }

    /// A hash inside a mapped store path must go where that store path's mapping takes it,
    /// or the output depends on which of the two matches first.
    #[test]
    fn refuses_overlapping_mappings_that_disagree() {
        let m = |f: &str, t: &str| Mapping::new(f, t).unwrap();
        const H3: &str = "3333333333333333333333333333333z";
        let path = m(
            &format!("/nix/store/{H1}-foo"),
            &format!("/nix/store/{H2}-foo"),
        );
        assert!(check_consistent(&[path.clone(), m(H1, H2)]).is_ok());
        for maps in [[path.clone(), m(H1, H3)], [m(H1, H3), path]] {
            let err = check_consistent(&maps).unwrap_err().to_string();
            assert_eq!(
                err,
                format!(
                    "{H1} is mapped to {H3}, but inside /nix/store/{H1}-foo (mapped to \
                     /nix/store/{H2}-foo) it would become {H2}: give mappings that agree"
                )
            );
        }
    }

    /// A map file takes `FROM=TO` and `FROM TO` lines, skips comments and blank lines, and
    /// names the line of a bad one.
    #[test]
    fn reads_map_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("map");
        std::fs::write(&file, "# comment\n\n/a=/b\n  /c /d\n").unwrap();
        let want = [
            Mapping::new("/a", "/b").unwrap(),
            Mapping::new("/c", "/d").unwrap(),
        ];
        assert_eq!(read_map_file(&file).unwrap(), want);
        std::fs::write(&file, "/a=/b\n# fine\n/a=/bc\n").unwrap();
        let err = read_map_file(&file).unwrap_err().to_string();
        assert!(
            err.contains("line 3") && err.contains("lengths differ"),
            "{err}"
        );
    }

    /// An occurrence that already reads as its replacement is counted but not changed.
    #[test]
    fn counts_but_does_not_change_what_already_matches() {
        let r = Rewriter::new(&[Mapping::new("/a", "/a").unwrap()]).unwrap();
        let mut counts = [0];
        assert!(r.find(b"/a and /a", &mut counts).is_empty());
        assert_eq!(counts, [2]);
    }

    #[test]
    fn forbidden_names_the_path_found() {
        let none = Forbidden::new(&[]).unwrap();
        assert!(none.is_empty() && none.find(b"/nix/store/x").is_none());
        let f = Forbidden::new(&["/stub".into(), "/nix/store/x".into()]).unwrap();
        assert!(!f.is_empty());
        assert_eq!(f.find(b"rpath=/nix/store/x/lib"), Some("/nix/store/x"));
        assert_eq!(f.find(b"/nix/store/y"), None);
    }

    #[test]
    fn forbidden_inside_the_trees_own_directory_is_not_a_reference() {
        let f = Forbidden::new(&["/nix/store".into()])
            .unwrap()
            .within(Path::new("/tmp/nix/store/abc-prog"));
        assert_eq!(f.find(b"\0/tmp/nix/store/abc-x/lib\0"), None);
        assert_eq!(
            f.find(b"/tmp/nix/store/a -L/nix/store/b"),
            Some("/nix/store"),
            "a reference after one that is not"
        );
        assert_eq!(f.find(b"/opt/nix/store/x"), Some("/nix/store"));
    }

    #[test]
    fn rewrites_all_patterns_in_one_pass() {
        let maps = [
            Mapping::new(H1, H2).unwrap(),
            Mapping::new(
                &format!("/nix/store/{H1}-long"),
                &format!("/nix/store/{H2}-LONG"),
            )
            .unwrap(),
        ];
        let r = Rewriter::new(&maps).unwrap();
        let mut buf = format!("x {H1} /nix/store/{H1}-long {H1}").into_bytes();
        let mut counts = [0, 0];
        let changes = r.find(&buf, &mut counts);
        r.apply(&mut buf, &changes);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            format!("x {H2} /nix/store/{H2}-LONG {H2}")
        );
        assert_eq!(
            counts,
            [2, 1],
            "the longest match wins where patterns overlap"
        );
    }

    proptest::proptest! {
        /// Same-length rewriting never moves a byte: the output has the input's length and
        /// equals a plain replace for a single mapping.
        #[test]
        fn same_length_and_plain_replace(parts in proptest::collection::vec("[a-z /]{0,12}", 0..20)) {
            let from = format!("/nix/store/{H1}");
            let to = format!("/nix/store/{H2}");
            let text = parts.join(&from);
            let r = Rewriter::new(&[Mapping::new(&from, &to).unwrap()]).unwrap();
            let mut buf = text.clone().into_bytes();
            let changes = r.find(&buf, &mut [0]);
            r.apply(&mut buf, &changes);
            proptest::prop_assert_eq!(buf.len(), text.len());
            proptest::prop_assert_eq!(String::from_utf8(buf).unwrap(), text.replace(&from, &to));
        }
    }
}

//! Nix store paths, read one way everywhere: what a store hash is, the name after it, the
//! version-free placeholder an interface tree puts in place of a package's own paths, and
//! the one scanner that finds many store paths in a file at once.
//!
//! A store path is `<dir>/<hash>-<name>`, the hash 32 characters of Nix's base-32
//! alphabet. The interface tree ([`crate::tree`]) replaces a package's own paths by
//! [`placeholders`]; relink ([`crate::relink`]) maps interface paths to real ones in place.
//! Both scan with a [`Replacer`].

use crate::error::{Error, Result};
use aho_corasick::{AhoCorasick, MatchKind};

/// The characters of Nix's base-32 alphabet (no `e`, `o`, `t`, `u`).
const NIX_BASE32: &[u8] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// The length of a store hash.
const HASH_LEN: usize = 32;

/// The hash of a placeholder: `e` is not in the nix-base32 alphabet, so a placeholder is
/// never taken for a real store path, nor made a placeholder of again.
const PLACEHOLDER_HASH: [u8; HASH_LEN] = [b'e'; HASH_LEN];

/// True for a bare store hash: 32 characters of the nix-base32 alphabet.
pub fn is_nix_hash(s: impl AsRef<[u8]>) -> bool {
    let s = s.as_ref();
    s.len() == HASH_LEN && s.iter().all(|b| NIX_BASE32.contains(b))
}

/// Where the base name of a store path `<dir>/<hash>-<name>` starts, and its name.
pub fn store_name(path: &[u8]) -> Option<(usize, &[u8])> {
    let at = path.iter().rposition(|&c| c == b'/').map_or(0, |i| i + 1);
    let base = &path[at..];
    (base.len() > HASH_LEN + 1 && base[HASH_LEN] == b'-' && is_nix_hash(&base[..HASH_LEN]))
        .then(|| (at, &base[HASH_LEN + 1..]))
}

/// The name Nix's `builtins.parseDrvName` keeps: everything before the first `-` followed
/// by something other than a letter (`glibc-2.40-66` → `glibc`, `xorg-server-21.1` →
/// `xorg-server`). Plain derivations carry no `pname`, and users name a package without its
/// version.
pub fn pname(name: &[u8]) -> &[u8] {
    &name[..pname_len(name)]
}

/// [`pname`] of a UTF-8 name (it is cut at an ASCII `-`, so it stays UTF-8).
pub fn pname_str(name: &str) -> &str {
    &name[..pname_len(name.as_bytes())]
}

fn pname_len(name: &[u8]) -> usize {
    name.windows(2)
        .position(|w| w[0] == b'-' && !w[1].is_ascii_alphabetic())
        .unwrap_or(name.len())
}

/// The placeholders of a package's own paths. A Nix store path `<dir>/<hash>-<name>`
/// becomes `<dir>/eeee…-<pname><suffix>`: the hash and the version go, since either
/// changes on an update that keeps the interface (nixpkgs renames a package on nearly every
/// update), and the output suffix stays, so `out`, `lib` and `dev` stay apart. The package
/// name is the shortest store name that every other one extends with `-<output>`
/// (`mid-1.0` for `mid-1.0`, `mid-1.0-lib`, `mid-1.0-dev`), and its pname is what Nix's
/// `builtins.parseDrvName` keeps (up to the first `-` not followed by a letter). Any other
/// path (no nix-base32 hash) becomes `/abicut-self/<its file name>`: where it was built
/// goes, and two outputs stay apart by name, as store outputs do by suffix.
pub fn placeholders(paths: &[Vec<u8>]) -> Vec<Vec<u8>> {
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
                out.extend_from_slice(pname(package));
                out.extend_from_slice(&name[package.len()..]);
                out
            }
            None => {
                let name = path.rsplit(|&c| c == b'/').find(|c| !c.is_empty());
                let mut out = b"/abicut-self/".to_vec();
                out.extend_from_slice(name.unwrap_or_default());
                out
            }
        })
        .collect()
}

/// One automaton for many store paths, so a file is scanned once whatever their number.
/// Leftmost-longest: where one path extends another (`…-foo-1.0-dev` and `…-foo-1.0`), the
/// longer one is the match.
pub fn automaton<'a>(patterns: impl IntoIterator<Item = &'a [u8]>) -> Result<AhoCorasick> {
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(patterns)
        .map_err(|e| Error::Usage(format!("cannot build the store-path automaton: {e}")))
}

/// Store paths and what each becomes. Relink's mappings keep every length, so it patches
/// the matches in place; an interface tree's placeholders may change a text file's length
/// and match only whole path components (tree::selfpaths).
pub struct Replacer {
    ac: Option<AhoCorasick>,
    to: Vec<Vec<u8>>,
}

impl Replacer {
    /// From `(from, to)` pairs; pattern `i` is pair `i`.
    pub fn new<'a>(pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Result<Replacer> {
        let (from, to): (Vec<&[u8]>, Vec<Vec<u8>>) =
            pairs.into_iter().map(|(f, t)| (f, t.to_vec())).unzip();
        let ac = if from.is_empty() {
            None
        } else {
            Some(automaton(from)?)
        };
        Ok(Replacer { ac, to })
    }

    pub fn patterns(&self) -> usize {
        self.to.len()
    }

    /// Every occurrence in `bytes`, leftmost-longest, not overlapping.
    pub fn find_iter<'a>(
        &'a self,
        bytes: &'a [u8],
    ) -> impl Iterator<Item = aho_corasick::Match> + 'a {
        self.ac.iter().flat_map(move |ac| ac.find_iter(bytes))
    }

    /// What pattern `pid` becomes.
    pub fn replacement(&self, pid: usize) -> &[u8] {
        &self.to[pid]
    }

    /// `bytes` with every occurrence replaced, lengths free to change: symlink targets,
    /// which relocation rewrites to store paths of another length.
    pub fn replace_all(&self, bytes: &[u8]) -> Vec<u8> {
        match &self.ac {
            Some(ac) => ac.replace_all_bytes(bytes, &self.to),
            None => bytes.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pname_is_parse_drv_names_name() {
        assert_eq!(pname(b"glibc-2.40-66"), b"glibc");
        assert_eq!(pname(b"xorg-server-21.1"), b"xorg-server");
        assert_eq!(pname_str("python3-3.11"), "python3");
        assert_eq!(pname_str("mid-"), "mid-");
        assert_eq!(pname_str("base"), "base");
    }

    #[test]
    fn nix_hashes_are_nix_base32() {
        assert!(is_nix_hash("0123456789abcdfghijklmnpqrsvwxyz"));
        for bad in ['e', 'o', 't', 'u', 'A'] {
            let hash = format!("0123456789abcdfghijklmnpqrsvwxy{bad}");
            assert!(!is_nix_hash(&hash), "{bad} is not nix-base32");
        }
        assert!(!is_nix_hash("0123456789abcdfghijklmnpqrsvwxy"));
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
    }

    /// A 32-character name outside the nix-base32 alphabet is no store hash: such a path
    /// (a placeholder among them) gets the plain placeholder, not a version-free store
    /// name. Before `is_nix_hash` was shared, any lowercase letter passed.
    #[test]
    fn placeholders_need_a_nix_base32_hash() {
        let name = b"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-zlib-1.3";
        let path = [&b"/nix/store/"[..], name].concat();
        let ph = placeholders(std::slice::from_ref(&path)).remove(0);
        assert_eq!(ph, [&b"/abicut-self/"[..], name].concat());
        assert_eq!(store_name(&path), None);
    }

    /// Outside the store, the directory goes and the file name stays: outputs of one length
    /// in one directory (`/tmp/p/out`, `/tmp/p/dev`) keep apart, and a rebuild elsewhere
    /// keeps its placeholders.
    #[test]
    fn placeholders_outside_the_store_keep_the_file_name() {
        let paths = [
            b"/tmp/p/out".to_vec(),
            b"/tmp/p/dev/".to_vec(),
            b"/".to_vec(),
        ];
        let ph = placeholders(&paths);
        assert_eq!(ph[0], b"/abicut-self/out");
        assert_eq!(ph[1], b"/abicut-self/dev");
        assert_eq!(ph[2], b"/abicut-self/");
        assert_eq!(placeholders(&[b"/build/x/out".to_vec()])[0], ph[0]);
    }

    #[test]
    fn replacer_longest_match_wins() {
        let (short, long) = (&b"/s/p"[..], &b"/s/p-dev"[..]);
        let r = Replacer::new([(short, &b"/x"[..]), (long, &b"/y-dev"[..])]).unwrap();
        let pids: Vec<usize> = r
            .find_iter(b"/s/p-dev /s/p")
            .map(|m| m.pattern().as_usize())
            .collect();
        assert_eq!(pids, [1, 0]);
        let none = Replacer::new([]).unwrap();
        assert_eq!(none.find_iter(b"/s/p").count(), 0);
    }
}

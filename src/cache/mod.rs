//! Reading a Nix binary cache (`file://` or HTTP): each path's `.narinfo`, then its NAR,
//! decompressed as `Compression:` says, checked against `NarHash` and `NarSize` (and a
//! trusted ed25519 signature when keys are given), then unpacked. No Nix is needed.

pub mod narinfo;

use crate::error::{Error, Result};
use base64::Engine;
use narinfo::{Compression, NarInfo};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// A binary cache by URL.
pub struct Cache {
    url: String,
    keys: Vec<(String, ed25519_dalek::VerifyingKey)>,
}

impl Cache {
    /// `url` is `file:///dir` or `http(s)://host/...`; `trusted` holds `name:base64` public
    /// keys (as `nix-store --generate-binary-cache-key` writes them). With keys, every
    /// narinfo must carry a valid signature by one of them.
    pub fn new(url: &str, trusted: &[String]) -> Result<Cache> {
        if !["file://", "http://", "https://"]
            .iter()
            .any(|s| url.starts_with(s))
        {
            return Err(Error::Usage(format!(
                "cache {url}: expected a file://, http:// or https:// URL"
            )));
        }
        let keys = trusted
            .iter()
            .map(|k| parse_key(k))
            .collect::<Result<Vec<_>>>()?;
        Ok(Cache {
            url: url.trim_end_matches('/').to_owned(),
            keys,
        })
    }

    /// The narinfo of the path with store hash `hash`.
    pub fn narinfo(&self, hash: &str) -> Result<NarInfo> {
        let name = format!("{hash}.narinfo");
        let bytes = self.get(&name)?;
        let source = self.name(&name);
        let text = String::from_utf8(bytes).map_err(|_| Error::invalid(&source, "not UTF-8"))?;
        let info = NarInfo::parse(&source, &text)?;
        if info.store_path.hash != hash {
            return Err(Error::invalid(
                &source,
                format!("describes {}, not {hash}", info.store_path.text()),
            ));
        }
        self.check_signature(&source, &info)?;
        Ok(info)
    }

    /// `roots` and everything they reference, by hash, following `References:`.
    pub fn closure(&self, roots: &[String]) -> Result<BTreeMap<String, NarInfo>> {
        let mut seen = BTreeMap::new();
        let mut todo: Vec<String> = roots.to_vec();
        while let Some(hash) = todo.pop() {
            if seen.contains_key(&hash) {
                continue;
            }
            let info = self.narinfo(&hash)?;
            for r in &info.references {
                let h = r[..32].to_owned();
                if !seen.contains_key(&h) {
                    todo.push(h);
                }
            }
            seen.insert(hash, info);
        }
        Ok(seen)
    }

    /// Fetches, decompresses and checks the NAR of `info`, and unpacks it at `dest` (which
    /// must not exist). Returns the NAR's size.
    pub fn unpack(&self, info: &NarInfo, dest: &Path) -> Result<u64> {
        let source = self.name(&info.url);
        let compressed = self.get(&info.url)?;
        let nar = decompress(&source, info.compression, &compressed)?;
        if nar.len() as u64 != info.nar_size {
            return Err(Error::invalid(
                &source,
                format!(
                    "NAR of {} is {} bytes, its narinfo says {} (truncated or wrong)",
                    info.store_path.text(),
                    nar.len(),
                    info.nar_size
                ),
            ));
        }
        let got = Sha256::digest(&nar);
        if !hash_matches(&info.nar_hash, &got) {
            return Err(Error::invalid(
                &source,
                format!(
                    "NAR of {} has hash sha256:{}, its narinfo says {}",
                    info.store_path.text(),
                    base32(&got),
                    info.nar_hash
                ),
            ));
        }
        unpack(&nar, dest).map_err(|why| Error::invalid(&source, why))?;
        Ok(info.nar_size)
    }

    fn name(&self, rel: &str) -> String {
        format!("{}/{rel}", self.url)
    }

    /// The bytes at `rel` below the cache's URL.
    fn get(&self, rel: &str) -> Result<Vec<u8>> {
        let url = self.name(rel);
        if let Some(path) = url.strip_prefix("file://") {
            return crate::fsx::read(Path::new(path));
        }
        let response = ureq::get(&url)
            .call()
            .map_err(|e| Error::invalid(&url, format!("cannot fetch: {e}")))?;
        let mut bytes = Vec::new();
        response
            .into_body()
            .into_reader()
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(&url, e))?;
        Ok(bytes)
    }

    fn check_signature(&self, source: &str, info: &NarInfo) -> Result<()> {
        if self.keys.is_empty() {
            return Ok(());
        }
        let fingerprint = info.fingerprint();
        let valid = info.sigs.iter().any(|sig| {
            let Some((name, b64)) = sig.split_once(':') else {
                return false;
            };
            let Some((_, key)) = self.keys.iter().find(|(n, _)| n == name) else {
                return false;
            };
            let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64) else {
                return false;
            };
            let Ok(sig) = ed25519_dalek::Signature::from_slice(&bytes) else {
                return false;
            };
            key.verify_strict(fingerprint.as_bytes(), &sig).is_ok()
        });
        if valid {
            Ok(())
        } else {
            Err(Error::invalid(
                source,
                format!(
                    "no valid signature by a trusted key for {}",
                    info.store_path.text()
                ),
            ))
        }
    }
}

/// Unpacks `nar` at `dest`. Written over nix-nar's entries rather than its `unpack`, which
/// skips a `..` entry silently and checks a parent with `is_dir` (following symlinks):
/// here every entry must be plain names below `dest`, and its parent a directory this NAR
/// made, so no entry is written through a symlink or outside `dest`.
pub(crate) fn unpack(nar: &[u8], dest: &Path) -> std::result::Result<(), String> {
    use nix_nar::Content;
    use std::os::unix::fs::{OpenOptionsExt, symlink};
    check_lengths(nar)?;
    let decoder = nix_nar::Decoder::new(nar).map_err(|e| format!("bad NAR: {e}"))?;
    let entries = decoder.entries().map_err(|e| format!("bad NAR: {e}"))?;
    let mut dirs = std::collections::HashSet::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("bad NAR: {e}"))?;
        let rel = entry
            .path
            .map(|p| p.into_std_path_buf())
            .unwrap_or_default();
        let plain = rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        let parent_made = rel.parent().is_none_or(|p| dirs.contains(p));
        if !plain || !parent_made {
            return Err(format!(
                "NAR entry `{}` leads outside its store path (a `..`, an absolute name or a \
                 path through a symlink)",
                rel.display()
            ));
        }
        let at = dest.join(&rel);
        let io = |e: std::io::Error| format!("cannot unpack {}: {e}", at.display());
        match entry.content {
            Content::Directory => {
                std::fs::create_dir(&at).map_err(io)?;
                dirs.insert(rel);
            }
            Content::Symlink { target } => symlink(target.as_std_path(), &at).map_err(io)?,
            Content::File {
                executable,
                mut data,
                ..
            } => {
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(if executable { 0o555 } else { 0o444 })
                    .open(&at)
                    .map_err(io)?;
                std::io::copy(&mut data, &mut file).map_err(io)?;
            }
        }
    }
    close_dirs(dest, dirs).map_err(|e| format!("cannot unpack {}: {e}", dest.display()))
}

/// Refuses a NAR with a string longer than what follows it. A NAR is a sequence of
/// strings (each a little-endian u64 length, the bytes, zeros to a multiple of 8), and
/// nix-nar allocates a string's declared length before reading it: the fuzz target
/// `nar_unpack` found a NAR of a few bytes declaring a string of terabytes, which aborted
/// the process instead of failing.
fn check_lengths(nar: &[u8]) -> std::result::Result<(), String> {
    let mut rest = nar;
    while !rest.is_empty() {
        let Some((len, after)) = rest.split_first_chunk::<8>() else {
            return Err("bad NAR: truncated string length".into());
        };
        let len = u64::from_le_bytes(*len);
        let padded = len.div_ceil(8).saturating_mul(8);
        if padded > after.len() as u64 {
            return Err(format!(
                "bad NAR: a string of {len} bytes where {} remain",
                after.len()
            ));
        }
        rest = &after[padded as usize..];
    }
    Ok(())
}

/// Makes the unpacked directories read-only (0555), deepest first, as Nix leaves them.
fn close_dirs(
    dest: &Path,
    dirs: std::collections::HashSet<std::path::PathBuf>,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut dirs: Vec<_> = dirs.into_iter().collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in dirs {
        std::fs::set_permissions(dest.join(d), std::fs::Permissions::from_mode(0o555))?;
    }
    Ok(())
}

/// A `name:base64` ed25519 public key.
fn parse_key(key: &str) -> Result<(String, ed25519_dalek::VerifyingKey)> {
    let bad = || {
        Error::Usage(format!(
            "trusted key `{key}`: expected NAME:BASE64 (32 bytes)"
        ))
    };
    let (name, b64) = key.split_once(':').ok_or_else(bad)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| bad())?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| bad())?;
    Ok((name.to_owned(), key))
}

fn decompress(source: &str, compression: Compression, data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let result = match compression {
        Compression::None => {
            out.extend_from_slice(data);
            Ok(0)
        }
        Compression::Xz => xz2::read::XzDecoder::new_multi_decoder(data).read_to_end(&mut out),
        Compression::Zstd => {
            zstd::stream::read::Decoder::new(data).and_then(|mut d| d.read_to_end(&mut out))
        }
        Compression::Bzip2 => bzip2::read::MultiBzDecoder::new(data).read_to_end(&mut out),
    };
    result
        .map_err(|e| Error::invalid(source, format!("cannot decompress ({compression:?}): {e}")))?;
    Ok(out)
}

/// Whether `sha256:<hex or nix-base32>` names `digest`.
fn hash_matches(given: &str, digest: &[u8]) -> bool {
    let Some(text) = given.strip_prefix("sha256:") else {
        return false;
    };
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    text == hex || text == base32(digest)
}

/// Nix's base-32 of a hash (its own alphabet and bit order, as `nix hash to-base32`).
pub fn base32(hash: &[u8]) -> String {
    const CHARS: &[u8] = b"0123456789abcdfghijklmnpqrsvwxyz";
    let len = (hash.len() * 8 - 1) / 5 + 1;
    (0..len)
        .rev()
        .map(|n| {
            let b = n * 5;
            let (i, j) = (b / 8, b % 8);
            let low = hash[i] >> j;
            let high = if i + 1 < hash.len() {
                hash[i + 1].checked_shl(8 - j as u32).unwrap_or(0)
            } else {
                0
            };
            CHARS[((low | high) & 0x1f) as usize] as char
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `nix hash to-base32 sha256:<hex of sha256("")>`.
    #[test]
    fn base32_is_nixs() {
        let digest = Sha256::digest(b"");
        assert_eq!(
            base32(&digest),
            "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
        );
        assert!(hash_matches(
            "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73",
            &digest
        ));
        assert!(!hash_matches("md5:x", &digest));
    }

    /// A NAR as Nix writes it: each string length-prefixed and padded to 8 bytes.
    fn nar(tokens: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for t in tokens {
            out.extend((t.len() as u64).to_le_bytes());
            out.extend(t.as_bytes());
            out.resize(out.len().div_ceil(8) * 8, 0);
        }
        out
    }

    fn dir_with(entries: &[&[&str]]) -> Vec<u8> {
        let mut t = vec!["nix-archive-1", "(", "type", "directory"];
        for e in entries {
            t.extend(["entry", "(", "name"]);
            t.extend(*e);
            t.push(")");
        }
        t.push(")");
        nar(&t)
    }

    /// Entries that would land outside the destination, or be written through a symlink,
    /// are refused, not skipped; a plain tree unpacks.
    #[test]
    fn unpack_refuses_escaping_entries() {
        let file = ["node", "(", "type", "regular", "contents", "hi", ")"];
        let link = ["node", "(", "type", "symlink", "target", "/etc", ")"];
        let tmp = tempfile::tempdir().unwrap();
        let good = dir_with(&[&[&["f"][..], &file].concat()]);
        unpack(&good, &tmp.path().join("ok")).unwrap();
        assert_eq!(std::fs::read(tmp.path().join("ok/f")).unwrap(), b"hi");
        for (n, bad) in [
            dir_with(&[&[&["../x"][..], &file].concat()]),
            dir_with(&[&[&["/abs"][..], &file].concat()]),
            dir_with(&[
                &[&["a"][..], &link].concat(),
                &[&["a/b"][..], &file].concat(),
            ]),
        ]
        .iter()
        .enumerate()
        {
            let dest = tmp.path().join(format!("bad{n}"));
            let err = unpack(bad, &dest).unwrap_err();
            assert!(err.contains("leads outside"), "{err}");
        }
        let truncated = &good[..good.len() - 8];
        assert!(unpack(truncated, &tmp.path().join("t")).is_err());
        // Found by the fuzz target `nar_unpack`: a string declaring more bytes than the NAR
        // has made nix-nar try to allocate them (an abort, not an error).
        let mut huge = nar(&["nix-archive-1", "(", "type", "regular", "contents"]);
        huge.extend_from_slice(&0xd0_0000_0000u64.to_le_bytes());
        let err = unpack(&huge, &tmp.path().join("huge")).unwrap_err();
        assert!(
            err.contains("a string of 893353197568 bytes where 0 remain"),
            "{err}"
        );
    }

    #[test]
    fn refuses_bad_urls_and_keys() {
        assert!(Cache::new("ftp://x", &[]).is_err());
        assert!(Cache::new("file:///x", &["k:notbase64!".into()]).is_err());
        assert!(Cache::new("file:///x", &["nocolon".into()]).is_err());
    }
}

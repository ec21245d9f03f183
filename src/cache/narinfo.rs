//! `.narinfo` files: the text a binary cache serves for each store path. Written by hand:
//! a handful of `Key: value` lines, and no well-kept crate reads them without bringing a
//! Nix client along.

use crate::error::{Error, Result};
use crate::relocate::StorePath;
use std::path::{Path, PathBuf};

/// The fields abicut uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NarInfo {
    pub store_path: StorePath,
    /// Relative to the cache's root.
    pub url: String,
    pub compression: Compression,
    /// `sha256:<nix-base32 or hex>` of the uncompressed NAR.
    pub nar_hash: String,
    pub nar_size: u64,
    /// `<hash>-<name>` of each reference (the path itself included when it refers to itself).
    pub references: Vec<String>,
    /// `name:base64` signatures.
    pub sigs: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Xz,
    Zstd,
    Bzip2,
}

impl NarInfo {
    /// Parses the narinfo fetched from `source` (named in errors).
    pub fn parse(source: &str, text: &str) -> Result<NarInfo> {
        let bad = |why: String| Error::invalid(source, format!("narinfo: {why}"));
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
                .ok_or_else(|| bad(format!("no {key}")))
        };
        let store_path = StorePath::parse(Path::new(field("StorePath")?))
            .map_err(|e| bad(format!("StorePath: {e}")))?;
        let compression = match text.lines().find_map(|l| l.strip_prefix("Compression: ")) {
            None | Some("none") => Compression::None,
            Some("xz") => Compression::Xz,
            Some("zstd") => Compression::Zstd,
            Some("bzip2") => Compression::Bzip2,
            Some(other) => return Err(bad(format!("unsupported Compression: {other}"))),
        };
        let nar_size = field("NarSize")?
            .parse()
            .map_err(|_| bad("NarSize is not a number".into()))?;
        let references: Vec<String> = text
            .lines()
            .find_map(|l| l.strip_prefix("References:"))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        for r in &references {
            let full = PathBuf::from(format!("{}/{r}", store_path.dir));
            StorePath::parse(&full).map_err(|e| bad(format!("References: {e}")))?;
        }
        let url = field("URL")?;
        if url.starts_with('/') || url.split('/').any(|c| c == "..") {
            return Err(bad(format!("URL {url} leads outside the cache")));
        }
        Ok(NarInfo {
            url: url.to_owned(),
            compression,
            nar_hash: field("NarHash")?.to_owned(),
            nar_size,
            references,
            sigs: text
                .lines()
                .filter_map(|l| l.strip_prefix("Sig: "))
                .map(str::to_owned)
                .collect(),
            store_path,
        })
    }

    /// What Nix signs: `1;<path>;<NarHash>;<NarSize>;<references, full, comma-separated>`.
    pub fn fingerprint(&self) -> String {
        let refs: Vec<String> = self
            .references
            .iter()
            .map(|r| format!("{}/{r}", self.store_path.dir))
            .collect();
        format!(
            "1;{};{};{};{}",
            self.store_path.text(),
            self.nar_hash,
            self.nar_size,
            refs.join(",")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "StorePath: /nix/store/0123456789abcdfghijklmnpqrsvwxyz-a-1\n\
URL: nar/x.nar.xz\nCompression: xz\nNarHash: sha256:abc\nNarSize: 120\n\
References: 0123456789abcdfghijklmnpqrsvwxyz-a-1 zyxwvsrqpnmlkjihgfdcba9876543210-b\n\
Sig: k:AAAA\n";

    #[test]
    fn parses_and_fingerprints() {
        let info = NarInfo::parse("x.narinfo", INFO).unwrap();
        assert_eq!(info.compression, Compression::Xz);
        assert_eq!(info.references.len(), 2);
        assert_eq!(
            info.fingerprint(),
            "1;/nix/store/0123456789abcdfghijklmnpqrsvwxyz-a-1;sha256:abc;120;\
/nix/store/0123456789abcdfghijklmnpqrsvwxyz-a-1,/nix/store/zyxwvsrqpnmlkjihgfdcba9876543210-b"
        );
    }

    #[test]
    fn refuses_bad_fields_naming_the_source() {
        for (from, to) in [
            ("NarSize: 120", "NarSize: x"),
            ("Compression: xz", "Compression: lz4"),
            ("URL: nar/x.nar.xz", "URL: ../../etc/passwd"),
            ("-b\n", " bad\n"),
        ] {
            let err = NarInfo::parse("x.narinfo", &INFO.replace(from, to))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("x.narinfo: narinfo:"), "{err}");
        }
    }
}

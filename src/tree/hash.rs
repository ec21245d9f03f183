//! The interface tree's Merkle hash: what a consumer's build can see of a package, in 64
//! hex digits. Two trees have the same hash exactly when they hold the same names, kinds,
//! executable bits and contents (a header's tokens in token mode).

use super::{Class, Entry, HeaderMode, Node, Tree, tokens};
use std::collections::BTreeMap;

impl Entry {
    /// The hash of this entry's content: its bytes, a header's tokens in token mode, a
    /// symlink's target.
    pub fn content_hash(&self, headers: HeaderMode) -> blake3::Hash {
        match &self.node {
            Node::File { bytes, .. }
                if self.class == Class::Header && headers == HeaderMode::Tokens =>
            {
                blake3::hash(&tokens::normalize(bytes))
            }
            Node::File { bytes, .. } => blake3::hash(bytes),
            Node::Symlink { target } => blake3::hash(target),
        }
    }
}

/// Kind bytes of the Merkle encoding.
const KIND_FILE: u8 = b'f';
const KIND_SYMLINK: u8 = b'l';
const KIND_DIR: u8 = b'd';

/// A child's kind byte, executable bit and content hash.
type Leaf = (u8, bool, blake3::Hash);

/// A directory of the Merkle tree: children by name.
#[derive(Default)]
struct Dir<'a> {
    dirs: BTreeMap<&'a [u8], Dir<'a>>,
    leaves: BTreeMap<&'a [u8], Leaf>,
}

impl Tree {
    /// The Merkle hash: each directory hashes its children in name order as (name, kind,
    /// executable bit, content hash), a child directory's content hash being its own hash.
    /// Nothing else (no times, owners or modes beyond the executable bit) enters. The header
    /// mode is part of the hash, so hashes taken in different modes never compare equal.
    pub fn hash(&self) -> String {
        let mut root = Dir::default();
        for (rel, entry) in &self.entries {
            let mut parts: Vec<&[u8]> = rel.split(|&c| c == b'/').collect();
            let Some(name) = parts.pop() else { continue };
            let mut dir = &mut root;
            for part in parts {
                dir = dir.dirs.entry(part).or_default();
            }
            let (kind, exec) = match entry.node {
                Node::File { exec, .. } => (KIND_FILE, exec),
                Node::Symlink { .. } => (KIND_SYMLINK, false),
            };
            dir.leaves
                .insert(name, (kind, exec, entry.content_hash(self.headers)));
        }
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"abicut interface tree 1\0");
        hasher.update(match self.headers {
            HeaderMode::Exact => b"headers=exact\0",
            HeaderMode::Tokens => b"headers=tokens",
        });
        hasher.update(dir_hash(&root).as_bytes());
        hasher.finalize().to_hex().to_string()
    }
}

fn dir_hash(dir: &Dir) -> blake3::Hash {
    let mut children: Vec<(&[u8], Leaf)> = dir
        .dirs
        .iter()
        .map(|(name, sub)| (*name, (KIND_DIR, false, dir_hash(sub))))
        .chain(dir.leaves.iter().map(|(name, leaf)| (*name, *leaf)))
        .collect();
    children.sort_by(|a, b| a.0.cmp(b.0));
    let mut hasher = blake3::Hasher::new();
    for (name, (kind, exec, hash)) in children {
        hasher.update(&(name.len() as u64).to_le_bytes());
        hasher.update(name);
        hasher.update(&[kind, u8::from(exec)]);
        hasher.update(hash.as_bytes());
    }
    hasher.finalize()
}

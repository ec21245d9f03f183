//! The diff of two interface trees: files added, removed or changed; a changed shared
//! object is diffed as an interface, a changed text file as tokens and lines.

use super::interfaces::interface_changes;
use super::{Change, Reason, Report};
use crate::tree::{Class, Entry, HeaderMode, Node, Tree};
use std::collections::BTreeSet;

/// Diff of two interface trees. In token mode a header whose tokens did not change is no
/// change, as it is to the tree hash.
pub fn trees(old: &Tree, new: &Tree, headers: HeaderMode) -> Report {
    let mut changes = Vec::new();
    let paths: BTreeSet<&Vec<u8>> = old.entries.keys().chain(new.entries.keys()).collect();
    for path in paths {
        let name = String::from_utf8_lossy(path);
        match (old.entries.get(path), new.entries.get(path)) {
            (Some(_), None) => {
                changes.push(Change::new(format!("file {name}"), Reason::Removed, None))
            }
            (None, Some(_)) => {
                changes.push(Change::new(format!("file {name}"), Reason::Added, None))
            }
            (Some(a), Some(b)) => {
                if a.content_hash(headers) != b.content_hash(headers) || a.node != b.node {
                    changes.extend(entry_changes(&name, a, b, headers));
                }
            }
            (None, None) => {}
        }
    }
    Report::from_changes(changes)
}

fn entry_changes(name: &str, a: &Entry, b: &Entry, headers: HeaderMode) -> Vec<Change> {
    let subject = format!("file {name}");
    match (&a.node, &b.node) {
        (Node::Symlink { target: x }, Node::Symlink { target: y }) => vec![Change::new(
            subject,
            Reason::SymlinkTargetChanged,
            Some(format!(
                "{} → {}",
                String::from_utf8_lossy(x),
                String::from_utf8_lossy(y)
            )),
        )],
        (Node::File { bytes: x, exec: ex }, Node::File { bytes: y, exec: ey }) => {
            let mut out = Vec::new();
            if ex != ey {
                out.push(Change::new(
                    subject.clone(),
                    Reason::ExecutableBitChanged,
                    None,
                ));
            }
            if x != y {
                out.extend(content_changes(name, a.class, b.class, x, y, headers));
            }
            out
        }
        _ => vec![Change::new(subject, Reason::FileTypeChanged, None)],
    }
}

fn content_changes(
    name: &str,
    old_class: Class,
    new_class: Class,
    old: &[u8],
    new: &[u8],
    headers: HeaderMode,
) -> Vec<Change> {
    let subject = format!("file {name}");
    if old_class == Class::SharedObject && new_class == Class::SharedObject {
        let read = |bytes: &[u8]| {
            crate::elf::read::read_bytes(bytes).map(|mut i| {
                // Two files of a tree, without their dependencies at hand: every import kept.
                i.normalize(&|_| false);
                i
            })
        };
        if let (Ok(a), Ok(b)) = (read(old), read(new)) {
            let changes = interface_changes(&a, &b, &format!("{name}: "));
            if changes.is_empty() {
                return vec![Change::new(
                    subject,
                    Reason::Layout,
                    Some("same interface, different stub bytes".into()),
                )];
            }
            return changes;
        }
    }
    let tokens_changed = (is_text(old) && is_text(new))
        .then(|| crate::tree::tokens::normalize(old) != crate::tree::tokens::normalize(new));
    let is_header = old_class == Class::Header && new_class == Class::Header;
    if is_header && headers == HeaderMode::Tokens && tokens_changed == Some(false) {
        return Vec::new();
    }
    let mut change = Change::new(subject, Reason::ContentChanged, None);
    change.tokens_changed = tokens_changed;
    if let (Ok(x), Ok(y), Some(_)) = (
        std::str::from_utf8(old),
        std::str::from_utf8(new),
        tokens_changed,
    ) {
        let diff = similar::TextDiff::from_lines(x, y)
            .unified_diff()
            .context_radius(3)
            .header(&format!("a/{name}"), &format!("b/{name}"))
            .to_string();
        change.diff = Some(diff);
    }
    vec![change]
}

/// Text, for diffing and token normalization: no NUL byte.
fn is_text(bytes: &[u8]) -> bool {
    !bytes.contains(&0)
}

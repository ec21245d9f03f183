//! Why an interface changed: the diff of two library interfaces or two interface trees.
//!
//! Every change gets a [`Reason`] and a [`Verdict`]: additions (symbols, version nodes,
//! files) are compatible, anything removed or changed is breaking. Two kinds of change are
//! compatible although nothing was added: *layout* (a symbol's `.dynsym` position, a data
//! object's alignment or region, which move a consumer's link output but never what a
//! symbol resolves to) and link warnings. FUNC versus IFUNC and function sizes are not in
//! the interface model, so they never show up here.

use super::{Interface, Symbol};
use crate::tree::{Class, HeaderMode, Node, Tree};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// How bad a change is, in increasing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Identical,
    Compatible,
    Breaking,
}

impl Verdict {
    /// The documented exit status of `abicut diff`.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Identical => 0,
            Verdict::Compatible => 1,
            Verdict::Breaking => 2,
        }
    }
}

/// Why something changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Added,
    Removed,
    /// A data or TLS object's `st_size`.
    SizeChanged,
    /// Symbol type (func, object, tls, notype, common).
    TypeChanged,
    BindingChanged,
    VisibilityChanged,
    /// A default version moved to another version node (`foo@@V1` → `foo@@V2`).
    VersionChanged,
    /// A default version became a hidden one (`foo@@V1` → `foo@V1`).
    MadeHidden,
    /// `st_other` bits beyond visibility, an absolute value, a local version index.
    OtherChanged,
    /// Data objects sharing an address now group differently.
    AliasChanged,
    /// `.dynsym` position, alignment or placement: not an ABI change.
    Layout,
    SonameChanged,
    NeededChanged,
    /// A version node's parents or flags.
    VersionNodeChanged,
    /// ELF class, byte order, machine, flags or OS ABI.
    FileClassChanged,
    /// An architecture note or attribute section.
    SectionChanged,
    /// A link-time warning text.
    WarningChanged,
    /// A file's bytes (a header's tokens, in token mode).
    ContentChanged,
    ExecutableBitChanged,
    SymlinkTargetChanged,
    /// A file became a symlink or the other way round.
    FileTypeChanged,
}

impl Reason {
    fn verdict(self) -> Verdict {
        match self {
            Reason::Added | Reason::Layout | Reason::WarningChanged => Verdict::Compatible,
            _ => Verdict::Breaking,
        }
    }
}

/// One change and why it matters.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    /// What changed: `symbol foo@@V1`, `version V2`, `soname`, `needed`, `file include/a.h`,
    /// and in a tree, a library's changes prefixed by its path.
    pub subject: String,
    pub reason: Reason,
    pub verdict: Verdict,
    /// Old and new value, where that says more than the reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For a changed text file: whether its C preprocessor tokens changed too (false means
    /// `--headers tokens` would not see the change).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_changed: Option<bool>,
    /// For a changed text file: a unified diff.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

impl Change {
    fn new(subject: impl Into<String>, reason: Reason, detail: Option<String>) -> Change {
        Change {
            subject: subject.into(),
            reason,
            verdict: reason.verdict(),
            detail,
            tokens_changed: None,
            diff: None,
        }
    }
}

/// The result of a diff: the worst verdict and every change, in a stable order.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub verdict: Verdict,
    pub changes: Vec<Change>,
}

impl Report {
    fn from_changes(changes: Vec<Change>) -> Report {
        let verdict = changes
            .iter()
            .map(|c| c.verdict)
            .max()
            .unwrap_or(Verdict::Identical);
        Report { verdict, changes }
    }
}

/// Diff of two library interfaces.
pub fn interfaces(old: &Interface, new: &Interface) -> Report {
    Report::from_changes(interface_changes(old, new, ""))
}

fn interface_changes(old: &Interface, new: &Interface, prefix: &str) -> Vec<Change> {
    let mut out = Vec::new();
    let mut push = |subject: String, reason, detail| {
        out.push(Change::new(format!("{prefix}{subject}"), reason, detail))
    };
    if old.file != new.file {
        push(
            "file class".into(),
            Reason::FileClassChanged,
            Some(format!("{:?} → {:?}", old.file, new.file)),
        );
    }
    if old.soname != new.soname {
        push(
            "soname".into(),
            Reason::SonameChanged,
            Some(format!("{:?} → {:?}", old.soname, new.soname)),
        );
    }
    if old.needed != new.needed {
        push(
            "needed".into(),
            Reason::NeededChanged,
            Some(format!("{:?} → {:?}", old.needed, new.needed)),
        );
    }
    version_changes(old, new, &mut push);
    symbol_changes(old, new, &mut push);
    let old_sections: BTreeMap<_, _> = old.sections.iter().map(|s| (&s.name, s)).collect();
    let new_sections: BTreeMap<_, _> = new.sections.iter().map(|s| (&s.name, s)).collect();
    for name in old_sections
        .keys()
        .chain(new_sections.keys())
        .collect::<BTreeSet<_>>()
    {
        if old_sections.get(name) != new_sections.get(name) {
            push(format!("section {name}"), Reason::SectionChanged, None);
        }
    }
    for name in old
        .warnings
        .keys()
        .chain(new.warnings.keys())
        .collect::<BTreeSet<_>>()
    {
        if old.warnings.get(name) != new.warnings.get(name) {
            push(format!("warning {name}"), Reason::WarningChanged, None);
        }
    }
    if out.is_empty() && old != new {
        out.push(Change::new(
            format!("{prefix}canonical form"),
            Reason::Layout,
            Some("version indexes or order differ".into()),
        ));
    }
    out
}

fn version_changes(
    old: &Interface,
    new: &Interface,
    push: &mut impl FnMut(String, Reason, Option<String>),
) {
    let old_v: BTreeMap<_, _> = old.versions.iter().map(|v| (&v.name, v)).collect();
    let new_v: BTreeMap<_, _> = new.versions.iter().map(|v| (&v.name, v)).collect();
    for name in old_v.keys().chain(new_v.keys()).collect::<BTreeSet<_>>() {
        match (old_v.get(name), new_v.get(name)) {
            (Some(_), None) => push(format!("version {name}"), Reason::Removed, None),
            (None, Some(_)) => push(format!("version {name}"), Reason::Added, None),
            (Some(a), Some(b)) if a.parents != b.parents || a.flags != b.flags => push(
                format!("version {name}"),
                Reason::VersionNodeChanged,
                Some(format!(
                    "parents {:?} flags {} → parents {:?} flags {}",
                    a.parents, a.flags, b.parents, b.flags
                )),
            ),
            _ => {}
        }
    }
}

fn symbol_changes(
    old: &Interface,
    new: &Interface,
    push: &mut impl FnMut(String, Reason, Option<String>),
) {
    let old_s: BTreeMap<String, &Symbol> = old.symbols.iter().map(|s| (s.sort_key(), s)).collect();
    let new_s: BTreeMap<String, &Symbol> = new.symbols.iter().map(|s| (s.sort_key(), s)).collect();
    let mut added: BTreeSet<&String> = new_s.keys().filter(|k| !old_s.contains_key(*k)).collect();
    for (key, sym) in &old_s {
        match new_s.get(key) {
            Some(now) => changed_symbol(key, sym, now, push),
            None => {
                // The same name under another version: a move, not a removal plus an addition.
                let moved = added
                    .iter()
                    .filter(|k| new_s[**k].name == sym.name)
                    .min_by_key(|k| new_s[**k].hidden)
                    .copied();
                match moved {
                    Some(to) => {
                        added.remove(to);
                        let reason = if !sym.hidden && new_s[to].hidden {
                            Reason::MadeHidden
                        } else {
                            Reason::VersionChanged
                        };
                        push(
                            format!("symbol {key}"),
                            reason,
                            Some(format!("{key} → {to}")),
                        );
                    }
                    None => push(format!("symbol {key}"), Reason::Removed, None),
                }
            }
        }
    }
    for key in added {
        push(format!("symbol {key}"), Reason::Added, None);
    }
    order_change(&old_s, &new_s, push);
}

/// Positions are dense ranks, so one insertion shifts every later symbol; that is no change
/// of its own. Only a change of the relative order of the symbols both sides have is one.
fn order_change(
    old_s: &BTreeMap<String, &Symbol>,
    new_s: &BTreeMap<String, &Symbol>,
    push: &mut impl FnMut(String, Reason, Option<String>),
) {
    let order = |side: &BTreeMap<String, &Symbol>, other: &BTreeMap<String, &Symbol>| {
        let mut common: Vec<(&String, u32)> = side
            .iter()
            .filter(|(k, _)| other.contains_key(*k))
            .map(|(k, s)| (k, s.position))
            .collect();
        common.sort_by_key(|&(_, p)| p);
        common
            .into_iter()
            .map(|(k, _)| k.clone())
            .collect::<Vec<_>>()
    };
    let before = order(old_s, new_s);
    let after = order(new_s, old_s);
    if before != after {
        let moved = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        push(
            "symbol order".into(),
            Reason::Layout,
            Some(format!(
                "{moved} symbols changed their relative .dynsym order"
            )),
        );
    }
}

fn changed_symbol(
    key: &str,
    a: &Symbol,
    b: &Symbol,
    push: &mut impl FnMut(String, Reason, Option<String>),
) {
    let subject = || format!("symbol {key}");
    let mut field = |differs: bool, reason, detail: String| {
        if differs {
            push(subject(), reason, Some(detail));
        }
    };
    field(
        a.kind != b.kind,
        Reason::TypeChanged,
        format!("{} → {}", word(a.kind), word(b.kind)),
    );
    field(
        a.binding != b.binding,
        Reason::BindingChanged,
        format!("{} → {}", word(a.binding), word(b.binding)),
    );
    field(
        a.visibility != b.visibility,
        Reason::VisibilityChanged,
        format!("{} → {}", word(a.visibility), word(b.visibility)),
    );
    field(
        a.size != b.size,
        Reason::SizeChanged,
        format!("{} → {}", a.size, b.size),
    );
    field(
        a.other != b.other || a.value != b.value || a.local_version != b.local_version,
        Reason::OtherChanged,
        format!(
            "other {} value {:#x} → other {} value {:#x}",
            a.other, a.value, b.other, b.value
        ),
    );
    if a.alias_of != b.alias_of {
        let reason = if a.region.is_data() || b.region.is_data() {
            Reason::AliasChanged
        } else {
            Reason::Layout
        };
        field(
            true,
            reason,
            format!("alias of {:?} → {:?}", a.alias_of, b.alias_of),
        );
    }
    field(
        a.align != b.align || a.section_align != b.section_align || a.region != b.region,
        Reason::Layout,
        format!(
            "align {}/{} region {} → align {}/{} region {}",
            a.align,
            a.section_align,
            word(a.region),
            b.align,
            b.section_align,
            word(b.region)
        ),
    );
}

/// The canonical JSON name of an enum value (`weak`, `relro`), as people read it in the JSON.
fn word(value: impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

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

fn entry_changes(
    name: &str,
    a: &crate::tree::Entry,
    b: &crate::tree::Entry,
    headers: HeaderMode,
) -> Vec<Change> {
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

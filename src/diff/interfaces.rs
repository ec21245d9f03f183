//! The diff of two library interfaces: symbols, version nodes, and the file-level facts.

use super::{Change, Reason, Report};
use crate::elf::closure::Resolver;
use crate::error::Result;
use crate::iface::{Binding, FileClass, Import, Interface, Symbol, ifs};
use crate::stubgen::{self, Format};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Diff of two library interfaces.
pub fn interfaces(old: &Interface, new: &Interface) -> Report {
    Report::from_changes(interface_changes(old, new, ""))
}

/// Diff of two files `stubgen` reads (libraries, stubs, canonical JSON, llvm-ifs text), each
/// taken as its default interface. When a side is llvm-ifs text, the report notes what IFS
/// cannot carry of the other side, since those differences come from the format.
pub fn libraries(old: &Path, new: &Path) -> Result<Report> {
    let options = stubgen::Options::default();
    // One resolver: both sides usually share their dependencies (libc), parsed once.
    let resolver = Resolver::default();
    let (mut old_iface, old_format) = stubgen::load_source_with(old, &options, &resolver)?;
    let (mut new_iface, new_format) = stubgen::load_source_with(new, &options, &resolver)?;
    // A text side (JSON, llvm-ifs) is read without its dependencies, so it keeps every
    // import; against a library, judge its imports by that library's closure, or each one
    // the closure defines would read as a new import the program owes.
    let text = |f: Format| f != Format::Elf;
    let judged = match (text(old_format), text(new_format)) {
        (false, true) => Some((&mut new_iface, old)),
        (true, false) => Some((&mut old_iface, new)),
        _ => None,
    };
    if let Some((iface, library)) = judged {
        let provided = resolver.defined_names(library, &options.lib_path);
        iface.normalize(&|name| provided.contains(name));
    }
    let mut report = interfaces(&old_iface, &new_iface);
    for (path, format, other) in [(old, old_format, &new_iface), (new, new_format, &old_iface)] {
        let lost = ifs::not_carried(other);
        if format == Format::Ifs && !lost.is_empty() {
            report.notes.push(format!(
                "{} is llvm-ifs text, which cannot carry {}",
                path.display(),
                lost.join(", ")
            ));
        }
    }
    Ok(report)
}

pub(super) fn interface_changes(old: &Interface, new: &Interface, prefix: &str) -> Vec<Change> {
    let mut out = Vec::new();
    let mut push = |subject: String, reason, detail| {
        out.push(Change::new(format!("{prefix}{subject}"), reason, detail))
    };
    if old.file != new.file {
        push(
            "file class".into(),
            Reason::FileClassChanged,
            Some(file_class_change(&old.file, &new.file)),
        );
    }
    if old.soname != new.soname {
        push(
            "soname".into(),
            Reason::SonameChanged,
            Some(format!(
                "{} → {}",
                or_none(&old.soname),
                or_none(&new.soname)
            )),
        );
    }
    if old.needed != new.needed {
        push(
            "needed".into(),
            Reason::NeededChanged,
            Some(format!("{} → {}", list(&old.needed), list(&new.needed))),
        );
    }
    version_changes(old, new, &mut push);
    symbol_changes(old, new, &mut push);
    import_changes(old, new, &mut push);
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
                    "parents {} flags {} → parents {} flags {}",
                    list(&a.parents),
                    a.flags,
                    list(&b.parents),
                    b.flags
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
    // The added keys by symbol name, in key order: a version bump moves every symbol, and
    // scanning every added key for each removed one made that quadratic (libLLVM-14 against
    // libLLVM-15: minutes).
    let mut added_by_name: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for key in &added {
        added_by_name
            .entry(new_s[*key].name.as_str())
            .or_default()
            .push(key);
    }
    for (key, sym) in &old_s {
        match new_s.get(key) {
            Some(now) => changed_symbol(key, sym, now, push),
            None => {
                // The same name under another version: a move, not a removal plus an addition.
                let moved = added_by_name
                    .get_mut(sym.name.as_str())
                    .and_then(|candidates| take_least_hidden(candidates, &new_s));
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

/// The first candidate not hidden (else the first), taken out of `candidates`.
fn take_least_hidden<'a>(
    candidates: &mut Vec<&'a String>,
    new_s: &BTreeMap<String, &Symbol>,
) -> Option<&'a String> {
    let best = candidates
        .iter()
        .enumerate()
        .min_by_key(|(_, k)| new_s[**k].hidden)
        .map(|(i, _)| i)?;
    Some(candidates.remove(best))
}

/// Imports the program owes the library (those no library of its closure defines, what
/// the default interface keeps): a new strong one is a symbol every program must define.
/// An import that turned from weak to strong is a new obligation too.
fn import_changes(
    old: &Interface,
    new: &Interface,
    push: &mut impl FnMut(String, Reason, Option<String>),
) {
    let strong = |i: &Import| i.binding != Binding::Weak;
    let old_i: BTreeMap<&str, &Import> = old.imports.iter().map(|i| (i.name.as_str(), i)).collect();
    let new_i: BTreeMap<&str, &Import> = new.imports.iter().map(|i| (i.name.as_str(), i)).collect();
    for (name, now) in &new_i {
        let was = old_i.get(name);
        let reason = match (was, strong(now)) {
            (None, true) => Reason::ImportAdded,
            (None, false) => Reason::WeakImportAdded,
            (Some(w), true) if !strong(w) => Reason::ImportAdded,
            _ => continue,
        };
        let detail = match reason {
            Reason::ImportAdded => format!(
                "no library of its closure defines {name}: a program that does not define \
                 it dies at start (undefined symbol: {name}){}",
                if was.is_some() { "; it was weak" } else { "" }
            ),
            _ => format!("no library of its closure defines {name}; a program may define it"),
        };
        push(format!("import {name}"), reason, Some(detail));
    }
    for name in old_i.keys().filter(|n| !new_i.contains_key(*n)) {
        push(format!("import {name}"), Reason::ImportRemoved, None);
    }
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
        format!("{} → {}", a.kind.as_str(), b.kind.as_str()),
    );
    field(
        a.binding != b.binding,
        Reason::BindingChanged,
        format!("{} → {}", a.binding.as_str(), b.binding.as_str()),
    );
    field(
        a.visibility != b.visibility,
        Reason::VisibilityChanged,
        format!("{} → {}", a.visibility.as_str(), b.visibility.as_str()),
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
            format!(
                "alias of {} → {}",
                or_none(&a.alias_of),
                or_none(&b.alias_of)
            ),
        );
    }
    field(
        a.align != b.align || a.section_align != b.section_align || a.region != b.region,
        Reason::Layout,
        format!(
            "align {}/{} region {} → align {}/{} region {}",
            a.align,
            a.section_align,
            a.region.as_str(),
            b.align,
            b.section_align,
            b.region.as_str()
        ),
    );
}

/// The fields of two file classes that differ, as `machine 62 → 183, elf64 true → false`.
fn file_class_change(a: &FileClass, b: &FileClass) -> String {
    let fields = [
        ("machine", a.machine.to_string(), b.machine.to_string()),
        ("elf64", a.elf64.to_string(), b.elf64.to_string()),
        (
            "big_endian",
            a.big_endian.to_string(),
            b.big_endian.to_string(),
        ),
        ("os_abi", a.os_abi.to_string(), b.os_abi.to_string()),
        (
            "abi_version",
            a.abi_version.to_string(),
            b.abi_version.to_string(),
        ),
        (
            "flags",
            format!("{:#x}", a.flags),
            format!("{:#x}", b.flags),
        ),
    ];
    fields
        .iter()
        .filter(|(_, x, y)| x != y)
        .map(|(name, x, y)| format!("{name} {x} → {y}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An optional name as people read it: the name, or `(none)`.
fn or_none(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("(none)")
}

/// A list of names as people read it: `a, b`, or `(none)`.
fn list(values: &[String]) -> String {
    if values.is_empty() {
        "(none)".into()
    } else {
        values.join(", ")
    }
}

//! llvm-ifs text (IfsVersion 3.0), for interoperating with LLVM's interface stubs.
//!
//! The format has no field for symbol versions, so a versioned symbol carries its version in
//! its name, as `name@@VER` (default) or `name@VER` (hidden); version definitions are implied
//! by those names, and a version's marker symbol (`VER@@VER`, absolute in the library) is read
//! back as one. Version parents and flags ride in comments llvm-ifs ignores
//! (`# abicut-version: VER parents P... flags N`), so a library and its own IFS diff as
//! identical when nothing else is lost; symbols are listed in `.dynsym` order, which the
//! reader keeps. What IFS cannot carry at all (data alignment and regions, alias groups,
//! `STB_GNU_UNIQUE` binding, protected visibility, arch sections, link warnings, imports'
//! providers) is named, with counts, in a leading comment when the interface has any, and
//! in `abicut diff`'s notes when one side is IFS text; it gets conservative defaults on the
//! way in: IFS is for exchange, the canonical JSON is the interface.

use super::{
    Binding, FileClass, Import, Interface, Kind, Malformed, Region, SCHEMA_VERSION, Symbol,
    VersionDef, Visibility,
};
use goblin::elf::header::{
    EM_386, EM_AARCH64, EM_ARM, EM_MIPS, EM_PPC, EM_PPC64, EM_RISCV, EM_S390, EM_X86_64,
};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// ELF machines and the names llvm-ifs gives them. The model depends on no other module of
/// the crate, so the numbers come from goblin, not from `elf::arch`.
const ARCHES: &[(u16, &str)] = &[
    (EM_X86_64, "x86_64"),
    (EM_386, "i386"),
    (EM_AARCH64, "AArch64"),
    (EM_ARM, "ARM"),
    (EM_PPC64, "PowerPC64"),
    (EM_PPC, "PowerPC"),
    (EM_RISCV, "RISC-V"),
    (EM_S390, "S390"),
    (EM_MIPS, "Mips"),
];

/// Renders `iface` as llvm-ifs text.
pub fn render(iface: &Interface) -> String {
    let mut out = String::from("--- !ifs-v1\n");
    let lost = not_carried(iface);
    if !lost.is_empty() {
        let _ = writeln!(out, "# abicut: IFS cannot carry {}", lost.join(", "));
    }
    out.push_str("IfsVersion:      3.0\n");
    for v in iface.versions.iter().filter(|v| carriable(v)) {
        let _ = write!(out, "# {VERSION_COMMENT} {} index {}", v.name, v.index);
        if !v.parents.is_empty() {
            let _ = write!(out, " parents {}", v.parents.join(" "));
        }
        let _ = writeln!(out, " flags {}", v.flags);
    }
    if let Some(soname) = &iface.soname {
        let _ = writeln!(out, "SoName:          {}", quote(soname));
    }
    let arch = ARCHES
        .iter()
        .find(|(m, _)| *m == iface.file.machine)
        .map_or_else(|| iface.file.machine.to_string(), |(_, n)| (*n).to_string());
    let _ = writeln!(
        out,
        "Target:          {{ ObjectFormat: ELF, Arch: {arch}, Endianness: {}, BitWidth: {} }}",
        if iface.file.big_endian {
            "big"
        } else {
            "little"
        },
        if iface.file.elf64 { 64 } else { 32 }
    );
    if !iface.needed.is_empty() {
        out.push_str("NeededLibs:\n");
        for lib in &iface.needed {
            let _ = writeln!(out, "  - {}", quote(lib));
        }
    }
    out.push_str("Symbols:\n");
    // In `.dynsym` order, which the reader takes back from the line order.
    let mut lines: Vec<(u32, String)> = iface
        .symbols
        .iter()
        .map(|s| (s.position, symbol_line(s)))
        .collect();
    lines.extend(iface.imports.iter().map(|i| (i.position, import_line(i))));
    lines.sort();
    for (_, line) in lines {
        out.push_str(&line);
    }
    out.push_str("...\n");
    out
}

/// The comment that carries a version definition's parents and flags.
const VERSION_COMMENT: &str = "abicut-version:";

/// Whether the version comment can carry `v`: its name and its parents' are words the
/// comment's reader splits back apart (not empty, no white space, no parent named like
/// one of the comment's keywords). The fuzz target `elf_read` found a library whose
/// version definition has an empty name: rendered, its comment did not read back.
fn carriable(v: &VersionDef) -> bool {
    let word = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace);
    word(&v.name)
        && v.parents
            .iter()
            .all(|p| word(p) && !["index", "parents", "flags"].contains(&p.as_str()))
}

/// What of `iface` the IFS text loses, with counts: the leading comment of rendered IFS,
/// and the note of a diff against IFS text.
pub fn not_carried(iface: &Interface) -> Vec<String> {
    let mut lost = Vec::new();
    let mut count = |n: usize, what: &str| {
        if n > 0 {
            lost.push(format!("{n} {what}"));
        }
    };
    let data = |s: &&Symbol| s.region.is_data() || s.region == Region::Common;
    count(
        iface.symbols.iter().filter(data).count(),
        "data symbols' alignment and region",
    );
    let groups: BTreeSet<&str> = iface
        .symbols
        .iter()
        .filter_map(|s| s.alias_of.as_deref())
        .collect();
    count(groups.len(), "alias groups");
    count(
        iface
            .symbols
            .iter()
            .filter(|s| s.binding == Binding::Unique)
            .count(),
        "unique symbols (read back as global)",
    );
    count(
        iface
            .symbols
            .iter()
            .filter(|s| s.visibility == Visibility::Protected)
            .count(),
        "protected symbols",
    );
    count(
        iface.versions.iter().filter(|v| !carriable(v)).count(),
        "version definitions' flags and parents (names that are not single words)",
    );
    count(iface.sections.len(), "arch sections");
    count(iface.warnings.len(), "link warnings");
    count(
        iface.imports.iter().filter(|i| i.from.is_some()).count(),
        "imports' providers",
    );
    lost
}

fn symbol_line(sym: &Symbol) -> String {
    let mut line = format!(
        "  - {{ Name: {}, Type: {}",
        quote(&sym.sort_key()),
        type_name(sym.kind)
    );
    if sym.kind != Kind::Func {
        let _ = write!(line, ", Size: {}", sym.size);
    }
    if sym.binding == Binding::Weak {
        line.push_str(", Weak: true");
    }
    line.push_str(" }\n");
    line
}

fn import_line(imp: &Import) -> String {
    let name = match &imp.version {
        Some(v) => format!("{}@{v}", imp.name),
        None => imp.name.clone(),
    };
    let weak = if imp.binding == Binding::Weak {
        ", Weak: true"
    } else {
        ""
    };
    format!(
        "  - {{ Name: {}, Type: {}, Undefined: true{weak} }}\n",
        quote(&name),
        type_name(imp.kind)
    )
}

fn type_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Func => "Func",
        Kind::Object | Kind::Common => "Object",
        Kind::Tls => "TLS",
        Kind::Notype => "NoType",
    }
}

/// Quotes a YAML scalar when it holds characters YAML would read differently: in single
/// quotes, or in double quotes with escapes when it holds a control character (a line
/// break cannot stand in a single-quoted one-line scalar: the fuzz target `elf_read` found
/// a symbol name with a newline rendered as text that did not read back).
fn quote(s: &str) -> String {
    if s.chars().any(char::is_control) {
        let mut out = String::from('"');
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        return out;
    }
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.$@+-".contains(&b))
        && !s.starts_with(['-', '@']);
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

/// Parses llvm-ifs text (as llvm-ifs 14 to 19 write it) into an interface.
pub fn parse(text: &str) -> Result<Interface, Malformed> {
    let mut file = FileClass {
        abi_version: 0,
        big_endian: false,
        elf64: true,
        flags: 0,
        machine: 0,
        os_abi: 0,
    };
    let mut soname = None;
    let mut needed = Vec::new();
    let mut symbols = Vec::new();
    let mut imports = Vec::new();
    let mut section = "";
    let mut saw_version = false;
    let mut carried = BTreeMap::new();
    for (n, line) in block_lines(text)? {
        let at = |reason: Malformed| Malformed(format!("line {n}: {reason}"));
        if let Some(comment) = line.trim_start().strip_prefix('#') {
            if let Some(def) = comment.trim_start().strip_prefix(VERSION_COMMENT) {
                let def = parse_version_comment(def).map_err(at)?;
                carried.insert(def.name.clone(), def);
            }
            continue;
        }
        if line.is_empty() || line == "--- !ifs-v1" || line == "..." {
            continue;
        }
        if let Some(item) = line.trim_start().strip_prefix("- ") {
            match section {
                "NeededLibs" => needed.push(unquote(item.trim())),
                "Symbols" => {
                    let fields = flow_mapping(item).map_err(at)?;
                    let position = (symbols.len() + imports.len()) as u32 + 1;
                    if fields.get("Undefined").map(String::as_str) == Some("true") {
                        imports.push(parse_import(&fields, position).map_err(at)?);
                    } else {
                        symbols.push(parse_symbol(&fields, position).map_err(at)?);
                    }
                }
                _ => return Err(at("list item outside NeededLibs or Symbols".into())),
            }
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| at("expected `Key: value`".into()))?;
        let value = value.trim();
        section = "";
        match key.trim() {
            "IfsVersion" => {
                saw_version = true;
                if !value.starts_with('3') {
                    return Err(at(
                        format!("IfsVersion {value} is not supported (3.x is)").into()
                    ));
                }
            }
            "SoName" => soname = Some(unquote(value)),
            "Target" => parse_target(value, &mut file).map_err(at)?,
            "NeededLibs" => section = "NeededLibs",
            "Symbols" => section = "Symbols",
            other => return Err(at(format!("unknown key {other}").into())),
        }
    }
    if !saw_version {
        return Err("not llvm-ifs text: no IfsVersion".into());
    }
    let versions = carried_versions(implied_versions(soname.as_deref(), &symbols), carried)?;
    let mut iface = Interface {
        file,
        imports,
        needed,
        needs: Vec::new(),
        schema: SCHEMA_VERSION,
        sections: Vec::new(),
        soname,
        symbols,
        versions,
        warnings: BTreeMap::new(),
    };
    iface.canonicalize();
    super::unique_keys(iface.symbols.iter().map(Symbol::key))?;
    Ok(iface)
}

fn parse_target(value: &str, file: &mut FileClass) -> Result<(), Malformed> {
    let fields = flow_mapping(value)?;
    let arch = fields.get("Arch").ok_or("Target has no Arch")?;
    file.machine = ARCHES
        .iter()
        .find(|(_, n)| n == arch)
        .map(|(m, _)| *m)
        .or_else(|| arch.parse().ok())
        .ok_or_else(|| format!("unknown Arch {arch}"))?;
    file.big_endian = fields.get("Endianness").map(String::as_str) == Some("big");
    file.elf64 = fields.get("BitWidth").map(String::as_str) != Some("32");
    Ok(())
}

/// The text's lines, numbered from 1, with YAML flow sequences (`Symbols: [ { ... }, ... ]`,
/// on one line or several, as llvm-ifs accepts them) unfolded into block items
/// (`Symbols:` then `- { ... }`), which the reader then takes like the block style.
fn block_lines(text: &str) -> Result<Vec<(usize, String)>, Malformed> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end()));
    while let Some((n, line)) = lines.next() {
        let flow = (!line.trim_start().starts_with(['#', '-']))
            .then(|| line.split_once(':'))
            .flatten()
            .filter(|(_, v)| v.trim_start().starts_with('['));
        let Some((key, value)) = flow else {
            out.push((n, line.to_string()));
            continue;
        };
        let mut body = value.trim_start()[1..].to_string();
        let items = loop {
            if let Some(items) = flow_items(&body) {
                break items;
            }
            let Some((_, more)) = lines.next() else {
                return Err(Malformed(format!(
                    "line {n}: `{}: [` has no closing ]",
                    key.trim()
                )));
            };
            body.push(' ');
            body.push_str(more);
        };
        out.push((n, format!("{}:", key.trim_end())));
        out.extend(items.into_iter().map(|item| (n, format!("  - {item}"))));
    }
    Ok(out)
}

/// The items of a flow sequence whose opening `[` is already consumed, or `None` while its
/// closing `]` has not been seen. Commas inside `{ }` and quotes do not split items.
fn flow_items(body: &str) -> Option<Vec<String>> {
    let mut items = Vec::new();
    let (mut depth, mut quoted, mut start) = (0usize, false, 0);
    for (i, c) in body.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            _ if quoted => {}
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' | ']' if depth == 0 => {
                let item = body[start..i].trim();
                if !item.is_empty() {
                    items.push(item.to_string());
                }
                if c == ']' {
                    return Some(items);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    None
}

/// Parses `VER index I [parents P...] flags N`, the rest of an `# abicut-version:` comment.
fn parse_version_comment(text: &str) -> Result<VersionDef, Malformed> {
    let mut words = text.split_whitespace();
    let name = words
        .next()
        .ok_or("abicut-version comment without a version")?;
    let mut def = VersionDef {
        flags: 0,
        index: 0,
        name: name.to_string(),
        parents: Vec::new(),
    };
    let mut in_parents = false;
    while let Some(word) = words.next() {
        let mut number = |what: &str| {
            let value = words.next().unwrap_or("");
            value
                .parse::<u16>()
                .map_err(|_| format!("version {name}: bad {what} {value:?}"))
        };
        match word {
            "parents" => in_parents = true,
            "index" => (def.index, in_parents) = (number("index")?, false),
            "flags" => (def.flags, in_parents) = (number("flags")?, false),
            parent if in_parents => def.parents.push(parent.to_string()),
            other => return Err(Malformed(format!("version {name}: unexpected {other:?}"))),
        }
    }
    Ok(def)
}

/// The implied version definitions, with what the comments carried (index, parents, flags,
/// the base version's name) taking precedence; in index order. A version the comments do
/// not carry takes the next index after the carried ones, or the lowest free one when those
/// run out (the fuzz target `elf_read` found a carried index 65535, past which the next
/// overflowed).
fn carried_versions(
    implied: Vec<VersionDef>,
    carried: BTreeMap<String, VersionDef>,
) -> Result<Vec<VersionDef>, Malformed> {
    if carried.is_empty() {
        return Ok(implied);
    }
    let mut versions: Vec<VersionDef> = carried.into_values().collect();
    let used: BTreeSet<u16> = versions.iter().map(|v| v.index).collect();
    let next = used.last().copied().unwrap_or(1);
    let mut free = (next.saturating_add(1)..=u16::MAX)
        .chain(2..next)
        .filter(|i| !used.contains(i));
    let missing: Vec<VersionDef> = implied
        .into_iter()
        .filter(|v| v.flags & 1 == 0 && !versions.iter().any(|c| c.name == v.name))
        .collect();
    for mut v in missing {
        v.index = free
            .next()
            .ok_or_else(|| format!("no version index left for version {}", v.name))?;
        versions.push(v);
    }
    versions.sort_by_key(|v| v.index);
    Ok(versions)
}

/// Parses `{ Key: value, Key: 'quoted, value' }`.
fn flow_mapping(text: &str) -> Result<BTreeMap<String, String>, Malformed> {
    let inner = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or("expected a { ... } mapping")?;
    let mut fields = BTreeMap::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once(':').ok_or("expected `Key: value`")?;
        let after = after.trim_start();
        let (value, next) = if let Some(q) = after.strip_prefix('\'') {
            let end = closing_quote(q).ok_or("unterminated quoted value")?;
            (q[..end].replace("''", "'"), &q[end + 1..])
        } else if let Some(q) = after.strip_prefix('"') {
            let end = closing_double_quote(q).ok_or("unterminated quoted value")?;
            (unescape(&q[..end]), &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        fields.insert(key.trim().to_string(), value);
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    Ok(fields)
}

fn closing_quote(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            if bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return Some(i);
        }
        i += 1;
    }
    None
}

fn unquote(s: &str) -> String {
    if let Some(inner) = s.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        return unescape(inner);
    }
    match s.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        Some(inner) => inner.replace("''", "'"),
        None => s.to_string(),
    }
}

/// The index of the `"` that closes a double-quoted scalar whose opening `"` is consumed.
fn closing_double_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// The text of a double-quoted YAML scalar: the escapes [`quote`] writes (`\\`, `\"`,
/// `\n`, `\t`, `\uXXXX`) and YAML's `\r`, `\0`, `\xXX`; any other escaped character
/// stands for itself.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let hex = |chars: &mut std::str::Chars, n: usize| {
            let digits: String = chars.take(n).collect();
            u32::from_str_radix(&digits, 16)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or(char::REPLACEMENT_CHARACTER)
        };
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some('x') => out.push(hex(&mut chars, 2)),
            Some('u') => out.push(hex(&mut chars, 4)),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

fn parse_kind(fields: &BTreeMap<String, String>) -> Result<Kind, Malformed> {
    Ok(match fields.get("Type").map(String::as_str) {
        Some("Func") => Kind::Func,
        Some("Object") => Kind::Object,
        Some("TLS") => Kind::Tls,
        Some("NoType") | Some("Unknown") | None => Kind::Notype,
        Some(other) => return Err(Malformed(format!("unknown symbol Type {other}"))),
    })
}

fn parse_symbol(fields: &BTreeMap<String, String>, position: u32) -> Result<Symbol, Malformed> {
    let full = fields.get("Name").ok_or("symbol without Name")?;
    let (name, version, hidden) = split_version(full);
    let kind = parse_kind(fields)?;
    let size: u64 = match fields.get("Size") {
        Some(s) => s
            .parse()
            .map_err(|_| format!("symbol {full}: bad Size {s}"))?,
        None => 0,
    };
    // A version's marker symbol (`VER@@VER`, size 0) is absolute in the library.
    let marker = version.as_deref() == Some(name.as_str()) && !hidden && size == 0;
    let region = match kind {
        _ if marker => Region::Abs,
        Kind::Func => Region::Text,
        Kind::Tls => Region::Tls,
        _ => Region::Data,
    };
    // IFS records no alignment: assume the natural alignment of the size, capped at 16.
    let align = if region.is_data() {
        super::natural_align(size).min(16)
    } else {
        0
    };
    Ok(Symbol {
        align,
        alias_of: None,
        binding: if fields.get("Weak").map(String::as_str) == Some("true") {
            Binding::Weak
        } else {
            Binding::Global
        },
        hidden,
        kind,
        local_version: false,
        name,
        other: 0,
        position,
        region,
        section_align: align,
        size: if kind == Kind::Func { 0 } else { size },
        value: 0,
        version,
        visibility: Visibility::Default,
    })
}

fn parse_import(fields: &BTreeMap<String, String>, position: u32) -> Result<Import, Malformed> {
    let full = fields.get("Name").ok_or("symbol without Name")?;
    // An import has no default or hidden version, so it is written `name@VER` and split at
    // the first `@`: a version that starts with `@` (the fuzz target `ifs_read` found
    // `name@@@V`) reads back whole instead of losing one `@` per round trip.
    let (name, version) = match full.split_once('@') {
        Some((n, v)) => (n.to_string(), Some(v.to_string())),
        None => (full.to_string(), None),
    };
    Ok(Import {
        binding: if fields.get("Weak").map(String::as_str) == Some("true") {
            Binding::Weak
        } else {
            Binding::Global
        },
        from: None,
        kind: parse_kind(fields)?,
        name,
        position,
        version,
    })
}

fn split_version(full: &str) -> (String, Option<String>, bool) {
    if let Some((n, v)) = full.split_once("@@") {
        return (n.to_string(), Some(v.to_string()), false);
    }
    if let Some((n, v)) = full.split_once('@') {
        return (n.to_string(), Some(v.to_string()), true);
    }
    (full.to_string(), None, false)
}

/// Version definitions implied by versioned symbol names: the base version named after the
/// SONAME, then each version in order of first appearance.
fn implied_versions(soname: Option<&str>, symbols: &[Symbol]) -> Vec<VersionDef> {
    let mut names: Vec<&str> = Vec::new();
    for sym in symbols {
        if let Some(v) = sym.version.as_deref()
            && !names.contains(&v)
        {
            names.push(v);
        }
    }
    if names.is_empty() {
        return Vec::new();
    }
    let base = VersionDef {
        flags: 1,
        index: 1,
        name: soname.unwrap_or("").to_string(),
        parents: Vec::new(),
    };
    std::iter::once(base)
        .chain(names.iter().enumerate().map(|(i, n)| VersionDef {
            flags: 0,
            index: i as u16 + 2,
            name: (*n).to_string(),
            parents: Vec::new(),
        }))
        .collect()
}

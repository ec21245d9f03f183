//! llvm-ifs text (IfsVersion 3.0), for interoperating with LLVM's interface stubs.
//!
//! The format has no field for symbol versions, so a versioned symbol carries its version in
//! its name, as `name@@VER` (default) or `name@VER` (hidden); version definitions are implied
//! by those names. Everything else IFS cannot say (alignment, regions, aliases, imports'
//! versions, arch sections) is lost on the way out, and gets conservative defaults on the
//! way in: IFS is for exchange, the canonical JSON is the interface.

use super::{
    Binding, FileClass, Import, Interface, Kind, Region, SCHEMA_VERSION, Symbol, VersionDef,
    Visibility,
};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// ELF machines and the names llvm-ifs gives them.
const ARCHES: &[(u16, &str)] = &[
    (62, "x86_64"),
    (3, "i386"),
    (183, "AArch64"),
    (40, "ARM"),
    (21, "PowerPC64"),
    (20, "PowerPC"),
    (243, "RISC-V"),
    (22, "S390"),
    (8, "Mips"),
];

/// Renders `iface` as llvm-ifs text.
pub fn render(iface: &Interface) -> String {
    let mut out = String::from("--- !ifs-v1\nIfsVersion:      3.0\n");
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
    let mut lines: Vec<String> = iface.symbols.iter().map(symbol_line).collect();
    lines.extend(iface.imports.iter().map(import_line));
    lines.sort();
    for line in lines {
        out.push_str(&line);
    }
    out.push_str("...\n");
    out
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

/// Quotes a YAML scalar when it holds characters YAML would read differently.
fn quote(s: &str) -> String {
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
pub fn parse(text: &str) -> Result<Interface, String> {
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
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        let at = |msg: &str| format!("line {}: {msg}", n + 1);
        if line.is_empty() || line.starts_with('#') || line == "--- !ifs-v1" || line == "..." {
            continue;
        }
        if let Some(item) = line.trim_start().strip_prefix("- ") {
            match section {
                "NeededLibs" => needed.push(unquote(item.trim())),
                "Symbols" => {
                    let fields = flow_mapping(item).map_err(|e| at(&e))?;
                    let position = (symbols.len() + imports.len()) as u32 + 1;
                    if fields.get("Undefined").map(String::as_str) == Some("true") {
                        imports.push(parse_import(&fields, position).map_err(|e| at(&e))?);
                    } else {
                        symbols.push(parse_symbol(&fields, position).map_err(|e| at(&e))?);
                    }
                }
                _ => return Err(at("list item outside NeededLibs or Symbols")),
            }
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| at("expected `Key: value`"))?;
        let value = value.trim();
        section = "";
        match key.trim() {
            "IfsVersion" => {
                saw_version = true;
                if !value.starts_with('3') {
                    return Err(at(&format!("IfsVersion {value} is not supported (3.x is)")));
                }
            }
            "SoName" => soname = Some(unquote(value)),
            "Target" => parse_target(value, &mut file).map_err(|e| at(&e))?,
            "NeededLibs" => section = "NeededLibs",
            "Symbols" => section = "Symbols",
            other => return Err(at(&format!("unknown key {other}"))),
        }
    }
    if !saw_version {
        return Err("not llvm-ifs text: no IfsVersion".into());
    }
    let versions = implied_versions(soname.as_deref(), &symbols);
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
    Ok(iface)
}

fn parse_target(value: &str, file: &mut FileClass) -> Result<(), String> {
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

/// Parses `{ Key: value, Key: 'quoted, value' }`.
fn flow_mapping(text: &str) -> Result<BTreeMap<String, String>, String> {
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
    match s.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        Some(inner) => inner.replace("''", "'"),
        None => s.to_string(),
    }
}

fn parse_kind(fields: &BTreeMap<String, String>) -> Result<Kind, String> {
    Ok(match fields.get("Type").map(String::as_str) {
        Some("Func") => Kind::Func,
        Some("Object") => Kind::Object,
        Some("TLS") => Kind::Tls,
        Some("NoType") | Some("Unknown") | None => Kind::Notype,
        Some(other) => return Err(format!("unknown symbol Type {other}")),
    })
}

fn parse_symbol(fields: &BTreeMap<String, String>, position: u32) -> Result<Symbol, String> {
    let full = fields.get("Name").ok_or("symbol without Name")?;
    let (name, version, hidden) = split_version(full);
    let kind = parse_kind(fields)?;
    let size: u64 = match fields.get("Size") {
        Some(s) => s
            .parse()
            .map_err(|_| format!("symbol {full}: bad Size {s}"))?,
        None => 0,
    };
    let region = match kind {
        Kind::Func => Region::Text,
        Kind::Tls => Region::Tls,
        _ => Region::Data,
    };
    // IFS records no alignment: assume the natural alignment of the size, capped at 16.
    let align = if region.is_data() {
        size.max(1).next_power_of_two().min(16)
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

fn parse_import(fields: &BTreeMap<String, String>, position: u32) -> Result<Import, String> {
    let full = fields.get("Name").ok_or("symbol without Name")?;
    let (name, version, _) = split_version(full);
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

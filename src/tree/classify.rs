//! Which files are in an interface tree: the rule docs/interface-diff.md documents ("Which
//! files are in the tree"), over a file's path inside its output and its first bytes. Everything a consumer's
//! build can read is kept; executables, documentation and data are dropped, so that they
//! cannot defeat the cutoff.

use super::Options;
use crate::elf::{self, FileType};
use serde::Serialize;

/// What a file is to a consumer's build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// An ELF shared object (`ET_DYN`, named `*.so` or `*.so.*`): replaced by its stub.
    SharedObject,
    /// Anything under an `include` directory, or named `*.h`, `*.hh`, `*.hpp`, `*.hxx`.
    Header,
    PkgConfig,
    Cmake,
    Libtool,
    /// A relocatable ELF object named `*.o` (crt objects).
    Object,
    /// A text file named like a shared object (glibc's `libc.so`), or `*.lds`.
    LinkerScript,
    /// Anything under a `nix-support` directory: nixpkgs' stdenv reads what an input
    /// propagates and its setup hook from there, so it shapes a consumer's build.
    NixSupport,
    /// `*.a`, or an `ar` archive by content: kept only with `--with-static`.
    StaticArchive,
    /// Executables, documentation, data: not part of the interface.
    Dropped,
}

impl Class {
    /// Whether files of this class are in a tree built with `options`.
    pub(super) fn kept(self, options: &Options) -> bool {
        match self {
            Class::Dropped => false,
            Class::StaticArchive => options.with_static,
            _ => true,
        }
    }
}

/// The file-classification rule (docs/interface-diff.md, "Which files are in the tree"). `rel` is the path inside the tree.
pub fn classify(rel: &[u8], bytes: &[u8]) -> Class {
    let name = rel.rsplit(|&c| c == b'/').next().unwrap_or(rel);
    let ext = extension(name);
    if in_documentation(rel) {
        return Class::Dropped;
    }
    let mut dirs = rel.split(|&c| c == b'/').rev().skip(1);
    if dirs.any(|dir| dir == b"nix-support") {
        return Class::NixSupport;
    }
    if elf::is_elf(bytes) {
        return match elf::file_type(bytes) {
            // A library cut short or with a corrupt e_type is still what a consumer would
            // link: read as one, so that the reader refuses it by name instead of it
            // silently leaving the tree.
            Some(FileType::Dynamic | FileType::Other(_)) | None if is_so_name(name) => {
                Class::SharedObject
            }
            Some(FileType::Relocatable) if ext == Some(b"o") => Class::Object,
            // glibc's libmcheck.a is a single object under an archive's name.
            Some(FileType::Relocatable) if ext == Some(b"a") => Class::StaticArchive,
            _ => Class::Dropped,
        };
    }
    if bytes.starts_with(b"!<arch>\n") || bytes.starts_with(b"!<thin>\n") || ext == Some(b"a") {
        return Class::StaticArchive;
    }
    let in_include = rel
        .split(|&c| c == b'/')
        .rev()
        .skip(1)
        .any(|dir| dir == b"include");
    match ext {
        _ if in_include => Class::Header,
        Some(b"h" | b"hh" | b"hpp" | b"hxx") => Class::Header,
        Some(b"pc") => Class::PkgConfig,
        Some(b"cmake") => Class::Cmake,
        Some(b"la") => Class::Libtool,
        Some(b"lds") => Class::LinkerScript,
        _ if is_so_name(name) => Class::LinkerScript,
        _ => Class::Dropped,
    }
}

fn extension(name: &[u8]) -> Option<&[u8]> {
    let dot = name.iter().rposition(|&c| c == b'.')?;
    (dot > 0).then(|| &name[dot + 1..])
}

/// `libfoo.so`, `libfoo.so.1`, `libfoo.so.1.2.3` (not `libfoo.so.6-gdb.py`).
fn is_so_name(name: &[u8]) -> bool {
    if name.ends_with(b".so") {
        return true;
    }
    memchr::memmem::rfind(name, b".so.").is_some_and(|at| {
        let version = &name[at + 4..];
        !version.is_empty() && version.iter().all(|&c| c.is_ascii_digit() || c == b'.')
    })
}

/// Documentation trees under `share/`, whose example headers no build includes.
fn in_documentation(rel: &[u8]) -> bool {
    let dirs: Vec<&[u8]> = rel.split(|&c| c == b'/').collect();
    dirs.windows(2).any(|w| {
        w[0] == b"share" && matches!(w[1], b"doc" | b"man" | b"info" | b"gtk-doc" | b"locale")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_rule() {
        let elf_dyn = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0";
        let elf_rel = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x01\0";
        let elf_exe = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0";
        assert_eq!(
            classify(b"lib/libz.so.1.2.13", elf_dyn),
            Class::SharedObject
        );
        assert_eq!(classify(b"bin/pie-tool", elf_dyn), Class::Dropped);
        assert_eq!(
            classify(b"lib/libz.so.1", &elf_dyn[..16]),
            Class::SharedObject
        );
        let elf_none = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\0\0";
        assert_eq!(classify(b"lib/libz.so.1", elf_none), Class::SharedObject);
        assert_eq!(classify(b"bin/tool", elf_none), Class::Dropped);
        assert_eq!(classify(b"bin/tool", elf_exe), Class::Dropped);
        assert_eq!(classify(b"lib/Scrt1.o", elf_rel), Class::Object);
        assert_eq!(
            classify(b"lib/libc.so", b"/* GNU ld script */"),
            Class::LinkerScript
        );
        assert_eq!(classify(b"lib/libz.a", b"!<arch>\n"), Class::StaticArchive);
        assert_eq!(classify(b"lib/libmcheck.a", elf_rel), Class::StaticArchive);
        assert_eq!(classify(b"include/c++/12/vector", b"x"), Class::Header);
        assert_eq!(classify(b"include", b"x"), Class::Dropped);
        assert_eq!(classify(b"lib/pkgconfig/z.pc", b"x"), Class::PkgConfig);
        assert_eq!(classify(b"lib/cmake/Z/ZConfig.cmake", b"x"), Class::Cmake);
        assert_eq!(classify(b"lib/libz.la", b"x"), Class::Libtool);
        assert_eq!(
            classify(b"nix-support/propagated-build-inputs", b"x"),
            Class::NixSupport
        );
        assert_eq!(
            classify(b"abc-zlib-dev/nix-support/setup-hook", b"x"),
            Class::NixSupport
        );
        assert_eq!(classify(b"bin/nix-support", b"x"), Class::Dropped);
        assert_eq!(classify(b"share/doc/z/README", b"x"), Class::Dropped);
        assert_eq!(classify(b"share/doc/z/examples/x.h", b"x"), Class::Dropped);
        assert_eq!(
            classify(b"share/gdb/libc.so.6-gdb.py", b"x"),
            Class::Dropped
        );
    }
}

//! Regression tests for what the fuzz targets (`fuzz/`, `src/fuzzing.rs`) found. The
//! in-place RUNPATH rewrite over shared strings is tested beside the code, in
//! `src/elf/edit.rs`.

use abicut::elf::read::read_bytes;
use abicut::elf::write::write_stub;
use abicut::iface::{Interface, ifs};

const IFS: &str = "--- !ifs-v1\nIfsVersion: 3.0\n\
Target: { ObjectFormat: ELF, Arch: x86_64, Endianness: little, BitWidth: 64 }\n\
Symbols:\n  - { Name: NAME, Type: Func }\n...\n";

/// `stubgen` found: llvm-ifs text (or canonical JSON) whose symbol name holds a NUL byte
/// made `abicut stubgen` panic inside `object`'s string table; it is now refused.
#[test]
fn a_name_with_a_nul_byte_is_refused_not_a_panic() {
    let iface = ifs::parse(&IFS.replace("NAME", "gz\0open64")).unwrap();
    let err = write_stub(&iface).unwrap_err().0;
    assert!(err.contains("NUL byte"), "{err}");
    let ok = ifs::parse(&IFS.replace("NAME", "gzopen64")).unwrap();
    let mut json = String::from_utf8(ok.to_canonical_json()).unwrap();
    json = json.replace("gzopen64", "gz\\u0000open64");
    let iface = Interface::from_json(json.as_bytes()).unwrap();
    assert!(write_stub(&iface).unwrap_err().0.contains("NUL byte"));
    assert!(write_stub(&ok).is_ok());
}

/// `elf_read` found: a library whose version definition has an empty name rendered an
/// `# abicut-version:` comment that llvm-ifs reading then refused. Such a version's flags
/// and parents are now named as not carried, and the text reads back.
#[test]
fn a_version_the_ifs_comment_cannot_carry_is_noted_and_the_text_reads_back() {
    let libz = std::fs::read("/usr/lib/x86_64-linux-gnu/libz.so.1").unwrap();
    let mut iface = read_bytes(&libz).unwrap();
    assert!(iface.versions.len() > 2);
    iface.versions[0].name = String::new();
    iface.versions[1].name = "two words".into();
    iface.versions[2].parents = vec!["flags".into()];
    let text = ifs::render(&iface);
    assert!(
        text.contains("3 version definitions' flags and parents"),
        "{text}"
    );
    ifs::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
}

/// `elf_read` and `stubgen` found: a symbol name or soname holding a line break rendered as
/// a single-quoted scalar split over two lines, which did not read back. Names with control
/// characters are now double-quoted with escapes, and read back whole.
#[test]
fn names_with_control_characters_survive_llvm_ifs_text() {
    let libz = std::fs::read("/usr/lib/x86_64-linux-gnu/libz.so.1").unwrap();
    let mut iface = read_bytes(&libz).unwrap();
    let name = "__cxa_fin\n!<arch>\t\"q\" \\ \u{1}'";
    iface.symbols[0].name = name.into();
    iface.soname = Some("lib\nz.so.1".into());
    iface.needed = vec!["libc\r.so.6".into()];
    let text = ifs::render(&iface);
    let back = ifs::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(back.symbols.iter().any(|s| s.name == name), "{text}");
    assert_eq!(back.soname.as_deref(), Some("lib\nz.so.1"));
    assert_eq!(back.needed, ["libc\r.so.6"]);
}

/// The section header and `.dynsym` of a copy of a 64-bit little-endian library.
struct Lib {
    bytes: Vec<u8>,
    elf: goblin::elf::Elf<'static>,
}

fn lib(path: &str) -> Lib {
    let bytes = std::fs::read(path).unwrap();
    let leaked: &'static [u8] = Box::leak(bytes.clone().into_boxed_slice());
    let elf = goblin::elf::Elf::parse(leaked).unwrap();
    Lib { bytes, elf }
}

impl Lib {
    fn section(&self, name: &str) -> &goblin::elf::SectionHeader {
        self.elf
            .section_headers
            .iter()
            .find(|s| self.elf.shdr_strtab.get_at(s.sh_name) == Some(name))
            .unwrap()
    }

    fn defined(&self, name: &str) -> (usize, goblin::elf::Sym) {
        self.elf
            .dynsyms
            .iter()
            .enumerate()
            .find(|(_, s)| s.st_shndx != 0 && self.elf.dynstrtab.get_at(s.st_name) == Some(name))
            .unwrap()
    }
}

/// `elf_read` found: a data symbol in a section aligned to 40 read as aligned to 40, which
/// no stub address can give, so the stub's interface differed from the library's. Such a
/// library is refused (lld refuses it too).
#[test]
fn a_section_alignment_not_a_power_of_two_is_refused() {
    let mut libc = lib("/usr/lib/x86_64-linux-gnu/libc.so.6");
    let (_, stdout) = libc.defined("stdout");
    let shoff = libc.elf.header.e_shoff as usize;
    let at = shoff + stdout.st_shndx * 64 + 48;
    libc.bytes[at..at + 8].copy_from_slice(&40u64.to_le_bytes());
    let err = read_bytes(&libc.bytes).unwrap_err().0;
    assert!(err.contains("alignment 40 is not a power of two"), "{err}");
    // Canonical JSON may say so too; the stub writer refuses it.
    let libz = std::fs::read("/usr/lib/x86_64-linux-gnu/libz.so.1").unwrap();
    let mut iface = read_bytes(&libz).unwrap();
    iface.symbols[0].align = 40;
    assert!(
        write_stub(&iface)
            .unwrap_err()
            .0
            .contains("not a power of two")
    );
}

/// `stubgen` found: two exported symbols with one key (here the same name and version
/// twice) gave an interface whose stub could not be written ("an alias of X, which comes
/// later or does not exist"). The reader now refuses them.
#[test]
fn two_definitions_with_one_key_are_refused() {
    let mut libz = lib("/usr/lib/x86_64-linux-gnu/libz.so.1");
    let (i, first) = libz.defined("deflate");
    let (j, _) = libz.defined("inflate");
    let dynsym = libz.section(".dynsym").sh_offset as usize;
    let versym = libz.section(".gnu.version").sh_offset as usize;
    libz.bytes[dynsym + 24 * j..dynsym + 24 * j + 4]
        .copy_from_slice(&(first.st_name as u32).to_le_bytes());
    let v = [libz.bytes[versym + 2 * i], libz.bytes[versym + 2 * i + 1]];
    libz.bytes[versym + 2 * j..versym + 2 * j + 2].copy_from_slice(&v);
    let err = read_bytes(&libz.bytes).unwrap_err().0;
    assert!(
        err.contains("two exported symbols read as \"deflate"),
        "{err}"
    );
}

/// `ifs_read` found: an import whose version starts with `@` was written `name@@V`, which
/// read back as version `V`: one `@` lost per round trip. Imports are split at the first
/// `@` (they have no default or hidden version), so the version comes back whole.
#[test]
fn an_import_version_starting_with_at_survives_llvm_ifs_text() {
    let text = IFS.replace(
        "Symbols:\n",
        "Symbols:\n  - { Name: '__snprintf_chk@@@GLIBC_2.3.4', Type: Func, Undefined: true }\n",
    );
    let first = ifs::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(first.imports[0].name, "__snprintf_chk");
    assert_eq!(first.imports[0].version.as_deref(), Some("@@GLIBC_2.3.4"));
    let rendered = ifs::render(&first);
    let second = ifs::parse(&rendered).unwrap_or_else(|e| panic!("{e}\n{rendered}"));
    assert_eq!(second.imports, first.imports);
    assert_eq!(ifs::render(&second), rendered);
}

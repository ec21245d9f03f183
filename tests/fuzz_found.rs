//! Regression tests for what the fuzz targets (`fuzz/`, `src/fuzzing.rs`) found. The
//! in-place RUNPATH rewrite over shared strings is tested beside the code, in
//! `src/elf/edit.rs`.

mod support;

use abicut::elf::read::read_bytes;
use abicut::elf::write::write_stub;
use abicut::iface::{ArchSection, Interface, ifs};

const IFS: &str = "--- !ifs-v1\nIfsVersion: 3.0\n\
Target: { ObjectFormat: ELF, Arch: x86_64, Endianness: little, BitWidth: 64 }\n\
Symbols:\n  - { Name: NAME, Type: Func }\n...\n";

/// llvm-ifs text that must read, or the test fails showing the reason and the text.
fn read_ifs(text: &str) -> Interface {
    ifs::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

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
    read_ifs(&text);
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
    let back = read_ifs(&text);
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
    lib_of(std::fs::read(path).unwrap())
}

fn lib_of(bytes: Vec<u8>) -> Lib {
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
    let first = read_ifs(&text);
    assert_eq!(first.imports[0].name, "__snprintf_chk");
    assert_eq!(first.imports[0].version.as_deref(), Some("@@GLIBC_2.3.4"));
    let rendered = ifs::render(&first);
    let second = read_ifs(&rendered);
    assert_eq!(second.imports, first.imports);
    assert_eq!(ifs::render(&second), rendered);
}

/// `elf_read` found: a library section named `.MIPS.abiflags` but of type `SHT_GNU_verdef`
/// was copied into the stub as it was, where readers took it for the stub's version
/// definitions ("version index 5 is not defined"). A kept section of another type than its
/// name's is refused, by the reader and by the writer (for canonical JSON).
#[test]
fn a_kept_section_of_the_wrong_type_is_refused() {
    let libz = std::fs::read("/usr/lib/x86_64-linux-gnu/libz.so.1").unwrap();
    let mut iface = read_bytes(&libz).unwrap();
    iface.sections = vec![ArchSection {
        align: 8,
        data: "0400000010000000050000004e5500000200000004000000030000000000000000".into(),
        flags: 2,
        name: ".note.gnu.property".into(),
        sh_type: 7,
    }];
    let stub = write_stub(&iface).unwrap();
    assert_eq!(read_bytes(&stub).unwrap().sections, iface.sections);
    let mut damaged = lib_of(stub);
    let index = damaged
        .elf
        .section_headers
        .iter()
        .position(|s| damaged.elf.shdr_strtab.get_at(s.sh_name) == Some(".note.gnu.property"))
        .unwrap();
    let at = damaged.elf.header.e_shoff as usize + 64 * index + 4;
    damaged.bytes[at..at + 4].copy_from_slice(&1u32.to_le_bytes());
    let err = read_bytes(&damaged.bytes).unwrap_err().0;
    assert!(
        err.contains("section .note.gnu.property has type 0x1, where such a section has 0x7"),
        "{err}"
    );
    iface.sections[0].sh_type = 0x6fff_fffd;
    let err = write_stub(&iface).unwrap_err().0;
    assert!(err.contains("has type 0x6ffffffd"), "{err}");
}

/// `stubgen` found: a `.MIPS.abiflags` section that is not loaded (no `SHF_ALLOC`, from a
/// damaged library or canonical JSON) got a `PT_MIPS_ABIFLAGS` program header the writer
/// had not reserved (object's writer asserts; unchecked, the headers overran). Only a
/// loaded section gets the segments that describe it.
#[test]
fn a_section_not_loaded_gets_no_segment() {
    let libz = std::fs::read("/usr/lib/x86_64-linux-gnu/libz.so.1").unwrap();
    let mut iface = read_bytes(&libz).unwrap();
    iface.sections = vec![ArchSection {
        align: 8,
        data: "0000".repeat(12),
        flags: 0,
        name: ".MIPS.abiflags".into(),
        sh_type: 0x7000_002a,
    }];
    let stub = write_stub(&iface).unwrap();
    let elf = goblin::elf::Elf::parse(&stub).unwrap();
    assert!(elf.program_headers.iter().all(|p| p.p_type != 0x7000_0003));
    assert_eq!(read_bytes(&stub).unwrap().sections, iface.sections);
}

/// `elf_read` found: an exported object of a size past 2^63 in llvm-ifs text (the size
/// of a damaged library's symbol, rendered) overflowed `next_power_of_two` while its
/// alignment was guessed. It gets the cap, 16, as other large objects do.
#[test]
fn an_object_of_any_size_reads_from_llvm_ifs_text() {
    let text = IFS.replace(
        "{ Name: NAME, Type: Func }",
        "{ Name: big, Type: Object, Size: 18374686479671623680 }",
    );
    let iface = read_ifs(&text);
    assert_eq!(iface.symbols[0].size, 18374686479671623680);
    assert_eq!(iface.symbols[0].align, 16);
}

/// A carried version index of 65535 (as a damaged library's can be) left no index after it
/// for a version the comments do not carry: one is taken from the free ones below it.
#[test]
fn a_version_not_carried_finds_an_index_below_the_last_one() {
    let text = IFS.replace(
        "Symbols:\n  - { Name: NAME, Type: Func }\n",
        "# abicut-version: libx.so index 1 flags 1\n\
         # abicut-version: HIGH index 65535 flags 0\n\
         Symbols:\n  - { Name: f@@HIGH, Type: Func }\n  - { Name: g@@LOW, Type: Func }\n",
    );
    let iface = read_ifs(&text);
    let index = |name: &str| {
        iface
            .versions
            .iter()
            .find(|v| v.name == name)
            .unwrap()
            .index
    };
    assert_eq!((index("HIGH"), index("LOW")), (65535, 2));
}

/// `stubgen` found (67 crash files in 480 s): llvm-ifs text naming one symbol twice read as
/// an interface whose stub did not read back ("two exported symbols read as ..."). The
/// llvm-ifs and canonical JSON readers refuse such text as the ELF reader does, and so does
/// the stub writer, for an interface made some other way.
#[test]
fn a_symbol_named_twice_is_refused_by_every_reader_and_the_writer() {
    let twice = IFS.replace(
        "  - { Name: NAME, Type: Func }\n",
        "  - { Name: gzopen, Type: Func }\n  - { Name: gzopen, Type: Func }\n",
    );
    let err = ifs::parse(&twice).unwrap_err().0;
    assert!(
        err.contains("two exported symbols read as \"gzopen\""),
        "{err}"
    );
    let once = ifs::parse(&IFS.replace("NAME", "gzopen")).unwrap();
    let mut doubled = once.clone();
    doubled.symbols.push(doubled.symbols[0].clone());
    let json = String::from_utf8(doubled.to_canonical_json()).unwrap();
    let err = Interface::from_json(json.as_bytes()).unwrap_err().0;
    assert!(
        err.contains("two exported symbols read as \"gzopen\""),
        "{err}"
    );
    let err = write_stub(&doubled).unwrap_err().0;
    assert!(
        err.contains("two exported symbols read as \"gzopen\""),
        "{err}"
    );
    assert!(write_stub(&once).is_ok());
}

/// `elf_edit` found: a file whose `PT_DYNAMIC` claims more bytes than its dynamic array has
/// (`p_filesz` past `.dynstr`, which ld.so never reads) had its string table cleared by
/// `--remove-rpath`: the editor rewrote the whole claimed room with `DT_NULL`s, so the
/// soname and needed names read as empty. The room stops at the next section or table.
#[test]
fn a_dynamic_segment_claiming_too_much_keeps_its_strings_through_an_edit() {
    use abicut::elf::edit::{Edit, ElfFile};
    if !support::have("patchelf") {
        return;
    }
    // patchelf's growth puts `.dynstr` right after the dynamic array, as in the fuzz case.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libz.so.1");
    std::fs::copy("/usr/lib/x86_64-linux-gnu/libz.so.1", &path).unwrap();
    let file = path.to_str().unwrap();
    support::run(
        "patchelf",
        &["--set-rpath", "/some/run/path", file],
        dir.path(),
    );
    let mut lib = lib(file);
    let (index, dynamic) = lib
        .elf
        .program_headers
        .iter()
        .enumerate()
        .find(|(_, p)| p.p_type == goblin::elf::program_header::PT_DYNAMIC)
        .map(|(i, p)| (i, p.clone()))
        .unwrap();
    let strtab = lib.elf.dynamic.as_ref().unwrap().info.strtab as u64;
    assert!(strtab > dynamic.p_offset, "the strings follow the array");
    let filesz = lib.elf.header.e_phoff as usize + 56 * index + 32;
    lib.bytes[filesz..filesz + 8].copy_from_slice(&0x2_0010_0000_u64.to_le_bytes());
    let damaged = ElfFile::parse(&path, lib.bytes.clone()).unwrap();
    let before = (damaged.soname().unwrap(), damaged.needed().unwrap());
    assert_eq!(before.0.as_deref(), Some("libz.so.1"));
    let edited = ElfFile::parse(&path, damaged.edit(&[Edit::RemoveRpath]).unwrap()).unwrap();
    assert_eq!((edited.soname().unwrap(), edited.needed().unwrap()), before);
    assert_eq!(edited.rpath().unwrap(), None);
}

/// `elf_edit` found: a program whose PT_INTERP lies at offset 0 (over the ELF header) had a
/// new, shorter interpreter written over its ELF magic, in place, as patchelf would: the
/// result was no ELF file. A name is written in place only over the old name and its NUL,
/// never over the headers; otherwise it goes into a new segment.
#[test]
fn an_interpreter_over_the_headers_is_not_rewritten_in_place() {
    use abicut::elf::edit::{Edit, ElfFile};
    let path = std::path::Path::new("/usr/bin/true");
    let mut program = lib("/usr/bin/true");
    let index = program
        .elf
        .program_headers
        .iter()
        .position(|p| p.p_type == goblin::elf::program_header::PT_INTERP)
        .unwrap();
    let offset = program.elf.header.e_phoff as usize + 56 * index + 8;
    program.bytes[offset..offset + 8].copy_from_slice(&0u64.to_le_bytes());
    let damaged = ElfFile::parse(path, program.bytes.clone()).unwrap();
    let edited = damaged
        .edit(&[Edit::SetInterpreter("/lib/ld.so".into())])
        .unwrap();
    assert_eq!(&edited[..4], b"\x7fELF");
    let again = ElfFile::parse(path, edited).unwrap();
    assert_eq!(again.interpreter().unwrap().as_deref(), Some("/lib/ld.so"));
}

/// `json_read` found two kinds of canonical JSON whose stub could not be written or read
/// back: two version definitions at one index (every symbol of either got the same one, so
/// two symbols read back as `FIX_1.0@@FIX_1.0`), and an object said to alias a function
/// (an alias shares its leader's address, so its section; object's writer was asked for a
/// section the stub never made, and panicked). The writer refuses both.
#[test]
fn versions_sharing_an_index_and_aliases_across_sections_are_refused() {
    let libz = std::fs::read("/usr/lib/x86_64-linux-gnu/libz.so.1").unwrap();
    let iface = read_bytes(&libz).unwrap();
    let mut shared = iface.clone();
    let index = shared.versions[2].index;
    shared.versions[3].index = index;
    let err = write_stub(&shared).unwrap_err().0;
    assert!(err.contains(&format!("share index {index}")), "{err}");

    assert!(write_stub(&iface).is_ok());

    let libc = std::fs::read("/usr/lib/x86_64-linux-gnu/libc.so.6").unwrap();
    let mut across = read_bytes(&libc).unwrap();
    let function = across
        .symbols
        .iter()
        .position(|s| s.name == "malloc")
        .unwrap();
    let key = across.symbols[function].sort_key();
    // An object after `malloc` in key order, where an alias must come.
    let object = across
        .symbols
        .iter()
        .rposition(|s| s.region.is_data() && s.alias_of.is_none() && s.size > 0)
        .unwrap();
    across.symbols[object].alias_of = Some(key);
    let err = write_stub(&across).unwrap_err().0;
    assert!(err.contains("which lies in another section"), "{err}");
}

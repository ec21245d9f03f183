//! The bodies of the fuzz targets in `fuzz/` (`cargo +nightly fuzz`, libFuzzer), one
//! function per target, each taking the fuzzer's bytes. They live in the library, behind the
//! `fuzzing` feature (and in its unit tests), so that the fuzz targets stay one line each
//! and so that the test suite runs the very same bodies on the seed corpus with stable Rust
//! (the "smoke" below, `fuzzing::tests`).
//!
//! Each body feeds the bytes to one of abicut's readers and checks what must hold of any
//! input, not only of good input: no panic (the base), and, where it is cheap, that what
//! the reader accepted survives a round trip (a stub made from it re-parses, canonical JSON
//! re-reads to the same bytes, an edited file re-reads with the edit and nothing else
//! changed). A broken invariant panics, which is what libFuzzer reports as a crash.
//!
//! The panics here are the point: they are assertions about abicut's own output, never a
//! way of handling the input, which every reader must refuse with an error.

use crate::elf::closure::Resolver;
use crate::elf::deps;
use crate::elf::edit::{Edit, ElfFile};
use crate::elf::facts::Facts;
use crate::elf::loader::{self, Target};
use crate::iface::{Interface, ifs};
use crate::stubgen::{self, Format, Imports, Options};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The name errors give the fuzzed input.
const INPUT: &str = "fuzz-input";

/// The directory [`scratch`] gives, once made (the smoke test sets it first, to its own
/// temporary directory).
static SCRATCH: OnceLock<PathBuf> = OnceLock::new();

/// A directory of this process's own for the targets that need files: the one in
/// `ABICUT_FUZZ_SCRATCH` (`fuzz/run.sh` puts it below `fuzz/`), or one below the system's
/// temporary directory, named by the process id. Made once.
pub fn scratch() -> &'static Path {
    SCRATCH.get_or_init(|| {
        let base =
            std::env::var_os("ABICUT_FUZZ_SCRATCH").map_or_else(std::env::temp_dir, PathBuf::from);
        let dir = base.join(format!("abicut-fuzz-{}", std::process::id()));
        // A fuzz run cannot go on without its scratch directory: a panic says so at once.
        std::fs::create_dir_all(&dir).expect("cannot make the fuzz scratch directory");
        dir
    })
}

/// The ELF reader: the interface (`stubgen`, `interface`, `diff`), the facts `abicut elf`
/// prints, and the header helpers every command uses. A readable interface must give a
/// stub (the writer fails only on interfaces the reader never makes), and that stub must
/// read back.
pub fn elf_read(bytes: &[u8]) {
    let _ = crate::elf::file_type(bytes);
    let _ = crate::elf::header(bytes);
    if let Ok(iface) = crate::elf::read::read_bytes(bytes) {
        check_interface(&iface, true);
    }
    if let Ok(elf) = ElfFile::parse(Path::new(INPUT), bytes.to_vec()) {
        let _ = Facts::of(Path::new(INPUT), &elf);
    }
}

/// `stubgen` from bytes, told apart by content as `stubgen` does (ELF, canonical JSON,
/// llvm-ifs), in each mode: `--exact`, the default interface with `--imports all`, and the
/// default interface with owed imports, which needs the file on disk (the dependencies'
/// closure is found from it, through a resolver shared by a few hundred inputs). Every
/// interface must render in all three formats and each rendering must read back.
pub fn stubgen(bytes: &[u8]) {
    let (Ok(exact), format) = stubgen::parse_bytes(bytes) else {
        return;
    };
    let from_elf = format == Format::Elf;
    check_interface(&exact, from_elf);
    let mut all = exact.clone();
    all.normalize(&|_| false);
    check_interface(&all, from_elf);
    if from_elf {
        // One resolver for a few hundred inputs, so that the dependencies (libc) are parsed
        // once for all of them; each input under a name of its own, since the resolver
        // caches by path.
        static RESOLVER: Mutex<Option<(Resolver, u32)>> = Mutex::new(None);
        let mut guard = RESOLVER.lock().unwrap_or_else(|e| e.into_inner());
        let (resolver, n) = match guard.take() {
            Some((r, n)) if n < 256 => (r, n),
            _ => (Resolver::default(), 0),
        };
        let file = scratch().join(format!("stubgen-{n}.so"));
        std::fs::write(&file, bytes).expect("cannot write the fuzz scratch file");
        let owed = stubgen::load_with(&file, &Options::default(), &resolver)
            .expect("stubgen read the bytes but not the same bytes as a file");
        check_interface(&owed, true);
        let opts = Options {
            imports: Imports::All,
            ..Options::default()
        };
        let via_file =
            stubgen::load_with(&file, &opts, &resolver).expect("stubgen --imports all of the file");
        assert_eq!(
            via_file, all,
            "--imports all differs between bytes and file"
        );
        let _ = std::fs::remove_file(&file);
        *guard = Some((resolver, n + 1));
    }
}

/// Renders `iface` as canonical JSON, llvm-ifs text and (when `stub_must_work`, or when the
/// writer accepts it) an ELF stub, and reads each back.
fn check_interface(iface: &Interface, stub_must_work: bool) {
    let json = iface.to_canonical_json();
    let again = Interface::from_json(&json)
        .unwrap_or_else(|e| panic!("canonical JSON does not read back: {e}"));
    assert_eq!(
        again.to_canonical_json(),
        json,
        "canonical JSON changes on a round trip"
    );
    let text = ifs::render(iface);
    if let Err(e) = ifs::parse(&text) {
        panic!("llvm-ifs text abicut wrote does not read back: {e}\n{text}");
    }
    let stub = match crate::elf::write::write_stub(iface) {
        Ok(stub) => stub,
        Err(e) if stub_must_work => panic!("no stub for an interface read from ELF: {e}"),
        Err(_) => return,
    };
    let back = crate::elf::read::read_bytes(&stub)
        .unwrap_or_else(|e| panic!("a stub abicut wrote does not read back: {e}"));
    let restub = crate::elf::write::write_stub(&back)
        .unwrap_or_else(|e| panic!("no stub for the interface of a stub: {e}"));
    if stub_must_work {
        assert!(restub == stub, "the stub of a stub differs from the stub");
    } else {
        // Canonical JSON and llvm-ifs text can hold what no ELF file carries (a function's
        // size, found by `json_read`): the first stub drops it, and from there on the
        // stub is its own fixed point.
        let back = crate::elf::read::read_bytes(&restub)
            .unwrap_or_else(|e| panic!("a stub of a stub does not read back: {e}"));
        let third = crate::elf::write::write_stub(&back)
            .unwrap_or_else(|e| panic!("no stub for the interface of a stub: {e}"));
        assert!(third == restub, "the stub of a stub differs from the stub");
    }
}

/// `verify`'s reader (what the loader would look at) on one file, and what the loader
/// model derives from it. Where the edit reader also reads the file, both must see the
/// same `DT_NEEDED` list and soname.
pub fn verify_read(bytes: &[u8]) {
    let Ok(d) = deps::read(Path::new(INPUT), bytes) else {
        return;
    };
    for need in &d.version_needs {
        let _ = deps::need_met(need, &d);
    }
    let target = Target::of(&d);
    let _ = target.platform();
    let _ = target.standard_interpreter();
    let _ = loader::system_dirs(bytes, target);
    if let Ok(elf) = ElfFile::parse(Path::new(INPUT), bytes.to_vec())
        && let (Ok(needed), Ok(soname)) = (elf.needed(), elf.soname())
        && d.dynamic
    {
        assert_eq!(needed, d.needed, "verify and elf read different DT_NEEDED");
        assert_eq!(soname, d.soname, "verify and elf read different sonames");
    }
}

/// What `abicut elf` prints of a file, each field read separately (one may fail alone).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    interpreter: Option<String>,
    rpath: Option<String>,
    soname: Option<String>,
    needed: Vec<String>,
}

impl Seen {
    /// `None` when a field cannot be read: the file's facts are then not compared.
    fn of(elf: &ElfFile) -> Option<Seen> {
        Some(Seen {
            interpreter: elf.interpreter().ok()?,
            rpath: elf.rpath().ok()?,
            soname: elf.soname().ok()?,
            needed: elf.needed().ok()?,
        })
    }
}

/// `abicut elf` edits. Every edit that succeeds must give a file the editor reads again,
/// showing the edit and nothing else changed, and a file `verify` reads when it read the
/// original.
pub fn elf_edit(bytes: &[u8]) {
    let Ok(elf) = ElfFile::parse(Path::new(INPUT), bytes.to_vec()) else {
        return;
    };
    let Some(before) = Seen::of(&elf) else {
        return;
    };
    let verifiable = deps::read(Path::new(INPUT), bytes).is_ok();
    let long = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-fuzz-1.0/lib:$ORIGIN/../lib";
    let mut batches: Vec<(Vec<Edit>, Seen)> = vec![
        (vec![Edit::SetRpath(long.into())], {
            Seen {
                rpath: Some(long.into()),
                ..before.clone()
            }
        }),
        (vec![Edit::SetRpath("/x".into())], {
            Seen {
                rpath: Some("/x".into()),
                ..before.clone()
            }
        }),
        (vec![Edit::SetOldRpath(long.into())], {
            Seen {
                rpath: Some(long.into()),
                ..before.clone()
            }
        }),
        (vec![Edit::RemoveRpath], {
            Seen {
                rpath: None,
                ..before.clone()
            }
        }),
        (vec![Edit::SetSoname("libfuzzed.so.7".into())], {
            Seen {
                soname: Some("libfuzzed.so.7".into()),
                ..before.clone()
            }
        }),
        (vec![Edit::SetInterpreter("/lib/ld-fuzz.so.2".into())], {
            Seen {
                interpreter: Some("/lib/ld-fuzz.so.2".into()),
                ..before.clone()
            }
        }),
    ];
    let added = "libfuzz-added.so.1";
    let mut needed = before.needed.clone();
    if !needed.iter().any(|n| n == added) {
        needed.push(added.into());
    }
    batches.push((
        vec![Edit::AddNeeded(added.into())],
        Seen {
            needed,
            ..before.clone()
        },
    ));
    if let Some(first) = before.needed.first() {
        let new = format!("{first}.fuzz");
        let replaced = before
            .needed
            .iter()
            .map(|n| if n == first { new.clone() } else { n.clone() })
            .collect();
        batches.push((
            vec![Edit::ReplaceNeeded(first.clone(), new)],
            Seen {
                needed: replaced,
                ..before.clone()
            },
        ));
        let kept = before
            .needed
            .iter()
            .filter(|n| *n != first)
            .cloned()
            .collect();
        batches.push((
            vec![
                Edit::RemoveNeeded(first.clone()),
                Edit::SetRpath(long.into()),
            ],
            Seen {
                needed: kept,
                rpath: Some(long.into()),
                ..before.clone()
            },
        ));
    }
    for (edits, want) in batches {
        let Ok(out) = elf.edit(&edits) else {
            continue;
        };
        let again = ElfFile::parse(Path::new(INPUT), out.clone())
            .unwrap_or_else(|e| panic!("{edits:?} made a file the editor refuses: {e}"));
        let seen = Seen::of(&again)
            .unwrap_or_else(|| panic!("{edits:?} made a file whose facts do not read"));
        assert_eq!(seen, want, "{edits:?} did not give what it should");
        if verifiable && let Err(e) = deps::read(Path::new(INPUT), &out) {
            panic!("{edits:?} made a file verify refuses: {e}");
        }
    }
}

/// llvm-ifs text: what the reader accepts must render and read back, to the same text.
pub fn ifs_read(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(iface) = ifs::parse(text) else {
        return;
    };
    let first = ifs::render(&iface);
    let again = ifs::parse(&first)
        .unwrap_or_else(|e| panic!("llvm-ifs text abicut wrote does not read back: {e}"));
    // From the text abicut wrote on: a hand-written text may lack what the reader implies
    // (a base version named by the soname), which the second rendering then notes; found
    // by `ifs_read` and left so.
    let rendered = ifs::render(&again);
    let third = ifs::parse(&rendered)
        .unwrap_or_else(|e| panic!("llvm-ifs text abicut wrote does not read back: {e}"));
    assert_eq!(
        ifs::render(&third),
        rendered,
        "llvm-ifs text changes on a round trip"
    );
    check_interface(&iface, false);
}

/// The JSON readers on one input: canonical interface JSON, abicut graph JSON and Nix
/// derivation JSON. What each accepts must survive its round trip.
pub fn json_read(bytes: &[u8]) {
    if let Ok(iface) = Interface::from_json(bytes) {
        check_interface(&iface, false);
    }
    let path = Path::new(INPUT);
    let _ = crate::graph::json::looks_like_graph_json(bytes);
    if let Ok(graph) = crate::graph::json::from_slice(path, bytes) {
        check_graph(&graph);
    }
    if let Ok(graph) = crate::graph::nix::from_slice(path, bytes) {
        check_graph(&graph);
    }
}

/// A graph saved as graph JSON must load again and save to the same text.
fn check_graph(graph: &crate::graph::Graph) {
    let text = crate::graph::json::to_string(graph)
        .unwrap_or_else(|e| panic!("a loaded graph does not save: {e}"));
    let again = crate::graph::json::from_slice(Path::new(INPUT), text.as_bytes())
        .unwrap_or_else(|e| panic!("graph JSON abicut wrote does not load: {e}\n{text}"));
    let resaved = crate::graph::json::to_string(&again)
        .unwrap_or_else(|e| panic!("a reloaded graph does not save: {e}"));
    assert_eq!(resaved, text, "graph JSON changes on a round trip");
}

/// `.narinfo` text. An accepted narinfo names a store path that reads again, and a URL
/// inside the cache; the relocation names of its path keep the path's length.
pub fn narinfo(bytes: &[u8]) {
    use crate::cache::narinfo::NarInfo;
    use crate::relocate::{StorePath, new_name};
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(info) = NarInfo::parse(INPUT, text) else {
        return;
    };
    assert!(
        !info.url.starts_with('/') && !info.url.split('/').any(|c| c == ".."),
        "a narinfo URL outside the cache was accepted: {}",
        info.url
    );
    assert!(info.fingerprint().starts_with("1;"));
    let again = StorePath::parse(&info.store_path.path())
        .unwrap_or_else(|e| panic!("an accepted store path does not read again: {e}"));
    assert_eq!(again, info.store_path);
    for delta in [-3isize, -1, 0, 1, 5] {
        if let Ok(name) = new_name(&info.store_path, delta) {
            assert_eq!(
                name.len() as isize,
                info.store_path.name.len() as isize - delta,
                "a relocated name does not keep the path's length"
            );
        }
    }
}

/// NAR unpacking (`relocate --from-cache`), into a fresh box in the scratch directory:
/// whatever the NAR holds, nothing may appear in the box but the destination, and no
/// write may pass through a symlink the NAR made (a canary file beside the destination
/// must keep its contents).
pub fn nar_unpack(bytes: &[u8]) {
    let bx = scratch().join("nar-box");
    remove(&bx);
    std::fs::create_dir(&bx).expect("cannot make the NAR box");
    let canary = bx.join("canary");
    std::fs::write(&canary, b"canary").expect("cannot write the canary");
    let dest = bx.join("out");
    let _ = crate::cache::unpack(bytes, &dest);
    let mut names: Vec<_> = std::fs::read_dir(&bx)
        .expect("cannot list the NAR box")
        .map(|e| e.expect("cannot list the NAR box").file_name())
        .collect();
    names.sort();
    assert!(
        names.iter().all(|n| n == "canary" || n == "out"),
        "an unpacked NAR wrote beside its destination: {names:?}"
    );
    assert_eq!(
        std::fs::read(&canary).ok().as_deref(),
        Some(&b"canary"[..]),
        "an unpacked NAR wrote through a symlink"
    );
    remove(&bx);
}

/// Removes `dir` and everything below it, making the read-only directories an unpacked
/// NAR leaves writable first (the fuzzer may not run as root).
fn remove(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if std::fs::symlink_metadata(dir).is_err() {
        return;
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&d) else {
            continue;
        };
        if meta.is_dir() {
            let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755));
            if let Ok(entries) = std::fs::read_dir(&d) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        }
    }
    std::fs::remove_dir_all(dir).expect("cannot clear the NAR box");
}

#[cfg(test)]
mod tests {
    //! The short smoke: every fuzz body over the seed corpus `fuzz/seed.sh` builds (real
    //! libraries, a patchelf-grown program, stubs, JSON, llvm-ifs, narinfo and NAR files),
    //! and over each seed cut short and with a few bytes flipped, with stable Rust.
    use super::*;

    /// A fuzz target's body.
    type Body = fn(&[u8]);

    /// Each target's body, by the name of its directory in the corpus.
    const TARGETS: &[(&str, Body)] = &[
        ("elf_read", elf_read),
        ("stubgen", stubgen),
        ("verify_read", verify_read),
        ("elf_edit", elf_edit),
        ("ifs_read", ifs_read),
        ("json_read", json_read),
        ("narinfo", narinfo),
        ("nar_unpack", nar_unpack),
    ];

    /// A few damaged copies of `seed`, the same every run.
    fn variants(seed: &[u8]) -> Vec<Vec<u8>> {
        let mut out = vec![seed.to_vec()];
        for cut in [seed.len() / 2, seed.len() * 9 / 10] {
            out.push(seed[..cut].to_vec());
        }
        let mut x = seed.len() as u64 | 1;
        for _ in 0..4 {
            let mut v = seed.to_vec();
            for _ in 0..8 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if !v.is_empty() {
                    let i = (x % v.len() as u64) as usize;
                    v[i] ^= (x >> 32) as u8 | 1;
                }
            }
            out.push(v);
        }
        out
    }

    #[test]
    fn fuzz_bodies_pass_on_the_seed_corpus() {
        let tmp = tempfile::tempdir().unwrap();
        let corpus = tmp.path().join("corpus");
        std::fs::create_dir(tmp.path().join("scratch")).unwrap();
        SCRATCH.set(tmp.path().join("scratch")).unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let status = std::process::Command::new("bash")
            .arg(root.join("fuzz/seed.sh"))
            .arg(&corpus)
            .status()
            .unwrap();
        assert!(status.success(), "fuzz/seed.sh failed");
        for (name, body) in TARGETS {
            let dir = corpus.join(name);
            let mut seeds: Vec<_> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .map(|e| e.unwrap().path())
                .collect();
            seeds.sort();
            assert!(seeds.len() >= 2, "{name}: only {} seeds", seeds.len());
            for seed in seeds {
                let bytes = std::fs::read(&seed).unwrap();
                for v in variants(&bytes) {
                    let run = std::panic::catch_unwind(|| body(&v));
                    assert!(
                        run.is_ok(),
                        "{name} on {} (or a damaged copy)",
                        seed.display()
                    );
                }
            }
        }
    }

    /// With `ABICUT_FUZZ_ARTIFACTS=DIR` (as `fuzz/artifacts`), every file of `DIR/TARGET`
    /// is run through its target's body with stable Rust, naming those that still fail:
    /// crashes a fuzz run saved are checked against the fixed code without a nightly build.
    #[test]
    fn fuzz_artifacts_no_longer_fail() {
        let Some(dir) = std::env::var_os("ABICUT_FUZZ_ARTIFACTS") else {
            return;
        };
        let mut failing = Vec::new();
        for (name, body) in TARGETS {
            let Ok(entries) = std::fs::read_dir(Path::new(&dir).join(name)) else {
                continue;
            };
            for file in entries {
                let file = file.unwrap().path();
                let bytes = std::fs::read(&file).unwrap();
                if std::panic::catch_unwind(|| body(&bytes)).is_err() {
                    failing.push(file.display().to_string());
                }
            }
        }
        assert!(failing.is_empty(), "still failing:\n{}", failing.join("\n"));
    }
}

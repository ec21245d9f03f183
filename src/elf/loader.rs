//! How glibc's dynamic loader finds the libraries of a program: the one place abicut models
//! it, so that `verify` and the stub generator agree with `ld.so` and with each other.
//!
//! The model, after glibc's `elf/dl-load.c` (`_dl_map_object`, `open_verify`):
//!
//! - A `DT_NEEDED` name first matches an object already loaded: one it was requested as, its
//!   `DT_SONAME`, or the interpreter (`ld.so` is loaded before anything else, but joins the
//!   symbol scope only where some object needs it).
//! - A name with a `/` is opened as it is (after dynamic string tokens are expanded).
//! - Otherwise these directories are searched, in order: the `DT_RPATH` of the object that
//!   needs the name and of each object that loaded it, up to the program (only when the
//!   needing object has no `DT_RUNPATH`; an object with both has only its `DT_RUNPATH`); the
//!   library path (`LD_LIBRARY_PATH`); the needing object's own `DT_RUNPATH`; then, unless the
//!   needing object is linked `-z nodefaultlib`, the interpreter's default directories.
//! - In `DT_RPATH`/`DT_RUNPATH`, `$ORIGIN` is the directory of the object (for the program:
//!   its path with every symlink resolved, as `/proc/self/exe` gives it; for a library: the
//!   path it was opened by), `$LIB` the interpreter's library directory name, `$PLATFORM`
//!   the machine's `AT_PLATFORM`; an entry with a token that cannot be expanded is dropped.
//! - A candidate of another ELF class or machine is skipped; one that is not ELF, or of the
//!   other byte order, stops the search with an error, as it does in `ld.so`.
//!
//! The default directories of an interpreter ([`Interpreter::open`]):
//!
//! - An interpreter inside a Nix store (a path component `<32-char hash>-<name>`) is a store
//!   glibc: nixpkgs builds it with its own `lib` directory as the only built-in directory
//!   and without a system `ld.so.cache`, so its default directories are its own directory.
//! - Any other interpreter is the system's: the directories of `/etc/ld.so.conf` (with its
//!   `include`s), which `ldconfig` turns into the `ld.so.cache` that glibc consults first,
//!   then glibc's built-in directories, read from the interpreter itself (glibc's
//!   `system_dirs` table: on Debian `/lib/<triplet>`, `/usr/lib/<triplet>`, `/lib`,
//!   `/usr/lib`).
//!
//! Not modelled: `glibc-hwcaps` and legacy hwcap subdirectories (they depend on the CPU), a
//! stale `ld.so.cache` (it is taken to match the directories it is built from), and the
//! `e_flags` checks some architectures add (ARM float ABI, MIPS).
//!
//! Paths are those the loader will see. [`Fs`] says where they are read now: a relink's
//! output staged beside its final path, or a foreign architecture's root (as qemu-user's
//! `-L`).

use super::deps::{self, Deps};
use crate::error::{Error, Result};
use foldhash::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// How many symlinks one lookup may go through (the kernel's limit).
const MAX_SYMLINKS: usize = 40;
const DF_1_NODEFLIB: u64 = 0x800;

/// Where the paths the loader will open are read from now.
#[derive(Debug, Clone, Default)]
pub struct Fs {
    /// `(at, now)`: a tree the loader will see at `at` that is at `now` today (a relink's
    /// staged output). Symlinks inside it are followed through the same translation.
    pub moved: Vec<(PathBuf, PathBuf)>,
    /// As qemu-user's `-L`: an absolute path is read under this root when it exists there,
    /// else as it is.
    pub sysroot: Option<PathBuf>,
}

impl Fs {
    /// Where `path` (as the loader sees it, without symlinks to follow) is read now.
    fn here(&self, path: &Path) -> PathBuf {
        for (at, now) in &self.moved {
            if let Ok(rest) = path.strip_prefix(at) {
                return if rest.as_os_str().is_empty() {
                    now.clone()
                } else {
                    now.join(rest)
                };
            }
        }
        if let Some(root) = &self.sysroot
            && let Ok(rel) = path.strip_prefix("/")
        {
            let under = root.join(rel);
            if fs::symlink_metadata(&under).is_ok() {
                return under;
            }
        }
        path.to_path_buf()
    }

    /// Follows every symlink in `path` the way the kernel would, but through `Fs::here`
    /// at each step: returns the path without symlinks as the loader sees it and where that
    /// is read now, or None when it does not exist.
    pub fn resolve(&self, path: &Path) -> Option<(PathBuf, PathBuf)> {
        self.resolve_in(path, &Lstats::default())
    }

    /// [`Fs::resolve`], with what each path component turned out to be kept in `lstats`.
    fn resolve_in(&self, path: &Path, lstats: &Lstats) -> Option<(PathBuf, PathBuf)> {
        let mut pending: Vec<PathBuf> = vec![absolute(path)];
        let mut hops = 0;
        'restart: while let Some(full) = pending.pop() {
            let mut done = PathBuf::from("/");
            let comps: Vec<Component> = full.components().collect();
            for (i, c) in comps.iter().enumerate() {
                match c {
                    Component::RootDir | Component::CurDir | Component::Prefix(_) => continue,
                    Component::ParentDir => {
                        done.pop();
                        continue;
                    }
                    Component::Normal(n) => done.push(n),
                }
                if let Some(target) = lstats.look(self, &done)? {
                    hops += 1;
                    if hops > MAX_SYMLINKS {
                        return None;
                    }
                    done.pop();
                    let mut next = done.join(target);
                    for rest in &comps[i + 1..] {
                        next.push(rest);
                    }
                    pending.push(next);
                    continue 'restart;
                }
            }
            let now = self.here(&done);
            return Some((done, now));
        }
        None
    }
}

/// What each path [`Fs::resolve`] stepped through is, as the loader sees it: missing, a
/// symlink (to its target) or anything else. A batch of closures walks the same directories
/// for every name it looks up (`/usr`, `/usr/lib` and `/usr/lib/x86_64-linux-gnu` a hundred
/// times or more each in a 32-library `stubgen` batch, a missing `/usr/local/lib/<triplet>`
/// for every search); kept here, each is asked of the kernel once.
#[derive(Default)]
struct Lstats(Mutex<HashMap<PathBuf, Option<Option<PathBuf>>>>);

impl Lstats {
    /// None when `at` does not exist (or a link cannot be read); else its link target, if
    /// it is a symlink.
    fn look(&self, fs: &Fs, at: &Path) -> Option<Option<PathBuf>> {
        if let Some(hit) = self.0.lock().ok().and_then(|m| m.get(at).cloned()) {
            return hit;
        }
        let now = fs.here(at);
        let seen = fs::symlink_metadata(&now).ok().and_then(|meta| {
            if meta.file_type().is_symlink() {
                fs::read_link(&now).ok().map(Some)
            } else {
                Some(None)
            }
        });
        if let Ok(mut m) = self.0.lock() {
            m.insert(at.to_path_buf(), seen.clone());
        }
        seen
    }
}

/// `path` made absolute against the current directory, as the loader does for relative names.
fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    }
}

/// The ELF class, byte order and machine an object must have to join a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub is_64: bool,
    pub little_endian: bool,
    pub machine: u16,
}

impl Target {
    pub fn of(deps: &Deps) -> Target {
        Target {
            is_64: deps.is_64,
            little_endian: deps.little_endian,
            machine: deps.machine,
        }
    }

    /// The `AT_PLATFORM` string Linux gives a process of this machine, where it is fixed.
    pub fn platform(&self) -> Option<&'static str> {
        match (self.machine, self.is_64) {
            (goblin::elf::header::EM_X86_64, true) => Some("x86_64"),
            (goblin::elf::header::EM_386, false) => Some("i686"),
            (goblin::elf::header::EM_AARCH64, true) => Some("aarch64"),
            _ => None,
        }
    }

    /// The interpreter glibc's psABI fixes for this machine: what a shared library is
    /// judged with when no program names one.
    pub fn standard_interpreter(&self) -> Option<&'static str> {
        use goblin::elf::header::*;
        Some(match (self.machine, self.is_64) {
            (EM_X86_64, true) => "/lib64/ld-linux-x86-64.so.2",
            (EM_386, false) => "/lib/ld-linux.so.2",
            (EM_AARCH64, true) => "/lib/ld-linux-aarch64.so.1",
            (EM_ARM, false) => "/lib/ld-linux-armhf.so.3",
            (EM_PPC64, true) if self.little_endian => "/lib64/ld64.so.2",
            (EM_RISCV, true) => "/lib/ld-linux-riscv64-lp64d.so.1",
            (EM_S390, true) => "/lib/ld64.so.1",
            (EM_MIPS, false) => "/lib/ld.so.1",
            _ => return None,
        })
    }
}

/// An interpreter and what it searches when nothing else names a directory.
#[derive(Debug, Clone)]
pub struct Interpreter {
    /// The path a program names (`PT_INTERP`).
    pub path: PathBuf,
    /// The parsed interpreter, where it is read now.
    pub object: Arc<Object>,
    /// The `ld.so.cache` directories (system interpreter only), then the built-in ones.
    pub default_dirs: Vec<PathBuf>,
    /// What `$LIB` expands to.
    pub dst_lib: String,
}

impl Interpreter {
    /// Opens the interpreter at `path` (as a program names it) and works out its default
    /// directories by the rule in the module documentation. Fails when it does not exist
    /// or is not an ELF file, as the kernel refuses to start the program then.
    pub fn open(path: &Path, files: &Files) -> Result<Interpreter> {
        let (_, now) = files
            .resolve(path)
            .ok_or_else(|| Error::invalid(path, "not found"))?;
        let object = match files.load(&now) {
            Ok(Some(o)) => o,
            Ok(None) => return Err(Error::invalid(path, "is not an ELF file")),
            Err(e) => return Err(e),
        };
        if in_nix_store(path) {
            let own = path.parent().unwrap_or(Path::new("/")).to_path_buf();
            return Ok(Interpreter {
                path: path.to_path_buf(),
                object,
                default_dirs: vec![own],
                dst_lib: "lib".to_owned(),
            });
        }
        let bytes = fs::read(&now).map_err(|e| Error::io(&now, e))?;
        let built_in = system_dirs(&bytes, Target::of(&object.deps));
        let dst_lib = built_in
            .first()
            .map(|d| d.to_string_lossy().trim_matches('/').to_owned())
            .unwrap_or_else(|| "lib".to_owned());
        let mut default_dirs = ld_so_conf(&files.fs, Path::new("/etc/ld.so.conf"));
        default_dirs.extend(built_in);
        Ok(Interpreter {
            path: path.to_path_buf(),
            object,
            default_dirs,
            dst_lib,
        })
    }
}

/// True when a component of `path` is a Nix store object (`<hash>-<name>`).
fn in_nix_store(path: &Path) -> bool {
    path.components().any(|c| match c {
        Component::Normal(n) => crate::store::store_name(n.as_encoded_bytes()).is_some(),
        _ => false,
    })
}

/// glibc's built-in directories, as `static const char system_dirs[]` in the interpreter:
/// NUL-separated absolute directories ending in `/`, accepted only where the table of their
/// lengths (`system_dirs_len`, machine words of the target) is also present.
pub fn system_dirs(bytes: &[u8], target: Target) -> Vec<PathBuf> {
    let word = |n: usize| -> Vec<u8> {
        match (target.is_64, target.little_endian) {
            (true, true) => (n as u64).to_le_bytes().to_vec(),
            (true, false) => (n as u64).to_be_bytes().to_vec(),
            (false, true) => (n as u32).to_le_bytes().to_vec(),
            (false, false) => (n as u32).to_be_bytes().to_vec(),
        }
    };
    let mut at = 0;
    while let Some(found) = memchr::memmem::find(&bytes[at..], b"\0/") {
        let start = at + found + 1;
        let dirs = dir_run(&bytes[start..]);
        if dirs.len() >= 2 {
            let lens: Vec<u8> = dirs.iter().flat_map(|d| word(d.len())).collect();
            if memchr::memmem::find(bytes, &lens).is_some() {
                return dirs
                    .iter()
                    .map(|d| PathBuf::from(String::from_utf8_lossy(d).trim_end_matches('/')))
                    .collect();
            }
        }
        at = start;
    }
    Vec::new()
}

/// The NUL-terminated strings at the start of `bytes` that look like `/dir/`.
fn dir_run(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some(end) = memchr::memchr(0, rest) {
        let s = &rest[..end];
        let is_dir = s.len() >= 2
            && s.starts_with(b"/")
            && s.ends_with(b"/")
            && s.iter().all(|b| b.is_ascii_graphic());
        if !is_dir {
            break;
        }
        out.push(s);
        rest = &rest[end + 1..];
    }
    out
}

/// The directories named by an `ld.so.conf` and the files it includes (`include GLOB`,
/// relative globs taken from the including file's directory); `hwcap` lines are ignored.
pub fn ld_so_conf(fs: &Fs, conf: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    read_conf(fs, conf, &mut out, 0);
    out
}

fn read_conf(fs: &Fs, conf: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    let Ok(text) = fs::read_to_string(fs.here(conf)) else {
        return;
    };
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(pattern) = line
            .strip_prefix("include")
            .filter(|p| p.starts_with([' ', '\t']))
        {
            if depth > 8 {
                continue;
            }
            for pat in pattern.split_whitespace() {
                let base = conf.parent().unwrap_or(Path::new("/"));
                for inc in glob(fs, &base.join(pat)) {
                    read_conf(fs, &inc, out, depth + 1);
                }
            }
        } else if !line.is_empty() && !line.starts_with("hwcap") {
            for dir in line.split([' ', '\t', ',', ':']).filter(|d| !d.is_empty()) {
                let dir = dir.split('=').next().unwrap_or(dir);
                let dir = PathBuf::from(dir.trim_end_matches('/'));
                if !dir.as_os_str().is_empty() && !out.contains(&dir) {
                    out.push(dir);
                }
            }
        }
    }
}

/// The files matching `pattern`, whose last component may hold `*` and `?`, sorted.
fn glob(fs: &Fs, pattern: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (
        pattern.parent(),
        pattern.file_name().and_then(|n| n.to_str()),
    ) else {
        return Vec::new();
    };
    if !name.contains(['*', '?']) {
        return vec![pattern.to_path_buf()];
    }
    let Ok(entries) = fs::read_dir(fs.here(dir)) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| wildcard(name.as_bytes(), n.as_bytes()))
        .map(|n| dir.join(n))
        .collect();
    out.sort();
    out
}

fn wildcard(pat: &[u8], s: &[u8]) -> bool {
    match pat.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| wildcard(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && wildcard(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && wildcard(rest, &s[1..]),
    }
}

/// Expands the dynamic string tokens of one search-path entry or needed name; None when
/// one cannot be expanded (glibc then drops the entry).
pub fn expand(entry: &str, origin: &Path, dst_lib: &str, platform: Option<&str>) -> Option<String> {
    let mut out = String::new();
    let mut rest = entry;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, len) = match after.strip_prefix('{') {
            Some(b) => match b.find('}') {
                Some(end) => (&b[..end], end + 2),
                None => ("", 0),
            },
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            }
        };
        let value = match name {
            "ORIGIN" => Some(origin.to_str()?),
            "LIB" => Some(dst_lib),
            "PLATFORM" => Some(platform?),
            _ => None,
        };
        match value {
            Some(v) if len > 0 => {
                out.push_str(v);
                rest = &after[len..];
            }
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Some(out)
}

/// A parsed ELF file and its identity on disk (two names of one file load once).
#[derive(Debug)]
pub struct Object {
    /// Where it is read now.
    pub file: PathBuf,
    pub id: (u64, u64),
    pub deps: Deps,
}

impl Object {
    /// The object `deps` was read from, the file at `now` whose metadata is `meta`.
    fn new(now: &Path, meta: &fs::Metadata, deps: Deps) -> Arc<Object> {
        Arc::new(Object {
            file: now.to_path_buf(),
            id: (meta.dev(), meta.ino()),
            deps,
        })
    }
}

/// Files as the loader opens them, each parsed once (shared across many programs). The
/// files are taken not to change while one `Files` is in use, as its caches assume: a batch
/// of closures searches the same directories for the same names and opens the same
/// interpreter, and each of those is done once.
#[derive(Default)]
pub struct Files {
    pub fs: Fs,
    /// Each path's parse, behind a lock of its own that is held while it is parsed: the
    /// threads of a batch all start with libc, and would otherwise each parse it.
    cache: Mutex<HashMap<PathBuf, Arc<Slot>>>,
    /// [`Fs::resolve`] of each path looked up, and whether it is a regular file.
    resolved: Mutex<HashMap<PathBuf, Option<Resolved>>>,
    /// What each path those resolutions stepped through is.
    lstats: Lstats,
    /// [`Files::interpreter`] of each interpreter path.
    interpreters: Mutex<HashMap<PathBuf, std::result::Result<Arc<Interpreter>, String>>>,
    /// Parse with [`deps::read_links`]: objects without their imports.
    links_only: bool,
    /// With `links_only`, roots read by [`Files::load_root`] that are not (yet) in `cache`.
    roots: Mutex<HashMap<PathBuf, Option<Arc<Object>>>>,
}

/// One path's parse in [`Files`]: empty until parsed; then the object, or None when the
/// file is not ELF.
type Slot = Mutex<Option<Option<Arc<Object>>>>;

/// Where a path leads ([`Fs::resolve`]), and whether that is a regular file.
#[derive(Clone)]
struct Resolved {
    at: PathBuf,
    now: PathBuf,
    is_file: bool,
}

/// What one search for a library found.
enum Candidate {
    Fits(Arc<Object>),
    OtherTarget,
    /// Not loadable, and `ld.so` stops here: the reason.
    Fatal(String),
}

impl Files {
    pub fn new(fs: Fs) -> Files {
        Files {
            fs,
            ..Files::default()
        }
    }

    /// Files whose objects are parsed only as far as closures and the names they define
    /// need ([`deps::read_links`]: no imports). They fail to parse, and so to load, exactly
    /// where [`Files::new`]'s do.
    pub fn links_only(fs: Fs) -> Files {
        Files {
            fs,
            links_only: true,
            ..Files::default()
        }
    }

    /// [`Fs::resolve`], once per path.
    pub fn resolve(&self, path: &Path) -> Option<(PathBuf, PathBuf)> {
        self.resolved(path).map(|r| (r.at, r.now))
    }

    fn resolved(&self, path: &Path) -> Option<Resolved> {
        if let Some(hit) = self.resolved.lock().ok().and_then(|m| m.get(path).cloned()) {
            return hit;
        }
        let found = self
            .fs
            .resolve_in(path, &self.lstats)
            .map(|(at, now)| Resolved {
                is_file: fs::metadata(&now).is_ok_and(|m| m.is_file()),
                at,
                now,
            });
        if let Ok(mut m) = self.resolved.lock() {
            m.insert(path.to_path_buf(), found.clone());
        }
        found
    }

    /// [`Interpreter::open`], once per path. Where it fails, the reason without the path:
    /// verify reports it after the path as the program names it, and a closure is searched
    /// without an interpreter's directories.
    pub fn interpreter(&self, path: &Path) -> std::result::Result<Arc<Interpreter>, String> {
        if let Some(hit) = self
            .interpreters
            .lock()
            .ok()
            .and_then(|m| m.get(path).cloned())
        {
            return hit;
        }
        let opened = Interpreter::open(path, self)
            .map(Arc::new)
            .map_err(|e| match e {
                Error::Invalid { reason, .. } => reason,
                other => other.to_string(),
            });
        if let Ok(mut m) = self.interpreters.lock() {
            m.insert(path.to_path_buf(), opened.clone());
        }
        opened
    }

    /// Parses the ELF file at `now` (a path read now); Ok(None) when it is not ELF.
    pub fn load(&self, now: &Path) -> Result<Option<Arc<Object>>> {
        let slot = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(now.to_path_buf())
            .or_default()
            .clone();
        let mut parsed = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(hit) = parsed.as_ref() {
            return Ok(hit.clone());
        }
        let object = if self.links_only {
            self.read(now, deps::read_links)?
        } else {
            self.read(now, deps::read)?
        };
        *parsed = Some(object.clone());
        Ok(object)
    }

    /// The object at `now` if [`Files::load`] parsed it already.
    fn loaded(&self, now: &Path) -> Option<Option<Arc<Object>>> {
        let slot = self.cache.lock().ok()?.get(now).cloned()?;
        slot.lock().ok()?.clone()
    }

    /// The root of a closure: [`Files::load`], except that with [`Files::links_only`] a
    /// file not loaded yet is read only as far as its links ([`deps::read_loader`]): a
    /// closure never asks its root for the names it defines. Such a root, not having its
    /// symbols read, is not refused for them (a closure found by `Files::new` would fail
    /// for a root whose symbol tables ld.so could not read); the library's own interface
    /// was read before its closure is asked for.
    pub fn load_root(&self, now: &Path) -> Result<Option<Arc<Object>>> {
        if !self.links_only {
            return self.load(now);
        }
        if let Some(hit) = self.known_root(now) {
            return Ok(hit);
        }
        let object = self.read(now, deps::read_loader)?;
        if let Ok(mut m) = self.roots.lock() {
            m.insert(now.to_path_buf(), object.clone());
        }
        Ok(object)
    }

    /// The root at `now` if it was parsed already, in full or as far as its links.
    fn known_root(&self, now: &Path) -> Option<Option<Arc<Object>>> {
        self.loaded(now)
            .or_else(|| self.roots.lock().ok()?.get(now).cloned())
    }

    /// Takes a root's bytes that its caller has mapped already (`stubgen` read the
    /// library's own interface from them), so that [`Files::load_root`] does not map and
    /// read the file again; a file it cannot read this way is left to `load_root`, which
    /// says why.
    pub fn offer_root(&self, path: &Path, bytes: &[u8]) {
        if !self.links_only || !crate::elf::is_elf(bytes) {
            return;
        }
        let Some(Resolved {
            now, is_file: true, ..
        }) = self.resolved(path)
        else {
            return;
        };
        if self.known_root(&now).is_some() {
            return;
        }
        let (Ok(meta), Ok(deps)) = (fs::metadata(&now), deps::read_loader(&now, bytes)) else {
            return;
        };
        let object = Object::new(&now, &meta, deps);
        if let Ok(mut m) = self.roots.lock() {
            m.insert(now, Some(object));
        }
    }

    /// Parses the file at `now` with `read`; Ok(None) when it is not ELF. Mapped, not read:
    /// a closure reads the dynamic section and symbol tables of a library, a small part of
    /// it.
    fn read(
        &self,
        now: &Path,
        read: fn(&Path, &[u8]) -> Result<Deps>,
    ) -> Result<Option<Arc<Object>>> {
        let meta = fs::metadata(now).map_err(|e| Error::io(now, e))?;
        let bytes = crate::fsx::map(now)?;
        Ok(if crate::elf::is_elf(&bytes) {
            Some(Object::new(now, &meta, read(now, &bytes)?))
        } else {
            None
        })
    }

    /// Hands over an object already parsed (verify parses every file of its tree anyway).
    pub fn insert(&self, now: &Path, deps: Deps) -> Result<Arc<Object>> {
        let meta = fs::metadata(now).map_err(|e| Error::io(now, e))?;
        let object = Object::new(now, &meta, deps);
        if let Ok(mut m) = self.cache.lock() {
            m.insert(
                now.to_path_buf(),
                Arc::new(Mutex::new(Some(Some(object.clone())))),
            );
        }
        Ok(object)
    }

    fn candidate(&self, path: &Path, target: Target) -> Option<(PathBuf, Candidate)> {
        let Resolved { now, is_file, .. } = self.resolved(path)?;
        if !is_file {
            return None;
        }
        let found = match self.load(&now) {
            Ok(Some(o)) => {
                let t = Target::of(&o.deps);
                if t.is_64 != target.is_64 || t.machine != target.machine {
                    Candidate::OtherTarget
                } else if t.little_endian != target.little_endian {
                    Candidate::Fatal("ELF file data encoding not the program's".to_owned())
                } else {
                    Candidate::Fits(o)
                }
            }
            Ok(None) => Candidate::Fatal("invalid ELF header".to_owned()),
            Err(e) => Candidate::Fatal(e.to_string()),
        };
        Some((path.to_path_buf(), found))
    }
}

/// What a program's loader is told beyond the objects themselves.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Searched after `DT_RPATH` and before `DT_RUNPATH`, as `LD_LIBRARY_PATH`.
    pub lib_paths: Vec<PathBuf>,
    /// The interpreter's default directories ([`Interpreter::default_dirs`]).
    pub default_dirs: Vec<PathBuf>,
    /// What `$LIB` expands to ([`Interpreter::dst_lib`]).
    pub dst_lib: String,
    /// What `$PLATFORM` expands to; entries using it are dropped when None.
    pub platform: Option<String>,
}

impl Search {
    /// The search of a program run by `interp`, with extra library directories.
    pub fn for_interpreter(interp: &Interpreter, lib_paths: Vec<PathBuf>) -> Search {
        Search {
            lib_paths,
            default_dirs: interp.default_dirs.clone(),
            dst_lib: interp.dst_lib.clone(),
            platform: Target::of(&interp.object.deps)
                .platform()
                .map(str::to_owned),
        }
    }

    /// The search of an object of `target` with no interpreter to ask: only its own paths
    /// and the library path.
    pub fn without_interpreter(target: Target, lib_paths: Vec<PathBuf>) -> Search {
        Search {
            lib_paths,
            default_dirs: Vec::new(),
            dst_lib: "lib".to_owned(),
            platform: target.platform().map(str::to_owned),
        }
    }
}

/// The `DT_NEEDED` closure of a shared library (or program) at `lib`, as a program of its
/// machine would load it: its interpreter, or glibc's standard one for its machine when it
/// names none, provides the default directories (none when that interpreter does not
/// exist); `lib_paths` come before its `DT_RUNPATH`, as `LD_LIBRARY_PATH`.
pub fn closure_of(files: &Files, lib: &Path, lib_paths: Vec<PathBuf>) -> Result<Closure> {
    let (_, now) = files
        .resolve(lib)
        .ok_or_else(|| Error::invalid(lib, "not found"))?;
    let object = files
        .load_root(&now)?
        .ok_or_else(|| Error::invalid(lib, "not an ELF file"))?;
    let target = Target::of(&object.deps);
    let named = object.deps.interpreter.clone();
    let interp = named
        .as_deref()
        .or(target.standard_interpreter())
        .and_then(|i| files.interpreter(Path::new(i)).ok())
        .filter(|i| Target::of(&i.object.deps) == target);
    let search = match &interp {
        Some(i) => Search::for_interpreter(i, lib_paths),
        None => Search::without_interpreter(target, lib_paths),
    };
    Closure::load(files, lib, interp.as_deref(), &search)
}

/// One object of a closure.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The path the loader opened it by (for the interpreter: `PT_INTERP`).
    pub path: PathBuf,
    pub object: Arc<Object>,
    /// The index of the object whose `DT_NEEDED` loaded it (None for the root).
    pub loader: Option<usize>,
    /// Names it was requested as (matched by later `DT_NEEDED` entries, with its soname).
    pub names: Vec<String>,
}

/// A `DT_NEEDED` entry the loader would not find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub name: String,
    /// The index of the object that needs it.
    pub needed_by: usize,
    /// Why, in `ld.so`'s words where it has some.
    pub reason: String,
}

/// A root object and everything it loads, in the loader's breadth-first order: the global
/// symbol scope of a program.
#[derive(Debug, Clone)]
pub struct Closure {
    pub objects: Vec<Loaded>,
    pub missing: Vec<Missing>,
}

impl Closure {
    /// Loads `root` (the path the loader sees, read through `files`) and its `DT_NEEDED`
    /// closure. `interp`, when given, is already loaded, and joins the list only where a
    /// `DT_NEEDED` entry names it.
    pub fn load(
        files: &Files,
        root: &Path,
        interp: Option<&Interpreter>,
        search: &Search,
    ) -> Result<Closure> {
        let (resolved, now) = files
            .resolve(root)
            .ok_or_else(|| Error::invalid(root, "not found"))?;
        let object = files
            .load_root(&now)?
            .ok_or_else(|| Error::invalid(root, "not an ELF file"))?;
        let mut c = Closure {
            objects: vec![Loaded {
                path: resolved,
                object,
                loader: None,
                names: Vec::new(),
            }],
            missing: Vec::new(),
        };
        let target = Target::of(&c.objects[0].object.deps);
        let mut next = 0;
        while next < c.objects.len() {
            let needed = c.objects[next].object.deps.needed.clone();
            for name in needed {
                c.need(files, next, &name, interp, search, target);
            }
            next += 1;
        }
        Ok(c)
    }

    fn need(
        &mut self,
        files: &Files,
        from: usize,
        name: &str,
        interp: Option<&Interpreter>,
        search: &Search,
        target: Target,
    ) {
        if self.matching(name).is_some() {
            return;
        }
        if let Some(i) = interp.filter(|i| names_match(name, &i.path, &i.object.deps)) {
            self.objects.push(Loaded {
                path: i.path.clone(),
                object: i.object.clone(),
                loader: Some(from),
                names: vec![name.to_owned()],
            });
            return;
        }
        match self.find(files, from, name, search, target) {
            Ok((path, object)) => {
                if let Some(same) = self.objects.iter_mut().find(|l| l.object.id == object.id) {
                    same.names.push(name.to_owned());
                    return;
                }
                self.objects.push(Loaded {
                    path,
                    object,
                    loader: Some(from),
                    names: vec![name.to_owned()],
                });
            }
            Err(reason) => self.missing.push(Missing {
                name: name.to_owned(),
                needed_by: from,
                reason,
            }),
        }
    }

    /// The loaded object a `DT_NEEDED` (or version-need file) name designates, if any.
    pub fn matching(&self, name: &str) -> Option<usize> {
        // The program's name in ld.so's list is empty, so an empty name is the program (or,
        // for a library judged alone, stands for it).
        if name.is_empty() {
            return Some(0);
        }
        self.objects.iter().position(|l| {
            l.names.iter().any(|n| n == name) || names_match(name, &l.path, &l.object.deps)
        })
    }

    fn find(
        &self,
        files: &Files,
        from: usize,
        name: &str,
        search: &Search,
        target: Target,
    ) -> std::result::Result<(PathBuf, Arc<Object>), String> {
        let origin = self.origin(from);
        let platform = search.platform.as_deref();
        let name = expand(name, &origin, &search.dst_lib, platform)
            .ok_or_else(|| "cannot expand its dynamic string tokens".to_owned())?;
        let candidates: Vec<PathBuf> = if name.contains('/') {
            vec![PathBuf::from(&name)]
        } else {
            self.search_dirs(from, search)
                .into_iter()
                .map(|d| d.join(&name))
                .collect()
        };
        let mut other_target = false;
        for path in candidates {
            match files.candidate(&path, target) {
                Some((p, Candidate::Fits(o))) => return Ok((p, o)),
                Some((_, Candidate::OtherTarget)) => other_target = true,
                Some((p, Candidate::Fatal(why))) => return Err(format!("{}: {why}", p.display())),
                None => {}
            }
        }
        Err(if other_target {
            "found only with another ELF class or machine".to_owned()
        } else {
            "not found".to_owned()
        })
    }

    /// The directories searched for a name without `/` needed by object `from`.
    pub fn search_dirs(&self, from: usize, search: &Search) -> Vec<PathBuf> {
        let l = &self.objects[from];
        let mut dirs = Vec::new();
        if l.object.deps.runpath.is_empty() {
            let mut at = Some(from);
            while let Some(i) = at {
                let o = &self.objects[i];
                if o.object.deps.runpath.is_empty() {
                    dirs.extend(self.expand_all(i, &o.object.deps.rpath, search));
                }
                at = o.loader;
            }
        }
        dirs.extend(search.lib_paths.iter().cloned());
        dirs.extend(self.expand_all(from, &l.object.deps.runpath, search));
        if l.object.deps.flags_1 & DF_1_NODEFLIB == 0 {
            dirs.extend(search.default_dirs.iter().cloned());
        }
        dirs
    }

    fn expand_all<'a>(
        &'a self,
        of: usize,
        entries: &'a [String],
        search: &'a Search,
    ) -> impl Iterator<Item = PathBuf> + 'a {
        let origin = self.origin(of);
        entries.iter().filter_map(move |e| {
            expand(e, &origin, &search.dst_lib, search.platform.as_deref())
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
        })
    }

    /// `$ORIGIN` of object `i`: the directory of the path it was opened by (the root's path
    /// is already resolved, as `/proc/self/exe` is).
    pub fn origin(&self, i: usize) -> PathBuf {
        absolute(&self.objects[i].path)
            .parent()
            .unwrap_or(Path::new("/"))
            .to_path_buf()
    }
}

/// glibc's `_dl_name_match_p`: the name an object was opened by, or its soname.
fn names_match(name: &str, path: &Path, deps: &Deps) -> bool {
    path.as_os_str() == name || deps.soname.as_deref() == Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expand_as_glibc_does() {
        let o = Path::new("/a/b");
        let x = |e| expand(e, o, "lib/x86_64-linux-gnu", Some("x86_64"));
        assert_eq!(x("$ORIGIN/../lib").as_deref(), Some("/a/b/../lib"));
        assert_eq!(x("${ORIGIN}/x").as_deref(), Some("/a/b/x"));
        assert_eq!(x("/usr/$LIB").as_deref(), Some("/usr/lib/x86_64-linux-gnu"));
        assert_eq!(
            x("/p/$PLATFORM/${LIB}").as_deref(),
            Some("/p/x86_64/lib/x86_64-linux-gnu")
        );
        assert_eq!(x("$ORIGINAL").as_deref(), Some("$ORIGINAL"));
        assert_eq!(expand("/p/$PLATFORM", o, "lib", None), None);
    }

    #[test]
    fn globs_match_like_the_shell() {
        assert!(wildcard(b"*.conf", b"libc.conf"));
        assert!(!wildcard(b"*.conf", b"libc.conf~"));
        assert!(wildcard(b"a?c", b"abc"));
    }

    #[test]
    fn store_paths_are_recognised() {
        assert!(in_nix_store(Path::new(
            "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-glibc-2.40/lib/ld-linux-x86-64.so.2"
        )));
        assert!(!in_nix_store(Path::new("/lib64/ld-linux-x86-64.so.2")));
    }

    /// The host's own loader: its built-in directories as `ld.so --list-diagnostics`
    /// prints them, and a closure of /bin/true that finds libc there.
    #[test]
    fn host_interpreter_and_closure() {
        let ld = Path::new("/lib64/ld-linux-x86-64.so.2");
        if !ld.exists() {
            return;
        }
        let files = Files::default();
        let interp = Interpreter::open(ld, &files).unwrap();
        let diag = std::process::Command::new(ld)
            .arg("--list-diagnostics")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&diag.stdout);
        let expected: Vec<PathBuf> = text
            .lines()
            .filter_map(|l| l.strip_prefix("path.system_dirs["))
            .filter_map(|l| l.split('"').nth(1))
            .map(|d| PathBuf::from(d.trim_end_matches('/')))
            .collect();
        assert!(!expected.is_empty(), "{text}");
        assert!(
            interp.default_dirs.ends_with(&expected),
            "{:?}",
            interp.default_dirs
        );
        let lib = text
            .lines()
            .find_map(|l| l.strip_prefix("dl_dst_lib=\""))
            .map(|l| l.trim_end_matches('"'));
        assert_eq!(Some(interp.dst_lib.as_str()), lib);
        let search = Search::for_interpreter(&interp, Vec::new());
        let c = Closure::load(&files, Path::new("/bin/true"), Some(&interp), &search).unwrap();
        assert!(c.missing.is_empty(), "{:?}", c.missing);
        assert!(
            c.objects
                .iter()
                .any(|l| l.names.iter().any(|n| n == "libc.so.6"))
        );
        let cxx = Path::new("/usr/lib/x86_64-linux-gnu/libstdc++.so.6");
        if cxx.exists() {
            let c = closure_of(&files, cxx, Vec::new()).unwrap();
            let names: Vec<&str> = c
                .objects
                .iter()
                .flat_map(|l| &l.names)
                .map(String::as_str)
                .collect();
            for n in [
                "libm.so.6",
                "libc.so.6",
                "libgcc_s.so.1",
                "ld-linux-x86-64.so.2",
            ] {
                assert!(names.contains(&n), "{names:?}");
            }
        }
    }
}

//! File-system plumbing, implemented once for every command: reading and mapping files,
//! walking trees, setting modes, staging output beside its destination, and reading
//! abicut's JSON files.
//!
//! Output is always built beside its final name ([`Staging`]) and renamed into place, so an
//! interrupted or failed run never leaves a partial file or tree behind, and the leftovers
//! of a killed run are removed by the next one.

use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The most [`read`] takes into memory. Every file abicut reads whole (a plan, a graph of
/// all nixpkgs, a header, a library being edited) is far smaller; the limit turns a file
/// that grows while read, or a mistaken path, into an error rather than gigabytes of memory.
pub const READ_LIMIT: u64 = 4 << 30;

/// Reads a whole regular file of at most [`READ_LIMIT`] bytes.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    read_at_most(path, READ_LIMIT)
}

/// [`read`] with its own limit.
fn read_at_most(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let meta = regular(path)?;
    if meta.len() > limit {
        return Err(too_large(path, limit));
    }
    let file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // The file may grow after the check above: one byte more than the limit says so.
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(path, limit));
    }
    Ok(bytes)
}

fn too_large(path: &Path, limit: u64) -> Error {
    Error::invalid(
        path,
        format!("larger than {limit} bytes, the most abicut reads"),
    )
}

/// Checks, before anything opens it, that `path` is a regular file (symlinks followed):
/// opening a FIFO blocks until someone writes to it, and reading a device such as
/// /dev/zero never ends, so either is refused here with the kind of file it is.
pub fn regular(path: &Path) -> Result<fs::Metadata> {
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_file() {
        return Ok(meta);
    }
    Err(not_regular(path, &meta))
}

/// The error for a path that exists but is no regular file, saying what it is instead.
pub fn not_regular(path: &Path, meta: &fs::Metadata) -> Error {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let kind = if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    Error::invalid(path, format!("is {kind}, expected a regular file"))
}

/// Maps a whole regular file read-only. Reading a library's interface touches only its
/// headers and dynamic tables, a small part of a large library: mapping reads just those
/// pages.
///
/// Store paths and system libraries are not modified in place; a file truncated by someone
/// else while mapped would end the process with SIGBUS rather than an error.
pub fn map(path: &Path) -> Result<memmap2::Mmap> {
    regular(path)?;
    let file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // Replaced between the check and the open: check what was opened.
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(not_regular(path, &meta));
    }
    // SAFETY: the mapping is read-only and private to this process; see above for the one
    // way another process can still invalidate it.
    unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))
}

/// Where an output directory lies with respect to a tree a command reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlap {
    /// The output is the tree itself.
    Same,
    /// The output lies inside the tree: the next read of the tree would include it.
    Inside,
    /// The output holds the tree: replacing it would delete the tree.
    Holds,
}

/// How `output` overlaps `input`, as the file system resolves both (symlinks followed,
/// `..` gone), or `None` when they are apart. `output` and its parents need not exist yet
/// (`interface -o` creates them): what exists of it is resolved, the rest appended.
pub fn overlap(input: &Path, output: &Path) -> Result<Option<Overlap>> {
    let input = fs::canonicalize(input).map_err(|e| Error::io(input, e))?;
    let output = resolved(output)?;
    Ok(if output == input {
        Some(Overlap::Same)
    } else if output.starts_with(&input) {
        Some(Overlap::Inside)
    } else if input.starts_with(&output) {
        Some(Overlap::Holds)
    } else {
        None
    })
}

/// `path` as an output will be written there: its last component as it stands (an output
/// replaces a link there, never writes through it), the directories above resolved as far
/// as they exist and the missing rest appended.
fn resolved(path: &Path) -> Result<PathBuf> {
    let absolute = std::path::absolute(path).map_err(|e| Error::io(path, e))?;
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => Ok(nearest(parent, path)?.join(name)),
        _ => nearest(&absolute, path),
    }
}

/// `dir` with its longest existing ancestor canonicalized and the missing rest appended;
/// errors name `given`.
fn nearest(dir: &Path, given: &Path) -> Result<PathBuf> {
    let mut existing = dir;
    let mut missing = Vec::new();
    loop {
        match fs::canonicalize(existing) {
            Ok(base) => return Ok(missing.iter().rev().fold(base, |p, name| p.join(name))),
            Err(e) => match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    missing.push(name);
                    existing = parent;
                }
                _ => return Err(Error::io(given, e)),
            },
        }
    }
}

/// `path` as it will be once created: absolute, its parent without symlinks.
pub fn final_path(path: &Path) -> Result<PathBuf> {
    let parent = parent_dir(path);
    let parent = fs::canonicalize(parent).map_err(|e| Error::io(parent, e))?;
    Ok(match path.file_name() {
        Some(name) => parent.join(name),
        None => parent,
    })
}

/// Writes `bytes` to `path` atomically: staged beside it, then renamed over it, so a failed
/// or killed run leaves the old file or the new one, never part of one. The file gets mode
/// 0644 whatever the umask, so stubs and plans stay readable to the other users of a shared
/// machine or builder.
///
/// Not flushed to disk (no `fsync`), as linkers, patchelf and Nix's own builds
/// (`fsync-store-paths` is off by default) do not flush theirs, and as abicut's tree writers
/// (`relink`, `relocate`, `interface`) never did: a sync per stub was a sixth of a
/// 32-library `stubgen` batch's time. A power loss right after a run can leave an output
/// empty.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_mode(path, bytes, 0o644)
}

/// [`write_atomic`] with the file's mode given (an edited ELF file keeps its input's), set
/// before the rename so the file never appears with another.
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let staging = Staging::new(path)?;
    let mut file = fs::File::create_new(staging.path()).map_err(|e| Error::io(path, e))?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))?;
    file.set_permissions(fs::Permissions::from_mode(mode & 0o7777))
        .map_err(|e| Error::io(path, e))?;
    drop(file);
    staging.commit()
}

/// The directory `path` is in: its parent, or `.` for a bare name.
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Sets the permission bits of `path` (`mode` masked to 0o7777, as `st_mode` carries the
/// file type above them).
pub fn set_mode(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o7777))
        .map_err(|e| Error::io(path, e))
}

/// One entry found by [`walk`].
#[derive(Debug)]
pub struct Walked {
    /// The path relative to the walk's root.
    pub rel: PathBuf,
    /// The root joined with `rel`.
    pub path: PathBuf,
    /// The entry's own metadata: a symlink is described, never followed.
    pub meta: fs::Metadata,
    /// A symlink's target, as written.
    pub target: Option<PathBuf>,
}

/// Every entry under the directory `root` (not `root` itself), parents before children and
/// each directory's entries in byte order of their names, so that the result does not
/// depend on the file system's order. Symlinks are listed, never followed: a walk cannot be
/// led out of the tree or around in a loop. What to keep, and whether a device or FIFO is
/// an error, is the caller's policy.
pub fn walk(root: &Path) -> Result<Vec<Walked>> {
    let mut out = Vec::new();
    walk_into(root, PathBuf::new(), &mut out)?;
    Ok(out)
}

fn walk_into(root: &Path, dir: PathBuf, out: &mut Vec<Walked>) -> Result<()> {
    let abs = root.join(&dir);
    let mut names: Vec<OsString> = fs::read_dir(&abs)
        .map_err(|e| Error::io(&abs, e))?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()
        .map_err(|e| Error::io(&abs, e))?;
    names.sort();
    for name in names {
        let rel = dir.join(&name);
        let path = root.join(&rel);
        let meta = fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
        let kind = meta.file_type();
        let target = if kind.is_symlink() {
            Some(fs::read_link(&path).map_err(|e| Error::io(&path, e))?)
        } else {
            None
        };
        out.push(Walked {
            rel: rel.clone(),
            path,
            meta,
            target,
        });
        if kind.is_dir() {
            walk_into(root, rel, out)?;
        }
    }
    Ok(())
}

/// The temporary output beside a destination: `.<name>.abicut-<pid>-<n>` in the same
/// directory, so the final rename stays on one file system. It is removed when dropped
/// uncommitted (an error on the way), and a staging entry whose process no longer exists (a
/// killed run) is removed by the next run for the same destination.
#[derive(Debug)]
pub struct Staging {
    path: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl Staging {
    /// Names the staging path for `dest`, nothing created yet, after removing the
    /// leftovers of killed runs. `dest`'s directory must exist.
    pub fn new(dest: &Path) -> Result<Staging> {
        let name = dest
            .file_name()
            .ok_or_else(|| Error::invalid(dest, "has no file name to write to"))?;
        let parent = parent_dir(dest);
        match fs::metadata(parent) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(cannot_write(dest, parent, "is not a directory")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(cannot_write(dest, parent, "does not exist"));
            }
            Err(e) => return Err(Error::io(parent, e)),
        }
        remove_stale(parent);
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let mut staged = OsString::from(".");
        staged.push(name);
        staged.push(format!(".abicut-{}-{seq}", std::process::id()));
        let path = parent.join(staged);
        if fs::symlink_metadata(&path).is_ok() {
            remove_any(&path)?;
        }
        Ok(Staging {
            path,
            dest: dest.to_path_buf(),
            committed: false,
        })
    }

    /// Where to build the output.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the finished output to the destination, as `rename(2)` does: a file
    /// replaces a file, a directory replaces only an empty directory.
    pub fn commit(mut self) -> Result<()> {
        fs::rename(&self.path, &self.dest).map_err(|e| Error::io(&self.dest, e))?;
        self.committed = true;
        Ok(())
    }

    /// Renames the finished output to the destination, replacing whatever is there (moved
    /// aside first, then removed).
    pub fn replace(mut self) -> Result<()> {
        let old = fs::symlink_metadata(&self.dest).is_ok().then(|| {
            let mut p = self.path.clone().into_os_string();
            p.push(".old");
            PathBuf::from(p)
        });
        if let Some(old) = &old {
            fs::rename(&self.dest, old).map_err(|e| Error::io(&self.dest, e))?;
        }
        fs::rename(&self.path, &self.dest).map_err(|e| Error::io(&self.dest, e))?;
        self.committed = true;
        if let Some(old) = &old {
            remove_any(old)?;
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed && fs::symlink_metadata(&self.path).is_ok() {
            let _ = remove_any(&self.path);
        }
    }
}

fn cannot_write(dest: &Path, dir: &Path, why: &str) -> Error {
    Error::invalid(
        dest,
        format!("cannot be written: the directory {} {why}", dir.display()),
    )
}

/// Removes what killed runs left in `parent`: staging entries (`.<name>.abicut-<pid>-<n>`)
/// whose process no longer exists. Once per directory and process, so writing many files
/// into one directory (`stubgen --out-dir`) reads it once; a run killed since is cleaned
/// up by the next one. Best effort: a failure here only leaves garbage.
fn remove_stale(parent: &Path) {
    static SCANNED: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
    let first = SCANNED
        .lock()
        .is_ok_and(|mut scanned| scanned.insert(parent.to_path_buf()));
    if !first {
        return;
    }
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if staging_pid(&name).is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
            let _ = remove_any(&entry.path());
        }
    }
}

/// The process that made a staging entry, from its name: the staging path itself, or the
/// destination [`Staging::replace`] moved aside beside it (`….old`).
fn staging_pid(name: &std::ffi::OsStr) -> Option<u32> {
    let (head, tail) = name.to_str()?.rsplit_once(".abicut-")?;
    let (pid, seq) = tail.split_once('-')?;
    let seq = seq.strip_suffix(".old").unwrap_or(seq);
    seq.parse::<u64>().ok()?;
    (head.len() > 1 && head.starts_with('.'))
        .then(|| pid.parse().ok())
        .flatten()
}

/// Removes a file or a tree, making read-only directories writable first (relinked
/// outputs keep the read-only modes of the Nix store).
fn remove_any(path: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_dir() {
        return fs::remove_file(path).map_err(|e| Error::io(path, e));
    }
    make_writable(path)?;
    fs::remove_dir_all(path).map_err(|e| Error::io(path, e))
}

fn make_writable(dir: &Path) -> Result<()> {
    set_mode(dir, 0o755)?;
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        if entry.file_type().map_err(|e| Error::io(dir, e))?.is_dir() {
            make_writable(&entry.path())?;
        }
    }
    Ok(())
}

/// What one of abicut's JSON formats declares at its top level: a `schema` name (graph and
/// plan files; weights and role overrides have none) and a `version`. Checked before the
/// body is parsed, so a file of another format or version is named as such rather than
/// reported as an unknown field somewhere inside it.
#[derive(Clone, Copy, Debug)]
pub struct Versioned {
    pub schema: Option<&'static str>,
    pub version: u64,
    /// How to make a file of this format, said when given another one.
    pub made_by: &'static str,
}

/// The top-level fields a [`Versioned`] check reads; everything else is skipped.
#[derive(serde::Deserialize)]
struct Declared {
    schema: Option<serde_json::Value>,
    version: Option<serde_json::Value>,
}

impl Versioned {
    fn check(&self, path: &Path, bytes: &[u8], what: &str) -> Result<()> {
        let wanted = match self.schema {
            Some(s) => format!("{what} (schema \"{s}\")"),
            None => what.to_owned(),
        };
        // serde reads a struct from an array too, and then says "expected struct GraphFile
        // with 3 elements": say what the file is instead.
        if let Some(kind) = json_non_object(bytes) {
            return Err(Error::invalid(
                path,
                format!(
                    "is {kind}, where {wanted} is a JSON object; {}",
                    self.made_by
                ),
            ));
        }
        // Not JSON: the body's parser says where.
        let Ok(declared) = serde_json::from_slice::<Declared>(bytes) else {
            return Ok(());
        };
        let found = declared.schema.as_ref();
        if found.and_then(|s| s.as_str()) != self.schema {
            let this = match found {
                Some(serde_json::Value::String(s)) if s.starts_with("abicut-") => {
                    format!("this is an {s} file")
                }
                Some(other) => format!("this file has schema {other}"),
                None => "this file has no \"schema\" field".to_owned(),
            };
            return Err(Error::invalid(
                path,
                format!("{this}, not {wanted}; {}", self.made_by),
            ));
        }
        match declared.version {
            Some(v) if v.as_u64() != Some(self.version) => Err(Error::invalid(
                path,
                format!(
                    "{what} version {v} is not supported (this abicut reads version {})",
                    self.version
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// What a JSON document whose top level is no object is, from its first byte: `None` for
/// an object, and for text that is not JSON, whose parser then says where it goes wrong.
fn json_non_object(bytes: &[u8]) -> Option<&'static str> {
    let first = bytes.iter().find(|c| !c.is_ascii_whitespace())?;
    let kind = match first {
        b'[' => "a JSON array",
        b'"' => "a JSON string",
        b'-' | b'0'..=b'9' => "a JSON number",
        b't' | b'f' => "a JSON boolean",
        b'n' => "JSON null",
        _ => return None,
    };
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .is_ok()
        .then_some(kind)
}

/// Reads `path` as JSON of type `T`: `what` names the format in errors ("plan JSON"), and
/// `versioned`, when given, is checked first.
pub fn read_json<T: DeserializeOwned>(
    path: &Path,
    what: &str,
    versioned: Option<Versioned>,
) -> Result<T> {
    parse_json(path, &read(path)?, what, versioned)
}

/// [`read_json`] of bytes already read from `path`.
pub fn parse_json<T: DeserializeOwned>(
    path: &Path,
    bytes: &[u8],
    what: &str,
    versioned: Option<Versioned>,
) -> Result<T> {
    if let Some(v) = versioned {
        v.check(path, bytes, what)?;
    }
    serde_json::from_slice(bytes)
        .map_err(|e| Error::invalid(path, format!("malformed {what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A FIFO blocks whoever opens it and /dev/zero never ends: both are refused before
    /// any read, naming the file and what it is.
    #[test]
    fn read_and_map_refuse_what_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        for (path, kind) in [
            (
                fifo.as_path(),
                "is a FIFO (named pipe), expected a regular file",
            ),
            (
                Path::new("/dev/zero"),
                "is a character device, expected a regular file",
            ),
            (dir.path(), "is a directory, expected a regular file"),
        ] {
            let want = format!("{}: {kind}", path.display());
            assert_eq!(read(path).unwrap_err().to_string(), want);
            assert_eq!(map(path).unwrap_err().to_string(), want);
        }
    }

    /// An output whose parents do not exist yet is apart from, or inside, an input all the
    /// same; a link above it is followed, a link in its place is not (it is replaced).
    #[test]
    fn overlap_resolves_outputs_that_do_not_exist_yet() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("out");
        fs::create_dir(&input).unwrap();
        symlink(&input, dir.path().join("link")).unwrap();
        let at = |p: &str| overlap(&input, &dir.path().join(p)).unwrap();
        assert_eq!(at("new/deep/tree"), None);
        assert_eq!(at("out/new/tree"), Some(Overlap::Inside));
        assert_eq!(at("link/new/tree"), Some(Overlap::Inside));
        // The link itself would be replaced, not written through.
        assert_eq!(at("link"), None);
        assert_eq!(at("out"), Some(Overlap::Same));
        assert_eq!(at("."), Some(Overlap::Holds));
    }

    /// Only JSON is named by its top-level kind; other text is left to the parser, which
    /// says where it stops being JSON.
    #[test]
    fn a_non_object_is_named_only_when_it_is_json() {
        assert_eq!(json_non_object(b" [1, 2]\n"), Some("a JSON array"));
        assert_eq!(json_non_object(b"true"), Some("a JSON boolean"));
        assert_eq!(json_non_object(b"this is not JSON"), None);
        assert_eq!(json_non_object(b"[1,"), None);
        assert_eq!(json_non_object(b"{}"), None);
    }

    #[test]
    fn read_refuses_a_file_over_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big");
        fs::write(&file, [0u8; 11]).unwrap();
        assert_eq!(read_at_most(&file, 11).unwrap().len(), 11);
        let err = read_at_most(&file, 10).unwrap_err().to_string();
        assert!(err.contains("big: larger than 10 bytes"), "{err}");
    }

    #[test]
    fn walk_is_sorted_and_never_follows_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let outside = dir.path().join("outside");
        fs::create_dir_all(root.join("b/d")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("secret"), "x").unwrap();
        fs::write(root.join("c"), "c").unwrap();
        fs::write(root.join("b/d/e"), "e").unwrap();
        fs::write(root.join("B"), "B").unwrap();
        symlink(&outside, root.join("a")).unwrap();
        symlink("..", root.join("b/up")).unwrap();
        let walked = walk(&root).unwrap();
        let rels: Vec<&str> = walked.iter().map(|w| w.rel.to_str().unwrap()).collect();
        assert_eq!(rels, ["B", "a", "b", "b/d", "b/d/e", "b/up", "c"]);
        let link = &walked[1];
        assert!(link.meta.file_type().is_symlink());
        assert_eq!(link.target.as_deref(), Some(outside.as_path()));
        assert_eq!(link.path, root.join("a"));
        assert!(
            walked
                .iter()
                .all(|w| w.meta.is_dir() || w.target.is_some() || w.meta.is_file())
        );
        assert!(walked[0].target.is_none());
    }

    #[test]
    fn staging_cleans_up_after_errors_and_killed_runs() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        // A dead process's leftover (no PID reaches u32::MAX) and a live one's.
        let dead = dir.path().join(".out.abicut-4294967295-0");
        let live = dir
            .path()
            .join(format!(".out.abicut-{}-999", std::process::id()));
        fs::create_dir_all(dead.join("sub")).unwrap();
        set_mode(&dead.join("sub"), 0o555).unwrap();
        fs::create_dir(&live).unwrap();
        let other_dead = dir.path().join(".other.abicut-4294967295-3");
        let moved_aside = dir.path().join(".out.abicut-4294967295-1.old");
        fs::create_dir(&moved_aside).unwrap();
        let not_staging = dir.path().join("notes.abicut-4294967295-0");
        fs::write(&other_dead, "x").unwrap();
        fs::write(&not_staging, "x").unwrap();
        let staging = Staging::new(&dest).unwrap();
        assert!(
            !dead.exists(),
            "a killed run's staging directory is removed"
        );
        assert!(!other_dead.exists(), "whatever its destination");
        assert!(
            !moved_aside.exists(),
            "so is the old destination a killed replace moved aside"
        );
        assert!(not_staging.exists(), "a name staging never makes is kept");
        assert!(
            live.exists(),
            "a running process's staging directory is kept"
        );
        fs::create_dir(staging.path()).unwrap();
        fs::write(staging.path().join("f"), "x").unwrap();
        let staged = staging.path().to_path_buf();
        drop(staging);
        assert!(
            !staged.exists(),
            "dropped uncommitted, the staging is removed"
        );
        assert!(!dest.exists());

        let staging = Staging::new(&dest).unwrap();
        fs::create_dir(staging.path()).unwrap();
        staging.commit().unwrap();
        assert!(dest.is_dir());
        fs::write(dest.join("f"), "x").unwrap();
        let staging = Staging::new(&dest).unwrap();
        fs::create_dir(staging.path()).unwrap();
        assert!(
            staging.commit().is_err(),
            "commit never replaces a full directory"
        );
        let staging = Staging::new(&dest).unwrap();
        fs::create_dir(staging.path()).unwrap();
        staging.replace().unwrap();
        assert!(!dest.join("f").exists(), "replace does");
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(
            left.len(),
            3,
            "only out, notes and the live leftover: {left:?}"
        );
    }

    #[test]
    fn write_atomic_names_the_target_and_the_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("no/such/x");
        let err = write_atomic(&target, b"x").unwrap_err().to_string();
        assert!(
            err.starts_with(&target.display().to_string())
                && err.contains("the directory")
                && err.contains("does not exist")
                && !err.contains(".abicut"),
            "{err}"
        );
        let file = dir.path().join("f");
        write_atomic(&file, b"one").unwrap();
        write_atomic(&file, b"two").unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn versioned_names_the_format_it_got() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Plan {
            schema: String,
            version: u32,
        }
        let plan = Versioned {
            schema: Some("abicut-plan"),
            version: 1,
            made_by: "make one",
        };
        let path = Path::new("g.json");
        let parse =
            |b: &str| parse_json::<Plan>(path, b.as_bytes(), "plan JSON", Some(plan)).map(|_| ());
        let err = parse(r#"{"schema":"abicut-graph","version":1,"nodes":[]}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "g.json: this is an abicut-graph file, not plan JSON (schema \"abicut-plan\"); make one"
        );
        let err = parse(r#"{"schema":"other","version":1}"#).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("g.json: this file has schema \"other\", not plan JSON"),
            "{err}"
        );
        let err = parse(r#"{"schema":"abicut-plan","version":2}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "g.json: plan JSON version 2 is not supported (this abicut reads version 1)"
        );
        let err = parse("{\"schema\":\"abicut-plan\",\n\"version\":1,}").unwrap_err();
        assert!(err.to_string().contains("malformed plan JSON"), "{err}");
        assert!(parse(r#"{"schema":"abicut-plan","version":1}"#).is_ok());
    }
}

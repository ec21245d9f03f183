//! The relink step: copy a compile output to its real output while rewriting every
//! interface store path into the real one.
//!
//! Every file is read once and scanned once for all mappings; the kernel copies the bytes
//! (`copy_file_range`, through `std::io::copy`) and only the changed ranges are written
//! from user space. The output is built in a temporary directory beside DEST and renamed
//! into place, so a killed run leaves either no DEST or a complete one.

pub mod mapping;
pub mod verify;

use crate::error::{Error, Result};
use crate::fsx::{self, Overlap, Staging, final_path};
use crate::store;
use mapping::{Forbidden, Mapping, Rewriter};
use rayon::prelude::*;
use serde::Serialize;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

pub use mapping::read_map_file;

/// Files at least this large are scanned through a memory mapping and copied by the
/// kernel; smaller ones are cheaper to read and write whole.
const MMAP_MIN: u64 = 256 << 10;
/// Above this many changed ranges one whole write beats many small ones.
const MAX_PATCHES: usize = 64;

/// What the caller asks of a relink.
#[derive(Debug, Default, Clone)]
pub struct Options {
    pub mappings: Vec<Mapping>,
    /// Store paths that must not appear anywhere in the output.
    pub forbid: Vec<String>,
    /// Hard-link files that hold no occurrence instead of copying them (SRC and DEST then
    /// share those inodes, so the caller must not modify either afterwards).
    pub hardlink_unchanged: bool,
    /// Verify the output before it is renamed into place; any problem fails the relink.
    pub verify: Option<verify::Options>,
    /// When not empty, symlink targets are rewritten with these instead of `mappings`, in
    /// one leftmost-longest pass, and may change length (a target has no byte offsets to
    /// keep): relocation maps `<hash>-<name>` to a shortened or padded name in relative
    /// links such as `../<hash>-<name>/lib` as well as the full paths. Their occurrences
    /// are not counted in the summary.
    pub link_targets: Vec<(String, String)>,
}

/// Counts for one mapping.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MappingCount {
    pub from: String,
    pub to: String,
    pub occurrences: u64,
}

/// The `schema` field of relink JSON.
pub const SCHEMA: &str = "abicut-relink";
/// The relink JSON version this build writes.
pub const VERSION: u32 = 1;

/// What a relink did; `relink --json` prints it as it is.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub schema: &'static str,
    pub version: u32,
    pub files: u64,
    pub directories: u64,
    pub symlinks: u64,
    pub bytes: u64,
    pub files_rewritten: u64,
    pub files_hardlinked: u64,
    pub mappings: Vec<MappingCount>,
}

impl Summary {
    /// The summary for people: one line for the copy from `src` to `dest`, then one per
    /// mapping with its occurrences.
    pub fn to_text(&self, src: &Path, dest: &Path) -> String {
        let mut out = format!(
            "relinked {} -> {}: {} files ({} bytes, {} rewritten, {} hard-linked), {} symlinks, {} directories\n",
            src.display(),
            dest.display(),
            self.files,
            self.bytes,
            self.files_rewritten,
            self.files_hardlinked,
            self.symlinks,
            self.directories
        );
        for m in &self.mappings {
            out.push_str(&format!(
                "  {} -> {}: {} occurrences\n",
                m.from, m.to, m.occurrences
            ));
        }
        out
    }
}

/// Receives progress; the library never draws anything itself.
pub trait Progress: Sync {
    fn start(&self, _total_bytes: u64, _files: u64) {}
    fn advance(&self, _bytes: u64) {}
}

/// A progress sink that ignores everything.
pub struct NoProgress;
impl Progress for NoProgress {}

/// One entry of the source tree, relative to its root.
enum Entry {
    Dir {
        rel: PathBuf,
        mode: u32,
        /// Set once everything inside exists, since each entry created changes it.
        modified: Option<SystemTime>,
    },
    File {
        rel: PathBuf,
        mode: u32,
        len: u64,
    },
    Symlink {
        rel: PathBuf,
        target: PathBuf,
    },
    /// A second name of a file already listed (same inode in SRC): linked again in DEST,
    /// so it is rewritten once and the tree keeps its shape.
    HardLink {
        rel: PathBuf,
        first: PathBuf,
    },
}

/// Relinks `src` into `dest`. DEST appears only when complete; an existing DEST is replaced.
pub fn relink(src: &Path, dest: &Path, opts: &Options, progress: &dyn Progress) -> Result<Summary> {
    mapping::check_consistent(&opts.mappings)?;
    let job = Job {
        src,
        rewriter: Rewriter::new(&opts.mappings)?,
        links: store::Replacer::new(
            opts.link_targets
                .iter()
                .map(|(f, t)| (f.as_bytes(), t.as_bytes())),
        )?,
        forbid: Forbidden::new(&opts.forbid)?,
        hardlink: opts.hardlink_unchanged,
        counts: (0..opts.mappings.len())
            .map(|_| AtomicU64::new(0))
            .collect(),
        bytes: AtomicU64::new(0),
        rewritten: AtomicU64::new(0),
        hardlinked: AtomicU64::new(0),
    };
    // Followed, as every command follows the file it is given: SRC is often a Nix `result`
    // link. Symlinks inside SRC are copied as links, never followed (`walk`).
    let src_meta = fs::metadata(src).map_err(|e| Error::io(src, e))?;
    let staging = Staging::new(dest)?;
    check_apart(src, dest)?;
    let entries = if src_meta.is_dir() {
        walk(src)?
    } else if src_meta.is_file() {
        vec![Entry::File {
            rel: PathBuf::new(),
            mode: src_meta.permissions().mode(),
            len: src_meta.len(),
        }]
    } else {
        return Err(fsx::not_regular(src, &src_meta));
    };
    let out = staging.path();
    if src_meta.is_dir() {
        fs::create_dir(out).map_err(|e| Error::io(out, e))?;
    }
    job.build(&entries, out, progress)?;
    if src_meta.is_dir() {
        set_modified(out, src_meta.modified().ok())?;
        fsx::set_mode(out, src_meta.permissions().mode())?;
    }
    if let Some(v) = &opts.verify {
        check(out, dest, v, &opts.forbid)?;
    }
    staging.replace()?;
    Ok(job.summary(&entries, &opts.mappings))
}

/// Runs `verify` on the finished (not yet renamed) output, as the loader will see it at
/// DEST; problems become one error.
fn check(staged: &Path, dest: &Path, v: &verify::Options, forbid: &[String]) -> Result<()> {
    const SHOWN: usize = 20;
    let mut v = v.clone();
    v.forbid.extend(forbid.iter().cloned());
    v.installed_at = Some(final_path(dest)?);
    let report = verify::verify(staged, &v)?;
    if report.ok() {
        return Ok(());
    }
    let mut lines: Vec<String> = report
        .problems
        .iter()
        .take(SHOWN)
        .map(|p| {
            let rel = p.file.strip_prefix(staged).unwrap_or(&p.file);
            format!("  {}: {}", rel.display(), p.detail)
        })
        .collect();
    if report.problems.len() > SHOWN {
        lines.push(format!("  ... and {} more", report.problems.len() - SHOWN));
    }
    Err(Error::invalid(
        dest,
        format!(
            "verification failed, nothing written:\n{}",
            lines.join("\n")
        ),
    ))
}

/// Refuses a DEST that is SRC, lies inside it (the copy would land in the tree being
/// copied) or holds it (replacing DEST would delete SRC), before anything is written.
fn check_apart(src: &Path, dest: &Path) -> Result<()> {
    let why = match fsx::overlap(src, dest)? {
        None => return Ok(()),
        Some(Overlap::Same) => "is SRC: relink would replace the tree it reads",
        Some(Overlap::Inside) => "lies inside SRC: the copy would land in the tree being copied",
        Some(Overlap::Holds) => "holds SRC: replacing DEST would delete SRC",
    };
    Err(Error::Usage(format!(
        "DEST {} {why} (SRC {}); nothing written, give a DEST outside SRC",
        dest.display(),
        src.display()
    )))
}

/// What a rewritten file keeps of its source besides its content: its mode and its times
/// (as `cp -p`), whichever way it was written, so the copy differs only where a path was
/// rewritten.
struct Kept<'a> {
    mode: u32,
    meta: &'a fs::Metadata,
}

impl Kept<'_> {
    /// Sets the times on the written file, then its mode (which may drop write permission).
    fn apply(&self, output: File, to: &Path) -> Result<()> {
        let mut times = fs::FileTimes::new();
        if let Ok(t) = self.meta.modified() {
            times = times.set_modified(t);
        }
        if let Ok(t) = self.meta.accessed() {
            times = times.set_accessed(t);
        }
        output.set_times(times).map_err(|e| Error::io(to, e))?;
        drop(output);
        fsx::set_mode(to, self.mode)
    }
}

/// Gives the directory `dir` its source's modification time, when the source had one.
fn set_modified(dir: &Path, modified: Option<SystemTime>) -> Result<()> {
    let Some(t) = modified else {
        return Ok(());
    };
    let handle = File::open(dir).map_err(|e| Error::io(dir, e))?;
    handle
        .set_times(fs::FileTimes::new().set_modified(t))
        .map_err(|e| Error::io(dir, e))
}

/// State shared by the worker threads of one relink.
struct Job<'a> {
    src: &'a Path,
    rewriter: Rewriter,
    links: store::Replacer,
    forbid: Forbidden,
    hardlink: bool,
    counts: Vec<AtomicU64>,
    bytes: AtomicU64,
    rewritten: AtomicU64,
    hardlinked: AtomicU64,
}

impl Job<'_> {
    fn build(&self, entries: &[Entry], out: &Path, progress: &dyn Progress) -> Result<()> {
        let (total, files) = entries.iter().fold((0, 0), |(b, n), e| match e {
            Entry::File { len, .. } => (b + len, n + 1),
            _ => (b, n),
        });
        progress.start(total, files);
        for e in entries {
            match e {
                Entry::Dir { rel, .. } => {
                    let p = out.join(rel);
                    fs::create_dir(&p).map_err(|e| Error::io(&p, e))?;
                }
                Entry::Symlink { rel, target } => self.symlink(rel, target, out)?,
                Entry::File { .. } | Entry::HardLink { .. } => {}
            }
        }
        let first_error = Mutex::new(None);
        entries.par_iter().for_each(|e| {
            if let Entry::File { rel, mode, .. } = e {
                if first_error.lock().map(|g| g.is_some()).unwrap_or(true) {
                    return;
                }
                if let Err(err) = self.file(rel, *mode, out, progress)
                    && let Ok(mut g) = first_error.lock()
                {
                    g.get_or_insert(err);
                }
            }
        });
        if let Some(err) = first_error.into_inner().ok().flatten() {
            return Err(err);
        }
        for e in entries {
            if let Entry::HardLink { rel, first } = e {
                let p = out.join(rel);
                fs::hard_link(out.join(first), &p).map_err(|e| Error::io(&p, e))?;
            }
        }
        // Deepest first, so read-only directories are closed after their contents exist.
        for e in entries.iter().rev() {
            if let Entry::Dir {
                rel,
                mode,
                modified,
            } = e
            {
                set_modified(&out.join(rel), *modified)?;
                fsx::set_mode(&out.join(rel), *mode)?;
            }
        }
        Ok(())
    }

    fn symlink(&self, rel: &Path, target: &Path, out: &Path) -> Result<()> {
        let mut bytes = target.as_os_str().as_bytes().to_vec();
        if self.links.patterns() > 0 {
            bytes = self.links.replace_all(&bytes);
        } else {
            let mut counts = vec![0; self.rewriter.patterns()];
            let changes = self.rewriter.find(&bytes, &mut counts);
            self.rewriter.apply(&mut bytes, &changes);
            self.add_counts(&counts);
        }
        let link = self.src.join(rel);
        if let Some(bad) = self.forbid.find(&bytes) {
            return Err(forbidden(&link, bad));
        }
        let p = out.join(rel);
        std::os::unix::fs::symlink(OsStr::from_bytes(&bytes), &p).map_err(|e| Error::io(&p, e))
    }

    fn file(&self, rel: &Path, mode: u32, out: &Path, progress: &dyn Progress) -> Result<()> {
        let (from, to) = if rel.as_os_str().is_empty() {
            (self.src.to_path_buf(), out.to_path_buf())
        } else {
            (self.src.join(rel), out.join(rel))
        };
        let mut input = File::open(&from).map_err(|e| Error::io(&from, e))?;
        let meta = input.metadata().map_err(|e| Error::io(&from, e))?;
        let len = meta.len();
        let kept = Kept { mode, meta: &meta };
        if len >= MMAP_MIN {
            // SAFETY: the mapping is only read. Store paths are immutable; a file truncated
            // by someone else while it is being relinked would fault (SIGBUS), as with cp.
            let map = unsafe { memmap2::MmapOptions::new().populate().map(&input) }
                .map_err(|e| Error::io(&from, e))?;
            self.large(&from, &to, &mut input, &map, &kept)?;
        } else {
            thread_local!(static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) });
            BUF.with(|cell| {
                let mut buf = cell.borrow_mut();
                buf.clear();
                input
                    .read_to_end(&mut buf)
                    .map_err(|e| Error::io(&from, e))?;
                self.small(&from, &to, &mut buf, &kept)
            })?;
        }
        progress.advance(len);
        self.bytes.fetch_add(len, Ordering::Relaxed);
        Ok(())
    }

    /// Small files: rewritten in memory and written with one call.
    fn small(&self, from: &Path, to: &Path, buf: &mut [u8], kept: &Kept) -> Result<()> {
        let changes = self.scan(buf);
        self.rewriter.apply(buf, &changes);
        if let Some(bad) = self.forbid.find(buf) {
            return Err(forbidden(from, bad));
        }
        if self.link_unchanged(from, to, &changes)? {
            return Ok(());
        }
        let mut output = File::create(to).map_err(|e| Error::io(to, e))?;
        std::io::Write::write_all(&mut output, buf).map_err(|e| Error::io(to, e))?;
        kept.apply(output, to)
    }

    /// Large files: scanned through a mapping, copied by the kernel, patched in place.
    fn large(
        &self,
        from: &Path,
        to: &Path,
        input: &mut File,
        map: &[u8],
        kept: &Kept,
    ) -> Result<()> {
        let changes = self.scan(map);
        if !self.forbid.is_empty() {
            let mut result = map.to_vec();
            self.rewriter.apply(&mut result, &changes);
            if let Some(bad) = self.forbid.find(&result) {
                return Err(forbidden(from, bad));
            }
        }
        if self.link_unchanged(from, to, &changes)? {
            return Ok(());
        }
        let mut output = File::create(to).map_err(|e| Error::io(to, e))?;
        if changes.len() > MAX_PATCHES {
            let mut result = map.to_vec();
            self.rewriter.apply(&mut result, &changes);
            std::io::Write::write_all(&mut output, &result).map_err(|e| Error::io(to, e))?;
        } else {
            let copied = std::io::copy(input, &mut output).map_err(|e| Error::io(to, e))?;
            if copied != map.len() as u64 {
                return Err(Error::invalid(
                    from,
                    "file changed size while being relinked",
                ));
            }
            for &(at, pid) in &changes {
                output
                    .write_all_at(self.rewriter.replacement(pid), at as u64)
                    .map_err(|e| Error::io(to, e))?;
            }
        }
        kept.apply(output, to)
    }

    fn scan(&self, bytes: &[u8]) -> Vec<(usize, usize)> {
        let mut counts = vec![0; self.rewriter.patterns()];
        let changes = self.rewriter.find(bytes, &mut counts);
        self.add_counts(&counts);
        if !changes.is_empty() {
            self.rewritten.fetch_add(1, Ordering::Relaxed);
        }
        changes
    }

    /// Hard-links an unchanged file when the caller allows it; true if it did.
    fn link_unchanged(&self, from: &Path, to: &Path, changes: &[(usize, usize)]) -> Result<bool> {
        if !changes.is_empty() || !self.hardlink {
            return Ok(false);
        }
        fs::hard_link(from, to).map_err(|e| Error::io(to, e))?;
        self.hardlinked.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    fn add_counts(&self, counts: &[u64]) {
        for (total, n) in self.counts.iter().zip(counts) {
            if *n > 0 {
                total.fetch_add(*n, Ordering::Relaxed);
            }
        }
    }

    fn summary(&self, entries: &[Entry], maps: &[Mapping]) -> Summary {
        let count = |f: fn(&Entry) -> bool| entries.iter().filter(|e| f(e)).count() as u64;
        Summary {
            schema: SCHEMA,
            version: VERSION,
            files: count(|e| matches!(e, Entry::File { .. } | Entry::HardLink { .. })),
            directories: count(|e| matches!(e, Entry::Dir { .. })) + 1,
            symlinks: count(|e| matches!(e, Entry::Symlink { .. })),
            bytes: self.bytes.load(Ordering::Relaxed),
            files_rewritten: self.rewritten.load(Ordering::Relaxed),
            files_hardlinked: self.hardlinked.load(Ordering::Relaxed),
            mappings: maps
                .iter()
                .zip(&self.counts)
                .map(|(m, c)| MappingCount {
                    from: m.from.clone(),
                    to: m.to.clone(),
                    occurrences: c.load(Ordering::Relaxed),
                })
                .collect(),
        }
    }
}

fn forbidden(file: &Path, what: &str) -> Error {
    Error::invalid(file, format!("still references forbidden path {what}"))
}

/// Lists the tree under `root` (parents before children), refusing special files. Symlinks
/// are listed with their targets as they are, never followed: relink copies a link (its
/// mapped paths rewritten) wherever it points, inside the tree or out of it, so it cannot
/// be led to read or write anything through one. A file's second name (same inode) becomes
/// a [`Entry::HardLink`] to its first.
fn walk(root: &Path) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let mut inodes: HashMap<(u64, u64), PathBuf> = HashMap::new();
    for walked in fsx::walk(root)? {
        let fsx::Walked {
            rel,
            path,
            meta,
            target,
        } = walked;
        let mode = meta.permissions().mode();
        let ft = meta.file_type();
        if let Some(target) = target {
            out.push(Entry::Symlink { rel, target });
        } else if ft.is_dir() {
            out.push(Entry::Dir {
                rel,
                mode,
                modified: meta.modified().ok(),
            });
        } else if ft.is_file() && meta.nlink() > 1 {
            match inodes.entry((meta.dev(), meta.ino())) {
                std::collections::hash_map::Entry::Occupied(first) => out.push(Entry::HardLink {
                    rel,
                    first: first.get().clone(),
                }),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(rel.clone());
                    out.push(Entry::File {
                        rel,
                        mode,
                        len: meta.len(),
                    });
                }
            }
        } else if ft.is_file() {
            out.push(Entry::File {
                rel,
                mode,
                len: meta.len(),
            });
        } else {
            return Err(Error::invalid(
                &path,
                "special file (device, FIFO or socket) in a package output",
            ));
        }
    }
    Ok(out)
}

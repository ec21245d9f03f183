//! File-system helpers shared by every command that writes output.
//!
//! Output is always written to a temporary file beside its final name and renamed into
//! place, so an interrupted or failed run never leaves a partial file behind.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

/// Reads a whole file, refusing directories with an error that says so (std's message
/// for reading a directory, "Is a directory", does not say which path).
pub fn read(path: &Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::invalid(path, "is a directory, expected a file"));
    }
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// Maps a whole file read-only. Reading a library's interface touches only its headers and
/// dynamic tables, a small part of a large library: mapping reads just those pages.
///
/// Store paths and system libraries are not modified in place; a file truncated by someone
/// else while mapped would end the process with SIGBUS rather than an error.
pub fn map(path: &Path) -> Result<memmap2::Mmap> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::invalid(path, "is a directory, expected a file"));
    }
    // SAFETY: the mapping is read-only and private to this process; see above for the one
    // way another process can still invalidate it.
    unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, then rename.
/// The file gets mode 0644 (tempfile creates 0600, which would make stubs and plans
/// unreadable to other users of a shared machine or builder).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".abicut-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

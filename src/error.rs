//! One error type for the library. Every variant names the file (or node) it is about,
//! because the users run abicut over thousands of files and need to know which one failed.
//!
//! Below it sits a path-less reason, [`Malformed`]: readers and writers that see only bytes
//! say what is wrong, and the caller that opened the file adds the path with [`Error::at`].

#![warn(missing_docs)]

use std::path::PathBuf;

pub use crate::iface::Malformed;

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every way a library call fails; the CLI prints it once as `abicut: {err:#}`. The variant
/// tells the user what to fix: a file ([`Error::Io`], [`Error::Invalid`]), the command line
/// ([`Error::Usage`]), or abicut itself ([`Error::Internal`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system error while reading or writing `path`. The cause is part of the
    /// message rather than a `source`, so `{:#}` at the edge does not print it twice.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file the operation was about, as the user named it (or as found in a tree).
        path: PathBuf,
        /// What the operating system said.
        cause: std::io::Error,
    },
    /// `path` exists but its content is not what the operation needs (not ELF, truncated, corrupt).
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The file whose content is refused.
        path: PathBuf,
        /// What is wrong with it, without the path (a [`Malformed`]'s text).
        reason: String,
    },
    /// What the user asked for cannot be done as asked: a command-line value, a mapping, a
    /// role or override pattern, a node name; or a graph that does not hang together, which
    /// has no one file to name. The fix is in the command, not in a file.
    #[error("{0}")]
    Usage(String),
    /// abicut failed on its own data (serialising a struct it built itself): a bug to report,
    /// not something the user can fix in the input.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// An I/O failure on `path`; the usual `map_err` target after a `std::fs` call.
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause,
        }
    }

    /// Refuses the content of `path` for a reason stated in place (header checks and edits
    /// that already know the path).
    pub fn invalid(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// Names the file a path-less reader or writer failed on: the one step from a
    /// [`Malformed`] to an error the user can act on.
    pub fn at(path: impl Into<PathBuf>, malformed: Malformed) -> Self {
        Error::invalid(path, malformed.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Users and tests/cli.rs read `PATH: REASON`; wrapping a reason must not change it.
    #[test]
    fn a_reason_at_a_path_reads_path_colon_reason() {
        let reason = Malformed::from("not an ELF file (no ELF magic)");
        assert_eq!(
            Error::at("lib/x.so", reason.clone()).to_string(),
            "lib/x.so: not an ELF file (no ELF magic)"
        );
        assert_eq!(
            Error::at("lib/x.so", reason).to_string(),
            Error::invalid("lib/x.so", "not an ELF file (no ELF magic)").to_string()
        );
    }
}

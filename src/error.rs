//! One error type for the library. Every variant names the file (or node) it is about,
//! because the users run abicut over thousands of files and need to know which one failed.

use std::path::PathBuf;

/// Result alias used across the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system error while reading or writing `path`. The cause is part of the
    /// message rather than a `source`, so `{:#}` at the edge does not print it twice.
    #[error("{}: {cause}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// `path` exists but its content is not what the operation needs (not ELF, truncated, corrupt).
    #[error("{}: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
    /// Input that is not a file: a graph, a mapping, a command-line value.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause,
        }
    }

    pub fn invalid(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

//! The reason an input cannot be read as an interface, before anyone knows which file it was.
//!
//! Readers and writers of the model (ELF, llvm-ifs, canonical JSON, the stub writer) work on
//! bytes, not paths, so they say only what is wrong; the caller that opened the file adds its
//! path with `Error::at` (`error.rs`). This is object's split (`read::Error`, `write::Error`),
//! and it lives here, not in `error.rs`, because the model imports nothing from the crate.

/// What is wrong with the bytes, in words for the user: "not an ELF file (no ELF magic)",
/// "line 4: unknown key Foo". Shown as is, after the path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

/// Lets `?` and `.ok_or(…)` take a formatted reason as it is written today.
impl From<String> for Malformed {
    fn from(reason: String) -> Self {
        Malformed(reason)
    }
}

/// Lets `?` and `.ok_or(…)` take a fixed reason.
impl From<&str> for Malformed {
    fn from(reason: &str) -> Self {
        Malformed(reason.to_owned())
    }
}

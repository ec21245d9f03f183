//! Standard output for every command, in one place.
//!
//! `println!` panics when the reader has gone (`abicut diff A B | head -1`). Every command
//! prints through `outln!`/`out!` instead, which return the write error; `main` treats a
//! broken pipe as success, as ripgrep does: the reader asked for no more. A command whose
//! verdict is known before it prints (`verify`'s problems, `diff`'s breaking) prints through
//! [`with_verdict`], so a closed pipe never turns that verdict into success.
//!
//! `--json` means one thing in every command: one JSON document per invocation, printed
//! pretty with a final newline ([`document`]). Its shape is a serde type of the library
//! that starts with a `schema` name and a `version`. Several inputs give one document
//! listing them all, never one per line.

use serde::Serialize;
use std::io::{self, Write};
use std::path::Path;

/// Writes formatted text to standard output and returns the write error, if any.
pub fn write(args: std::fmt::Arguments) -> io::Result<()> {
    io::stdout().lock().write_fmt(args)
}

/// Writes bytes (a rendered JSON or IFS interface) to standard output.
pub fn write_bytes(bytes: &[u8]) -> io::Result<()> {
    io::stdout().lock().write_all(bytes)
}

/// Flushes what `write` buffered, so a closed pipe is seen before the command returns.
pub fn flush() -> io::Result<()> {
    io::stdout().lock().flush()
}

/// Prints `text`, or writes it atomically to `output` (built beside it, renamed into place).
pub fn emit(output: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(path) => abicut::fsx::write_atomic(path, text.as_bytes())?,
        None => write(format_args!("{text}"))?,
    }
    Ok(())
}

/// The `--json` form of `value`: one pretty document and a newline.
pub fn document(value: &impl Serialize) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

/// Prints `value` as the `--json` document.
pub fn json(value: &impl Serialize) -> anyhow::Result<()> {
    emit(None, &document(value)?)
}

/// Runs `print` for a result whose exit status is already `status`, and returns that status
/// even when the reader closed the pipe (`abicut verify /usr/lib | head -1` found problems
/// whatever `head` read); any other write error is an error.
pub fn with_verdict(
    status: u8,
    print: impl FnOnce() -> anyhow::Result<()>,
) -> anyhow::Result<std::process::ExitCode> {
    match print().and_then(|()| Ok(flush()?)) {
        Err(err) if !is_broken_pipe(&err) => Err(err),
        _ => Ok(super::exit::code(status)),
    }
}

/// Whether `err` comes from writing to a pipe whose reader has closed it.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

/// `print!` that returns `io::Result` instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::out::write(format_args!($($arg)*))
    };
}

/// `println!` that returns `io::Result` instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::out::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {out, outln};

//! Standard output for every command, in one place.
//!
//! `println!` panics when the reader has gone (`abicut diff A B | head -1`). Every command
//! prints through `outln!`/`out!` instead, which return the write error; `main` treats a
//! broken pipe as success, as ripgrep does: the reader asked for no more.

use std::io::{self, Write};

/// Writes formatted text to standard output and returns the write error, if any.
pub fn write(args: std::fmt::Arguments) -> io::Result<()> {
    io::stdout().lock().write_fmt(args)
}

/// Flushes what `write` buffered, so a closed pipe is seen before the command returns.
pub fn flush() -> io::Result<()> {
    io::stdout().lock().flush()
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

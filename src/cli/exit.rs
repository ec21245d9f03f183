//! Exit statuses, in one place. `Cli`'s `after_help` documents them for users; a command
//! returns one of these, and `main` maps every error to [`ERROR`].

use std::process::ExitCode;

/// Done; for `diff`, the two sides are identical.
pub const SUCCESS: u8 = 0;
/// `verify` found problems.
pub const PROBLEMS: u8 = 1;
/// `diff`: the new side is compatible with the old (additions, layout, warnings).
pub const COMPATIBLE: u8 = 1;
/// `diff`: the new side breaks consumers of the old.
pub const BREAKING: u8 = 2;
/// Bad input, bad usage, I/O; for a `stubgen --out-dir` batch, any library failed.
pub const ERROR: u8 = 3;

/// The status as the `ExitCode` a command returns.
pub fn code(status: u8) -> ExitCode {
    ExitCode::from(status)
}

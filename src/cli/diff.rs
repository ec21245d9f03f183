//! `abicut diff`: why an interface changed, for people (text) and scripts (exit status, JSON).

use super::args::Headers;
use super::exit;
use super::out::{self, out};
use abicut::diff::{self, Verdict};
use abicut::tree;
use anyhow::bail;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit status: 0 identical, 1 compatible (additions and layout only), 2 breaking, 3 error.
#[derive(clap::Args)]
#[command(after_help = "Exit status: 0 identical, 1 compatible, 2 breaking, 3 error.")]
pub struct Args {
    /// The old library, stub, canonical JSON, llvm-ifs text, or interface tree (directory).
    old: PathBuf,
    /// The new one, of the same sort.
    new: PathBuf,
    /// How headers of two trees compare: `tokens` ignores comment and whitespace changes,
    /// as `abicut interface --headers tokens` does for the hash.
    #[arg(long, value_enum, default_value_t = Headers::Exact)]
    headers: Headers,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Leave unified diffs of changed text files out of the text report.
    #[arg(long)]
    no_patch: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let report = match (is_dir(&args.old)?, is_dir(&args.new)?) {
        (true, true) => {
            let headers = args.headers.into();
            let old = tree::read(&args.old, headers)?;
            let new = tree::read(&args.new, headers)?;
            diff::trees(&old, &new, headers)
        }
        (false, false) => diff::libraries(&args.old, &args.new)?,
        _ => bail!("compare two interface trees (directories) or two libraries, not one of each"),
    };
    out::with_verdict(status(report.verdict), || {
        if args.json {
            out::json(&report)
        } else {
            Ok(out!("{}", report.to_text(!args.no_patch))?)
        }
    })
}

/// Whether `path` is a directory; a path that cannot be read is an error naming it.
fn is_dir(path: &Path) -> anyhow::Result<bool> {
    let meta = std::fs::metadata(path).map_err(|e| abicut::Error::io(path, e))?;
    Ok(meta.is_dir())
}

/// The documented exit status of `abicut diff` for a verdict.
fn status(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Identical => exit::SUCCESS,
        Verdict::Compatible => exit::COMPATIBLE,
        Verdict::Breaking => exit::BREAKING,
    }
}

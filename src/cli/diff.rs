//! `abicut diff`: why an interface changed, for people (text) and scripts (exit status, JSON).

use super::interface::Headers;
use super::out::{out, outln};
use abicut::diff::{self, Verdict};
use abicut::{stubgen, tree};
use anyhow::bail;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit status: 0 identical, 1 compatible (additions and layout only), 2 breaking, 3 error.
#[derive(Args)]
#[command(after_help = "Exit status: 0 identical, 1 compatible, 2 breaking, 3 error.")]
pub struct DiffArgs {
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

pub fn run(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let report = match (args.old.is_dir(), args.new.is_dir()) {
        (true, true) => {
            let headers = args.headers.into();
            let old = tree::read(&args.old, headers)?;
            let new = tree::read(&args.new, headers)?;
            diff::trees(&old, &new, headers)
        }
        (false, false) => {
            let options = stubgen::Options::default();
            let old = stubgen::load(&args.old, &options)?;
            let new = stubgen::load(&args.new, &options)?;
            diff::interfaces(&old, &new)
        }
        _ => bail!("compare two interface trees (directories) or two libraries, not one of each"),
    };
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        out!("{}", report.to_text(!args.no_patch))?;
    }
    Ok(ExitCode::from(exit_code(report.verdict)))
}

/// The documented exit status of `abicut diff` for a verdict.
fn exit_code(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Identical => 0,
        Verdict::Compatible => 1,
        Verdict::Breaking => 2,
    }
}

//! `abicut relink`: copy a compile output to its real output, rewriting store paths.

use super::exit;
use super::out::{self, out};
use abicut::relink::{self, Options, Progress, mapping::Mapping};
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Trees below these sizes finish before a progress bar would be worth drawing.
const PROGRESS_MIN_BYTES: u64 = 256 << 20;
const PROGRESS_MIN_FILES: u64 = 2000;

#[derive(clap::Args)]
pub struct Args {
    /// The compile output to copy.
    src: PathBuf,
    /// The real output; written beside and renamed into place.
    dest: PathBuf,
    /// FROM=TO: a store path or bare 32-character hash and its same-length replacement.
    #[arg(long = "map", value_name = "FROM=TO")]
    maps: Vec<String>,
    /// A file of FROM=TO lines (for long mappings).
    #[arg(long = "map-file", value_name = "FILE")]
    map_files: Vec<PathBuf>,
    /// Fail if this path is still referenced anywhere in the output.
    #[arg(long = "forbid", value_name = "PATH")]
    forbid: Vec<String>,
    /// Hard-link files without any occurrence instead of copying them.
    #[arg(long)]
    hardlink_unchanged: bool,
    /// Verify the output (see `abicut verify`) before renaming it into place.
    #[arg(long)]
    verify: bool,
    /// With --verify: searched for needed libraries (like LD_LIBRARY_PATH).
    #[arg(long = "lib-path", value_name = "DIR", requires = "verify")]
    lib_paths: Vec<PathBuf>,
    /// With --verify: read absolute paths under this root first (as qemu-user's -L).
    #[arg(long, value_name = "DIR", requires = "verify")]
    sysroot: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let mut mappings = args
        .maps
        .iter()
        .map(|m| Mapping::parse(m))
        .collect::<abicut::Result<Vec<_>>>()?;
    for f in &args.map_files {
        mappings.extend(relink::read_map_file(f)?);
    }
    let opts = Options {
        mappings,
        forbid: args.forbid,
        hardlink_unchanged: args.hardlink_unchanged,
        verify: args.verify.then(|| relink::verify::Options {
            lib_paths: args.lib_paths,
            sysroot: args.sysroot,
            ..Default::default()
        }),
        link_targets: Vec::new(),
    };
    let bar = Bar::default();
    let summary = relink::relink(&args.src, &args.dest, &opts, &bar)?;
    if let Some(b) = bar.0.get() {
        b.finish_and_clear();
    }
    if args.json {
        out::json(&summary)?;
    } else {
        out!("{}", summary.to_text(&args.src, &args.dest))?;
    }
    Ok(exit::code(exit::SUCCESS))
}

/// An indicatif bar, created only for large trees when stderr is a terminal.
#[derive(Default)]
struct Bar(std::sync::OnceLock<ProgressBar>);

impl Progress for Bar {
    fn start(&self, total_bytes: u64, files: u64) {
        let large = total_bytes >= PROGRESS_MIN_BYTES || files >= PROGRESS_MIN_FILES;
        if !large || !std::io::stderr().is_terminal() {
            return;
        }
        let bar = ProgressBar::new(total_bytes);
        if let Ok(style) = ProgressStyle::with_template(
            "relink [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style);
        }
        let _ = self.0.set(bar);
    }

    fn advance(&self, bytes: u64) {
        if let Some(b) = self.0.get() {
            b.inc(bytes);
        }
    }
}

//! `abicut relocate`: copy store paths (or their closure) to another store directory,
//! rewriting every reference in place.

use super::exit;
use super::out::{self, out};
use abicut::cache::Cache;
use abicut::relocate::{self, FetchProgress, Plan, StorePath, closure};
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(
    after_help = "Exit status: 0 every reference moved, 1 findings reported \
                        (references that could not be rewritten), 3 error (nothing written \
                        when found before writing)."
)]
pub struct Args {
    /// Store paths to relocate (`/nix/store/<hash>-<name>`), all in one store directory.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The new store directory; each path keeps its length (a longer directory shortens
    /// names, a shorter one pads them with `_`).
    #[arg(long, value_name = "STOREDIR")]
    to: String,
    /// Relocate everything the paths reference too, found by scanning their files for
    /// store hashes as Nix does.
    #[arg(long, conflicts_with = "closure_from")]
    closure: bool,
    /// Relocate the paths listed in FILE (`nix-store -qR` output) with the given ones.
    #[arg(long, value_name = "FILE")]
    closure_from: Option<PathBuf>,
    /// Fetch the paths and their closure from this binary cache (`file:///dir`,
    /// `http://host/...`) instead of the local store: narinfo and NAR, checked against the
    /// narinfo's NarHash and NarSize.
    #[arg(long, value_name = "URL", conflicts_with_all = ["closure", "closure_from"])]
    from: Option<String>,
    /// With --from: require every narinfo to be signed by this key (`name:base64`, as
    /// `nix-store --generate-binary-cache-key` writes the public key); repeatable.
    #[arg(long = "trusted-key", value_name = "KEY", requires = "from")]
    trusted_keys: Vec<String>,
    /// Write under this directory instead of `/` (DIR/STOREDIR/<hash>-<name>), to move
    /// there later.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Write `nix-store --register-validity --hash-given` input for the relocated paths
    /// (NAR hash and size of the new content, references) to FILE.
    #[arg(long, value_name = "FILE")]
    register: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let mut paths = args
        .paths
        .iter()
        .map(|p| StorePath::parse(p))
        .collect::<abicut::Result<Vec<_>>>()?;
    let (plan, summary) = if let Some(url) = &args.from {
        let cache = Cache::new(url, &args.trusted_keys)?;
        let bar = Bar::default();
        let done = relocate::from_cache(&cache, &paths, &args.to, args.root.as_deref(), &bar)?;
        if let Some(b) = bar.0.get() {
            b.finish_and_clear();
        }
        done
    } else {
        if let Some(list) = &args.closure_from {
            paths.extend(closure::read_listing(list)?);
        }
        if args.closure {
            paths = closure::scan(&paths)?;
        }
        let plan = Plan::new(&paths, &args.to)?;
        let summary = relocate::relocate(&plan, args.root.as_deref())?;
        (plan, summary)
    };
    if let Some(file) = &args.register {
        let infos = relocate::register::infos(&plan, args.root.as_deref())?;
        let text: String = infos.iter().map(|i| i.to_registration()).collect();
        abicut::fsx::write_atomic(file, text.as_bytes())?;
    }
    if args.json {
        out::json(&summary)?;
    } else {
        out!(
            "relocated {} paths from {} to {}: {} files ({} bytes, {} rewritten)\n",
            summary.paths.len(),
            summary.old_dir,
            summary.new_dir,
            summary.files,
            summary.bytes,
            summary.files_rewritten
        )?;
        for m in &summary.paths {
            out!("  {} -> {}\n", m.from, m.to)?;
        }
        for f in &summary.findings {
            out!("{}\n", f.to_text())?;
        }
    }
    Ok(exit::code(if summary.findings.is_empty() {
        exit::SUCCESS
    } else {
        exit::PROBLEMS
    }))
}

/// A bar counting fetched paths, drawn only when stderr is a terminal.
#[derive(Default)]
struct Bar(std::sync::OnceLock<ProgressBar>);

impl FetchProgress for Bar {
    fn start(&self, paths: u64) {
        if !std::io::stderr().is_terminal() {
            return;
        }
        let bar = ProgressBar::new(paths);
        if let Ok(style) =
            ProgressStyle::with_template("fetch [{bar:40}] {pos}/{len} paths {elapsed} {msg}")
        {
            bar.set_style(style);
        }
        let _ = self.0.set(bar);
    }

    fn fetched(&self, path: &str) {
        if let Some(b) = self.0.get() {
            b.set_message(path.to_owned());
            b.inc(1);
        }
    }
}

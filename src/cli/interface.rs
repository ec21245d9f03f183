//! `abicut interface`: the interface tree of package outputs and its Merkle hash.

use super::args::{Headers, ImportsArg};
use super::exit;
use super::out::{self, outln};
use abicut::tree;
use anyhow::bail;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Package outputs (directories) to take the interface of. One output is mirrored at the
    /// tree's root, several under their file names.
    #[arg(required = true)]
    outputs: Vec<PathBuf>,
    /// Write the tree here (built beside it and renamed into place; must not exist, or be
    /// an empty directory).
    #[arg(short, long, value_name = "DIR")]
    output: Option<PathBuf>,
    /// The package's own store path (repeatable), as PATH or PATH=TO: every occurrence
    /// becomes TO, or a placeholder without the store hash and the version, so the tree does
    /// not change when only those do. Text files may change length; a binary file that
    /// would have to is an error.
    #[arg(long = "self", value_name = "STOREPATH[=TO]")]
    self_paths: Vec<tree::SelfPath>,
    /// Keep static archives (`.a`). Left out by default: they change with any code change,
    /// and a consumer that needs one fails loudly without it.
    #[arg(long)]
    with_static: bool,
    /// How headers enter the hash. `tokens` hashes their C preprocessor tokens, so
    /// comment-only and formatting-only changes keep the hash. RISK: a header that uses
    /// `__LINE__`, stringifies arguments with spacing, or a consumer's debug line tables
    /// can then differ from a full rebuild; the files themselves are always copied exactly.
    #[arg(long, value_enum, default_value_t = Headers::Exact)]
    headers: Headers,
    /// Which imports each stub keeps, as in `stubgen --imports`: `all` when a consumer of
    /// the package links with mold.
    #[arg(long, value_enum, default_value_t = ImportsArg::Owed)]
    imports: ImportsArg,
    /// Print the tree's Merkle hash.
    #[arg(long)]
    hash: bool,
    /// Print the hash, header mode, entry count and output as JSON (schema
    /// `abicut-interface`, version 1).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.output.is_none() && !args.hash {
        bail!("nothing to do: give -o DIR to write the tree, or --hash to print its hash");
    }
    let options = tree::Options {
        self_paths: args.self_paths,
        with_static: args.with_static,
        headers: args.headers.into(),
        imports: args.imports.into(),
    };
    if let Some(dir) = &args.output {
        tree::check_apart(&args.outputs, dir)?;
    }
    let built = tree::build(&args.outputs, &options)?;
    if let Some(dir) = &args.output {
        tree::write(&built, dir)?;
    }
    if args.json {
        out::json(&tree::Summary::new(
            &built,
            options.headers,
            args.output.as_deref(),
        ))?;
    } else if args.hash {
        outln!("{}", built.hash())?;
    }
    Ok(exit::code(exit::SUCCESS))
}

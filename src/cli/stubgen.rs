//! `abicut stubgen`: interface stubs and ABI hashes of shared libraries.

use super::args::ImportsArg;
use super::{exit, out};
use abicut::stubgen::{self, Format, Hashes, LibraryHash};
use anyhow::{Context, bail};
use clap::ValueEnum;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Shared libraries (or stubs, canonical JSON, llvm-ifs text) to read.
    #[arg(required = true)]
    libs: Vec<PathBuf>,
    /// Write the one library's output here (written beside it and renamed into place).
    /// Without -o or --out-dir, JSON and IFS go to standard output, one document per
    /// library in the order given.
    #[arg(short, long, conflicts_with = "out_dir")]
    output: Option<PathBuf>,
    /// Write each library's output into DIR under the library's file name (batch, parallel).
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Elf)]
    format: OutFormat,
    /// Print each library's ABI hash (BLAKE3 of its canonical JSON), one `HASH  PATH` line
    /// per library in the order given, as b3sum does.
    #[arg(long)]
    hash: bool,
    /// With --hash: print the hashes as one JSON document (schema `abicut-hashes`, version 1).
    #[arg(long, requires = "hash")]
    json: bool,
    /// Keep everything a linker's output can depend on: every import with its version and
    /// position, and the exact alignment of data objects. Links against the stub are then
    /// byte-identical to links against the library with GNU ld, gold, lld and mold, but any
    /// change in what the library calls, or in where its data happens to land, changes the
    /// hash. The default keeps only what a program's exports and run-time bindings depend
    /// on, so ABI-neutral updates keep their hash.
    #[arg(long)]
    exact: bool,
    /// Which imports the default interface keeps: `owed`, those no library of the
    /// library's DT_NEEDED closure defines (what a program must provide; enough for GNU ld,
    /// gold and lld, which export a program's definition of the others because the
    /// dependency defining them is in the link); `all`, every import name, for links with
    /// mold, which exports a program's definition only when a library references it.
    #[arg(long, value_enum, default_value_t = ImportsArg::Owed, conflicts_with = "exact")]
    imports: ImportsArg,
    /// Search DIR for the library's dependencies after its RUNPATH and before the default
    /// directories (repeatable), as LD_LIBRARY_PATH does for the loader.
    #[arg(long = "lib-path", value_name = "DIR")]
    lib_path: Vec<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutFormat {
    Elf,
    Json,
    Ifs,
}

impl From<OutFormat> for Format {
    fn from(f: OutFormat) -> Format {
        match f {
            OutFormat::Elf => Format::Elf,
            OutFormat::Json => Format::Json,
            OutFormat::Ifs => Format::Ifs,
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let format = Format::from(args.format);
    if let Some(dir) = &args.out_dir {
        return batch(&args, dir, format);
    }
    if args.output.is_some() && args.libs.len() > 1 {
        bail!("-o writes one library's output: give several libraries --out-dir DIR");
    }
    if args.output.is_none() && format == Format::Elf && !args.hash {
        bail!("an ELF stub needs -o FILE or --out-dir DIR (or --hash to print only its hash)");
    }
    let ifaces = stubgen::load_all(&args.libs, &options(&args))?;
    let mut rendered = Vec::new();
    let mut hashes = Vec::new();
    for (lib, iface) in args.libs.iter().zip(&ifaces) {
        rendered.extend(stubgen::render(iface, format, lib)?);
        if args.hash {
            hashes.push(LibraryHash::new(lib, iface.abi_hash()));
        }
    }
    match &args.output {
        Some(out) => abicut::fsx::write_atomic(out, &rendered)?,
        None if format == Format::Elf => {}
        None => out::write_bytes(&rendered).context("cannot write to standard output")?,
    }
    print_hashes(hashes, args.json)?;
    Ok(exit::code(exit::SUCCESS))
}

fn batch(args: &Args, dir: &Path, format: Format) -> anyhow::Result<ExitCode> {
    let mut failed = 0;
    let mut hashes = Vec::new();
    for outcome in stubgen::batch(&args.libs, dir, format, &options(args), args.hash)? {
        match outcome.result {
            Ok((_, Some(hash))) => hashes.push(LibraryHash::new(&outcome.input, hash)),
            Ok(_) => {}
            Err(err) => {
                failed += 1;
                eprintln!("abicut: {err}");
            }
        }
    }
    if failed > 0 {
        eprintln!("abicut: {failed} of {} libraries failed", args.libs.len());
    }
    let status = if failed > 0 {
        exit::ERROR
    } else {
        exit::SUCCESS
    };
    out::with_verdict(status, || print_hashes(hashes, args.json))
}

fn options(args: &Args) -> stubgen::Options {
    stubgen::Options {
        exact: args.exact,
        imports: args.imports.into(),
        lib_path: args.lib_path.clone(),
    }
}

/// Prints the hashes asked for (none without `--hash`), as text or the `--json` document.
fn print_hashes(hashes: Vec<LibraryHash>, json: bool) -> anyhow::Result<()> {
    if hashes.is_empty() {
        return Ok(());
    }
    let hashes = Hashes::new(hashes);
    if json {
        out::json(&hashes)
    } else {
        out::emit(None, &hashes.to_text())
    }
}

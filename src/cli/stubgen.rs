//! `abicut stubgen`: interface stubs and ABI hashes of shared libraries.

use super::out::outln;
use abicut::stubgen::{self, Format};
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct StubgenArgs {
    /// Shared libraries (or stubs, canonical JSON, llvm-ifs text) to read.
    #[arg(required = true)]
    libs: Vec<PathBuf>,
    /// Write the one library's output here (written beside it and renamed into place).
    #[arg(short, long, conflicts_with = "out_dir")]
    output: Option<PathBuf>,
    /// Write each library's output into DIR under the library's file name (batch, parallel).
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Elf)]
    format: OutFormat,
    /// Print each library's ABI hash (BLAKE3 of its canonical JSON).
    #[arg(long)]
    hash: bool,
    /// Print results as JSON lines for machines.
    #[arg(long)]
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
pub(super) enum ImportsArg {
    Owed,
    All,
}

impl From<ImportsArg> for stubgen::Imports {
    fn from(i: ImportsArg) -> stubgen::Imports {
        match i {
            ImportsArg::Owed => stubgen::Imports::Owed,
            ImportsArg::All => stubgen::Imports::All,
        }
    }
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

pub fn run(args: StubgenArgs) -> anyhow::Result<ExitCode> {
    let format = Format::from(args.format);
    if let Some(dir) = &args.out_dir {
        return batch(&args, dir, format);
    }
    if args.libs.len() > 1 {
        bail!("several libraries need --out-dir DIR (or run once per library with -o)");
    }
    let lib = &args.libs[0];
    let iface = stubgen::load(lib, &options(&args))?;
    let bytes = stubgen::render(&iface, format, lib)?;
    match &args.output {
        Some(out) => abicut::fsx::write_atomic(out, &bytes)?,
        None if format == Format::Elf && !args.hash => {
            bail!("an ELF stub needs -o FILE or --out-dir DIR")
        }
        None if format == Format::Elf => {}
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(&bytes)
                .context("cannot write to standard output")?;
        }
    }
    if args.hash {
        print_hash(&iface.abi_hash(), lib, args.json)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn batch(args: &StubgenArgs, dir: &PathBuf, format: Format) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut failed = 0;
    for outcome in stubgen::batch(&args.libs, dir, format, &options(args), args.hash) {
        match outcome.result {
            Ok((_, Some(hash))) => print_hash(&hash, &outcome.input, args.json)?,
            Ok(_) => {}
            Err(err) => {
                failed += 1;
                eprintln!("abicut: {err}");
            }
        }
    }
    if failed > 0 {
        eprintln!("abicut: {failed} of {} libraries failed", args.libs.len());
        return Ok(ExitCode::from(super::EXIT_ERROR));
    }
    Ok(ExitCode::SUCCESS)
}

fn options(args: &StubgenArgs) -> stubgen::Options {
    stubgen::Options {
        exact: args.exact,
        imports: args.imports.into(),
        lib_path: args.lib_path.clone(),
    }
}

fn print_hash(hash: &str, lib: &std::path::Path, json: bool) -> std::io::Result<()> {
    if json {
        outln!(
            "{}",
            serde_json::json!({"path": lib.to_string_lossy(), "abi_hash": hash})
        )?;
    } else {
        outln!("{hash}  {}", lib.display())?;
    }
    Ok(())
}

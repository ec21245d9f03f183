//! `abicut elf`: patchelf-like edits and queries of ELF dynamic entries.

use super::exit;
use super::out::{self, outln};
use abicut::elf::edit::{Edit, ElfFile};
use abicut::elf::facts::{Facts, FactsFile};
use anyhow::{Result, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Why `abicut elf FILE` alone is refused, as readelf refuses it: an edit or a query must
/// say what to do.
const NOTHING_TO_DO: &str = "nothing to do: give an edit (--set-rpath, --remove-rpath, \
--add-needed, --remove-needed, --replace-needed, --set-interpreter, --set-soname) or a query \
(--print-rpath, --print-interpreter, --print-soname, --print-needed, --json)";

#[derive(clap::Args)]
#[command(after_help = "With neither an edit nor a query, elf refuses: nothing to do.")]
pub struct Args {
    /// The ELF files to edit or query.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Set DT_RUNPATH (DT_RPATH with --force-rpath), replacing any RPATH/RUNPATH.
    #[arg(long, value_name = "PATHS")]
    set_rpath: Option<String>,
    /// With --set-rpath: write DT_RPATH instead of DT_RUNPATH.
    #[arg(long, requires = "set_rpath")]
    force_rpath: bool,
    /// Remove DT_RPATH and DT_RUNPATH.
    #[arg(long)]
    remove_rpath: bool,
    /// Replace DT_NEEDED OLD by NEW (version needs follow).
    #[arg(long, num_args = 2, value_names = ["OLD", "NEW"])]
    replace_needed: Vec<String>,
    /// Add a DT_NEEDED entry (after the existing ones).
    #[arg(long, value_name = "LIB")]
    add_needed: Vec<String>,
    /// Remove a DT_NEEDED entry.
    #[arg(long, value_name = "LIB")]
    remove_needed: Vec<String>,
    /// Set the program interpreter (PT_INTERP).
    #[arg(long, value_name = "PATH")]
    set_interpreter: Option<String>,
    /// Set DT_SONAME.
    #[arg(long, value_name = "NAME")]
    set_soname: Option<String>,
    /// Print DT_RUNPATH (or DT_RPATH when there is no RUNPATH); empty when neither.
    #[arg(long)]
    print_rpath: bool,
    /// Print the program interpreter (PT_INTERP); an error when the file has none.
    #[arg(long)]
    print_interpreter: bool,
    /// Print DT_SONAME; empty when there is none.
    #[arg(long)]
    print_soname: bool,
    /// Print each DT_NEEDED entry on its own line, in file order.
    #[arg(long)]
    print_needed: bool,
    /// Print every file's interpreter, rpath, soname and needed entries as one JSON document
    /// (schema `abicut-elf`, version 1), after any edits.
    #[arg(long)]
    json: bool,
    /// Write the result here instead of editing the file in place (one input file only).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

impl Args {
    /// Whether anything is to be printed.
    fn queries(&self) -> bool {
        self.json
            || self.print_rpath
            || self.print_interpreter
            || self.print_soname
            || self.print_needed
    }

    fn edits(&self) -> Vec<Edit> {
        let mut edits = Vec::new();
        if self.remove_rpath {
            edits.push(Edit::RemoveRpath);
        }
        if let Some(r) = &self.set_rpath {
            edits.push(if self.force_rpath {
                Edit::SetOldRpath(r.clone())
            } else {
                Edit::SetRpath(r.clone())
            });
        }
        for pair in self.replace_needed.chunks(2) {
            if let [old, new] = pair {
                edits.push(Edit::ReplaceNeeded(old.clone(), new.clone()));
            }
        }
        edits.extend(self.remove_needed.iter().cloned().map(Edit::RemoveNeeded));
        edits.extend(self.add_needed.iter().cloned().map(Edit::AddNeeded));
        if let Some(i) = &self.set_interpreter {
            edits.push(Edit::SetInterpreter(i.clone()));
        }
        if let Some(s) = &self.set_soname {
            edits.push(Edit::SetSoname(s.clone()));
        }
        edits
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let edits = args.edits();
    if edits.is_empty() && !args.queries() {
        bail!("{NOTHING_TO_DO}");
    }
    if args.output.is_some() && args.files.len() != 1 {
        bail!("--output takes exactly one input file");
    }
    let mut facts = Vec::new();
    for file in &args.files {
        let shown = if edits.is_empty() {
            file
        } else {
            apply(file, args.output.as_deref(), &edits)?;
            args.output.as_ref().unwrap_or(file)
        };
        if !args.queries() {
            continue;
        }
        let elf = ElfFile::read(shown)?;
        if args.json {
            facts.push(Facts::of(shown, &elf)?);
        } else {
            print_queries(&args, shown, &elf)?;
        }
    }
    if args.json {
        out::json(&FactsFile::new(facts))?;
    }
    Ok(exit::code(exit::SUCCESS))
}

/// Edits `file` in place, or into `output` with `file`'s mode.
fn apply(file: &Path, output: Option<&Path>, edits: &[Edit]) -> Result<()> {
    Ok(abicut::elf::edit::edit_to(
        file,
        output.unwrap_or(file),
        edits,
    )?)
}

fn print_queries(args: &Args, path: &Path, elf: &ElfFile) -> Result<()> {
    if args.print_interpreter {
        match elf.interpreter()? {
            Some(i) => outln!("{i}")?,
            None => bail!(
                "{}: no interpreter (PT_INTERP) in this file",
                path.display()
            ),
        }
    }
    if args.print_rpath {
        outln!("{}", elf.rpath()?.unwrap_or_default())?;
    }
    if args.print_soname {
        outln!("{}", elf.soname()?.unwrap_or_default())?;
    }
    if args.print_needed {
        for n in elf.needed()? {
            outln!("{n}")?;
        }
    }
    Ok(())
}

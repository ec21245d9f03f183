//! `abicut elf`: patchelf-like edits and queries of ELF dynamic entries.

use super::out::outln;
use abicut::elf::edit::{Edit, ElfFile};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
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
    /// Print the queried values as JSON (one object per file).
    #[arg(long)]
    json: bool,
    /// Write the result here instead of editing the file in place (one input file only).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

impl Args {
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
    if args.output.is_some() && args.files.len() != 1 {
        bail!("--output takes exactly one input file");
    }
    for file in &args.files {
        if !edits.is_empty() {
            match &args.output {
                Some(out) => {
                    let bytes = ElfFile::read(file)?.edit(&edits)?;
                    abicut::fsx::write_atomic(out, &bytes)?;
                    copy_mode(file, out)?;
                }
                None => abicut::elf::edit::edit_file(file, &edits)?,
            }
        }
        let shown = args.output.as_ref().unwrap_or(file);
        let elf = ElfFile::read(shown)?;
        if args.json {
            outln!("{}", serde_json::to_string(&facts(&args, shown, &elf)?)?)?;
        } else {
            print_queries(&args, &elf)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn copy_mode(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    let perms = std::fs::metadata(from)
        .with_context(|| from.display().to_string())?
        .permissions();
    std::fs::set_permissions(to, perms).with_context(|| to.display().to_string())
}

fn print_queries(args: &Args, elf: &ElfFile) -> Result<()> {
    if args.print_interpreter {
        match elf.interpreter()? {
            Some(i) => outln!("{i}")?,
            None => bail!("no interpreter (PT_INTERP) in this file"),
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

/// The queried values of one file, for `--json` (all of them when none was asked for).
fn facts(args: &Args, path: &std::path::Path, elf: &ElfFile) -> Result<serde_json::Value> {
    let all =
        !(args.print_interpreter || args.print_rpath || args.print_soname || args.print_needed);
    let mut obj = serde_json::Map::new();
    obj.insert("file".into(), path.display().to_string().into());
    if all || args.print_interpreter {
        obj.insert("interpreter".into(), elf.interpreter()?.into());
    }
    if all || args.print_rpath {
        obj.insert("rpath".into(), elf.rpath()?.into());
    }
    if all || args.print_soname {
        obj.insert("soname".into(), elf.soname()?.into());
    }
    if all || args.print_needed {
        obj.insert("needed".into(), elf.needed()?.into());
    }
    Ok(serde_json::Value::Object(obj))
}

//! `verify`: would every ELF object in a tree load and bind with `LD_BIND_NOW=1`, on any
//! architecture, without running it? It asks what the loader would find and nothing else
//! ([`crate::elf::loader`]): the program's interpreter must exist; every `DT_NEEDED` of
//! every object it loads must be found where `ld.so` searches (no search of the tree, no
//! fallback); every version an object needs must be defined by the library it names; and
//! every non-weak import of every loaded object (libraries outside the tree included) must
//! be defined, with its version, by the program's exports or an object of the global scope,
//! and so must each object's own definitions that its relocations name (ld.so looks them up
//! too); a definition counts only where a lookup through its object's hash table finds it.
//! A shared library in the tree is judged as loaded by a program of its machine that
//! names glibc's standard interpreter. Such a program is unknown, and a library may import
//! what only its program defines (flex's `libfl` imports `yylex`, a Perl or Python
//! extension its interpreter's API): an *unversioned* import that nothing in the library's
//! closure defines is reported as owed by the program, a note that does not fail. A
//! versioned import names the library that must define it, so it stays a problem, and every
//! program in the tree that loads the library is checked with its own exports.

use super::mapping::Forbidden;
use crate::elf::deps::{self, DynSym};
use crate::elf::loader::{Closure, Files, Fs, Object, Search, Target};
use crate::error::{Error, Result};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Searched after RPATH and before RUNPATH, like `LD_LIBRARY_PATH`.
    pub lib_paths: Vec<PathBuf>,
    /// Store paths that must not be referenced anywhere in the tree (symlink targets too).
    pub forbid: Vec<String>,
    /// Where the loader will see the tree, when that is not where it is now (a relink
    /// verifies its output before renaming it to DEST).
    pub installed_at: Option<PathBuf>,
    /// A foreign architecture's root, as qemu-user's `-L`.
    pub sysroot: Option<PathBuf>,
    /// A single file given as the tree must be a sound ELF object: `abicut verify notes.txt`
    /// or of a truncated library is a mistake to report as an error, while a relinked
    /// output that is one script has simply nothing to load. With `forbid`, a file that is
    /// not ELF is still searched for references (a Nix output may be one script). In a
    /// directory, files that are not ELF are skipped and a damaged ELF file is a problem.
    pub require_elf: bool,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    InvalidElf,
    MissingInterpreter,
    MissingLibrary,
    MissingVersion,
    MissingSymbol,
    WrongVersion,
    ForbiddenReference,
    /// A library's unversioned import that only the program loading it can define.
    OwedByProgram,
}

impl Kind {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::InvalidElf => "invalid-elf",
            Kind::MissingInterpreter => "missing-interpreter",
            Kind::MissingLibrary => "missing-library",
            Kind::MissingVersion => "missing-version",
            Kind::MissingSymbol => "missing-symbol",
            Kind::WrongVersion => "wrong-version",
            Kind::ForbiddenReference => "forbidden-reference",
            Kind::OwedByProgram => "owed-by-program",
        }
    }
}

/// One problem, naming the file and (where it applies) the library, symbol and version.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub file: PathBuf,
    pub kind: Kind,
    /// The library concerned: the one not found, the one lacking a version, or the loaded
    /// object (other than `file`) whose import is not defined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub library: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub detail: String,
}

/// The `schema` field of verify JSON.
pub const SCHEMA: &str = "abicut-verify";
/// The verify JSON version this build writes.
pub const VERSION: u32 = 1;

/// What `verify` found; `verify --json` prints it as it is.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub version: u32,
    pub files: usize,
    pub elf_objects: usize,
    pub problems: Vec<Problem>,
    /// Notes, not failures: imports of libraries checked on their own that the program
    /// loading them must define (see the module doc).
    pub owed: Vec<Problem>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The report for people: one line per problem, then per owed import (a note), then
    /// the totals for `tree`, the path as the user gave it.
    pub fn to_text(&self, tree: &Path) -> String {
        let mut out = String::new();
        for p in &self.problems {
            out.push_str(&format!("{}: {}\n", p.file.display(), p.detail));
        }
        for p in &self.owed {
            out.push_str(&format!("note: {}: {}\n", p.file.display(), p.detail));
        }
        out.push_str(&format!(
            "{}: {} files, {} ELF objects, {} problems, {} imports owed by programs\n",
            tree.display(),
            self.files,
            self.elf_objects,
            self.problems.len(),
            self.owed.len()
        ));
        out
    }
}

pub fn verify(given: &Path, opts: &Options) -> Result<Report> {
    // One spelling of every path, so that the loader's lookups meet the files parsed here.
    let tree = &fs::canonicalize(given).map_err(|e| Error::io(given, e))?;
    let mut forbid = Forbidden::new(&opts.forbid)?.within(tree);
    if let Some(at) = &opts.installed_at {
        forbid = forbid.within(at);
    }
    let listing = list(tree)?;
    if opts.require_elf && listing.files.first().is_some_and(|f| f == tree) {
        require_elf(given, !forbid.is_empty())?;
    }
    let scanned: Vec<Scanned> = listing
        .files
        .par_iter()
        .map(|f| scan(f, &forbid))
        .collect::<Result<_>>()?;
    let mut problems = symlink_problems(&listing.symlinks, &forbid);
    let mut moved = Vec::new();
    if let Some(at) = &opts.installed_at {
        moved.push((at.clone(), tree.to_path_buf()));
    }
    let ctx = Ctx {
        opts,
        tree,
        files: Files::new(Fs {
            moved,
            sysroot: opts.sysroot.clone(),
        }),
        exports: Mutex::default(),
    };
    let mut roots = Vec::new();
    let mut elf_objects = 0;
    for (file, s) in listing.files.iter().zip(scanned) {
        problems.extend(s.problems);
        if let Some(d) = s.deps {
            elf_objects += 1;
            let dynamic = d.dynamic;
            ctx.files.insert(file, d)?;
            if dynamic {
                roots.push(file);
            }
        }
    }
    let found: Vec<Vec<Problem>> = roots.par_iter().map(|f| ctx.check(f)).collect();
    let (owed, found): (Vec<Problem>, Vec<Problem>) = found
        .into_iter()
        .flatten()
        .partition(|p| p.kind == Kind::OwedByProgram);
    problems.extend(found);
    Ok(Report {
        schema: SCHEMA,
        version: VERSION,
        files: listing.files.len(),
        elf_objects,
        problems: as_given(problems, tree, given),
        owed: as_given(owed, tree, given),
    })
}

/// Problems named by the path the user gave, sorted, each once.
fn as_given(mut problems: Vec<Problem>, tree: &Path, given: &Path) -> Vec<Problem> {
    for p in &mut problems {
        if let Ok(rest) = p.file.strip_prefix(tree) {
            p.file = if rest.as_os_str().is_empty() {
                given.to_path_buf()
            } else {
                given.join(rest)
            };
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

/// Refuses a file that is not a sound ELF object, naming it and the cause; one that is not
/// ELF at all passes when it is to be searched for forbidden references.
fn require_elf(file: &Path, searched: bool) -> Result<()> {
    let bytes = fs::read(file).map_err(|e| Error::io(file, e))?;
    match (crate::elf::is_elf(&bytes), bytes.is_empty()) {
        (true, _) => deps::read(file, &bytes).map(drop),
        (false, _) if searched => Ok(()),
        (false, true) => Err(Error::invalid(file, "empty file, not an ELF object")),
        (false, false) => Err(Error::invalid(
            file,
            "not an ELF object (no \\x7fELF magic)",
        )),
    }
}

struct Listing {
    files: Vec<PathBuf>,
    /// Each symlink and its target.
    symlinks: Vec<(PathBuf, PathBuf)>,
}

/// Every regular file, and every symlink with its target, under `root` (a file, or a
/// directory walked without following symlinks), in path order.
fn list(root: &Path) -> Result<Listing> {
    let meta = fs::metadata(root).map_err(|e| Error::io(root, e))?;
    let mut out = Listing {
        files: Vec::new(),
        symlinks: Vec::new(),
    };
    if !meta.is_dir() {
        if !meta.is_file() {
            return Err(crate::fsx::not_regular(root, &meta));
        }
        out.files.push(root.to_path_buf());
        return Ok(out);
    }
    for walked in crate::fsx::walk(root)? {
        if let Some(target) = walked.target {
            out.symlinks.push((walked.path, target));
        } else if walked.meta.is_file() {
            out.files.push(walked.path);
        }
    }
    Ok(out)
}

/// A symlink's target is a reference too: one into a forbidden path is reported.
fn symlink_problems(links: &[(PathBuf, PathBuf)], forbid: &Forbidden) -> Vec<Problem> {
    let mut out = Vec::new();
    if forbid.is_empty() {
        return out;
    }
    for (link, target) in links {
        if let Some(bad) = forbid.find(target.as_os_str().as_bytes()) {
            out.push(Problem::new(
                link,
                Kind::ForbiddenReference,
                format!(
                    "symlink to {} references forbidden path {bad}",
                    target.display()
                ),
            ));
        }
    }
    out
}

struct Scanned {
    deps: Option<deps::Deps>,
    problems: Vec<Problem>,
}

fn scan(file: &Path, forbid: &Forbidden) -> Result<Scanned> {
    let mut out = Scanned {
        deps: None,
        problems: Vec::new(),
    };
    let mut f = fs::File::open(file).map_err(|e| Error::io(file, e))?;
    let mut bytes = Vec::new();
    if forbid.is_empty() {
        let mut magic = [0u8; 4];
        let n = f.read(&mut magic).map_err(|e| Error::io(file, e))?;
        if !crate::elf::is_elf(&magic[..n]) {
            return Ok(out);
        }
        bytes.extend_from_slice(&magic[..n]);
    }
    f.read_to_end(&mut bytes).map_err(|e| Error::io(file, e))?;
    if let Some(bad) = forbid.find(&bytes) {
        out.problems.push(Problem::new(
            file,
            Kind::ForbiddenReference,
            format!("references forbidden path {bad}"),
        ));
    }
    if crate::elf::is_elf(&bytes) {
        match deps::read(file, &bytes) {
            Ok(d) => out.deps = Some(d),
            Err(e) => out
                .problems
                .push(Problem::new(file, Kind::InvalidElf, reason(e))),
        }
    }
    Ok(out)
}

/// What is wrong with a file, without its path: a problem names the file already.
fn reason(err: Error) -> String {
    match err {
        Error::Invalid { reason, .. } => reason,
        other => other.to_string(),
    }
}

impl Problem {
    /// A problem with only its file, kind and detail; the chained setters add the rest.
    fn new(file: &Path, kind: Kind, detail: String) -> Problem {
        Problem {
            file: file.to_path_buf(),
            kind,
            library: None,
            symbol: None,
            version: None,
            detail,
        }
    }

    fn library(self, library: &str) -> Problem {
        Problem {
            library: Some(library.to_owned()),
            ..self
        }
    }

    fn symbol(self, symbol: &str) -> Problem {
        Problem {
            symbol: Some(symbol.to_owned()),
            ..self
        }
    }

    fn version(self, version: &str) -> Problem {
        Problem {
            version: Some(version.to_owned()),
            ..self
        }
    }
}

/// An object's dynamic definitions by name, built once per file.
struct Exports {
    by_name: HashMap<String, Vec<DynSym>>,
    /// No `.gnu.version` at all: any definition satisfies any version.
    unversioned: bool,
    /// No version definitions: a global definition satisfies a versioned import.
    no_verdef: bool,
}

impl Exports {
    fn new(o: &Object) -> Exports {
        let mut by_name: HashMap<String, Vec<DynSym>> = HashMap::new();
        for s in &o.deps.defined {
            by_name.entry(s.name.clone()).or_default().push(s.clone());
        }
        Exports {
            by_name,
            unversioned: !o.deps.versioned,
            no_verdef: o.deps.version_defs.is_empty(),
        }
    }

    /// glibc's `check_match` on the version: whether this object satisfies `import`.
    fn satisfies(&self, import: &DynSym) -> bool {
        let Some(defs) = self.by_name.get(&import.name) else {
            return false;
        };
        match &import.version {
            _ if self.unversioned => true,
            Some(v) => defs
                .iter()
                .any(|d| d.version.as_ref() == Some(v) || (d.version.is_none() && self.no_verdef)),
            None => unversioned_match(defs),
        }
    }
}

/// glibc's `check_match` for a reference without a version: a definition of index 2 or
/// below (local, base, or the first version a library defines) matches whether hidden or
/// not; one of a later version only when it is the object's one definition of the name
/// that is not hidden (`@@`), as `do_lookup_x` takes it when nothing else matched.
fn unversioned_match(defs: &[DynSym]) -> bool {
    defs.iter().any(|d| d.index <= 2) || defs.iter().filter(|d| !d.hidden).count() == 1
}

struct Ctx<'a> {
    opts: &'a Options,
    tree: &'a Path,
    files: Files,
    exports: Mutex<HashMap<(u64, u64), Arc<Exports>>>,
}

impl Ctx<'_> {
    /// Where the loader will see a file of the tree.
    fn logical(&self, file: &Path) -> PathBuf {
        match (&self.opts.installed_at, file.strip_prefix(self.tree)) {
            (Some(at), Ok(rest)) if rest.as_os_str().is_empty() => at.clone(),
            (Some(at), Ok(rest)) => at.join(rest),
            _ => file.to_path_buf(),
        }
    }

    fn exports(&self, o: &Object) -> Arc<Exports> {
        if let Some(hit) = self.exports.lock().ok().and_then(|m| m.get(&o.id).cloned()) {
            return hit;
        }
        let e = Arc::new(Exports::new(o));
        if let Ok(mut m) = self.exports.lock() {
            m.insert(o.id, e.clone());
        }
        e
    }

    fn check(&self, file: &Path) -> Vec<Problem> {
        let mut problems = Vec::new();
        let Ok(Some(root)) = self.files.load(file) else {
            return problems;
        };
        let target = Target::of(&root.deps);
        let interp = match &root.deps.interpreter {
            Some(i) => match self.files.interpreter(Path::new(i)) {
                Ok(found) if Target::of(&found.object.deps) == target => Some(found),
                Ok(_) => {
                    problems.push(self.bad_interpreter(
                        file,
                        i,
                        "is of another ELF class or machine",
                    ));
                    return problems;
                }
                Err(why) => {
                    problems.push(self.bad_interpreter(file, i, &why));
                    return problems;
                }
            },
            None => target
                .standard_interpreter()
                .and_then(|i| self.files.interpreter(Path::new(i)).ok())
                .filter(|i| Target::of(&i.object.deps) == target),
        };
        let search = match &interp {
            Some(i) => Search::for_interpreter(i, self.opts.lib_paths.clone()),
            None => Search::without_interpreter(target, self.opts.lib_paths.clone()),
        };
        let closure =
            match Closure::load(&self.files, &self.logical(file), interp.as_deref(), &search) {
                Ok(c) => c,
                Err(e) => {
                    problems.push(Problem::new(file, Kind::InvalidElf, e.to_string()));
                    return problems;
                }
            };
        for m in &closure.missing {
            let by = match m.needed_by {
                0 => String::new(),
                i => format!(" (needed by {})", closure.objects[i].path.display()),
            };
            let why = match m.reason.as_str() {
                "not found" => String::new(),
                r => format!(": {r}"),
            };
            let detail = format!("needed library {}{by} not found{why}", m.name);
            problems.push(Problem::new(file, Kind::MissingLibrary, detail).library(&m.name));
        }
        if !closure.missing.is_empty() {
            return problems;
        }
        self.check_version_needs(file, &closure, &mut problems);
        // No interpreter: a library, judged without the program that will load it.
        let program_unknown = root.deps.interpreter.is_none();
        self.check_imports(file, &closure, program_unknown, &mut problems);
        problems
    }

    fn bad_interpreter(&self, file: &Path, interp: &str, why: &str) -> Problem {
        Problem::new(
            file,
            Kind::MissingInterpreter,
            format!("interpreter {interp} {why}"),
        )
        .library(interp)
    }

    /// Every version an object of the scope needs from a library must be defined by the
    /// library loaded under that name ("version `X' not found").
    fn check_version_needs(&self, file: &Path, closure: &Closure, problems: &mut Vec<Problem>) {
        for (i, obj) in closure.objects.iter().enumerate() {
            for need in &obj.object.deps.version_needs {
                let Some(lib) = closure.matching(&need.file).map(|j| &closure.objects[j]) else {
                    // ld.so finds the library a need names among those loaded, and asserts
                    // that it is there ("Inconsistency detected").
                    problems.push(
                        Problem::new(
                            file,
                            Kind::MissingVersion,
                            format!(
                                "{} needs version {} of {}, which it does not load",
                                obj.path.display(),
                                need.version,
                                need.file
                            ),
                        )
                        .library(&need.file)
                        .version(&need.version),
                    );
                    continue;
                };
                let defs = &lib.object.deps;
                let broken = defs.broken_version_defs.is_some();
                if !broken
                    && (need.weak || defs.version_defs.is_empty() || deps::need_met(need, defs))
                {
                    continue;
                }
                let by = if i == 0 {
                    String::new()
                } else {
                    format!(" (needed by {})", obj.path.display())
                };
                problems.push(
                    Problem::new(
                        file,
                        Kind::MissingVersion,
                        format!(
                            "version {} not defined by {}{by}{}",
                            need.version,
                            lib.path.display(),
                            defs.broken_version_defs
                                .as_ref()
                                .map(|why| format!(": {why}"))
                                .unwrap_or_default()
                        ),
                    )
                    .library(&need.file)
                    .version(&need.version),
                );
            }
        }
    }

    /// Every non-weak import of every loaded object binds in the global scope, which is the
    /// closure in order (the program first, so its exports count). Without a program, an
    /// unversioned import nothing defines is owed by the program (see the module doc).
    fn check_imports(
        &self,
        file: &Path,
        closure: &Closure,
        program_unknown: bool,
        problems: &mut Vec<Problem>,
    ) {
        let scope: Vec<Arc<Exports>> = closure
            .objects
            .iter()
            .map(|l| self.exports(&l.object))
            .collect();
        for (i, obj) in closure.objects.iter().enumerate() {
            let deps = &obj.object.deps;
            // A definition of its own that the object's lookup cannot find is not the
            // program's to supply: the object meant its own.
            let imports = deps.undefined.iter().map(|s| (s, true));
            let own = deps.looked_up.iter().map(|s| (s, false));
            for (import, owed) in imports.chain(own).filter(|(s, _)| !s.weak) {
                // Its own exports first: where most of its own definitions are found.
                if scope[i].satisfies(import) || scope.iter().any(|e| e.satisfies(import)) {
                    continue;
                }
                let mut p = unbound(file, closure, i, import, &scope);
                if owed
                    && program_unknown
                    && import.version.is_none()
                    && p.kind == Kind::MissingSymbol
                {
                    p.kind = Kind::OwedByProgram;
                    p.detail = owed_detail(closure, i, &import.name);
                }
                problems.push(p);
            }
        }
    }
}

fn owed_detail(closure: &Closure, i: usize, name: &str) -> String {
    let by = match i {
        0 => String::new(),
        _ => format!(" (by {})", closure.objects[i].path.display()),
    };
    format!("imports {name}{by}, which nothing it loads defines: the program that loads it must")
}

/// The problem for an import of object `i` of the closure that nothing defines.
fn unbound(
    file: &Path,
    closure: &Closure,
    i: usize,
    import: &DynSym,
    scope: &[Arc<Exports>],
) -> Problem {
    let shown = match &import.version {
        Some(v) => format!("{}@{v}", import.name),
        None => import.name.clone(),
    };
    let others: Vec<String> = closure
        .objects
        .iter()
        .zip(scope)
        .flat_map(|(l, e)| {
            e.by_name
                .get(&import.name)
                .into_iter()
                .flatten()
                .map(move |d| {
                    format!(
                        "{}@{} in {}",
                        d.name,
                        d.version.as_deref().unwrap_or("(none)"),
                        l.path.display()
                    )
                })
        })
        .collect();
    let importer = (i > 0).then(|| closure.objects[i].path.display().to_string());
    let whose = match &importer {
        Some(p) => format!(" imported by {p}"),
        None => String::new(),
    };
    let (kind, detail) = if others.is_empty() {
        let by = if i > 0 {
            "the program's exports or any loaded library"
        } else {
            "any loaded library"
        };
        (
            Kind::MissingSymbol,
            format!("undefined symbol {shown}{whose} is not defined by {by}"),
        )
    } else {
        (
            Kind::WrongVersion,
            format!(
                "undefined symbol {shown}{whose} is only defined as {}",
                others.join(", ")
            ),
        )
    };
    Problem {
        library: importer,
        version: import.version.clone(),
        ..Problem::new(file, kind, detail).symbol(&import.name)
    }
}

#[cfg(test)]
mod tests {
    use super::Kind;

    /// The text a problem's kind goes by is its JSON name.
    #[test]
    fn as_str_is_the_json_name() {
        for k in [
            Kind::InvalidElf,
            Kind::MissingInterpreter,
            Kind::MissingLibrary,
            Kind::MissingVersion,
            Kind::MissingSymbol,
            Kind::WrongVersion,
            Kind::ForbiddenReference,
            Kind::OwedByProgram,
        ] {
            assert_eq!(serde_json::to_value(k).ok(), Some(k.as_str().into()));
        }
    }
}

//! `verify`: would every ELF object in a tree load and bind, on any architecture, without
//! running it? Every DT_NEEDED must resolve (RPATH, `--lib-path`, RUNPATH, then the tree,
//! `$ORIGIN` expanded), every version need must be defined by its library, every non-weak
//! import must be defined with a matching version somewhere in the breadth-first closure
//! (the loader's search order), and the interpreter must exist.

use super::mapping::Forbidden;
use crate::elf::deps::{self, Deps, Symbol};
use crate::error::{Error, Result};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Searched after RPATH and before RUNPATH, like `LD_LIBRARY_PATH`.
    pub lib_paths: Vec<PathBuf>,
    /// Store paths that must not be referenced anywhere in the tree.
    pub forbid: Vec<String>,
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
}

/// One problem, naming the file and (where it applies) the library, symbol and version.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub file: PathBuf,
    pub kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub library: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub files: usize,
    pub elf_objects: usize,
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A library as the loader sees it: its facts and its exports by name.
struct Lib {
    path: PathBuf,
    deps: Deps,
    exports: HashMap<String, Vec<Symbol>>,
}

impl Lib {
    fn new(path: PathBuf, deps: Deps) -> Lib {
        let mut exports: HashMap<String, Vec<Symbol>> = HashMap::new();
        for s in &deps.defined {
            exports.entry(s.name.clone()).or_default().push(s.clone());
        }
        Lib {
            path,
            deps,
            exports,
        }
    }

    /// Whether this library satisfies `import` (with its version, if any).
    fn satisfies(&self, import: &Symbol) -> bool {
        let Some(defs) = self.exports.get(&import.name) else {
            return false;
        };
        match &import.version {
            _ if !self.deps.versioned => true,
            Some(v) => defs.iter().any(|d| d.version.as_ref() == Some(v)),
            None => defs.iter().any(|d| !d.hidden),
        }
    }
}

pub fn verify(tree: &Path, opts: &Options) -> Result<Report> {
    let forbid = Forbidden::new(&opts.forbid)?;
    let files = list_files(tree)?;
    let scanned: Vec<Scanned> = files
        .par_iter()
        .map(|f| scan(f, &forbid))
        .collect::<Result<_>>()?;
    let mut problems: Vec<Problem> = Vec::new();
    let mut by_name: HashMap<String, Vec<PathBuf>> = HashMap::new();
    let mut objects = Vec::new();
    let cache = Cache::default();
    for (file, s) in files.iter().zip(scanned) {
        problems.extend(s.problems);
        if let Some(name) = file.file_name().and_then(|n| n.to_str()) {
            by_name
                .entry(name.to_owned())
                .or_default()
                .push(file.clone());
        }
        if let Some(d) = s.deps {
            let lib = Arc::new(Lib::new(file.clone(), d));
            cache.insert(file, lib.clone());
            objects.push(lib);
        }
    }
    add_symlink_names(tree, &mut by_name)?;
    let ctx = Ctx {
        opts,
        by_name,
        cache,
    };
    let found: Vec<Vec<Problem>> = objects
        .par_iter()
        .filter(|o| o.deps.dynamic)
        .map(|o| ctx.check(o))
        .collect();
    problems.extend(found.into_iter().flatten());
    problems.sort();
    problems.dedup();
    Ok(Report {
        files: files.len(),
        elf_objects: objects.len(),
        problems,
    })
}

/// Every regular file under `root` (not following symlinks).
fn list_files(root: &Path) -> Result<Vec<PathBuf>> {
    let meta = fs::metadata(root).map_err(|e| Error::io(root, e))?;
    if meta.is_file() {
        return Ok(vec![root.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let ft = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
            if ft.is_dir() {
                stack.push(entry.path());
            } else if ft.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Library names that are symlinks inside the tree (`libfoo.so.1 -> libfoo.so.1.2.3`).
fn add_symlink_names(root: &Path, by_name: &mut HashMap<String, Vec<PathBuf>>) -> Result<()> {
    if !root.is_dir() {
        return Ok(());
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let ft = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
            if ft.is_dir() {
                stack.push(entry.path());
            } else if ft.is_symlink()
                && entry.path().is_file()
                && let Some(name) = entry.file_name().to_str()
            {
                by_name
                    .entry(name.to_owned())
                    .or_default()
                    .push(entry.path());
            }
        }
    }
    Ok(())
}

struct Scanned {
    deps: Option<Deps>,
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
        if !deps::is_elf(&magic[..n]) {
            return Ok(out);
        }
        bytes.extend_from_slice(&magic[..n]);
    }
    f.read_to_end(&mut bytes).map_err(|e| Error::io(file, e))?;
    if let Some(bad) = forbid.find(&bytes) {
        out.problems.push(problem(
            file,
            Kind::ForbiddenReference,
            None,
            None,
            None,
            format!("references forbidden path {bad}"),
        ));
    }
    if deps::is_elf(&bytes) {
        match deps::read(file, &bytes) {
            Ok(d) => out.deps = Some(d),
            Err(e) => out.problems.push(problem(
                file,
                Kind::InvalidElf,
                None,
                None,
                None,
                e.to_string(),
            )),
        }
    }
    Ok(out)
}

fn problem(
    file: &Path,
    kind: Kind,
    library: Option<&str>,
    symbol: Option<&str>,
    version: Option<&str>,
    detail: String,
) -> Problem {
    Problem {
        file: file.to_path_buf(),
        kind,
        library: library.map(str::to_owned),
        symbol: symbol.map(str::to_owned),
        version: version.map(str::to_owned),
        detail,
    }
}

/// Parsed libraries by path (None: not a loadable ELF file).
#[derive(Default)]
struct Cache(Mutex<HashMap<PathBuf, Option<Arc<Lib>>>>);

impl Cache {
    fn insert(&self, path: &Path, lib: Arc<Lib>) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(path.to_path_buf(), Some(lib));
        }
    }

    fn load(&self, path: &Path) -> Option<Arc<Lib>> {
        if let Some(hit) = self.0.lock().ok()?.get(path) {
            return hit.clone();
        }
        let lib = fs::read(path)
            .ok()
            .filter(|b| deps::is_elf(b))
            .and_then(|b| deps::read(path, &b).ok())
            .map(|d| Arc::new(Lib::new(path.to_path_buf(), d)));
        self.0.lock().ok()?.insert(path.to_path_buf(), lib.clone());
        lib
    }
}

struct Ctx<'a> {
    opts: &'a Options,
    by_name: HashMap<String, Vec<PathBuf>>,
    cache: Cache,
}

impl Ctx<'_> {
    fn check(&self, obj: &Arc<Lib>) -> Vec<Problem> {
        let mut problems = Vec::new();
        let file = &obj.path;
        let interp = obj.deps.interpreter.as_deref().and_then(|i| {
            let found = self.find_interpreter(i);
            if found.is_none() {
                problems.push(problem(
                    file,
                    Kind::MissingInterpreter,
                    Some(i),
                    None,
                    None,
                    format!("interpreter {i} not found"),
                ));
            }
            found
        });
        let (scope, missing) = self.closure(obj);
        for (needed, by) in &missing {
            let detail = if by == file {
                format!("needed library {needed} not found")
            } else {
                format!(
                    "needed library {needed} (needed by {}) not found",
                    by.display()
                )
            };
            problems.push(problem(
                file,
                Kind::MissingLibrary,
                Some(needed),
                None,
                None,
                detail,
            ));
        }
        if !missing.is_empty() {
            return problems;
        }
        self.check_version_needs(obj, &scope, &mut problems);
        let mut full = scope;
        full.extend(interp);
        for import in obj.deps.undefined.iter().filter(|s| !s.weak) {
            if let Some(p) = check_import(obj, import, &full) {
                problems.push(p);
            }
        }
        problems
    }

    fn find_interpreter(&self, interp: &str) -> Option<Arc<Lib>> {
        let direct = Path::new(interp);
        if direct.is_file() {
            return self
                .cache
                .load(direct)
                .or_else(|| Some(Arc::new(Lib::new(direct.to_path_buf(), Deps::default()))));
        }
        let name = direct.file_name()?.to_str()?;
        self.opts
            .lib_paths
            .iter()
            .map(|d| d.join(name))
            .chain(self.by_name.get(name).into_iter().flatten().cloned())
            .find(|p| p.is_file())
            .map(|p| {
                self.cache
                    .load(&p)
                    .unwrap_or_else(|| Arc::new(Lib::new(p, Deps::default())))
            })
    }

    /// The object followed by its libraries in breadth-first order, and the names that did
    /// not resolve (with the object that needed them).
    fn closure(&self, obj: &Arc<Lib>) -> (Vec<Arc<Lib>>, Vec<(String, PathBuf)>) {
        let mut scope = vec![obj.clone()];
        let mut seen: HashSet<PathBuf> = HashSet::from([obj.path.clone()]);
        let mut names: HashSet<String> = HashSet::new();
        let mut missing = Vec::new();
        let mut queue = VecDeque::from([obj.clone()]);
        while let Some(cur) = queue.pop_front() {
            for needed in &cur.deps.needed {
                if !names.insert(needed.clone()) {
                    continue;
                }
                match self.resolve(needed, &cur, obj) {
                    Some(lib) if seen.insert(lib.path.clone()) => {
                        scope.push(lib.clone());
                        queue.push_back(lib);
                    }
                    Some(_) => {}
                    None => missing.push((needed.clone(), cur.path.clone())),
                }
            }
        }
        (scope, missing)
    }

    /// Finds `name` as the loader would for `from` (loaded on behalf of `main`).
    fn resolve(&self, name: &str, from: &Lib, main: &Lib) -> Option<Arc<Lib>> {
        let compatible = |lib: &Arc<Lib>| {
            lib.deps.is_64 == main.deps.is_64 && lib.deps.machine == main.deps.machine
        };
        if name.contains('/') {
            return self.cache.load(Path::new(name)).filter(compatible);
        }
        self.rpath_dirs(from, main)
            .into_iter()
            .chain(self.opts.lib_paths.iter().cloned())
            .chain(from.deps.runpath.iter().map(|d| expand_origin(d, from)))
            .map(|d| d.join(name))
            .chain(self.by_name.get(name).into_iter().flatten().cloned())
            .filter(|p| p.is_file())
            .find_map(|p| self.cache.load(&p).filter(compatible))
    }

    /// DT_RPATH counts only without DT_RUNPATH; glibc then also searches the main
    /// object's RPATH for libraries loaded on its behalf.
    fn rpath_dirs(&self, from: &Lib, main: &Lib) -> Vec<PathBuf> {
        if !from.deps.runpath.is_empty() {
            return Vec::new();
        }
        let mut dirs: Vec<PathBuf> = from
            .deps
            .rpath
            .iter()
            .map(|d| expand_origin(d, from))
            .collect();
        if from.path != main.path && main.deps.runpath.is_empty() {
            dirs.extend(main.deps.rpath.iter().map(|d| expand_origin(d, main)));
        }
        dirs
    }

    /// Every version an object needs from a library must be defined by the library it loads
    /// under that name ("version `X' not found").
    fn check_version_needs(&self, obj: &Lib, scope: &[Arc<Lib>], problems: &mut Vec<Problem>) {
        for need in obj.deps.version_needs.iter().filter(|n| !n.weak) {
            let lib = scope.iter().skip(1).find(|l| {
                l.deps.soname.as_deref() == Some(need.file.as_str())
                    || l.path.file_name().and_then(|n| n.to_str()) == Some(need.file.as_str())
            });
            if let Some(lib) = lib
                && lib.deps.versioned
                && !lib.deps.version_defs.contains(&need.version)
            {
                problems.push(problem(
                    &obj.path,
                    Kind::MissingVersion,
                    Some(&need.file),
                    None,
                    Some(&need.version),
                    format!(
                        "version {} not defined by {}",
                        need.version,
                        lib.path.display()
                    ),
                ));
            }
        }
    }
}

/// `$ORIGIN` (or `${ORIGIN}`) is the directory of the object whose entry it is.
fn expand_origin(dir: &str, of: &Lib) -> PathBuf {
    let origin = of.path.parent().unwrap_or(Path::new("/")).to_string_lossy();
    PathBuf::from(
        dir.replace("${ORIGIN}", "$ORIGIN")
            .replace("$ORIGIN", &origin),
    )
}

fn check_import(obj: &Lib, import: &Symbol, scope: &[Arc<Lib>]) -> Option<Problem> {
    if scope.iter().any(|l| l.satisfies(import)) {
        return None;
    }
    let shown = match &import.version {
        Some(v) => format!("{}@{v}", import.name),
        None => import.name.clone(),
    };
    let others: Vec<String> = scope
        .iter()
        .flat_map(|l| {
            l.exports
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
    let (kind, detail) = if others.is_empty() {
        (
            Kind::MissingSymbol,
            format!("undefined symbol {shown} is not defined by any loaded library"),
        )
    } else {
        (
            Kind::WrongVersion,
            format!(
                "undefined symbol {shown} is only defined as {}",
                others.join(", ")
            ),
        )
    };
    Some(problem(
        &obj.path,
        kind,
        None,
        Some(&import.name),
        import.version.as_deref(),
        detail,
    ))
}

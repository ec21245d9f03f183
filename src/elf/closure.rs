//! The names a library's dependencies define: its `DT_NEEDED` closure, found as the loader
//! would find it ([`super::loader`]). The default interface drops the imports these names
//! cover (a program linked against the library cannot owe them) and keeps the rest.
//!
//! A dependency that cannot be found defines nothing here, so its imports stay in the
//! interface: a missing library makes the interface larger, never unsound.

use super::loader::{Closure, Files, Interpreter, Object, Search, Target};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What the closures of many libraries share: parsed files, opened interpreters and the
/// names each dependency defines.
#[derive(Default)]
pub struct Resolver {
    files: Files,
    interpreters: Mutex<HashMap<&'static str, Option<Interpreter>>>,
    names: Mutex<HashMap<PathBuf, Arc<HashSet<String>>>>,
}

/// The names defined by the libraries of one closure, each library's set shared.
#[derive(Default)]
pub struct Defined(Vec<Arc<HashSet<String>>>);

impl Defined {
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|set| set.contains(name))
    }
}

impl Resolver {
    fn interpreter(&self, path: &'static str) -> Option<Interpreter> {
        if let Some(hit) = self
            .interpreters
            .lock()
            .ok()
            .and_then(|m| m.get(path).cloned())
        {
            return hit;
        }
        let opened = Interpreter::open(Path::new(path), &self.files).ok();
        if let Ok(mut m) = self.interpreters.lock() {
            m.insert(path, opened.clone());
        }
        opened
    }

    /// Every dynamic symbol name defined by a library of the `DT_NEEDED` closure of `lib`,
    /// not `lib` itself. The closure is loaded as the standard interpreter of the library's
    /// machine would load it for a program that needs `lib` (its default directories, the
    /// library's RUNPATH or RPATH with `$ORIGIN` expanded), with `lib_path` as
    /// `LD_LIBRARY_PATH`. Empty when `lib` is not an ELF file (canonical JSON, llvm-ifs
    /// text): those interfaces are taken as they are.
    pub fn defined_names(&self, lib: &Path, lib_path: &[PathBuf]) -> Defined {
        let Ok(Some(root)) = self.files.load(lib) else {
            return Defined::default();
        };
        let interpreter = Target::of(&root.deps)
            .standard_interpreter()
            .and_then(|path| self.interpreter(path));
        let search = match &interpreter {
            Some(interp) => Search::for_interpreter(interp, lib_path.to_vec()),
            None => Search {
                lib_paths: lib_path.to_vec(),
                dst_lib: "lib".to_owned(),
                ..Search::default()
            },
        };
        let Ok(closure) = Closure::load(&self.files, lib, interpreter.as_ref(), &search) else {
            return Defined::default();
        };
        Defined(
            closure
                .objects
                .iter()
                .skip(1)
                .map(|loaded| self.names_of(&loaded.object))
                .collect(),
        )
    }

    fn names_of(&self, object: &Object) -> Arc<HashSet<String>> {
        if let Some(hit) = self
            .names
            .lock()
            .ok()
            .and_then(|m| m.get(&object.file).cloned())
        {
            return hit;
        }
        let names: Arc<HashSet<String>> =
            Arc::new(object.deps.defined.iter().map(|s| s.name.clone()).collect());
        if let Ok(mut m) = self.names.lock() {
            m.insert(object.file.clone(), names.clone());
        }
        names
    }
}

//! The names a library's dependencies define: its `DT_NEEDED` closure, found as the loader
//! would find it ([`super::loader`]). The default interface drops the imports these names
//! cover (a program linked against the library cannot owe them) and keeps the rest.
//!
//! A dependency that cannot be found defines nothing here, so its imports stay in the
//! interface: a missing library makes the interface larger, never unsound.

use super::loader::{Files, Fs, Object, closure_of};
use foldhash::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What the closures of many libraries share: parsed files and the names each dependency
/// defines.
pub struct Resolver {
    files: Files,
    names: Mutex<HashMap<PathBuf, Arc<HashSet<String>>>>,
}

impl Default for Resolver {
    /// Files parsed without their imports ([`Files::links_only`]): a closure reads only
    /// what finds its objects and the names they define.
    fn default() -> Resolver {
        Resolver {
            files: Files::links_only(Fs::default()),
            names: Mutex::default(),
        }
    }
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
    /// Every dynamic symbol name defined by a library of the `DT_NEEDED` closure of `lib`,
    /// not `lib` itself, loaded as [`closure_of`] loads it, with `lib_path` as
    /// `LD_LIBRARY_PATH`. Empty when `lib` is not an ELF file (canonical JSON, llvm-ifs
    /// text): those interfaces are taken as they are.
    pub fn defined_names(&self, lib: &Path, lib_path: &[PathBuf]) -> Defined {
        let Ok(closure) = closure_of(&self.files, lib, lib_path.to_vec()) else {
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

//! The names a library's dependencies define: its `DT_NEEDED` closure, found as the loader
//! would find it ([`super::loader`]). The default interface drops the imports these names
//! cover (a program linked against the library cannot owe them) and keeps the rest.
//!
//! A dependency that cannot be found defines nothing here, so its imports stay in the
//! interface: a missing library makes the interface larger, never unsound.

use super::loader::{Files, Fs, Object, closure_of};
use foldhash::HashMap;
use foldhash::fast::RandomState;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What the closures of many libraries share: parsed files and the names each dependency
/// defines.
pub struct Resolver {
    files: Files,
    names: Mutex<HashMap<PathBuf, Arc<Names>>>,
    /// How names are hashed, in every library's [`Names`], so that a name is hashed once
    /// for all the libraries of a closure.
    state: RandomState,
}

impl Default for Resolver {
    /// Files parsed without their imports ([`Files::links_only`]): a closure reads only
    /// what finds its objects and the names they define.
    fn default() -> Resolver {
        Resolver {
            files: Files::links_only(Fs::default()),
            names: Mutex::default(),
            state: RandomState::default(),
        }
    }
}

/// The names one library defines, found in place: indexes of its definitions, hashed by
/// name, rather than a copy of every name (a tenth of a default stub's closure).
struct Names {
    object: Arc<Object>,
    table: HashTable<usize>,
}

impl Names {
    fn contains(&self, hash: u64, name: &str) -> bool {
        let defined = &self.object.deps.defined;
        self.table
            .find(hash, |&i| defined.get(i).is_some_and(|s| s.name == name))
            .is_some()
    }
}

/// The names defined by the libraries of one closure, each library's set shared.
#[derive(Default)]
pub struct Defined {
    libraries: Vec<Arc<Names>>,
    state: RandomState,
}

impl Defined {
    pub fn contains(&self, name: &str) -> bool {
        let hash = self.state.hash_one(name);
        self.libraries.iter().any(|n| n.contains(hash, name))
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
        Defined {
            libraries: closure
                .objects
                .iter()
                .skip(1)
                .map(|loaded| self.names_of(&loaded.object))
                .collect(),
            state: self.state.clone(),
        }
    }

    /// Takes `lib`'s bytes, mapped by the caller already, for [`Resolver::defined_names`]
    /// to find its links in ([`Files::offer_root`]).
    pub fn offer(&self, lib: &Path, bytes: &[u8]) {
        self.files.offer_root(lib, bytes);
    }

    fn names_of(&self, object: &Arc<Object>) -> Arc<Names> {
        if let Some(hit) = self
            .names
            .lock()
            .ok()
            .and_then(|m| m.get(&object.file).cloned())
        {
            return hit;
        }
        let defined = &object.deps.defined;
        let hash = |i: &usize| defined.get(*i).map_or(0, |s| self.state.hash_one(&s.name));
        let mut table = HashTable::with_capacity(defined.len());
        for i in 0..defined.len() {
            table.insert_unique(hash(&i), i, hash);
        }
        let names = Arc::new(Names {
            object: object.clone(),
            table,
        });
        if let Ok(mut m) = self.names.lock() {
            m.insert(object.file.clone(), names.clone());
        }
        names
    }
}

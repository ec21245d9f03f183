//! The names a library's dependencies define: its `DT_NEEDED` closure, found as the loader
//! would find it ([`super::loader`]). The default interface drops the imports these names
//! cover (a program linked against the library cannot owe them) and keeps the rest.
//!
//! A dependency that cannot be found defines nothing here, so its imports stay in the
//! interface: a missing library makes the interface larger, never unsound.

use super::loader::{Closure, Files, Fs, Interpreter, Search, Target};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Every dynamic symbol name defined by a library of the `DT_NEEDED` closure of `lib`, not
/// `lib` itself. The closure is loaded as the standard interpreter of the library's machine
/// would load it for a program that needs `lib` (its default directories, the library's
/// RUNPATH or RPATH with `$ORIGIN` expanded), with `lib_path` as `LD_LIBRARY_PATH`. Empty
/// when `lib` is not an ELF file (canonical JSON, llvm-ifs text): those interfaces are taken
/// as they are.
pub fn defined_names(lib: &Path, lib_path: &[PathBuf]) -> HashSet<String> {
    let files = Files::new(Fs::default());
    let Ok(Some(root)) = files.load(lib) else {
        return HashSet::new();
    };
    let interpreter = Target::of(&root.deps)
        .standard_interpreter()
        .and_then(|path| Interpreter::open(Path::new(path), &files).ok());
    let search = match &interpreter {
        Some(interp) => Search::for_interpreter(interp, lib_path.to_vec()),
        None => Search {
            lib_paths: lib_path.to_vec(),
            dst_lib: "lib".to_owned(),
            ..Search::default()
        },
    };
    let Ok(closure) = Closure::load(&files, lib, interpreter.as_ref(), &search) else {
        return HashSet::new();
    };
    closure
        .objects
        .iter()
        .skip(1)
        .flat_map(|loaded| loaded.object.deps.defined.iter().map(|s| s.name.clone()))
        .collect()
}

//! The names a library's dependencies define: its `DT_NEEDED` closure, found as the loader
//! would find it. The default interface drops the imports these names cover (a program
//! linked against the library cannot owe them) and keeps the rest.
//!
//! A dependency that cannot be found defines nothing here, so its imports stay in the
//! interface: a missing library makes the interface larger, never unsound.

use super::deps::{self, Deps};
use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};

/// The loader's default directories on this (Debian, x86_64) machine: the multiarch ones
/// of `/etc/ld.so.conf.d` and glibc's built-in system directories. Files of another class
/// or machine found there are skipped, as the loader skips them.
const DEFAULT_DIRS: &[&str] = &[
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];

/// Every dynamic symbol name defined by a library of the `DT_NEEDED` closure of `lib`
/// (whose own entries are `needed`). Each object is searched for by its requester's RUNPATH
/// (or RPATH when it has no RUNPATH), `$ORIGIN` expanded, then `lib_path`, then the default
/// directories.
pub fn defined_names(lib: &Path, needed: &[String], lib_path: &[PathBuf]) -> HashSet<String> {
    let own = read(lib);
    let (is_64, machine) = own
        .as_ref()
        .map_or((None, None), |d| (Some(d.is_64), Some(d.machine)));
    let mut names = HashSet::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut queue: VecDeque<(String, Vec<PathBuf>)> = needed
        .iter()
        .map(|n| (n.clone(), own_dirs(lib, own.as_ref())))
        .collect();
    while let Some((name, dirs)) = queue.pop_front() {
        let candidates = search_order(&name, &dirs, lib_path);
        let Some((path, found)) = candidates.into_iter().find_map(|path| {
            let found = read(&path)?;
            let fits = is_64.is_none_or(|b| b == found.is_64)
                && machine.is_none_or(|m| m == found.machine);
            fits.then_some((path, found))
        }) else {
            continue;
        };
        let key = std::fs::canonicalize(&path).unwrap_or(path.clone());
        if !seen.insert(key) {
            continue;
        }
        names.extend(found.defined.iter().map(|s| s.name.clone()));
        let next = own_dirs(&path, Some(&found));
        queue.extend(found.needed.iter().map(|n| (n.clone(), next.clone())));
    }
    names
}

fn read(path: &Path) -> Option<Deps> {
    let bytes = std::fs::read(path).ok()?;
    if !deps::is_elf(&bytes) {
        return None;
    }
    deps::read(path, &bytes).ok()
}

/// The directories an object's own entries name: RUNPATH, or RPATH without one.
fn own_dirs(object: &Path, deps: Option<&Deps>) -> Vec<PathBuf> {
    let Some(deps) = deps else {
        return Vec::new();
    };
    let list = if deps.runpath.is_empty() {
        &deps.rpath
    } else {
        &deps.runpath
    };
    let origin = std::fs::canonicalize(object)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let origin = origin.to_string_lossy();
    list.iter()
        .map(|d| PathBuf::from(d.replace("${ORIGIN}", &origin).replace("$ORIGIN", &origin)))
        .collect()
}

fn search_order(name: &str, dirs: &[PathBuf], lib_path: &[PathBuf]) -> Vec<PathBuf> {
    if name.contains('/') {
        return vec![PathBuf::from(name)];
    }
    dirs.iter()
        .chain(lib_path)
        .cloned()
        .chain(DEFAULT_DIRS.iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .collect()
}

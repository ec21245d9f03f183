//! Relocation: copy a closure of store paths from one store directory to another without
//! rebuilding, rewriting every reference in one pass ([`crate::relink`]'s rewriting with a
//! different map).
//!
//! Every reference keeps its byte length, so ELF files, scripts and compiled-in strings stay
//! valid: `<old dir>/<hash>-<name>` becomes `<new dir>/<hash>-<name'>` where `name'` absorbs
//! the difference in the directories' lengths ([`new_name`]). The hash stays, so the new
//! paths stay unique and Nix's reference scanning (by hash) still finds every reference.
//! Everything is checked (paths, names long enough, destinations free) before anything is
//! written; each path is staged beside its destination and renamed into place.

pub mod closure;
pub mod register;
pub mod scan;

use crate::cache::Cache;
use crate::error::{Error, Result};
use crate::relink::{self, NoProgress, mapping::Mapping};
use crate::store::is_nix_hash;
use rayon::prelude::*;
use serde::Serialize;
use std::fs;
use std::path::{Path, PathBuf};

/// The length of a store hash.
const HASH_LEN: usize = 32;
/// What a name is padded with when the new store directory is shorter: a character Nix
/// allows in store names and that no version or output suffix ends with.
const PAD: char = '_';

/// A store path `<dir>/<hash>-<name>`, split.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StorePath {
    pub dir: String,
    pub hash: String,
    pub name: String,
}

impl StorePath {
    /// Reads a store path given by the user or found in a listing: an absolute path whose
    /// last component is `<32-character nix-base32 hash>-<name>`.
    pub fn parse(path: &Path) -> Result<StorePath> {
        let not_store = |why: &str| {
            Error::invalid(
                path,
                format!("not a store path ({why}); expected DIR/HASH-NAME"),
            )
        };
        let text = path.to_str().ok_or_else(|| not_store("not UTF-8"))?;
        let text = text.trim_end_matches('/');
        if !text.starts_with('/') {
            return Err(not_store("not absolute"));
        }
        let (dir, base) = text
            .rsplit_once('/')
            .ok_or_else(|| not_store("no directory"))?;
        if dir.is_empty() {
            return Err(not_store("no store directory"));
        }
        let (hash, name) = base
            .split_once('-')
            .ok_or_else(|| not_store("no `-` after the hash"))?;
        if !is_nix_hash(hash) {
            return Err(not_store("no 32-character nix-base32 hash"));
        }
        if name.is_empty() || !name.bytes().all(is_name_byte) || name.starts_with('.') {
            return Err(not_store("a name Nix does not allow"));
        }
        Ok(StorePath {
            dir: dir.to_owned(),
            hash: hash.to_owned(),
            name: name.to_owned(),
        })
    }

    /// `<hash>-<name>`.
    pub fn base(&self) -> String {
        format!("{}-{}", self.hash, self.name)
    }

    /// The full path as text.
    pub fn text(&self) -> String {
        format!("{}/{}", self.dir, self.base())
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from(self.text())
    }
}

/// The characters Nix allows in a store path's name.
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+-._?=".contains(&b)
}

/// The name a store path gets in a store directory `delta` bytes longer (negative: shorter)
/// than its own, so that the whole path keeps its length. Longer: the name loses its last
/// `delta` characters (at least one must stay, as Nix requires a name); shorter: it is
/// padded with `_`. Padding the name, rather than doubling a `/` in the directory, keeps
/// every path canonical: Nix, `realpath` and string comparisons see one spelling of each
/// path, and a `//` would be collapsed by Nix when the path is registered.
pub fn new_name(path: &StorePath, delta: isize) -> Result<String> {
    let keep = path.name.len() as isize - delta;
    if keep < 1 {
        return Err(Error::Usage(format!(
            "{}: the name `{}` is too short to give up {delta} characters for the longer \
             store directory (one must stay); nothing written, choose a store directory at \
             most {} characters longer than {}",
            path.text(),
            path.name,
            path.name.len() - 1,
            path.dir
        )));
    }
    let keep = keep as usize;
    Ok(if keep <= path.name.len() {
        path.name[..keep].to_owned()
    } else {
        let mut name = path.name.clone();
        name.extend(std::iter::repeat_n(PAD, keep - path.name.len()));
        name
    })
}

/// Every name of `paths` that cannot give up `delta` characters, in one error, with the
/// longest store directory the whole set allows: a user who cuts one name at a time would
/// otherwise meet the next one on the next try.
fn too_short(paths: &[StorePath], delta: isize, new_dir: &str) -> Result<()> {
    let short: Vec<&StorePath> = paths
        .iter()
        .filter(|p| (p.name.len() as isize) <= delta)
        .collect();
    let (Some(first), Some(shortest)) = (short.first(), paths.iter().map(|p| p.name.len()).min())
    else {
        return Ok(());
    };
    let names: Vec<String> = short
        .iter()
        .map(|p| format!("{} (`{}`)", p.text(), p.name))
        .collect();
    Err(Error::Usage(format!(
        "{new_dir} is {delta} characters longer than {}, and {} name{} too short to give them \
         up (one character must stay): {}; nothing written, choose a store directory at most \
         {} characters longer",
        first.dir,
        short.len(),
        if short.len() == 1 { " is" } else { "s are" },
        names.join(", "),
        shortest - 1
    )))
}

/// One store path and where it goes.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Move {
    pub from: String,
    pub to: String,
}

/// Every path of a relocation and its new place, all checked.
#[derive(Debug, Clone)]
pub struct Plan {
    pub old_dir: String,
    pub new_dir: String,
    /// Sorted by source path.
    pub paths: Vec<(StorePath, StorePath)>,
}

impl Plan {
    /// Plans the relocation of `paths` (all in one store directory) to `new_dir`. Fails,
    /// naming the path, if a name is too short for a longer directory.
    pub fn new(paths: &[StorePath], new_dir: &str) -> Result<Plan> {
        let new_dir = check_store_dir(new_dir)?;
        let first = paths
            .first()
            .ok_or_else(|| Error::Usage("no store path to relocate".into()))?;
        let old_dir = first.dir.clone();
        if let Some(other) = paths.iter().find(|p| p.dir != old_dir) {
            return Err(Error::Usage(format!(
                "{} and {} are in different store directories; relocate one store at a time",
                first.text(),
                other.text()
            )));
        }
        if new_dir == old_dir {
            return Err(Error::Usage(format!(
                "the new store directory {new_dir} is the old one"
            )));
        }
        let delta = new_dir.len() as isize - old_dir.len() as isize;
        let mut sorted = paths.to_vec();
        sorted.sort();
        sorted.dedup();
        too_short(&sorted, delta, &new_dir)?;
        let paths = sorted
            .into_iter()
            .map(|p| {
                let to = StorePath {
                    dir: new_dir.clone(),
                    hash: p.hash.clone(),
                    name: new_name(&p, delta)?,
                };
                Ok((p, to))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Plan {
            old_dir,
            new_dir,
            paths,
        })
    }

    /// The same-length mappings of every full path, for the file contents.
    pub fn mappings(&self) -> Result<Vec<Mapping>> {
        self.paths
            .iter()
            .map(|(from, to)| Mapping::new(&from.text(), &to.text()))
            .collect()
    }

    /// For symlink targets, whose length is free: every full path, and `<hash>-<name>` to
    /// `<hash>-<name'>` for relative targets (`../<hash>-<name>/lib`). One leftmost-longest
    /// pass, so a full path is rewritten as a whole, never its base name a second time.
    fn link_targets(&self) -> Vec<(String, String)> {
        self.paths
            .iter()
            .flat_map(|(from, to)| [(from.text(), to.text()), (from.base(), to.base())])
            .collect()
    }
}

/// Refuses a store directory that is not absolute and canonical (no `.`, `..`, empty
/// component or trailing `/`): the new paths are compared as strings by Nix and others.
fn check_store_dir(dir: &str) -> Result<String> {
    let bad = |why: &str| Error::Usage(format!("store directory `{dir}`: {why}"));
    let trimmed = dir.strip_suffix('/').unwrap_or(dir);
    if !trimmed.starts_with('/') || trimmed.len() < 2 {
        return Err(bad("must be an absolute path below /"));
    }
    if trimmed[1..]
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(bad("must be canonical (no `//`, `.` or `..`)"));
    }
    Ok(trimmed.to_owned())
}

/// Where the relocated paths are written: under `root` (`/` by default) as the new store
/// directory names them, so a root other than `/` holds a tree to be moved there later.
fn dest_of(root: Option<&Path>, to: &StorePath) -> PathBuf {
    match root {
        Some(root) => root.join(to.text().trim_start_matches('/')),
        None => to.path(),
    }
}

/// What one relocation did.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub schema: &'static str,
    pub version: u32,
    pub old_dir: String,
    pub new_dir: String,
    pub paths: Vec<Move>,
    pub files: u64,
    pub bytes: u64,
    pub files_rewritten: u64,
    /// What could not be rewritten safely, per file; empty when every reference moved.
    pub findings: Vec<scan::Finding>,
}

/// The `schema` field of relocate JSON.
pub const SCHEMA: &str = "abicut-relocate";

/// Relocates every path of `plan`, each staged and renamed into place, in parallel; then
/// scans the output for what could not be rewritten. Destinations that exist are refused
/// before anything is written (a store path is immutable once there).
pub fn relocate(plan: &Plan, root: Option<&Path>) -> Result<Summary> {
    relocate_from(plan, root, None)
}

/// [`relocate`], reading each `<hash>-<name>` from `source` (unpacked NARs) instead of the
/// old store directory.
fn relocate_from(plan: &Plan, root: Option<&Path>, source: Option<&Path>) -> Result<Summary> {
    let src_of = |from: &StorePath| match source {
        Some(dir) => dir.join(from.base()),
        None => from.path(),
    };
    for (from, _) in &plan.paths {
        let src = src_of(from);
        fs::symlink_metadata(&src).map_err(|e| Error::io(&src, e))?;
    }
    check_free(plan, root)?;
    let store = dest_of(root, &plan.paths[0].1);
    let store = crate::fsx::parent_dir(&store);
    fs::create_dir_all(store).map_err(|e| Error::io(store, e))?;
    let opts = relink::Options {
        mappings: plan.mappings()?,
        link_targets: plan.link_targets(),
        ..Default::default()
    };
    let done = plan
        .paths
        .par_iter()
        .map(|(from, to)| relink::relink(&src_of(from), &dest_of(root, to), &opts, &NoProgress))
        .collect::<Result<Vec<_>>>()?;
    let scanner = scan::Scanner::new(plan)?;
    let mut findings = Vec::new();
    for (_, to) in &plan.paths {
        findings.extend(scanner.scan(&dest_of(root, to))?);
    }
    Ok(Summary {
        schema: SCHEMA,
        version: 1,
        old_dir: plan.old_dir.clone(),
        new_dir: plan.new_dir.clone(),
        paths: plan
            .paths
            .iter()
            .map(|(f, t)| Move {
                from: f.text(),
                to: t.text(),
            })
            .collect(),
        files: done.iter().map(|s| s.files).sum(),
        bytes: done.iter().map(|s| s.bytes).sum(),
        files_rewritten: done.iter().map(|s| s.files_rewritten).sum(),
        findings,
    })
}

/// Refuses a destination that exists (a store path is immutable once there), before
/// anything is written.
fn check_free(plan: &Plan, root: Option<&Path>) -> Result<()> {
    for (from, to) in &plan.paths {
        let dest = dest_of(root, to);
        if fs::symlink_metadata(&dest).is_ok() {
            return Err(Error::invalid(
                &dest,
                format!(
                    "already exists; nothing written (remove it to relocate {} again)",
                    from.text()
                ),
            ));
        }
    }
    Ok(())
}

/// Receives fetch progress from [`from_cache`]; the library draws nothing itself.
pub trait FetchProgress: Sync {
    fn start(&self, _paths: u64) {}
    fn fetched(&self, _path: &str) {}
}

/// Relocates `roots` and their closure (the narinfos' `References:`) from a binary cache:
/// every narinfo is read and the plan checked before any NAR is fetched; NARs are fetched,
/// checked and unpacked in parallel into a temporary directory, relocated from there, and
/// the temporary directory removed.
pub fn from_cache(
    cache: &Cache,
    roots: &[StorePath],
    new_dir: &str,
    root: Option<&Path>,
    progress: &dyn FetchProgress,
) -> Result<(Plan, Summary)> {
    let hashes: Vec<String> = roots.iter().map(|r| r.hash.clone()).collect();
    let infos = cache.closure(&hashes)?;
    let paths: Vec<StorePath> = infos.values().map(|i| i.store_path.clone()).collect();
    let plan = Plan::new(&paths, new_dir)?;
    check_free(&plan, root)?;
    let work = crate::fsx::Staging::new(&std::env::temp_dir().join("abicut-fetch"))?;
    fs::create_dir(work.path()).map_err(|e| Error::io(work.path(), e))?;
    progress.start(infos.len() as u64);
    let relocated = infos
        .par_iter()
        .map(|(_, info)| {
            let dest = work.path().join(info.store_path.base());
            cache.unpack(info, &dest)?;
            progress.fetched(&info.store_path.text());
            Ok(())
        })
        .collect::<Result<Vec<()>>>()
        .and_then(|_| relocate_from(&plan, root, Some(work.path())));
    make_writable(work.path())?;
    Ok((plan, relocated?))
}

/// Unpacked NARs have read-only directories (as the store has); the temporary copy must
/// be removable when [`crate::fsx::Staging`] drops it, after a failure too.
fn make_writable(dir: &Path) -> Result<()> {
    for w in crate::fsx::walk(dir)? {
        if w.meta.is_dir() {
            crate::fsx::set_mode(&w.path, 0o755)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "0123456789abcdfghijklmnpqrsvwxyz";

    fn sp(name: &str) -> StorePath {
        StorePath::parse(Path::new(&format!("/nix/store/{H}-{name}"))).unwrap()
    }

    #[test]
    fn parses_store_paths_and_names_bad_ones() {
        let p = sp("zlib-1.3");
        assert_eq!(
            (p.dir.as_str(), p.name.as_str()),
            ("/nix/store", "zlib-1.3")
        );
        for bad in [
            "nix/store/x",
            "/nix/store/abc-zlib",
            &format!("/{H}-x"),
            &format!("/nix/store/{H}-"),
            &format!("/nix/store/{H}-a b"),
        ] {
            let err = StorePath::parse(Path::new(bad)).unwrap_err().to_string();
            assert!(
                err.starts_with(bad) && err.contains("not a store path"),
                "{err}"
            );
        }
    }

    /// Longer: the name is cut; shorter: padded; the whole path keeps its length.
    #[test]
    fn names_absorb_the_difference() {
        let p = sp("zlib-1.3");
        assert_eq!(new_name(&p, 0).unwrap(), "zlib-1.3");
        assert_eq!(new_name(&p, 4).unwrap(), "zlib");
        assert_eq!(new_name(&p, -2).unwrap(), "zlib-1.3__");
        assert!(new_name(&p, 7).is_ok());
        let err = new_name(&p, 8).unwrap_err().to_string();
        assert!(
            err.contains("zlib-1.3") && err.contains("too short"),
            "{err}"
        );
        let short = sp("cc");
        let err = Plan::new(&[p.clone(), short], "/tmp/nix/store")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("1 name is too short")
                && err.contains("-cc (`cc`)")
                && err.contains("at most 1 characters longer"),
            "{err}"
        );
        let plan = Plan::new(std::slice::from_ref(&p), "/tmp/nix/store").unwrap();
        let (from, to) = &plan.paths[0];
        assert_eq!(from.text().len(), to.text().len());
        assert_eq!(to.text(), format!("/tmp/nix/store/{H}-zlib"));
    }

    #[test]
    fn store_dirs_must_be_canonical_and_new() {
        let p = sp("zlib-1.3");
        for bad in ["tmp/s", "/", "/a//b", "/a/./b", "/a/../b", "/nix/store"] {
            assert!(Plan::new(std::slice::from_ref(&p), bad).is_err(), "{bad}");
        }
        assert_eq!(Plan::new(&[p], "/tmp/st/").unwrap().new_dir, "/tmp/st");
    }
}

//! Which files of the given paths are ELF shared objects: the whole-directory oracles
//! (link identity, bindings) walk the same set.

use abicut::elf::{FileType, file_type};
use std::path::{Path, PathBuf};

/// [`shared_libraries`] of the paths given on the command line, or of `default` (a library
/// directory) when none is given.
pub fn shared_libraries_of(args: &[String], default: &str) -> Vec<PathBuf> {
    let mut inputs: Vec<PathBuf> = args.iter().map(PathBuf::from).collect();
    if inputs.is_empty() {
        inputs.push(PathBuf::from(default));
    }
    shared_libraries(&inputs)
}

/// Regular files (symlinks resolved, each file once) that are ELF shared objects. An input
/// that does not exist ends the run with an error naming it: checking nothing would print
/// "0 libraries" and exit 0, which reads as a pass.
fn shared_libraries(inputs: &[PathBuf]) -> Vec<PathBuf> {
    let mut seen = std::collections::BTreeSet::new();
    let mut libs = Vec::new();
    for input in inputs {
        if let Err(e) = std::fs::metadata(input) {
            eprintln!("{}: {e}", input.display());
            std::process::exit(2);
        }
        let entries: Vec<PathBuf> = if input.is_dir() {
            std::fs::read_dir(input)
                .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default()
        } else {
            vec![input.clone()]
        };
        for path in entries {
            let Ok(real) = std::fs::canonicalize(&path) else {
                continue;
            };
            if real.is_file() && is_shared_object(&real) && seen.insert(real.clone()) {
                libs.push(real);
            }
        }
    }
    libs.sort();
    libs
}

fn is_shared_object(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains(".so") {
        return false;
    }
    let mut head = [0u8; 18];
    use std::io::Read;
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| file_type(&head) == Some(FileType::Dynamic))
}

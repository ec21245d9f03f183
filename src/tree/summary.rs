//! What `abicut interface --json` prints about a built tree.

use super::{HeaderMode, Tree};
use serde::Serialize;
use std::path::Path;

/// The `schema` field of interface JSON.
pub const SCHEMA: &str = "abicut-interface";
/// The interface JSON version this build writes.
pub const VERSION: u32 = 1;

/// A built interface tree in brief: its Merkle hash, how headers entered it, how many
/// entries it has, and where it was written (none with `--hash` alone).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub schema: &'static str,
    pub version: u32,
    pub hash: String,
    pub headers: HeaderMode,
    pub entries: usize,
    pub output: Option<String>,
}

impl Summary {
    pub fn new(tree: &Tree, headers: HeaderMode, output: Option<&Path>) -> Summary {
        Summary {
            schema: SCHEMA,
            version: VERSION,
            hash: tree.hash(),
            headers,
            entries: tree.entries.len(),
            output: output.map(|p| p.to_string_lossy().into_owned()),
        }
    }
}

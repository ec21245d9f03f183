//! What the benches share.

use std::path::PathBuf;

/// The release `abicut` beside the running example (target/release/examples/..): the
/// benches time the real binary, as users run it.
pub fn abicut_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    exe.ancestors()
        .nth(2)
        .map(|d| d.join("abicut"))
        .filter(|p| p.is_file())
        .expect("build abicut first: cargo build --release")
}

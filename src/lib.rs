//! abicut: make a shared-library update cost a relink instead of a rebuild.
//!
//! Data flows one way: ELF → interface ([`iface`]) → stub ([`elf::write`]) / hash →
//! tree → [`diff`] → plan → relink → report. The interface model depends on nothing else
//! in the crate. Nothing in the library prints or exits; every fallible
//! step returns an [`Error`] naming the file and the cause.

pub mod cache;
pub mod diff;
pub mod elf;
pub mod error;
pub mod fsx;
/// The fuzz targets' bodies (`fuzz/`), and the smoke that runs them on the seed corpus.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod graph;
pub mod iface;
pub mod relink;
pub mod relocate;
pub mod report;
pub mod store;
pub mod stubgen;
pub mod tree;

pub use error::{Error, Result};

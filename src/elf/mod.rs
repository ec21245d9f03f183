//! ELF: reading dependency facts (`deps`) and patchelf-style edits (`edit`).

pub mod deps;
pub mod edit;

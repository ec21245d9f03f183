//! ELF in and out: [`read`] parses shared objects into interfaces, [`write`] writes stubs,
//! [`deps`] reads dependency facts for verification, [`loader`] finds
//! libraries as the dynamic loader does, [`edit`] makes patchelf-style edits.

pub mod closure;
pub mod deps;
pub mod edit;
pub mod facts;
pub mod loader;
pub mod read;
pub mod write;

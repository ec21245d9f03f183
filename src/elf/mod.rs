//! ELF in and out: [`read`] parses shared objects into interfaces, [`write`] writes stubs.

pub mod read;
pub mod write;

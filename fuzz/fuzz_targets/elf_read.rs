#![no_main]
//! Fuzz target `elf_read`: the body is `abicut::fuzzing::elf_read` (src/fuzzing.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| abicut::fuzzing::elf_read(data));

#![no_main]
//! Fuzz target `elf_edit`: the body is `abicut::fuzzing::elf_edit` (src/fuzzing.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| abicut::fuzzing::elf_edit(data));

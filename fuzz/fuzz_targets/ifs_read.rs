#![no_main]
//! Fuzz target `ifs_read`: the body is `abicut::fuzzing::ifs_read` (src/fuzzing.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| abicut::fuzzing::ifs_read(data));

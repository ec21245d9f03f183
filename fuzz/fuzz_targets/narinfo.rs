#![no_main]
//! Fuzz target `narinfo`: the body is `abicut::fuzzing::narinfo` (src/fuzzing.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| abicut::fuzzing::narinfo(data));

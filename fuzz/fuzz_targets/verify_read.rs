#![no_main]
//! Fuzz target `verify_read`: the body is `abicut::fuzzing::verify_read` (src/fuzzing.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| abicut::fuzzing::verify_read(data));

#![no_main]
//! Fuzz target `json_read`: the body is `abicut::fuzzing::json_read` (src/fuzzing.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| abicut::fuzzing::json_read(data));

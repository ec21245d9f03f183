#![no_main]
//! Fuzz target `nar_unpack`: the body is `abicut::fuzzing::nar_unpack` (src/fuzzing.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| abicut::fuzzing::nar_unpack(data));

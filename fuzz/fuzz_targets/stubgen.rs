#![no_main]
//! Fuzz target `stubgen`: the body is `abicut::fuzzing::stubgen` (src/fuzzing.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| abicut::fuzzing::stubgen(data));

//! Fuzz target `checkpoint`: see `verdant_fuzz::checkpoint`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| verdant_fuzz::run("checkpoint", data));

//! Fuzz target `trace`: see `verdant_fuzz::trace`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| verdant_fuzz::run("trace", data));

//! Fuzz target `front`: see `verdant_fuzz::front`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| verdant_fuzz::run("front", data));

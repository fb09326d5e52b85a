//! Fuzz target `config`: see `verdant_fuzz::config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| verdant_fuzz::run("config", data));

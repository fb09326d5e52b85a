//! Fuzz target `scenario`: see `verdant_fuzz::scenario`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| verdant_fuzz::run("scenario", data));

//! Fuzz target `data_file`: see `verdant_fuzz::data_file`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| verdant_fuzz::run("data_file", data));

//! Fuzz target: the YAML unit parser never panics on any text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = gsup::unit::parse(std::path::Path::new("fuzz/unit.yaml"), text);
});

//! Fuzz target: the YAML unit parser never panics on any text, and no
//! diagnostic it gives holds a raw control character.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(diags) = gsup::unit::parse(std::path::Path::new("fuzz/unit.yaml"), text) {
        for d in diags {
            assert!(!d.message.contains(char::is_control), "{:?}", d.message);
        }
    }
});

//! Fuzz target: the check parser never panics, and whatever it accepts
//! prints canonically and parses back to the same check.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flag, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let child = flag & 1 == 1;
    if let Ok(check) = gsup::rule::parse(text, child) {
        let printed = check.to_string();
        let again = gsup::rule::parse(&printed, child)
            .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?} fails: {e}"));
        assert_eq!(
            (&again.condition, &again.window, &again.action),
            (&check.condition, &check.window, &check.action),
            "{text:?} printed as {printed:?}"
        );
    }
});

//! Fuzz target: the status page reader (`control::page::read_bytes`, the
//! lookup `gsup status` runs on the page's bytes) never panics on any page,
//! and an answer it gives starts with the first name asked for.
//! Input: job names, one per line, then a NUL, then the page's bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (names, page) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"web"[..], data),
    };
    let jobs: Vec<String> = String::from_utf8_lossy(names)
        .split('\n')
        .take(8)
        .map(str::to_owned)
        .collect();
    if let Some(answer) = gsup::control::page::read_bytes(page, &jobs) {
        assert!(answer.text.starts_with(jobs[0].as_str()), "{answer:?}");
    }
});

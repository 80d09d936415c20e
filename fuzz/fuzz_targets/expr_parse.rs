//! Fuzz target: the event-expression parser never panics, and whatever it
//! accepts prints canonically and parses back to the same tree.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(expr) = gsup::expr::parse(text) {
        let printed = expr.to_string();
        let again = gsup::expr::parse(&printed);
        assert_eq!(again.as_ref(), Ok(&expr), "{text:?} printed as {printed:?}");
        let _ = expr.job_references();
        // Feed the expression's own operands back as events: must not panic.
        let mut matcher = gsup::expr::Matcher::new(expr);
        let event = gsup::expr::Event {
            name: text.split_whitespace().next().unwrap_or("").into(),
            env: vec![("JOB".into(), printed)],
        };
        let _ = matcher.feed(&event);
    }
});

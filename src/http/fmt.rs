//! Small pure formatters for the page: HTML escaping, sizes, durations, the
//! log link. No I/O; nothing here decides what is shown.

use std::fmt::Write;

/// Appends `s` with the five characters HTML gives a meaning escaped, so
/// that a job-controlled string is text in an element or a quoted attribute.
pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// `s` escaped (see [`escape_into`]); the tests' way to say what to expect.
#[cfg(test)]
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

/// A size as Monit writes it: powers of 1024, one decimal above KB.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// A duration in its two largest units: `42s`, `4m 3s`, `2h 5m`, `3d 4h`.
pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// A CPU figure: `0.4%`, `12%`.
pub fn percent(p: f64) -> String {
    if p < 10.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

/// The `/log` link of one instance, percent-encoded (and to be HTML-escaped
/// by the caller, for its `&`).
pub fn log_href(job: &str, instance: &str) -> String {
    let mut q = form_urlencoded::Serializer::for_suffix(String::from("/log?"), 5);
    q.append_pair("job", job);
    q.append_pair("instance", instance);
    q.finish()
}

/// `n` followed by `word`, plural with an `s` unless `n` is 1.
pub fn count(n: usize, word: &str) -> String {
    let mut s = String::new();
    let _ = write!(s, "{n} {word}{}", if n == 1 { "" } else { "s" });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(
            escape(r#"<script>alert("x&'y")</script>"#),
            "&lt;script&gt;alert(&quot;x&amp;&#39;y&quot;)&lt;/script&gt;"
        );
        assert_eq!(escape("plain/job-1"), "plain/job-1");
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(300 * 1024 * 1024), "300.0 MB");
        assert_eq!(bytes(1536), "1.5 KB");
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(243), "4m 3s");
        assert_eq!(duration(2 * 3600 + 5 * 60 + 9), "2h 5m");
        assert_eq!(duration(3 * 86400 + 4 * 3600), "3d 4h");
        assert_eq!(percent(0.44), "0.4%");
        assert_eq!(percent(12.4), "12%");
        assert_eq!(count(1, "job"), "1 job");
        assert_eq!(count(3, "job"), "3 jobs");
    }

    #[test]
    fn log_links_are_percent_encoded() {
        assert_eq!(
            log_href("a/<b> &c", "x=y"),
            "/log?job=a%2F%3Cb%3E+%26c&instance=x%3Dy"
        );
    }
}

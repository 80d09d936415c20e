//! Text forms of the small unit-file value types: durations, sizes, signals, rlimit names.
//! Pure string-to-value functions, usable by other parsers (checks); no YAML, no I/O.

use super::model::{RlimitResource, Signal};
use std::time::Duration;

/// What a duration looks like, for error messages.
pub const DURATION_HELP: &str =
    "a duration such as `500ms`, `5s`, `2m`, `1h` or a bare number of seconds";
/// What a size looks like, for error messages.
pub const SIZE_HELP: &str =
    "a size such as `512 B`, `64KB`, `300 MB`, `2GB` (1024-based) or a bare number of bytes";

/// Splits `12.5 MB` into the number and the unit, allowing spaces between.
fn split_number(text: &str) -> Option<(f64, &str)> {
    let t = text.trim();
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(end);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    Some((n, unit.trim_start()))
}

/// Parses `500ms`, `5s`, `2m`, `1h`, `1.5s` or a bare number of seconds.
/// Why: one definition of the SPEC's duration syntax for every key that takes one.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("bad duration `{text}`: expected {DURATION_HELP}");
    let (n, unit) = split_number(text).ok_or_else(bad)?;
    let millis_per_unit: f64 = match unit {
        "" | "s" => 1000.0,
        "ms" => 1.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return Err(bad()),
    };
    duration_from_millis(n * millis_per_unit).ok_or_else(bad)
}

/// A duration from a number of seconds written as a YAML number.
pub fn duration_from_secs(secs: f64) -> Result<Duration, String> {
    duration_from_millis(secs * 1000.0)
        .ok_or_else(|| format!("bad duration `{secs}`: expected {DURATION_HELP}"))
}

fn duration_from_millis(ms: f64) -> Option<Duration> {
    // Ten years is far past any sensible timeout and far below overflow.
    if !ms.is_finite() || !(0.0..=315_360_000_000.0).contains(&ms) {
        return None;
    }
    Some(Duration::from_micros((ms * 1000.0).round() as u64))
}

/// Parses `300 MB`, `64KB`, `1.5 GB`, `512B` (1024-based, unit case-insensitive)
/// or a bare number of bytes. Why: the SPEC's size syntax, shared with checks.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("bad size `{text}`: expected {SIZE_HELP}");
    let (n, unit) = split_number(text).ok_or_else(bad)?;
    let mult: f64 = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1.0,
        "KB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        "GB" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let bytes = (n * mult).round();
    if !bytes.is_finite() || bytes > 1.0e18 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// Signal names without the `SIG` prefix, with their numbers on Linux.
const SIGNALS: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// The highest signal number Linux accepts (SIGRTMAX).
const MAX_SIGNAL: i64 = 64;

/// Parses a signal name (`TERM`, `SIGTERM`, `term`) or number (1..=64).
/// Why: the one signal table; `kill_signal`, `reload_signal`, `normal_exit`
/// and the check language's `signal NAME` action (`rule`) all read it.
pub fn parse_signal(text: &str) -> Result<Signal, String> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i64>() {
        return signal_number(n);
    }
    let upper = t.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNALS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, num)| Signal(num))
        .ok_or_else(|| {
            format!("bad signal `{t}`: expected a signal name such as TERM, HUP, USR2, SIGKILL or a number 1-64")
        })
}

/// A signal from its number, checked to be one Linux has.
pub fn signal_number(n: i64) -> Result<Signal, String> {
    if (1..=MAX_SIGNAL).contains(&n) {
        Ok(Signal(n as i32))
    } else {
        Err(format!("bad signal number {n}: expected 1-{MAX_SIGNAL}"))
    }
}

/// The canonical name of a signal without `SIG` (`TERM`; `ABRT`, not `IOT`),
/// or `None` for one without a name (real-time signals). Why: callers that
/// want no number fallback (`rule::signal_name`, the watchdog's alerts).
pub fn signal_name(signal: Signal) -> Option<&'static str> {
    SIGNALS
        .iter()
        .find(|(n, num)| *num == signal.0 && *n != "IOT" && *n != "POLL")
        .map(|&(n, _)| n)
}

impl Signal {
    /// The signal's name without `SIG` (`TERM`), or its number as text;
    /// for status lines and the `EXIT_SIGNAL` event variable.
    pub fn name(self) -> String {
        signal_name(self).map_or_else(|| self.0.to_string(), str::to_owned)
    }
}

/// The rlimit names of `limits:`, as Upstart's `limit` stanza spells them.
pub const RLIMIT_NAMES: &[(&str, RlimitResource)] = &[
    ("as", RlimitResource::As),
    ("core", RlimitResource::Core),
    ("cpu", RlimitResource::Cpu),
    ("data", RlimitResource::Data),
    ("fsize", RlimitResource::Fsize),
    ("memlock", RlimitResource::Memlock),
    ("msgqueue", RlimitResource::Msgqueue),
    ("nice", RlimitResource::Nice),
    ("nofile", RlimitResource::Nofile),
    ("nproc", RlimitResource::Nproc),
    ("rss", RlimitResource::Rss),
    ("rtprio", RlimitResource::Rtprio),
    ("sigpending", RlimitResource::Sigpending),
    ("stack", RlimitResource::Stack),
];

/// Looks up an rlimit by its Upstart name.
pub fn parse_rlimit_name(name: &str) -> Option<RlimitResource> {
    RLIMIT_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, r)| r)
}

impl RlimitResource {
    /// True for limits counted in bytes, which also accept size syntax (`64 MB`).
    pub fn is_bytes(self) -> bool {
        use RlimitResource::*;
        matches!(
            self,
            As | Core | Data | Fsize | Memlock | Msgqueue | Rss | Stack
        )
    }
}

/// The closest of `candidates` to `word` by edit distance, if it is close
/// enough to be a likely typo. Why: "did you mean" hints for unknown keys.
pub fn nearest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = word.chars().count().div_ceil(3).clamp(1, 3);
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("10 s"), Ok(Duration::from_secs(10)));
        for bad in [
            "",
            "s",
            "5x",
            "-1s",
            "1.s",
            ".5s",
            "5 sec",
            "1e3",
            "99999999999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("300 MB"), Ok(300 * 1024 * 1024));
        assert_eq!(parse_size("64KB"), Ok(64 * 1024));
        assert_eq!(parse_size("2gb"), Ok(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_size("512 B"), Ok(512));
        assert_eq!(parse_size("1.5KB"), Ok(1536));
        assert_eq!(parse_size("100"), Ok(100));
        for bad in ["", "MB", "10 XB", "-5MB", "10 M"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("TERM"), Ok(Signal::TERM));
        assert_eq!(parse_signal("SIGUSR2"), Ok(Signal::USR2));
        assert_eq!(parse_signal("hup"), Ok(Signal::HUP));
        assert_eq!(parse_signal("9"), Ok(Signal::KILL));
        assert!(parse_signal("TERMINATE").is_err());
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("65").is_err());
        assert_eq!(Signal::TERM.name(), "TERM");
        assert_eq!(Signal(40).name(), "40");
        assert_eq!(parse_signal("sigusr2"), Ok(Signal::USR2));
        assert_eq!(parse_signal("10"), Ok(Signal(10)));
        assert_eq!(parse_signal("64"), Ok(Signal(64)));
        assert!(parse_signal("FOO").is_err());
        // Aliases parse, but the canonical name prints.
        assert_eq!(parse_signal("IOT"), Ok(Signal(libc::SIGABRT)));
        assert_eq!(Signal(libc::SIGABRT).name(), "ABRT");
        assert_eq!(parse_signal("POLL").map(Signal::name), Ok("IO".to_string()));
        assert_eq!(Signal::QUIT.name(), "QUIT");
        assert_eq!(signal_name(Signal::QUIT), Some("QUIT"));
        assert_eq!(signal_name(Signal(libc::SIGABRT)), Some("ABRT"));
        assert_eq!(signal_name(Signal(40)), None);
    }

    #[test]
    fn nearest_names() {
        let keys = ["respawn", "respawn_limit", "exec"];
        assert_eq!(nearest("respwan", keys.into_iter()), Some("respawn"));
        assert_eq!(nearest("exce", keys.into_iter()), Some("exec"));
        assert_eq!(nearest("zzzzzz", keys.into_iter()), None);
    }
}

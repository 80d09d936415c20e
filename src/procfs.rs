//! `/proc/PID/stat` parsed in one place for the pidfile checks and the watchdog:
//! the fields gsup uses, counted from the last `)`. Pure text parsing, no I/O.

/// The fields of `/proc/PID/stat` that gsup reads (proc(5) numbers them from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Field 1.
    pub pid: i32,
    /// Field 3: `R`, `S`, `D`, `Z` (zombie), `X` (dead), ...
    pub state: char,
    /// Field 4.
    pub ppid: i32,
    /// Field 5: the process group.
    pub pgrp: i32,
    /// Field 6: the session.
    pub session: i32,
    /// Fields 14 + 15: utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    /// Field 20.
    pub threads: u64,
    /// Field 22: start time in clock ticks after boot; with the pid, the
    /// identity of a process across pid recycling.
    pub start_ticks: u64,
    /// Field 24: resident set size, in pages.
    pub rss_pages: u64,
}

/// Parses the text of `/proc/PID/stat`, without allocating. The command name
/// (field 2) is in parentheses and may itself hold spaces and parentheses, so
/// the fields after it are counted from the last `)`. `None` for anything
/// that is not a whole stat line up to field 24.
pub fn parse_stat(bytes: &[u8]) -> Option<Stat> {
    let open = bytes.iter().position(|&b| b == b'(')?;
    let close = bytes.iter().rposition(|&b| b == b')')?;
    let pid = std::str::from_utf8(bytes.get(..open)?)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let rest = std::str::from_utf8(bytes.get(close + 1..)?).ok()?;
    // Fields 3 (state) to 24 (rss): `f[n - 3]` is field n.
    let mut f = [""; 22];
    let mut words = rest.split_ascii_whitespace();
    for slot in f.iter_mut() {
        *slot = words.next()?;
    }
    let num = |n: usize| -> Option<u64> { f[n - 3].parse().ok() };
    let id = |n: usize| -> Option<i32> { f[n - 3].parse().ok() };
    Some(Stat {
        pid,
        state: f[0].chars().next()?,
        ppid: id(4)?,
        pgrp: id(5)?,
        session: id(6)?,
        cpu_ticks: num(14)?.checked_add(num(15)?)?,
        threads: num(20)?,
        start_ticks: num(22)?,
        rss_pages: num(24)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_counted_from_the_last_parenthesis() {
        let line = b"4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 2 0 123456 10000000 250 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        let s = parse_stat(line).expect("parses");
        assert_eq!(
            s,
            Stat {
                pid: 4242,
                state: 'S',
                ppid: 1,
                pgrp: 4242,
                session: 4242,
                cpu_ticks: 10,
                threads: 2,
                start_ticks: 123456,
                rss_pages: 250,
            }
        );
    }

    #[test]
    fn short_or_garbage_is_none() {
        assert_eq!(parse_stat(b""), None);
        assert_eq!(parse_stat(b"garbage"), None);
        assert_eq!(parse_stat(b"12 (x) S 1"), None);
        assert_eq!(
            parse_stat(b"x (y) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22"),
            None
        );
    }

    #[test]
    fn own_process() {
        let text = std::fs::read("/proc/self/stat").expect("read own stat");
        let s = parse_stat(&text).expect("parses");
        assert_eq!(s.pid, std::process::id() as i32);
        assert!(s.threads >= 1 && s.rss_pages > 0);
    }
}

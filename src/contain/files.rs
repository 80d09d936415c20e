//! Parsers of the cgroup v2 interface files gsup reads: `cgroup.events`,
//! `cgroup.procs`, `cgroup.controllers`, `cpu.stat`, `memory.current`. Pure: they take the bytes read.

/// What `cgroup.events` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Events {
    /// A process lives in the group or below it.
    pub populated: bool,
    /// The group is frozen (`cgroup.freeze` took effect); false when the
    /// kernel has no freezer line.
    pub frozen: bool,
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or("")
}

/// Parses `cgroup.events` (`populated 1\nfrozen 0\n`).
pub fn events(bytes: &[u8]) -> Events {
    let mut out = Events::default();
    for line in text(bytes).lines() {
        match line.split_once(' ') {
            Some(("populated", v)) => out.populated = v.trim() == "1",
            Some(("frozen", v)) => out.frozen = v.trim() == "1",
            _ => {}
        }
    }
    out
}

/// Parses `cgroup.procs`: one pid a line. Anything that is not a positive
/// pid (a `0` for a process outside the reader's pid namespace) is left out.
pub fn pids(bytes: &[u8]) -> Vec<i32> {
    text(bytes)
        .lines()
        .filter_map(|l| l.trim().parse::<i32>().ok())
        .filter(|&p| p > 0)
        .collect()
}

/// Parses a space-separated controller list (`cgroup.controllers`,
/// `cgroup.subtree_control`).
pub fn controllers(bytes: &[u8]) -> Vec<String> {
    text(bytes).split_whitespace().map(str::to_string).collect()
}

/// `usage_usec` of `cpu.stat`: CPU time of every process that ever ran in
/// the group, in microseconds. The file and that line exist in every
/// non-root cgroup2 group, with or without the cpu controller.
pub fn cpu_usage_usec(bytes: &[u8]) -> Option<u64> {
    text(bytes)
        .lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .and_then(|v| v.trim().parse().ok())
}

/// A file holding one number (`memory.current`).
pub fn number(bytes: &[u8]) -> Option<u64> {
    text(bytes).trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_lines() {
        assert_eq!(
            events(b"populated 1\nfrozen 0\n"),
            Events {
                populated: true,
                frozen: false
            }
        );
        assert_eq!(
            events(b"populated 0\nfrozen 1\n"),
            Events {
                populated: false,
                frozen: true
            }
        );
        assert!(!events(b"populated 1\n").frozen);
        assert_eq!(events(b"\xff garbage"), Events::default());
    }

    #[test]
    fn pid_lists_keep_positive_pids() {
        assert_eq!(pids(b"12\n345\n0\n-3\nx\n"), vec![12, 345]);
        assert!(pids(b"").is_empty());
    }

    #[test]
    fn controllers_and_numbers() {
        assert_eq!(controllers(b"cpu memory pids\n"), ["cpu", "memory", "pids"]);
        assert!(controllers(b"\n").is_empty());
        assert_eq!(number(b"1234567\n"), Some(1_234_567));
        assert_eq!(number(b"max\n"), None);
    }

    #[test]
    fn cpu_stat_usage() {
        let stat = b"usage_usec 81234\nuser_usec 60000\nsystem_usec 21234\nnice_usec 0\n";
        assert_eq!(cpu_usage_usec(stat), Some(81_234));
        assert_eq!(cpu_usage_usec(b"user_usec 1\n"), None);
    }
}

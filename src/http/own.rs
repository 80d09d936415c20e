//! The daemon's own resident memory and open descriptors, read from
//! `/proc/self` off the loop. Reads only this process; never another's.

/// What `/proc/self` told; a figure that could not be read is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnFigures {
    pub rss_bytes: Option<u64>,
    pub open_fds: Option<u64>,
}

/// Reads both figures (a blocking call: run it with `spawn_blocking`).
pub fn figures() -> OwnFigures {
    OwnFigures {
        rss_bytes: rss_bytes(),
        open_fds: open_fds(),
    }
}

fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages.saturating_mul(crate::procfs::page_bytes()))
}

/// Since Linux 6.2 the size of `/proc/self/fd` is the number of open
/// descriptors: one `stat` instead of listing thousands of entries. Older
/// kernels say 0; then the entries are counted, less the one `read_dir`
/// itself holds open.
fn open_fds() -> Option<u64> {
    if let Ok(m) = std::fs::metadata("/proc/self/fd")
        && m.len() > 0
    {
        return Some(m.len());
    }
    let n = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some(n.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let f = figures();
        assert!(f.rss_bytes.is_some_and(|b| b > 100_000), "{f:?}");
        // stdin, stdout, stderr at least (other test threads open more).
        assert!(f.open_fds.is_some_and(|n| n >= 3), "{f:?}");
    }
}

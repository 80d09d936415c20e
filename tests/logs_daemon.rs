//! The daemon's own log: a flood from one source becomes its burst plus one
//! count line, sources stay apart, the ring keeps recent lines with sequence
//! numbers, and JSON lines stay JSON.

mod common;

use common::wait_until;
use gsup::logs::DaemonLog;
use gsup::logs::ratelimit::Limits;
use std::time::Duration;

fn limits(burst: u32, ms: u64) -> Limits {
    Limits {
        burst,
        interval: Duration::from_millis(ms),
    }
}

#[test]
fn a_flood_becomes_one_line_and_a_count() {
    let (sub, log) = DaemonLog::in_memory(false, limits(1, 200));
    tracing::subscriber::with_default(sub, || {
        for i in 0..1000 {
            tracing::warn!(job = %"w", "boom {i}");
        }
        tracing::warn!(job = %"v", "other job");
        tracing::info!("other callsite");
        tracing::debug!("below the level");
    });
    let text = log.written();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].contains("WARN boom 0 job=w"), "{text}");
    assert!(lines[1].contains("other job job=v"), "{text}");
    assert!(lines[2].contains("INFO other callsite"), "{text}");
    // The count is written once the interval is over, when the log is read.
    wait_until(Duration::from_secs(5), "the count line", || {
        log.recent(10).0.iter().any(|l| l.contains("suppressed"))
    });
    let (recent, last) = log.recent(10);
    assert_eq!(last, 4);
    let count = recent.last().expect("a line");
    assert!(
        count.ends_with("WARN 999 more like it suppressed: boom 1 job=w"),
        "{count}"
    );
    assert_eq!(log.written().lines().count(), 4, "once, not per read");
}

#[test]
fn the_ring_keeps_recent_lines_with_sequence_numbers() {
    let (sub, log) = DaemonLog::in_memory(false, limits(10_000, 1000));
    let n = gsup::logs::daemon::RING_LINES + 500;
    tracing::subscriber::with_default(sub, || {
        for i in 0..n {
            tracing::info!(job = %"j", "line {i}");
        }
    });
    let (lines, last) = log.recent(3);
    assert_eq!(last, n as u64);
    assert_eq!(lines.len(), 3);
    assert!(lines[2].contains(&format!("line {}", n - 1)), "{lines:?}");
    let (after, at) = log.since(last - 2, 100);
    assert_eq!(after.len(), 2);
    assert_eq!(at, last);
    let (none, at) = log.since(last, 100);
    assert!(none.is_empty());
    assert_eq!(at, last);
    // Older than the ring keeps: the oldest kept lines, in order.
    let (old, at) = log.since(0, 2);
    assert_eq!(old.len(), 2);
    assert!(old[0].contains(&format!("line {}", n - gsup::logs::daemon::RING_LINES)));
    assert_eq!(at, (n - gsup::logs::daemon::RING_LINES + 2) as u64);
    assert_eq!(
        log.recent(usize::MAX).0.len(),
        gsup::logs::daemon::RING_LINES
    );
}

#[test]
fn json_lines_stay_json_with_the_count() {
    let (sub, log) = DaemonLog::in_memory(true, limits(2, 100));
    tracing::subscriber::with_default(sub, || {
        for _ in 0..50 {
            tracing::error!(job = %"x", "same");
        }
    });
    wait_until(Duration::from_secs(5), "the count line", || {
        log.recent(10).0.len() == 3
    });
    let lines = log.recent(10).0;
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
        assert_eq!(v["level"], "ERROR", "{v}");
    }
    let v: serde_json::Value = serde_json::from_str(&lines[2]).expect("JSON");
    assert_eq!(v["fields"]["suppressed"], 48, "{v}");
    assert_eq!(v["fields"]["job"], "x", "{v}");
    assert_eq!(
        v["fields"]["message"], "48 more like it suppressed: same",
        "{v}"
    );
}

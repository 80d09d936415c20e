//! A job that rewrites its pidfile in a loop (pids that are not its own)
//! does not flood the daemon's log: each source (a log call and its job)
//! passes 200 lines in 10 s, then a count of the lines suppressed.

mod common;

use common::{Daemon, wait_until};
use std::time::Duration;

#[test]
fn a_pidfile_rewritten_in_a_loop_is_rate_limited_in_the_log() {
    let dir = tempfile::tempdir().expect("tmp");
    let pf = dir.path().join("flood.pid");
    let unit = format!(
        "exec: [sh, -c, \"i=0; while [ $$i -lt 4000 ]; do echo 1 > {pf}; echo 99999 > {pf}; \
         i=$$((i+1)); done; touch {done}; exec sleep 100000\"]\n\
         pidfile: {pf}\nstart_on: startup\n",
        pf = pf.display(),
        done = dir.path().join("done").display()
    );
    let d = Daemon::start(&[("flood", &unit)], &[]);
    wait_until(
        Duration::from_secs(60),
        "the job rewrote 8000 times",
        || dir.path().join("done").exists(),
    );
    // Let the daemon handle what is still queued.
    assert_eq!(d.run(&["status", "flood"]).0, 0);
    let log = d.stderr();
    let lines = log.lines().count();
    let bytes = log.len();
    eprintln!("daemon log after 8000 pidfile rewrites: {lines} lines, {bytes} bytes");
    // 16,000 refusals and waits: at most 200 lines a source in 10 s pass,
    // the rest become a count (before the limit: a line each).
    assert!(lines < 1000, "{lines} lines");
    assert!(bytes < 1024 * 1024, "{bytes} bytes");
}

//! A shortage at spawn time (the daemon out of descriptors) puts a launch
//! off with a back-off instead of failing the job for good, and keeps a
//! reserve so that the daemon still answers its clients.

mod common;

use common::{Daemon, snapshot, wait_until};
use std::collections::BTreeSet;
use std::time::Duration;

#[test]
fn out_of_descriptors_puts_launches_off_and_they_start_later() {
    let units: Vec<(String, String)> = (1..=101)
        .map(|i| {
            (
                format!("j{i:03}"),
                format!("exec: [sleep, '71{i:04}']\nstart_on: startup\n"),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = units
        .iter()
        .map(|(n, u)| (n.as_str(), u.as_str()))
        .collect();
    let d = Daemon::start_with_nofile(&refs, 64);
    let states = |d: &Daemon| {
        let s = snapshot(d);
        let running: BTreeSet<String> = s
            .iter()
            .filter(|(_, v)| v.0 == "start/running")
            .map(|(k, _)| k.clone())
            .collect();
        let failed = s.values().filter(|v| v.0.ends_with("/failed")).count();
        (running, failed, s.len())
    };
    wait_until(Duration::from_secs(20), "some jobs run", || {
        !states(&d).0.is_empty()
    });
    let (first, failed, all) = states(&d);
    assert_eq!(all, 101, "the daemon answers with every job");
    assert_eq!(failed, 0, "no job failed for want of descriptors");
    assert!(
        first.len() < 101,
        "the limit holds some back: {}",
        first.len()
    );
    let log = d.stderr();
    assert!(
        log.contains("put off: the daemon is short of file descriptors; trying again in"),
        "{log}"
    );
    // Freeing descriptors lets the waiting ones start.
    for name in &first {
        let job = name.trim_end_matches(" ()");
        let (code, _, err) = d.run(&["stop", job]);
        assert_eq!(code, 0, "stop {job}: {err}");
    }
    wait_until(Duration::from_secs(40), "jobs that waited now run", || {
        states(&d).0.iter().any(|j| !first.contains(j))
    });
    assert_eq!(states(&d).1, 0, "still no failed job");
    // A job still waiting for its launch stops cleanly.
    let waiting = snapshot(&d)
        .into_iter()
        .find(|(_, v)| v.0 == "start/spawned")
        .map(|(k, _)| k.trim_end_matches(" ()").to_string());
    if let Some(job) = waiting {
        assert_eq!(d.run(&["stop", &job]).0, 0);
        assert_eq!(snapshot(&d)[&format!("{job} ()")].0, "stop/waiting");
    }
    assert_eq!(d.shutdown(), 0);
}

//! The watchdog's place in the supervisor, against a fake `Sys` and an injected clock:
//! no deadline unless a job with checks has goal start; watched across restarts.

mod common;

use common::NextPid;
use gsup::job::machine::Input;
use gsup::job::{Exit, State};
use gsup::supervisor::core::Supervisor;
use gsup::watchdog::JobKey;
use std::time::{Duration, Instant};

fn supervisor(units: &[(&str, &str)]) -> (Supervisor, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in units {
        std::fs::write(dir.path().join(format!("{name}.yaml")), text).expect("write");
    }
    let report = gsup::loader::load_dir(dir.path());
    assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
    let mut sup = Supervisor::new(
        Box::new(NextPid(100)),
        dir.path().join("log"),
        dir.path().join("run"),
    );
    sup.add_jobs(report.jobs);
    (sup, dir)
}

fn key(name: &str) -> JobKey {
    JobKey {
        name: name.into(),
        instance: String::new(),
    }
}

#[test]
fn watch_no_deadline_without_a_watched_job() {
    let (mut sup, _dir) = supervisor(&[("plain", "exec: [sleep, '100']\n")]);
    let now = Instant::now();
    sup.start_job("plain", &[]).expect("start");
    sup.drain(now);
    assert_eq!(
        sup.jobs
            .get(&("plain".into(), String::new()))
            .expect("instance")
            .job
            .state,
        State::Running
    );
    assert_eq!(sup.next_deadline(), None);
    assert!(!sup.watch.wd.is_watched(&key("plain")));
}

#[test]
fn watch_follows_the_goal_and_survives_a_restart() {
    let unit =
        "exec: [sleep, '100']\nrespawn: true\ncycle: 2s\nchecks:\n  - if mem > 1 GB then restart\n";
    let (mut sup, _dir) = supervisor(&[("w", unit)]);
    let t0 = Instant::now();
    assert_eq!(sup.next_deadline(), None);
    sup.start_job("w", &[]).expect("start");
    sup.drain(t0);
    assert!(sup.watch.wd.is_watched(&key("w")));
    assert_eq!(sup.next_deadline(), Some(t0 + Duration::from_secs(2)));
    // A crash and respawn keeps it watched (goal start all along).
    let k = ("w".to_string(), String::new());
    sup.on_reaped(vec![(101, Exit::Code(1))], t0);
    assert_eq!(
        sup.jobs.get(&k).expect("instance").job.state,
        State::Running
    );
    assert_eq!(sup.jobs.get(&k).expect("instance").job.restarts, 1);
    assert!(sup.watch.wd.is_watched(&key("w")));
    // Goal stop: unwatched, and no deadline is left once the stop settles.
    sup.feed(k.clone(), Input::Stop);
    sup.drain(t0);
    assert!(!sup.watch.wd.is_watched(&key("w")));
    sup.on_reaped(vec![(102, Exit::Signal(15))], t0);
    assert_eq!(
        sup.jobs.get(&k).expect("instance").job.state,
        State::Waiting
    );
    assert_eq!(sup.next_deadline(), None);
}

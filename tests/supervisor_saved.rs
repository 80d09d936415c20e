//! The saved state against a fake kernel: each main's start time is read from
//! `/proc` once per run and remembered, and a new run on a reused pid reads afresh.

mod fake_kernel;

use fake_kernel::{DAEMON, Kernel};
use gsup::job::Exit;
use gsup::loader::LoadedJob;
use gsup::procfs::ProcSource;
use gsup::supervisor::core::Supervisor;
use gsup::supervisor::saved::Saved;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn sup(text: &str) -> (Supervisor, Kernel) {
    let k = Kernel::new();
    let mut s = Supervisor::new(
        Box::new(k.clone()),
        PathBuf::from("/logs"),
        PathBuf::from("/run/gsup.d"),
    );
    let path = PathBuf::from("app.yaml");
    let unit = gsup::unit::parse(&path, text).expect("unit parses");
    s.add_jobs(vec![LoadedJob::new("app".into(), path, unit)]);
    (s, k)
}

/// (main pid, saved start time) of the one instance.
fn saved_main(s: &Supervisor, now: Instant) -> (Option<i32>, Option<u64>) {
    let saved = Saved::of(s, now);
    let i = &saved.instances[0];
    (i.main_pid, i.main_start)
}

#[test]
fn a_main_start_is_read_once_per_run_and_afresh_for_a_new_run_on_the_same_pid() {
    let (mut s, k) = sup("exec: [/usr/bin/app]\nrespawn: true\nrespawn_delay: 0s\n");
    let t0 = Instant::now();
    s.start_job("app", &[]).expect("start");
    s.drain(t0);
    let pid = s
        .jobs
        .get(&("app".into(), String::new()))
        .and_then(|i| i.job.main_pid);
    let pid = pid.expect("a main");
    let first = k.procs.0.borrow().stat(pid).map(|p| p.start_ticks);
    assert_eq!(saved_main(&s, t0), (Some(pid), first));

    // The same run: remembered, /proc is not read again (its table is
    // made to say something else, which a read would give).
    k.procs.0.borrow_mut().remove(pid);
    k.add(pid, DAEMON, pid, pid, 0);
    let changed = k.procs.0.borrow().stat(pid).map(|p| p.start_ticks);
    assert_ne!(changed, first);
    assert_eq!(saved_main(&s, t0), (Some(pid), first), "read once per run");

    // The main dies; the respawn gets the very same pid (recycled): its
    // start time is read afresh.
    k.die(pid, Exit::Code(1));
    k.state.borrow_mut().next_pid = pid - 1;
    let t1 = t0 + Duration::from_secs(1);
    let reaped = s.sys.reap();
    s.on_reaped(reaped, t1);
    s.drain(t1);
    let again = s
        .jobs
        .get(&("app".into(), String::new()))
        .and_then(|i| i.job.main_pid);
    assert_eq!(again, Some(pid), "the fake kernel recycled the pid");
    let fresh = k.procs.0.borrow().stat(pid).map(|p| p.start_ticks);
    assert_ne!(fresh, first);
    assert_eq!(
        saved_main(&s, t1),
        (Some(pid), fresh),
        "a new run reads afresh"
    );
}

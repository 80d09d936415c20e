//! Tests of the `Watchdog` against a fake sampler and an injected clock: scheduling,
//! actions, child checks keyed by pid, restarts, status text.

use super::*;
use crate::procfs::Proc;
use crate::rule::{Op, Resource, Value, Window};
use crate::watchdog::sample::MeasureError;
use std::sync::{Arc, Mutex};

const MB: u64 = 1 << 20;

/// Samples handed out in order; the clock of each is `at` seconds after boot.
#[derive(Clone, Default)]
struct Script(Arc<Mutex<Vec<Result<TreeSample, MeasureError>>>>);

impl Sampler for Script {
    fn sample(&mut self, main_pid: i32) -> Result<TreeSample, MeasureError> {
        let mut q = self.0.lock().expect("lock");
        if q.is_empty() {
            return Err(MeasureError {
                pid: main_pid,
                message: "script empty".into(),
            });
        }
        q.remove(0)
    }
}

fn proc_(pid: i32, ppid: i32, rss_mb: u64, start: u64) -> Proc {
    Proc {
        pid,
        ppid,
        pgid: 100,
        sid: 100,
        state: 'S',
        cpu_ticks: 0,
        rss_pages: rss_mb * MB,
        start_ticks: start,
        threads: 1,
    }
}

/// A master (pid 100, 10 MB) with children `(pid, MB)`.
fn tree(at: u64, kids: &[(i32, u64)]) -> TreeSample {
    let mut procs = vec![proc_(100, 1, 10, 0)];
    procs.extend(
        kids.iter()
            .map(|&(pid, mb)| proc_(pid, 100, mb, pid as u64)),
    );
    TreeSample::new(100, procs, Duration::from_secs(at), 100, 1)
}

fn res(resource: Resource, mb: u64, window: Window, action: Action) -> Check {
    Check {
        source: format!("{resource:?} {mb} {window:?} {action:?}"),
        condition: Condition::Resource {
            resource,
            op: Op::Gt,
            value: Value::Bytes(mb * MB),
        },
        window,
        action,
    }
}

fn key() -> JobKey {
    JobKey {
        name: "resque".into(),
        instance: String::new(),
    }
}

fn setup(spec: WatchSpec, samples: Vec<TreeSample>) -> (Watchdog, Instant) {
    let script = Script(Arc::new(Mutex::new(samples.into_iter().map(Ok).collect())));
    let mut w = Watchdog::with_sampler(Duration::from_secs(5), Box::new(script));
    let t0 = Instant::now();
    w.watch(key(), spec, t0);
    (w, t0)
}

#[test]
fn no_wakeups_without_watched_jobs_and_cycle_per_job() {
    let mut w = Watchdog::with_sampler(Duration::from_secs(5), Box::new(Script::default()));
    let t0 = Instant::now();
    assert_eq!(w.due(), None);
    // A job without checks is not watched.
    w.watch(key(), WatchSpec::default(), t0);
    assert_eq!(w.due(), None);
    let spec = WatchSpec {
        cycle: Some(Duration::from_secs(2)),
        checks: vec![res(Resource::Mem, 1, Window::Once, Action::Alert)],
        child_checks: vec![],
    };
    w.watch(key(), spec, t0);
    assert_eq!(w.due(), Some(t0 + Duration::from_secs(2)));
    // Not due yet: nothing runs, nothing moves.
    assert!(w.run_cycle(t0 + Duration::from_secs(1), &[]).is_empty());
    assert_eq!(w.due(), Some(t0 + Duration::from_secs(2)));
    // Due but not running: rescheduled, never a busy loop.
    assert!(w.run_cycle(t0 + Duration::from_secs(2), &[]).is_empty());
    assert_eq!(w.due(), Some(t0 + Duration::from_secs(4)));
    // Late by more than a cycle: next is one cycle from now.
    w.run_cycle(t0 + Duration::from_secs(11), &[]);
    assert_eq!(w.due(), Some(t0 + Duration::from_secs(13)));
    w.unwatch(&key());
    assert_eq!(w.due(), None);
}

#[test]
fn totalmem_catches_a_leaking_child_that_mem_misses() {
    let spec = WatchSpec {
        cycle: None,
        checks: vec![
            res(Resource::Mem, 300, Window::Consecutive(3), Action::Restart),
            res(
                Resource::TotalMem,
                300,
                Window::Consecutive(3),
                Action::Restart,
            ),
        ],
        child_checks: vec![],
    };
    let samples = (0..3)
        .map(|i| tree(5 * (i + 1), &[(200, 350 + i * 10)]))
        .collect();
    let (mut w, t0) = setup(spec, samples);
    let jobs = [(key(), 100, 0)];
    let mut now = t0;
    let mut all = Vec::new();
    for _ in 0..3 {
        now += Duration::from_secs(5);
        assert_eq!(w.due(), Some(now));
        all.push(w.run_cycle(now, &jobs));
        if all.len() == 2 {
            let st = w.status(&key()).expect("status");
            assert_eq!(st.memory_bytes, 370 * MB);
            assert_eq!(st.failing, vec!["totalmem 370 MB > 300 MB, 2 of 3 cycles"]);
        }
    }
    assert!(all[0].is_empty() && all[1].is_empty());
    assert_eq!(all[2].len(), 1);
    let a = &all[2][0];
    assert_eq!(a.action, Action::Restart);
    assert_eq!(a.target, Target::JobWide);
    assert_eq!(a.value_text, "totalmem 380 MB > 300 MB");
    assert_eq!(a.measured, "totalmem 380 MB");
    assert_eq!(a.event, WatchEvent::Failed);
    assert_eq!(a.main_pid, 100);
}

#[test]
fn child_checks_are_keyed_by_pid_and_dropped_when_the_child_goes() {
    let spec = WatchSpec {
        cycle: None,
        checks: vec![],
        child_checks: vec![res(
            Resource::Mem,
            100,
            Window::Consecutive(2),
            Action::Kill,
        )],
    };
    // Workers 201..203; 202 leaks. Cycle 2: 202 is replaced by 204 (which is big at
    // once): 204 starts its own count. Cycle 3: 204 fires, 201 and 203 never do.
    let samples = vec![
        tree(5, &[(201, 20), (202, 150), (203, 20)]),
        tree(10, &[(201, 20), (204, 150), (203, 20)]),
        tree(15, &[(201, 20), (204, 160), (203, 20)]),
    ];
    let (mut w, t0) = setup(spec, samples);
    let jobs = [(key(), 100, 0)];
    assert!(w.run_cycle(t0 + Duration::from_secs(5), &jobs).is_empty());
    assert_eq!(
        w.status(&key()).expect("status").failing,
        vec!["child 202: mem 150 MB > 100 MB, 1 of 2 cycles"]
    );
    assert!(w.run_cycle(t0 + Duration::from_secs(10), &jobs).is_empty());
    let acts = w.run_cycle(t0 + Duration::from_secs(15), &jobs);
    assert_eq!(acts.len(), 1);
    assert_eq!(
        acts[0].target,
        Target::Child {
            pid: 204,
            start_ticks: 204
        }
    );
    assert_eq!(acts[0].action, Action::Kill);
    assert_eq!(acts[0].value_text, "mem 160 MB > 100 MB");
}

#[test]
fn restarts_rule_sees_the_supervisors_counter() {
    let spec = WatchSpec {
        cycle: Some(Duration::from_secs(1)),
        checks: vec![Check {
            source: "if 2 restarts within 3 cycles then stop".into(),
            condition: Condition::Restarts {
                count: 2,
                cycles: 3,
            },
            window: Window::Once,
            action: Action::Stop,
        }],
        child_checks: vec![],
    };
    let samples = (1..=5).map(|i| tree(i, &[])).collect();
    let (mut w, t0) = setup(spec, samples);
    let counts = [4, 5, 5, 6, 6];
    let mut fired = Vec::new();
    for (i, &restarts) in counts.iter().enumerate() {
        let now = t0 + Duration::from_secs(i as u64 + 1);
        let acts = w.run_cycle(now, &[(key(), 100, restarts)]);
        fired.push(acts.iter().map(|a| a.action.clone()).collect::<Vec<_>>());
    }
    // The first count is the baseline; restarts seen at cycles 2 and 4 (within 3).
    assert_eq!(
        fired,
        vec![vec![], vec![], vec![], vec![Action::Stop], vec![]]
    );
}

#[test]
fn a_new_main_process_resets_resource_counters_and_a_gone_one_is_skipped() {
    let spec = WatchSpec {
        cycle: None,
        checks: vec![res(
            Resource::Mem,
            5,
            Window::Consecutive(2),
            Action::Restart,
        )],
        child_checks: vec![],
    };
    let mut other = tree(10, &[]);
    other.procs[0].start_ticks = 777;
    let other = TreeSample::new(100, other.procs, Duration::from_secs(10), 100, 1);
    let (mut w, t0) = setup(spec, vec![tree(5, &[]), other]);
    let jobs = [(key(), 100, 0)];
    assert!(w.run_cycle(t0 + Duration::from_secs(5), &jobs).is_empty());
    // Same pid, new start time: a new process, count starts at 1 again.
    assert!(w.run_cycle(t0 + Duration::from_secs(10), &jobs).is_empty());
    assert_eq!(
        w.status(&key()).expect("status").failing,
        vec!["mem 10 MB > 5 MB, 1 of 2 cycles"]
    );
    // The script is empty now: the sampler fails, as for an exited process.
    assert!(w.run_cycle(t0 + Duration::from_secs(15), &jobs).is_empty());
}

#[test]
fn cycles_spent_down_count_for_the_restarts_rule() {
    let spec = WatchSpec {
        cycle: Some(Duration::from_secs(1)),
        checks: vec![Check {
            source: "if 2 restarts within 3 cycles then stop".into(),
            condition: Condition::Restarts {
                count: 2,
                cycles: 3,
            },
            window: Window::Once,
            action: Action::Stop,
        }],
        child_checks: vec![],
    };
    let (mut w, t0) = setup(spec, vec![tree(1, &[]), tree(4, &[])]);
    let at = |s: u64| t0 + Duration::from_secs(s);
    assert!(w.run_cycle(at(1), &[(key(), 100, 0)]).is_empty());
    // Cycles 2 and 3: the job is down (restarting); no sample is taken.
    assert!(w.run_cycle(at(2), &[]).is_empty());
    assert!(w.run_cycle(at(3), &[]).is_empty());
    assert_eq!(w.status(&key()), None);
    // Cycle 4: two restarts seen, within the last 3 cycles.
    let acts = w.run_cycle(at(4), &[(key(), 100, 2)]);
    assert_eq!(acts.len(), 1);
    assert_eq!(acts[0].action, Action::Stop);
    assert_eq!(acts[0].value_text, "2 restarts within 3 cycles");
}

#[test]
fn the_restarts_rule_stops_a_job_that_a_check_restarts_every_cycle() {
    // Issue 14 item 7: the restart fired in the same cycle as the stop used to
    // reach the job first, so the stop was ignored (the job was already
    // restarting) and the job was restarted for ever.
    let spec = WatchSpec {
        cycle: Some(Duration::from_millis(200)),
        checks: vec![
            res(Resource::TotalMem, 50, Window::Once, Action::Restart),
            Check {
                source: "if 3 restarts within 10 cycles then stop".into(),
                condition: Condition::Restarts {
                    count: 3,
                    cycles: 10,
                },
                window: Window::Once,
                action: Action::Stop,
            },
        ],
        child_checks: vec![],
    };
    // Every cycle a new main process (new start time) holding 90 MB in a child.
    let samples = (1..=4)
        .map(|i| {
            let mut t = tree(i, &[(200, 90)]);
            t.procs[0].start_ticks = i;
            TreeSample::new(100, t.procs, Duration::from_secs(i), 100, 1)
        })
        .collect();
    let (mut w, t0) = setup(spec, samples);
    let mut fired = Vec::new();
    // The supervisor's counter: one more restart after each cycle's restart.
    for restarts in 0..4u32 {
        let now = t0 + Duration::from_millis(200 * u64::from(restarts + 1));
        let acts = w.run_cycle(now, &[(key(), 100, restarts)]);
        fired.push(acts.into_iter().map(|a| a.action).collect::<Vec<_>>());
    }
    assert_eq!(
        fired,
        vec![
            vec![Action::Restart],
            vec![Action::Restart],
            vec![Action::Restart],
            // The stop wins over the restart of the same cycle: the job ends.
            vec![Action::Stop],
        ]
    );
}

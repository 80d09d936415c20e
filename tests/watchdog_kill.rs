//! SPEC section 5, `kill` in `child_checks`: a master with three workers, one leaking;
//! the watchdog names the leaker, `ChildKill` takes it and its descendant by pid, never
//! the group; the master and the other workers live on. Signals only what this test made.

mod watchdog_util;

use gsup::job::Exit;
use gsup::procfs::{ProcSource, RealProc};
use gsup::rule::{Action, Check, Condition, Op, Resource, Value, Window};
use gsup::spawn::{SpawnError, SpawnSpec};
use gsup::sys::{KillTarget, Sys};
use gsup::unit::Signal;
use gsup::watchdog::kill::{ChildKill, Victim};
use gsup::watchdog::{JobKey, Target, WatchAction, WatchSpec, Watchdog, sample_tree};
use std::time::{Duration, Instant};
use watchdog_util::{Fixture, become_subreaper, wait_until};

const MB: u64 = 1 << 20;

/// Signals by pid only; a group kill here is the bug this test exists to catch.
#[derive(Default)]
struct PidOnlySys {
    sent: Vec<(KillTarget, Signal)>,
    procs: RealProc,
}

impl Sys for PidOnlySys {
    fn spawn(&mut self, _spec: &SpawnSpec) -> Result<i32, SpawnError> {
        Err(SpawnError::new("test", libc::ENOSYS))
    }

    fn signal(&mut self, target: KillTarget, sig: Signal) -> Result<(), i32> {
        self.sent.push((target, sig));
        match target {
            // SAFETY: kill on a pid the watchdog found in this test's own fixture tree.
            KillTarget::Pid(pid) => match unsafe { libc::kill(pid, sig.0) } {
                0 => Ok(()),
                _ => Err(libc::ESRCH),
            },
            KillTarget::Group(g) => panic!("child kill signalled group {g}"),
        }
    }

    fn reap(&mut self) -> Vec<(i32, Exit)> {
        Vec::new()
    }

    fn procs(&self) -> &dyn ProcSource {
        &self.procs
    }
}

fn key() -> JobKey {
    JobKey {
        name: "unicorn".into(),
        instance: String::new(),
    }
}

/// Runs watchdog cycles on `f` until a child check fires; returns that action.
fn until_kill(f: &Fixture) -> WatchAction {
    let mut w = Watchdog::new(Duration::from_millis(100));
    let spec = WatchSpec {
        cycle: None,
        checks: vec![],
        child_checks: vec![Check {
            source: "if totalmem > 60 MB for 2 cycles then kill".into(),
            condition: Condition::Resource {
                resource: Resource::TotalMem,
                op: Op::Gt,
                value: Value::Bytes(60 * MB),
            },
            window: Window::Consecutive(2),
            action: Action::Kill,
        }],
    };
    w.watch(key(), spec, Instant::now());
    let jobs = [(key(), f.pid, 0)];
    let mut fired = Vec::new();
    wait_until(Duration::from_secs(30), "the child check to fire", || {
        let now = Instant::now();
        if w.due().is_some_and(|d| d <= now) {
            fired = w.run_cycle(now, &jobs);
        }
        !fired.is_empty()
    });
    assert_eq!(fired.len(), 1, "{fired:?}");
    fired.remove(0)
}

/// The live workers of the master (direct children), by pid.
fn workers(r: &RealProc, master: i32) -> Vec<i32> {
    let s = sample_tree(r, master).expect("master alive");
    s.direct_children(master)
        .into_iter()
        .filter(|p| s.get(*p).is_some_and(|st| !st.is_exited()))
        .collect()
}

fn victim_of(a: &WatchAction) -> Victim {
    match a.target {
        Target::Child { pid, start_ticks } => Victim { pid, start_ticks },
        Target::JobWide => panic!("expected a child target: {a:?}"),
    }
}

#[test]
fn kill_takes_the_leaking_worker_and_its_descendant_only() {
    become_subreaper();
    let f = Fixture::python("leaky_workers.py", &["3", "1", "10", "1", "0"]);
    let r = RealProc::default();
    wait_until(Duration::from_secs(10), "three workers", || {
        workers(&r, f.pid).len() == 3
    });
    let a = until_kill(&f);
    assert_eq!(a.action, Action::Kill);
    let v = victim_of(&a);
    let before = workers(&r, f.pid);
    assert!(before.contains(&v.pid));
    let others: Vec<i32> = before.iter().copied().filter(|&p| p != v.pid).collect();
    let grandchild: Vec<i32> = gsup::procfs::walk(&r, v.pid)
        .iter()
        .skip(1)
        .map(|p| p.pid)
        .collect();
    assert_eq!(grandchild.len(), 1, "the worker's helper process");

    let mut sys = PidOnlySys::default();
    let k =
        ChildKill::begin(&mut sys, v, Duration::from_secs(5), Instant::now()).expect("child alive");
    let mut pids: Vec<i32> = k.victims.iter().map(|x| x.pid).collect();
    pids.sort();
    let mut want = vec![v.pid, grandchild[0]];
    want.sort();
    assert_eq!(pids, want);
    assert!(
        sys.sent
            .iter()
            .all(|(t, _)| matches!(t, KillTarget::Pid(_)))
    );
    wait_until(Duration::from_secs(10), "worker and helper gone", || {
        k.done(&r)
    });
    // The helper was orphaned to this test (a subreaper): reap it here, by pid.
    wait_until(Duration::from_secs(10), "the helper reaped", || {
        let mut status = 0;
        // SAFETY: waitpid on one pid this test's fixture created.
        unsafe { libc::waitpid(grandchild[0], &mut status, libc::WNOHANG) > 0 }
    });
    // The master lives, keeps its other workers, and replaces the killed one.
    wait_until(Duration::from_secs(10), "a replacement worker", || {
        let now = workers(&r, f.pid);
        now.len() == 3 && others.iter().all(|p| now.contains(p)) && !now.contains(&v.pid)
    });
}

#[test]
fn a_worker_that_ignores_term_is_killed_at_the_deadline() {
    become_subreaper();
    let f = Fixture::python("leaky_workers.py", &["3", "0", "10", "0", "1"]);
    let r = RealProc::default();
    wait_until(Duration::from_secs(10), "three workers", || {
        workers(&r, f.pid).len() == 3
    });
    let a = until_kill(&f);
    let v = victim_of(&a);
    let mut sys = PidOnlySys::default();
    let k = ChildKill::begin(&mut sys, v, Duration::from_millis(300), Instant::now())
        .expect("child alive");
    assert_eq!(k.victims, vec![v]);
    assert!(sys.sent.contains(&(KillTarget::Pid(v.pid), Signal::TERM)));
    assert!(
        sys.sent
            .contains(&(KillTarget::Pid(v.pid), Signal(libc::SIGCONT)))
    );
    // TERM is ignored: the worker is still there (not a zombie) after TERM and CONT.
    assert_eq!(k.alive(&r), vec![v]);
    wait_until(Duration::from_secs(5), "the kill deadline", || {
        Instant::now() >= k.deadline
    });
    assert_eq!(k.escalate(&mut sys), 1);
    assert_eq!(
        sys.sent.last(),
        Some(&(KillTarget::Pid(v.pid), Signal::KILL))
    );
    wait_until(Duration::from_secs(10), "the worker gone", || k.done(&r));
    assert_eq!(k.escalate(&mut sys), 0, "nothing left to kill");
    wait_until(Duration::from_secs(10), "master replaced it", || {
        workers(&r, f.pid).len() == 3
    });
}

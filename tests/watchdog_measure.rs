//! SPEC section 5, measuring: real process trees (Python fixtures started by this test)
//! read through /proc: RSS growth, descendants, `totalmem` vs `mem`, CPU percent, and a
//! `Watchdog` cycle on real processes. Signals only the groups this test created.

mod watchdog_util;

use gsup::procfs::{ProcSource, RealProc};
use gsup::rule::{Action, Check, Condition, Op, Resource, Value, Window};
use gsup::watchdog::{JobKey, Target, WatchSpec, Watchdog, sample_tree};
use std::time::{Duration, Instant};
use watchdog_util::{Fixture, become_subreaper, wait_until};

const MB: u64 = 1 << 20;

#[test]
fn leaky_poller_rss_grows() {
    let f = Fixture::python("leaky_poller.py", &["10", "0.05", "150"]);
    let r = RealProc::default();
    // Right after exec the image is not resident yet: wait for the interpreter.
    wait_until(Duration::from_secs(10), "python up", || {
        r.stat(f.pid)
            .is_some_and(|s| s.rss_pages * gsup::procfs::page_bytes() > 5 * MB)
    });
    let first = sample_tree(&r, f.pid).expect("sample");
    assert_eq!(first.root, f.pid);
    assert_eq!(first.procs.len(), 1, "no descendants");
    let page = gsup::procfs::page_bytes();
    let start = first.procs[0].rss_pages * page;
    wait_until(Duration::from_secs(20), "RSS to grow by 100 MB", || {
        sample_tree(&r, f.pid).is_ok_and(|s| s.procs[0].rss_pages * page >= start + 100 * MB)
    });
    let s = sample_tree(&r, f.pid).expect("sample");
    let v = s.values(Some(&first), f.pid).expect("values");
    assert_eq!(v.mem, v.totalmem);
    assert_eq!(v.children, 0);
    assert!(v.uptime < Duration::from_secs(60), "{:?}", v.uptime);
}

#[test]
fn resque_like_child_leak_shows_in_totalmem_not_mem() {
    become_subreaper();
    let f = Fixture::python("resque_like.py", &["10", "0.05"]);
    let r = RealProc::default();
    wait_until(
        Duration::from_secs(20),
        "the job child to hold 80 MB",
        || {
            sample_tree(&r, f.pid)
                .ok()
                .and_then(|s| s.values(None, f.pid))
                .is_some_and(|v| v.totalmem >= v.mem + 80 * MB)
        },
    );
    let s = sample_tree(&r, f.pid).expect("sample");
    let v = s.values(None, f.pid).expect("values");
    assert!(v.mem < 40 * MB, "master stays small: {}", v.mem);
    assert_eq!(v.children, 1);
    let kids = s.direct_children(f.pid);
    assert_eq!(kids.len(), 1);
    let below: Vec<i32> = gsup::procfs::walk(&r, f.pid)
        .iter()
        .skip(1)
        .map(|p| p.pid)
        .collect();
    assert_eq!(below, kids);
    let child = s.get(kids[0]).expect("child");
    assert_eq!(child.ppid, f.pid);
    assert_eq!(child.pgid, f.pid, "the job child shares its master's group");
}

#[test]
fn cpu_of_a_busy_loop_is_near_one_core_and_a_sleeper_near_zero() {
    let busy = Fixture::python_code("while True: pass");
    let idle = Fixture::python_code("import time; time.sleep(600)");
    let r = RealProc::default();
    // Let both start (python's own start-up costs CPU).
    wait_until(Duration::from_secs(10), "interpreters up", || {
        r.stat(busy.pid).is_some_and(|s| s.cpu_ticks > 20)
            && r.stat(idle.pid).is_some_and(|s| s.state == 'S')
    });
    let b0 = sample_tree(&r, busy.pid).expect("busy");
    let run0 = run_ns(busy.pid);
    let i0 = sample_tree(&r, idle.pid).expect("idle");
    let t0 = Instant::now();
    wait_until(Duration::from_secs(10), "one second to pass", || {
        t0.elapsed() >= Duration::from_secs(1)
    });
    let b1 = sample_tree(&r, busy.pid).expect("busy");
    let run1 = run_ns(busy.pid);
    let i1 = sample_tree(&r, idle.pid).expect("idle");
    let cpu = b1.values(Some(&b0), busy.pid).expect("v").cpu.expect("cpu");
    let idle_cpu = i1.values(Some(&i0), idle.pid).expect("v").cpu.expect("cpu");
    // The same interval measured independently: scheduler run time in ns over the
    // CLOCK_BOOTTIME delta. A loaded machine gives the loop less than a core; the two
    // figures still agree (ticks are 10 ms: a few points of rounding).
    let wall = (b1.boot_time - b0.boot_time).as_secs_f64();
    let sched = (run1 - run0) as f64 / 1e9 / wall * 100.0;
    eprintln!("busy loop: {cpu:.1}% by ticks, {sched:.1}% by schedstat");
    assert!((cpu - sched).abs() < 5.0, "{cpu}% vs {sched}%");
    assert!((10.0..=105.0).contains(&cpu), "busy loop at {cpu}%");
    assert!(idle_cpu < 3.0, "sleeper at {idle_cpu}%");
}

/// Time on CPU in ns from /proc/PID/schedstat (independent of the tick counters).
fn run_ns(pid: i32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).expect("schedstat");
    text.split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .expect("run time")
}

fn check(resource: Resource, op: Op, value: Value, window: Window) -> Check {
    Check {
        source: format!("if {resource:?} {op:?} {value:?} {window:?} then restart"),
        condition: Condition::Resource {
            resource,
            op,
            value,
        },
        window,
        action: Action::Restart,
    }
}

#[test]
fn watchdog_cycle_on_real_processes_restarts_for_totalmem_only() {
    become_subreaper();
    let f = Fixture::python("resque_like.py", &["10", "0.05"]);
    let mut w = Watchdog::new(Duration::from_millis(100));
    let key = JobKey {
        name: "resque".into(),
        instance: String::new(),
    };
    let spec = WatchSpec {
        cycle: None,
        checks: vec![
            check(
                Resource::Mem,
                Op::Gt,
                Value::Bytes(60 * MB),
                Window::Consecutive(2),
            ),
            check(
                Resource::TotalMem,
                Op::Gt,
                Value::Bytes(60 * MB),
                Window::Consecutive(2),
            ),
            check(Resource::Children, Op::Gt, Value::Count(5), Window::Once),
        ],
        child_checks: vec![],
    };
    w.watch(key.clone(), spec, Instant::now());
    let jobs = [(key.clone(), f.pid, 0)];
    let mut fired = Vec::new();
    let mut cycles = 0;
    wait_until(Duration::from_secs(30), "a check to fire", || {
        let now = Instant::now();
        if w.due().is_some_and(|d| d <= now) {
            cycles += 1;
            fired = w.run_cycle(now, &jobs);
        }
        !fired.is_empty()
    });
    assert!(cycles >= 2, "for 2 cycles needs two cycles, took {cycles}");
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert!(fired[0].check_source.contains("TotalMem"), "{fired:?}");
    assert_eq!(fired[0].target, Target::JobWide);
    assert!(fired[0].value_text.starts_with("totalmem "));
    let st = w.status(&key).expect("status");
    assert!(st.memory_bytes > 60 * MB);
    assert!(st.cpu_percent.is_some());
}

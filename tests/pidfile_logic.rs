//! Table tests of the pure pidfile logic (SPEC section 4): `verify` against a fake
//! process table, `decide`, `TreeRecord` attribution, `descendants`. No real processes.

use gsup::pidfile::{
    Decision, FollowInput, JobView, PidfileError, Refusal, TreeRecord, Unattributed, decide,
    is_ready, verify,
};
use gsup::procfs::{Proc, ProcTable};
use std::collections::BTreeMap;

const DAEMON: i32 = 10;
const JOB_START: u64 = 1000;

/// A process and its uid, for `ProcTable::insert`.
fn p(pid: i32, ppid: i32, pgid: i32, sid: i32, start: u64, uid: u32) -> (Proc, u32) {
    let proc_ = Proc {
        pid,
        ppid,
        pgid,
        sid,
        state: 'S',
        start_ticks: start,
        cpu_ticks: 0,
        threads: 1,
        rss_pages: 0,
    };
    (proc_, uid)
}

/// Inserts a `p(...)` into a table.
fn put(t: &mut ProcTable, (proc_, uid): (Proc, u32)) {
    t.insert(proc_, uid);
}

/// A host: init (1), the daemon (10), job A as uid 500: first master 100
/// (session 100) with worker 101; a new master 102 (child of 100); job B's
/// process 200; a foreign sleep 300 of uid 500 in its own session; another
/// user's process 400; an old process 50 of uid 500 started before the job.
fn table() -> ProcTable {
    let mut t = ProcTable::new();
    put(&mut t, p(1, 0, 1, 1, 1, 0));
    put(&mut t, p(DAEMON, 1, 10, 10, 5, 0));
    put(&mut t, p(100, DAEMON, 100, 100, JOB_START, 500));
    put(&mut t, p(101, 100, 100, 100, JOB_START + 5, 500));
    put(&mut t, p(102, 100, 100, 100, JOB_START + 50, 500));
    put(&mut t, p(103, 102, 100, 100, JOB_START + 60, 500));
    put(&mut t, p(200, DAEMON, 200, 200, JOB_START + 1, 500));
    put(&mut t, p(300, 1, 300, 300, JOB_START + 70, 500));
    put(&mut t, p(400, 1, 400, 400, JOB_START + 80, 600));
    put(&mut t, p(50, 1, 50, 50, 900, 500));
    t
}

fn known_a() -> BTreeMap<i32, u64> {
    BTreeMap::from([(100, JOB_START)])
}

fn is_b(pid: i32) -> bool {
    pid == 200
}

fn view<'a>(known: &'a BTreeMap<i32, u64>, other: &'a dyn Fn(i32) -> bool) -> JobView<'a> {
    JobView {
        uid: Some(500),
        start_time: JOB_START,
        pgid: Some(100),
        known,
        cgroup: None,
        daemon_pid: DAEMON,
        other_job: other,
    }
}

#[test]
fn verify_accepts_known_descendant_and_session_member() {
    let t = table();
    let k = known_a();
    let v = view(&k, &is_b);
    assert_eq!(verify(100, &v, &t), Ok(()));
    assert_eq!(verify(102, &v, &t), Ok(()));
    assert_eq!(verify(103, &v, &t), Ok(()));
}

#[test]
fn verify_accepts_new_master_after_old_one_died() {
    // Unicorn after QUIT: the old master 100 is gone, 102 re-parented to the
    // daemon, but still in session 100.
    let mut t = table();
    t.remove(100);
    t.remove(101);
    put(&mut t, p(102, DAEMON, 100, 100, JOB_START + 50, 500));
    let k = BTreeMap::new();
    let v = view(&k, &is_b);
    assert_eq!(verify(102, &v, &t), Ok(()));
}

#[test]
fn verify_accepts_adopted_setsid_master_only_when_known() {
    // nginx: the master called setsid (own session 120), its launcher exited.
    let mut t = table();
    put(&mut t, p(120, DAEMON, 120, 120, JOB_START + 3, 500));
    let k = known_a();
    assert_eq!(verify(120, &view(&k, &is_b), &t), Err(Refusal::NotInJob));
    let mut k2 = known_a();
    k2.insert(120, JOB_START + 3);
    assert_eq!(verify(120, &view(&k2, &is_b), &t), Ok(()));
}

#[test]
fn verify_accepts_cgroup_member() {
    let mut t = table();
    put(&mut t, p(130, DAEMON, 130, 130, JOB_START + 9, 500));
    t.set_cgroup(130, "/gsup/a");
    let k = known_a();
    let mut v = view(&k, &is_b);
    assert_eq!(verify(130, &v, &t), Err(Refusal::NotInJob));
    v.cgroup = Some("/gsup/a");
    assert_eq!(verify(130, &v, &t), Ok(()));
    v.cgroup = Some("/gsup/b");
    assert_eq!(verify(130, &v, &t), Err(Refusal::NotInJob));
    // A group the job made below its own is the job's; a name that only
    // begins the same is not.
    t.set_cgroup(130, "/gsup/a/workers");
    v.cgroup = Some("/gsup/a");
    assert_eq!(verify(130, &v, &t), Ok(()));
    t.set_cgroup(130, "/gsup/ab");
    assert_eq!(verify(130, &v, &t), Err(Refusal::NotInJob));
}

#[test]
fn verify_refuses_each_reason() {
    let mut t = table();
    let mut z = p(104, 100, 100, 100, JOB_START + 90, 500);
    z.0.state = 'Z';
    put(&mut t, z);
    let k = known_a();
    let v = view(&k, &is_b);
    assert_eq!(verify(1, &v, &t), Err(Refusal::Init));
    assert_eq!(verify(DAEMON, &v, &t), Err(Refusal::Daemon));
    assert_eq!(verify(999, &v, &t), Err(Refusal::NoSuchProcess));
    assert_eq!(verify(104, &v, &t), Err(Refusal::Exited));
    assert_eq!(verify(200, &v, &t), Err(Refusal::OtherJob));
    assert_eq!(
        verify(400, &v, &t),
        Err(Refusal::OtherUser {
            uid: 600,
            job_uid: 500
        })
    );
    assert_eq!(
        verify(50, &v, &t),
        Err(Refusal::StartedBeforeJob {
            started: 900,
            job_started: JOB_START
        })
    );
    assert_eq!(verify(300, &v, &t), Err(Refusal::NotInJob));
}

#[test]
fn verify_root_job_allows_any_user_but_still_needs_belonging() {
    let mut t = table();
    put(&mut t, p(105, 100, 100, 100, JOB_START + 95, 33));
    let k = known_a();
    let mut v = view(&k, &is_b);
    v.uid = None;
    assert_eq!(verify(105, &v, &t), Ok(()));
    assert_eq!(verify(400, &v, &t), Err(Refusal::NotInJob));
}

#[test]
fn verify_ignores_a_recycled_known_pid() {
    // 100 is known with start 1000, but the process now at 100 started later:
    // a recycled pid is neither a known process nor a known ancestor.
    let mut t = ProcTable::new();
    put(&mut t, p(100, 1, 100, 100, JOB_START + 500, 500));
    put(&mut t, p(140, 100, 100, 100, JOB_START + 501, 500));
    let k = known_a();
    let mut v = view(&k, &is_b);
    v.pgid = None;
    assert_eq!(verify(100, &v, &t), Err(Refusal::NotInJob));
    assert_eq!(verify(140, &v, &t), Err(Refusal::NotInJob));
}

#[test]
fn refusals_say_why() {
    assert_eq!(Refusal::Init.to_string(), "it names PID 1");
    assert_eq!(Refusal::Daemon.to_string(), "it names the gsup daemon");
    assert_eq!(
        Refusal::OtherJob.to_string(),
        "the process belongs to another job"
    );
    assert!(Refusal::NoSuchProcess.is_dead());
    assert!(Refusal::Exited.is_dead());
    assert!(!Refusal::NotInJob.is_dead());
}

#[test]
fn the_walk_takes_the_tree_only() {
    let t = table();
    let mut d: Vec<i32> = gsup::procfs::walk(&t, 100).iter().map(|p| p.pid).collect();
    d.sort_unstable();
    assert_eq!(d, vec![100, 101, 102, 103]);
    assert_eq!(gsup::procfs::walk(&t, 103).len(), 1);
}

fn input(
    main: Option<i32>,
    alive: bool,
    read: Result<i32, PidfileError>,
    verdict: Option<Result<(), Refusal>>,
    expired: bool,
) -> FollowInput {
    FollowInput {
        main,
        main_alive: alive,
        read,
        verdict,
        grace_expired: expired,
    }
}

#[test]
fn decide_every_branch() {
    use Decision::*;
    // Names the live main: keep.
    assert_eq!(
        decide(&input(Some(5), true, Ok(5), Some(Ok(())), false)),
        Keep
    );
    // Names the main the supervisor saw die (a recycled pid): lost.
    assert_eq!(
        decide(&input(Some(5), false, Ok(5), Some(Ok(())), false)),
        WaitGrace
    );
    assert_eq!(
        decide(&input(Some(5), false, Ok(5), Some(Ok(())), true)),
        Gone
    );
    // Names another live member: replace, whether the main lives or not.
    assert_eq!(
        decide(&input(Some(5), true, Ok(6), Some(Ok(())), false)),
        Replace {
            from: Some(5),
            to: 6
        }
    );
    assert_eq!(
        decide(&input(Some(5), false, Ok(6), Some(Ok(())), true)),
        Replace {
            from: Some(5),
            to: 6
        }
    );
    assert_eq!(
        decide(&input(None, false, Ok(6), Some(Ok(())), false)),
        Replace { from: None, to: 6 }
    );
    // Names a dead process (gunicorn's window): keep while the main lives.
    let dead = Some(Err(Refusal::NoSuchProcess));
    assert_eq!(
        decide(&input(Some(5), true, Ok(9), dead.clone(), false)),
        Keep
    );
    assert_eq!(
        decide(&input(Some(5), false, Ok(9), dead.clone(), false)),
        WaitGrace
    );
    assert_eq!(decide(&input(Some(5), false, Ok(9), dead, true)), Gone);
    // Missing or empty: keep while the main lives, else grace.
    for e in [PidfileError::Missing, PidfileError::Empty] {
        assert_eq!(
            decide(&input(Some(5), true, Err(e.clone()), None, false)),
            Keep
        );
        assert_eq!(
            decide(&input(Some(5), false, Err(e.clone()), None, false)),
            WaitGrace
        );
        assert_eq!(decide(&input(Some(5), false, Err(e), None, true)), Gone);
    }
    // Names a process outside the job: refused even while the main lives.
    assert_eq!(
        decide(&input(
            Some(5),
            true,
            Ok(1),
            Some(Err(Refusal::Init)),
            false
        )),
        Refused {
            pid: Some(1),
            reason: "it names PID 1".into()
        }
    );
    assert_eq!(
        decide(&input(Some(5), true, Ok(1), Some(Err(Refusal::Init)), true)),
        Gone
    );
    // A pid read but not verified is refused (verification is never skipped).
    assert!(matches!(
        decide(&input(Some(5), true, Ok(7), None, false)),
        Refused { pid: Some(7), .. }
    ));
    // A refused file (garbage, symlink): refused.
    assert_eq!(
        decide(&input(
            Some(5),
            true,
            Err(PidfileError::Symlink),
            None,
            false
        )),
        Refused {
            pid: None,
            reason: "refused: the pidfile is a symlink".into()
        }
    );
    assert_eq!(
        decide(&input(
            Some(5),
            false,
            Err(PidfileError::Garbage),
            None,
            true
        )),
        Gone
    );
}

#[test]
fn ready_needs_a_verified_pid() {
    assert!(is_ready(&Ok(5), Some(&Ok(()))));
    assert!(!is_ready(&Ok(5), Some(&Err(Refusal::NotInJob))));
    assert!(!is_ready(&Ok(5), None));
    assert!(!is_ready(&Err(PidfileError::Empty), None));
}

/// Tree: job "a" (first pid 100, uid 500), job "b" (first pid 200, uid 500).
fn record() -> TreeRecord<&'static str> {
    let mut r = TreeRecord::new();
    r.job_started("a", 100, JOB_START, Some(500));
    r.job_started("b", 200, JOB_START + 1, Some(500));
    r
}

#[test]
fn tree_attributes_an_orphan_to_the_one_job_that_lost_a_process() {
    // nginx: launcher 100 exits, its setsid'd master 120 is now the daemon's.
    let mut r = record();
    let mut t = table();
    t.remove(100);
    put(&mut t, p(120, DAEMON, 120, 120, JOB_START + 3, 500));
    let (adopted, left) = r.attribute_orphans(&[(100, "a")], &[120, 200], &t);
    assert_eq!(adopted, vec![(120, "a")]);
    assert!(left.is_empty());
    assert_eq!(r.owner(120), Some(&"a"));
    assert_eq!(r.owner(100), None);
    let known = &r.job(&"a").expect("job a").known;
    assert_eq!(known.get(&120), Some(&(JOB_START + 3)));
}

#[test]
fn tree_attributes_by_session_first() {
    // Unicorn: old master 100 exits, new master 102 (session 100) re-parented;
    // job b lost a process in the same batch, but the session decides.
    let mut r = record();
    r.add(&"b", 201, JOB_START + 2);
    let mut t = table();
    t.remove(100);
    put(&mut t, p(102, DAEMON, 100, 100, JOB_START + 50, 500));
    let (adopted, left) = r.attribute_orphans(&[(100, "a"), (201, "b")], &[102, 200], &t);
    assert_eq!(adopted, vec![(102, "a")]);
    assert!(left.is_empty());
}

#[test]
fn tree_leaves_ambiguous_orphans_alone() {
    let mut r = record();
    r.add(&"b", 201, JOB_START + 2);
    let mut t = table();
    put(&mut t, p(130, DAEMON, 130, 130, JOB_START + 9, 500));
    let (adopted, left) = r.attribute_orphans(&[(100, "a"), (201, "b")], &[130], &t);
    assert!(adopted.is_empty());
    assert_eq!(left, vec![(130, Unattributed::Ambiguous)]);
    // Judged once: a later batch with a single loser does not take it.
    let (adopted, left) = r.attribute_orphans(&[(200, "b")], &[130], &t);
    assert!(adopted.is_empty());
    assert!(left.is_empty());
    assert_eq!(r.owner(130), None);
}

#[test]
fn tree_needs_a_candidate() {
    let mut r = record();
    let mut t = table();
    put(&mut t, p(130, DAEMON, 130, 130, JOB_START + 9, 500));
    let (adopted, left) = r.attribute_orphans(&[], &[130], &t);
    assert!(adopted.is_empty());
    assert_eq!(left, vec![(130, Unattributed::NoCandidate)]);
}

#[test]
fn tree_checks_start_time_and_user() {
    let mut r = record();
    let mut t = table();
    // Started before job a: never a's.
    put(&mut t, p(131, DAEMON, 131, 131, JOB_START - 1, 500));
    // Another user than job a's.
    put(&mut t, p(132, DAEMON, 132, 132, JOB_START + 9, 600));
    let (adopted, left) = r.attribute_orphans(&[(101, "a")], &[131, 132], &t);
    assert!(adopted.is_empty());
    assert_eq!(
        left,
        vec![(131, Unattributed::Mismatch), (132, Unattributed::Mismatch)]
    );
}

#[test]
fn tree_skips_children_it_knows() {
    let mut r = record();
    let t = table();
    let (adopted, left) = r.attribute_orphans(&[], &[100, 200], &t);
    assert!(adopted.is_empty());
    assert!(left.is_empty());
    r.forget_job(&"a");
    assert_eq!(r.owner(100), None);
    assert_eq!(r.owner(200), Some(&"b"));
}

#[test]
fn parse_stat_handles_odd_command_names() {
    use gsup::procfs::{parse_cgroup_v2, parse_stat, parse_status_uid};
    let line =
        b"4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10";
    let info = parse_stat(line).expect("parses");
    assert_eq!(
        (
            info.pid,
            info.ppid,
            info.pgid,
            info.sid,
            info.state,
            info.start_ticks
        ),
        (4242, 1, 4242, 4242, 'S', 987654)
    );
    assert_eq!(parse_stat(b"garbage"), None);
    assert_eq!(
        parse_status_uid("Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n"),
        Some(1000)
    );
    assert_eq!(
        parse_cgroup_v2("4:memory:/x\n0::/gsup/app\n"),
        Some("/gsup/app".to_string())
    );
}

#[test]
fn job_members_is_the_whole_job_and_nothing_else() {
    let mut t = table();
    // A worker that called setsid is still a descendant of the job.
    put(&mut t, p(106, 102, 106, 106, JOB_START + 99, 500));
    let k = known_a();
    let v = view(&k, &is_b);
    let all: Vec<Proc> = t.iter().copied().collect();
    let mut m = gsup::pidfile::job_members(&v, &all, &t);
    m.sort_unstable();
    assert_eq!(m, vec![100, 101, 102, 103, 106]);
}

#[test]
fn tree_builds_views() {
    let r = record();
    let other = |pid: i32| r.is_other_job(&"a", pid);
    let job = r.job(&"a").expect("job a");
    let v = job.view(DAEMON, &other);
    assert_eq!(
        (v.uid, v.start_time, v.pgid),
        (Some(500), JOB_START, Some(100))
    );
    let t = table();
    assert_eq!(verify(200, &v, &t), Err(Refusal::OtherJob));
    assert_eq!(verify(102, &v, &t), Ok(()));
    assert!(!r.is_other_job(&"a", 100));
    assert!(!r.is_other_job(&"a", 999));
}

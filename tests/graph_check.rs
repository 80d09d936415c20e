//! Tests of the dependency graph (SPEC section 2: order, cycles) through its
//! public API with hand-built expressions, and of `gsup check` on real dirs.

use gsup::expr::{ArgMatch, EventMatch, Expr};
use gsup::graph::{DepGraph, Key, Reference};

fn ev(event: &str, job: &str) -> Expr {
    Expr::Match(EventMatch {
        event: event.into(),
        args: vec![ArgMatch::Positional(job.into())],
    })
}

fn or(a: Expr, b: Expr) -> Expr {
    Expr::Or(Box::new(a), Box::new(b))
}

fn and(a: Expr, b: Expr) -> Expr {
    Expr::And(Box::new(a), Box::new(b))
}

fn runlevel() -> Expr {
    Expr::Match(EventMatch {
        event: "runlevel".into(),
        args: vec![ArgMatch::Positional("[2345]".into())],
    })
}

/// A job given as (name, start_on, stop_on).
type Spec = (&'static str, Option<Expr>, Option<Expr>);

fn graph(specs: &[Spec]) -> DepGraph {
    DepGraph::build(specs.iter().map(|(n, a, b)| (*n, a.as_ref(), b.as_ref())))
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn waves(v: &[&[&str]]) -> Vec<Vec<String>> {
    v.iter().map(|w| names(w)).collect()
}

/// The seed's Gitorious host, as `services.d/gitorious` declares it.
fn gitorious() -> Vec<Spec> {
    vec![
        (
            "gitorious/git-daemons",
            Some(ev("started", "gitorious/unicorn")),
            None,
        ),
        (
            "gitorious/git-proxy",
            Some(ev("started", "gitorious/git-daemons")),
            Some(ev("stopped", "gitorious/git-daemons")),
        ),
        ("gitorious/post-deploy", None, None),
        (
            "gitorious/resque-worker",
            Some(ev("started", "gitorious/unicorn")),
            None,
        ),
        ("gitorious/sphinx", Some(runlevel()), None),
        ("gitorious/unicorn", Some(runlevel()), None),
    ]
}

#[test]
fn seed_order_unicorn_then_git_daemons_then_git_proxy() {
    let g = graph(&gitorious());
    assert_eq!(g.cycles(), &[] as &[Vec<String>]);
    assert_eq!(g.missing(), vec![]);
    assert_eq!(
        g.start_waves(),
        waves(&[
            &[
                "gitorious/post-deploy",
                "gitorious/sphinx",
                "gitorious/unicorn"
            ],
            &["gitorious/git-daemons", "gitorious/resque-worker"],
            &["gitorious/git-proxy"],
        ])
    );
    assert_eq!(
        g.start_order(),
        names(&[
            "gitorious/post-deploy",
            "gitorious/sphinx",
            "gitorious/unicorn",
            "gitorious/git-daemons",
            "gitorious/resque-worker",
            "gitorious/git-proxy",
        ])
    );
}

#[test]
fn stop_waves_are_start_waves_reversed() {
    let g = graph(&gitorious());
    let mut reversed = g.start_waves();
    reversed.reverse();
    assert_eq!(g.stop_waves(), reversed);
    assert_eq!(g.stop_waves()[0], names(&["gitorious/git-proxy"]));
}

#[test]
fn direct_dependencies_and_dependents() {
    let g = graph(&gitorious());
    assert_eq!(
        g.dependents_of("gitorious/unicorn"),
        names(&["gitorious/git-daemons", "gitorious/resque-worker"])
    );
    assert_eq!(
        g.dependencies_of("gitorious/git-proxy"),
        names(&["gitorious/git-daemons"])
    );
    assert_eq!(g.dependencies_of("gitorious/unicorn"), Vec::<String>::new());
    assert_eq!(g.dependencies_of("no/such"), Vec::<String>::new());
    // Both of git-proxy's keys name git-daemons: one edge, two references.
    let refs: Vec<(Key, &str)> = g
        .edge_references("gitorious/git-daemons", "gitorious/git-proxy")
        .iter()
        .map(|r| (r.key, r.event.as_str()))
        .collect();
    assert_eq!(
        refs,
        vec![(Key::StartOn, "started"), (Key::StopOn, "stopped")]
    );
}

#[test]
fn wave_is_one_past_the_deepest_dependency() {
    // d waits for a (wave 0) and c (wave 2): d is in wave 3, not 1.
    let g = graph(&[
        ("a", None, None),
        ("b", Some(ev("started", "a")), None),
        ("c", Some(ev("starting", "b")), None),
        ("d", Some(and(ev("started", "a"), ev("started", "c"))), None),
    ]);
    assert_eq!(g.start_waves(), waves(&[&["a"], &["b"], &["c"], &["d"]]));
}

#[test]
fn or_counts_every_alternative_as_a_dependency() {
    let g = graph(&[
        ("a", None, None),
        ("b", None, None),
        ("c", Some(or(ev("started", "a"), ev("stopped", "b"))), None),
    ]);
    assert_eq!(g.dependencies_of("c"), names(&["a", "b"]));
    assert_eq!(g.start_waves(), waves(&[&["a", "b"], &["c"]]));
}

#[test]
fn stop_on_started_is_exclusion_not_order() {
    // b stops when a starts, a stops when b starts: no cycle, no order.
    let g = graph(&[
        ("a", None, Some(ev("started", "b"))),
        ("b", None, Some(ev("started", "a"))),
    ]);
    assert_eq!(g.cycles(), &[] as &[Vec<String>]);
    assert_eq!(g.start_waves(), waves(&[&["a", "b"]]));
}

#[test]
fn self_loop_is_a_cycle_of_one() {
    let g = graph(&[("a", Some(ev("started", "a")), None), ("b", None, None)]);
    assert_eq!(g.cycles(), &[names(&["a"])]);
    assert!(g.on_cycle("a"));
    assert!(!g.on_cycle("b"));
    assert_eq!(g.start_waves(), waves(&[&["b"]]));
}

#[test]
fn two_job_cycle_names_both_and_others_still_order() {
    let g = graph(&[
        ("x/a", Some(ev("started", "x/b")), None),
        ("x/b", None, Some(ev("stopped", "x/a"))),
        ("x/c", Some(runlevel()), None),
        ("x/d", Some(ev("started", "x/c")), None),
    ]);
    assert_eq!(g.cycles(), &[names(&["x/a", "x/b"])]);
    assert_eq!(
        g.rejected().iter().cloned().collect::<Vec<_>>(),
        names(&["x/a", "x/b"])
    );
    assert_eq!(g.start_waves(), waves(&[&["x/c"], &["x/d"]]));
    assert_eq!(g.stop_waves(), waves(&[&["x/d"], &["x/c"]]));
}

#[test]
fn three_job_cycle_in_waits_for_order_from_smallest_name() {
    // a waits for c, c waits for b, b waits for a.
    let g = graph(&[
        ("a", Some(ev("started", "c")), None),
        ("b", Some(ev("started", "a")), None),
        ("c", Some(ev("started", "b")), None),
        ("e", Some(ev("started", "a")), None),
    ]);
    assert_eq!(g.cycles(), &[names(&["a", "c", "b"])]);
    // e waits for a rejected job: it still loads, ordered as if unreferenced.
    assert_eq!(g.start_waves(), waves(&[&["e"]]));
}

#[test]
fn two_separate_cycles_are_both_reported_sorted() {
    let g = graph(&[
        ("p", Some(ev("started", "q")), None),
        ("q", Some(ev("started", "p")), None),
        ("a", Some(ev("started", "a")), None),
        ("z", None, None),
    ]);
    assert_eq!(g.cycles(), &[names(&["a"]), names(&["p", "q"])]);
    assert_eq!(g.start_waves(), waves(&[&["z"]]));
}

#[test]
fn tangle_of_cycles_is_one_sorted_group() {
    // a <-> b and b <-> c share b: one component, every name reported.
    let g = graph(&[
        ("a", Some(ev("started", "b")), None),
        ("b", Some(or(ev("started", "a"), ev("started", "c"))), None),
        ("c", Some(ev("started", "b")), None),
    ]);
    assert_eq!(g.cycles(), &[names(&["a", "b", "c"])]);
    assert_eq!(g.start_waves(), Vec::<Vec<String>>::new());
}

#[test]
fn missing_reference_is_reported_and_does_not_block_order() {
    let g = graph(&[
        ("web", Some(ev("started", "db")), Some(ev("stopped", "db"))),
        ("db2", None, None),
    ]);
    let missing = g.missing();
    assert_eq!(
        missing,
        vec![
            (
                "web".to_string(),
                Reference {
                    key: Key::StartOn,
                    event: "started".into(),
                    target: "db".into()
                }
            ),
            (
                "web".to_string(),
                Reference {
                    key: Key::StopOn,
                    event: "stopped".into(),
                    target: "db".into()
                }
            ),
        ]
    );
    assert_eq!(g.start_waves(), waves(&[&["db2", "web"]]));
}

#[test]
fn dot_export_is_deterministic_and_marks_cycles_and_missing() {
    let g = graph(&[
        ("a", None, None),
        ("b", Some(ev("started", "a")), Some(ev("stopped", "a"))),
        ("c", Some(ev("started", "c")), None),
        ("d", Some(ev("started", "ghost")), None),
    ]);
    let want = "\
digraph gsup {
  rankdir=LR;
  node [shape=box];
  \"a\";
  \"b\";
  \"c\" [color=red, fontcolor=red];
  \"d\";
  \"ghost\" [style=dashed, color=grey, fontcolor=grey];
  \"a\" -> \"b\" [label=\"started,stopped\"];
  \"c\" -> \"c\" [label=\"started\"];
  \"ghost\" -> \"d\" [label=\"started\", style=dashed, color=grey];
}
";
    assert_eq!(g.to_dot(), want);
}

// ---- `gsup check` / `gsup graph` on real config dirs (SPEC section 3) ----

use gsup::cli::check::{run_check, run_graph};
use std::path::{Path, PathBuf};

fn services_d() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("services.d")
}

/// Runs `run_check` on `dir`: (exit code, stdout, stderr).
fn check(dir: &Path) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_check(dir, &mut out, &mut err);
    let text = |v: Vec<u8>| String::from_utf8(v).expect("utf-8 output");
    (code, text(out), text(err))
}

/// `gsup check` on the repository's `services.d`: the Gitorious jobs in the
/// seed's order. The demo is its own config dir (`--config-dir
/// services.d/demo`, where its jobs are `web`, `worker`...), so seen from
/// `services.d` its references to `web` name no job: warnings, exit 0.
const SERVICES_D_REPORT: &str = "\
services.d/demo/leaky-poller.yaml:4:1: warning: start_on: started web: no such job
services.d/demo/leaky-poller.yaml:5:1: warning: stop_on: stopping web: no such job
services.d/demo/worker.yaml:4:1: warning: start_on: started web: no such job
services.d/demo/worker.yaml:5:1: warning: stop_on: stopping web: no such job
start order:
  1: demo/leaky-poller demo/web demo/worker gitorious/post-deploy gitorious/sphinx gitorious/unicorn
  2: gitorious/git-daemons gitorious/resque-worker
  3: gitorious/git-proxy
9 jobs, 0 errors, 4 warnings
";

#[test]
fn check_services_d_is_clean_and_in_seed_order() {
    // A relative path, as typed at the repository root (cargo runs tests there).
    let (code, out, err) = check(Path::new("services.d"));
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, SERVICES_D_REPORT, "")
    );
}

#[test]
fn check_demo_dir_orders_web_before_its_clients() {
    let (code, out, err) = check(&services_d().join("demo"));
    let want = "\
start order:
  1: web
  2: leaky-poller worker
3 jobs, 0 errors, 0 warnings
";
    assert_eq!((code, out.as_str(), err.as_str()), (0, want, ""));
}

/// A config dir with a 3-job cycle, a self-loop through `stop_on`, a job
/// waiting for a rejected job, a missing reference and a bad file.
fn broken_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = [
        ("a.yaml", "exec: [sleep, \"60\"]\nstart_on: started c\n"),
        ("b.yaml", "exec: [sleep, \"60\"]\nstart_on: started a\n"),
        ("c.yaml", "exec: [sleep, \"60\"]\nstart_on: started b\n"),
        ("d.yaml", "exec: [sleep, \"60\"]\nstart_on: started a\n"),
        (
            "e.yaml",
            "exec: [sleep, \"60\"]\nstart_on: runlevel [2345]\n",
        ),
        (
            "f.yaml",
            "exec: [sleep, \"60\"]\nstart_on: started e and stopped ghost\n",
        ),
        (
            "g.yaml",
            "exec: [sleep, \"60\"]\ndescription: loops\nstop_on: stopping g\n",
        ),
        ("bad.yaml", "exec: [sleep, \"60\"]\nrespwn: true\n"),
        ("notes.txt", "not a unit\n"),
    ];
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write unit");
    }
    dir
}

#[test]
fn check_reports_every_job_on_a_cycle_and_the_bad_file() {
    let dir = broken_dir();
    let (code, out, err) = check(dir.path());
    let d = dir.path().display();
    let want = format!(
        "\
{d}/a.yaml:2:1: dependency cycle: a -> c -> b -> a (each waits for the next); a is not loaded
{d}/b.yaml:2:1: dependency cycle: b -> a -> c -> b (each waits for the next); b is not loaded
{d}/bad.yaml:2:1: unknown key `respwn`; did you mean `respawn`?
{d}/c.yaml:2:1: dependency cycle: c -> b -> a -> c (each waits for the next); c is not loaded
{d}/d.yaml:2:1: warning: start_on: started a: a is on a dependency cycle and not loaded
{d}/f.yaml:2:1: warning: start_on: stopped ghost: no such job
{d}/g.yaml:3:1: dependency cycle: g waits for itself; g is not loaded
start order:
  1: d e
  2: f
3 jobs, 5 errors, 2 warnings
"
    );
    assert_eq!((code, out, err.as_str()), (1, want, ""));
}

#[test]
fn check_of_a_missing_dir_is_one_line_on_stderr() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope");
    let (code, out, err) = check(&missing);
    assert_eq!(
        (code, out.as_str(), err),
        (
            1,
            "",
            format!("gsup: config dir {}: not a directory\n", missing.display())
        )
    );
}

#[test]
fn check_of_an_empty_dir_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out, err) = check(dir.path());
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            0,
            "start order: (no jobs)\n0 jobs, 0 errors, 0 warnings\n",
            ""
        )
    );
}

#[test]
fn graph_prints_dot_and_diagnostics_apart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    std::fs::create_dir(p.join("x")).expect("mkdir");
    std::fs::write(p.join("x/a.yaml"), "exec: [sleep, \"60\"]\n").expect("write");
    std::fs::write(
        p.join("x/b.yaml"),
        "exec: [sleep, \"60\"]\nstart_on: started x/a\nstop_on: stopped x/a or stopped x/gone\n",
    )
    .expect("write");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_graph(p, &mut out, &mut err);
    let want = "\
digraph gsup {
  rankdir=LR;
  node [shape=box];
  \"x/a\";
  \"x/b\";
  \"x/gone\" [style=dashed, color=grey, fontcolor=grey];
  \"x/a\" -> \"x/b\" [label=\"started,stopped\"];
  \"x/gone\" -> \"x/b\" [label=\"stopped\", style=dashed, color=grey];
}
";
    assert_eq!(code, 0);
    assert_eq!(String::from_utf8(out).expect("utf-8"), want);
    assert_eq!(
        String::from_utf8(err).expect("utf-8"),
        format!(
            "{}/x/b.yaml:3:1: warning: stop_on: stopped x/gone: no such job\n",
            p.display()
        )
    );
}

/// The real binary, once the CLI dispatches `check` (the CLI helper's part).
#[test]
#[ignore = "enable when src/cli/mod.rs dispatches `gsup check`"]
fn binary_check_on_services_d() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gsup"))
        .args(["check", "--config-dir", "services.d"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run gsup");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), SERVICES_D_REPORT);
}

// ---- properties over random graphs ----

use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// `(from, to, kind)`: job `to` names job `from`; kind 0 is `start_on:
/// started`, 1 `stop_on: stopped` (both dependencies), 2 `stop_on: started`
/// (not one).
fn random_graph() -> impl Strategy<Value = (usize, Vec<(usize, usize, u8)>)> {
    (1usize..10).prop_flat_map(|n| (Just(n), prop::collection::vec((0..n, 0..n, 0u8..3), 0..20)))
}

fn build_random(n: usize, refs: &[(usize, usize, u8)]) -> DepGraph {
    let name = |i: usize| format!("j{i}");
    let chain = |exprs: Vec<Expr>| exprs.into_iter().reduce(or);
    let mut start_on: BTreeMap<usize, Vec<Expr>> = BTreeMap::new();
    let mut stop_on: BTreeMap<usize, Vec<Expr>> = BTreeMap::new();
    for &(from, to, kind) in refs {
        match kind {
            0 => start_on
                .entry(to)
                .or_default()
                .push(ev("started", &name(from))),
            1 => stop_on
                .entry(to)
                .or_default()
                .push(ev("stopped", &name(from))),
            _ => stop_on
                .entry(to)
                .or_default()
                .push(ev("started", &name(from))),
        }
    }
    let jobs: Vec<(String, Option<Expr>, Option<Expr>)> = (0..n)
        .map(|i| {
            let a = chain(start_on.remove(&i).unwrap_or_default());
            let b = chain(stop_on.remove(&i).unwrap_or_default());
            (name(i), a, b)
        })
        .collect();
    DepGraph::build(
        jobs.iter()
            .map(|(n, a, b)| (n.as_str(), a.as_ref(), b.as_ref())),
    )
}

proptest! {
    #[test]
    fn waves_respect_every_edge_and_cycles_are_exactly_the_loops(
        (n, refs) in random_graph()
    ) {
        let g = build_random(n, &refs);
        let deps: BTreeSet<(String, String)> = refs
            .iter()
            .filter(|r| r.2 < 2)
            .map(|&(a, b, _)| (format!("j{a}"), format!("j{b}")))
            .collect();
        // A job is on a cycle iff it can reach itself along dependency edges.
        let reaches_itself = |start: &str| {
            let mut seen = BTreeSet::new();
            let mut todo: Vec<&str> = vec![start];
            while let Some(at) = todo.pop() {
                for (a, b) in &deps {
                    if a == at {
                        if b == start {
                            return true;
                        }
                        if seen.insert(b.as_str()) {
                            todo.push(b);
                        }
                    }
                }
            }
            false
        };
        let looping: BTreeSet<String> =
            (0..n).map(|i| format!("j{i}")).filter(|j| reaches_itself(j)).collect();
        prop_assert_eq!(g.rejected(), &looping);
        let on_cycles: BTreeSet<String> = g.cycles().iter().flatten().cloned().collect();
        prop_assert_eq!(&on_cycles, &looping);

        let waves = g.start_waves();
        let mut wave_of = BTreeMap::new();
        for (k, wave) in waves.iter().enumerate() {
            prop_assert!(!wave.is_empty());
            for j in wave {
                prop_assert!(wave_of.insert(j.clone(), k).is_none(), "{} twice", j);
            }
        }
        prop_assert_eq!(wave_of.len() + looping.len(), n);
        for (a, b) in &deps {
            if let (Some(wa), Some(wb)) = (wave_of.get(a), wave_of.get(b)) {
                prop_assert!(wa < wb, "{} (wave {}) before {} (wave {})", a, wa, b, wb);
            }
        }
        // Tight: a job in wave k > 0 waits for some job in wave k-1.
        for (j, &k) in &wave_of {
            if k > 0 {
                let tight = deps.iter().any(|(a, b)| b == j && wave_of.get(a) == Some(&(k - 1)));
                prop_assert!(tight, "{} in wave {} waits for nothing in wave {}", j, k, k - 1);
            }
        }
        let mut reversed = waves.clone();
        reversed.reverse();
        prop_assert_eq!(g.stop_waves(), reversed);
    }
}

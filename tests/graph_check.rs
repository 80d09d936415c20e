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

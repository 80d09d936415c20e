//! The event index of `Supervisor::dispatch`: an event reaches exactly the jobs
//! whose `start_on`/`stop_on` name it, also after definitions change. No real processes.

mod common;

use common::NextPid;
use gsup::expr::Event;
use gsup::job::{Goal, State};
use gsup::loader::LoadedJob;
use gsup::supervisor::core::Supervisor;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn job(name: &str, yaml: &str) -> LoadedJob {
    let path = PathBuf::from(format!("{name}.yaml"));
    let unit = gsup::unit::parse(Path::new(&path), yaml).expect("unit parses");
    LoadedJob::new(name.into(), path, unit)
}

fn state(s: &Supervisor, name: &str) -> (Goal, State) {
    let j = &s
        .jobs
        .get(&(name.to_string(), String::new()))
        .expect("instance")
        .job;
    (j.goal, j.state)
}

fn event(name: &str, env: &[(&str, &str)]) -> Event {
    Event {
        name: name.into(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

#[test]
fn events_reach_the_jobs_that_name_them_and_the_index_follows_new_jobs() {
    let mut s = Supervisor::new(Box::new(NextPid(1000)), "/logs".into(), "/run/g.d".into());
    s.add_jobs(vec![
        job("b", "exec: [sleep, \"1\"]\nstart_on: startup\n"),
        job("a", "exec: [sleep, \"1\"]\nstart_on: started b or never\n"),
        job("c", "exec: [sleep, \"1\"]\nstart_on: started zzz\n"),
        job(
            "d",
            "exec: [sleep, \"1\"]\nstart_on: custom\nstop_on: started a\n",
        ),
    ]);
    let now = Instant::now();
    s.dispatch(&event("startup", &[]));
    s.drain(now);
    let running = (Goal::Start, State::Running);
    let waiting = (Goal::Stop, State::Waiting);
    assert_eq!(state(&s, "b"), running);
    assert_eq!(state(&s, "a"), running, "started b reached a");
    assert_eq!(state(&s, "c"), waiting, "started b is not started zzz");
    assert_eq!(state(&s, "d"), waiting);

    s.dispatch(&event("custom", &[]));
    s.drain(now);
    assert_eq!(state(&s, "d"), running);

    // A job added later is in the index: its event reaches it.
    s.add_jobs(vec![job("e", "exec: [sleep, \"1\"]\nstart_on: late X=1\n")]);
    s.dispatch(&event("late", &[("X", "2")]));
    s.drain(now);
    assert_eq!(state(&s, "e"), waiting, "X=2 does not match X=1");
    s.dispatch(&event("late", &[("X", "1")]));
    s.drain(now);
    assert_eq!(state(&s, "e"), running);
}

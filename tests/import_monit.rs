//! `gsup import monit` on the seed's Monit control file: checks merged into the imported
//! Upstart units (the rest of each file intact), a new unit for the poller, notes, exit
//! codes; and the leaky poller restarted by the real daemon as Monit would restart it.

mod common;

use common::{Daemon, fixture, gsup_bin, python, status_pid, wait_until};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn seed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/import/seed")
}

fn run_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(gsup_bin())
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run gsup");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn seed_jobs() -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(seed().join("init/gitorious"))
        .expect("seed")
        .map(|e| {
            format!(
                "init/gitorious/{}",
                e.expect("entry").file_name().to_string_lossy()
            )
        })
        .collect();
    v.sort();
    v
}

/// Every file under `dir`, relative, with its text.
fn tree(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(dir)
                    .expect("rel")
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, fs::read_to_string(&p).expect("read")));
            }
        }
    }
    out.sort();
    out
}

/// The seed moves over in two commands: its Upstart jobs, then its Monit
/// file, whose checks land in the jobs' units. The result is exactly the one
/// docs/import.md shows; every line the Upstart import wrote is still there.
#[test]
fn import_seed_monit_merges_into_upstart_units() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("services.d");
    let out_s = out.to_str().expect("utf8");
    let jobs = seed_jobs();
    let mut args = vec!["import", "upstart", "--out", out_s];
    args.extend(jobs.iter().map(String::as_str));
    let (code, _, err) = run_in(&seed(), &args);
    assert_eq!(code, 0, "{err}");
    let before = tree(&out);
    let (code, stdout, err) = run_in(
        &seed(),
        &["import", "monit", "monitrc", "--out", out_s, "--cpus", "8"],
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        stdout,
        format!(
            "added checks to {out_s}/gitorious/git-http.yaml\nadded checks to {out_s}/gitorious/resque-worker.yaml\n\
             added checks to {out_s}/gitorious/unicorn.yaml\nwrote {out_s}/poller.yaml\n"
        )
    );
    for line in [
        "monitrc:7: dropped: `set logfile /var/log/monit.log`: the gsup daemon logs to its stderr (`--log-format text|json`)",
        "monitrc:8: warning: `set idfile /var/lib/monit/id`: Monit's own setting; nothing of it applies to gsup",
        "monitrc:12: dropped: `set alert ops@gitorious.org`: gsup runs the daemon's `--alert-command` on `alert` (with the event in its environment): make that command send the mail",
        "monitrc:24: dropped: `group gitorious`: gsup has no service groups: name the jobs, or give them a shared `start_on` event",
        "monitrc:38: warning: `if cpu > 90% for 5 cycles then alert`: Monit's cpu percentages are of all 8 CPUs, gsup's of one core: 90% is written 720% (`--cpus N` for another host)",
        "monitrc:40: dropped: `if failed unixsocket /srv/gitorious/app/tmp/sockets/unicorn.sock then ...`: gsup has no connection or protocol tests (`ready: {tcp: ...}` checks a port when the job starts)",
        "monitrc:49: dropped: `check filesystem repositories`: gsup watches the processes of its jobs only",
    ] {
        assert!(
            err.lines().any(|l| l == line),
            "missing {line:?} in:\n{err}"
        );
    }
    let after = tree(&out);
    let expected = tree(&seed().join("expected"));
    assert_eq!(after, expected);
    for (name, text) in &before {
        let (_, merged) = after.iter().find(|(n, _)| n == name).expect("still there");
        assert!(
            merged.starts_with(text.as_str()),
            "{name}: the Upstart part changed"
        );
    }
    let (code, report, _) = run_in(tmp.path(), &["check"]);
    assert_eq!(code, 0, "{report}");
    assert!(report.contains("9 jobs, 0 errors, 0 warnings"), "{report}");
    // A second run adds nothing: the checks are there already.
    let (code, stdout, _) = run_in(
        &seed(),
        &["import", "monit", "monitrc", "--out", out_s, "--cpus", "8"],
    );
    assert_eq!(code, 1);
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(tree(&out), expected);
}

/// Every unit docs/import.md shows is exactly a file the seed's import writes.
#[test]
fn import_docs_show_the_seed_as_written() {
    let docs = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/import.md"))
        .expect("docs");
    let expected = tree(&seed().join("expected"));
    let mut blocks = 0;
    for block in docs.split("```yaml\n").skip(1) {
        let block = block.split("```").next().expect("closed block");
        assert!(
            expected.iter().any(|(_, text)| text == block),
            "docs/import.md shows a unit the import does not write:\n{block}"
        );
        blocks += 1;
    }
    assert!(blocks >= 5, "{blocks} blocks");
}

/// A `checks:` block list of a unit gets the new checks at its end, the
/// comments and keys after it untouched.
#[test]
fn import_monit_appends_to_an_existing_checks_list() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    fs::create_dir_all(&out).expect("mkdir");
    let unit = "exec: [/srv/w]\nchecks:\n  - if mem > 1 GB then alert   # ours\n\n# the end\nkill_timeout: 9s\n";
    fs::write(out.join("w.yaml"), unit).expect("write");
    fs::write(
        tmp.path().join("monitrc"),
        "check process w with pidfile /run/w.pid\n  if mem > 1 GB then alert\n  if children > 5 then alert\n",
    )
    .expect("write");
    let (code, stdout, err) = run_in(tmp.path(), &["import", "monit", "monitrc", "--out", "out"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(stdout, "added checks to out/w.yaml\n");
    assert_eq!(
        fs::read_to_string(out.join("w.yaml")).expect("read"),
        "exec: [/srv/w]\nchecks:\n  - if mem > 1 GB then alert   # ours\n  - if children > 5 then alert\n\n\
         # the end\nkill_timeout: 9s\n# Added by `gsup import monit` from monitrc (line 1: check process w).\n\
         pidfile: /run/w.pid\nrespawn: true\n"
    );
}

/// Waits for `poller` to be running; on timeout, fails with the daemon's log.
fn running_within(d: &Daemon, timeout: Duration) {
    let start = std::time::Instant::now();
    while d.run(&["status", "poller"]).0 != 0 {
        let (_, line, _) = d.run(&["status", "-v", "poller"]);
        assert!(
            start.elapsed() < timeout,
            "not running: {line}\n{}",
            d.stderr()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The seed's Monit rule for the leaky poller, imported, restarts the poller
/// under gsup as Monit did: `totalmem > 300 MB for 3 cycles`, the cycle being
/// Monit's `set daemon` (shortened to 1 s here). The poller's real start program is
/// replaced by a shell that starts the leaky fixture in the background and
/// writes its pid file, as the real one daemonizes.
#[test]
fn import_monit_leaky_poller_restarted_by_gsup() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pidfile = tmp.path().join("poller0.pid");
    // Like the real `script/poller start`: it forks the poller into the
    // background, writes its pid file and exits; gsup follows the file.
    let start = format!(
        "start program = \"/bin/sh -c '{} {} 20 0.1 340 > /dev/null & echo $! > {}'\"",
        python(),
        fixture("leaky_poller.py"),
        pidfile.display(),
    );
    let text = fs::read_to_string(seed().join("monitrc")).expect("seed monitrc");
    let text = text
        .replace("set daemon 60", "set daemon 1")
        .replace(
            "start program = \"/srv/gitorious/app/script/poller start\" as uid git and gid git",
            &start,
        )
        .replace(
            "stop program = \"/srv/gitorious/app/script/poller stop\" as uid git and gid git",
            "stop program = \"/bin/true\"",
        )
        .replace(
            "/srv/gitorious/app/tmp/pids/poller0.pid",
            &pidfile.to_string_lossy(),
        );
    assert!(
        text.contains("leaky_poller.py")
            && text.contains("set daemon 1")
            && text.contains("/bin/true"),
        "the seed changed"
    );
    fs::write(tmp.path().join("monitrc"), &text).expect("write");
    let (code, _, err) = run_in(tmp.path(), &["import", "monit", "monitrc", "--out", "out"]);
    assert_eq!(code, 1, "{err}");
    let unit = fs::read_to_string(tmp.path().join("out/poller.yaml")).expect("poller unit");
    assert!(unit.contains("cycle: 1s\n"), "{unit}");
    assert!(
        unit.contains("  - if totalmem > 300 MB for 3 cycles then restart\n"),
        "{unit}"
    );
    let d = Daemon::start(&[("poller", &unit)], &[]);
    running_within(&d, Duration::from_secs(20));
    let mut pids = Vec::new();
    wait_until(Duration::from_secs(60), "2 restarts by the check", || {
        if let Some(p) = status_pid(&d.run(&["status", "poller"]).1)
            && pids.last() != Some(&p)
        {
            pids.push(p);
        }
        d.status_json("poller")["restarts"].as_u64().unwrap_or(0) >= 2
    });
    running_within(&d, Duration::from_secs(20));
    if let Some(p) = status_pid(&d.run(&["status", "poller"]).1)
        && pids.last() != Some(&p)
    {
        pids.push(p);
    }
    let distinct: BTreeSet<i32> = pids.iter().copied().collect();
    assert!(distinct.len() >= 3, "pids {pids:?}");
    let log = d.stderr();
    assert!(
        log.matches("if totalmem > 300 MB for 3 cycles then restart")
            .count()
            >= 2,
        "log:\n{log}"
    );
    assert!(log.matches("action: restart").count() >= 2, "log:\n{log}");
    assert!(!log.contains("stop/failed"), "log:\n{log}");
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}

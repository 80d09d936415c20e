//! `--http`'s `/metrics`, parsed by the Prometheus project's own Python
//! parsers, and `/status.json`, both checked against `gsup list --json`.

mod common;

use common::http::{self, available, call, get};
use common::{Daemon, wait_until};
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families as classic
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
def dump(families):
    return [{"family": f.name, "type": f.type, "name": s.name, "labels": s.labels, "value": s.value}
            for f in families for s in f.samples]
print(json.dumps({"classic": dump(classic(open(sys.argv[1]).read())),
                  "openmetrics": dump(openmetrics(open(sys.argv[2]).read()))}))
"#;

const SLEEP: &str = "exec: [sleep, \"1000\"]\nstart_on: startup\nrespawn: true\n";

/// A daemon with running, restarted, instance, failed and idle jobs.
fn busy_daemon() -> (Daemon, std::net::SocketAddr) {
    let (d, addr) = http::start(
        &[
            ("a", SLEEP),
            ("group/b", SLEEP),
            ("w", "exec: [sleep, \"1000\"]\ninstance: $Q\n"),
            ("bad", "exec: [/nonexistent/program]\nstart_on: startup\n"),
            ("idle", "exec: [sleep, \"1000\"]\n"),
        ],
        &[],
    );
    for q in ["Q=one", "Q=two"] {
        assert_eq!(d.run(&["start", "w", q]).0, 0);
    }
    wait_until(Duration::from_secs(10), "b runs", || {
        d.status_json("group/b")["state"] == "running"
    });
    let pid = d.status_json("group/b")["pid"].as_i64().expect("pid") as i32;
    d.kill(pid, libc::SIGKILL);
    wait_until(Duration::from_secs(10), "b respawned", || {
        let s = d.status_json("group/b");
        s["restarts"] == 1 && s["state"] == "running"
    });
    wait_until(Duration::from_secs(10), "bad failed", || {
        d.status_json("bad")["state"] == "failed"
    });
    (d, addr)
}

fn list(d: &Daemon) -> Vec<Value> {
    let (_, out, _) = d.run(&["list", "--json"]);
    out.lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// The samples named `name` whose labels hold every pair of `want`.
fn samples<'a>(all: &'a [Value], name: &str, want: &[(&str, &str)]) -> Vec<&'a Value> {
    all.iter()
        .filter(|s| s["name"] == name)
        .filter(|s| want.iter().all(|(k, v)| s["labels"][*k] == *v))
        .collect()
}

#[test]
fn metrics_parse_with_prometheus_client_and_match_status_json() {
    let Some(py) = http::python_with("prometheus_client") else {
        available(
            false,
            "python3's prometheus_client",
            "apt-get install -y python3-prometheus-client (or pip install prometheus_client)",
        );
        return;
    };
    let (d, addr) = busy_daemon();
    let classic = get(addr, "/metrics");
    let om = call(
        addr,
        "GET",
        "/metrics",
        &["Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"],
    );
    let statuses = list(&d);
    assert_eq!(classic.status, 200);
    assert_eq!(
        classic.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(
        om.header("content-type")
            .is_some_and(|c| c.starts_with("application/openmetrics-text"))
    );

    let dir = tempfile::tempdir().expect("tmp");
    let (f1, f2) = (dir.path().join("classic"), dir.path().join("om"));
    std::fs::write(&f1, &classic.body).expect("write");
    std::fs::write(&f2, &om.body).expect("write");
    let out = Command::new(&py)
        .args(["-c", PARSE])
        .arg(&f1)
        .arg(&f2)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "parsers refused the exposition: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        classic.text()
    );
    let parsed: Value = serde_json::from_slice(&out.stdout).expect("parser output");

    for format in ["classic", "openmetrics"] {
        let all = parsed[format].as_array().expect("samples");
        let ups = samples(all, "gsup_unit_up", &[]);
        assert_eq!(
            ups.len(),
            statuses.len(),
            "{format}: one `up` per job and instance"
        );
        for st in &statuses {
            let (name, inst) = (
                st["name"].as_str().expect("name"),
                st["instance"].as_str().expect("inst"),
            );
            let me = [("unit", name), ("unit_instance", inst)];
            let one = |metric: &str| -> Option<f64> {
                let found = samples(all, metric, &me);
                assert!(found.len() <= 1, "{format}: {metric} {me:?} twice");
                found.first().and_then(|s| s["value"].as_f64())
            };
            let up = st["goal"] == "start" && st["state"] == "running";
            assert_eq!(
                one("gsup_unit_up"),
                Some(f64::from(u8::from(up))),
                "{format} {me:?}"
            );
            assert_eq!(
                one("gsup_unit_restarts_total"),
                st["restarts"].as_f64(),
                "{format} {me:?}"
            );
            assert_eq!(
                one("gsup_unit_memory_bytes"),
                st["memory_bytes"].as_f64(),
                "{format} {me:?}"
            );
            let goal = st["goal"].as_str().expect("goal");
            let state = st["state"].as_str().expect("state");
            let series = samples(
                all,
                "gsup_unit_state",
                &[me[0], me[1], ("goal", goal), ("state", state)],
            );
            assert_eq!(series.len(), 1, "{format}: state of {me:?}");
            assert_eq!(series[0]["value"], 1.0);
        }
        let daemon = |metric: &str| {
            samples(all, metric, &[])
                .first()
                .and_then(|s| s["value"].as_f64())
                .unwrap_or(-1.0)
        };
        assert!(
            daemon("gsup_daemon_reaped_total") >= 1.0,
            "{format}: b's first process was reaped"
        );
        assert!(
            daemon("gsup_daemon_spawn_failures_total") >= 1.0,
            "{format}: bad could not start"
        );
        assert!(daemon("gsup_daemon_loop_turns_total") >= 1.0);
        assert!(daemon("gsup_daemon_open_fds") >= 3.0);
        assert!(daemon("gsup_daemon_resident_memory_bytes") > 1e6);
    }
    assert!(
        statuses
            .iter()
            .any(|s| s["name"] == "w" && s["instance"] == "two")
    );
}

#[test]
fn status_json_is_an_array_of_the_json_objects() {
    let (d, addr) = busy_daemon();
    let r = get(addr, "/status.json");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let mut served: Value = serde_json::from_slice(&r.body).expect("json");
    let mut listed = Value::Array(list(&d));
    // Uptime moves on between the two reads, and the CPU percent is a rate
    // between one status and the next (the second read has a window the
    // first had not); everything else must agree.
    for v in [&mut served, &mut listed] {
        for o in v.as_array_mut().expect("array") {
            let o = o.as_object_mut().expect("object");
            o.remove("uptime_s");
            o.remove("cpu_percent");
        }
    }
    assert_eq!(served, listed);
    d.assert_no_zombies();
}

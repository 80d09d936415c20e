//! `--http`'s status page in a real browser (headless Chromium) against a
//! real daemon running the demo jobs, HTML escaping, and `/log`.

mod common;

use common::http::{self, available, get};
use common::wait_until;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The demo's unit files, on `port` instead of 8080.
fn demo_units(port: u16) -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("services.d/demo");
    let mut units = Vec::new();
    for e in std::fs::read_dir(&dir).expect("demo dir").flatten() {
        let path = e.path();
        if path.extension().is_some_and(|x| x == "yaml") {
            let name = path
                .file_stem()
                .expect("stem")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path).expect("unit");
            units.push((name, text.replace("8080", &port.to_string())));
        }
    }
    assert_eq!(units.len(), 3, "the demo has web, worker, leaky-poller");
    units
}

/// `(job, instance) -> "goal/state"` from `gsup list --json`.
fn listed(d: &common::Daemon) -> BTreeMap<(String, String), String> {
    let (_, out, _) = d.run(&["list", "--json"]);
    out.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            let key = (
                v["name"].as_str().unwrap_or("").to_string(),
                v["instance"].as_str().unwrap_or("").to_string(),
            );
            let st = format!(
                "{}/{}",
                v["goal"].as_str().unwrap_or(""),
                v["state"].as_str().unwrap_or("")
            );
            (key, st)
        })
        .collect()
}

/// The value of attribute `name` in an HTML start tag, unescaped.
fn attr(tag: &str, name: &str) -> Option<String> {
    let v = tag
        .split(&format!(" {name}=\""))
        .nth(1)?
        .split('"')
        .next()?;
    Some(
        v.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// `(job, instance) -> "goal/state"` from the rows of a page's DOM.
fn rows(dom: &str) -> BTreeMap<(String, String), String> {
    dom.split("<tr ")
        .skip(1)
        .filter_map(|t| {
            let tag = format!(" {}", t.split('>').next()?);
            let key = (attr(&tag, "data-job")?, attr(&tag, "data-instance")?);
            Some((
                key,
                format!("{}/{}", attr(&tag, "data-goal")?, attr(&tag, "data-state")?),
            ))
        })
        .collect()
}

#[test]
fn a_browser_shows_every_demo_job_with_its_state() {
    if !available(
        http::chromium().is_some(),
        "chromium",
        "apt-get install -y chromium",
    ) {
        return;
    }
    let units = demo_units(http::free_port());
    let units: Vec<(&str, &str)> = units
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let (d, addr) = http::start(&units, &["--cycle", "1s"]);
    wait_until(Duration::from_secs(30), "the demo jobs run", || {
        let l = listed(&d);
        l.len() == 3 && l.values().all(|s| s == "start/running")
    });
    // The poller leaks 5 MB a second; its check restarts it past 100 MB.
    wait_until(
        Duration::from_secs(90),
        "leaky-poller restarted by its check",
        || d.status_json("leaky-poller")["restarts"].as_u64() >= Some(1),
    );
    let url = format!("http://{addr}/");
    let mut last = (BTreeMap::new(), BTreeMap::new());
    wait_until(
        Duration::from_secs(60),
        "the page shows what `list` shows",
        || {
            let dom = http::run_chromium(&url, &["--dump-dom"]);
            assert!(
                dom.contains("<title>gsup: 3 jobs"),
                "not the status page:\n{dom}"
            );
            assert!(!dom.contains("<script"), "the page runs no script");
            last = (rows(&dom), listed(&d));
            last.0 == last.1
        },
    );
    assert_eq!(last.0.len(), 3, "{last:?}");

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("http-page");
    std::fs::create_dir_all(&shots).expect("artefact dir");
    for (name, size) in [("desktop", "1280,720"), ("phone", "390,844")] {
        let file = shots.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&file);
        http::run_chromium(
            &url,
            &[
                &format!("--window-size={size}"),
                &format!("--screenshot={}", file.display()),
            ],
        );
        let png = std::fs::read(&file).unwrap_or_default();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "{} is no screenshot",
            file.display()
        );
        eprintln!("screenshot: {}", file.display());
    }
    d.assert_no_zombies();
}

#[test]
fn job_controlled_strings_are_escaped_on_the_page() {
    let evil = "<script>alert(1)</script>";
    let (d, addr) = http::start(
        &[
            (evil, "exec: [sleep, \"1000\"]\nstart_on: startup\n"),
            ("inst", "exec: [sleep, \"1000\"]\ninstance: $Q\n"),
        ],
        &[],
    );
    let (code, _, err) = d.run(&["start", "inst", "Q=<b>\"&'</b>"]);
    assert_eq!(code, 0, "{err}");
    wait_until(Duration::from_secs(10), "the evil job runs", || {
        d.status_json(evil)["state"] == "running"
    });
    let page = get(addr, "/");
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("data-job=\"&lt;script&gt;alert(1)&lt;/script&gt;\""),
        "{html}"
    );
    assert!(
        html.contains("&lt;b&gt;&quot;&amp;&#39;&lt;/b&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script") && !html.contains("<b>"), "{html}");
    let csp = page.header("content-security-policy").unwrap_or("");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    // In the other outputs the names are data, escaped by their own rules.
    let metrics = get(addr, "/metrics").text();
    assert!(
        metrics.contains("unit=\"<script>alert(1)</script>\""),
        "{metrics}"
    );
    assert!(
        metrics.contains("unit_instance=\"<b>\\\"&'</b>\""),
        "{metrics}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&get(addr, "/status.json").body).expect("json");
    assert!(
        json.as_array()
            .expect("array")
            .iter()
            .any(|j| j["name"] == evil)
    );
}

#[test]
fn log_shows_the_last_lines_of_a_named_job_only() {
    let talker =
        "exec: [sh, -c, 'seq 0 499 | sed \"s/^/line /\"; exec sleep 1000']\nstart_on: startup\n";
    let (d, addr) = http::start(&[("talker", talker)], &[]);
    let log = d.logs.join("talker.log");
    wait_until(Duration::from_secs(10), "talker wrote 500 lines", || {
        std::fs::read_to_string(&log).is_ok_and(|s| s.contains("line 499\n"))
    });
    let r = get(addr, "/log?job=talker&instance=");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain"))
    );
    let text = r.text();
    assert!(text.ends_with("line 499\n"), "{text}");
    assert_eq!(text.lines().count(), 100, "the default is 100 lines");
    let three = get(addr, "/log?job=talker&lines=3").text();
    assert_eq!(three, "line 497\nline 498\nline 499\n");
    for bad in [
        "/log?job=nosuch",
        "/log?job=../../../../etc/passwd",
        "/log?job=talker&instance=x",
    ] {
        assert_eq!(get(addr, bad).status, 404, "{bad}");
    }
    assert_eq!(get(addr, "/log").status, 400);
    // The page links each job's log.
    assert!(
        get(addr, "/")
            .text()
            .contains("href=\"/log?job=talker&amp;instance=\"")
    );
}

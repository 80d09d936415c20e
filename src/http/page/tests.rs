//! Tests of the page renderer on a fixed snapshot: rows, waves, figures,
//! escaping, no external asset. Test-only: nothing here is used elsewhere.

use super::*;
use crate::http::fmt::escape;
use crate::http::testdata::{EVIL, sample};

fn rows(html: &str) -> Vec<&str> {
    html.lines()
        .filter(|l| l.starts_with("<tr class="))
        .collect()
}

#[test]
fn every_job_has_a_row_with_its_goal_and_state() {
    let snap = sample();
    let html = render(&snap);
    let rows = rows(&html);
    assert_eq!(rows.len(), snap.jobs.len(), "{html}");
    for j in &snap.jobs {
        let attrs = format!(
            "data-job=\"{}\" data-instance=\"{}\" data-goal=\"{}\" data-state=\"{}\"",
            escape(&j.name),
            escape(&j.instance),
            j.goal,
            j.state
        );
        let row = rows
            .iter()
            .find(|r| r.contains(&attrs))
            .unwrap_or_else(|| panic!("no row with {attrs}:\n{html}"));
        assert!(row.contains(&format!("{}/{}", j.goal, j.state)), "{row}");
    }
}

#[test]
fn rows_follow_the_start_waves_then_the_rest() {
    let html = render(&sample());
    let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("{s} missing"));
    assert!(at("wave 1 (starts first)") < at("data-job=\"db\""));
    assert!(at("data-job=\"db\"") < at("wave 2 (after the wave above)"));
    assert!(at("wave 2") < at("data-job=\"web\""));
    assert!(at("data-job=\"web\"") < at("not in the start order"));
    assert!(at("not in the start order") < at("data-job=\"batch\""));
}

#[test]
fn figures_checks_exits_and_reasons_are_shown() {
    let html = render(&sample());
    for s in [
        "19.0 MB",
        "1h 2m",
        "1.5%",
        "signal KILL",
        "respawn limit",
        "totalmem 312 MB &gt; 300 MB, 1 of 3 cycles",
        "if totalmem &gt; 300 MB for 3 cycles then restart: fired 2 times",
        "1d 1h",
        "5.0 MB",
        "17 open fds",
        "2 spawn failures",
        "4 jobs, 2 running, 1 failed",
        "Fri, 15 Jan 2027 08:00:00 GMT",
        "<meta http-equiv=\"refresh\" content=\"5\">",
    ] {
        assert!(html.contains(s), "page lacks {s:?}:\n{html}");
    }
}

#[test]
fn job_controlled_strings_are_escaped() {
    let html = render(&sample());
    // The only tags are the page's own: no script, no image, no bold.
    for raw in [
        "<script",
        "<img",
        "<b>",
        "<i>",
        "<alert>",
        "onerror=alert(2)>",
    ] {
        assert!(!html.contains(raw), "{raw} reached the page raw:\n{html}");
    }
    assert!(html.contains(&escape(EVIL)));
    assert!(html.contains("&quot;q&#39;&amp;&lt;i&gt;"));
    // The log link: percent-encoded, then its `&` escaped for the attribute.
    assert!(
        html.contains("href=\"/log?job=%3Cscript%3Ealert%281%29%3C%2Fscript%3E&amp;instance=%22q%27%26%3Ci%3E\""),
        "{html}"
    );
}

#[test]
fn the_page_is_self_contained() {
    let mut snap = sample();
    // The escaped job texts hold `src=` as text; the page itself must not.
    snap.jobs.retain(|j| j.name != EVIL);
    let html = render(&snap);
    for s in ["<script", "src=", "http://", "https://", "@import", "url("] {
        assert!(!html.contains(s), "page holds {s:?}: it must fetch nothing");
    }
}

#[test]
fn every_row_has_one_cell_per_column() {
    let html = render(&sample());
    for r in rows(&html) {
        assert_eq!(r.matches("<td>").count(), COLUMNS.len(), "{r}");
    }
    assert!(html.contains("td:nth-child(3)::before{content:\"pid: \"}"));
}

//! `/`: the status page a person reads, built from a snapshot. Pure: no I/O,
//! no clock, no script; every job-controlled string goes through `escape`.
//!
//! One self-contained document (inline CSS, no JavaScript, nothing fetched
//! from elsewhere) that refreshes itself. Jobs are grouped by start wave, so
//! the dependency order reads from top to bottom; on a narrow screen each
//! row becomes a card.

use super::fmt::{bytes, count, duration, escape_into, log_href, percent};
use super::snapshot::Snapshot;
use crate::control::proto::JobStatus;
use crate::job::{Goal, State};
use std::collections::{BTreeMap, BTreeSet};

/// Seconds between the page's own reloads.
pub const REFRESH_S: u32 = 5;

const STYLE: &str = "\
:root{color-scheme:light dark;--ok:#1a7f37;--bad:#cf222e;--busy:#9a6700;--idle:#6e7781;--line:#d0d7de}\
body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;padding:12px;max-width:1400px}\
h1{font-size:20px;margin:0 0 4px}header p{margin:2px 0;color:var(--idle)}\
nav a{margin-right:12px}table{border-collapse:collapse;width:100%;margin-top:12px}\
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}\
tr.wave th{background:rgba(128,128,128,.12);font-weight:600}\
.st{font-weight:600;white-space:nowrap}.ok .st{color:var(--ok)}.bad .st{color:var(--bad)}\
.busy .st{color:var(--busy)}.idle .st{color:var(--idle)}\
.inst{color:var(--idle)}.fail{color:var(--bad)}.note{color:var(--idle);font-size:12px}\
ul{margin:0;padding-left:16px}td{overflow-wrap:anywhere}\
@media (max-width:760px){thead{display:none}table,tbody,tr,td,th{display:block;width:auto}\
tr{border:1px solid var(--line);border-radius:6px;margin:8px 0;padding:4px 8px}\
tr.wave{border:0;padding:0}td{border:0;padding:2px 0;text-align:left}\
td:empty{display:none}td::before{color:var(--idle)}}";

/// The table's columns, and whether each holds a number (right-aligned).
const COLUMNS: [(&str, bool); 10] = [
    ("job", false),
    ("state", false),
    ("pid", true),
    ("uptime", true),
    ("memory", true),
    ("CPU", true),
    ("restarts", true),
    ("checks", false),
    ("last exit", false),
    ("log", false),
];

/// The whole page for `snap`.
pub fn render(snap: &Snapshot) -> String {
    let mut out = String::with_capacity(4096 + snap.jobs.len() * 900);
    out.push_str("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">");
    out.push_str(&format!(
        "<meta http-equiv=\"refresh\" content=\"{REFRESH_S}\">"
    ));
    out.push_str("<title>gsup: ");
    out.push_str(&summary(&snap.jobs));
    out.push_str("</title><style>");
    out.push_str(STYLE);
    column_style(&mut out);
    out.push_str("</style></head><body>\n");
    header(&mut out, snap);
    out.push_str("<table><thead><tr>");
    for (c, _) in COLUMNS {
        out.push_str("<th>");
        out.push_str(c);
        out.push_str("</th>");
    }
    out.push_str("</tr></thead>\n");
    for (title, jobs) in groups(snap) {
        out.push_str("<tbody><tr class=\"wave\"><th colspan=\"10\">");
        out.push_str(&title);
        out.push_str("</th></tr>\n");
        for j in jobs {
            row(&mut out, j, snap);
        }
        out.push_str("</tbody>\n");
    }
    out.push_str("</table>\n<p class=\"note\">Jobs start wave by wave, top to bottom, and stop in the reverse order. ");
    out.push_str(&format!(
        "This page reloads every {REFRESH_S} s.</p>\n</body></html>\n"
    ));
    out
}

/// `12 jobs, 10 running, 1 failed`: for the title and the header.
fn summary(jobs: &[JobStatus]) -> String {
    let up = jobs.iter().filter(|j| j.is_up()).count();
    let failed = jobs.iter().filter(|j| j.state == State::Failed).count();
    let mut s = format!("{}, {up} running", count(jobs.len(), "job"));
    if failed > 0 {
        s.push_str(&format!(", {failed} failed"));
    }
    s
}

fn header(out: &mut String, snap: &Snapshot) {
    let d = &snap.daemon;
    out.push_str("<header><h1>gsup</h1><p>");
    out.push_str(&summary(&snap.jobs));
    out.push_str("</p><p>daemon pid ");
    out.push_str(&d.pid.to_string());
    out.push_str(", version ");
    escape_into(out, &d.version);
    out.push_str(", up ");
    out.push_str(&duration(d.uptime_s));
    if let Some(rss) = d.rss_bytes {
        out.push_str(", ");
        out.push_str(&bytes(rss));
    }
    if let Some(fds) = d.open_fds {
        out.push_str(", ");
        out.push_str(&count(fds as usize, "open fd"));
    }
    out.push_str(&format!(
        ", {} reaped, {}",
        d.reaped,
        count(d.spawn_failures as usize, "spawn failure")
    ));
    out.push_str("</p><p>as of ");
    out.push_str(&httpdate::fmt_http_date(snap.taken));
    out.push_str("</p></header>\n<nav><a href=\"/status.json\">status.json</a><a href=\"/metrics\">metrics</a></nav>\n");
}

/// The jobs in start order: one group per wave, then any job the waves miss.
fn groups(snap: &Snapshot) -> Vec<(String, Vec<&JobStatus>)> {
    let mut by_name: BTreeMap<&str, Vec<&JobStatus>> = BTreeMap::new();
    for j in &snap.jobs {
        by_name.entry(j.name.as_str()).or_default().push(j);
    }
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    for (i, wave) in snap.waves.iter().enumerate() {
        let jobs: Vec<&JobStatus> = wave
            .iter()
            .filter(|n| placed.insert(n.as_str()))
            .flat_map(|n| by_name.get(n.as_str()).into_iter().flatten().copied())
            .collect();
        if !jobs.is_empty() {
            let after = if i == 0 {
                "starts first"
            } else {
                "after the wave above"
            };
            out.push((format!("wave {} ({after})", i + 1), jobs));
        }
    }
    let rest: Vec<&JobStatus> = by_name
        .iter()
        .filter(|(n, _)| !placed.contains(*n))
        .flat_map(|(_, js)| js.iter().copied())
        .collect();
    if !rest.is_empty() {
        out.push(("not in the start order".to_string(), rest));
    }
    out
}

/// The row's class, which colours its state: running, failed, resting, moving.
fn tone(j: &JobStatus) -> &'static str {
    match (j.goal, j.state) {
        (_, State::Failed) => "bad",
        (Goal::Start, State::Running) => "ok",
        (Goal::Stop, State::Waiting) => "idle",
        _ => "busy",
    }
}

fn row(out: &mut String, j: &JobStatus, snap: &Snapshot) {
    out.push_str("<tr class=\"");
    out.push_str(tone(j));
    out.push_str("\" data-job=\"");
    escape_into(out, &j.name);
    out.push_str("\" data-instance=\"");
    escape_into(out, &j.instance);
    out.push_str(&format!(
        "\" data-goal=\"{}\" data-state=\"{}\">",
        j.goal, j.state
    ));
    // job
    cell(out, |o| {
        escape_into(o, &j.name);
        if !j.instance.is_empty() {
            o.push_str(" <span class=\"inst\">(");
            escape_into(o, &j.instance);
            o.push_str(")</span>");
        }
        if let Some(def) = &j.definition {
            o.push_str("<br><span class=\"note\">definition ");
            escape_into(o, def);
            o.push_str("</span>");
        }
    });
    // state
    cell(out, |o| {
        o.push_str(&format!("<span class=\"st\">{}/{}</span>", j.goal, j.state));
        if let Some(c) = &j.containment {
            o.push_str("<br><span class=\"note\">");
            escape_into(o, c);
            o.push_str("</span>");
        }
    });
    let opt = |v: Option<String>| v.unwrap_or_else(|| "\u{2013}".to_string());
    // pid
    cell(out, |o| o.push_str(&opt(j.pid.map(|p| p.to_string()))));
    // uptime
    cell(out, |o| o.push_str(&opt(j.uptime_s.map(duration))));
    // memory
    cell(out, |o| o.push_str(&opt(j.memory_bytes.map(bytes))));
    // CPU
    cell(out, |o| o.push_str(&opt(j.cpu_percent.map(percent))));
    // restarts
    cell(out, |o| o.push_str(&j.restarts.to_string()));
    // checks
    cell(out, |o| checks(o, j));
    // last exit
    cell(out, |o| {
        escape_into(o, j.last_exit.as_deref().unwrap_or(""));
        if let Some(r) = &j.reason {
            o.push_str("<br><span class=\"fail\">");
            escape_into(o, r);
            o.push_str("</span>");
        }
    });
    // log
    cell(out, |o| {
        if snap.has_log(j) {
            o.push_str("<a href=\"");
            escape_into(o, &log_href(&j.name, &j.instance));
            o.push_str("\">last lines</a>");
        }
    });
    out.push_str("</tr>\n");
}

/// Failing checks now, then how often each rule has fired.
fn checks(o: &mut String, j: &JobStatus) {
    if j.failing_checks.is_empty() && j.check_failures.is_empty() {
        return;
    }
    o.push_str("<ul>");
    for f in &j.failing_checks {
        o.push_str("<li class=\"fail\">");
        escape_into(o, f);
        o.push_str("</li>");
    }
    for c in &j.check_failures {
        o.push_str("<li>");
        escape_into(o, &c.rule);
        o.push_str(&format!(": fired {}</li>", times(c.count)));
    }
    o.push_str("</ul>");
}

fn times(n: u64) -> String {
    match n {
        1 => "once".to_string(),
        n => format!("{n} times"),
    }
}

/// One `<td>`; its label and alignment come from its column (`COLUMNS`).
fn cell(out: &mut String, body: impl FnOnce(&mut String)) {
    out.push_str("<td>");
    body(out);
    out.push_str("</td>");
}

/// The per-column rules, from `COLUMNS`, so that no cell carries its own:
/// numbers right-aligned, and each cell labelled in the narrow layout.
fn column_style(out: &mut String) {
    for (i, (label, num)) in COLUMNS.iter().enumerate() {
        let n = i + 1;
        if *num {
            out.push_str(&format!(
                "th:nth-child({n}),td:nth-child({n}){{text-align:right;font-variant-numeric:tabular-nums}}"
            ));
        }
        out.push_str(&format!(
            "@media (max-width:760px){{td:nth-child({n}){{text-align:left}}td:nth-child({n})::before{{content:\"{label}: \"}}}}"
        ));
    }
}

#[cfg(test)]
mod tests;

//! Tests of the metrics renderer on a fixed snapshot: series, absent
//! figures, label escaping, both formats. Test-only.

use super::*;
use crate::http::testdata::sample;

fn text(format: Format) -> String {
    render(&Arc::new(sample()), format).expect("renders")
}

#[test]
fn classic_text_has_every_series() {
    let t = text(Format::Text);
    for line in [
        "# TYPE gsup_unit_up gauge",
        "gsup_unit_up{unit=\"web\",unit_instance=\"\"} 1",
        "gsup_unit_up{unit=\"db\",unit_instance=\"\"} 0",
        "gsup_unit_state{unit=\"db\",unit_instance=\"\",goal=\"stop\",state=\"failed\"} 1",
        "# TYPE gsup_unit_restarts_total counter",
        "gsup_unit_restarts_total{unit=\"web\",unit_instance=\"\"} 3",
        "gsup_unit_memory_bytes{unit=\"web\",unit_instance=\"\"} 19922944",
        "gsup_unit_cpu_seconds_total{unit=\"web\",unit_instance=\"\"} 12.25",
        "gsup_unit_uptime_seconds{unit=\"web\",unit_instance=\"\"} 3725",
        "gsup_unit_check_failures_total{unit=\"web\",unit_instance=\"\",rule=\"if totalmem > 300 MB for 3 cycles then restart\"} 2",
        "gsup_daemon_info{version=\"0.1.0\"} 1",
        "gsup_daemon_resident_memory_bytes 5242880",
        "gsup_daemon_open_fds 17",
        "gsup_daemon_loop_turns_total 1234",
        "gsup_daemon_reaped_total 56",
        "gsup_daemon_spawn_failures_total 2",
    ] {
        assert!(t.lines().any(|l| l == line), "missing {line:?} in:\n{t}");
    }
    assert!(!t.contains("# EOF"));
}

#[test]
fn unknown_figures_are_left_out_not_zero() {
    let t = text(Format::Text);
    assert!(!t.contains("gsup_unit_memory_bytes{unit=\"db\""), "{t}");
    assert!(
        !t.contains("gsup_unit_uptime_seconds{unit=\"batch\""),
        "{t}"
    );
}

#[test]
fn label_values_are_escaped() {
    let t = text(Format::Text);
    assert!(
        t.contains(r#"unit="<script>alert(1)</script>",unit_instance="\"q'&<i>""#),
        "{t}"
    );
    assert!(
        t.contains(r#"rule="if \"mem\" > 1 KB\\n then <alert>""#),
        "{t}"
    );
}

#[test]
fn openmetrics_ends_with_eof_and_names_counter_families() {
    let t = text(Format::OpenMetrics);
    assert!(t.ends_with("# EOF\n"), "{t}");
    assert!(t.contains("# TYPE gsup_unit_restarts counter\n"));
    assert!(t.contains("gsup_unit_restarts_total{unit=\"web\",unit_instance=\"\"} 3\n"));
}

#[test]
fn the_accept_header_picks_the_format() {
    let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    assert_eq!(Format::from_accept(Some(prom)), Format::OpenMetrics);
    assert_eq!(Format::from_accept(Some("*/*")), Format::Text);
    assert_eq!(Format::from_accept(None), Format::Text);
    assert!(
        Format::OpenMetrics
            .content_type()
            .starts_with("application/openmetrics-text")
    );
    assert!(
        Format::Text
            .content_type()
            .starts_with("text/plain; version=0.0.4")
    );
}

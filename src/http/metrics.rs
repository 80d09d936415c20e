//! `/metrics`: a snapshot in Prometheus' text formats, encoded by
//! prometheus-client. Pure: no I/O, no clock; it never invents a figure.
//!
//! Series are labelled `unit` and `unit_instance` (Prometheus keeps `job`
//! and `instance` for the scrape target). A figure the snapshot lacks (the
//! memory of a stopped job) is left out, never written as 0.

use super::snapshot::Snapshot;
use crate::control::proto::JobStatus;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeLabelSet, EncodeMetric,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// Which text format a scraper asked for (its `Accept` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0, what Prometheus asks for first.
    OpenMetrics,
    /// The classic Prometheus text format 0.0.4, for everything else.
    Text,
}

impl Format {
    /// OpenMetrics when the `Accept` header names it, else the classic format.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        }
    }
}

/// The whole exposition of `snap` in `format`.
pub fn render(snap: &Arc<Snapshot>, format: Format) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SnapshotMetrics(Arc::clone(snap))));
    // About 700 bytes per instance: sized once, not grown line by line.
    let mut out = String::with_capacity(2048 + snap.jobs.len() * 800);
    match format {
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry)?,
        Format::Text => prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?,
    }
    Ok(out)
}

/// The collector prometheus-client calls once per encoding.
#[derive(Debug)]
struct SnapshotMetrics(Arc<Snapshot>);

type Labels<'a> = [(&'static str, &'a str); 2];

fn labels(j: &JobStatus) -> Labels<'_> {
    [("unit", &j.name), ("unit_instance", &j.instance)]
}

impl Collector for SnapshotMetrics {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let jobs = &self.0.jobs;
        gauges(
            &mut enc,
            "gsup_unit_up",
            "1 when the instance is start/running, else 0",
            jobs.iter().map(|j| (labels(j), i64::from(j.is_up()))),
        )?;
        let mut m = enc.encode_descriptor(
            "gsup_unit_state",
            "1 for the instance's current goal and state (one series per instance)",
            None,
            MetricType::Gauge,
        )?;
        for j in jobs {
            let l = [
                ("unit", j.name.as_str()),
                ("unit_instance", &j.instance),
                ("goal", j.goal.as_str()),
                ("state", j.state.as_str()),
            ];
            ConstGauge::new(1i64).encode(m.encode_family(&l)?)?;
        }
        counters(
            &mut enc,
            "gsup_unit_restarts",
            "Restarts of the instance (respawns and check restarts)",
            jobs.iter().map(|j| (labels(j), u64::from(j.restarts))),
        )?;
        gauges(
            &mut enc,
            "gsup_unit_memory_bytes",
            "Resident memory of the instance's process tree",
            jobs.iter()
                .filter_map(|j| Some((labels(j), j.memory_bytes?))),
        )?;
        counters(
            &mut enc,
            "gsup_unit_cpu_seconds",
            "CPU time used by the instance's process tree",
            jobs.iter()
                .filter_map(|j| Some((labels(j), j.cpu_seconds?))),
        )?;
        gauges(
            &mut enc,
            "gsup_unit_cpu_percent",
            "CPU of the instance's tree over the last cycle, in percent of one core",
            jobs.iter()
                .filter_map(|j| Some((labels(j), j.cpu_percent?))),
        )?;
        gauges(
            &mut enc,
            "gsup_unit_uptime_seconds",
            "Seconds since the instance's main process started",
            jobs.iter().filter_map(|j| Some((labels(j), j.uptime_s?))),
        )?;
        let mut m = enc.encode_descriptor(
            "gsup_unit_check_failures",
            "Times each check rule of the instance has fired, by rule",
            None,
            MetricType::Counter,
        )?;
        for j in jobs {
            for c in &j.check_failures {
                let l = [
                    ("unit", j.name.as_str()),
                    ("unit_instance", &j.instance),
                    ("rule", &c.rule),
                ];
                ConstCounter::new(c.count).encode(m.encode_family(&l)?)?;
            }
        }
        self.encode_daemon(enc)
    }
}

impl SnapshotMetrics {
    fn encode_daemon(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let d = &self.0.daemon;
        let info = [("version", d.version.as_str())];
        let mut m = enc.encode_descriptor(
            "gsup_daemon_info",
            "The daemon's version (value always 1)",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(1i64).encode(m.encode_family(&info)?)?;
        single_gauge(
            &mut enc,
            "gsup_daemon_uptime_seconds",
            "Seconds since the daemon started",
            Some(d.uptime_s),
        )?;
        single_gauge(
            &mut enc,
            "gsup_daemon_resident_memory_bytes",
            "The daemon's own resident memory",
            d.rss_bytes,
        )?;
        single_gauge(
            &mut enc,
            "gsup_daemon_open_fds",
            "File descriptors the daemon holds open",
            d.open_fds,
        )?;
        single_counter(
            &mut enc,
            "gsup_daemon_loop_turns",
            "Turns of the supervisor's event loop",
            d.loop_turns,
        )?;
        single_counter(
            &mut enc,
            "gsup_daemon_reaped",
            "Child processes the daemon has reaped",
            d.reaped,
        )?;
        single_counter(
            &mut enc,
            "gsup_daemon_spawn_failures",
            "Processes that could not be started (fork or exec failed)",
            d.spawn_failures,
        )?;
        Ok(())
    }
}

/// One gauge family, a series per item.
fn gauges<L: EncodeLabelSet, V: EncodeGaugeValue>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    items: impl Iterator<Item = (L, V)>,
) -> Result<(), std::fmt::Error> {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (l, v) in items {
        ConstGauge::new(v).encode(m.encode_family(&l)?)?;
    }
    Ok(())
}

/// One counter family (`NAME_total`), a series per item.
fn counters<L: EncodeLabelSet, V: EncodeCounterValue>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    items: impl Iterator<Item = (L, V)>,
) -> Result<(), std::fmt::Error> {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (l, v) in items {
        ConstCounter::new(v).encode(m.encode_family(&l)?)?;
    }
    Ok(())
}

/// A gauge without labels; left out when the figure is unknown.
fn single_gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: Option<u64>,
) -> Result<(), std::fmt::Error> {
    match v {
        Some(v) => {
            ConstGauge::new(v).encode(enc.encode_descriptor(name, help, None, MetricType::Gauge)?)
        }
        None => Ok(()),
    }
}

/// A counter without labels.
fn single_counter(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: u64,
) -> Result<(), std::fmt::Error> {
    ConstCounter::new(v).encode(enc.encode_descriptor(name, help, None, MetricType::Counter)?)
}

#[cfg(test)]
mod tests;

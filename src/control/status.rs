//! Status-line formatting: the Upstart line, the `-v` detail line, and the
//! `--json` line of one job. Pure string building; no I/O, no decisions.

use super::proto::JobStatus;

/// `NAME [(INSTANCE)] GOAL/STATE[, process PID]`, as Upstart prints it.
pub fn line(s: &JobStatus) -> String {
    let mut out = s.name.clone();
    if !s.instance.is_empty() {
        out.push_str(&format!(" ({})", s.instance));
    }
    out.push_str(&format!(" {}/{}", s.goal, s.state));
    if let Some(pid) = s.pid {
        out.push_str(&format!(", process {pid}"));
    }
    out
}

/// The `-v` second line, indented by four spaces:
/// `    memory 12.3 MB, cpu 0.4%, uptime 1h02m, restarts 0, last exit: signal KILL`
/// then `, failed: REASON`, `, failing: CHECK; CHECK` and `, definition
/// changed (restart to apply)` or `, definition deleted (runs until
/// stopped)` when present. Unknown values print as `-`.
pub fn verbose_line(s: &JobStatus) -> String {
    format!("    {}", verbose_fields(s).join(", "))
}

/// The fields of the `-v` line, each with its label (`memory 12.3 MB`,
/// `last exit: -`); the terminal's columns align them (`cli::table`).
pub fn verbose_fields(s: &JobStatus) -> Vec<String> {
    let dash = || "-".to_string();
    let mut out = vec![
        format!("memory {}", s.memory_bytes.map(size).unwrap_or_else(dash)),
        format!(
            "cpu {}",
            s.cpu_percent
                .map(|c| format!("{c:.1}%"))
                .unwrap_or_else(dash)
        ),
        format!("uptime {}", s.uptime_s.map(duration).unwrap_or_else(dash)),
        format!("restarts {}", s.restarts),
        format!("last exit: {}", s.last_exit.clone().unwrap_or_else(dash)),
    ];
    if let Some(reason) = &s.reason {
        out.push(format!("failed: {reason}"));
    }
    if !s.failing_checks.is_empty() {
        out.push(format!("failing: {}", s.failing_checks.join("; ")));
    }
    match s.definition.as_deref() {
        Some("changed") => out.push("definition changed (restart to apply)".into()),
        Some("deleted") => out.push("definition deleted (runs until stopped)".into()),
        Some(other) => out.push(format!("definition {other}")),
        None => {}
    }
    out
}

/// One JSON object on one line (every field of [`JobStatus`]).
pub fn json_line(s: &JobStatus) -> String {
    // Serializing plain data with string keys cannot fail; fall back anyway.
    serde_json::to_string(s).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// Bytes as Monit prints sizes (powers of 1024): `512 B`, `12.3 KB`, `1.5 GB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Seconds as a short uptime: `42s`, `3m07s`, `1h02m`, `2d03h`.
pub fn duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        3600..=86_399 => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{:02}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{Goal, State};

    fn status(name: &str, instance: &str, goal: Goal, state: State, pid: Option<i32>) -> JobStatus {
        JobStatus::new(name, instance, goal, state, pid)
    }

    #[test]
    fn status_lines_as_upstart() {
        let s = status(
            "gitorious/unicorn",
            "",
            Goal::Start,
            State::Running,
            Some(4242),
        );
        assert_eq!(line(&s), "gitorious/unicorn start/running, process 4242");
        let s = status(
            "gitorious/resque-worker",
            "high",
            Goal::Start,
            State::Running,
            Some(4250),
        );
        assert_eq!(
            line(&s),
            "gitorious/resque-worker (high) start/running, process 4250"
        );
        let s = status("gitorious/sphinx", "", Goal::Stop, State::Waiting, None);
        assert_eq!(line(&s), "gitorious/sphinx stop/waiting");
        let s = status("x", "", Goal::Stop, State::Failed, None);
        assert_eq!(line(&s), "x stop/failed");
        let s = status("w", "a b", Goal::Stop, State::Killed, Some(7));
        assert_eq!(line(&s), "w (a b) stop/killed, process 7");
    }

    #[test]
    fn every_state_word() {
        let words: Vec<String> = State::ALL
            .iter()
            .map(|&st| line(&status("j", "", Goal::Start, st, None)))
            .collect();
        assert_eq!(
            words.join("|"),
            "j start/waiting|j start/starting|j start/pre-start|j start/spawned|\
             j start/post-start|j start/running|j start/pre-stop|j start/stopping|\
             j start/killed|j start/post-stop|j start/failed"
        );
    }

    #[test]
    fn verbose_line_known_and_unknown() {
        let mut s = status("u", "", Goal::Start, State::Running, Some(1));
        assert_eq!(
            verbose_line(&s),
            "    memory -, cpu -, uptime -, restarts 0, last exit: -"
        );
        s.memory_bytes = Some(12_897_484);
        s.cpu_percent = Some(0.44);
        s.uptime_s = Some(3725);
        s.restarts = 2;
        s.last_exit = Some("signal KILL".into());
        assert_eq!(
            verbose_line(&s),
            "    memory 12.3 MB, cpu 0.4%, uptime 1h02m, restarts 2, last exit: signal KILL"
        );
        s.reason = Some("respawn limit".into());
        s.failing_checks = vec![
            "totalmem 412.0 MB > 300 MB, 2 of 3 cycles".into(),
            "cpu 95% > 90%, 1 of 5 cycles".into(),
        ];
        assert_eq!(
            verbose_line(&s),
            "    memory 12.3 MB, cpu 0.4%, uptime 1h02m, restarts 2, last exit: signal KILL, \
             failed: respawn limit, failing: totalmem 412.0 MB > 300 MB, 2 of 3 cycles; \
             cpu 95% > 90%, 1 of 5 cycles"
        );
        let mut s = status("u", "", Goal::Start, State::Running, Some(1));
        s.definition = Some("changed".into());
        assert!(
            verbose_line(&s).ends_with(", last exit: -, definition changed (restart to apply)"),
            "{}",
            verbose_line(&s)
        );
        s.definition = Some("deleted".into());
        assert!(verbose_line(&s).ends_with(", definition deleted (runs until stopped)"));
    }

    #[test]
    fn docs_show_the_real_formats() {
        let docs = include_str!("../../docs/commands.md");
        let mut s = status("web", "", Goal::Start, State::Running, Some(4242));
        s.memory_bytes = Some(12_897_484);
        s.cpu_percent = Some(0.44);
        s.uptime_s = Some(3725);
        s.restarts = 1;
        s.last_exit = Some("signal KILL".into());
        let shown = format!("    {}\n    {}\n", line(&s), verbose_line(&s));
        assert!(
            docs.contains(&shown),
            "docs/commands.md -v example differs:\n{shown}"
        );
        let json = format!("    {}\n", json_line(&s));
        assert!(
            docs.contains(&json),
            "docs/commands.md --json example differs:\n{json}"
        );
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1024), "1.0 KB");
        assert_eq!(size(300 * 1024 * 1024), "300.0 MB");
        assert_eq!(size(3 * 1024 * 1024 * 1024 / 2), "1.5 GB");
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(187), "3m07s");
        assert_eq!(duration(3600), "1h00m");
        assert_eq!(duration(93_600), "1d02h");
    }

    #[test]
    fn json_line_has_the_spec_fields() {
        let mut s = status("r", "high", Goal::Start, State::Running, Some(9));
        s.memory_bytes = Some(2048);
        s.last_exit = Some("exit 0".into());
        assert_eq!(
            json_line(&s),
            "{\"name\":\"r\",\"instance\":\"high\",\"goal\":\"start\",\"state\":\"running\",\
             \"pid\":9,\"memory_bytes\":2048,\"cpu_percent\":null,\"uptime_s\":null,\
             \"restarts\":0,\"last_exit\":\"exit 0\",\"failing_checks\":[],\"reason\":null,\
             \"cpu_seconds\":null,\"containment\":null,\"check_failures\":[],\"definition\":null}"
        );
    }
}

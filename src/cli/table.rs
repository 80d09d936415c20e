//! Status lines as a person at a terminal sees them: aligned columns, the state in colour.
//! Pure string building; whether stdout is a terminal is the client's business, never this file's.

use crate::control::proto::JobStatus;
use crate::control::status;
use crate::job::{Goal, State};
use anstyle::{AnsiColor, Style};

/// The space between two columns.
const GAP: &str = "  ";

/// How statuses are shown: `columns` aligns them (a terminal), `color`
/// paints the `goal/state` word (a terminal without `NO_COLOR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Looks {
    pub columns: bool,
    pub color: bool,
}

/// The statuses as a terminal shows them. With two or more, one row each in
/// columns (`NAME [(INSTANCE)]`, `GOAL/STATE`, `process PID`) and, for
/// `verbose`, the `-v` fields aligned below; a single status keeps Upstart's
/// line. Every line ends in `\n`; no line has trailing blanks.
pub fn render(statuses: &[JobStatus], verbose: bool, looks: Looks) -> String {
    let mut out = String::new();
    if statuses.len() < 2 || !looks.columns {
        for s in statuses {
            out.push_str(&upstart_line(s, looks.color));
            out.push('\n');
            if verbose {
                out.push_str(&status::verbose_line(s));
                out.push('\n');
            }
        }
        return out;
    }
    let heads: Vec<[String; 3]> = statuses.iter().map(head_cells).collect();
    let head_widths = widths(heads.iter().map(|r| r.as_slice()));
    let fields: Vec<Vec<String>> = statuses.iter().map(status::verbose_fields).collect();
    let field_widths = widths(fields.iter().map(Vec::as_slice));
    for (s, (head, fields)) in statuses.iter().zip(heads.iter().zip(&fields)) {
        let mut line = String::new();
        for (i, cell) in head.iter().enumerate() {
            let painted = if i == 1 {
                paint(cell, state_style(s), looks.color)
            } else {
                cell.clone()
            };
            push_cell(&mut line, &painted, cell, head_widths[i], i);
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if verbose {
            let mut line = String::from("    ");
            for (i, cell) in fields.iter().enumerate() {
                push_cell(&mut line, cell, cell, field_widths[i], i);
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// Appends `painted` (the text of `cell`, maybe with colour codes) padded
/// to `width` visible characters, after a gap unless it is the first column.
fn push_cell(line: &mut String, painted: &str, cell: &str, width: usize, i: usize) {
    if i > 0 {
        line.push_str(GAP);
    }
    line.push_str(painted);
    let pad = width.saturating_sub(cell.chars().count());
    line.extend(std::iter::repeat_n(' ', pad));
}

/// The widest cell of each column, in characters.
fn widths<'a>(rows: impl Iterator<Item = &'a [String]>) -> Vec<usize> {
    let mut w: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let n = cell.chars().count();
            match w.get_mut(i) {
                Some(x) => *x = (*x).max(n),
                None => w.push(n),
            }
        }
    }
    w
}

/// `NAME [(INSTANCE)]`, `GOAL/STATE`, `process PID` (empty without one).
fn head_cells(s: &JobStatus) -> [String; 3] {
    let name = if s.instance.is_empty() {
        s.name.clone()
    } else {
        format!("{} ({})", s.name, s.instance)
    };
    let pid = s.pid.map(|p| format!("process {p}")).unwrap_or_default();
    [name, format!("{}/{}", s.goal, s.state), pid]
}

/// Upstart's line (`status::line`), with the `goal/state` word painted.
fn upstart_line(s: &JobStatus, color: bool) -> String {
    let plain = status::line(s);
    if !color {
        return plain;
    }
    let word = format!("{}/{}", s.goal, s.state);
    let painted = paint(&word, state_style(s), true);
    let at = plain
        .find(&format!(" {word}"))
        .map_or(plain.len(), |i| i + 1);
    format!(
        "{}{painted}{}",
        &plain[..at],
        plain.get(at + word.len()..).unwrap_or_default()
    )
}

/// Green for `start/running`, red for `failed`, yellow on the way between,
/// none for a job at rest (`stop/waiting`).
fn state_style(s: &JobStatus) -> Option<Style> {
    match (s.goal, s.state) {
        (_, State::Failed) => Some(AnsiColor::Red.on_default().bold()),
        (Goal::Start, State::Running) => Some(AnsiColor::Green.on_default()),
        (Goal::Stop, State::Waiting) => None,
        _ => Some(AnsiColor::Yellow.on_default()),
    }
}

fn paint(text: &str, style: Option<Style>, color: bool) -> String {
    match style {
        Some(st) if color => format!("{}{text}{}", st.render(), st.render_reset()),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(name: &str, instance: &str, goal: Goal, state: State, pid: Option<i32>) -> JobStatus {
        JobStatus::new(name, instance, goal, state, pid)
    }

    fn sample() -> Vec<JobStatus> {
        vec![
            st(
                "gitorious/resque-worker",
                "high",
                Goal::Start,
                State::Running,
                Some(4250),
            ),
            st("gitorious/sphinx", "", Goal::Stop, State::Waiting, None),
            st("x", "", Goal::Stop, State::Failed, None),
            st("web", "", Goal::Stop, State::Killed, Some(17)),
        ]
    }

    const COLUMNS: Looks = Looks {
        columns: true,
        color: false,
    };

    #[test]
    fn columns_line_up() {
        assert_eq!(
            render(&sample(), false, COLUMNS),
            "gitorious/resque-worker (high)  start/running  process 4250\n\
             gitorious/sphinx                stop/waiting\n\
             x                               stop/failed\n\
             web                             stop/killed    process 17\n"
        );
    }

    #[test]
    fn verbose_fields_line_up_below() {
        let mut jobs = sample();
        jobs.truncate(2);
        jobs[0].memory_bytes = Some(12_897_484);
        jobs[0].cpu_percent = Some(0.44);
        jobs[0].uptime_s = Some(3725);
        jobs[0].last_exit = Some("signal KILL".into());
        assert_eq!(
            render(&jobs, true, COLUMNS),
            "gitorious/resque-worker (high)  start/running  process 4250\n    \
             memory 12.3 MB  cpu 0.4%  uptime 1h02m  restarts 0  last exit: signal KILL\n\
             gitorious/sphinx                stop/waiting\n    \
             memory -        cpu -     uptime -      restarts 0  last exit: -\n"
        );
    }

    #[test]
    fn plain_is_upstart_byte_for_byte() {
        let jobs = sample();
        let want: String = jobs.iter().map(|s| status::line(s) + "\n").collect();
        assert_eq!(render(&jobs, false, Looks::default()), want);
        let one = &jobs[..1];
        assert_eq!(
            render(one, false, COLUMNS),
            want.lines().next().unwrap_or_default().to_owned() + "\n"
        );
    }

    #[test]
    fn colour_paints_the_state_only() {
        let looks = Looks {
            columns: true,
            color: true,
        };
        let out = render(&sample(), false, looks);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "gitorious/resque-worker (high)  \x1b[32mstart/running\x1b[0m  process 4250"
        );
        assert_eq!(lines[1], "gitorious/sphinx                stop/waiting");
        assert_eq!(
            lines[2],
            "x                               \x1b[1m\x1b[31mstop/failed\x1b[0m"
        );
        let one = render(&sample()[..1], false, looks);
        assert_eq!(
            one,
            "gitorious/resque-worker (high) \x1b[32mstart/running\x1b[0m, process 4250\n"
        );
    }
}

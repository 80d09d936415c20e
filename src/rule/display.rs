//! The canonical text of a check (`Display for Check`): what `gsup status -v`
//! and logs print, and what `parse` reads back to the same check. Printing only.

use super::words::quote_word;
use super::{Action, Check, Condition, Op, Resource, Value, Window};
use std::fmt;

fn cycles(n: u32) -> &'static str {
    if n == 1 { "cycle" } else { "cycles" }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Resource::Mem => "mem",
            Resource::TotalMem => "totalmem",
            Resource::Cpu => "cpu",
            Resource::TotalCpu => "totalcpu",
            Resource::Children => "children",
            Resource::Uptime => "uptime",
        })
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::Eq => "==",
            Op::Ne => "!=",
        })
    }
}

impl fmt::Display for Value {
    /// Sizes in the largest unit that divides them (`300 MB`), durations
    /// likewise (`10m`, `1500ms`), percentages as `90%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Value::Bytes(b) => {
                let (n, unit) = [(1u64 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "KB")]
                    .into_iter()
                    .find(|&(m, _)| b != 0 && b % m == 0)
                    .map_or((b, "B"), |(m, u)| (b / m, u));
                write!(f, "{n} {unit}")
            }
            Value::Percent(p) => write!(f, "{p}%"),
            Value::Count(n) => write!(f, "{n}"),
            Value::Duration(d) => {
                let ms = d.as_millis();
                let (n, unit) = [
                    (86_400_000u128, "d"),
                    (3_600_000, "h"),
                    (60_000, "m"),
                    (1000, "s"),
                ]
                .into_iter()
                .find(|&(m, _)| ms != 0 && ms % m == 0)
                .map_or((ms, "ms"), |(m, u)| (ms / m, u));
                write!(f, "{n}{unit}")
            }
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Restart => f.write_str("restart"),
            Action::Stop => f.write_str("stop"),
            Action::Alert => f.write_str("alert"),
            Action::Kill => f.write_str("kill"),
            Action::Signal(s) => write!(f, "signal {}", s.name()),
            Action::Exec(words) => {
                f.write_str("exec")?;
                for w in words {
                    write!(f, " {}", quote_word(w))?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Check {
    /// The canonical line, e.g. `if totalmem > 300 MB for 3 cycles then restart`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("if ")?;
        match &self.condition {
            Condition::Resource {
                resource,
                op,
                value,
            } => write!(f, "{resource} {op} {value}")?,
            Condition::Restarts { count, cycles: m } => {
                let noun = if *count == 1 { "restart" } else { "restarts" };
                write!(f, "{count} {noun} within {m} {}", cycles(*m))?;
            }
        }
        match self.window {
            Window::Once => {}
            Window::Consecutive(n) => write!(f, " for {n} {}", cycles(n))?,
            Window::Within { times, cycles: m } => {
                write!(f, " {times} times within {m} {}", cycles(m))?
            }
        }
        write!(f, " then {}", self.action)
    }
}

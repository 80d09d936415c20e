//! The Monit-style check language (SPEC section 5): the syntax tree and parser.
//! Pure: evaluation against measurements lives in `watchdog`, which uses these types.

mod display;
mod parse;
mod value;
mod words;

pub use words::{quote_word, split_words};

/// The canonical name of a signal (`TERM`), or `None` for one without a name;
/// the one table is in `unit::values`. Kept here for `watchdog` alerts.
pub use crate::unit::values::signal_name;

use crate::unit::Signal;
use std::time::Duration;

/// One parsed check line, e.g. `if totalmem > 300 MB for 3 cycles then restart`.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// The text as written, for status output and logs.
    pub source: String,
    pub condition: Condition,
    pub window: Window,
    pub action: Action,
}

/// What a check tests.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `RESOURCE OP VALUE`.
    Resource {
        resource: Resource,
        op: Op,
        value: Value,
    },
    /// `N restarts within M cycles` (Monit's timeout rule).
    Restarts { count: u32, cycles: u32 },
}

/// The measurable resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// RSS of the main process.
    Mem,
    /// RSS of the main process and all its descendants.
    TotalMem,
    /// CPU of the main process, percent of one core.
    Cpu,
    /// CPU of the whole tree, percent of one core.
    TotalCpu,
    /// Number of descendants of the main process.
    Children,
    /// Seconds since the main process started.
    Uptime,
}

/// Comparison operators (`>`, `<`, `>=`, `<=`, `==`, `!=`, and Monit's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Gt,
    Lt,
    Ge,
    Le,
    Eq,
    Ne,
}

/// A threshold, typed by the resource it is compared with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Bytes(u64),
    Percent(f64),
    Count(u64),
    Duration(Duration),
}

/// How many cycles the condition must hold before the action fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// No window: one cycle.
    Once,
    /// `for N cycles`: N consecutive cycles.
    Consecutive(u32),
    /// `N times within M cycles`.
    Within { times: u32, cycles: u32 },
}

/// What to do when a check fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Restart,
    Stop,
    Alert,
    /// `exec CMD`: argv words, run without a shell.
    Exec(Vec<String>),
    Signal(Signal),
    /// `kill`: only in `child_checks`; that child and its descendants.
    Kill,
}

/// A parse error: `offset` is the 0-based character offset in the check text.
/// The same type as the event-expression parser's, so callers report both alike.
pub use crate::expr::ParseError;

/// Parses one check line, Monit-style: `if RESOURCE OP VALUE [for N cycles |
/// N times within M cycles] then ACTION` or `if N restarts within M cycles then
/// stop|alert` (docs/checks.md). `child` is true for `child_checks` (where
/// `kill` is allowed). Errors carry a 0-based char offset and say what was expected.
pub fn parse(text: &str, child: bool) -> Result<Check, ParseError> {
    parse::parse(text, child)
}

#[cfg(test)]
mod tests;

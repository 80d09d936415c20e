//! Upstart event expressions (SPEC section 2): the syntax tree, its parser, and
//! the matcher that says when an expression becomes true. Pure: no I/O, no clock.

pub mod glob;
mod matcher;
mod parse;

pub use matcher::{Fired, matches};

use std::fmt;

/// An event expression: `EVENT [ARG]... [KEY=VALUE]...` joined by `and`/`or`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Match(EventMatch),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// One `EVENT [ARG]... [KEY=VALUE]... [KEY!=VALUE]...` operand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMatch {
    pub event: String,
    pub args: Vec<ArgMatch>,
}

/// One argument of an event match; values are globs (`*`, `?`, `[06]`, `[!0]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgMatch {
    /// The Nth positional argument matches the value of the event's Nth variable.
    Positional(String),
    /// `KEY=VALUE`: the event's variable KEY matches the glob.
    Eq(String, String),
    /// `KEY!=VALUE`: the event's variable KEY does not match the glob.
    Ne(String, String),
}

/// An event as emitted: a name and its variables, in order (positional
/// arguments match them by position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub name: String,
    pub env: Vec<(String, String)>,
}

/// A parse error: `offset` is the 0-based character offset in the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Parses an event expression: `EVENT [ARG]... [KEY=VALUE]... [KEY!=VALUE]...`
/// operands joined by `and` / `or` (equal precedence, left to right, as in
/// Upstart), with parentheses, glob values and quotes (docs/events.md).
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    parse::parse(text)
}

/// The job events whose first argument (or `JOB=`) names a job.
const JOB_EVENTS: [&str; 4] = ["starting", "started", "stopping", "stopped"];

impl Expr {
    /// Every `(event, job)` pair this expression names for the job events
    /// `starting`, `started`, `stopping`, `stopped` (their first positional
    /// argument, else their `JOB=` value), for the dependency graph. Globbed
    /// job names are skipped; pairs come in text order, without repeats.
    pub fn job_references(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        self.collect_references(&mut out);
        out
    }

    fn collect_references(&self, out: &mut Vec<(String, String)>) {
        match self {
            Expr::Match(m) => {
                if !JOB_EVENTS.contains(&m.event.as_str()) {
                    return;
                }
                let job = match m.args.first() {
                    Some(ArgMatch::Positional(g)) => Some(g),
                    _ => m.args.iter().find_map(|a| match a {
                        ArgMatch::Eq(k, g) if k == "JOB" => Some(g),
                        _ => None,
                    }),
                };
                if let Some(job) = job.and_then(|g| glob::literal(g)) {
                    let pair = (m.event.clone(), job);
                    if !out.contains(&pair) {
                        out.push(pair);
                    }
                }
            }
            Expr::And(l, r) | Expr::Or(l, r) => {
                l.collect_references(out);
                r.collect_references(out);
            }
        }
    }
}

/// Feeds events to an expression, Upstart-style: each operand remembers the
/// event that matched it; when the whole tree is true, `feed` returns the
/// environment the job gets, and the matcher resets. Works the same for
/// `start_on` and `stop_on`.
#[derive(Debug, Clone)]
pub struct Matcher {
    expr: Expr,
    nodes: Vec<matcher::Node>,
}

impl Matcher {
    /// A fresh matcher for `expr`, with no event seen.
    pub fn new(expr: Expr) -> Matcher {
        let mut nodes = Vec::new();
        matcher::flatten(&expr, &mut nodes);
        Matcher { expr, nodes }
    }

    /// The expression this matcher evaluates.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Feeds one event. Returns `Some(env)` when the expression became true
    /// (the variables of the matched events, in tree order, later overriding
    /// earlier), then resets; `None` otherwise.
    pub fn feed(&mut self, event: &Event) -> Option<Vec<(String, String)>> {
        self.fire(event).map(|f| f.env)
    }

    /// Like `feed`, but also names the events that made the expression true
    /// (Upstart's `UPSTART_EVENTS`), for callers that want to report them.
    pub fn fire(&mut self, event: &Event) -> Option<Fired> {
        if !matcher::handle(&mut self.nodes, event) {
            return None;
        }
        let mut fired = Fired {
            env: Vec::new(),
            events: Vec::new(),
        };
        matcher::collect(&self.nodes, self.nodes.len() - 1, &mut fired);
        self.reset();
        Some(fired)
    }

    /// Whether some operand holds an event, waiting for the rest of the tree.
    pub fn is_pending(&self) -> bool {
        self.nodes
            .iter()
            .any(|n| matches!(n, matcher::Node::Match { event: Some(_), .. }))
    }

    /// Forgets every event seen so far.
    pub fn reset(&mut self) {
        matcher::reset(&mut self.nodes);
    }
}

#[cfg(test)]
mod tests;

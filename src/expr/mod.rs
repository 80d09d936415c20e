//! Upstart event expressions (SPEC section 2): the syntax tree, its parser, and
//! the matcher that says when an expression becomes true. Pure: no I/O, no clock.

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

/// Parses an event expression.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let _ = text;
    Err(ParseError {
        offset: 0,
        message: "event expressions are not implemented yet".into(),
    })
}

impl Expr {
    /// Every `(event, job)` pair this expression names for the job events
    /// `starting`, `started`, `stopping`, `stopped` (their first positional
    /// argument), for the dependency graph.
    pub fn job_references(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// Feeds events to an expression, Upstart-style: each operand remembers the
/// event that matched it; when the whole tree is true, `feed` returns the
/// environment the job gets, and the matcher resets.
#[derive(Debug, Clone)]
pub struct Matcher {
    expr: Expr,
}

impl Matcher {
    /// A fresh matcher for `expr`, with no event seen.
    pub fn new(expr: Expr) -> Matcher {
        Matcher { expr }
    }

    /// The expression this matcher evaluates.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Feeds one event. Returns `Some(env)` when the expression became true
    /// (the variables of the matched events, in tree order, later overriding
    /// earlier), then resets; `None` otherwise.
    pub fn feed(&mut self, event: &Event) -> Option<Vec<(String, String)>> {
        let _ = event;
        None
    }

    /// Forgets every event seen so far.
    pub fn reset(&mut self) {}
}

//! The check-language parser (docs/checks.md): one `if ... then ACTION` line to a
//! `Check`, with char-precise errors that say what was expected. No evaluation here.

use super::value::value;
use super::words::split_words;
use super::{Action, Check, Condition, Op, ParseError, Resource, Window};
use crate::unit::values;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Kind {
    Word,
    Number,
    Sym,
}

#[derive(Debug, Clone)]
pub(super) struct Tok {
    pub(super) kind: Kind,
    pub(super) text: String,
    pub(super) at: usize,
}

pub(super) fn err(offset: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        offset,
        message: message.into(),
    }
}

pub(super) struct Parser<'a> {
    src: &'a [char],
    pos: usize,
}

impl Parser<'_> {
    /// The next token, without consuming it.
    pub(super) fn peek(&self) -> Result<Option<Tok>, ParseError> {
        let src = self.src;
        let mut i = self.pos;
        while i < src.len() && src[i].is_whitespace() {
            i += 1;
        }
        let Some(&c) = src.get(i) else {
            return Ok(None);
        };
        let start = i;
        let take = |mut j: usize, f: &dyn Fn(char) -> bool| {
            while j < src.len() && f(src[j]) {
                j += 1;
            }
            j
        };
        let (kind, end) = if c.is_ascii_alphabetic() || c == '_' {
            (
                Kind::Word,
                take(i, &|c| c.is_ascii_alphanumeric() || c == '_'),
            )
        } else if c.is_ascii_digit() {
            let mut j = take(i, &|c| c.is_ascii_digit());
            if src.get(j) == Some(&'.') && src.get(j + 1).is_some_and(char::is_ascii_digit) {
                j = take(j + 1, &|c| c.is_ascii_digit());
            }
            (Kind::Number, j)
        } else if matches!(c, '>' | '<' | '=' | '!') {
            let two = src.get(i + 1) == Some(&'=');
            if c == '!' && !two {
                return Err(err(i, "unexpected `!`: did you mean `!=`?"));
            }
            (Kind::Sym, i + 1 + usize::from(two))
        } else if c == '%' {
            (Kind::Sym, i + 1)
        } else {
            return Err(err(i, format!("unexpected character `{c}`")));
        };
        Ok(Some(Tok {
            kind,
            text: src[start..end].iter().collect(),
            at: start,
        }))
    }

    pub(super) fn next(&mut self) -> Result<Option<Tok>, ParseError> {
        let tok = self.peek()?;
        if let Some(t) = &tok {
            self.pos = t.at + t.text.chars().count();
        }
        Ok(tok)
    }

    /// Where the next token starts, or the end of the text.
    pub(super) fn here(&self) -> usize {
        let mut i = self.pos;
        while i < self.src.len() && self.src[i].is_whitespace() {
            i += 1;
        }
        i
    }

    /// Consumes the next token if it is the keyword `word` (any case).
    fn eat(&mut self, word: &str) -> Result<bool, ParseError> {
        match self.peek()? {
            Some(t) if t.kind == Kind::Word && t.text.eq_ignore_ascii_case(word) => {
                self.next()?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn expect_word(&mut self, words: &[&str], what: &str) -> Result<Tok, ParseError> {
        let at = self.here();
        match self.next()? {
            Some(t)
                if t.kind == Kind::Word && words.iter().any(|w| t.text.eq_ignore_ascii_case(w)) =>
            {
                Ok(t)
            }
            Some(t) => Err(err(t.at, format!("expected {what}, found `{}`", t.text))),
            None => Err(err(at, format!("expected {what} at the end"))),
        }
    }

    /// A whole number of at least 1 (cycle and restart counts).
    fn count(&mut self, what: &str) -> Result<u32, ParseError> {
        let at = self.here();
        match self.next()? {
            Some(t) if t.kind == Kind::Number => match t.text.parse::<u32>() {
                Ok(0) => Err(err(t.at, format!("{what} must be at least 1"))),
                Ok(n) => Ok(n),
                Err(_) => Err(err(
                    t.at,
                    format!("expected a whole number for {what}, found `{}`", t.text),
                )),
            },
            Some(t) => Err(err(
                t.at,
                format!("expected a number for {what}, found `{}`", t.text),
            )),
            None => Err(err(at, format!("expected a number for {what} at the end"))),
        }
    }

    /// `cycle` or `cycles` after a count.
    fn cycles(&mut self) -> Result<(), ParseError> {
        self.expect_word(&["cycles", "cycle"], "`cycles`").map(drop)
    }
}

fn resource(word: &str) -> Option<Resource> {
    Some(match word.to_ascii_lowercase().as_str() {
        "mem" => Resource::Mem,
        "totalmem" => Resource::TotalMem,
        "cpu" => Resource::Cpu,
        "totalcpu" => Resource::TotalCpu,
        "children" => Resource::Children,
        "uptime" => Resource::Uptime,
        _ => return None,
    })
}

fn op(tok: &Tok) -> Option<Op> {
    Some(match tok.text.to_ascii_lowercase().as_str() {
        ">" | "gt" | "greater" => Op::Gt,
        "<" | "lt" | "less" => Op::Lt,
        ">=" | "ge" => Op::Ge,
        "<=" | "le" => Op::Le,
        "==" | "=" | "eq" | "equal" => Op::Eq,
        "!=" | "ne" => Op::Ne,
        _ => return None,
    })
}

/// `for N cycles` | `[for] N times within M cycles` | nothing.
fn window(p: &mut Parser) -> Result<Window, ParseError> {
    let had_for = p.eat("for")?;
    let next = p.peek()?;
    if !had_for && !next.as_ref().is_some_and(|t| t.kind == Kind::Number) {
        return Ok(Window::Once);
    }
    let n_at = p.here();
    let n = p.count("the cycle count")?;
    if p.eat("times")? || p.eat("time")? {
        p.expect_word(&["within"], "`within`")?;
        let m_at = p.here();
        let m = p.count("the cycle count")?;
        p.cycles()?;
        if m < n {
            return Err(err(
                m_at,
                format!("`{n} times within {m} cycles` can never happen: {m} must be at least {n}"),
            ));
        }
        return Ok(Window::Within {
            times: n,
            cycles: m,
        });
    }
    match p.peek()? {
        Some(t)
            if t.kind == Kind::Word
                && (t.text.eq_ignore_ascii_case("cycles")
                    || t.text.eq_ignore_ascii_case("cycle")) =>
        {
            p.next()?;
            Ok(Window::Consecutive(n))
        }
        Some(t) => Err(err(
            t.at,
            format!(
                "expected `cycles` or `times within M cycles` after `{n}`, found `{}`",
                t.text
            ),
        )),
        None => Err(err(n_at, format!("expected `cycles` after `{n}`"))),
    }
}

fn action(p: &mut Parser, child: bool, restarts: bool) -> Result<Action, ParseError> {
    let at = p.here();
    let what = "an action (restart, stop, alert, exec CMD, signal NAME or kill)";
    let tok = match p.next()? {
        Some(t) if t.kind == Kind::Word => t,
        Some(t) => return Err(err(t.at, format!("expected {what}, found `{}`", t.text))),
        None => return Err(err(at, format!("expected {what} after `then`"))),
    };
    let name = tok.text.to_ascii_lowercase();
    if restarts && name != "stop" && name != "alert" {
        return Err(err(
            tok.at,
            format!(
                "`if N restarts within M cycles` allows only `stop` or `alert`, not `{}`",
                tok.text
            ),
        ));
    }
    Ok(match name.as_str() {
        "restart" => Action::Restart,
        "stop" => Action::Stop,
        "alert" => Action::Alert,
        "kill" if child => Action::Kill,
        "kill" => {
            return Err(err(
                tok.at,
                "`kill` is only allowed in child_checks; use `restart`, `stop` or `signal NAME`",
            ));
        }
        "signal" => {
            let at = p.here();
            let sig = match p.next()? {
                Some(t) if t.kind != Kind::Sym => t,
                Some(t) => {
                    return Err(err(
                        t.at,
                        format!("expected a signal name such as `TERM`, found `{}`", t.text),
                    ));
                }
                None => {
                    return Err(err(
                        at,
                        "expected a signal name such as `TERM` after `signal`",
                    ));
                }
            };
            let signal = values::parse_signal(&sig.text).map_err(|_| {
                err(
                    sig.at,
                    format!(
                        "unknown signal `{}`: use a name such as `TERM`, `USR1` or a number 1-64",
                        sig.text
                    ),
                )
            })?;
            Action::Signal(signal)
        }
        "exec" => {
            let start = p.pos;
            let rest: String = p.src[start..].iter().collect();
            let words = split_words(&rest).map_err(|(i, m)| err(start + i, m))?;
            p.pos = p.src.len();
            if words.is_empty() {
                return Err(err(tok.at, "expected a command after `exec`"));
            }
            Action::Exec(words)
        }
        _ => {
            return Err(err(
                tok.at,
                format!("expected {what}, found `{}`", tok.text),
            ));
        }
    })
}

/// Parses one check line (see `super::parse`).
pub(super) fn parse(text: &str, child: bool) -> Result<Check, ParseError> {
    let src: Vec<char> = text.chars().collect();
    let mut p = Parser { src: &src, pos: 0 };
    if p.peek()?.is_none() {
        return Err(err(
            0,
            "empty check: expected `if RESOURCE OP VALUE then ACTION`",
        ));
    }
    p.expect_word(&["if"], "`if` at the start of a check")?;
    let at = p.here();
    let first = p.next()?;
    let (condition, restarts) = match first {
        Some(t) if t.kind == Kind::Number => {
            let count = t.text.parse::<u32>().ok().filter(|&n| n >= 1);
            let count = count.ok_or_else(|| {
                err(
                    t.at,
                    "the restart count must be a whole number of at least 1",
                )
            })?;
            p.expect_word(
                &["restarts", "restart"],
                &format!("`restarts` after `if {count}`"),
            )?;
            p.expect_word(&["within"], "`within`")?;
            let cycles = p.count("the cycle count")?;
            p.cycles()?;
            (Condition::Restarts { count, cycles }, true)
        }
        Some(t) if t.kind == Kind::Word => {
            let res = resource(&t.text).ok_or_else(|| {
                err(t.at, format!("unknown resource `{}`: expected mem, totalmem, cpu, totalcpu, children or uptime", t.text))
            })?;
            let op_at = p.here();
            let op_tok = p.next()?;
            let Some((o, op_text)) = op_tok
                .as_ref()
                .and_then(|o| op(o).map(|x| (x, o.text.clone())))
            else {
                let found = op_tok
                    .map(|o| format!(", found `{}`", o.text))
                    .unwrap_or_default();
                return Err(err(
                    op_at,
                    format!(
                        "expected a comparison such as `>` after `{}`{found}",
                        t.text
                    ),
                ));
            };
            let ctx = format!("{} {op_text}", t.text);
            let value = value(&mut p, res, &ctx)?;
            (
                Condition::Resource {
                    resource: res,
                    op: o,
                    value,
                },
                false,
            )
        }
        Some(t) => {
            return Err(err(
                t.at,
                format!(
                    "expected a resource or `N restarts` after `if`, found `{}`",
                    t.text
                ),
            ));
        }
        None => return Err(err(at, "expected a resource or `N restarts` after `if`")),
    };
    let window = if restarts {
        Window::Once
    } else {
        window(&mut p)?
    };
    p.expect_word(&["then"], "`then`")?;
    let action = action(&mut p, child, restarts)?;
    if let Some(t) = p.peek()? {
        return Err(err(
            t.at,
            format!("unexpected `{}` after the action", t.text),
        ));
    }
    Ok(Check {
        source: text.trim().to_string(),
        condition,
        window,
        action,
    })
}

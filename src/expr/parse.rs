//! The event-expression parser and its canonical printer (docs/events.md):
//! text to `Expr` with char-precise errors, and `Expr` back to text. No matching here.

use super::glob;
use super::{ArgMatch, EventMatch, Expr, ParseError};
use std::fmt;

/// At most this many nested parentheses, so that no input can exhaust the stack.
const MAX_DEPTH: usize = 32;
/// At most this many event operands in one expression (same reason).
const MAX_OPERANDS: usize = 256;

/// One lexed word: its text (quotes removed, backslashes kept for the glob)
/// and, for each char of `text`, its char offset in the source.
#[derive(Debug)]
struct Word {
    text: Vec<char>,
    offsets: Vec<usize>,
    start: usize,
    quoted: bool,
    /// Index in `text` of the first `=` that was neither quoted nor escaped.
    eq: Option<usize>,
}

#[derive(Debug)]
enum Tok {
    Open(usize),
    Close(usize),
    Word(Word),
}

fn err(offset: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        offset,
        message: message.into(),
    }
}

fn lex(src: &[char]) -> Result<Vec<Tok>, ParseError> {
    let mut toks = Vec::new();
    let mut i = 0;
    while i < src.len() {
        let c = src[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '(' || c == ')' {
            toks.push(if c == '(' {
                Tok::Open(i)
            } else {
                Tok::Close(i)
            });
            i += 1;
            continue;
        }
        let mut w = Word {
            text: Vec::new(),
            offsets: Vec::new(),
            start: i,
            quoted: false,
            eq: None,
        };
        let mut quote: Option<(char, usize)> = None;
        while i < src.len() {
            let c = src[i];
            match (quote, c) {
                (None, c) if c.is_whitespace() || c == '(' || c == ')' => break,
                (None, '"' | '\'') => {
                    quote = Some((c, i));
                    w.quoted = true;
                }
                (Some((q, _)), c) if c == q => quote = None,
                (_, '\\') => {
                    if i + 1 == src.len() {
                        return Err(err(i, "a backslash at the end escapes nothing"));
                    }
                    w.text.extend([c, src[i + 1]]);
                    w.offsets.extend([i, i + 1]);
                    i += 2;
                    continue;
                }
                (None, '=') if w.eq.is_none() => {
                    w.eq = Some(w.text.len());
                    w.text.push(c);
                    w.offsets.push(i);
                }
                _ => {
                    w.text.push(c);
                    w.offsets.push(i);
                }
            }
            i += 1;
        }
        if let Some((q, at)) = quote {
            return Err(err(at, format!("unterminated {q} quote")));
        }
        toks.push(Tok::Word(w));
    }
    Ok(toks)
}

/// An unquoted `and` / `or`: returns the operator name.
fn operator(t: &Tok) -> Option<&'static str> {
    match t {
        Tok::Word(w) if !w.quoted => match w.text.iter().collect::<String>().as_str() {
            "and" => Some("and"),
            "or" => Some("or"),
            _ => None,
        },
        _ => None,
    }
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
    operands: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    /// `expr := primary (("and" | "or") primary)*`, left-associative with equal
    /// precedence, as Upstart's parse_on_operator builds its tree.
    fn expr(&mut self, after: Option<(usize, &'static str)>) -> Result<Expr, ParseError> {
        let mut left = self.primary(after)?;
        loop {
            let Some(tok) = self.peek() else {
                return Ok(left);
            };
            match tok {
                Tok::Close(_) => return Ok(left),
                Tok::Open(at) => return Err(err(*at, "expected `and` or `or` before `(`")),
                Tok::Word(w) => {
                    let Some(op) = operator(tok) else {
                        let found: String = w.text.iter().collect();
                        return Err(err(
                            w.start,
                            format!("expected `and` or `or`, found `{found}`"),
                        ));
                    };
                    let at = w.start;
                    self.pos += 1;
                    let right = self.primary(Some((at, op)))?;
                    left = if op == "and" {
                        Expr::And(Box::new(left), Box::new(right))
                    } else {
                        Expr::Or(Box::new(left), Box::new(right))
                    };
                }
            }
        }
    }

    /// An event operand or a parenthesised group. `after` names what came
    /// before (offset and text), for the message when nothing follows.
    fn primary(&mut self, after: Option<(usize, &'static str)>) -> Result<Expr, ParseError> {
        let Some(tok) = self.peek() else {
            return Err(match after {
                Some((at, what)) => err(at, format!("expected an event after `{what}`")),
                None => err(self.end, "empty event expression"),
            });
        };
        match tok {
            Tok::Close(at) => Err(err(*at, "expected an event name, found `)`")),
            Tok::Open(at) => {
                let at = *at;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(err(
                        at,
                        format!("parentheses nested deeper than {MAX_DEPTH}"),
                    ));
                }
                self.pos += 1;
                let inner = self.expr(Some((at, "(")))?;
                match self.peek() {
                    Some(Tok::Close(_)) => {
                        self.pos += 1;
                        self.depth -= 1;
                        Ok(inner)
                    }
                    _ => Err(err(at, "unclosed `(`: no matching `)`")),
                }
            }
            Tok::Word(w) => {
                if let Some(op) = operator(tok) {
                    return Err(err(
                        w.start,
                        format!("expected an event name, found operator `{op}`"),
                    ));
                }
                self.operand()
            }
        }
    }

    /// `EVENT [ARG]... [KEY=VALUE]... [KEY!=VALUE]...`
    fn operand(&mut self) -> Result<Expr, ParseError> {
        let Some(Tok::Word(w)) = self.toks.get(self.pos) else {
            return Err(err(self.end, "expected an event name"));
        };
        self.operands += 1;
        if self.operands > MAX_OPERANDS {
            return Err(err(
                w.start,
                format!("more than {MAX_OPERANDS} events in one expression"),
            ));
        }
        let name: String = w.text.iter().collect();
        if w.eq.is_some() {
            return Err(err(
                w.start,
                format!("expected an event name, found the argument `{name}`"),
            ));
        }
        if name.eq_ignore_ascii_case("and") || name.eq_ignore_ascii_case("or") {
            let lower = name.to_ascii_lowercase();
            return Err(err(
                w.start,
                format!("expected an event name, found `{name}` (the operator is `{lower}`)"),
            ));
        }
        if w.quoted || name.contains(['\\', '"', '\'']) || name.is_empty() {
            return Err(err(
                w.start,
                "an event name is a bare word: no quotes or backslashes",
            ));
        }
        self.pos += 1;
        let mut args = Vec::new();
        let mut named = false;
        while let Some(tok) = self.peek() {
            let Tok::Word(w) = tok else { break };
            if operator(tok).is_some() {
                break;
            }
            let text: String = w.text.iter().collect();
            if !w.quoted && (text.eq_ignore_ascii_case("and") || text.eq_ignore_ascii_case("or")) {
                let lower = text.to_ascii_lowercase();
                return Err(err(
                    w.start,
                    format!("`{text}` is not an operator: write `{lower}`, or quote it"),
                ));
            }
            let arg = argument(w, named)?;
            named |= !matches!(arg, ArgMatch::Positional(_));
            args.push(arg);
            self.pos += 1;
        }
        Ok(Expr::Match(EventMatch { event: name, args }))
    }
}

/// Turns one argument word into a positional or `KEY=VALUE` / `KEY!=VALUE` match.
fn argument(w: &Word, named: bool) -> Result<ArgMatch, ParseError> {
    let Some(eq) = w.eq else {
        let value: String = w.text.iter().collect();
        if named {
            return Err(err(
                w.start,
                format!(
                    "positional argument `{value}` after KEY=VALUE arguments: positional ones come first"
                ),
            ));
        }
        check_glob(w, 0)?;
        return Ok(ArgMatch::Positional(value));
    };
    let negated = eq > 0 && w.text[eq - 1] == '!';
    let key: String = w.text[..eq - usize::from(negated)].iter().collect();
    let valid = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(err(
            w.start,
            format!(
                "invalid variable name `{key}`: use letters, digits and `_`, not starting with a digit"
            ),
        ));
    }
    check_glob(w, eq + 1)?;
    let value: String = w.text[eq + 1..].iter().collect();
    Ok(if negated {
        ArgMatch::Ne(key, value)
    } else {
        ArgMatch::Eq(key, value)
    })
}

/// Validates the glob in `w.text[from..]`, reporting the source offset.
fn check_glob(w: &Word, from: usize) -> Result<(), ParseError> {
    let value: String = w.text[from..].iter().collect();
    glob::validate(&value).map_err(|e| {
        let at = w.offsets.get(from + e.index).copied().unwrap_or(w.start);
        err(at, e.message)
    })
}

/// Parses an event expression (see `super::parse`).
pub(super) fn parse(text: &str) -> Result<Expr, ParseError> {
    let src: Vec<char> = text.chars().collect();
    let toks = lex(&src)?;
    if toks.is_empty() {
        return Err(err(0, "empty event expression"));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        operands: 0,
        end: src.len(),
    };
    let expr = p.expr(None)?;
    match p.peek() {
        None => Ok(expr),
        Some(Tok::Close(at)) => Err(err(*at, "unmatched `)`")),
        Some(_) => Err(err(p.end, "unexpected text after the expression")),
    }
}

/// Writes a value so that the lexer reads it back unchanged: bare when it can
/// be, else double-quoted (a literal `"` is written as `"'"'"`).
fn write_value(f: &mut fmt::Formatter<'_>, v: &str, positional: bool) -> fmt::Result {
    let mut plain = !v.is_empty() || !positional;
    if positional && (v.eq_ignore_ascii_case("and") || v.eq_ignore_ascii_case("or")) {
        plain = false;
    }
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '=' if positional => plain = false,
            c if c.is_whitespace() || matches!(c, '(' | ')' | '"' | '\'') => plain = false,
            _ => {}
        }
    }
    if plain {
        return f.write_str(v);
    }
    f.write_str("\"")?;
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                f.write_str("\\")?;
                if let Some(e) = chars.next() {
                    write!(f, "{e}")?;
                }
            }
            '"' => f.write_str("\"'\"'\"")?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

impl fmt::Display for EventMatch {
    /// The canonical text of one operand, e.g. `stopped JOB=gitorious/* RESULT!=ok`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.event)?;
        for arg in &self.args {
            f.write_str(" ")?;
            match arg {
                ArgMatch::Positional(v) => write_value(f, v, true)?,
                ArgMatch::Eq(k, v) => {
                    write!(f, "{k}=")?;
                    write_value(f, v, false)?;
                }
                ArgMatch::Ne(k, v) => {
                    write!(f, "{k}!=")?;
                    write_value(f, v, false)?;
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Expr {
    /// The canonical text: single spaces, and parentheses only where needed or
    /// where `and` and `or` mix (`(a or b) and c`), so that it parses back equal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (l, r, op) = match self {
            Expr::Match(m) => return m.fmt(f),
            Expr::And(l, r) => (l, r, "and"),
            Expr::Or(l, r) => (l, r, "or"),
        };
        let same = |e: &Expr| matches!((e, op), (Expr::And(..), "and") | (Expr::Or(..), "or"));
        match **l {
            Expr::Match(_) => write!(f, "{l}")?,
            _ if same(l) => write!(f, "{l}")?,
            _ => write!(f, "({l})")?,
        }
        write!(f, " {op} ")?;
        match **r {
            Expr::Match(_) => write!(f, "{r}"),
            _ => write!(f, "({r})"),
        }
    }
}

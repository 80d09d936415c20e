//! Conversion of raw YAML nodes to the unit's value types, collecting every error.
//! Each function reports at the offending node and returns `None`; it never stops early.

use super::expand::check_template;
use super::model::{Command, Signal, UserSpec};
use super::raw::{Node, Source, Value};
use super::values;
use super::words;
use crate::diag::Diagnostic;
use std::path::Path;
use std::time::Duration;

/// The state of one file's validation: where diagnostics go and the source text.
pub struct Ctx<'a> {
    pub file: &'a Path,
    pub src: Source<'a>,
    pub diags: Vec<Diagnostic>,
}

impl<'a> Ctx<'a> {
    /// A context for `file` whose text is `text`.
    pub fn new(file: &'a Path, text: &'a str) -> Ctx<'a> {
        Ctx {
            file,
            src: Source { text },
            diags: Vec::new(),
        }
    }

    /// Records an error at `line:col`.
    pub fn err_pos(&mut self, (line, col): (usize, usize), msg: impl Into<String>) {
        self.diags
            .push(Diagnostic::error(self.file, line.max(1), col.max(1), msg));
    }

    /// Records an error at `node`.
    pub fn err(&mut self, node: &Node, msg: impl Into<String>) {
        self.err_pos((node.pos.line, node.pos.col), msg);
    }

    /// How a node reads in an error: a scalar's text in backticks, else its type.
    pub fn describe(&self, node: &Node) -> String {
        match self.src.scalar_text(node) {
            Some(t) if t.chars().count() <= 40 => format!("`{t}`"),
            Some(_) => "a long string".to_owned(),
            None => node.value.kind().to_owned(),
        }
    }

    /// Records "KEY: expected WHAT, found X" at `node`; returns `None` for convenience.
    pub fn wrong<T>(&mut self, key: &str, node: &Node, what: &str) -> Option<T> {
        let found = self.describe(node);
        self.err(node, format!("{key}: expected {what}, found {found}"));
        None
    }

    /// Free text: any scalar, numbers and booleans as written.
    pub fn text(&mut self, key: &str, node: &Node) -> Option<String> {
        match self.src.scalar_text(node) {
            Some(t) => Some(t),
            None => self.wrong(key, node, "a string"),
        }
    }

    /// A `$VAR` template string (`pidfile`, `instance`), syntax-checked.
    pub fn template(&mut self, key: &str, node: &Node) -> Option<String> {
        let t = self.text(key, node)?;
        if t.is_empty() {
            return self.wrong(key, node, "a non-empty string");
        }
        match check_template(&t) {
            Ok(()) => Some(t),
            Err(e) => {
                let pos = self.src.pos_in(node, &t, e.offset);
                self.err_pos(pos, format!("{key}: {}", e.message));
                None
            }
        }
    }

    /// `true` or `false`.
    pub fn boolean(&mut self, key: &str, node: &Node) -> Option<bool> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => self.wrong(key, node, "true or false"),
        }
    }

    /// An integer within `lo..=hi`.
    pub fn int(&mut self, key: &str, node: &Node, lo: i64, hi: i64) -> Option<i64> {
        let what = format!("an integer from {lo} to {hi}");
        match node.value {
            Value::Int(i) if (i128::from(lo)..=i128::from(hi)).contains(&i) => Some(i as i64),
            _ => self.wrong(key, node, &what),
        }
    }

    /// A duration: `500ms`, `5s`, `2m`, `1h` or a number of seconds.
    pub fn duration(&mut self, key: &str, node: &Node) -> Option<Duration> {
        let r = match &node.value {
            Value::Int(i) if *i >= 0 => values::duration_from_secs(*i as f64),
            Value::Float(f) => values::duration_from_secs(*f),
            Value::Str(s) => values::parse_duration(s),
            _ => return self.wrong(key, node, values::DURATION_HELP),
        };
        self.ok_or_report(key, node, r)
    }

    /// A size: `300 MB` and the like (1024-based), or a number of bytes.
    pub fn size(&mut self, key: &str, node: &Node) -> Option<u64> {
        let r = match &node.value {
            Value::Int(i) if *i >= 0 => u64::try_from(*i).map_err(|_| "size too large".into()),
            Value::Str(s) => values::parse_size(s),
            _ => return self.wrong(key, node, values::SIZE_HELP),
        };
        self.ok_or_report(key, node, r)
    }

    /// A signal name or number.
    pub fn signal(&mut self, key: &str, node: &Node) -> Option<Signal> {
        let r = match &node.value {
            Value::Int(i) => values::signal_number(i64::try_from(*i).unwrap_or(i64::MAX)),
            Value::Str(s) => values::parse_signal(s),
            _ => return self.wrong(key, node, "a signal name such as TERM or a number"),
        };
        self.ok_or_report(key, node, r)
    }

    fn ok_or_report<T>(&mut self, key: &str, node: &Node, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(m) => {
                self.err(node, format!("{key}: {m}"));
                None
            }
        }
    }

    /// A command: a list of argv words, or one string split by shell word rules.
    pub fn command(&mut self, key: &str, node: &Node) -> Option<Command> {
        let words = match &node.value {
            Value::Seq(items) => {
                let mut words = Vec::with_capacity(items.len());
                let mut ok = true;
                for item in items {
                    match self.src.scalar_text(item) {
                        Some(w) => match check_template(&w) {
                            Ok(()) => words.push(w),
                            Err(e) => {
                                let pos = self.src.pos_in(item, &w, e.offset);
                                self.err_pos(pos, format!("{key}: {}", e.message));
                                ok = false;
                            }
                        },
                        None => {
                            self.wrong::<()>(key, item, "a string (one argv word)");
                            ok = false;
                        }
                    }
                }
                if !ok {
                    return None;
                }
                words
            }
            Value::Str(s) => match words::split(s) {
                Ok(words) => {
                    for w in &words {
                        if let Err(e) = check_template(w) {
                            self.err(node, format!("{key}: {} in word `{w}`", e.message));
                            return None;
                        }
                    }
                    words
                }
                Err(e) => {
                    let pos = self.src.pos_in(node, s, e.offset);
                    self.err_pos(pos, format!("{key}: {}", e.message));
                    return None;
                }
            },
            _ => {
                return self.wrong(key, node, "a command: a list of argv words or one string");
            }
        };
        match words.first() {
            None => {
                self.err(
                    node,
                    format!("{key}: empty command: expected a program and its arguments"),
                );
                None
            }
            Some(w) if w.is_empty() => {
                self.err(
                    node,
                    format!("{key}: the program name (first word) is empty"),
                );
                None
            }
            Some(_) => Some(Command { words }),
        }
    }

    /// A user or group: a name, or a numeric id (an all-digit string is an id).
    pub fn user(&mut self, key: &str, node: &Node) -> Option<UserSpec> {
        match &node.value {
            Value::Int(i) => match u32::try_from(*i) {
                Ok(id) => Some(UserSpec::Id(id)),
                Err(_) => self.wrong(key, node, "a name or a numeric id from 0 to 4294967295"),
            },
            Value::Str(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                match s.parse::<u32>() {
                    Ok(id) => Some(UserSpec::Id(id)),
                    Err(_) => self.wrong(key, node, "a numeric id from 0 to 4294967295"),
                }
            }
            Value::Str(s)
                if !s.is_empty()
                    && !s.contains(|c: char| c.is_whitespace() || c == ':' || c == '/') =>
            {
                Some(UserSpec::Name(s.clone()))
            }
            _ => self.wrong(key, node, "a name or a numeric id"),
        }
    }

    /// The entries of a map, or a type error.
    pub fn map<'n>(&mut self, key: &str, node: &'n Node, what: &str) -> Option<&'n [(Node, Node)]> {
        match &node.value {
            Value::Map(m) => Some(m),
            _ => self.wrong(key, node, what),
        }
    }

    /// A map key as a string, or an error at the key.
    pub fn key_name<'n>(&mut self, parent: &str, k: &'n Node) -> Option<&'n str> {
        match &k.value {
            Value::Str(s) => Some(s),
            _ => {
                let found = self.describe(k);
                self.err(k, format!("{parent}: keys must be strings, found {found}"));
                None
            }
        }
    }

    /// Reports an unknown key with the nearest allowed one, or the whole list.
    pub fn unknown_key(&mut self, parent: Option<&str>, k: &Node, name: &str, allowed: &[&str]) {
        let hint = match values::nearest(name, allowed.iter().copied()) {
            Some(n) => format!("did you mean `{n}`?"),
            None => format!("allowed keys: {}", allowed.join(", ")),
        };
        let msg = match parent {
            Some(p) => format!("{p}: unknown key `{name}`; {hint}"),
            None => format!("unknown key `{name}`; {hint}"),
        };
        self.err(k, msg);
    }
}

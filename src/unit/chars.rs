//! Control characters in a unit file: a NUL or any other one but tab, in a string or raw, is an error.
//! It walks the raw YAML tree only; it never decides what a key means (`fields` does).

use super::raw::{Node, Source, Value};
use crate::diag::Diagnostic;
use std::borrow::Cow;
use std::path::Path;

/// The keys whose value is a command: a line break is allowed in their words
/// (a shell script given to `sh -c` may span lines, as Upstart's `script`
/// blocks do), nowhere else.
const COMMAND_KEYS: &[&str] = &["exec", "pre_start", "post_start", "pre_stop", "post_stop"];

/// What the rule says, appended to every message but a line break's.
const RULE: &str = "no control character but tab is allowed";
/// The same for a line break outside a command.
const LINE_RULE: &str = "only command words may span lines";

/// A unit file's text with every raw ASCII control character (tab and line
/// breaks aside) replaced by `_`, which YAML would refuse with a bare "unexpected
/// character": the tree is then parsed from `text`, and the replaced bytes
/// are reported by [`check`] at the string that held them.
pub struct Masked<'a> {
    pub text: Cow<'a, str>,
    /// Byte offset and character of each replaced one, ascending.
    pub raw: Vec<(usize, char)>,
}

/// Masks the raw control characters of `text` (see [`Masked`]); borrows
/// `text` when it holds none, which is the usual case.
pub fn mask(text: &str) -> Masked<'_> {
    let is_raw = |b: u8| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0x7f;
    let raw: Vec<(usize, char)> = text
        .bytes()
        .enumerate()
        .filter(|&(_, b)| is_raw(b))
        .map(|(i, b)| (i, char::from(b)))
        .collect();
    if raw.is_empty() {
        return Masked {
            text: Cow::Borrowed(text),
            raw,
        };
    }
    // Each replaced character is one byte, as `_` is: offsets stay valid.
    let bytes: Vec<u8> = text
        .bytes()
        .map(|b| if is_raw(b) { b'_' } else { b })
        .collect();
    let text = String::from_utf8(bytes).map_or(Cow::Borrowed(text), Cow::Owned);
    Masked { text, raw }
}

/// Every control character in the strings of `root` (parsed from
/// `masked.text`), one error per string, each at the character and naming
/// what held it: `NUL in env value of PATH`, `ESC in exec word 2`.
pub fn check(file: &Path, masked: &Masked, root: &Node) -> Vec<Diagnostic> {
    let mut w = Walk {
        file,
        src: Source { text: &masked.text },
        raw: &masked.raw,
        covered: vec![false; masked.raw.len()],
        diags: Vec::new(),
    };
    w.root(root);
    for (i, &(byte, c)) in masked.raw.iter().enumerate() {
        if !w.covered[i] {
            let (line, col) = line_col(&masked.text, byte);
            let name = name_of(c);
            w.diags.push(Diagnostic::error(
                file,
                line,
                col,
                format!("{name} outside any string; {RULE}"),
            ));
            break;
        }
    }
    w.diags
}

struct Walk<'a> {
    file: &'a Path,
    src: Source<'a>,
    raw: &'a [(usize, char)],
    covered: Vec<bool>,
    diags: Vec<Diagnostic>,
}

impl Walk<'_> {
    fn root(&mut self, root: &Node) {
        let Value::Map(entries) = &root.value else {
            self.node(root, "the document", false);
            return;
        };
        for (k, v) in entries {
            self.string(k, "a key name", false);
            let Value::Str(key) = &k.value else {
                continue;
            };
            match key.as_str() {
                "env" => self.env(v),
                "ready" => self.ready(v),
                k if COMMAND_KEYS.contains(&k) => self.command(v, k),
                k => self.node(v, k, false),
            }
        }
    }

    fn env(&mut self, v: &Node) {
        let Value::Map(entries) = &v.value else {
            self.node(v, "env", false);
            return;
        };
        for (k, val) in entries {
            self.string(k, "env variable name", false);
            let name = match &k.value {
                Value::Str(s) => s.clone(),
                _ => self.src.scalar_text(k).unwrap_or_default(),
            };
            self.node(val, &format!("env value of {name}"), false);
        }
    }

    fn ready(&mut self, v: &Node) {
        match &v.value {
            Value::Map(entries) => {
                for (k, val) in entries {
                    self.string(k, "a key in ready", false);
                    match &k.value {
                        Value::Str(s) if s == "exec" => self.command(val, "ready exec"),
                        Value::Str(s) => self.node(val, &format!("ready {s}"), false),
                        _ => self.node(val, "ready", false),
                    }
                }
            }
            _ => self.node(v, "ready", false),
        }
    }

    /// A command: one string, or a list of words (`exec word 2`).
    fn command(&mut self, v: &Node, label: &str) {
        match &v.value {
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.node(item, &format!("{label} word {}", i + 1), true);
                }
            }
            _ => self.node(v, label, true),
        }
    }

    /// Any node: its strings, labelled by where they sit.
    fn node(&mut self, v: &Node, label: &str, lines_ok: bool) {
        match &v.value {
            Value::Str(_) => self.string(v, label, lines_ok),
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.node(item, &format!("{label} item {}", i + 1), lines_ok);
                }
            }
            Value::Map(entries) => {
                for (k, val) in entries {
                    self.string(k, &format!("a key in {label}"), false);
                    let key = match &k.value {
                        Value::Str(s) => s.clone(),
                        _ => self.src.scalar_text(k).unwrap_or_default(),
                    };
                    self.node(val, &format!("{label} {key}"), lines_ok);
                }
            }
            Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {}
        }
    }

    /// One string node: a raw control character inside its source text, else
    /// the first control character of its value (from an escape such as `\0`).
    fn string(&mut self, v: &Node, label: &str, lines_ok: bool) {
        let Value::Str(s) = &v.value else {
            return;
        };
        if let Some((o, l)) = v.pos.bytes {
            let mut first = None;
            for (i, &(b, c)) in self.raw.iter().enumerate() {
                if b >= o && b < o + l {
                    self.covered[i] = true;
                    first = first.or(Some((b, c)));
                }
            }
            if let Some((b, c)) = first {
                let pos = line_col(self.src.text, b);
                self.push(pos, c, label);
                return;
            }
        }
        let bad = s
            .chars()
            .enumerate()
            .find(|&(_, c)| is_forbidden(c, lines_ok));
        if let Some((offset, c)) = bad {
            let pos = self.src.pos_in(v, s, offset);
            self.push(pos, c, label);
        }
    }

    fn push(&mut self, (line, col): (usize, usize), c: char, label: &str) {
        let rule = if c == '\n' { LINE_RULE } else { RULE };
        self.diags.push(Diagnostic::error(
            self.file,
            line.max(1),
            col.max(1),
            format!("{} in {label}; {rule}", name_of(c)),
        ));
    }
}

/// True for a character no unit-file string may hold: every control
/// character (C0, DEL, C1) but tab, and a line break outside command words.
pub fn is_forbidden(c: char, lines_ok: bool) -> bool {
    c.is_control() && c != '\t' && !(lines_ok && c == '\n')
}

/// How a control character reads in a message.
fn name_of(c: char) -> String {
    match c {
        '\0' => "NUL".to_owned(),
        '\n' => "a line break".to_owned(),
        '\r' => "a carriage return".to_owned(),
        '\x1b' => "ESC".to_owned(),
        '\x7f' => "DEL".to_owned(),
        c => format!("control character U+{:04X}", u32::from(c)),
    }
}

/// The 1-based line and column (in characters) of byte `byte` of `text`.
fn line_col(text: &str, byte: usize) -> (usize, usize) {
    let before = text.get(..byte).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |p| p + 1);
    (line, before[start..].chars().count() + 1)
}

//! The statements of a Monit control file: `set`, `check`, and inside `check process`
//! the programs, pid file, dependencies, modes. Pure; `test` reads the `if` lines.

use super::lex::{Kind, Tok};
use super::{MonitFile, Process};
use crate::import::Note;

/// Words that begin a statement at the top of the file.
const TOP: &[&str] = &["set", "check", "include"];

/// A cursor over the tokens, filling a `MonitFile`.
pub struct Parser {
    toks: Vec<Tok>,
    pub(super) pos: usize,
    pub(super) cpus: u32,
    out: MonitFile,
}

impl Parser {
    /// A parser at the first token.
    pub fn new(toks: Vec<Tok>, cpus: u32) -> Parser {
        Parser {
            toks,
            pos: 0,
            cpus,
            out: MonitFile::default(),
        }
    }

    /// What was read.
    pub fn into_file(self) -> MonitFile {
        self.out
    }

    pub(super) fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    pub(super) fn peek_at(&self, k: usize) -> Option<&Tok> {
        self.toks.get(self.pos + k)
    }

    pub(super) fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    /// Consumes the word `w` (any case) if it is next.
    pub(super) fn eat(&mut self, w: &str) -> bool {
        if self.peek().is_some_and(|t| t.is(w)) {
            self.pos += 1;
            return true;
        }
        false
    }

    /// Consumes the symbol `s` if it is next.
    pub(super) fn eat_sym(&mut self, s: &str) -> bool {
        if self
            .peek()
            .is_some_and(|t| t.kind == Kind::Sym && t.text == s)
        {
            self.pos += 1;
            return true;
        }
        false
    }

    /// The line of the next token (or of the last one).
    pub(super) fn line(&self) -> usize {
        self.peek().or(self.toks.last()).map_or(1, |t| t.line)
    }

    pub(super) fn note(&mut self, note: Note) {
        self.out.notes.push(note);
    }

    /// True when the next token begins a top-level statement.
    fn at_top(&self) -> bool {
        self.peek()
            .is_some_and(|t| t.first && TOP.iter().any(|w| t.is(w)))
    }

    /// True when the next token begins any statement: a top-level one, or
    /// one inside a `check` entry (checked with what follows, since `start`,
    /// `stop` and `alert` are also actions).
    pub(super) fn at_statement(&self) -> bool {
        let Some(t) = self.peek() else {
            return true;
        };
        if !t.first {
            return false;
        }
        let next = self.peek_at(1);
        let program_next = next.is_some_and(|n| n.is("program") || n.text == "=");
        [
            "if", "depends", "depend", "group", "every", "mode", "noalert", "with", "pidfile",
            "matching", "match", "onreboot", "set", "check", "include", "alert",
        ]
        .iter()
        .any(|w| t.is(w))
            || (t.is("not") && next.is_some_and(|n| n.is("every")))
            || (["start", "stop", "restart"].iter().any(|w| t.is(w)) && program_next)
    }

    /// Skips the rest of a statement (at least one token; `{ ... }` groups
    /// whole) and returns its text, for a note.
    pub(super) fn skip_statement(&mut self) -> String {
        let start = self.pos;
        self.pos = (self.pos + 1).min(self.toks.len());
        let mut depth = 0u32;
        while let Some(t) = self.peek() {
            if depth == 0 && self.at_statement() {
                break;
            }
            match (t.kind, t.text.as_str()) {
                (Kind::Sym, "{") => depth += 1,
                (Kind::Sym, "}") => depth = depth.saturating_sub(1),
                _ => {}
            }
            self.pos += 1;
        }
        self.shown(start)
    }

    /// The tokens from `start` to here, as a short text for notes.
    pub(super) fn shown(&self, start: usize) -> String {
        let mut text = String::new();
        for t in &self.toks[start..self.pos] {
            let glued = t.kind == Kind::Sym && (t.text == "%" || t.text == ",");
            if !text.is_empty() && !glued {
                text.push(' ');
            }
            text.push_str(&t.shown());
        }
        let mut shown: String = text.chars().take(70).collect();
        if shown.len() < text.len() {
            shown.push_str("...");
        }
        shown
    }

    /// The whole file.
    pub fn file(&mut self) {
        while let Some(t) = self.peek() {
            let line = t.line;
            if t.is("set") {
                self.set();
            } else if t.is("check") {
                self.check();
            } else if t.is("include") {
                let s = self.skip_statement();
                self.note(Note::dropped(
                    line,
                    format!("`{s}`: run `gsup import monit` on the included files too"),
                ));
            } else {
                let s = self.skip_statement();
                self.note(Note::dropped(
                    line,
                    format!("`{s}`: not a Monit statement gsup knows"),
                ));
            }
        }
    }

    /// `set daemon N`, and Monit's other settings, which are the daemon's.
    fn set(&mut self) {
        let start = self.pos;
        let line = self.line();
        self.pos += 1;
        let what = self
            .peek()
            .map(|t| t.text.to_ascii_lowercase())
            .unwrap_or_default();
        if what == "daemon" {
            self.pos += 1;
            match self.peek().and_then(|t| t.text.parse::<u64>().ok()) {
                Some(n) if n > 0 => {
                    self.pos += 1;
                    self.out.cycle_s = Some(n);
                }
                _ => {
                    let s = self.skip_statement();
                    self.note(Note::dropped(
                        line,
                        format!("`{s}`: expected a number of seconds"),
                    ));
                    return;
                }
            }
            if self.eat("with") || self.peek().is_some_and(|t| t.is("start")) {
                let s = self.skip_statement();
                self.note(Note::dropped(
                    line,
                    format!(
                        "`{s}`: gsup checks from the first cycle on; a job that needs time \
                             to settle can use `ready:`"
                    ),
                ));
            }
            return;
        }
        self.pos = start;
        let s = self.skip_statement();
        let why = match what.as_str() {
            "alert" | "mailserver" | "mail-format" => {
                "gsup runs the daemon's `--alert-command` on `alert` (with the event in its \
                 environment): make that command send the mail"
            }
            "httpd" => {
                "Monit's web interface: gsup answers `gsup status`, `gsup list` and \
                 `gsup status --json` on its socket"
            }
            "logfile" => "the gsup daemon logs to its stderr (`--log-format text|json`)",
            _ => {
                self.note(Note::warning(
                    line,
                    format!("`{s}`: Monit's own setting; nothing of it applies to gsup"),
                ));
                return;
            }
        };
        self.note(Note::dropped(line, format!("`{s}`: {why}")));
    }

    /// `check process NAME ...` and its statements; other kinds are dropped whole.
    fn check(&mut self) {
        let start = self.pos;
        let line = self.line();
        self.pos += 1;
        let kind = self
            .next()
            .map(|t| t.text.to_ascii_lowercase())
            .unwrap_or_default();
        let name = self.next().map(|t| t.text).unwrap_or_default();
        if kind != "process" {
            let s = self.shown(start);
            while self.peek().is_some() && !self.at_top() {
                self.pos += 1;
            }
            self.out.other_checks.push(name);
            self.note(Note::dropped(
                line,
                format!("`{s}`: gsup watches the processes of its jobs only"),
            ));
            return;
        }
        let mut p = Process {
            name,
            line,
            ..Process::default()
        };
        while self.peek().is_some() && !self.at_top() {
            self.statement(&mut p);
        }
        self.out.processes.push(p);
    }
}

//! The statements inside a Monit `check process` entry: programs, pid file, `depends on`,
//! `every`, `mode`, and the ones gsup has no place for. Pure; `test` reads the `if` lines.

use super::lex::Kind;
use super::parse::Parser;
use super::{Process, Program};
use crate::import::Note;
use crate::import::shell;

impl Parser {
    /// One statement inside `check process`.
    pub(super) fn statement(&mut self, p: &mut Process) {
        let Some(t) = self.peek().cloned() else {
            return;
        };
        let line = t.line;
        let word = t.text.to_ascii_lowercase();
        match word.as_str() {
            "if" => self.test(p),
            "start" | "stop" | "restart" => self.program(p, &word),
            "with" | "pidfile" | "matching" | "match" | "pid" => self.source(p),
            "depends" | "depend" => {
                self.pos += 1;
                self.eat("on");
                loop {
                    match self.peek() {
                        Some(n) if n.kind != Kind::Sym && !(n.first && self.at_statement()) => {
                            let n = n.text.clone();
                            self.pos += 1;
                            p.depends.push((line, n));
                        }
                        _ => break,
                    }
                    if !self.eat_sym(",") {
                        break;
                    }
                }
            }
            "every" => {
                let start = self.pos;
                self.pos += 1;
                let n = self
                    .peek()
                    .and_then(|t| t.text.parse::<u32>().ok())
                    .filter(|&n| n > 0);
                if let Some(n) = n
                    && self
                        .peek_at(1)
                        .is_some_and(|t| t.is("cycles") || t.is("cycle"))
                {
                    self.pos += 2;
                    p.every = Some((line, n));
                } else {
                    self.pos = start;
                    let s = self.skip_statement();
                    self.note(Note::dropped(
                        line,
                        format!("`{s}`: gsup checks on a cycle, not on a calendar"),
                    ));
                }
            }
            "mode" => {
                let start = self.pos;
                self.pos += 1;
                let mode = self
                    .next()
                    .map(|t| t.text.to_ascii_lowercase())
                    .unwrap_or_default();
                let s = self.shown(start);
                match mode.as_str() {
                    "active" => {}
                    "manual" => p.manual = true,
                    _ => self.note(Note::dropped(
                        line,
                        format!("`{s}`: gsup always supervises its jobs; it cannot only watch"),
                    )),
                }
            }
            "onreboot" => {
                let start = self.pos;
                self.pos += 1;
                let when = self
                    .next()
                    .map(|t| t.text.to_ascii_lowercase())
                    .unwrap_or_default();
                let s = self.shown(start);
                match when.as_str() {
                    "start" => {}
                    "nostart" => p.manual = true,
                    _ => self.note(Note::dropped(
                        line,
                        format!("`{s}`: gsup does not remember which jobs ran before a reboot"),
                    )),
                }
            }
            _ => {
                let s = self.skip_statement();
                let why = match word.as_str() {
                    "group" => {
                        "gsup has no service groups: name the jobs, or give them a shared `start_on` event"
                    }
                    "alert" | "noalert" => {
                        "gsup has one `--alert-command` for every job, not recipients per check"
                    }
                    _ => "not a Monit statement gsup knows",
                };
                self.note(Note::dropped(line, format!("`{s}`: {why}")));
            }
        }
    }

    /// `with pidfile PATH`, `pidfile PATH`, `matching REGEX`.
    fn source(&mut self, p: &mut Process) {
        let start = self.pos;
        let line = self.line();
        self.eat("with");
        if self.eat("pidfile") || self.eat("pid") && self.eat("file") {
            if let Some(path) = self.next() {
                p.pidfile = Some(path.text);
                return;
            }
        } else if self.eat("matching") || self.eat("match") {
            self.next();
            let s = self.shown(start);
            self.note(Note::dropped(
                line,
                format!(
                    "`{s}`: gsup knows a job's process as the one it started or the one its \
                     pid file names, never by matching command lines: make the start program \
                     stay in the foreground, or write a pid file"
                ),
            ));
            return;
        }
        self.pos = start;
        let s = self.skip_statement();
        self.note(Note::dropped(
            line,
            format!("`{s}`: not a Monit statement gsup knows"),
        ));
    }

    /// `start|stop|restart [program] [=] "CMD" [as uid U] [and gid G] [with timeout N seconds]`.
    fn program(&mut self, p: &mut Process, which: &str) {
        let start = self.pos;
        let line = self.line();
        self.pos += 1;
        self.eat("program");
        self.eat_sym("=");
        let cmd = match self.peek() {
            Some(t) if t.kind == Kind::Str => t.text.clone(),
            _ => {
                self.pos = start;
                let s = self.skip_statement();
                self.note(Note::dropped(
                    line,
                    format!("`{s}`: expected a quoted command"),
                ));
                return;
            }
        };
        self.pos += 1;
        let mut prog = Program {
            line,
            ..Program::default()
        };
        while let Some(t) = self.peek().cloned() {
            if t.first {
                break;
            }
            if t.is("as") || t.is("and") || t.is("with") {
                self.pos += 1;
            } else if t.is("uid") || t.is("user") {
                self.pos += 1;
                prog.uid = self.next().map(|t| t.text);
            } else if t.is("gid") || t.is("group") {
                self.pos += 1;
                prog.gid = self.next().map(|t| t.text);
            } else if t.is("timeout") {
                self.pos += 1;
                prog.timeout_s = self.next().and_then(|t| t.text.parse().ok());
                let unit_word = self.peek().is_some_and(|t| {
                    ["second", "seconds", "sec", "s", "cycle", "cycles"]
                        .iter()
                        .any(|w| t.is(w))
                });
                if unit_word {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
        let shown = self.shown(start);
        match shell::program(&cmd) {
            Ok(words) => prog.words = words,
            Err(e) => {
                self.note(Note::dropped(line, format!("`{shown}`: {e}")));
                return;
            }
        }
        match which {
            "start" => p.start = Some(prog),
            "stop" => p.stop = Some(prog),
            _ => self.note(Note::dropped(
                line,
                format!("`{shown}`: gsup restarts a job by stopping and starting it"),
            )),
        }
    }
}

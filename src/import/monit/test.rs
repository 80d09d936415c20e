//! Monit's `if` lines inside `check process`: resource tests and the restart-count rule
//! become gsup check lines, checked with gsup's own check parser; the rest become notes. Pure.

use super::Process;
use super::lex::{Kind, Tok};
use super::parse::Parser;
use crate::import::Note;
use crate::rule::quote_word;

/// What an `if` tests.
enum Cond {
    /// `RESOURCE OP VALUE`, in gsup's words; a warning about the value if any.
    Resource(String, Option<String>),
    /// `N restarts within M cycles`.
    Restarts(u32, u32),
    /// `does not exist`: gsup's respawn.
    Missing,
}

/// What an `if` does.
enum Act {
    /// `alert`, `restart`, `stop`, `start`, `unmonitor`, `monitor`, `timeout`.
    Word(String),
    /// `exec "CMD"`: argv words, and whether it runs `as uid`/`gid`.
    Exec(Vec<String>, bool),
}

const ACTIONS: &[&str] = &[
    "alert",
    "restart",
    "start",
    "stop",
    "exec",
    "unmonitor",
    "monitor",
    "timeout",
];

fn is_action(t: &Tok) -> bool {
    ACTIONS.iter().any(|a| t.is(a))
}

impl Parser {
    /// One `if ... then ACTION [else if ... then ACTION]` line.
    pub(super) fn test(&mut self, p: &mut Process) {
        let start = self.pos;
        let line = self.line();
        self.next();
        let cond = self.condition();
        let window = match cond {
            Ok(Cond::Resource(..) | Cond::Missing) => self.window(),
            _ => Ok(String::new()),
        };
        if cond.is_err() || window.is_err() {
            self.seek_action();
        }
        self.eat("then");
        let action = self.action();
        let extras = self.after_action();
        let shown = self.shown(start);
        let dropped =
            |s: &mut Self, why: String| s.note(Note::dropped(line, format!("`{shown}`: {why}")));
        for why in extras {
            dropped(self, why);
        }
        let (cond, window, action) = match (cond, window, action) {
            (Err(why), _, _) | (_, Err(why), _) | (_, _, Err(why)) => return dropped(self, why),
            (Ok(c), Ok(w), Ok(a)) => (c, w, a),
        };
        let text = match (cond, action) {
            (Cond::Missing, Act::Word(a)) if a == "restart" || a == "start" => return,
            (Cond::Missing, _) => {
                return dropped(
                    self,
                    "gsup respawns a job whose process is gone (`respawn: true`); it has no \
                     other action for it"
                        .into(),
                );
            }
            (Cond::Restarts(n, m), Act::Word(a)) if a == "timeout" || a == "unmonitor" => {
                self.note(Note::warning(
                    line,
                    format!(
                        "`{shown}`: Monit stops watching and leaves the process as it is; \
                         gsup's `stop` stops the job (stop/failed), which is what giving up \
                         on a crashing job means to a supervisor"
                    ),
                ));
                format!("if {n} restarts within {m} cycles then stop")
            }
            (Cond::Restarts(n, m), Act::Word(a)) if a == "alert" || a == "stop" => {
                format!("if {n} restarts within {m} cycles then {a}")
            }
            (Cond::Restarts(..), _) => {
                return dropped(
                    self,
                    "gsup's restart-count rule can only `stop` or `alert`".into(),
                );
            }
            (Cond::Resource(_, _), Act::Exec(_, true)) => {
                return dropped(
                    self,
                    "gsup runs a check's `exec` as the daemon's user; `as uid`/`gid` has no \
                     equivalent"
                        .into(),
                );
            }
            (Cond::Resource(c, warning), act) => {
                let act = match act {
                    Act::Exec(words, _) => {
                        let quoted: Vec<String> = words.iter().map(|w| quote_word(w)).collect();
                        format!("exec {}", quoted.join(" "))
                    }
                    Act::Word(a) if ["alert", "restart", "stop"].contains(&a.as_str()) => a,
                    Act::Word(a) => {
                        return dropped(
                            self,
                            format!("`{a}`: a gsup check can restart, stop, alert, exec or signal"),
                        );
                    }
                };
                if let Some(w) = warning {
                    self.note(Note::warning(line, format!("`{shown}`: {w}")));
                }
                format!("if {c}{window} then {act}")
            }
        };
        match crate::rule::parse(&text, false) {
            Ok(check) => p.checks.push(check.to_string()),
            Err(e) => dropped(self, format!("as `{text}`: {}", e.message)),
        }
    }

    /// The condition of an `if`, up to its window.
    fn condition(&mut self) -> Result<Cond, String> {
        if let (Some(n), Some(r)) = (self.peek().cloned(), self.peek_at(1))
            && (r.is("restart") || r.is("restarts"))
            && let Ok(n) = n.text.parse::<u32>()
        {
            self.next();
            self.next();
            self.eat("within");
            let m = self.next().and_then(|t| t.text.parse::<u32>().ok());
            let _ = self.eat("cycles") || self.eat("cycle");
            return m
                .map(|m| Cond::Restarts(n, m))
                .ok_or_else(|| "expected `N restarts within M cycles`".into());
        }
        if self.eat("does") | self.eat("not") {
            self.eat("not");
            if self.eat("exist") {
                return Ok(Cond::Missing);
            }
        }
        let total = self.eat("total");
        let word = self
            .peek()
            .map(|t| t.text.to_ascii_lowercase())
            .unwrap_or_default();
        let res = match (total, word.as_str()) {
            (false, "mem" | "memory") => "mem",
            (true, "mem" | "memory") | (false, "totalmem" | "totalmemory") => "totalmem",
            (false, "cpu") => "cpu",
            (true, "cpu") | (false, "totalcpu") => "totalcpu",
            (false, "children") => "children",
            (false, "uptime") => "uptime",
            (_, "failed") => {
                return Err(
                    "gsup has no connection or protocol tests (`ready: {tcp: ...}` \
                            checks a port when the job starts)"
                        .into(),
                );
            }
            (_, "changed") => {
                return Err(
                    "gsup follows the pid file itself: a new main process named by \
                            it is adopted, not an event"
                        .into(),
                );
            }
            _ => {
                return Err(
                    "gsup checks mem, totalmem, cpu, totalcpu, children and uptime only".into(),
                );
            }
        };
        self.next();
        self.eat("usage");
        let op = self.op()?;
        let (value, warning) = self.value(res)?;
        Ok(Cond::Resource(format!("{res} {op} {value}"), warning))
    }

    fn op(&mut self) -> Result<&'static str, String> {
        let t = self.next().ok_or("expected a comparison")?;
        let lower = t.text.to_ascii_lowercase();
        let op = match lower.as_str() {
            ">" | "gt" | "greater" => ">",
            "<" | "lt" | "less" => "<",
            ">=" | "ge" => ">=",
            "<=" | "le" => "<=",
            "=" | "==" | "eq" | "equal" => "==",
            "!=" | "<>" | "ne" | "notequal" => "!=",
            "not" if self.eat("equal") => "!=",
            _ => return Err(format!("expected a comparison, found `{}`", t.text)),
        };
        self.eat("than");
        Ok(op)
    }

    /// `[for] N cycles` or `[for] N times within M cycles`, in gsup's words
    /// (with a leading blank), or nothing.
    fn window(&mut self) -> Result<String, String> {
        let had_for = self.eat("for");
        let n = self.peek().and_then(|t| t.text.parse::<u32>().ok());
        let Some(n) = n else {
            return if had_for {
                Err("expected a number of cycles after `for`".into())
            } else {
                Ok(String::new())
            };
        };
        self.next();
        if self.eat("times") || self.eat("time") {
            self.eat("within");
            let m = self
                .next()
                .and_then(|t| t.text.parse::<u32>().ok())
                .ok_or("expected `N times within M cycles`")?;
            let _ = self.eat("cycles") || self.eat("cycle");
            return Ok(format!(" {n} times within {m} cycles"));
        }
        if self.eat("cycles") || self.eat("cycle") {
            return Ok(format!(" for {n} cycles"));
        }
        Err("expected `N cycles` or `N times within M cycles`".into())
    }

    /// Moves to the `then` of an `if` whose condition could not be read (or,
    /// Monit's `then` being optional, to its first action word), staying
    /// inside the statement: `with timeout 10 seconds` is not the action.
    fn seek_action(&mut self) {
        let start = self.pos;
        let mut first_action = None;
        while let Some(t) = self.peek() {
            if self.pos > start && t.first && self.at_statement() {
                break;
            }
            if t.is("then") {
                return;
            }
            if first_action.is_none() && is_action(t) {
                first_action = Some(self.pos);
            }
            self.next();
        }
        self.pos = first_action.unwrap_or(self.pos);
    }

    fn action(&mut self) -> Result<Act, String> {
        let Some(t) = self.peek().cloned() else {
            return Err("no action".into());
        };
        if !is_action(&t) || (t.first && self.at_statement()) {
            return Err("expected an action".into());
        }
        self.next();
        if !t.is("exec") {
            return Ok(Act::Word(t.text.to_ascii_lowercase()));
        }
        let cmd = match self.next() {
            Some(c) if c.kind == Kind::Str => c.text,
            _ => return Err("expected a quoted command after `exec`".into()),
        };
        let words = crate::unit::words::split_plain(&cmd)
            .map_err(|e| e.message)?
            .into_iter()
            .map(|w| w.text)
            .collect();
        let mut as_user = false;
        while let Some(t) = self.peek().cloned() {
            if t.first {
                break;
            }
            if t.is("as") || t.is("and") {
                self.next();
            } else if ["uid", "gid", "user", "group"].iter().any(|w| t.is(w)) {
                self.next();
                self.next();
                as_user = true;
            } else {
                break;
            }
        }
        Ok(Act::Exec(words, as_user))
    }

    /// `repeat every N cycles` and `else if succeeded then ACTION` after an
    /// action: consumed, and said why they do not carry over.
    fn after_action(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(t) = self.peek().cloned() {
            if t.first && self.at_statement() {
                break;
            }
            if t.is("repeat") {
                while self
                    .peek()
                    .is_some_and(|t| !(t.is("else") || (t.first && self.at_statement())))
                {
                    if self.eat("cycles") || self.eat("cycle") {
                        break;
                    }
                    self.next();
                }
                out.push("`repeat every`: gsup does not repeat a check's action on a schedule of its own".into());
            } else if t.is("else") {
                self.next();
                self.eat("if");
                while self
                    .peek()
                    .is_some_and(|t| !(t.is("then") || (t.first && self.at_statement())))
                {
                    self.next();
                }
                self.eat("then");
                let _ = self.action();
                out.push("`else if succeeded`: gsup has no action for a check that recovers (it logs it)".into());
            } else {
                break;
            }
        }
        out
    }
}

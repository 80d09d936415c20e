//! `gsup check`'s findings in commands a shell would read otherwise: shell operators as words, `$var` of `sh -c` scripts.
//! Pure: reads a loaded unit's text and model and returns diagnostics; it never changes what loads.

use super::expand::{VarRef, var_refs};
use super::model::{Ready, Unit};
use super::raw::{self, Node, Source, Value};
use super::words;
use crate::diag::Diagnostic;
use crate::expr::{ArgMatch, EventMatch, Expr};
use std::path::Path;

/// Every key whose value is a command, with how messages name it.
const COMMAND_KEYS: &[&str] = &["exec", "pre_start", "post_start", "pre_stop", "post_stop"];

/// The programs read as a shell when followed by `-c` (the basename of the
/// first word; `busybox sh` and `env sh` too).
const SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "ksh", "mksh", "zsh", "busybox"];

/// The variables of the events gsup emits itself; any other event is one a
/// user emits (`gsup emit NAME KEY=VALUE...`) and may carry any variable.
fn builtin_event_vars(event: &str) -> Option<&'static [&'static str]> {
    const JOB: &[&str] = &["JOB", "INSTANCE"];
    const ENDED: &[&str] = &[
        "JOB",
        "INSTANCE",
        "RESULT",
        "PROCESS",
        "EXIT_STATUS",
        "EXIT_SIGNAL",
    ];
    match event {
        "startup" => Some(&[]),
        "runlevel" => Some(&["RUNLEVEL", "PREVLEVEL"]),
        "starting" | "started" => Some(JOB),
        "stopping" | "stopped" => Some(ENDED),
        _ => None,
    }
}

/// Warnings (and errors) about the commands of one unit that loaded: a word
/// that is a shell operator (gsup runs no shell), and a `$name` in an `sh -c`
/// script that the job will not have (gsup expands it before the shell runs,
/// so the start fails). `text` is the file's text, for positions.
pub fn lint(file: &Path, text: &str, unit: &Unit) -> Vec<Diagnostic> {
    let Ok(root) = raw::load(text) else {
        return Vec::new();
    };
    let Value::Map(entries) = &root.value else {
        return Vec::new();
    };
    let mut l = Lint {
        file,
        src: Source { text },
        known: known_vars(unit),
        open: starts_on_user_event(unit),
        diags: Vec::new(),
    };
    for (k, v) in entries {
        let Value::Str(key) = &k.value else {
            continue;
        };
        if COMMAND_KEYS.contains(&key.as_str()) {
            let notify = key == "exec" && unit.ready == Ready::Notify;
            l.command(key, v, notify);
        } else if key == "ready"
            && let Value::Map(m) = &v.value
            && let Some((_, cmd)) = m
                .iter()
                .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == "exec"))
        {
            l.command("ready: exec", cmd, false);
        }
    }
    l.diags
}

/// The variables every process of the job has whatever starts it: `PATH`,
/// `GSUP_JOB`, `GSUP_INSTANCE`, the unit's `env`, the names its `instance`
/// template uses (a start must give them), and the variables of the events
/// its `start_on` names (gsup's own events' variables; `KEY=VALUE` keys).
fn known_vars(unit: &Unit) -> Vec<String> {
    let mut known: Vec<String> = ["PATH", "GSUP_JOB", "GSUP_INSTANCE"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    known.extend(unit.env.iter().map(|(k, _)| k.clone()));
    if let Some(t) = &unit.instance {
        known.extend(var_refs(t).into_iter().map(|r| r.name));
    }
    let mut matches = Vec::new();
    if let Some(e) = &unit.start_on {
        event_matches(e, &mut matches);
    }
    for m in matches {
        if let Some(vars) = builtin_event_vars(&m.event) {
            known.extend(vars.iter().map(|s| (*s).to_owned()));
        }
        for a in &m.args {
            if let ArgMatch::Eq(k, _) | ArgMatch::Ne(k, _) = a {
                known.push(k.clone());
            }
        }
    }
    known
}

/// Whether `start_on` names an event gsup does not emit itself: its variables
/// are whatever `gsup emit` gives, so an unknown name is only a warning.
fn starts_on_user_event(unit: &Unit) -> bool {
    let mut matches = Vec::new();
    if let Some(e) = &unit.start_on {
        event_matches(e, &mut matches);
    }
    matches
        .iter()
        .any(|m| builtin_event_vars(&m.event).is_none())
}

fn event_matches<'e>(e: &'e Expr, out: &mut Vec<&'e EventMatch>) {
    match e {
        Expr::Match(m) => out.push(m),
        Expr::And(l, r) | Expr::Or(l, r) => {
            event_matches(l, out);
            event_matches(r, out);
        }
    }
}

/// One word of a command, with where its text can be found in the file.
struct Word<'n> {
    /// The word as stored: a template (`$$` is a literal `$`).
    text: String,
    /// The list item it was written as, or the whole one-string command.
    node: &'n Node,
    /// The list form: the item's text is `text` itself.
    listed: bool,
}

struct Lint<'a> {
    file: &'a Path,
    src: Source<'a>,
    known: Vec<String>,
    open: bool,
    diags: Vec<Diagnostic>,
}

impl Lint<'_> {
    fn command(&mut self, key: &str, v: &Node, notify: bool) {
        let words: Vec<Word> = match &v.value {
            Value::Seq(items) => items
                .iter()
                .filter_map(|item| {
                    Some(Word {
                        text: self.src.scalar_text(item)?,
                        node: item,
                        listed: true,
                    })
                })
                .collect(),
            Value::Str(s) => match words::split(s) {
                Ok(ws) => ws
                    .into_iter()
                    .map(|text| Word {
                        text,
                        node: v,
                        listed: false,
                    })
                    .collect(),
                Err(_) => return,
            },
            _ => return,
        };
        let texts: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
        let script = shell_script(&texts);
        self.operators(key, &words, script);
        if let Some(i) = script {
            self.script_vars(key, &words[i], notify);
        }
    }

    /// The first word that is a shell operator, outside an `sh -c` script.
    fn operators(&mut self, key: &str, words: &[Word], script: Option<usize>) {
        for (i, w) in words.iter().enumerate() {
            if Some(i) == script {
                continue;
            }
            // find's `-exec CMD {} ;` ends with a `;` word of its own.
            let find_end = w.text == ";"
                && words[..i]
                    .iter()
                    .any(|p| matches!(p.text.as_str(), "-exec" | "-execdir" | "-ok" | "-okdir"));
            if find_end {
                continue;
            }
            let Some(what) = shell_operator(&w.text) else {
                continue;
            };
            let pos = self.place(w, &w.text, 0);
            let program = words[0].text.rsplit('/').next().unwrap_or_default();
            let fix = if script.is_some() {
                "put it inside the script"
            } else {
                "for a shell, write `[/bin/sh, -c, \"...\"]`"
            };
            self.warn(
                pos,
                format!(
                    "{key}: `{}` (word {}) is {what}, but gsup runs no shell: {program} \
                     gets it as an argument; {fix}",
                    w.text,
                    i + 1,
                ),
            );
            return;
        }
    }

    /// Each `$name` of the script (once per name) that the job will not have.
    fn script_vars(&mut self, key: &str, script: &Word, notify: bool) {
        let mut seen: Vec<&str> = Vec::new();
        let refs: Vec<VarRef> = var_refs(&script.text);
        for r in &refs {
            let known = self.known.contains(&r.name) || (notify && r.name == "NOTIFY_SOCKET");
            if r.has_default || known || seen.contains(&r.name.as_str()) {
                continue;
            }
            seen.push(&r.name);
            let name = &r.name;
            let pos = self.place(script, &written_at(&script.text, r.offset), r.offset);
            let message = format!(
                "{key}: gsup expands `${name}` in this sh -c script before the shell runs, \
                 and the job has no variable {name}"
            );
            if self.open {
                self.warn(
                    pos,
                    format!(
                        "{message} unless the event that starts it carries one; \
                         write `$${name}` for a shell variable, or `${{{name}:-}}`"
                    ),
                );
            } else {
                self.error(
                    pos,
                    format!(
                        "{message}, so every start fails (`undefined variable {name}`); \
                         write `$${name}` for a shell variable, or `${{{name}:-}}` for one \
                         a start may pass"
                    ),
                );
            }
        }
    }

    /// Where `needle` (found at character `offset` of `w.text`) is in the
    /// file: exact for a listed word, the first occurrence in a one-string
    /// command (its quotes make offsets differ).
    fn place(&self, w: &Word, needle: &str, offset: usize) -> (usize, usize) {
        if w.listed {
            return self.src.pos_in(w.node, &w.text, offset);
        }
        let Value::Str(s) = &w.node.value else {
            return (w.node.pos.line, w.node.pos.col);
        };
        match s.find(needle) {
            Some(b) => self.src.pos_in(w.node, s, s[..b].chars().count()),
            None => (w.node.pos.line, w.node.pos.col),
        }
    }

    fn warn(&mut self, (line, col): (usize, usize), message: String) {
        self.diags
            .push(Diagnostic::warning(self.file, line, col, message));
    }

    fn error(&mut self, (line, col): (usize, usize), message: String) {
        self.diags
            .push(Diagnostic::error(self.file, line, col, message));
    }
}

/// The reference as written at character `offset` of `text` (`$name`, or
/// `${name` up to its `}`), to find it in a one-string command.
fn written_at(text: &str, offset: usize) -> String {
    let rest: String = text.chars().skip(offset).collect();
    if rest.starts_with("${") {
        return rest.chars().take_while(|&c| c != '}').collect();
    }
    let name_len = rest
        .chars()
        .skip(1)
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .count();
    rest.chars().take(1 + name_len).collect()
}

/// The index of the script word of an `sh -c` command: the first operand
/// after options where one option cluster holds `c` (`-c`, `-ec`, `-e -c`,
/// `-o pipefail -c`); `None` for any other command.
pub fn shell_script(words: &[&str]) -> Option<usize> {
    let mut i = 0;
    let base = |w: &str| w.rsplit('/').next().unwrap_or(w).to_owned();
    if words.first().is_some_and(|w| base(w) == "env") {
        i = 1;
        while words.get(i).is_some_and(|w| w.contains('=')) {
            i += 1;
        }
    }
    let program = base(words.get(i)?);
    if !SHELLS.contains(&program.as_str()) {
        return None;
    }
    i += 1;
    if program == "busybox" {
        if !words
            .get(i)
            .is_some_and(|w| base(w) == "sh" || base(w) == "ash")
        {
            return None;
        }
        i += 1;
    }
    let mut has_c = false;
    while let Some(w) = words.get(i) {
        if *w == "--" || *w == "-" {
            i += 1;
            break;
        }
        if let Some(long) = w.strip_prefix("--") {
            i += if matches!(long, "rcfile" | "init-file") {
                2
            } else {
                1
            };
            continue;
        }
        let Some(cluster) = w.strip_prefix('-').or_else(|| w.strip_prefix('+')) else {
            break;
        };
        has_c |= cluster.contains('c');
        // `-o NAME` and bash's `-O NAME` take the next word.
        i += if cluster.contains(['o', 'O']) { 2 } else { 1 };
    }
    (has_c && i < words.len()).then_some(i)
}

/// What a word is, when a shell would read it as an operator: a pipe, a
/// list or background operator, a redirection, a command substitution.
pub fn shell_operator(word: &str) -> Option<&'static str> {
    match word {
        "|" | "|&" => return Some("a pipe"),
        "||" | "&&" | ";" | ";;" => return Some("a list operator"),
        "&" => return Some("the background operator"),
        _ => {}
    }
    if word.contains("$(") {
        return Some("a command substitution");
    }
    if word.contains('`') {
        return Some("a command substitution (backticks)");
    }
    let digits = word.trim_start_matches(|c: char| c.is_ascii_digit());
    if digits.starts_with(['>', '<']) || digits.starts_with("&>") {
        return Some("a redirection");
    }
    if word.len() > 1 && (word.ends_with(';') || word.ends_with("&&") || word.ends_with("||")) {
        return Some("ended by a list operator");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_scripts_are_found_after_their_options() {
        let s = |ws: &[&str]| shell_script(ws);
        assert_eq!(s(&["/bin/sh", "-c", "x"]), Some(2));
        assert_eq!(s(&["sh", "-ec", "x"]), Some(2));
        assert_eq!(s(&["/bin/sh", "-e", "-c", "x"]), Some(3));
        assert_eq!(s(&["bash", "-o", "pipefail", "-c", "x", "arg0"]), Some(4));
        assert_eq!(s(&["bash", "--norc", "-c", "x"]), Some(3));
        assert_eq!(s(&["busybox", "sh", "-c", "x"]), Some(3));
        assert_eq!(s(&["/usr/bin/env", "A=1", "sh", "-c", "x"]), Some(4));
        assert_eq!(s(&["sh", "script.sh"]), None);
        assert_eq!(s(&["sh", "-c"]), None);
        assert_eq!(s(&["python3", "-c", "x"]), None);
        assert_eq!(s(&["busybox", "ls", "-c"]), None);
    }

    #[test]
    fn operators() {
        for w in [
            "|",
            "||",
            "&&",
            ";",
            "&",
            ">",
            ">>",
            "<",
            "2>&1",
            ">/dev/null",
            "$(date)",
            "`id`",
            "a;",
            "&>f",
        ] {
            assert!(shell_operator(w).is_some(), "{w}");
        }
        for w in [
            "a|b",
            "-o",
            "x>y",
            "$HOME",
            "http://a/?x=1&y=2",
            ";x",
            "$$5",
        ] {
            assert_eq!(shell_operator(w), None, "{w}");
        }
    }
}

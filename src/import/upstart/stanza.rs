//! Each Upstart stanza to its gsup key, or to a note saying why it has none.
//! Pure: it fills the job being imported; the values are checked with gsup's own parsers.

use super::Job;
use super::lex::Stanza;
use crate::import::Note;
use crate::import::draft::RespawnLimit;
use crate::import::shell;
use crate::unit::values::{parse_rlimit_name, parse_signal};

/// The hooks, by Upstart name.
const HOOKS: &[&str] = &["pre-start", "post-start", "pre-stop", "post-stop"];

/// Applies one stanza to the job.
pub fn apply(j: &mut Job, s: &Stanza) {
    let line = s.line;
    let dropped = |j: &mut Job, why: &str| {
        j.notes
            .push(Note::dropped(line, format!("`{}`: {why}", shown(s))))
    };
    match (s.word(0), s.word(1)) {
        ("description", _) => j.draft.description = Some(s.words(1).join(" ")),
        ("author", _) => j.draft.author = Some(s.words(1).join(" ")),
        ("version" | "emits" | "usage", _) => j.draft.header.push(format!("Upstart: {}", shown(s))),
        ("start" | "stop", "on") => on(j, s),
        ("manual", "") => j.manual = true,
        ("exec", _) => {
            j.exec_text = Some(s.rest(1).to_string());
            if let Some(words) = exec(j, s, 1) {
                j.draft.exec = words;
            }
        }
        ("script", "") => {
            if let Some(words) = script(j, s) {
                j.draft.exec = words;
            }
        }
        (hook, kind @ ("exec" | "script")) if HOOKS.contains(&hook) => {
            let words = if kind == "exec" {
                exec(j, s, 2)
            } else {
                script(j, s)
            };
            if let Some(words) = words {
                *hook_slot(j, hook) = Some(words);
            }
        }
        ("respawn", "") => j.draft.respawn = true,
        ("respawn", "limit") => respawn_limit(j, s),
        ("expect", kind @ ("fork" | "daemon")) => j.expect = Some((kind.to_string(), line)),
        ("expect", "none") => {}
        ("expect", "stop") => dropped(
            j,
            "gsup has no SIGSTOP handshake; a job says it is ready with `ready: notify`, \
             `ready: {tcp: ...}` or `ready: {exec: ...}`",
        ),
        ("task", "") => j.draft.task = true,
        ("instance", _) => instance(j, s),
        ("env", _) => env(j, s),
        ("export", _) => dropped(
            j,
            "gsup's job events carry JOB and INSTANCE only, not the job's variables",
        ),
        ("setuid", _) => j.draft.user = name(j, s, "setuid"),
        ("setgid", _) => j.draft.group = name(j, s, "setgid"),
        ("chdir", dir) if dir.starts_with('/') && s.tokens.len() == 2 => {
            j.draft.chdir = Some(dir.to_string());
        }
        ("chdir", _) => dropped(j, "gsup needs one absolute directory"),
        ("chroot", _) => dropped(j, "gsup does not chroot jobs"),
        ("apparmor", _) => dropped(j, "gsup does not load or switch AppArmor profiles"),
        ("cgroup", _) => dropped(j, "gsup does not place jobs in cgroups of their own"),
        ("console", kind) => console(j, s, kind),
        ("kill", "signal") => j.draft.kill_signal = signal(j, s),
        ("reload", "signal") => j.draft.reload_signal = signal(j, s),
        ("kill", "timeout") => match s.word(2).parse::<u64>() {
            Ok(n) if s.tokens.len() == 3 => j.draft.kill_timeout_s = Some(n),
            _ => dropped(j, "expected a whole number of seconds"),
        },
        ("normal", "exit") => normal_exit(j, s),
        ("limit", _) => limit(j, s),
        ("nice", n) => match n.parse::<i64>() {
            Ok(n) if (-20..=19).contains(&n) && s.tokens.len() == 2 => j.draft.nice = Some(n),
            _ => dropped(j, "expected a number from -20 to 19"),
        },
        ("umask", m) => match u32::from_str_radix(m, 8) {
            Ok(v) if v <= 0o777 && s.tokens.len() == 2 => j.draft.umask = Some(m.to_string()),
            _ => dropped(j, "expected an octal mask such as 022"),
        },
        ("oom", _) => oom(j, s),
        _ => dropped(j, "not an Upstart stanza gsup knows"),
    }
}

/// The stanza as shown in a note: its first line, shortened.
fn shown(s: &Stanza) -> String {
    let text = s.text.trim();
    let mut shown: String = text.chars().take(60).collect();
    if shown.len() < text.len() {
        shown.push_str("...");
    }
    if s.body.is_some() {
        shown.push_str(" ... end script");
    }
    shown
}

fn hook_slot<'a>(j: &'a mut Job, hook: &str) -> &'a mut Option<Vec<String>> {
    match hook {
        "pre-start" => &mut j.draft.pre_start,
        "post-start" => &mut j.draft.post_start,
        "pre-stop" => &mut j.draft.pre_stop,
        _ => &mut j.draft.post_stop,
    }
}

/// `start on EXPR` / `stop on EXPR`, checked with gsup's own expression parser.
fn on(j: &mut Job, s: &Stanza) {
    let text = s.rest(2).split_whitespace().collect::<Vec<_>>().join(" ");
    let key = if s.word(0) == "start" {
        "start_on"
    } else {
        "stop_on"
    };
    if let Err(e) = crate::expr::parse(&text) {
        j.notes.push(Note::dropped(
            s.line,
            format!("`{}`: {key}: {}", shown(s), e.message),
        ));
        return;
    }
    if key == "start_on" {
        j.draft.start_on = Some(text);
        j.start_line = s.line;
    } else {
        j.draft.stop_on = Some(text);
        j.stop_line = s.line;
    }
}

/// `exec CMD` (the command after `n` tokens).
fn exec(j: &mut Job, s: &Stanza, n: usize) -> Option<Vec<String>> {
    let (cmd, unknown) = shell::rename_upstart_vars(s.rest(n));
    if cmd.is_empty() {
        j.notes
            .push(Note::dropped(s.line, format!("`{}`: no command", shown(s))));
        return None;
    }
    variables_note(j, s.line, &unknown);
    commands_note(j, s.line, &cmd);
    let words = shell::upstart_exec(&cmd);
    if words.is_none() {
        j.notes.push(Note::dropped(
            s.line,
            format!("`{}`: unterminated quote", shown(s)),
        ));
    }
    words
}

/// `script ... end script`.
fn script(j: &mut Job, s: &Stanza) -> Option<Vec<String>> {
    if s.unterminated {
        j.notes.push(Note::dropped(
            s.line,
            format!("`{}`: no `end script`", shown(s)),
        ));
        return None;
    }
    let (body, unknown) = shell::rename_upstart_vars(s.body.as_deref().unwrap_or(""));
    variables_note(j, s.line, &unknown);
    commands_note(j, s.line, &body);
    Some(shell::script(&body))
}

fn variables_note(j: &mut Job, line: usize, unknown: &[String]) {
    if !unknown.is_empty() {
        j.notes.push(Note::warning(
            line,
            format!(
                "gsup does not set {}: the shell sees it empty (gsup sets GSUP_JOB, \
                 GSUP_INSTANCE and the starting event's variables)",
                unknown.join(", ")
            ),
        ));
    }
}

fn commands_note(j: &mut Job, line: usize, text: &str) {
    let found = shell::upstart_commands(text);
    if !found.is_empty() {
        j.notes.push(Note::warning(
            line,
            format!(
                "runs Upstart's `{}`, which gsup does not provide (gsup's are `gsup start`, \
                 `gsup stop`, `gsup status`, ... with `$GSUP_JOB`; a failing pre_start \
                 cancels the start)",
                found.join("`, `")
            ),
        ));
    }
}

/// `respawn limit COUNT INTERVAL` or `respawn limit unlimited`; a zero count
/// or interval turns the limit off, as in Upstart.
fn respawn_limit(j: &mut Job, s: &Stanza) {
    let limit = match s.words(2).as_slice() {
        ["unlimited"] => Some(RespawnLimit::Unlimited),
        [count, interval] => match (count.parse::<u32>(), interval.parse::<u64>()) {
            (Ok(0), Ok(_)) | (Ok(_), Ok(0)) => Some(RespawnLimit::Unlimited),
            (Ok(count), Ok(interval_s)) => Some(RespawnLimit::Count { count, interval_s }),
            _ => None,
        },
        _ => None,
    };
    match limit {
        Some(l) => j.draft.respawn_limit = Some(l),
        None => j.notes.push(Note::dropped(
            s.line,
            format!("`{}`: expected COUNT INTERVAL or `unlimited`", shown(s)),
        )),
    }
}

fn instance(j: &mut Job, s: &Stanza) {
    let template = s.words(1).join(" ");
    match crate::unit::expand::check_template(&template) {
        Ok(()) if !template.is_empty() => j.draft.instance = Some(template),
        Ok(()) => j
            .notes
            .push(Note::dropped(s.line, format!("`{}`: empty", shown(s)))),
        Err(e) => j.notes.push(Note::dropped(
            s.line,
            format!("`{}`: {}", shown(s), e.message),
        )),
    }
}

/// `env KEY=VALUE`; `env KEY` (copy from init's environment) has no
/// equivalent, since gsup's job environment is clean.
fn env(j: &mut Job, s: &Stanza) {
    let pair = s.words(1).join(" ");
    match pair.split_once('=') {
        Some((k, v)) if crate::unit::expand::is_var_name(k) => {
            j.draft.env.retain(|(old, _)| old != k);
            j.draft.env.push((k.to_string(), v.to_string()));
        }
        Some(_) => j.notes.push(Note::dropped(
            s.line,
            format!("`{}`: not a variable name", shown(s)),
        )),
        None => j.notes.push(Note::dropped(
            s.line,
            format!(
                "`{}`: takes the value from init's own environment; gsup's job \
                 environment is clean: give the value",
                shown(s)
            ),
        )),
    }
}

/// `setuid NAME` / `setgid NAME`, as gsup reads user and group names.
fn name(j: &mut Job, s: &Stanza, what: &str) -> Option<String> {
    let n = s.word(1);
    if s.tokens.len() == 2 && !n.contains(|c: char| c.is_whitespace() || c == ':' || c == '/') {
        return Some(n.to_string());
    }
    j.notes.push(Note::dropped(
        s.line,
        format!("`{}`: {what} needs one user or group name", shown(s)),
    ));
    None
}

fn console(j: &mut Job, s: &Stanza, kind: &str) {
    j.draft.console = match kind {
        "log" => Some("log"),
        "none" => Some("none"),
        "output" => Some("inherit"),
        "owner" => {
            j.notes.push(Note::warning(
                s.line,
                "console owner: gsup gives the job the daemon's console (`console: inherit`) \
                 but does not make it the job's controlling terminal",
            ));
            Some("inherit")
        }
        _ => {
            j.notes.push(Note::dropped(
                s.line,
                format!("`{}`: expected log, none, output or owner", shown(s)),
            ));
            None
        }
    };
}

/// `kill signal SIG` / `reload signal SIG`: the name gsup prints.
fn signal(j: &mut Job, s: &Stanza) -> Option<String> {
    match parse_signal(s.word(2)) {
        Ok(sig) if s.tokens.len() == 3 => Some(sig.name()),
        Ok(_) => {
            j.notes.push(Note::dropped(
                s.line,
                format!("`{}`: one signal expected", shown(s)),
            ));
            None
        }
        Err(e) => {
            j.notes
                .push(Note::dropped(s.line, format!("`{}`: {e}", shown(s))));
            None
        }
    }
}

/// `normal exit 0 1 TERM SIGHUP`.
fn normal_exit(j: &mut Job, s: &Stanza) {
    for w in s.words(2) {
        match w.parse::<u8>() {
            Ok(code) => j.draft.normal_exit.push(code.to_string()),
            Err(_) => match parse_signal(w) {
                Ok(sig) if w.parse::<i64>().is_err() => j.draft.normal_exit.push(sig.name()),
                _ => j.notes.push(Note::dropped(
                    s.line,
                    format!(
                        "`{}`: `{w}` is neither an exit code 0-255 nor a signal name",
                        shown(s)
                    ),
                )),
            },
        }
    }
}

/// `limit NAME SOFT HARD`.
fn limit(j: &mut Job, s: &Stanza) {
    let words = s.words(1);
    let [res, soft, hard] = words.as_slice() else {
        j.notes.push(Note::dropped(
            s.line,
            format!("`{}`: expected NAME SOFT HARD", shown(s)),
        ));
        return;
    };
    if parse_rlimit_name(res).is_none() {
        j.notes.push(Note::dropped(
            s.line,
            format!("`{}`: unknown limit `{res}`", shown(s)),
        ));
        return;
    }
    let value = |v: &str| match v {
        "unlimited" | "infinity" => Some(None),
        n => n.parse::<u64>().ok().map(Some),
    };
    let (Some(a), Some(b)) = (value(soft), value(hard)) else {
        j.notes.push(Note::dropped(
            s.line,
            format!("`{}`: a limit is a number or `unlimited`", shown(s)),
        ));
        return;
    };
    // `None` is unlimited, above every number.
    if a.is_none() && b.is_some() || a.zip(b).is_some_and(|(a, b)| a > b) {
        j.notes.push(Note::dropped(
            s.line,
            format!("`{}`: the soft limit is above the hard one", shown(s)),
        ));
        return;
    }
    let text = |v: Option<u64>| v.map_or_else(|| "unlimited".to_string(), |n| n.to_string());
    j.draft.limits.retain(|(n, _, _)| n != res);
    j.draft.limits.push((res.to_string(), text(a), text(b)));
}

/// `oom score N|never` (-1000..1000), and the older `oom N|never`
/// (-16..15, scaled as the kernel scales `oom_adj`).
fn oom(j: &mut Job, s: &Stanza) {
    let words = s.words(1);
    let score = match words.as_slice() {
        ["score", "never"] | ["never"] => Some(-1000),
        ["score", n] => n.parse::<i64>().ok().filter(|n| (-1000..=1000).contains(n)),
        [n] => n
            .parse::<i64>()
            .ok()
            .filter(|n| (-17..=15).contains(n))
            .map(|n| n * 1000 / 17),
        _ => None,
    };
    match score {
        Some(n) => j.draft.oom_score_adj = Some(n),
        None => j.notes.push(Note::dropped(
            s.line,
            format!(
                "`{}`: expected `oom score N` (-1000 to 1000) or `never`",
                shown(s)
            ),
        )),
    }
}

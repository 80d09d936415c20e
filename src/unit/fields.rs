//! The keys of a unit file (SPEC section 1): dispatch of each key to its conversion,
//! structured values (env, limits, ready, ...) and the checks across keys. No I/O.

use super::compound::{limits, log, normal_exit, ready, respawn_limit};
use super::convert::Ctx;
use super::expand::is_var_name;
use super::model::*;
use super::raw::{Node, Value};
use crate::diag::Diagnostic;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every top-level key a unit file may have.
pub const KEYS: &[&str] = &[
    "description",
    "author",
    "exec",
    "type",
    "start_on",
    "stop_on",
    "env",
    "instance",
    "respawn",
    "respawn_limit",
    "respawn_delay",
    "normal_exit",
    "kill_signal",
    "kill_timeout",
    "reload_signal",
    "pidfile",
    "pidfile_grace",
    "ready",
    "ready_timeout",
    "pre_start",
    "post_start",
    "pre_stop",
    "post_stop",
    "user",
    "group",
    "chdir",
    "umask",
    "nice",
    "oom_score_adj",
    "limits",
    "console",
    "log",
    "cycle",
    "checks",
    "child_checks",
];

/// Builds a `Unit` from the root node, reporting every problem found.
pub fn build(file: &Path, text: &str, root: &Node) -> Result<Unit, Vec<Diagnostic>> {
    let mut c = Ctx::new(file, text);
    let entries = match &root.value {
        Value::Map(m) => m.as_slice(),
        Value::Null => {
            c.err_pos(
                (1, 1),
                "empty unit file: expected a map with at least `exec`",
            );
            return Err(c.diags);
        }
        _ => {
            let found = c.describe(root);
            c.err(
                root,
                format!("expected a map of keys (`exec: ...`), found {found}"),
            );
            return Err(c.diags);
        }
    };
    let mut u = Unit::new(Command { words: Vec::new() });
    let mut exec_seen = false;
    let mut ready_node = None;
    for (k, v) in entries {
        let Some(key) = c.key_name("unit file", k) else {
            continue;
        };
        match key {
            "description" => u.description = c.text(key, v),
            "author" => u.author = c.text(key, v),
            "exec" => {
                exec_seen = true;
                if let Some(cmd) = c.command(key, v) {
                    u.exec = cmd;
                }
            }
            "type" => set(
                &mut u.job_type,
                one_of(
                    &mut c,
                    key,
                    v,
                    &[("service", JobType::Service), ("task", JobType::Task)],
                ),
            ),
            "start_on" => u.start_on = expr(&mut c, key, v),
            "stop_on" => u.stop_on = expr(&mut c, key, v),
            "env" => u.env = env(&mut c, v),
            "instance" => u.instance = c.template(key, v),
            "respawn" => set(&mut u.respawn, c.boolean(key, v)),
            "respawn_limit" => set(&mut u.respawn_limit, respawn_limit(&mut c, v)),
            "respawn_delay" => set(&mut u.respawn_delay, c.duration(key, v)),
            "normal_exit" => set(&mut u.normal_exit, normal_exit(&mut c, v)),
            "kill_signal" => set(&mut u.kill_signal, c.signal(key, v)),
            "kill_timeout" => set(&mut u.kill_timeout, c.duration(key, v)),
            "reload_signal" => set(&mut u.reload_signal, c.signal(key, v)),
            "pidfile" => u.pidfile = c.template(key, v),
            "pidfile_grace" => set(&mut u.pidfile_grace, c.duration(key, v)),
            "ready" => {
                ready_node = Some(v);
                set(&mut u.ready, ready(&mut c, v));
            }
            "ready_timeout" => set(&mut u.ready_timeout, c.duration(key, v)),
            "pre_start" => u.pre_start = c.command(key, v),
            "post_start" => u.post_start = c.command(key, v),
            "pre_stop" => u.pre_stop = c.command(key, v),
            "post_stop" => u.post_stop = c.command(key, v),
            "user" => u.user = c.user(key, v),
            "group" => u.group = c.user(key, v),
            "chdir" => u.chdir = chdir(&mut c, v),
            "umask" => u.umask = umask(&mut c, v),
            "nice" => u.nice = c.int(key, v, -20, 19).map(|n| n as i32),
            "oom_score_adj" => u.oom_score_adj = c.int(key, v, -1000, 1000).map(|n| n as i32),
            "limits" => u.limits = limits(&mut c, v),
            "console" => set(
                &mut u.console,
                one_of(
                    &mut c,
                    key,
                    v,
                    &[
                        ("log", Console::Log),
                        ("inherit", Console::Inherit),
                        ("none", Console::None),
                    ],
                ),
            ),
            "log" => set(&mut u.log, log(&mut c, v)),
            "cycle" => u.cycle = positive(&mut c, key, v),
            "checks" => u.checks = checks(&mut c, key, v, false),
            "child_checks" => u.child_checks = checks(&mut c, key, v, true),
            other => c.unknown_key(None, k, other, KEYS),
        }
    }
    if !exec_seen {
        c.err_pos(
            (root.pos.line, root.pos.col),
            "missing required key `exec` (the command to run)",
        );
    }
    if let (Some(node), Ready::Pidfile, None) = (ready_node, &u.ready, &u.pidfile) {
        c.err(
            node,
            "ready: `pidfile` needs the `pidfile` key (the file to watch)",
        );
    }
    if c.diags.is_empty() {
        Ok(u)
    } else {
        Err(c.diags)
    }
}

fn set<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}

/// One of a fixed set of words.
fn one_of<T: Copy>(c: &mut Ctx, key: &str, v: &Node, words: &[(&str, T)]) -> Option<T> {
    if let Value::Str(s) = &v.value
        && let Some((_, t)) = words.iter().find(|(w, _)| w == s)
    {
        return Some(*t);
    }
    let names: Vec<String> = words.iter().map(|(w, _)| format!("`{w}`")).collect();
    c.wrong(key, v, &names.join(" or "))
}

/// A duration above zero (a zero `cycle` would spin).
pub fn positive(c: &mut Ctx, key: &str, v: &Node) -> Option<Duration> {
    match c.duration(key, v)? {
        Duration::ZERO => c.wrong(key, v, "a duration above zero"),
        d => Some(d),
    }
}

fn expr(c: &mut Ctx, key: &str, v: &Node) -> Option<crate::expr::Expr> {
    let text = c.text(key, v)?;
    match crate::expr::parse(&text) {
        Ok(e) => Some(e),
        Err(e) => {
            let pos = c.src.pos_in(v, &text, e.offset);
            c.err_pos(pos, format!("{key}: {}", e.message));
            None
        }
    }
}

fn checks(c: &mut Ctx, key: &str, v: &Node, child: bool) -> Vec<crate::rule::Check> {
    let items = match &v.value {
        Value::Seq(items) => items.as_slice(),
        Value::Str(_) => std::slice::from_ref(v),
        _ => {
            return c
                .wrong(
                    key,
                    v,
                    "a list of checks such as `if mem > 200 MB then restart`",
                )
                .unwrap_or_default();
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Some(text) = c.text(key, item) else {
            continue;
        };
        match crate::rule::parse(&text, child) {
            Ok(check) => out.push(check),
            Err(e) => {
                let pos = c.src.pos_in(item, &text, e.offset);
                c.err_pos(pos, format!("{key}: {}", e.message));
            }
        }
    }
    out
}

fn env(c: &mut Ctx, v: &Node) -> Vec<(String, String)> {
    let Some(entries) = c.map("env", v, "a map of NAME: value") else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(entries.len());
    for (k, val) in entries {
        let Some(name) = c.key_name("env", k) else {
            continue;
        };
        if !is_var_name(name) {
            c.err(k, format!("env: bad variable name `{name}`: expected letters, digits and `_`, not starting with a digit"));
            continue;
        }
        let what = format!("env: {name}");
        if let Some(text) = c.text(&what, val) {
            out.push((name.to_owned(), text));
        }
    }
    out
}

fn chdir(c: &mut Ctx, v: &Node) -> Option<PathBuf> {
    let t = c.text("chdir", v)?;
    if t.starts_with('/') {
        Some(PathBuf::from(t))
    } else {
        c.wrong("chdir", v, "an absolute path")
    }
}

/// Octal digits, as Upstart's `umask 022`: `022`, `"0022"`, `0o22` and `22` all mean 0o022.
fn umask(c: &mut Ctx, v: &Node) -> Option<u32> {
    let what = "an octal umask such as `022` or `\"0027\"`";
    let t = match &v.value {
        Value::Int(_) | Value::Str(_) => c.src.scalar_text(v).unwrap_or_default(),
        _ => return c.wrong("umask", v, what),
    };
    let digits = t.strip_prefix("0o").unwrap_or(&t);
    match u32::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o777 && !digits.is_empty() => Some(m),
        _ => c.wrong("umask", v, what),
    }
}

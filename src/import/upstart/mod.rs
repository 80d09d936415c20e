//! `gsup import upstart`: one Upstart job file (`/etc/init/NAME.conf`) to one unit draft,
//! with a note for every stanza that does not carry over. Pure: text in, draft out.

mod lex;
mod stanza;

pub use lex::{Stanza, stanzas};

use super::draft::Draft;
use super::{Note, NoteKind};
use crate::expr::{ArgMatch, Expr};
use std::path::{Component, Path};

/// Events gsup emits by itself; a `start on` waiting for another one waits
/// for `gsup emit`.
const OWN_EVENTS: &[&str] = &[
    "startup", "runlevel", "starting", "started", "stopping", "stopped",
];

/// What a job file's stanzas leave behind for the finishing pass.
#[derive(Debug, Default)]
struct Job {
    draft: Draft,
    notes: Vec<Note>,
    /// `manual`: the `start on` is ignored, as Upstart does.
    manual: bool,
    /// `expect fork|daemon` and its line.
    expect: Option<(String, usize)>,
    /// The `exec` line as written, to look for a pid file in it.
    exec_text: Option<String>,
    /// Lines of `start on` and `stop on`, for their notes.
    start_line: usize,
    stop_line: usize,
}

/// The job name of an Upstart job file, as Upstart names it: its path under
/// the nearest directory called `init` (`/etc/init/gitorious/unicorn.conf`
/// is `gitorious/unicorn`), else its file name, without `.conf`.
pub fn job_name(path: &Path) -> Result<String, String> {
    let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
    let Some(stem) = file.strip_suffix(".conf") else {
        return Err("not an Upstart job file (NAME.conf)".into());
    };
    let dirs: Vec<&str> = path
        .parent()
        .map(|p| {
            p.components()
                .filter_map(|c| match c {
                    Component::Normal(s) => s.to_str(),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let mut parts: Vec<&str> = match dirs.iter().rposition(|d| *d == "init") {
        Some(i) => dirs[i + 1..].to_vec(),
        None => Vec::new(),
    };
    parts.push(stem);
    let bad = |p: &&str| {
        p.is_empty()
            || p.starts_with('.')
            || p.contains(|c: char| c.is_whitespace() || c.is_control() || c == '=')
    };
    if parts.iter().any(bad) {
        return Err(format!(
            "`{}` cannot be a job name: no blanks, control characters, `=` or leading dots",
            parts.join("/")
        ));
    }
    Ok(parts.join("/"))
}

/// Converts the text of one Upstart job file. `job` is the job's name (the
/// file's path under the init dir, without `.conf`), `source` how to name
/// the file in the unit's header comment.
pub fn import(job: &str, source: &str, text: &str) -> (Draft, Vec<Note>) {
    let mut j = Job::default();
    for s in stanzas(text) {
        stanza::apply(&mut j, &s);
    }
    finish(&mut j, job);
    let mut notes = std::mem::take(&mut j.notes);
    notes.sort();
    let mut draft = j.draft;
    let mut header = vec![format!("Imported from {source} by `gsup import upstart`.")];
    header.extend(notes.iter().map(|n| {
        let kind = match n.kind {
            NoteKind::Dropped => "dropped",
            NoteKind::Warning => "warning",
        };
        format!("line {}: {kind}: {}", n.line, n.message)
    }));
    header.append(&mut draft.header);
    draft.header = header;
    (draft, notes)
}

/// What only the whole file tells: `manual`, a job with no main process,
/// `expect`'s pid file, the events and variables gsup does not provide.
fn finish(j: &mut Job, job: &str) {
    if j.manual && j.draft.start_on.take().is_some() {
        j.draft.header.push(
            "manual: the `start on` of the Upstart job is not used; start it with `gsup start`."
                .into(),
        );
    }
    if j.draft.exec.is_empty() {
        j.draft.exec = vec!["/bin/sleep".into(), "infinity".into()];
        j.notes.push(Note::warning(
            1,
            "no `exec` or `script`: Upstart runs such a job without a main process; gsup \
             needs one, so `sleep infinity` holds the job's running state between its hooks",
        ));
    }
    if let Some((kind, line)) = j.expect.take() {
        let (path, found) = guess_pidfile(j.exec_text.as_deref(), job);
        let how = if found {
            "taken from the command line"
        } else {
            "a guess: check where the daemon writes its pid"
        };
        j.notes.push(Note::warning(
            line,
            format!(
                "expect {kind}: gsup follows the daemon through a pid file instead of counting \
                 forks; wrote `pidfile: {path}` and `ready: pidfile` ({how})"
            ),
        ));
        j.draft.pidfile = Some(path);
        j.draft.ready_pidfile = true;
    }
    for (key, line) in [("start on", j.start_line), ("stop on", j.stop_line)] {
        let text = if key == "start on" {
            &j.draft.start_on
        } else {
            &j.draft.stop_on
        };
        if let Some(expr) = text.as_deref().and_then(|t| crate::expr::parse(t).ok()) {
            event_notes(&expr, key, line, &mut j.notes);
        }
    }
}

/// Warnings for events gsup never emits by itself, and for Upstart's `rc`
/// job, which gsup does not have.
fn event_notes(expr: &Expr, key: &str, line: usize, notes: &mut Vec<Note>) {
    let mut events = Vec::new();
    collect_events(expr, &mut events);
    let mut seen = Vec::new();
    for (event, first_arg) in events {
        if !OWN_EVENTS.contains(&event.as_str()) {
            if !seen.contains(&event) {
                notes.push(Note::warning(
                    line,
                    format!(
                        "{key}: `{event}` is not an event gsup emits by itself (only startup, \
                         runlevel and the job events): the job waits for `gsup emit {event}`"
                    ),
                ));
                seen.push(event);
            }
        } else if first_arg.as_deref() == Some("rc") {
            notes.push(Note::warning(
                line,
                format!(
                    "{key}: `{event} rc` waits for Upstart's SysV job `rc`, which gsup does not \
                     have: gsup emits `runlevel` itself (2 at start, 0 or 6 at shutdown)"
                ),
            ));
        }
    }
}

fn collect_events(expr: &Expr, out: &mut Vec<(String, Option<String>)>) {
    match expr {
        Expr::Match(m) => {
            let first = match m.args.first() {
                Some(ArgMatch::Positional(v)) => Some(v.clone()),
                _ => None,
            };
            out.push((m.event.clone(), first));
        }
        Expr::And(l, r) | Expr::Or(l, r) => {
            collect_events(l, out);
            collect_events(r, out);
        }
    }
}

/// The pid file a forking daemon writes: an absolute `*.pid` path named on
/// its command line (`--pidfile=/run/x.pid`, `-p /run/$NAME.pid`: a gsup
/// template too, expanded from the same variables the shell would use),
/// else `/run/PROGRAM.pid` (or the job's name when the program is a
/// variable). The flag says whether it was found.
fn guess_pidfile(exec: Option<&str>, job: &str) -> (String, bool) {
    let words: Vec<&str> = exec
        .map(|e| e.split_whitespace().collect())
        .unwrap_or_default();
    for w in &words {
        let w = w.rsplit('=').next().unwrap_or(w);
        let w = w.trim_matches(|c| c == '"' || c == '\'');
        if w.starts_with('/') && w.ends_with(".pid") {
            return match crate::unit::expand::check_template(w) {
                Ok(()) => (w.to_string(), true),
                Err(_) => (super::shell::literal(w), true),
            };
        }
    }
    let program = words
        .iter()
        .find(|w| !w.contains('='))
        .filter(|w| !w.contains('$'))
        .map_or(job, |p| p.rsplit('/').next().unwrap_or(p));
    let base = program.rsplit('/').next().unwrap_or(program);
    (format!("/run/{base}.pid"), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dropped_lines(notes: &[Note]) -> Vec<usize> {
        notes
            .iter()
            .filter(|n| n.kind == NoteKind::Dropped)
            .map(|n| n.line)
            .collect()
    }

    #[test]
    fn stanza_values() {
        let text = "respawn limit unlimited\nlimit nofile 10 5\nlimit core unlimited 0\n\
                    limit stack 8192 unlimited\noom -17\nnormal exit 0 2 SIGHUP 300\n\
                    kill signal 9\nnice 40\numask 0999\nchdir srv\nenv A=1\nenv A=2\n\
                    respwan\nexec\nexec /bin/a\nexec /bin/b x\nreload signal FOO\n\
                    kill timeout 5s\nsetuid a b\nconsole bogus\npost-stop script\n  rm -f x\n";
        let (d, notes) = import("j", "j.conf", text);
        assert_eq!(
            d.respawn_limit,
            Some(crate::import::draft::RespawnLimit::Unlimited)
        );
        assert_eq!(
            d.limits,
            [(
                "stack".to_string(),
                "8192".to_string(),
                "unlimited".to_string()
            )]
        );
        assert_eq!(d.oom_score_adj, Some(-1000));
        assert_eq!(d.normal_exit, ["0", "2", "HUP"]);
        assert_eq!(d.kill_signal.as_deref(), Some("KILL"));
        assert_eq!(d.env, [("A".to_string(), "2".to_string())]);
        assert_eq!(d.exec, ["/bin/b", "x"]);
        assert_eq!(
            (d.nice, d.umask.as_ref(), d.chdir.as_ref()),
            (None, None, None)
        );
        // limit 10 > 5, unlimited > 0, 300, nice, umask, chdir, respwan, empty exec,
        // FOO, 5s, setuid a b, console bogus, the unterminated script.
        assert_eq!(
            dropped_lines(&notes),
            [2, 3, 6, 8, 9, 10, 13, 14, 17, 18, 19, 20, 21]
        );
    }

    #[test]
    fn task_instance_and_hooks() {
        let text = "task\ninstance $QUEUE\npre-start exec /bin/mkdir -p /run/q\n\
                    post-start script\n  echo $UPSTART_JOB\nend script\n";
        let (d, notes) = import("q", "q.conf", text);
        assert!(d.task);
        assert_eq!(d.instance.as_deref(), Some("$QUEUE"));
        assert_eq!(
            d.pre_start,
            Some(vec!["/bin/mkdir".into(), "-p".into(), "/run/q".into()])
        );
        assert_eq!(
            d.post_start.as_ref().map(|c| c[3].as_str()),
            Some("echo $$GSUP_JOB\n")
        );
        assert_eq!(d.exec, ["/bin/sleep", "infinity"]);
        assert_eq!(
            notes.iter().filter(|n| n.kind == NoteKind::Warning).count(),
            1
        );
        assert!(dropped_lines(&notes).is_empty());
    }

    #[test]
    fn job_names() {
        assert_eq!(job_name(Path::new("/etc/init/ssh.conf")), Ok("ssh".into()));
        assert_eq!(
            job_name(Path::new("/etc/init/gitorious/unicorn.conf")),
            Ok("gitorious/unicorn".into())
        );
        assert_eq!(job_name(Path::new("jobs/cron.conf")), Ok("cron".into()));
        assert_eq!(job_name(Path::new("cron.conf")), Ok("cron".into()));
        assert!(job_name(Path::new("/etc/init/ssh.override")).is_err());
        assert!(job_name(Path::new("/etc/init/a b.conf")).is_err());
        assert!(job_name(Path::new("/etc/init/.conf")).is_err());
    }

    #[test]
    fn pidfile_guesses() {
        assert_eq!(
            guess_pidfile(Some("/usr/sbin/foo --pidfile=/var/run/foo/foo.pid -d"), "x"),
            ("/var/run/foo/foo.pid".into(), true)
        );
        assert_eq!(
            guess_pidfile(Some("/usr/sbin/foo -p /run/f.pid"), "x"),
            ("/run/f.pid".into(), true)
        );
        assert_eq!(
            guess_pidfile(Some("cron"), "x"),
            ("/run/cron.pid".into(), false)
        );
        assert_eq!(guess_pidfile(None, "a/b"), ("/run/b.pid".into(), false));
        assert_eq!(
            guess_pidfile(Some("$DAEMON -g x"), "nginx"),
            ("/run/nginx.pid".into(), false)
        );
        assert_eq!(
            guess_pidfile(Some("openvpn --writepid /run/ovpn.$NAME.pid"), "x"),
            ("/run/ovpn.$NAME.pid".into(), true)
        );
    }
}

//! What a fired check tells the world: the log line, and the `SpawnSpec` of the
//! daemon's `--alert-command` (or of an `exec` action) with the event in its environment.
//! Builds values only: spawning goes through the supervisor's `Sys`, never from here.

use super::watch::{Target, WatchAction, WatchEvent};
use crate::rule::Action;
use crate::spawn::{SpawnSpec, Stdio};
use crate::unit::Signal;

/// The `PATH` every job gets (SPEC section 1); alert commands get the same.
pub const CLEAN_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A signal's name without `SIG` (`TERM`), or its number when it has no name.
pub fn signal_name(sig: Signal) -> String {
    crate::rule::signal_name(sig).map_or_else(|| sig.0.to_string(), str::to_string)
}

/// The action as the check language writes it: `restart`, `signal USR2`, `exec /x y`
/// (the rule module's canonical text).
pub fn action_text(action: &Action) -> String {
    action.to_string()
}

/// The one word of `GSUP_ACTION`.
pub fn action_word(action: &Action) -> &'static str {
    match action {
        Action::Restart => "restart",
        Action::Stop => "stop",
        Action::Alert => "alert",
        Action::Kill => "kill",
        Action::Signal(_) => "signal",
        Action::Exec(_) => "exec",
    }
}

fn job_label(a: &WatchAction) -> String {
    if a.job.instance.is_empty() {
        a.job.name.clone()
    } else {
        format!("{} ({})", a.job.name, a.job.instance)
    }
}

/// The daemon's log line for `a`, e.g.
/// `gitorious/resque-worker: check 'if totalmem > 300 MB for 3 cycles then restart'
/// failed: totalmem 412 MB > 300 MB; action: restart`.
pub fn log_line(a: &WatchAction) -> String {
    let who = match a.target {
        Target::JobWide => job_label(a),
        Target::Child { pid, .. } => format!("{} child {pid}", job_label(a)),
    };
    match a.event {
        WatchEvent::Failed => format!(
            "{who}: check '{}' failed: {}; action: {}",
            a.check_source,
            a.value_text,
            action_text(&a.action)
        ),
        WatchEvent::Recovered => format!(
            "{who}: check '{}' recovered: {}",
            a.check_source, a.value_text
        ),
    }
}

/// The environment of an alert (and of an `exec` action): a clean `PATH` and
/// `GSUP_JOB`, `GSUP_INSTANCE`, `GSUP_CHECK`, `GSUP_VALUE`, `GSUP_ACTION`, `GSUP_EVENT`
/// (`failed`/`recovered`), `GSUP_PID` (main), `GSUP_TARGET` (`job`/`child`),
/// `GSUP_CHILD_PID` (for a child), `GSUP_DESCRIPTION` (the log line), `GSUP_TIME`
/// (seconds since the epoch, given by the caller so this stays pure).
pub fn alert_env(a: &WatchAction, unix_time: u64) -> Vec<(String, String)> {
    let mut env = vec![
        ("PATH", CLEAN_PATH.to_string()),
        ("GSUP_JOB", a.job.name.clone()),
        ("GSUP_INSTANCE", a.job.instance.clone()),
        ("GSUP_CHECK", a.check_source.clone()),
        ("GSUP_VALUE", a.value_text.clone()),
        ("GSUP_ACTION", action_word(&a.action).to_string()),
        (
            "GSUP_EVENT",
            match a.event {
                WatchEvent::Failed => "failed",
                WatchEvent::Recovered => "recovered",
            }
            .to_string(),
        ),
        ("GSUP_PID", a.main_pid.to_string()),
    ];
    match a.target {
        Target::JobWide => env.push(("GSUP_TARGET", "job".into())),
        Target::Child { pid, .. } => {
            env.push(("GSUP_TARGET", "child".into()));
            env.push(("GSUP_CHILD_PID", pid.to_string()));
        }
    }
    if let Action::Signal(s) = a.action {
        env.push(("GSUP_SIGNAL", signal_name(s)));
    }
    env.push(("GSUP_DESCRIPTION", log_line(a)));
    env.push(("GSUP_TIME", unix_time.to_string()));
    env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The `--alert-command` run for `a`, without a shell; None when no command is set.
/// Its output goes to the daemon's own stderr, so a broken script is visible.
pub fn alert_spec(command: &[String], a: &WatchAction, unix_time: u64) -> Option<SpawnSpec> {
    if command.is_empty() {
        return None;
    }
    Some(SpawnSpec {
        argv: command.to_vec(),
        env: alert_env(a, unix_time),
        stdio: Stdio::Inherit,
        ..SpawnSpec::default()
    })
}

/// The `exec CMD` action of `a` (None for another action): the same environment as an
/// alert. The supervisor adds the job's `user`/`group` when it should run as the job.
pub fn exec_spec(a: &WatchAction, unix_time: u64) -> Option<SpawnSpec> {
    match &a.action {
        Action::Exec(argv) if !argv.is_empty() => Some(SpawnSpec {
            argv: argv.clone(),
            env: alert_env(a, unix_time),
            stdio: Stdio::Inherit,
            ..SpawnSpec::default()
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watchdog::JobKey;

    fn action(target: Target, act: Action, event: WatchEvent) -> WatchAction {
        WatchAction {
            job: JobKey {
                name: "gitorious/resque-worker".into(),
                instance: "high".into(),
            },
            check_source: "if totalmem > 300 MB for 3 cycles then alert".into(),
            action: act,
            target,
            main_pid: 4250,
            value_text: "totalmem 412 MB > 300 MB".into(),
            measured: "totalmem 412 MB".into(),
            event,
        }
    }

    #[test]
    fn alert_environment_names_the_event() {
        let a = action(Target::JobWide, Action::Alert, WatchEvent::Failed);
        let spec =
            alert_spec(&["/usr/local/bin/mail-alert".into()], &a, 1_700_000_000).expect("spec");
        assert_eq!(spec.argv, vec!["/usr/local/bin/mail-alert".to_string()]);
        let get = |k: &str| {
            spec.env
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("GSUP_JOB"), Some("gitorious/resque-worker"));
        assert_eq!(get("GSUP_INSTANCE"), Some("high"));
        assert_eq!(get("GSUP_VALUE"), Some("totalmem 412 MB > 300 MB"));
        assert_eq!(get("GSUP_ACTION"), Some("alert"));
        assert_eq!(get("GSUP_EVENT"), Some("failed"));
        assert_eq!(get("GSUP_PID"), Some("4250"));
        assert_eq!(get("GSUP_TARGET"), Some("job"));
        assert_eq!(get("GSUP_CHILD_PID"), None);
        assert_eq!(get("GSUP_TIME"), Some("1700000000"));
        assert_eq!(get("PATH"), Some(CLEAN_PATH));
        assert_eq!(
            get("GSUP_DESCRIPTION"),
            Some(
                "gitorious/resque-worker (high): check 'if totalmem > 300 MB for 3 cycles \
                 then alert' failed: totalmem 412 MB > 300 MB; action: alert"
            )
        );
        assert!(alert_spec(&[], &a, 0).is_none());
    }

    #[test]
    fn child_kill_and_signal_and_exec() {
        let child = Target::Child {
            pid: 4300,
            start_ticks: 9,
        };
        let k = action(child, Action::Kill, WatchEvent::Failed);
        let env = alert_env(&k, 0);
        assert!(env.contains(&("GSUP_TARGET".into(), "child".into())));
        assert!(env.contains(&("GSUP_CHILD_PID".into(), "4300".into())));
        assert!(log_line(&k).starts_with("gitorious/resque-worker (high) child 4300: check"));
        let s = action(
            Target::JobWide,
            Action::Signal(Signal::USR2),
            WatchEvent::Failed,
        );
        assert!(alert_env(&s, 0).contains(&("GSUP_SIGNAL".into(), "USR2".into())));
        assert!(log_line(&s).ends_with("action: signal USR2"));
        let argv = vec!["/usr/bin/logger".to_string(), "leak".to_string()];
        let e = action(
            Target::JobWide,
            Action::Exec(argv.clone()),
            WatchEvent::Failed,
        );
        assert_eq!(exec_spec(&e, 0).expect("exec").argv, argv);
        assert!(exec_spec(&s, 0).is_none());
        let r = action(Target::JobWide, Action::Alert, WatchEvent::Recovered);
        assert!(alert_env(&r, 0).contains(&("GSUP_EVENT".into(), "recovered".into())));
        assert!(log_line(&r).ends_with("recovered: totalmem 412 MB > 300 MB"));
        assert_eq!(signal_name(Signal(64)), "64");
    }
}

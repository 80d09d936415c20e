//! A job's clean environment (SPEC section 1) and the expansion of its templates.
//! Builds values only; it never spawns and never reads the daemon's own environment.

use super::core::Key;
use crate::spawn::{SpawnSpec, Stdio};
use crate::unit::{Command, Console, Unit};
use std::path::{Path, PathBuf};

/// The fixed `PATH` every job gets.
pub const JOB_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `PATH`, `GSUP_JOB`, `GSUP_INSTANCE`, the starting event's (or command's)
/// variables, then the unit's `env`: later entries override earlier ones.
pub fn job_env(
    name: &str,
    instance: &str,
    start_env: &[(String, String)],
    unit: &Unit,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::with_capacity(3 + start_env.len() + unit.env.len());
    set(&mut env, "PATH", JOB_PATH);
    set(&mut env, "GSUP_JOB", name);
    set(&mut env, "GSUP_INSTANCE", instance);
    for (k, v) in start_env.iter().chain(unit.env.iter()) {
        set(&mut env, k, v);
    }
    env
}

/// Sets `key` to `value`, replacing an earlier binding in place.
pub fn set(env: &mut Vec<(String, String)>, key: &str, value: &str) {
    match env.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value.to_string(),
        None => env.push((key.to_string(), value.to_string())),
    }
}

/// The instance name of a job started with `env`: its `instance` template
/// expanded, or empty for a single-instance job.
pub fn instance_name(unit: &Unit, env: &[(String, String)]) -> Result<String, String> {
    match &unit.instance {
        None => Ok(String::new()),
        Some(t) => crate::unit::expand_str(t, env).map_err(|e| format!("instance {t}: {e}")),
    }
}

/// A command's argv expanded from the job's environment.
pub fn argv(cmd: &Command, env: &[(String, String)]) -> Result<Vec<String>, String> {
    let argv = cmd.expand(env)?;
    if argv.first().is_none_or(|a| a.is_empty()) {
        return Err("empty command".to_string());
    }
    Ok(argv)
}

/// The spawn spec of one process of `unit`'s instance `key`.
pub fn spec(
    log_dir: &Path,
    u: &Unit,
    key: &Key,
    argv: Vec<String>,
    env: Vec<(String, String)>,
) -> SpawnSpec {
    let stdio = match u.console {
        Console::Log => Stdio::File(log_path(log_dir, &key.0, &key.1)),
        Console::Inherit => Stdio::Inherit,
        Console::None => Stdio::Null,
    };
    SpawnSpec {
        argv,
        env,
        user: u.user.clone(),
        group: u.group.clone(),
        chdir: u.chdir.clone(),
        umask: u.umask,
        nice: u.nice,
        oom_score_adj: u.oom_score_adj,
        limits: u.limits.clone(),
        stdio,
    }
}

/// Where an instance's output goes: `LOG_DIR/JOB.log` (slashes kept as folders).
pub fn log_path(log_dir: &Path, job: &str, instance: &str) -> PathBuf {
    crate::logs::job_log_path(log_dir, job, instance)
}

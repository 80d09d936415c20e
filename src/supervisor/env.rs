//! A job's clean environment (SPEC section 1), its templates and its limits.
//! Builds values (and raises the daemon's own open-file limit once); never spawns or reads the daemon's env.

use super::jobs::Key;
use crate::spawn::{SpawnSpec, Stdio};
use crate::unit::{Command, Console, Rlimit, RlimitResource, RlimitValue, Unit};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

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

/// The variables an instance was started with, read back from its
/// environment `env` (built by `job_env` with `unit`): what the daemon set
/// itself and what the unit's `env` set are left out, so that the instance
/// can be started again on a new definition of its job.
pub fn start_env_of(env: &[(String, String)], unit: &Unit) -> Vec<(String, String)> {
    env.iter()
        .filter(|(k, v)| {
            let own = k == "GSUP_JOB" || k == "GSUP_INSTANCE" || (k == "PATH" && v == JOB_PATH);
            !own && !unit.env.iter().any(|(u, _)| u == k)
        })
        .cloned()
        .collect()
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
    creds: Option<crate::users::Creds>,
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
        creds,
        chdir: u.chdir.clone(),
        umask: u.umask,
        nice: u.nice,
        oom_score_adj: u.oom_score_adj,
        limits: job_limits(u),
        stdio,
        cgroup_procs: None,
    }
}

/// The daemon's own `RLIMIT_NOFILE` (soft, hard) from before `raise_nofile`.
/// Jobs that set no `nofile` get it back, so the daemon's raise is its own.
static JOB_NOFILE: OnceLock<(u64, u64)> = OnceLock::new();

/// Raises the daemon's soft `RLIMIT_NOFILE` to its hard limit (the watchdog
/// keeps two `/proc` files open per watched process; see docs/watchdog.md)
/// and remembers the old value for the jobs. Best effort: on failure the
/// daemon keeps its limit and the watchdog reads with fewer open files.
pub fn raise_nofile() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    // The kernel refuses more than fs.nr_open (1 Mi by default).
    let target = hard.min(1 << 20);
    if soft >= target || setrlimit(Resource::RLIMIT_NOFILE, target, hard).is_err() {
        return;
    }
    let _ = JOB_NOFILE.set((soft, hard));
}

/// The unit's limits, plus the daemon's original `nofile` when the unit sets none.
fn job_limits(u: &Unit) -> Vec<Rlimit> {
    let mut limits = u.limits.clone();
    if let Some(&(soft, hard)) = JOB_NOFILE.get()
        && !limits.iter().any(|l| l.resource == RlimitResource::Nofile)
    {
        let value = |v: u64| {
            if v == libc::RLIM_INFINITY {
                RlimitValue::Unlimited
            } else {
                RlimitValue::Value(v)
            }
        };
        limits.push(Rlimit {
            resource: RlimitResource::Nofile,
            soft: value(soft),
            hard: value(hard),
        });
    }
    limits
}

/// Where an instance's output goes: `LOG_DIR/JOB.log` (slashes kept as folders).
pub fn log_path(log_dir: &Path, job: &str, instance: &str) -> PathBuf {
    crate::logs::job_log_path(log_dir, job, instance)
}

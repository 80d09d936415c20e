//! The launcher: turns one process of an instance (main, hook, readiness
//! probe) into a `SpawnSpec` and spawns it through `Sys`. It records no pid
//! and steps no job: the supervisor does both with what it returns.

use super::env;
use super::jobs::{Instance, JobDef, Key, label};
use super::readiness::{ProbeCmd, bind_notify};
use crate::job::machine::Process;
use crate::logs::{LogHub, LogId, LogSpec};
use crate::spawn::{SpawnSpec, Stdio};
use crate::sys::Sys;
use crate::unit::{Command, Console, Ready};
use std::path::PathBuf;
use tracing::warn;

/// What a launch gave: the pid or why it failed, and the probe the async
/// loop must run for it (a `ready: notify` socket).
#[derive(Debug)]
pub struct Launched {
    pub result: Result<i32, String>,
    pub probe: Option<ProbeCmd>,
    /// The failure is a shortage that passes (EMFILE, ENFILE, ENOMEM,
    /// EAGAIN from the spawn): worth another try.
    pub transient: bool,
}

/// Where launched processes write and where their sockets live.
#[derive(Debug, Clone)]
pub struct Launcher {
    /// Job logs (`LOG_DIR/JOB.log`).
    pub log_dir: PathBuf,
    /// The daemon's runtime dir (notify sockets).
    pub runtime_dir: PathBuf,
}

impl Launcher {
    /// Spawns process `p` of instance `key`; with a `hub`, a `console: log`
    /// process writes into the instance's log pipe.
    pub fn launch(
        &self,
        sys: &mut dyn Sys,
        mut hub: Option<&mut LogHub>,
        key: &Key,
        def: &JobDef,
        inst: &Instance,
        p: Process,
    ) -> Launched {
        let u = &def.unit;
        let cmd = match p {
            Process::Main => Some(&u.exec),
            Process::PreStart => u.pre_start.as_ref(),
            Process::PostStart => u.post_start.as_ref(),
            Process::PreStop => u.pre_stop.as_ref(),
            Process::PostStop => u.post_stop.as_ref(),
        };
        let mut env = inst.env.clone();
        let mut probe = None;
        if p == Process::Main && u.ready == Ready::Notify {
            match bind_notify(&self.runtime_dir, key, def.job_uid()) {
                Ok((path, sock)) => {
                    env::set(&mut env, "NOTIFY_SOCKET", &path.to_string_lossy());
                    probe = Some(ProbeCmd::Notify {
                        key: key.clone(),
                        sock,
                    });
                }
                // Without its socket the job could never be ready: fail now.
                Err(e) => return self.failed(hub, key, def, p, format!("notify socket: {e}")),
            }
        }
        let Some(cmd) = cmd else {
            return self.failed(hub, key, def, p, "no such command".into());
        };
        // Every process of the instance runs in its group, from its first
        // instruction: the child joins it before exec.
        if let Err(reason) = sys.group_open(key) {
            return self.failed(hub, key, def, p, reason);
        }
        let group = sys.group_procs(key);
        let spec = self.spec(key, def, cmd, env).map(|spec| SpawnSpec {
            cgroup_procs: group.as_ref().map(std::os::fd::AsRawFd::as_raw_fd),
            ..spec
        });
        let spec = match spec {
            Ok(spec) => spec,
            Err(reason) => return self.failed(hub, key, def, p, reason),
        };
        // The write end lives until the spawn returns: the child has its
        // dups on 1 and 2 by then, and the daemon keeps only the hub's. A
        // main process gets a pipe of its own, read only after gsup's
        // `started` line is in the log.
        let first = p == Process::Main && def.unit.console == Console::Log;
        let (spec, _pipe) = match log_pipe(hub.as_deref_mut(), key, def, spec, first) {
            Ok(s) => s,
            Err(reason) => return self.failed(hub, key, def, p, reason),
        };
        let spawned = sys.spawn(&spec);
        if let Some(hub) = hub.as_deref_mut().filter(|_| first) {
            let line = spawned
                .as_ref()
                .ok()
                .map(|pid| format!("gsup: started, pid {pid}"));
            hub.release(&LogId::new(&key.0, &key.1), line.as_deref());
        }
        match spawned {
            Ok(pid) => Launched {
                result: Ok(pid),
                probe,
                transient: false,
            },
            Err(e) => Launched {
                transient: e.is_transient(),
                ..self.failed(hub, key, def, p, e.to_string())
            },
        }
    }

    /// Spawns the instance's `ready: {exec: ...}` probe; `None` when the unit has none.
    pub fn launch_probe(
        &self,
        sys: &mut dyn Sys,
        hub: Option<&mut LogHub>,
        key: &Key,
        def: &JobDef,
        inst: &Instance,
    ) -> Option<Result<i32, String>> {
        let Ready::Exec(cmd) = &def.unit.ready else {
            return None;
        };
        if let Err(reason) = sys.group_open(key) {
            return Some(Err(reason));
        }
        let group = sys.group_procs(key);
        let spec = self
            .spec(key, def, cmd, inst.env.clone())
            .map(|spec| SpawnSpec {
                cgroup_procs: group.as_ref().map(std::os::fd::AsRawFd::as_raw_fd),
                ..spec
            });
        let spawned = spec
            .and_then(|s| log_pipe(hub, key, def, s, false))
            .and_then(|(s, _pipe)| sys.spawn(&s).map_err(|e| e.to_string()));
        Some(spawned)
    }

    /// The spec of one command of `def`'s instance `key`.
    fn spec(
        &self,
        key: &Key,
        def: &JobDef,
        cmd: &Command,
        env: Vec<(String, String)>,
    ) -> Result<SpawnSpec, String> {
        let creds = def.creds.clone()?;
        let argv = env::argv(cmd, &env)?;
        Ok(env::spec(&self.log_dir, &def.unit, creds, key, argv, env))
    }

    /// A failed launch: logged, and noted in the job's log so that
    /// `gsup log JOB` tells the operator.
    fn failed(
        &self,
        hub: Option<&mut LogHub>,
        key: &Key,
        def: &JobDef,
        p: Process,
        reason: String,
    ) -> Launched {
        warn!(job = %label(key), "{} could not start: {reason}", p.as_str());
        if def.unit.console == Console::Log {
            let line = format!("gsup: {} could not start: {reason}", p.as_str());
            match hub {
                Some(hub) => hub.note(&LogId::new(&key.0, &key.1), &line),
                None => {
                    let path = env::log_path(&self.log_dir, &key.0, &key.1);
                    crate::logs::note(&path, &line);
                }
            }
        }
        Launched {
            result: Err(reason),
            probe: None,
            transient: false,
        }
    }
}

/// `spec` with its output on the instance's log pipe when the unit logs and
/// the daemon has a hub (else unchanged: a test's fake kernel), and the write
/// end to keep open until the spawn returns. A refused log file is the error.
/// `first`: a new pipe the thread reads after `LogHub::release`.
fn log_pipe(
    hub: Option<&mut LogHub>,
    key: &Key,
    def: &JobDef,
    spec: SpawnSpec,
    first: bool,
) -> Result<(SpawnSpec, Option<std::os::fd::OwnedFd>), String> {
    use std::os::fd::AsRawFd;
    let Some(hub) = hub.filter(|_| def.unit.console == Console::Log) else {
        return Ok((spec, None));
    };
    let id = LogId::new(&key.0, &key.1);
    let spec_of_log = LogSpec::from(&def.unit.log);
    let write = if first {
        hub.open_first(&id, spec_of_log)?
    } else {
        hub.open(&id, spec_of_log)?
    };
    let spec = SpawnSpec {
        stdio: Stdio::Fd(write.as_raw_fd()),
        ..spec
    };
    Ok((spec, Some(write)))
}

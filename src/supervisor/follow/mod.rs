//! The pidfile follower (docs/pidfiles.md): per-job follow state and the tree
//! record, turned into machine inputs. It reads and watches through `Sys`,
//! decides with `pidfile::decide`, and returns what should happen (`Out`);
//! it never changes a job's goal or state, never waits, and never signals a
//! refused pid.

mod glue;

use super::jobs::{Instance, JobDef, Key, label};
use crate::job::machine::{Input, Process};
use crate::job::{Exit, State};
use crate::pidfile::{
    Decision, FollowInput, Refusal, TreeRecord, decide, is_ready, job_members, verify,
};
use crate::sys::{Change, Sys, WatchId};
use crate::unit::{Ready, Signal};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use tracing::{debug, info, warn};

/// What the follower asks of the supervisor, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// `pid` is the instance's main process now: it joins the pid table
    /// (its exit is routed to the job; a stop signals it), and the machine
    /// gets `MainReplaced`.
    NewMain(i32),
    /// Feed this input to the instance's machine.
    Input(Input),
    /// Arm the `pidfile_grace` timer for this long.
    ArmGrace(Duration),
    /// Disarm the `pidfile_grace` timer.
    CancelGrace,
}

/// The result of one follow pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pass {
    Done(Vec<Out>),
    /// The file names a process not (yet) shown to be the job's: a launcher
    /// may just have exited. Reap once more, then pass again with `retried`.
    ReapAndRetry,
}

/// One pidfile job's run.
#[derive(Debug)]
struct Followed {
    path: PathBuf,
    grace: Duration,
    main: Option<i32>,
    main_alive: bool,
    /// The wait status of the current main, when gsup reaped it.
    last_exit: Option<Exit>,
    /// A pidfd is held on `main` (`Sys::pidfd_open`).
    pidfd: bool,
    /// The grace timer is armed.
    waiting: bool,
}

/// Pidfile following for every job: who owns which process, and each
/// followed run's state.
#[derive(Debug, Default)]
pub struct Follower {
    tree: TreeRecord<Key>,
    jobs: HashMap<Key, Followed>,
    /// Jobs whose main process exited in the current reap batch.
    pending: Vec<Key>,
}

impl Follower {
    /// Before a main process of a pidfile job is spawned, its pidfile is
    /// watched, so that a program writing it at once is seen (a stale file
    /// from before makes no event and is not read).
    pub fn before_spawn(&mut self, sys: &mut dyn Sys, key: &Key, def: &JobDef, inst: &Instance) {
        let path = match pidfile_path(def, inst) {
            Ok(Some(path)) => path,
            Ok(None) => return,
            Err(e) => return warn!(job = %label(key), "pidfile: {e}; not followed"),
        };
        let id = WatchId::Pidfile(key.0.clone(), key.1.clone());
        if let Err(e) = sys.watch_file(id, &path) {
            warn!(job = %label(key), "cannot watch pidfile {}: {e}; read only when the main process exits", path.display());
        }
    }

    /// A process of the instance was spawned: it joins the tree record; a
    /// main process of a pidfile job starts a followed run (the file,
    /// watched since `before_spawn`, is not read yet: it may be stale).
    pub fn spawned(
        &mut self,
        sys: &mut dyn Sys,
        key: &Key,
        p: Process,
        pid: i32,
        def: &JobDef,
        inst: &Instance,
    ) -> Vec<Out> {
        let Some(start) = sys.procs().stat(pid).map(|s| s.start_ticks) else {
            return Vec::new();
        };
        if p != Process::Main {
            self.tree.add(key, pid, start);
            return Vec::new();
        }
        self.tree
            .job_started(key.clone(), pid, start, def.job_uid());
        let Ok(Some(path)) = pidfile_path(def, inst) else {
            return Vec::new();
        };
        if let Some(old) = self.jobs.get(key).and_then(|f| f.main.filter(|_| f.pidfd)) {
            sys.pidfd_close(old);
        }
        let pidfd = sys.pidfd_open(pid).is_ok();
        self.jobs.insert(
            key.clone(),
            Followed {
                path,
                grace: def.unit.pidfile_grace,
                main: Some(pid),
                main_alive: true,
                last_exit: None,
                pidfd,
                waiting: false,
            },
        );
        vec![Out::CancelGrace]
    }

    /// Before a reap batch is routed: orphans re-parented to the daemon are
    /// attributed first, so that nginx's master is known when its
    /// launcher's exit is judged.
    pub fn batch(&mut self, sys: &dyn Sys, reaped: &[(i32, Exit)]) {
        if reaped.is_empty() {
            return;
        }
        let exited: Vec<(i32, Key)> = reaped
            .iter()
            .filter_map(|(p, _)| self.tree.owner(*p).map(|k| (*p, k.clone())))
            .collect();
        let children = sys.own_children();
        let (adopted, left) = self.tree.attribute_orphans(&exited, &children, sys.procs());
        for (pid, key) in adopted {
            debug!(job = %label(&key), pid, "orphan attributed to the job");
        }
        for (pid, why) in left {
            debug!(pid, "orphan not attributed: {why:?}");
        }
    }

    /// The current main of a followed job exited while the job should run:
    /// its exit is held until the pidfile has been read (`take_pending`).
    /// True when held (the caller then feeds no `Exited`).
    pub fn hold(
        &mut self,
        sys: &mut dyn Sys,
        key: &Key,
        pid: i32,
        exit: Exit,
        inst: &Instance,
    ) -> bool {
        let Some(f) = self.jobs.get_mut(key) else {
            return false;
        };
        if !inst.is_live() || inst.job.main_pid != Some(pid) || f.main != Some(pid) {
            return false;
        }
        f.main_alive = false;
        f.last_exit = Some(exit);
        close_pidfd(sys, f);
        info!(job = %label(key), "main process {pid} ended ({}); reading the pidfile", crate::job::machine::exit_text(exit));
        self.pending.push(key.clone());
        true
    }

    /// The jobs whose main exited in the last batch, to follow now.
    pub fn take_pending(&mut self) -> Vec<Key> {
        std::mem::take(&mut self.pending)
    }

    /// The watcher reported a change of `key`'s pidfile; a lost watch
    /// (directory replaced, queue overflow) is set up again.
    pub fn changed(&mut self, sys: &mut dyn Sys, key: &Key, change: Change) {
        if change != Change::Lost {
            return;
        }
        if let Some(f) = self.jobs.get(key) {
            let id = WatchId::Pidfile(key.0.clone(), key.1.clone());
            if let Err(e) = sys.watch_file(id, &f.path) {
                warn!(job = %label(key), "cannot watch pidfile {} again: {e}", f.path.display());
            }
        }
    }

    /// A pidfd held on `pid` turned readable: which followed job's main
    /// process that was (now known dead).
    pub fn main_exited(&mut self, sys: &mut dyn Sys, pid: i32) -> Option<Key> {
        let (key, f) = self
            .jobs
            .iter_mut()
            .find(|(_, f)| f.pidfd && f.main == Some(pid))?;
        f.main_alive = false;
        close_pidfd(sys, f);
        Some(key.clone())
    }

    /// The grace timer fired: it is no longer armed.
    pub fn grace_fired(&mut self, key: &Key) {
        if let Some(f) = self.jobs.get_mut(key) {
            f.waiting = false;
        }
    }

    /// One follow pass (docs/pidfiles.md, "Integration", step 4): read,
    /// verify, decide, and say what follows. `inst` is the instance now;
    /// `wants_ready`, that its readiness is `ready: pidfile` and still awaited.
    pub fn follow(
        &mut self,
        sys: &mut dyn Sys,
        key: &Key,
        inst: &Instance,
        wants_ready: bool,
        grace_expired: bool,
        retried: bool,
    ) -> Pass {
        let mut out = Vec::new();
        let Some(f) = self.jobs.get_mut(key) else {
            return Pass::Done(out);
        };
        if !inst.is_live() {
            return Pass::Done(out);
        }
        if f.main_alive && f.main.is_some_and(|m| f.pidfd && sys.pidfd_exited(m)) {
            f.main_alive = false;
            close_pidfd(sys, f);
        }
        let (path, main, main_alive) = (f.path.clone(), f.main, f.main_alive);
        let read = sys.read_pidfile(&path);
        let verdict = read.as_ref().ok().map(|p| self.verify(sys, key, *p));
        if !retried && matches!(verdict, Some(Err(Refusal::NotInJob))) {
            return Pass::ReapAndRetry;
        }
        let ready = is_ready(&read, verdict.as_ref());
        let decision = decide(&FollowInput {
            main,
            main_alive,
            read,
            verdict,
            grace_expired,
        });
        match decision {
            Decision::Keep => {
                if main_alive {
                    self.cancel_grace(key, &mut out);
                    if ready && wants_ready {
                        out.push(Out::Input(Input::Ready));
                    }
                }
            }
            Decision::Replace { from, to } => {
                self.replace(sys, key, from, to, wants_ready, &mut out)
            }
            Decision::WaitGrace => self.wait(key, &mut out),
            Decision::Refused { pid, reason } => {
                let shown = pid.map_or(String::new(), |p| format!(" (pid {p})"));
                let job = label(key);
                warn!(job = %job, "{job}: pidfile {} refused{shown}: {reason}", path.display());
                self.wait(key, &mut out);
            }
            Decision::Gone => self.gone(sys, key, &mut out),
        }
        Pass::Done(out)
    }

    fn verify(&self, sys: &dyn Sys, key: &Key, pid: i32) -> Result<(), Refusal> {
        let other = |p: i32| self.tree.is_other_job(key, p);
        let group = sys.group_proc_path(key);
        match self.tree.job(key) {
            Some(job) => {
                let mut view = job.view(sys.own_pid(), &other);
                view.cgroup = group.as_deref();
                verify(pid, &view, sys.procs())
            }
            None => Err(Refusal::NotInJob),
        }
    }

    fn replace(
        &mut self,
        sys: &mut dyn Sys,
        key: &Key,
        from: Option<i32>,
        to: i32,
        wants_ready: bool,
        out: &mut Vec<Out>,
    ) {
        let Some(start) = sys.procs().stat(to).map(|s| s.start_ticks) else {
            return self.wait(key, out);
        };
        self.tree.add(key, to, start);
        // A pidfd first, then the proof, then "not exited since": the pidfd
        // is on the very process that was verified.
        let opened = sys.pidfd_open(to).is_ok();
        let verified = self.verify(sys, key, to).and_then(|()| {
            if opened && sys.pidfd_exited(to) {
                Err(Refusal::Exited)
            } else {
                Ok(())
            }
        });
        if let Err(e) = verified {
            debug!(job = %label(key), "new main {to}: {e:?}");
            if opened {
                sys.pidfd_close(to);
            }
            if !self.jobs.get(key).is_some_and(|f| f.main_alive) {
                self.wait(key, out);
            }
            return;
        }
        let shown = from.map_or("?".to_string(), |p| p.to_string());
        info!(job = %label(key), "main process {shown} replaced by {to} (pidfile)");
        if let Some(f) = self.jobs.get_mut(key) {
            if f.main != Some(to) {
                close_pidfd(sys, f);
            }
            f.main = Some(to);
            f.main_alive = true;
            f.last_exit = None;
            f.pidfd = opened;
        }
        self.cancel_grace(key, out);
        out.push(Out::NewMain(to));
        if wants_ready {
            out.push(Out::Input(Input::Ready));
        }
    }

    fn wait(&mut self, key: &Key, out: &mut Vec<Out>) {
        let Some(f) = self.jobs.get_mut(key) else {
            return;
        };
        if f.waiting {
            return;
        }
        f.waiting = true;
        info!(job = %label(key), "no live main process named by the pidfile; waiting up to {:?}", f.grace);
        out.push(Out::ArmGrace(f.grace));
    }

    fn cancel_grace(&mut self, key: &Key, out: &mut Vec<Out>) {
        if let Some(f) = self.jobs.get_mut(key)
            && f.waiting
        {
            f.waiting = false;
            out.push(Out::CancelGrace);
        }
    }

    /// No live main within the grace: the main's exit (its wait status when
    /// gsup reaped it, else "lost") goes to the machine.
    fn gone(&mut self, sys: &mut dyn Sys, key: &Key, out: &mut Vec<Out>) {
        self.cancel_grace(key, out);
        let Some(f) = self.jobs.get_mut(key) else {
            return;
        };
        let input = match f.last_exit.take() {
            Some(exit) if !f.main_alive => Input::Exited {
                process: Process::Main,
                exit,
            },
            _ => Input::MainLost,
        };
        f.main_alive = false;
        close_pidfd(sys, f);
        info!(job = %label(key), "no live main process within pidfile_grace: the main process has ended");
        out.push(Out::Input(input));
    }

    /// The instance's run is over (it rests in `waiting` or `failed`): its
    /// watch, pidfd, follow state and process tree go, so that transient
    /// instances leave nothing behind. True when it was followed (the
    /// caller disarms its grace timer).
    pub fn forget(&mut self, sys: &mut dyn Sys, key: &Key) -> bool {
        self.tree.forget_job(key);
        let Some(mut f) = self.jobs.remove(key) else {
            return false;
        };
        sys.unwatch(&WatchId::Pidfile(key.0.clone(), key.1.clone()));
        close_pidfd(sys, &mut f);
        true
    }

    /// Signals `key`'s main process `pid` through its pidfd, which reaches
    /// that very process or nobody. `None` when no pidfd is held on it (the
    /// caller signals by pid).
    pub fn signal_main(
        &mut self,
        sys: &mut dyn Sys,
        key: &Key,
        pid: i32,
        sig: Signal,
    ) -> Option<bool> {
        let f = self.jobs.get(key)?;
        if f.main != Some(pid) || !f.pidfd {
            return None;
        }
        Some(sys.pidfd_signal(pid, sig).is_ok())
    }

    /// The processes the tree record knows of `key`, with their start times
    /// (for the saved state).
    pub fn known(&self, key: &Key) -> Vec<(i32, u64)> {
        self.tree
            .job(key)
            .map(|j| j.known.iter().map(|(p, t)| (*p, *t)).collect())
            .unwrap_or_default()
    }

    /// A run taken back from a saved state: its tree record (main, group,
    /// known processes), and for a pidfile job its follow state, watch and
    /// pidfd, as `spawned` would have made them.
    pub fn restore(
        &mut self,
        sys: &mut dyn Sys,
        key: &Key,
        def: &JobDef,
        inst: &Instance,
        (main, start): (i32, u64),
        known: &[(i32, u64)],
    ) {
        self.tree
            .job_started(key.clone(), main, start, def.job_uid());
        for &(pid, t) in known {
            self.tree.add(key, pid, t);
        }
        let Ok(Some(path)) = pidfile_path(def, inst) else {
            return;
        };
        let id = WatchId::Pidfile(key.0.clone(), key.1.clone());
        if let Err(e) = sys.watch_file(id, &path) {
            warn!(job = %label(key), "cannot watch pidfile {}: {e}", path.display());
        }
        let pidfd = sys.pidfd_open(main).is_ok();
        self.jobs.insert(
            key.clone(),
            Followed {
                path,
                grace: def.unit.pidfile_grace,
                main: Some(main),
                main_alive: true,
                last_exit: None,
                pidfd,
                waiting: false,
            },
        );
    }

    /// True when `key` runs with its pidfile followed.
    pub fn is_followed(&self, key: &Key) -> bool {
        self.jobs.contains_key(key)
    }

    /// Every live member of the job (rules a-e of belonging) as `(pid,
    /// pgid)`, from a walk of its known pids: the cost grows with the job's
    /// tree, not with the host. Each member found joins the tree record, so
    /// that it stays the job's when it is orphaned later (the ancestry kept
    /// from the walks, for containment without cgroups).
    pub fn members(&mut self, sys: &dyn Sys, key: &Key) -> Vec<(i32, i32)> {
        let Some(job) = self.tree.job(key) else {
            return Vec::new();
        };
        let procs = sys.procs();
        let me = sys.own_pid();
        let roots = job.known.keys().copied().filter(|&p| p > 1 && p != me);
        let tree = crate::procfs::walk_from(procs, roots);
        let other = |p: i32| self.tree.is_other_job(key, p);
        let group = sys.group_proc_path(key);
        let mut view = job.view(me, &other);
        view.cgroup = group.as_deref();
        let members = job_members(&view, &tree, procs);
        let found: Vec<&crate::procfs::Proc> =
            tree.iter().filter(|p| members.contains(&p.pid)).collect();
        for p in &found {
            self.tree.add(key, p.pid, p.start_ticks);
        }
        found.iter().map(|p| (p.pid, p.pgid)).collect()
    }
}

/// The pidfile of an instance, its template expanded; `None` without one.
fn pidfile_path(def: &JobDef, inst: &Instance) -> Result<Option<PathBuf>, String> {
    let Some(template) = def.unit.pidfile.as_deref() else {
        return Ok(None);
    };
    crate::unit::expand::expand_str(template, &inst.env).map(|p| Some(PathBuf::from(p)))
}

/// Whether an instance awaits readiness from its pidfile.
pub fn wants_pidfile_ready(def: &JobDef, inst: &Instance) -> bool {
    def.unit.ready == Ready::Pidfile
        && inst.job.state == State::Spawned
        && !inst.job.ready
        && inst.job.policy.wait_ready
}

fn close_pidfd(sys: &mut dyn Sys, f: &mut Followed) {
    if f.pidfd
        && let Some(m) = f.main
    {
        sys.pidfd_close(m);
    }
    f.pidfd = false;
}

//! Measuring one watched process tree: the one walk (`procfs::walk`) over a
//! `ProcSource`, made a `TreeSample`. Never scans all of /proc, never signals.

use super::sample::{MeasureError, Sampler, TreeSample};
use crate::procfs::{self, CachedProc, ProcSource};
use std::sync::OnceLock;

/// Clock ticks per second and bytes per page, read once.
fn units() -> (u64, u64) {
    static UNITS: OnceLock<(u64, u64)> = OnceLock::new();
    *UNITS.get_or_init(|| (procfs::clock_ticks(), procfs::page_bytes()))
}

/// Measures `main_pid` and all its descendants now. Fails only when the
/// main process cannot be read; a descendant that exits during the walk is
/// left out.
pub fn sample_tree(src: &dyn ProcSource, main_pid: i32) -> Result<TreeSample, MeasureError> {
    let procs = procfs::walk(src, main_pid);
    if procs.is_empty() {
        return Err(MeasureError {
            pid: main_pid,
            message: "no such process".into(),
        });
    }
    let (hz, page) = units();
    Ok(TreeSample::new(
        main_pid,
        procs,
        procfs::boot_time(),
        hz,
        page,
    ))
}

/// The daemon's sampler: kept-open descriptors, released as processes
/// leave a tree or the tree stops being watched.
impl Sampler for CachedProc {
    fn sample(&mut self, main_pid: i32) -> Result<TreeSample, MeasureError> {
        match sample_tree(self, main_pid) {
            Ok(s) => {
                let pids: Vec<i32> = s.procs.iter().map(|p| p.pid).collect();
                self.keep_tree(main_pid, &pids);
                Ok(s)
            }
            Err(e) => {
                self.forget_tree(main_pid);
                Err(e)
            }
        }
    }

    fn forget(&mut self, main_pid: i32) {
        self.forget_tree(main_pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_tree() {
        let me = i32::try_from(std::process::id()).expect("pid");
        let s = sample_tree(&procfs::RealProc::default(), me).expect("self");
        assert_eq!(s.root, me);
        assert_eq!(s.procs[0].pid, me);
        assert!(s.values(None, me).is_some_and(|v| v.mem > 0));
        assert!(sample_tree(&procfs::RealProc::default(), -4).is_err());
    }
}

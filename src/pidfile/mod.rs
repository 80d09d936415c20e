//! PID-file following (SPEC section 4): read a pidfile safely, prove the pid belongs
//! to the job, watch for changes, decide who the main process is. Never waits or signals.
//!
//! Layout (effects apart from logic):
//!
//! * [`read`]: `read_pidfile` (no symlinks, no FIFOs, at most 64 bytes) — file I/O.
//! * [`verify`]: `verify` (the proof of belonging) and `job_members` — pure
//!   over `procfs::ProcSource`.
//! * [`tree`]: `TreeRecord`, which job owns which process, orphans included — pure.
//! * [`follow`]: `decide`, the follow state machine for one job — pure.
//!
//! Watching the file and holding a pidfd on the main process are `Sys`
//! effects (`sys::inotify`, `sys::pidfd`); the supervisor's follower
//! (`supervisor::follow`) calls these as docs/pidfiles.md ("Integration")
//! describes.

pub mod follow;
pub mod read;
pub mod tree;
pub mod verify;

pub use follow::{Decision, FollowInput, decide, is_ready};
pub use read::{PidfileError, parse_pid, read_pidfile};
pub use tree::{JobTree, TreeRecord, Unattributed};
pub use verify::{JobView, Refusal, job_members, verify};

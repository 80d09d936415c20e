//! PID-file following (SPEC section 4): read a pidfile safely, prove the pid belongs
//! to the job, watch for changes, decide who the main process is. Never waits or signals.
//!
//! Layout (effects apart from logic):
//!
//! * [`read`]: `read_pidfile` (no symlinks, no FIFOs, at most 64 bytes) — file I/O.
//! * [`procs`]: the `ProcSource` seam over `/proc`, and `ProcTable` for tests.
//! * [`verify`]: `verify` (the proof of belonging) and `descendants` — pure.
//! * [`tree`]: `TreeRecord`, which job owns which process, orphans included — pure.
//! * [`follow`]: `decide`, the follow state machine for one job — pure.
//! * [`watch`]: `PidfileWatcher`, one inotify fd for every job's pidfile directory.
//! * [`pidfd`]: `MainHandle`, a pidfd on the verified main process (exit, exact signal).
//!
//! The supervisor owns all state and the one reaper; it calls these as
//! docs/pidfiles.md ("Integration") describes.

pub mod follow;
pub mod pidfd;
pub mod procs;
pub mod read;
pub mod tree;
pub mod verify;
pub mod watch;

pub use follow::{Decision, FollowInput, decide, is_ready};
pub use pidfd::{HandleError, MainHandle};
pub use procs::{ProcInfo, ProcSource, ProcTable, RealProc};
pub use read::{PidfileError, parse_pid, read_pidfile};
pub use tree::{JobTree, TreeRecord, Unattributed};
pub use verify::{JobView, Refusal, descendants, job_members, verify};
pub use watch::{Change, PidfileWatcher};

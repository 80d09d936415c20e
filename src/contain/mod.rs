//! Job containment with cgroup v2: the daemon's domain and one group per job
//! instance. A leaf of effects for the supervisor; it must not hold job state or decide when to kill.
//!
//! Layout (docs/containment.md):
//!
//! ```text
//! BASE/                   the cgroup the daemon was started in
//! └── NAME/               this daemon's domain (domain_for(runtime dir))
//!     ├── supervisor/     the daemon itself
//!     ├── web\x2fnginx@/  job `web/nginx`
//!     └── resque@high/    job `resque`, instance `high`
//! ```
//!
//! * `mountinfo`, `naming`, `files`: pure parsers and names, unit-tested.
//! * `detect`: `Cgroups::detect`, finding the base and setting up the domain.
//! * `tree`: `Cgroups`, making, finding and removing job groups.
//! * `group`: `JobCgroup`, one group: place, list, signal, kill, figures.
//! * `meter`: `GroupMeter`, a group's figure files held open for re-reads.
//! * `dir`, `signal`: the system calls (directory-relative, pidfd-pinned).

mod detect;
mod dir;
mod files;
mod group;
mod meter;
mod mountinfo;
mod naming;
mod signal;
mod tree;

pub use detect::CONTROLLERS;
pub use group::JobCgroup;
pub use meter::GroupMeter;
pub use mountinfo::{Located, locate};
pub use naming::{domain_for, group_name, parse_group_name};
pub use tree::Cgroups;

//! The one reaper: `waitpid(-1, WNOHANG)` until nothing is left. No other code
//! in gsup waits on a child.

use crate::job::Exit;

/// Reaps every exited child; returns each pid with how it ended.
pub fn reap_all() -> Vec<(i32, Exit)> {
    Vec::new()
}

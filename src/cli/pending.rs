//! Placeholders for `gsup check` and `gsup graph` until `cli::check` (owned by
//! the graph helper) lands; they must not grow logic of their own.
//! TODO(control): once `src/cli/check.rs` is on main, call `check::run_check` /
//! `check::run_graph` from `cli::dispatch` and delete this file.

use std::io::Write;
use std::path::Path;

/// `gsup check`: not available in this build yet.
pub fn run_check(config_dir: &Path, _out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let _ = writeln!(
        err,
        "gsup: check is not implemented yet (config dir {})",
        config_dir.display()
    );
    1
}

/// `gsup graph`: not available in this build yet.
pub fn run_graph(config_dir: &Path, _out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let _ = writeln!(
        err,
        "gsup: graph is not implemented yet (config dir {})",
        config_dir.display()
    );
    1
}

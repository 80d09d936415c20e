//! A check's `exec` action runs as the job's user, never with more power than
//! the job it watches (real daemon, own PID namespace).

mod common;

use common::{Daemon, wait_until};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

#[test]
fn check_exec_runs_as_the_jobs_user() {
    let out = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(out.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let uid_file = out.path().join("uid");
    let unit = format!(
        "exec: [sleep, \"1000\"]\nuser: nobody\nchecks:\n  - >-\n    if children < 100 then exec /bin/sh -c 'id -u > {f}.tmp && mv {f}.tmp {f}'\n",
        f = uid_file.display()
    );
    let d = Daemon::start(&[("watched", &unit)], &["--cycle", "200ms"]);
    assert_eq!(d.run(&["start", "watched"]).0, 0);
    wait_until(
        Duration::from_secs(10),
        "the check's exec wrote its uid",
        || uid_file.exists(),
    );
    let uid = std::fs::read_to_string(&uid_file).expect("uid file");
    assert_eq!(uid.trim(), "65534", "exec action ran as uid {uid}");
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}

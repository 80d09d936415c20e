//! A symlink in the config dir that leads out of it (to `/`) is followed
//! only within the load's budgets (folder depth, folders, entries), so a
//! load or reload stays short; the daemon reaps and respawns meanwhile.

mod common;

use common::{Daemon, gsup_bin, snapshot, wait_until};
use std::process::Command;
use std::time::Duration;

#[test]
fn a_link_to_root_is_walked_within_the_budgets() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("a.yaml"), "exec: [sleep, '1']\n").expect("unit");
    std::os::unix::fs::symlink("/", dir.path().join("root")).expect("link");
    let out = Command::new(gsup_bin())
        .args(["check", "--config-dir"])
        .arg(dir.path())
        .output()
        .expect("gsup check");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("the rest is not read") || text.contains("folders deep"),
        "the walk stopped at a budget: {}",
        &text[text.len().saturating_sub(2000)..]
    );
    assert!(text.contains("1: a"), "the config dir's own unit is loaded");
}

#[test]
fn reload_with_a_link_to_root_keeps_reaping() {
    let d = Daemon::start(
        &[(
            "loop",
            "exec: [sleep, '730001']\nstart_on: startup\nrespawn: true\n",
        )],
        &[],
    );
    wait_until(Duration::from_secs(10), "the job runs", || {
        snapshot(&d)["loop ()"].0 == "start/running"
    });
    std::os::unix::fs::symlink("/", d.config.join("root")).expect("link");
    let before = snapshot(&d)["loop ()"].1.expect("pid");
    // The job dies as the reload starts: the daemon reaps and respawns it
    // while the load runs off its loop.
    let reload = Command::new(gsup_bin())
        .arg("--socket")
        .arg(&d.socket)
        .arg("reload-config")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("reload-config");
    d.kill(before as i32, libc::SIGKILL);
    let out = reload.wait_with_output().expect("reload-config");
    assert_eq!(
        out.status.code(),
        Some(1),
        "errors in files found through the link are reported"
    );
    wait_until(Duration::from_secs(10), "respawned", || {
        let v = &snapshot(&d)["loop ()"];
        v.0 == "start/running" && v.1 != Some(before)
    });
    d.assert_no_zombies();
}

//! Where things are by default: the control socket, the config dir, the log dir
//! (SPEC sections 1, 3, 7). Pure functions of their inputs, plus one reader of
//! the real environment; nothing here creates or opens a file.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The control socket: `--socket`, else `$GSUP_SOCKET`, else `/run/gsup.sock`
/// as root (euid 0), else `$XDG_RUNTIME_DIR/gsup.sock`, else `/tmp/gsup-$UID.sock`.
/// Empty variables count as unset.
pub fn resolve_socket_path(
    flag: Option<&Path>,
    env_socket: Option<OsString>,
    euid: u32,
    xdg_runtime_dir: Option<OsString>,
) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(p) = non_empty(env_socket) {
        return PathBuf::from(p);
    }
    if euid == 0 {
        return PathBuf::from("/run/gsup.sock");
    }
    if let Some(dir) = non_empty(xdg_runtime_dir) {
        return PathBuf::from(dir).join("gsup.sock");
    }
    PathBuf::from(format!("/tmp/gsup-{euid}.sock"))
}

/// The config dir: `--config-dir`, else `$GSUP_CONFIG_DIR`, else `./services.d`
/// when it exists, else `/etc/gsup/services.d`.
pub fn resolve_config_dir(
    flag: Option<&Path>,
    env_dir: Option<OsString>,
    local_exists: bool,
) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(p) = non_empty(env_dir) {
        return PathBuf::from(p);
    }
    if local_exists {
        return PathBuf::from("services.d");
    }
    PathBuf::from("/etc/gsup/services.d")
}

/// The job log dir: `--log-dir`, else `/var/log/gsup` as root, else
/// `$XDG_STATE_HOME/gsup/log`, else `$HOME/.local/state/gsup/log` (the XDG
/// default), else `/tmp/gsup-$UID/log`.
pub fn resolve_log_dir(
    flag: Option<&Path>,
    euid: u32,
    xdg_state_home: Option<OsString>,
    home: Option<OsString>,
) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if euid == 0 {
        return PathBuf::from("/var/log/gsup");
    }
    if let Some(dir) = non_empty(xdg_state_home) {
        return PathBuf::from(dir).join("gsup/log");
    }
    if let Some(home) = non_empty(home) {
        return PathBuf::from(home).join(".local/state/gsup/log");
    }
    PathBuf::from(format!("/tmp/gsup-{euid}/log"))
}

/// The three defaults above, read from this process's flags and environment.
pub struct Resolved;

impl Resolved {
    /// The socket for this process.
    pub fn socket(flag: Option<&Path>) -> PathBuf {
        resolve_socket_path(
            flag,
            std::env::var_os("GSUP_SOCKET"),
            euid(),
            std::env::var_os("XDG_RUNTIME_DIR"),
        )
    }

    /// The config dir for this process.
    pub fn config_dir(flag: Option<&Path>) -> PathBuf {
        resolve_config_dir(
            flag,
            std::env::var_os("GSUP_CONFIG_DIR"),
            Path::new("services.d").is_dir(),
        )
    }

    /// The log dir for this process.
    pub fn log_dir(flag: Option<&Path>) -> PathBuf {
        resolve_log_dir(
            flag,
            euid(),
            std::env::var_os("XDG_STATE_HOME"),
            std::env::var_os("HOME"),
        )
    }
}

fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

fn non_empty(v: Option<OsString>) -> Option<OsString> {
    v.filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<OsString> {
        Some(OsString::from(s))
    }

    #[test]
    fn socket_precedence() {
        let flag = Path::new("/x/flag.sock");
        assert_eq!(
            resolve_socket_path(Some(flag), os("/env.sock"), 0, os("/run/user/1")),
            PathBuf::from("/x/flag.sock")
        );
        assert_eq!(
            resolve_socket_path(None, os("/env.sock"), 0, os("/run/user/1")),
            PathBuf::from("/env.sock")
        );
        assert_eq!(
            resolve_socket_path(None, os(""), 0, os("/run/user/1")),
            PathBuf::from("/run/gsup.sock")
        );
        assert_eq!(
            resolve_socket_path(None, None, 1000, os("/run/user/1000")),
            PathBuf::from("/run/user/1000/gsup.sock")
        );
        assert_eq!(
            resolve_socket_path(None, None, 1000, None),
            PathBuf::from("/tmp/gsup-1000.sock")
        );
    }

    #[test]
    fn config_dir_precedence() {
        let flag = Path::new("/f");
        assert_eq!(
            resolve_config_dir(Some(flag), os("/e"), true),
            PathBuf::from("/f")
        );
        assert_eq!(
            resolve_config_dir(None, os("/e"), true),
            PathBuf::from("/e")
        );
        assert_eq!(
            resolve_config_dir(None, None, true),
            PathBuf::from("services.d")
        );
        assert_eq!(
            resolve_config_dir(None, None, false),
            PathBuf::from("/etc/gsup/services.d")
        );
    }

    #[test]
    fn log_dir_precedence() {
        let flag = Path::new("/l");
        assert_eq!(
            resolve_log_dir(Some(flag), 0, None, None),
            PathBuf::from("/l")
        );
        assert_eq!(
            resolve_log_dir(None, 0, os("/s"), os("/h")),
            PathBuf::from("/var/log/gsup")
        );
        assert_eq!(
            resolve_log_dir(None, 5, os("/s"), os("/h")),
            PathBuf::from("/s/gsup/log")
        );
        assert_eq!(
            resolve_log_dir(None, 5, None, os("/h")),
            PathBuf::from("/h/.local/state/gsup/log")
        );
        assert_eq!(
            resolve_log_dir(None, 5, None, None),
            PathBuf::from("/tmp/gsup-5/log")
        );
    }
}

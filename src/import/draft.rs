//! The unit file an import is about to write: gsup's keys with their values as gsup text.
//! Pure data; deciding the values is the importers' work, writing YAML is `yaml`'s.

/// `respawn_limit:` as it will be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespawnLimit {
    /// `{count: N, interval: Ss}`.
    Count { count: u32, interval_s: u64 },
    /// `unlimited` (Upstart's `respawn limit unlimited`, or a zero count).
    Unlimited,
}

/// One job's unit file before it is written. Every string is already in
/// gsup's syntax: command words and `pidfile`/`instance` are templates (a
/// literal `$` written `$$`, see `shell::literal`), expressions are event
/// expressions, checks are check lines. `None`/empty means "key not written".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    /// Comment lines written at the top, without the leading `# `.
    pub header: Vec<String>,
    pub description: Option<String>,
    pub author: Option<String>,
    /// `type: task`.
    pub task: bool,
    pub instance: Option<String>,
    pub start_on: Option<String>,
    pub stop_on: Option<String>,
    pub env: Vec<(String, String)>,
    /// The main command; empty until an importer sets it.
    pub exec: Vec<String>,
    pub pre_start: Option<Vec<String>>,
    pub post_start: Option<Vec<String>>,
    pub pre_stop: Option<Vec<String>>,
    pub post_stop: Option<Vec<String>>,
    pub respawn: bool,
    pub respawn_limit: Option<RespawnLimit>,
    /// Exit codes (`"0"`) and signal names (`"TERM"`).
    pub normal_exit: Vec<String>,
    pub kill_signal: Option<String>,
    pub kill_timeout_s: Option<u64>,
    pub reload_signal: Option<String>,
    pub pidfile: Option<String>,
    /// `ready: pidfile`.
    pub ready_pidfile: bool,
    pub ready_timeout_s: Option<u64>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub chdir: Option<String>,
    /// Octal digits, as written (`022`).
    pub umask: Option<String>,
    pub nice: Option<i64>,
    pub oom_score_adj: Option<i64>,
    /// `(name, soft, hard)`: numbers or `unlimited`.
    pub limits: Vec<(String, String, String)>,
    /// `log`, `inherit` or `none`.
    pub console: Option<&'static str>,
    pub cycle_s: Option<u64>,
    pub checks: Vec<String>,
}

//! The command line: parses arguments with clap and dispatches to the client,
//! `check`, or the daemon. It never touches job state itself.

pub mod args;
pub mod check;
pub mod client;
pub mod fast;
pub mod generate;
pub mod import;
pub mod log;
pub mod paths;
pub mod table;

use crate::supervisor::{self, DaemonOptions};
use args::{parse_duration, parse_pair};
use clap::{Args, Parser, Subcommand, ValueEnum};
use paths::Resolved;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// `gsup`: one binary for the daemon and its client.
#[derive(Debug, Parser)]
#[command(
    name = "gsup",
    version,
    about = "A process supervisor: Upstart-style jobs, Monit-style checks",
    after_help = "Exit codes: 0 ok, 1 action failed or daemon unreachable, 2 usage error, \
                  3 a named job is not running (status), 4 no such job."
)]
pub struct Cli {
    /// Control socket [default: $GSUP_SOCKET, /run/gsup.sock as root,
    /// $XDG_RUNTIME_DIR/gsup.sock, /tmp/gsup-$UID.sock]
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Every command of SPEC section 3.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the supervisor in the foreground
    Daemon(DaemonArgs),
    /// Start a job (or an instance) and wait until it is running and ready
    Start(ChangeArgs),
    /// Stop a job (or an instance) and wait until it has stopped
    Stop(ChangeArgs),
    /// Stop then start a job
    Restart(ChangeArgs),
    /// Send the job's reload_signal to its main process
    Reload(JobPairs),
    /// Print the status lines of the named jobs (all jobs if none named)
    Status {
        /// Jobs to show, each followed by KEY=VALUE pairs that pick one instance
        #[arg(value_name = "JOB [KEY=VALUE]...", value_parser = args::parse_status_word)]
        jobs: Vec<String>,
        #[command(flatten)]
        format: Format,
    },
    /// Print the status lines of all jobs, sorted by name
    List {
        #[command(flatten)]
        format: Format,
    },
    /// Emit an event and wait until the jobs it starts or stops have settled
    Emit {
        /// Event name
        event: String,
        /// Event environment
        #[arg(value_name = "KEY=VALUE", value_parser = parse_pair)]
        env: Vec<(String, String)>,
        /// Return as soon as the daemon has the event
        #[arg(long)]
        no_wait: bool,
    },
    /// Validate all unit files without a daemon; print the start order
    Check(ConfigDirArg),
    /// Print the dependency graph of the unit files
    Graph(ConfigDirArg),
    /// Re-read the config dir now
    ReloadConfig,
    /// Print (or follow) a job's log, or the daemon's own recent events
    Log {
        /// Job name
        #[arg(required_unless_present = "daemon", conflicts_with = "daemon")]
        job: Option<String>,
        /// Picks one instance
        #[arg(value_name = "KEY=VALUE", value_parser = parse_pair)]
        env: Vec<(String, String)>,
        /// Number of lines to print
        #[arg(short = 'n', long = "lines", value_name = "N", default_value_t = 10)]
        lines: usize,
        /// Keep printing what is written, across rotation
        #[arg(short, long)]
        follow: bool,
        /// The daemon's own log instead of a job's
        #[arg(long)]
        daemon: bool,
    },
    /// Write unit files from Upstart job files or a Monit control file
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Stop every job in order and end the daemon
    Shutdown {
        /// As PID 1: reboot instead of powering off
        #[arg(long, conflicts_with = "poweroff")]
        reboot: bool,
        /// As PID 1: power off (the default)
        #[arg(long)]
        poweroff: bool,
    },
    /// Replace the running daemon with the binary on disk, keeping every job
    Reexec,
    /// Print a shell completion script on stdout
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: generate::Shell,
    },
    /// Print the man page (roff) on stdout
    Man,
}

/// Options of `gsup daemon`.
#[derive(Debug, Args)]
pub struct DaemonArgs {
    #[command(flatten)]
    pub config: ConfigDirArg,
    /// Job log dir [default: /var/log/gsup as root, else $XDG_STATE_HOME/gsup/log]
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// Default resource-check cycle
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse_duration)]
    pub cycle: Duration,
    /// Command run on `alert` (split into words by shell rules, never run by a shell)
    #[arg(long, value_name = "CMD", value_parser = args::parse_words)]
    pub alert_command: Option<args::Words>,
    /// Members of this group may use changing commands
    #[arg(long, value_name = "GROUP")]
    pub control_group: Option<String>,
    /// Format of the daemon's own log on stderr
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// How job processes are held together: cgroups where possible (auto),
    /// cgroups or fail, or the subreaper alone
    #[arg(long, value_enum, default_value_t = ContainmentArg::Auto)]
    pub containment: ContainmentArg,
    /// Behave as PID 1 (shutdown ends every process; for tests in a PID namespace)
    #[arg(long)]
    pub init: bool,
    /// The control socket inherited from the daemon this one replaces
    /// (`gsup reexec`; set by the daemon itself)
    #[arg(long, value_name = "FD", hide = true)]
    pub inherit_socket_fd: Option<i32>,
    /// Serve a read-only status page, /status.json and /metrics on IP:PORT
    /// (e.g. 127.0.0.1:2812) [default: off]
    #[arg(long, value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,
}

/// `--containment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ContainmentArg {
    Auto,
    Cgroup,
    Subreaper,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// `--config-dir`, shared by `daemon`, `check` and `graph`.
#[derive(Debug, Args)]
pub struct ConfigDirArg {
    /// Unit file dir [default: $GSUP_CONFIG_DIR, ./services.d, /etc/gsup/services.d]
    #[arg(long, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
}

/// `JOB [KEY=VALUE]...`.
#[derive(Debug, Args)]
pub struct JobPairs {
    /// Job name
    pub job: String,
    /// Instance and job environment
    #[arg(value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub env: Vec<(String, String)>,
}

/// `JOB [KEY=VALUE]... [--no-wait]`.
#[derive(Debug, Args)]
pub struct ChangeArgs {
    #[command(flatten)]
    pub target: JobPairs,
    /// Return as soon as the daemon has the request
    #[arg(long)]
    pub no_wait: bool,
}

/// `-v` / `--json` of `status` and `list`.
#[derive(Debug, Args, Clone, Copy)]
pub struct Format {
    /// Add a line with memory, CPU, uptime, restarts and the last exit
    #[arg(short, long)]
    pub verbose: bool,
    /// One JSON object per job and line
    #[arg(long, conflicts_with = "verbose")]
    pub json: bool,
}

/// Entry point of the binary; returns the process exit code.
pub fn main() -> i32 {
    let argv: Vec<OsString> = std::env::args_os().collect();
    if nix::unistd::getpid().as_raw() == 1 {
        return pid1_main(argv);
    }
    if let Some(code) = fast::status(&argv) {
        return code;
    }
    match parse(argv) {
        Ok(cli) => dispatch(cli),
        Err(code) => code,
    }
}

/// As PID 1, `gsup` alone is `gsup daemon` (SPEC section 6). PID 1 must
/// never exit on bad input (the kernel would panic): arguments that do not
/// parse (the kernel passes unknown boot parameters to init) are logged and
/// the daemon runs with its defaults.
fn pid1_main(argv: Vec<OsString>) -> i32 {
    if argv.len() <= 1 {
        return run_daemon(None, &default_daemon_args());
    }
    match Cli::try_parse_from(&argv) {
        Ok(Cli {
            socket,
            command: Some(Command::Daemon(args)),
        }) => run_daemon(socket.as_deref(), &args),
        Ok(cli) if cli.command.is_some() => dispatch(cli),
        _ => {
            eprintln!(
                "gsup: as PID 1, ignoring arguments {:?}; running the daemon",
                &argv[1..]
            );
            run_daemon(None, &default_daemon_args())
        }
    }
}

/// Parses `argv`; on a usage error prints one line `gsup: ...` on stderr and
/// returns `Err(2)`; `--help`/`--version` print and return `Err(0)`.
pub fn parse(argv: Vec<OsString>) -> Result<Cli, i32> {
    match Cli::try_parse_from(argv) {
        Ok(cli) if cli.command.is_none() => {
            eprintln!("gsup: a command is required; try 'gsup --help'");
            Err(2)
        }
        Ok(cli) => Ok(cli),
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return Err(0);
            }
            eprintln!("gsup: {}", usage_line(&e.to_string()));
            Err(2)
        }
    }
}

/// Turns clap's multi-line error into one printable line: its first
/// paragraph, where a line break that is not clap's own (an argument that
/// holds one) shows as `\n`.
fn usage_line(rendered: &str) -> String {
    let para = rendered.split("\n\n").next().unwrap_or("usage error");
    let para = para.strip_prefix("error: ").unwrap_or(para);
    let mut first = String::with_capacity(para.len());
    for (i, line) in para.split('\n').enumerate() {
        if i > 0 {
            // clap indents its own continuation lines (`  <JOB>`).
            first.push_str(if line.starts_with("  ") { " " } else { "\n" });
        }
        first.push_str(if i > 0 { line.trim_start() } else { line });
    }
    format!(
        "{}; try 'gsup --help'",
        crate::diag::printable(first.trim_end())
    )
}

fn dispatch(cli: Cli) -> i32 {
    let socket = cli.socket.as_deref();
    let Some(command) = cli.command else {
        return 2;
    };
    match command {
        Command::Daemon(args) => run_daemon(socket, &args),
        Command::Check(c) => {
            let dir = Resolved::config_dir(c.config_dir.as_deref());
            check::run_check(&dir, &mut std::io::stdout(), &mut std::io::stderr())
        }
        Command::Graph(c) => {
            let dir = Resolved::config_dir(c.config_dir.as_deref());
            check::run_graph(&dir, &mut std::io::stdout(), &mut std::io::stderr())
        }
        Command::Import(cmd) => import::run(&cmd, &mut std::io::stdout(), &mut std::io::stderr()),
        Command::Log {
            job,
            env,
            lines,
            follow,
            ..
        } => {
            let socket = Resolved::socket(socket);
            match job {
                Some(job) => log::run(&socket, &job, &env, lines, follow),
                None => log::run_daemon(&socket, lines, follow),
            }
        }
        Command::Completions { shell } => generate::completions(shell, &mut std::io::stdout()),
        Command::Man => generate::man(&mut std::io::stdout()),
        other => client::run(&Resolved::socket(socket), other),
    }
}

fn default_daemon_args() -> DaemonArgs {
    DaemonArgs {
        config: ConfigDirArg { config_dir: None },
        log_dir: None,
        cycle: Duration::from_secs(5),
        alert_command: None,
        control_group: None,
        log_format: LogFormat::Text,
        containment: ContainmentArg::Auto,
        init: false,
        inherit_socket_fd: None,
        http: None,
    }
}

/// Resolves the daemon's options and hands over to the supervisor.
fn run_daemon(socket: Option<&std::path::Path>, args: &DaemonArgs) -> i32 {
    let mut control_group = args.control_group.clone();
    if let Some(group) = &args.control_group {
        let known = matches!(crate::users::group_id(group), Ok(Some(_)));
        if !known {
            eprintln!("gsup: --control-group: no group named '{group}'");
            if nix::unistd::getpid().as_raw() != 1 {
                return 2;
            }
            // PID 1 must not exit: carry on with root-only control.
            control_group = None;
        }
    }
    supervisor::run(DaemonOptions {
        config_dir: Resolved::config_dir(args.config.config_dir.as_deref()),
        log_dir: Resolved::log_dir(args.log_dir.as_deref()),
        socket: Resolved::socket(socket),
        cycle: args.cycle,
        alert_command: args.alert_command.clone().map(|w| w.0),
        control_group,
        log_json: args.log_format == LogFormat::Json,
        containment: match args.containment {
            ContainmentArg::Auto => supervisor::ContainmentMode::Auto,
            ContainmentArg::Cgroup => supervisor::ContainmentMode::Cgroup,
            ContainmentArg::Subreaper => supervisor::ContainmentMode::Subreaper,
        },
        init: args.init,
        inherit_socket_fd: args.inherit_socket_fd,
        http: args.http,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Cli, i32> {
        parse(
            std::iter::once("gsup")
                .chain(args.iter().copied())
                .map(OsString::from)
                .collect(),
        )
    }

    #[test]
    fn global_socket_before_or_after() {
        for argv in [
            &["--socket", "/s", "status", "x"][..],
            &["status", "x", "--socket", "/s"][..],
        ] {
            let cli = p(argv).expect("parses");
            assert_eq!(cli.socket, Some(PathBuf::from("/s")));
        }
    }

    #[test]
    fn pairs_and_flags() {
        let cli = p(&["start", "w", "QUEUE=high", "A=b=c", "--no-wait"]).expect("parses");
        let Some(Command::Start(a)) = cli.command else {
            panic!("not start");
        };
        assert_eq!(a.target.job, "w");
        assert_eq!(
            a.target.env,
            vec![("QUEUE".into(), "high".into()), ("A".into(), "b=c".into())]
        );
        assert!(a.no_wait);
    }

    #[test]
    fn usage_errors_are_2() {
        assert_eq!(p(&["start", "w", "QUEUE"]).err(), Some(2));
        assert_eq!(p(&["start", "w", "=x"]).err(), Some(2));
        assert_eq!(p(&["start"]).err(), Some(2));
        assert_eq!(p(&["frobnicate"]).err(), Some(2));
        assert_eq!(p(&[]).err(), Some(2));
        assert_eq!(p(&["daemon", "--cycle", "0"]).err(), Some(2));
        assert_eq!(p(&["log", "x", "-n", "many"]).err(), Some(2));
        assert_eq!(p(&["log"]).err(), Some(2));
        assert_eq!(p(&["log", "x", "--daemon"]).err(), Some(2));
        assert_eq!(p(&["status", "-v", "--json"]).err(), Some(2));
    }

    #[test]
    fn daemon_defaults() {
        let cli = p(&["daemon", "--alert-command", "mail -s 'gsup alert' root"]).expect("parses");
        let Some(Command::Daemon(d)) = cli.command else {
            panic!("not daemon");
        };
        assert_eq!(d.cycle, Duration::from_secs(5));
        assert_eq!(d.log_format, LogFormat::Text);
        assert_eq!(
            d.alert_command.map(|w| w.0),
            Some(vec![
                "mail".into(),
                "-s".into(),
                "gsup alert".into(),
                "root".into()
            ])
        );
    }

    #[test]
    fn docs_describe_every_command() {
        use clap::CommandFactory;
        let docs = include_str!("../../docs/commands.md");
        for sub in Cli::command().get_subcommands() {
            let heading = format!("### `gsup {}", sub.get_name());
            assert!(docs.contains(&heading), "docs/commands.md lacks {heading}");
        }
    }

    #[test]
    fn one_line_usage_message() {
        let e = "error: invalid value 'Q' for '[KEY=VALUE]...': 'Q' is not KEY=VALUE\n\nFor more information, try '--help'.\n";
        assert_eq!(
            usage_line(e),
            "invalid value 'Q' for '[KEY=VALUE]...': 'Q' is not KEY=VALUE; try 'gsup --help'"
        );
        let e = "error: invalid value 'K=a\nb' for '[KEY=VALUE]...': the value in 'K=a\\nb' \
                 holds a control character; only tab is allowed\n\nFor more information, try '--help'.\n";
        assert_eq!(
            usage_line(e),
            "invalid value 'K=a\\nb' for '[KEY=VALUE]...': the value in 'K=a\\nb' holds a \
             control character; only tab is allowed; try 'gsup --help'"
        );
        let e = "error: the following required arguments were not provided:\n  <JOB>\n\nUsage: x\n";
        assert_eq!(
            usage_line(e),
            "the following required arguments were not provided: <JOB>; try 'gsup --help'"
        );
    }
}

//! The command line: parses arguments with clap and dispatches to the client,
//! `check`, or the daemon. It never touches job state itself.

/// Entry point of the binary; returns the process exit code.
pub fn main() -> i32 {
    eprintln!("gsup: not implemented yet");
    1
}
pub mod check;

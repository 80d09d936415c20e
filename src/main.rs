//! The `gsup` binary: a normal `fn main` with std's runtime set-up (fds 0-2
//! opened on /dev/null when closed, SIGPIPE ignored, panics unwound); no logic here.

fn main() {
    // `exit` flushes Rust's stdout, as returning from `main` would.
    std::process::exit(gsup::cli::main())
}

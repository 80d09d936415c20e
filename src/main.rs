//! The `gsup` binary: parses the command line and hands over to the library.
//! It holds no logic of its own, so that every path is reachable from tests.
//!
//! `no_main`: the C `main` below is called by libc directly, without Rust's
//! runtime set-up (an alternate signal stack and its guard page, SIGPIPE
//! ignored, a poll of fds 0-2): a Rust program that does nothing takes
//! 0.71 ms to run here with it and 0.59 ms without (docs/performance.md),
//! and `gsup status` is a whole-process command. `std::env::args_os` still
//! works (glibc hands argv to std's initialiser); `cli::main` ignores
//! SIGPIPE itself, as std would. A panic cannot unwind out of `main`: it
//! aborts.
// Under `cargo test` the harness brings its own `main` (this file has no tests).
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
use std::ffi::{c_char, c_int};

#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    // `exit` flushes Rust's stdout; returning to libc would not.
    std::process::exit(gsup::cli::main())
}

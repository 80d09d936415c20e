//! The control channel between `gsup` clients and the daemon over a Unix socket.
//! `proto` is the message format both sides share; it holds no I/O.

pub mod proto;

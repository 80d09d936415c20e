//! The control channel between `gsup` clients and the daemon over a Unix socket.
//! `proto` is the message format both sides share; `server` is the daemon's end,
//! `client` the command line's; `status` formats status lines for people;
//! `page` is the status page the daemon publishes for `gsup status`;
//! `socket` makes the socket and runtime dir, `admit` counts connections per user.

pub mod admit;
pub mod client;
pub mod page;
pub mod proto;
pub mod server;
pub mod socket;
pub mod status;

use proto::{Peer, Request, Response};
use tokio::sync::oneshot;

/// One request handed from the socket server to the supervisor, which answers
/// on `reply` (possibly much later: `start` waits until the job is ready).
#[derive(Debug)]
pub struct Call {
    pub request: Request,
    pub peer: Peer,
    pub reply: oneshot::Sender<Response>,
}

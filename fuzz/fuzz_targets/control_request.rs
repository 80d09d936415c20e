//! Fuzz target: the daemon's reading of one control request line (JSON, then
//! `Request::validate`) never panics; what it accepts holds no control
//! character where a client's text goes, and encodes and parses back to itself.
#![no_main]

use gsup::control::proto::{Request, parse_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let request = match parse_request(data) {
        Ok(r) => r,
        Err(e) => {
            assert!(e.starts_with("bad request: "), "{e}");
            assert!(!e.contains(|c: char| c.is_control()), "{e:?}");
            return;
        }
    };
    let texts: Vec<&str> = match &request {
        Request::Start { job, env, .. }
        | Request::Stop { job, env, .. }
        | Request::Restart { job, env, .. }
        | Request::Reload { job, env }
        | Request::LogPath { job, env } => std::iter::once(job.as_str())
            .chain(env.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]))
            .collect(),
        Request::Emit { event, env, .. } => std::iter::once(event.as_str())
            .chain(env.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]))
            .collect(),
        Request::Status { jobs, pairs, .. } => jobs
            .iter()
            .map(String::as_str)
            .chain(pairs.iter().flatten().flat_map(|(k, v)| [k.as_str(), v.as_str()]))
            .collect(),
        Request::List { .. }
        | Request::ReloadConfig
        | Request::Shutdown { .. }
        | Request::Reexec
        | Request::DaemonLog { .. } => Vec::new(),
    };
    for t in texts {
        assert!(!t.contains(|c: char| c.is_control() && c != '\t'), "{t:?}");
    }
    let line = serde_json::to_vec(&request).expect("a parsed request encodes");
    assert_eq!(parse_request(&line).as_ref(), Ok(&request));
});

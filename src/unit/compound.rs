//! The structured values of a unit file: `respawn_limit`, `normal_exit`, `ready`,
//! `limits` and `log`, each checked entry by entry. No I/O.

use super::convert::Ctx;
use super::fields::positive;
use super::model::*;
use super::raw::{Node, Value};
use super::values;

/// `respawn_limit: {count: N, interval: D}` (either part may be left out) or `unlimited`.
pub fn respawn_limit(c: &mut Ctx, v: &Node) -> Option<RespawnLimit> {
    if let Value::Str(s) = &v.value
        && s == "unlimited"
    {
        return Some(RespawnLimit {
            count: u32::MAX,
            ..RespawnLimit::default()
        });
    }
    let entries = c.map(
        "respawn_limit",
        v,
        "`{count: 10, interval: 5s}` or `unlimited`",
    )?;
    let mut limit = RespawnLimit::default();
    let mut ok = true;
    for (k, val) in entries {
        let Some(name) = c.key_name("respawn_limit", k) else {
            ok = false;
            continue;
        };
        match name {
            "count" => match c.int("respawn_limit: count", val, 0, i64::from(u32::MAX)) {
                Some(n) => limit.count = n as u32,
                None => ok = false,
            },
            "interval" => match positive(c, "respawn_limit: interval", val) {
                Some(d) => limit.interval = d,
                None => ok = false,
            },
            other => {
                c.unknown_key(Some("respawn_limit"), k, other, &["count", "interval"]);
                ok = false;
            }
        }
    }
    ok.then_some(limit)
}

/// `normal_exit:` a list (or one item) of exit codes 0-255 and signal names.
pub fn normal_exit(c: &mut Ctx, v: &Node) -> Option<Vec<ExitMatch>> {
    let items = match &v.value {
        Value::Seq(items) => items.as_slice(),
        Value::Int(_) | Value::Str(_) => std::slice::from_ref(v),
        _ => return c.wrong("normal_exit", v, "a list of exit codes and signal names"),
    };
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items {
        let m = match &item.value {
            Value::Int(_) => c
                .int("normal_exit", item, 0, 255)
                .map(|n| ExitMatch::Code(n as i32)),
            Value::Str(s) => match s.parse::<i64>() {
                Ok(n) if (0..=255).contains(&n) => Some(ExitMatch::Code(n as i32)),
                Ok(_) => c.wrong("normal_exit", item, "an exit code from 0 to 255"),
                Err(_) => match values::parse_signal(s) {
                    Ok(sig) => Some(ExitMatch::Signal(sig)),
                    Err(m) => {
                        c.err(item, format!("normal_exit: {m}"));
                        None
                    }
                },
            },
            _ => c.wrong("normal_exit", item, "an exit code (0-255) or a signal name"),
        };
        match m {
            Some(m) => out.push(m),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// `ready:` one word, or a one-key map `{tcp: ADDR}` / `{exec: CMD}`.
pub fn ready(c: &mut Ctx, v: &Node) -> Option<Ready> {
    const WHAT: &str = "`spawned`, `pidfile`, `notify`, `{tcp: \"HOST:PORT\"}` or `{exec: CMD}`";
    match &v.value {
        Value::Str(s) => match s.as_str() {
            "spawned" => Some(Ready::Spawned),
            "pidfile" => Some(Ready::Pidfile),
            "notify" => Some(Ready::Notify),
            _ => c.wrong("ready", v, WHAT),
        },
        Value::Map(m) if m.len() == 1 => {
            let (k, val) = &m[0];
            match c.key_name("ready", k)? {
                "tcp" => {
                    let addr = c.text("ready: tcp", val)?;
                    if tcp_addr_ok(&addr) {
                        Some(Ready::Tcp(addr))
                    } else {
                        c.wrong(
                            "ready: tcp",
                            val,
                            "an address `HOST:PORT` such as `127.0.0.1:9400`",
                        )
                    }
                }
                "exec" => c.command("ready: exec", val).map(Ready::Exec),
                other => {
                    c.unknown_key(Some("ready"), k, other, &["tcp", "exec"]);
                    None
                }
            }
        }
        _ => c.wrong("ready", v, WHAT),
    }
}

fn tcp_addr_ok(addr: &str) -> bool {
    match addr.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && !host.contains(char::is_whitespace)
                && port.parse::<u16>().is_ok_and(|p| p > 0)
        }
        None => false,
    }
}

/// `limits:` rlimits by Upstart name; one value means soft = hard.
pub fn limits(c: &mut Ctx, v: &Node) -> Vec<Rlimit> {
    let Some(entries) = c.map(
        "limits",
        v,
        "a map such as `{nofile: [4096, 8192], core: unlimited}`",
    ) else {
        return Vec::new();
    };
    let names: Vec<&str> = values::RLIMIT_NAMES.iter().map(|(n, _)| *n).collect();
    let mut out = Vec::with_capacity(entries.len());
    for (k, val) in entries {
        let Some(name) = c.key_name("limits", k) else {
            continue;
        };
        let Some(resource) = values::parse_rlimit_name(name) else {
            c.unknown_key(Some("limits"), k, name, &names);
            continue;
        };
        let key = format!("limits: {name}");
        let (soft, hard) = match &val.value {
            Value::Seq(pair) if pair.len() == 2 => (
                rlimit_value(c, &key, &pair[0], resource),
                rlimit_value(c, &key, &pair[1], resource),
            ),
            Value::Seq(_) => {
                c.wrong::<()>(&key, val, "one value or a list `[soft, hard]` of two");
                continue;
            }
            _ => {
                let one = rlimit_value(c, &key, val, resource);
                (one, one)
            }
        };
        let (Some(soft), Some(hard)) = (soft, hard) else {
            continue;
        };
        if let (RlimitValue::Value(s), RlimitValue::Value(h)) = (soft, hard)
            && s > h
        {
            c.err(
                val,
                format!("{key}: the soft limit {s} is above the hard limit {h}"),
            );
            continue;
        }
        if let (RlimitValue::Unlimited, RlimitValue::Value(h)) = (soft, hard) {
            c.err(
                val,
                format!("{key}: the soft limit `unlimited` is above the hard limit {h}"),
            );
            continue;
        }
        out.push(Rlimit {
            resource,
            soft,
            hard,
        });
    }
    out
}

fn rlimit_value(c: &mut Ctx, key: &str, v: &Node, r: RlimitResource) -> Option<RlimitValue> {
    let what = if r.is_bytes() {
        "a number, a size such as `64 MB`, or `unlimited`"
    } else {
        "a number or `unlimited`"
    };
    match &v.value {
        Value::Int(i) => u64::try_from(*i)
            .ok()
            .map(RlimitValue::Value)
            .or_else(|| c.wrong(key, v, what)),
        Value::Str(s) if s == "unlimited" || s == "infinity" => Some(RlimitValue::Unlimited),
        Value::Str(s) if r.is_bytes() => match values::parse_size(s) {
            Ok(n) => Some(RlimitValue::Value(n)),
            Err(_) => c.wrong(key, v, what),
        },
        _ => c.wrong(key, v, what),
    }
}

/// `log: {max_size: SIZE, keep: N, timestamps: BOOL}`.
pub fn log(c: &mut Ctx, v: &Node) -> Option<LogRotation> {
    let entries = c.map("log", v, "a map such as `{max_size: 10MB, keep: 5}`")?;
    let mut out = LogRotation::default();
    let mut ok = true;
    for (k, val) in entries {
        let Some(name) = c.key_name("log", k) else {
            ok = false;
            continue;
        };
        match name {
            "max_size" => match c.size("log: max_size", val) {
                Some(n) => out.max_size = Some(n),
                None => ok = false,
            },
            "keep" => match c.int("log: keep", val, 0, 1000) {
                Some(n) => out.keep = n as u32,
                None => ok = false,
            },
            "timestamps" => match c.boolean("log: timestamps", val) {
                Some(b) => out.timestamps = b,
                None => ok = false,
            },
            other => {
                c.unknown_key(Some("log"), k, other, &["max_size", "keep", "timestamps"]);
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

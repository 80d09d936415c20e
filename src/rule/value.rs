//! Typed thresholds for checks: sizes, percentages, counts and durations after
//! `RESOURCE OP`, with messages that give an example. Parsing only; no units math elsewhere.

use super::parse::{Kind, Parser, Tok, err};
use super::{ParseError, Resource, Value};
use std::time::Duration;

/// A number times a unit, exactly for whole numbers, rounded for decimals.
fn scale(num: &Tok, unit: u64) -> Option<u64> {
    match num.text.parse::<u64>() {
        Ok(n) => n.checked_mul(unit),
        Err(_) => {
            let v = num.text.parse::<f64>().ok()? * unit as f64;
            (v.is_finite() && v < u64::MAX as f64).then(|| v.round() as u64)
        }
    }
}

const SIZE_UNITS: [(&str, u64); 4] = [("b", 1), ("kb", 1 << 10), ("mb", 1 << 20), ("gb", 1 << 30)];
const TIME_UNITS: [(&[&str], u64); 5] = [
    (&["ms"], 1),
    (&["s", "sec", "secs", "second", "seconds"], 1000),
    (&["m", "min", "mins", "minute", "minutes"], 60_000),
    (&["h", "hour", "hours"], 3_600_000),
    (&["d", "day", "days"], 86_400_000),
];

/// The threshold after `RESOURCE OP`, typed by the resource.
pub(super) fn value(p: &mut Parser, res: Resource, ctx: &str) -> Result<Value, ParseError> {
    let example = match res {
        Resource::Mem | Resource::TotalMem => "a size such as `300 MB`",
        Resource::Cpu | Resource::TotalCpu => "a percentage such as `90%`",
        Resource::Children => "a count such as `20`",
        Resource::Uptime => "a duration such as `10m`",
    };
    let at = p.here();
    let num = match p.next()? {
        Some(t) if t.kind == Kind::Number => t,
        Some(t) => {
            return Err(err(
                t.at,
                format!("expected {example} after `{ctx}`, found `{}`", t.text),
            ));
        }
        None => return Err(err(at, format!("expected {example} after `{ctx}`"))),
    };
    let too_large = || err(num.at, format!("`{}` is too large", num.text));
    let unit = p.peek()?;
    match res {
        Resource::Mem | Resource::TotalMem => {
            let Some(u) = unit else {
                let at = p.here();
                return Err(err(
                    at,
                    format!(
                        "expected a size unit (B, KB, MB, GB) after `{ctx} {}`",
                        num.text
                    ),
                ));
            };
            if u.text == "%" {
                return Err(err(
                    u.at,
                    "memory as a percentage is not supported: give a size such as `300 MB`",
                ));
            }
            let mult = SIZE_UNITS
                .iter()
                .find(|(n, _)| u.kind == Kind::Word && u.text.eq_ignore_ascii_case(n));
            let Some(&(_, mult)) = mult else {
                return Err(err(
                    u.at,
                    format!(
                        "expected a size unit (B, KB, MB, GB) after `{ctx} {}`, found `{}`",
                        num.text, u.text
                    ),
                ));
            };
            p.next()?;
            Ok(Value::Bytes(scale(&num, mult).ok_or_else(too_large)?))
        }
        Resource::Cpu | Resource::TotalCpu => {
            if unit.is_none_or(|u| u.text != "%") {
                return Err(err(
                    p.here(),
                    format!("expected `%` after `{ctx} {}`", num.text),
                ));
            }
            p.next()?;
            let v: f64 = num.text.parse().map_err(|_| too_large())?;
            if !v.is_finite() {
                return Err(too_large());
            }
            Ok(Value::Percent(v))
        }
        Resource::Children => {
            let n = num.text.parse::<u64>();
            n.map(Value::Count).map_err(|_| {
                if num.text.contains('.') {
                    err(
                        num.at,
                        format!(
                            "expected a whole number after `{ctx}`, found `{}`",
                            num.text
                        ),
                    )
                } else {
                    too_large()
                }
            })
        }
        Resource::Uptime => {
            let mult = unit.and_then(|u| {
                TIME_UNITS
                    .iter()
                    .find(|(names, _)| names.iter().any(|n| u.text.eq_ignore_ascii_case(n)))
                    .map(|&(_, m)| m)
            });
            if mult.is_some() {
                p.next()?;
            }
            let ms = scale(&num, mult.unwrap_or(1000)).ok_or_else(too_large)?;
            Ok(Value::Duration(Duration::from_millis(ms)))
        }
    }
}

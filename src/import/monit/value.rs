//! The value of a Monit resource test in gsup's units: sizes in bytes (Monit's units are
//! powers of 1024, as gsup's), cpu percentages of one core, uptimes in seconds. Pure.

use super::lex::Kind;
use super::parse::Parser;

/// `300`, `1.5`, `300MB` split into the number and what follows it.
fn number(text: &str) -> Option<(f64, &str)> {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let n = text[..end].parse::<f64>().ok()?;
    Some((n, &text[end..]))
}

fn bytes_per(unit: &str) -> Option<f64> {
    let k = 1024.0;
    Some(match unit.to_ascii_lowercase().as_str() {
        "b" | "byte" | "bytes" => 1.0,
        "k" | "kb" | "kilobyte" | "kilobytes" => k,
        "m" | "mb" | "megabyte" | "megabytes" => k * k,
        "g" | "gb" | "gigabyte" | "gigabytes" => k * k * k,
        "t" | "tb" | "terabyte" | "terabytes" => k * k * k * k,
        _ => return None,
    })
}

fn seconds_per(unit: &str) -> Option<f64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "s" | "sec" | "second" | "seconds" => 1.0,
        "m" | "min" | "minute" | "minutes" => 60.0,
        "h" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86400.0,
        _ => return None,
    })
}

/// A number as gsup writes it: no `.0` on whole numbers.
fn num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

impl Parser {
    /// The value after the operator, in gsup's units, with a warning when
    /// the meaning changes (cpu percentages).
    pub(super) fn value(&mut self, res: &str) -> Result<(String, Option<String>), String> {
        let t = self.next().ok_or("expected a value")?;
        let (n, suffix) =
            number(&t.text).ok_or_else(|| format!("expected a number, found `{}`", t.text))?;
        let mut unit = suffix.to_string();
        if unit.is_empty()
            && let Some(u) = self.peek()
            && ((u.kind == Kind::Sym && u.text == "%")
                || (u.kind == Kind::Word
                    && (bytes_per(&u.text).is_some() || seconds_per(&u.text).is_some())))
        {
            unit = u.text.clone();
            self.next();
        }
        match res {
            "mem" | "totalmem" if unit == "%" => Err(
                "memory as a percentage of the machine's has no gsup equivalent: give a size"
                    .into(),
            ),
            "mem" | "totalmem" => {
                let per = bytes_per(&unit)
                    .ok_or_else(|| format!("expected a size unit after `{}`", t.text))?;
                Ok((format!("{} B", num((n * per).round())), None))
            }
            "cpu" | "totalcpu" if unit == "%" => {
                let cpus = f64::from(self.cpus);
                let scaled = num(n * cpus);
                let warning = (self.cpus > 1).then(|| {
                    format!(
                        "Monit's cpu percentages are of all {} CPUs, gsup's of one core: {}% is \
                         written {scaled}% (`--cpus N` for another host)",
                        self.cpus,
                        num(n)
                    )
                });
                Ok((format!("{scaled}%"), warning))
            }
            "cpu" | "totalcpu" => Err("expected a percentage".into()),
            "children" if unit.is_empty() && n.fract() == 0.0 => Ok((num(n), None)),
            "children" => Err("expected a number of processes".into()),
            _ => {
                let per = seconds_per(&unit).ok_or("expected a time unit")?;
                Ok((format!("{}s", num((n * per).round())), None))
            }
        }
    }
}

//! RFC 3339 UTC times for log lines (`2026-11-27T08:15:02.345Z`), from
//! seconds since the epoch. Pure: the caller reads the clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// `YYYY-MM-DDTHH:MM:SS` plus `digits` (0..=9) fractional digits and `Z`.
pub fn rfc3339(secs: i64, nanos: u32, digits: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
    let digits = digits.min(9);
    if digits > 0 {
        let frac = nanos.min(999_999_999) / 10u32.pow(9 - digits);
        s.push_str(&format!(".{frac:0width$}", width = digits as usize));
    }
    s.push('Z');
    s
}

/// The prefix of a job's log line read at `t`: RFC 3339 with milliseconds
/// and one space.
pub fn line_prefix(t: SystemTime) -> Vec<u8> {
    let (secs, nanos) = split(t);
    let mut p = rfc3339(secs, nanos, 3).into_bytes();
    p.push(b' ');
    p
}

/// Seconds and nanoseconds since the epoch (negative before it).
pub fn split(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let (s, n) = (d.as_secs() as i64, d.subsec_nanos());
            if n == 0 {
                (-s, 0)
            } else {
                (-s - 1, 1_000_000_000 - n)
            }
        }
    }
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, exact for the proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(rfc3339(0, 0, 3), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 0, 0), "2000-02-29T00:00:00Z");
        assert_eq!(
            rfc3339(1_795_770_902, 345_678_901, 3),
            "2026-11-27T09:15:02.345Z"
        );
        assert_eq!(
            rfc3339(1_795_770_902, 345_678_901, 6),
            "2026-11-27T09:15:02.345678Z"
        );
        assert_eq!(rfc3339(-1, 0, 0), "1969-12-31T23:59:59Z");
        assert_eq!(
            rfc3339(4_102_444_799, 999_999_999, 3),
            "2099-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn agrees_with_date_for_every_day_of_a_leap_cycle() {
        // Day boundaries across 1999-2401 against the day-of-year rule.
        let mut days = 0i64;
        for y in 1970..2401i64 {
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let lens = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            for (m, len) in lens.iter().enumerate() {
                for d in 1..=*len {
                    assert_eq!(civil_from_days(days), (y, m as u32 + 1, d));
                    days += 1;
                }
            }
        }
    }

    #[test]
    fn prefix_has_milliseconds_and_a_space() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_500);
        assert_eq!(line_prefix(t), b"1970-01-01T00:00:01.500Z ");
        let before = UNIX_EPOCH - std::time::Duration::from_millis(1);
        assert_eq!(split(before), (-1, 999_000_000));
    }
}

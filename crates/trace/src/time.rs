//! UTC timestamps as cardano-node writes them, rendered without a date library.
//!
//! Machine lines use aeson's `UTCTime` form: `2026-01-02T03:04:05.123456789Z`, the fraction
//! trimmed of trailing zeros (and left out when zero), as in real node logs (`…37.9919Z`).
//! Human lines use `%F %H:%M:%S%4QZ`: a space, and at most four fraction digits.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch, now (0 if the clock is before 1970).
#[inline]
pub fn now_unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// (year, month 1..=12, day 1..=31) of a day count since 1970-01-01 (proleptic Gregorian).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's days_from_civil inverse: eras of 400 years starting on March 1st.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a civil date (inverse of [`civil_from_days`]).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD?HH:MM:SS` for a whole second, with `sep` between date and time.
fn second_prefix(secs: u64, sep: u8) -> [u8; 19] {
    let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
    let sod = (secs % 86_400) as u32;
    let (h, mi, s) = (sod / 3600, sod / 60 % 60, sod % 60);
    let mut p = [0u8; 19];
    let y = y.clamp(0, 9999) as u32;
    let put2 = |p: &mut [u8], at: usize, v: u32| {
        p[at] = b'0' + (v / 10) as u8;
        p[at + 1] = b'0' + (v % 10) as u8;
    };
    put2(&mut p, 0, y / 100);
    put2(&mut p, 2, y % 100);
    p[4] = b'-';
    put2(&mut p, 5, mo);
    p[7] = b'-';
    put2(&mut p, 8, d);
    p[10] = sep;
    put2(&mut p, 11, h);
    p[13] = b':';
    put2(&mut p, 14, mi);
    p[16] = b':';
    put2(&mut p, 17, s);
    p
}

thread_local! {
    // The rendered prefix of the last minute seen by this thread (`YYYY-MM-DDTHH:MM:`, the
    // seconds put after it): most lines in a burst, and a run's consecutive slots, share it.
    static MACHINE_PREFIX: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
}

/// Appends `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (up to 9 fraction digits, trailing zeros trimmed).
pub fn write_machine_time(out: &mut Vec<u8>, unix_nanos: u64) {
    let secs = unix_nanos / 1_000_000_000;
    let (minute, second) = (secs / 60, (secs % 60) as u8);
    let mut prefix = MACHINE_PREFIX.with(|c| {
        let (cached, p) = c.get();
        if cached == minute {
            p
        } else {
            let p = second_prefix(secs, b'T');
            c.set((minute, p));
            p
        }
    });
    prefix[17] = b'0' + second / 10;
    prefix[18] = b'0' + second % 10;
    out.extend_from_slice(&prefix);
    write_fraction(out, (unix_nanos % 1_000_000_000) as u32, 9);
    out.push(b'Z');
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` as a string (see [`write_machine_time`]).
pub fn machine_time(unix_nanos: u64) -> String {
    let mut b = Vec::with_capacity(30);
    write_machine_time(&mut b, unix_nanos);
    // Only ASCII digits and separators are written.
    String::from_utf8(b).unwrap_or_default()
}

/// Appends `YYYY-MM-DD HH:MM:SS[.ffff]Z`, the human format's `%F %H:%M:%S%4QZ`.
pub fn write_human_time(out: &mut Vec<u8>, unix_nanos: u64) {
    let secs = unix_nanos / 1_000_000_000;
    out.extend_from_slice(&second_prefix(secs, b' '));
    write_fraction(out, (unix_nanos % 1_000_000_000) as u32 / 100_000, 4);
    out.push(b'Z');
}

/// `.digits` of a fraction with `width` digits, trailing zeros trimmed; nothing when zero.
fn write_fraction(out: &mut Vec<u8>, mut frac: u32, mut width: usize) {
    if frac == 0 {
        return;
    }
    while frac % 10 == 0 {
        frac /= 10;
        width -= 1;
    }
    out.push(b'.');
    let start = out.len();
    out.resize(start + width, b'0');
    for i in (0..width).rev() {
        out[start + i] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (any number of fraction digits; `T` or a space) into
/// nanoseconds since the Unix epoch. Returns `None` for anything else.
pub fn parse_utc_nanos(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' || *b.last()? != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut nanos = 0u64;
    let rest = &b[19..b.len() - 1];
    if !rest.is_empty() {
        if rest[0] != b'.' || rest.len() < 2 {
            return None;
        }
        let mut scale = 100_000_000u64;
        for &c in &rest[1..] {
            if !c.is_ascii_digit() {
                return None;
            }
            nanos += u64::from(c - b'0') * scale;
            scale /= 10;
        }
    }
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(h * 3600 + mi * 60 + sec);
    u64::try_from(secs).ok().map(|s| s * 1_000_000_000 + nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(n: u64) -> String {
        let mut b = Vec::new();
        write_machine_time(&mut b, n);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn machine_time_matches_aeson_form() {
        // 2025-10-27T16:24:37.9919Z from a real log: trailing zeros trimmed.
        let n = parse_utc_nanos("2025-10-27T16:24:37.9919Z").unwrap();
        assert_eq!(machine(n), "2025-10-27T16:24:37.9919Z");
        let n = parse_utc_nanos("2025-06-04T13:08:21.00131989Z").unwrap();
        assert_eq!(machine(n), "2025-06-04T13:08:21.00131989Z");
        assert_eq!(machine(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            machine(1_767_323_045_123_456_789),
            "2026-01-02T03:04:05.123456789Z"
        );
        assert_eq!(
            machine(951_782_400_000_000_001),
            "2000-02-29T00:00:00.000000001Z"
        );
    }

    #[test]
    fn human_time_has_four_digits_at_most() {
        let mut b = Vec::new();
        write_human_time(&mut b, 1_767_323_045_123_456_789);
        assert_eq!(String::from_utf8(b).unwrap(), "2026-01-02 03:04:05.1234Z");
        let mut b = Vec::new();
        write_human_time(&mut b, 1_767_323_045_000_099_999);
        assert_eq!(String::from_utf8(b).unwrap(), "2026-01-02 03:04:05Z");
    }

    #[test]
    fn civil_dates_round_trip_over_centuries() {
        for days in (-800_000i64..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn parse_rejects_garbage() {
        for bad in [
            "",
            "2025-13-01T00:00:00Z",
            "2025-01-01T00:00:00",
            "2025-01-01T00:00:00.Z",
            "2025-01-01X00:00:00Z",
            "2025-01-01T00:00:0aZ",
        ] {
            assert_eq!(parse_utc_nanos(bad), None, "{bad}");
        }
    }
}

//! Locust's arithmetic and formatting, reproduced exactly: the response-time buckets, the
//! master's percentiles and median, the current and total rates, the error keys (a SHA-256
//! of Python's `repr`) and the percentile columns.
//!
//! Kept in one place so that every stage agrees with Locust in the same way: the record
//! path buckets with it, the report keys errors with it, and the outputs (console, CSV,
//! Prometheus, JSON) compute what Locust would show with it. Each function names the Locust
//! code it follows; the tests compare with values and bytes produced by Python.

use std::borrow::Cow;
use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// Locust's `bucket_response_time` on a whole number of microseconds: round to 1 ms under
/// 100 ms, to 10 ms under 1 s, to 100 ms under 10 s, to 1 s above; ties to even, as
/// Python's `round` does.
#[inline]
pub fn bucket_ms(us: u64) -> u64 {
    // One arm per unit, so each division is by a constant (a multiply), not a `div`.
    match us {
        0..100_000 => round_half_even::<1_000>(us),
        100_000..1_000_000 => round_half_even::<10_000>(us) * 10,
        1_000_000..10_000_000 => round_half_even::<100_000>(us) * 100,
        _ => round_half_even::<1_000_000>(us) * 1_000,
    }
}

/// `us / UNIT` rounded half to even.
#[inline(always)]
fn round_half_even<const UNIT: u64>(us: u64) -> u64 {
    let (q, r) = (us / UNIT, us % UNIT);
    let half = UNIT / 2;
    q + u64::from(r > half || (r == half && q % 2 == 1))
}

/// The master's `calculate_response_time_percentile`: walk the buckets from the slowest and
/// return the first whose remaining count is within `int(n * p)`.
pub fn percentile(response_times: &BTreeMap<u64, u64>, n: u64, p: f64) -> u64 {
    let target = (n as f64 * p) as u64;
    let mut processed = 0u64;
    for (&bucket, &count) in response_times.iter().rev() {
        processed += count;
        if n.saturating_sub(processed) <= target {
            return bucket;
        }
    }
    0
}

/// Locust's `median_response_time` (2.47), in µs: the master's bucketed 50th percentile of
/// `n` requests, and only it kept within [min, max] (`min_us`, `max_us`, in µs). Locust
/// 2.46.3 and older took `median_from_dict` instead.
pub(crate) fn median(
    response_times: &BTreeMap<u64, u64>,
    n: u64,
    min_us: Option<u64>,
    max_us: u64,
) -> u64 {
    if response_times.is_empty() {
        return 0;
    }
    let median = percentile(response_times, n, 0.5).saturating_mul(1000);
    match min_us {
        _ if median > max_us => max_us,
        Some(min) if median < min => min,
        _ => median,
    }
}

/// Locust's percentiles (`PERCENTILES_TO_REPORT`), and their column names.
pub const PERCENTILES: [f64; 11] = [
    0.5, 0.66, 0.75, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0,
];
/// The column names of [`PERCENTILES`], as Locust's tables and CSV headers name them.
pub(crate) const PERCENTILE_NAMES: [&str; 11] = [
    "50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%",
];

/// Locust's `current_rps` (and `current_fail_per_sec`) of one entry's per-second counts:
/// the mean over `[last - 12, last - 2)`, `last` being the run's last request, not before
/// the run's start.
pub(crate) fn current_rate(per_sec: &BTreeMap<i64, u64>, start_time: f64, last: f64) -> f64 {
    let end = last as i64 - 2;
    let begin = (last as i64 - 12).max(start_time as i64);
    if end <= begin {
        return 0.0;
    }
    let sum: u64 = per_sec.range(begin..end).map(|(_, n)| n).sum();
    sum as f64 / (end - begin) as f64
}

/// Locust's `total_rps` and `total_fail_per_sec`: counts over the whole run.
pub(crate) fn total_rates(
    num_requests: u64,
    num_failures: u64,
    start_time: f64,
    last: Option<f64>,
) -> (f64, f64) {
    match last {
        Some(last) if last > start_time => {
            let secs = last - start_time;
            (num_requests as f64 / secs, num_failures as f64 / secs)
        }
        _ => (0.0, 0.0),
    }
}

/// Locust's `StatsError.parse_error` on an error's text: the address in the first
/// `object at 0x…>` becomes `0x....` (everywhere it occurs), so that the same error from
/// different objects, processes and workers is one row. [`record_failure`](crate::stats::record_failure) applies it to
/// every failure it records (so what is sent, keyed and shown is the normalised text), and
/// [`error_key`] applies it again, as Locust's `create_key` does (it is idempotent).
pub(crate) fn parse_error(error: &str) -> Cow<'_, str> {
    const TARGET: &str = "object at 0x";
    let Some(at) = error.find(TARGET) else {
        return Cow::Borrowed(error);
    };
    // From the "0x", up to the next ">".
    let start = at + TARGET.len() - 2;
    let Some(len) = error[start..].find('>') else {
        return Cow::Borrowed(error);
    };
    let address = &error[start..start + len];
    if address == "0x...." {
        return Cow::Borrowed(error);
    }
    Cow::Owned(error.replace(address, "0x...."))
}

/// Locust's `StatsError.create_key`: `sha256(f"{method}.{name}.{parse_error(error)!r}")`, so
/// that the same error from Rust and Python workers lands in one row.
pub fn error_key(method: &str, name: &str, error: &str) -> String {
    let text = format!("{method}.{name}.{}", python_repr(&parse_error(error)));
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// Python's `repr(str)`: single quotes unless the text has a `'` and no `"`, and the
/// escapes Python uses.
pub fn python_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !python_printable(c) => match c as u32 {
                n @ 0..=0xff => out.push_str(&format!("\\x{n:02x}")),
                n @ 0x100..=0xffff => out.push_str(&format!("\\u{n:04x}")),
                n => out.push_str(&format!("\\U{n:08x}")),
            },
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `str.isprintable()` for one character: not a control, format, private-use or
/// separator character (space excepted). Unassigned code points (which Python escapes too)
/// are taken as printable: telling them apart needs the Unicode tables.
fn python_printable(c: char) -> bool {
    let n = c as u32;
    let separator = matches!(
        n,
        0xa0 | 0x1680 | 0x2000..=0x200a | 0x2028 | 0x2029 | 0x202f | 0x205f | 0x3000
    );
    let format = matches!(
        n,
        0xad | 0x600..=0x605
            | 0x61c
            | 0x6dd
            | 0x70f
            | 0x890..=0x891
            | 0x8e2
            | 0x180e
            | 0x200b..=0x200f
            | 0x202a..=0x202e
            | 0x2060..=0x2064
            | 0x2066..=0x206f
            | 0xfeff
            | 0xfff9..=0xfffb
            | 0x110bd
            | 0x110cd
            | 0x13430..=0x1343f
            | 0x1bca0..=0x1bca3
            | 0x1d173..=0x1d17a
            | 0xe0001
            | 0xe0020..=0xe007f
    );
    let private = matches!(n, 0xe000..=0xf8ff | 0xf0000..=0xffffd | 0x100000..=0x10fffd);
    !(c.is_control() || separator || format || private)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: f64) -> u64 {
        (v * 1000.0).round() as u64
    }

    #[test]
    fn buckets_round_half_to_even_as_python() {
        // The values checked against Python (docs/protocol.md §6.3, response-time buckets).
        let cases = [
            (0.5, 0),
            (1.5, 2),
            (2.5, 2),
            (99.5, 100),
            (105.0, 100),
            (115.0, 120),
            (125.0, 120),
            (145.0, 140),
            (155.0, 160),
            (995.0, 1000),
            (1050.0, 1000),
            (1150.0, 1200),
            (1250.0, 1200),
            (9950.0, 10000),
            (10500.0, 10000),
            (11500.0, 12000),
            (147.0, 150),
            (3432.0, 3400),
            (58760.0, 59000),
            (0.0, 0),
            (99.499, 99),
            (12.5, 12),
            (13.5, 14),
        ];
        for (rt, want) in cases {
            assert_eq!(bucket_ms(ms(rt)), want, "bucket of {rt} ms");
        }
    }

    /// The constant-divisor arms agree with the rounding written once for every unit.
    #[test]
    fn buckets_match_the_plain_formula() {
        fn plain(us: u64) -> u64 {
            let unit = match us {
                0..100_000 => 1_000,
                100_000..1_000_000 => 10_000,
                1_000_000..10_000_000 => 100_000,
                _ => 1_000_000,
            };
            let (q, r) = (us / unit, us % unit);
            let q = if r > unit / 2 || (r == unit / 2 && q % 2 == 1) {
                q + 1
            } else {
                q
            };
            q * (unit / 1_000)
        }
        let mut us = 0u64;
        while us < 50_000_000_000 {
            for d in [0, 1, 499, 500, 501, 4_999, 5_000, 5_001, 50_000, 500_000] {
                assert_eq!(bucket_ms(us + d), plain(us + d), "{}", us + d);
            }
            us = us * 3 / 2 + 997;
        }
        assert_eq!(bucket_ms(u64::MAX), plain(u64::MAX));
    }

    #[test]
    fn percentiles_as_the_master_computes_them() {
        // docs/protocol.md §6.5 (percentiles): {10:30, 20:30, 45:20, 150:15, 1200:5}, n = 100.
        let rt: BTreeMap<u64, u64> = [(10, 30), (20, 30), (45, 20), (150, 15), (1200, 5)].into();
        let want = [
            (0.5, 20),
            (0.66, 45),
            (0.75, 45),
            (0.8, 150),
            (0.9, 150),
            (0.95, 1200),
            (0.98, 1200),
            (0.99, 1200),
            (0.999, 1200),
            (0.9999, 1200),
            (1.0, 1200),
        ];
        for (p, v) in want {
            assert_eq!(percentile(&rt, 100, p), v, "p{p}");
        }
        assert_eq!(percentile(&BTreeMap::new(), 0, 0.5), 0);
        // int(n * p) truncates as Python does: int(100 * 0.29) == 28.
        let flat: BTreeMap<u64, u64> = (1..=100).map(|k| (k, 1)).collect();
        assert_eq!(percentile(&flat, 100, 0.29), 29);
    }

    #[test]
    fn error_keys_match_python() {
        let text = include_str!("../tests/fixtures/error_keys.txt");
        for line in text.lines() {
            let mut cols = line.split('\t');
            let raw: String = serde_json::from_str(cols.next().unwrap()).unwrap();
            let repr = cols.next().unwrap();
            let key = cols.next().unwrap();
            assert_eq!(python_repr(&raw), repr, "repr of {raw:?}");
            assert_eq!(error_key("GET", "/p", &raw), key, "key of {raw:?}");
        }
    }

    /// Locust's own `StatsError.parse_error` and `create_key` (fixtures/make_parse_error.py).
    #[test]
    fn error_texts_are_normalised_as_locust_s_parse_error() {
        let text = include_str!("../tests/fixtures/parse_error.txt");
        for line in text.lines() {
            let mut cols = line.split('\t');
            let raw: String = serde_json::from_str(cols.next().unwrap()).unwrap();
            let parsed: String = serde_json::from_str(cols.next().unwrap()).unwrap();
            let key = cols.next().unwrap();
            assert_eq!(parse_error(&raw), parsed, "parse_error of {raw:?}");
            assert_eq!(error_key("GET", "/p", &raw), key, "key of {raw:?}");
            assert_eq!(error_key("GET", "/p", &parsed), key, "key of {parsed:?}");
        }
    }
}

//! Rate limits across all users (Go boomer's `--max-rps` and `--request-increase-rate`),
//! and the [`RateLimiter`] trait for limiters of your own.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::registry::BoxFuture;

/// A limit on how often tasks run, shared by every user of the worker. Users call
/// [`acquire`](RateLimiter::acquire) before each task; [`start`](RateLimiter::start) is
/// called at each test start (so ramps restart) and [`stop`](RateLimiter::stop) at its end.
pub trait RateLimiter: Send + Sync + 'static {
    /// Called when a test starts.
    fn start(&self) {}
    /// Completes when the caller may run one task.
    fn acquire(&self) -> BoxFuture<'_, ()>;
    /// Called when a test stops.
    fn stop(&self) {}
}

/// A smooth limiter: each caller reserves the next free slot, spaced `1/rate` apart, and
/// sleeps until it, so tasks are spread evenly instead of released in bursts at each refill
/// (Go boomer's token bucket wakes every waiter at once). With a ramp, the rate starts at
/// `step` per `period` and grows by `step` every `period`, up to `max`.
pub struct SmoothRateLimiter {
    max_per_sec: f64,
    ramp: Option<(f64, Duration)>,
    state: Mutex<Slots>,
}

struct Slots {
    started: Instant,
    next: Instant,
}

impl SmoothRateLimiter {
    /// At most `per_second` tasks per second.
    ///
    /// ```
    /// let limiter = boomer_core::SmoothRateLimiter::new(200.0);
    /// ```
    pub fn new(per_second: f64) -> Self {
        let now = Instant::now();
        SmoothRateLimiter {
            max_per_sec: per_second,
            ramp: None,
            state: Mutex::new(Slots {
                started: now,
                next: now,
            }),
        }
    }

    /// A rate that starts at `step` per `period`, grows by as much every `period`, and
    /// stops at `max_per_sec` (infinite for no cap).
    pub fn ramp_up(max_per_sec: f64, step: f64, period: Duration) -> Self {
        let mut limiter = SmoothRateLimiter::new(max_per_sec);
        limiter.ramp = Some((step, period));
        limiter
    }

    fn rate_at(&self, elapsed: Duration) -> f64 {
        match self.ramp {
            None => self.max_per_sec,
            Some((step, period)) => {
                let steps = (elapsed.as_secs_f64() / period.as_secs_f64().max(1e-9)).floor() + 1.0;
                (step * steps / period.as_secs_f64().max(1e-9)).min(self.max_per_sec)
            }
        }
    }

    /// Reserves a slot and returns when it is. The gap after a slot is set by the rate in
    /// force *at that slot*, not when it was reserved: with many more users than the step,
    /// slots are reserved seconds ahead, and they must follow the ramp.
    fn reserve(&self) -> Instant {
        let mut slots = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let at = slots.next.max(now);
        let rate = self.rate_at(at.saturating_duration_since(slots.started));
        if rate.is_nan() || rate <= 0.0 || rate.is_infinite() {
            return at;
        }
        let gap = Duration::try_from_secs_f64(1.0 / rate).unwrap_or(Duration::MAX);
        slots.next = at.checked_add(gap).unwrap_or(at);
        at
    }
}

impl RateLimiter for SmoothRateLimiter {
    fn start(&self) {
        let now = Instant::now();
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Slots {
            started: now,
            next: now,
        };
    }

    fn acquire(&self) -> BoxFuture<'_, ()> {
        let at = self.reserve();
        Box::pin(async move {
            if at > Instant::now() {
                tokio::time::sleep_until(at.into()).await;
            }
        })
    }
}

/// Why a duration, a time span or a ramp did not parse: the text, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub(crate) String);

impl From<String> for ParseError {
    fn from(why: String) -> Self {
        ParseError(why)
    }
}

impl From<&str> for ParseError {
    fn from(why: &str) -> Self {
        ParseError(why.to_string())
    }
}

/// Parses boomer's ramp syntax: `"N"` (N per second) or `"N/<duration>"` with a Go-style
/// duration (`"100/1s"`, `"10/1m"`, `"5/500ms"`).
pub fn parse_ramp(text: &str) -> Result<(f64, Duration), ParseError> {
    let (n, period) = match text.split_once('/') {
        Some((n, p)) => (n, parse_duration(p.trim())?),
        None => (text, Duration::from_secs(1)),
    };
    let n: f64 = n
        .trim()
        .parse()
        .map_err(|_| format!("{text:?}: {n:?} is not a number (expected e.g. \"100/1s\")"))?;
    if n.is_nan() || n <= 0.0 || period.is_zero() {
        return Err(format!("{text:?}: the step and its period must be positive").into());
    }
    Ok((n, period))
}

/// A Go-style duration: a number and a unit among ns, us, µs, ms, s, m, h (e.g. `1m30s`).
pub fn parse_duration(text: &str) -> Result<Duration, ParseError> {
    let mut total = 0f64;
    let mut rest = text;
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{text:?}: a unit is missing (ns, us, ms, s, m, h)"))?;
        let value: f64 = rest[..num_end]
            .parse()
            .map_err(|_| format!("{text:?}: bad number"))?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            u => return Err(format!("{text:?}: unknown unit {u:?} (ns, us, ms, s, m, h)").into()),
        };
        total += value * scale;
        rest = &rest[unit_end..];
    }
    Duration::try_from_secs_f64(total).map_err(|e| format!("{text:?}: {e}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_boomer_ramps() {
        assert_eq!(parse_ramp("100/1s"), Ok((100.0, Duration::from_secs(1))));
        assert_eq!(parse_ramp("10/1m"), Ok((10.0, Duration::from_secs(60))));
        assert_eq!(parse_ramp("5/500ms"), Ok((5.0, Duration::from_millis(500))));
        assert_eq!(parse_ramp("7"), Ok((7.0, Duration::from_secs(1))));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert!(parse_ramp("x/1s").is_err());
        assert!(parse_ramp("10/1y").is_err());
        assert!(parse_ramp("10/").is_err());
        assert!(parse_ramp("0/1s").is_err());
        assert!(parse_ramp("-3").is_err());
    }

    #[test]
    fn slots_are_evenly_spaced() {
        let limiter = SmoothRateLimiter::new(100.0);
        limiter.start();
        let first = limiter.reserve();
        let slots: Vec<Instant> = (0..100).map(|_| limiter.reserve()).collect();
        // 100 further slots at 100/s end one second after the first, evenly spread.
        let last = *slots.last().unwrap();
        let span = last - first;
        assert!(
            span >= Duration::from_millis(999) && span <= Duration::from_millis(1001),
            "{span:?}"
        );
        for w in slots.windows(2) {
            assert_eq!(w[1] - w[0], Duration::from_millis(10));
        }
    }

    /// 1,000 users each reserving a slot at once, with a ramp of 50/s per second: the
    /// slots follow the ramp (50 in the first second, 100 in the second, ...), instead of
    /// all being spaced at the first second's rate (20 s for the 1,000).
    #[test]
    fn slots_reserved_ahead_follow_the_ramp() {
        let limiter = SmoothRateLimiter::ramp_up(f64::INFINITY, 50.0, Duration::from_secs(1));
        limiter.start();
        let started = limiter.state.lock().unwrap().started;
        let mut per_second = [0u32; 8];
        for _ in 0..1000 {
            let second = (limiter.reserve() - started).as_secs() as usize;
            per_second[second.min(7)] += 1;
        }
        // The clock moved a little between start() and the first reservation.
        assert_eq!(
            &per_second[..5],
            &[50, 100, 150, 200, 250],
            "{per_second:?}"
        );
        assert_eq!(per_second.iter().sum::<u32>(), 1000);
        assert_eq!(per_second[5], 250, "{per_second:?}");
    }

    #[test]
    fn ramps_grow_by_step_per_period() {
        let limiter = SmoothRateLimiter::ramp_up(f64::INFINITY, 10.0, Duration::from_secs(1));
        assert_eq!(limiter.rate_at(Duration::ZERO), 10.0);
        assert_eq!(limiter.rate_at(Duration::from_millis(1500)), 20.0);
        let capped = SmoothRateLimiter::ramp_up(25.0, 10.0, Duration::from_secs(1));
        assert_eq!(capped.rate_at(Duration::from_secs(10)), 25.0);
        let per_minute = SmoothRateLimiter::ramp_up(f64::INFINITY, 60.0, Duration::from_secs(60));
        assert_eq!(per_minute.rate_at(Duration::from_secs(1)), 1.0);
    }
}

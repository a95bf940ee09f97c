//! A cheap wall clock for the record path.
//!
//! Every record needs the time only for Locust's per-second request counts and the last
//! request's timestamp, where a millisecond or four do not matter. The kernel's coarse
//! clock (`CLOCK_REALTIME_COARSE`, the last tick, resolution 1–4 ms) is a vDSO call of
//! ~20 ns and no syscall: nothing at light load. At millions of records per second per
//! core it is a fifth of `record_success`, so there a ticker thread reads that clock once
//! per clock tick into one atomic and a record only loads it (a read-mostly cache line:
//! one miss per core per tick, no write from the record path).
//!
//! The reporter decides, at each drain, from the rate it has just seen ([`observe`]): the
//! ticker runs only while records come faster than [`TICKER_RATE`], so a light or idle
//! worker has no thread waking up a thousand times a second.
//!
//! The precise wall clock ([`now_epoch`], Locust's `time.time()`) and the calendar date of
//! a day ([`civil_from_days`], for log lines and CSV times) are here too: every wall-clock
//! helper in one module.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The last tick's time (`f64` bits), or 0 while no ticker runs.
static NOW: AtomicU64 = AtomicU64::new(0);
static TICKER: AtomicU8 = AtomicU8::new(IDLE);
const IDLE: u8 = 0;
const RUNNING: u8 = 1;
const STOPPING: u8 = 2;
const FAILED: u8 = 3;

/// Records per second (all threads) above which the ticker pays for itself: below it, the
/// clock reads cost less than a thread waking every tick (measured in BENCHMARKS.md §5).
pub(crate) const TICKER_RATE: f64 = 2_000_000.0;

/// Seconds since the Unix epoch, to the kernel's tick (at most two ticks old).
#[inline(always)]
pub(crate) fn coarse_epoch() -> f64 {
    let bits = NOW.load(Ordering::Relaxed);
    if bits != 0 {
        return f64::from_bits(bits);
    }
    read_coarse()
}

/// Seconds since the Unix epoch, as Locust's `time.time()`.
pub(crate) fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Days since 1970-01-01 to (year, month, day): Howard Hinnant's days-to-civil algorithm.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
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

/// The reporter drained `records` recorded over `secs`: start the ticker at a high rate,
/// let it go at a low one.
pub(crate) fn observe(records: u64, secs: f64) {
    // Half a second at least: a burst of a few records drained at once is no rate.
    if secs >= 0.5 && records as f64 / secs >= TICKER_RATE {
        start();
    } else {
        let _ = TICKER.compare_exchange(RUNNING, STOPPING, Ordering::AcqRel, Ordering::Relaxed);
    }
}

fn start() {
    match TICKER.compare_exchange(IDLE, RUNNING, Ordering::AcqRel, Ordering::Relaxed) {
        Ok(_) => {
            let spawned = std::thread::Builder::new()
                .name("boomer-clock".into())
                .stack_size(64 * 1024)
                .spawn(tick);
            if spawned.is_err() {
                TICKER.store(FAILED, Ordering::Release);
            }
        }
        // Asked to stop but not gone yet: keep it.
        Err(STOPPING) => {
            let _ = TICKER.compare_exchange(STOPPING, RUNNING, Ordering::AcqRel, Ordering::Relaxed);
        }
        Err(_) => {}
    }
}

fn tick() {
    let period = resolution();
    loop {
        while TICKER.load(Ordering::Acquire) == RUNNING {
            NOW.store(read_coarse().to_bits(), Ordering::Relaxed);
            std::thread::sleep(period);
        }
        NOW.store(0, Ordering::Relaxed);
        // A start() between the loop's last check and here found STOPPING and made it
        // RUNNING again: then this thread goes on ticking.
        if TICKER
            .compare_exchange(STOPPING, IDLE, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
            || TICKER.load(Ordering::Acquire) != RUNNING
        {
            return;
        }
    }
}

/// How often the coarse clock changes: waking more often would read the same value.
#[cfg(target_os = "linux")]
fn resolution() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live, aligned, writable timespec owned by this frame, and
    // clock_getres writes nothing but it.
    let rc = unsafe { libc::clock_getres(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    let nanos = if rc == 0 && ts.tv_sec == 0 {
        ts.tv_nsec
    } else {
        1_000_000
    };
    Duration::from_nanos(nanos.clamp(1_000_000, 10_000_000) as u64)
}

#[cfg(not(target_os = "linux"))]
fn resolution() -> Duration {
    Duration::from_millis(1)
}

#[cfg(target_os = "linux")]
fn read_coarse() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live, aligned, writable timespec owned by this frame, and
    // clock_gettime writes nothing but it; CLOCK_REALTIME_COARSE exists since Linux 2.6.32.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    if rc != 0 {
        return now_epoch();
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

#[cfg(not(target_os = "linux"))]
fn read_coarse() -> f64 {
    now_epoch()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close_to_wall_clock(what: &str) {
        let (a, b) = (coarse_epoch(), now_epoch());
        assert!((a - b).abs() < 0.1, "{what}: coarse {a} vs precise {b}");
    }

    /// Other tests' drains observe low rates and may stop the ticker meanwhile: each step
    /// asks again until it sees its state (bounded).
    fn until(mut ask: impl FnMut(), mut seen: impl FnMut() -> bool) -> bool {
        for _ in 0..2000 {
            ask();
            if seen() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    }

    #[test]
    fn the_coarse_clock_is_the_wall_clock_with_and_without_the_ticker() {
        close_to_wall_clock("before");
        // A burst is no rate: no ticker for it.
        observe(10_000_000, 0.01);
        assert!(
            until(
                || observe(10_000_000, 1.0),
                || NOW.load(Ordering::Relaxed) != 0
            ),
            "the ticker never ticked"
        );
        close_to_wall_clock("ticked");
        assert!(
            until(
                || observe(10, 1.0),
                || TICKER.load(Ordering::Acquire) == IDLE
            ),
            "the ticker did not stop"
        );
        close_to_wall_clock("after");
        assert_ne!(TICKER.load(Ordering::Relaxed), FAILED);
    }

    #[test]
    fn dates_as_the_calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_785), (2026, 11, 28));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn the_tick_is_the_coarse_clock_resolution() {
        let r = resolution();
        assert!(
            r >= Duration::from_millis(1) && r <= Duration::from_millis(10),
            "{r:?}"
        );
    }
}

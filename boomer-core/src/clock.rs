//! A cheap wall clock for the record path.
//!
//! Every record needs the time only for Locust's per-second request counts and the last
//! request's timestamp, where a millisecond or four do not matter. Even the kernel's coarse
//! clock (`CLOCK_REALTIME_COARSE`, the last tick, resolution 1–4 ms) costs a vDSO call and
//! its seqlock reads: a fifth of `record_success`. So while records flow, a ticker thread
//! reads that clock every millisecond into one atomic, and a record only loads it (a
//! read-mostly cache line: one miss per core per tick, no write from the record path).
//! The ticker starts on the first record and stops when the reporter drains an empty
//! window ([`idle`]); meanwhile, or if it cannot start, records read the clock themselves.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

/// The last tick's time (`f64` bits), or 0 while no ticker runs.
static NOW: AtomicU64 = AtomicU64::new(0);
static TICKER: AtomicU8 = AtomicU8::new(IDLE);
const IDLE: u8 = 0;
const RUNNING: u8 = 1;
const STOPPING: u8 = 2;
const FAILED: u8 = 3;
const TICK: Duration = Duration::from_millis(1);

/// Seconds since the Unix epoch, to the kernel's tick (at most a tick and a millisecond
/// old).
#[inline(always)]
pub(crate) fn coarse_epoch() -> f64 {
    let bits = NOW.load(Ordering::Relaxed);
    if bits != 0 {
        return f64::from_bits(bits);
    }
    unticked()
}

/// No ticker runs: read the clock, and start one.
#[cold]
#[inline(never)]
fn unticked() -> f64 {
    if TICKER
        .compare_exchange(IDLE, RUNNING, Ordering::AcqRel, Ordering::Relaxed)
        .is_ok()
    {
        let spawned = std::thread::Builder::new()
            .name("boomer-clock".into())
            .stack_size(64 * 1024)
            .spawn(tick);
        if spawned.is_err() {
            TICKER.store(FAILED, Ordering::Release);
        }
    }
    read_coarse()
}

fn tick() {
    while TICKER.load(Ordering::Acquire) == RUNNING {
        NOW.store(read_coarse().to_bits(), Ordering::Relaxed);
        std::thread::sleep(TICK);
    }
    NOW.store(0, Ordering::Relaxed);
    TICKER.store(IDLE, Ordering::Release);
}

/// Nothing was recorded for a while (an empty report window): let the ticker go; the next
/// record starts it again.
pub(crate) fn idle() {
    let _ = TICKER.compare_exchange(RUNNING, STOPPING, Ordering::AcqRel, Ordering::Relaxed);
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
        return crate::stats::now_epoch();
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

#[cfg(not(target_os = "linux"))]
fn read_coarse() -> f64 {
    crate::stats::now_epoch()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coarse_clock_is_the_wall_clock() {
        let (a, b) = (coarse_epoch(), crate::stats::now_epoch());
        assert!((a - b).abs() < 0.1, "coarse {a} vs precise {b}");
        // Ticked (or read directly if the ticker is between runs): still the wall clock.
        std::thread::sleep(Duration::from_millis(20));
        let (a, b) = (coarse_epoch(), crate::stats::now_epoch());
        assert!((a - b).abs() < 0.1, "ticked {a} vs precise {b}");
        assert_ne!(TICKER.load(Ordering::Relaxed), FAILED);
    }
}

//! The statistics, by stage: the record path ([`record_success`], [`record_failure`], into
//! each thread's shard: `shard.rs`), what a record counts into ([`Entry`]: `entry.rs`) and
//! the report window the shards are drained into ([`Window`]: `window.rs`; `drain` makes one).
//!
//! Every thread records into its own shard (an uncontended lock: only the reporter, every
//! 3 s, ever takes it from another thread), so the record path never funnels through one
//! lock or channel. At report time the shards are drained and merged into a [`Window`]:
//! the deltas since the previous report, in the exact shape a Locust master merges.
//! Locust's arithmetic (buckets, percentiles, error keys) is in `locust.rs`, and the wire
//! shape of a report in `protocol`.

mod entry;
mod shard;
mod window;

use std::borrow::Cow;
use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

pub use entry::{Entry, ErrorCount};
pub use window::Window;

pub use crate::locust::{bucket_ms, error_key, percentile, python_repr};

use crate::clock;
use crate::locust::parse_error;
use shard::{lock, with_shard};

/// Records a successful request of type `kind` (e.g. `GET`) named `name`, that took
/// `elapsed` and returned `bytes` bytes. Callable from any thread, inside or outside a task.
///
/// ```
/// use std::time::Duration;
/// boomer_core::record_success("GET", "/index", Duration::from_millis(12), 1024);
/// ```
pub fn record_success(kind: &str, name: &str, elapsed: Duration, bytes: u64) {
    let now = clock::coarse_epoch();
    with_shard(|shard| shard.entry(kind, name).log(elapsed, bytes, now));
}

/// Records a failed request: it counts as a request (with its response time) and as a
/// failure, and `error` groups it in the master's failure table.
///
/// ```
/// use std::time::Duration;
/// boomer_core::record_failure("udp", "send", Duration::from_millis(30), "timed out");
/// ```
pub fn record_failure(kind: &str, name: &str, elapsed: Duration, error: impl Display) {
    record_failure_sized(kind, name, elapsed, 0, error);
}

/// [`record_failure`] of a response that had a body of `bytes` (Locust counts a failed
/// response's length too).
pub(crate) fn record_failure_sized(
    kind: &str,
    name: &str,
    elapsed: Duration,
    bytes: u64,
    error: impl Display,
) {
    let now = clock::coarse_epoch();
    let mut error = error.to_string();
    // Keyed as Locust keys it, so that rows from Rust and Python workers merge.
    let parsed = match parse_error(&error) {
        Cow::Owned(parsed) => Some(parsed),
        Cow::Borrowed(_) => None,
    };
    if let Some(parsed) = parsed {
        error = parsed;
    }
    with_shard(|shard| {
        let entry = shard.entry(kind, name);
        entry.log(elapsed, bytes, now);
        entry.log_error(error, now);
    });
}

/// When [`drain`] last ran: the rate it tells the clock is per second of this.
static LAST_DRAIN: Mutex<Option<std::time::Instant>> = Mutex::new(None);

/// Takes everything recorded since the previous call, from every thread, merged.
pub(crate) fn drain() -> Window {
    let mut window = Window::default();
    shard::take_all(|method, name, entry| window.add(method, name, Cow::Owned(entry)));
    let now = std::time::Instant::now();
    let mut last = lock(&LAST_DRAIN);
    let secs = last.map_or(0.0, |t| now.duration_since(t).as_secs_f64());
    *last = Some(now);
    clock::observe(window.num_requests(), secs);
    window
}

/// Standalone runs also keep a high-resolution histogram per entry (percentiles exact to
/// ~1 %); a worker never pays for it: one relaxed load per record.
static HIGH_RESOLUTION: AtomicBool = AtomicBool::new(false);

/// Turns the high-resolution histogram on (standalone) or off (worker, the default).
pub(crate) fn set_high_resolution(on: bool) {
    HIGH_RESOLUTION.store(on, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The global record path, from several threads at once: every record lands once.
    /// (It holds `STATS_LOCK`, as every test draining the global shards, so no other test
    /// steals its records.)
    #[test]
    fn records_from_many_threads_all_arrive() {
        let _stats = crate::STATS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    for i in 0..10_000u64 {
                        if i == 0 {
                            let error = format!("<Conn object at 0x{:x}>", 0xdead_0000 + t);
                            record_failure("T", "many", Duration::from_millis(t + 1), error);
                        } else if i % 10 == 0 {
                            record_failure("T", "many", Duration::from_millis(t + 1), "bad");
                        } else {
                            record_success("T", "many", Duration::from_millis(t + 1), 1);
                        }
                    }
                })
            })
            .collect();
        let mut seen = drain();
        for t in threads {
            t.join().unwrap();
        }
        seen.merge(&drain());
        let e = seen.entry("T", "many").expect("recorded");
        assert_eq!(e.num_requests, 40_000);
        assert_eq!(e.num_failures, 4_000);
        assert_eq!(e.total_content_length, 36_000);
        assert_eq!(
            e.response_times,
            [(1, 10_000), (2, 10_000), (3, 10_000), (4, 10_000)].into()
        );
        assert_eq!(e.errors["bad"].occurrences, 3_996);
        // Four addresses, one row: Locust's parse_error at the record.
        assert_eq!(e.errors["<Conn object at 0x....>"].occurrences, 4);
        assert_eq!(e.errors.len(), 2, "{:?}", e.errors.keys());
        // Threads that exited leave no shard behind once drained.
        assert_eq!(shard::orphans(), 0);
    }
}

//! The record path and Locust-exact statistics.
//!
//! Every thread records into its own shard (an uncontended mutex: only the reporter, every
//! 3 s, ever takes it from another thread), so the record path never funnels through one
//! lock or channel. At report time the shards are drained and merged into a [`Window`]:
//! the deltas since the previous report, in the exact shape a Locust master merges.

use std::borrow::Cow;
use std::cell::UnsafeCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::hash::{BuildHasherDefault, Hasher};
use std::mem;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::clock;

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

/// Seconds since the Unix epoch, as Locust's `time.time()`.
pub(crate) fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

// ---------------------------------------------------------------------------------------
// Shards

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The Fx hash (rustc's): a multiply and a rotate per word, ample for short keys that an
/// attacker does not choose.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let word = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.add(word);
        }
        // The tail as one word, not a multiply per byte: names are short, so most of a
        // name is tail.
        // (Shifts, not copy_from_slice: a variable-length copy is a call to memmove.)
        let tail = chunks.remainder();
        if !tail.is_empty() {
            let word = tail
                .iter()
                .enumerate()
                .fold(0u64, |w, (i, &b)| w | (u64::from(b) << (8 * i)));
            self.add(word ^ ((tail.len() as u64) << 59));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// One thread's records since the last drain, in the order first seen. A record looks up
/// its (method, name) among the few keys recorded last (byte compares, no hashing), and only
/// on a miss hashes the pair and probes `index` (hash → first slot; collisions chain
/// through [`Slot::next`]).
struct Shard {
    slots: Vec<Slot>,
    index: FxMap<u64, u32>,
    /// The slots recorded into last, most recent first (`NONE` when unused).
    recent: [u32; RECENT],
}

/// How many recent keys a shard compares before it hashes: a user mixes a few task names.
const RECENT: usize = 4;
const NONE: u32 = u32::MAX;

impl Default for Shard {
    fn default() -> Self {
        Shard {
            slots: Vec::new(),
            index: FxMap::default(),
            recent: [NONE; RECENT],
        }
    }
}

struct Slot {
    method: String,
    name: String,
    /// The next slot whose key has the same hash, or `NONE`.
    next: u32,
    entry: Entry,
}

impl Slot {
    #[inline(always)]
    fn is(&self, method: &str, name: &str) -> bool {
        same_bytes(self.name.as_bytes(), name.as_bytes())
            && same_bytes(self.method.as_bytes(), method.as_bytes())
    }
}

/// `a == b` without a call to `memcmp` for the short keys records use: lengths first, then
/// two (overlapping) loads per side up to 16 bytes.
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    fn word(s: &[u8], at: usize) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_ne_bytes(w)
    }
    fn half(s: &[u8], at: usize) -> u32 {
        let mut w = [0u8; 4];
        w.copy_from_slice(&s[at..at + 4]);
        u32::from_ne_bytes(w)
    }
    match n {
        0 => true,
        1..4 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..8 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

impl Shard {
    #[inline(always)]
    fn entry(&mut self, method: &str, name: &str) -> &mut Entry {
        let last = self.recent[0];
        let i = match self.slots.get(last as usize) {
            Some(s) if s.is(method, name) => last,
            _ => self.find(method, name),
        };
        &mut self.slots[i as usize].entry
    }

    /// The slot of (method, name), made if new, moved to the front of `recent`.
    #[inline(never)]
    fn find(&mut self, method: &str, name: &str) -> u32 {
        for j in 1..RECENT {
            let r = self.recent[j];
            if self
                .slots
                .get(r as usize)
                .is_some_and(|s| s.is(method, name))
            {
                self.recent.copy_within(0..j, 1);
                self.recent[0] = r;
                return r;
            }
        }
        let mut h = FxHasher::default();
        h.write(method.as_bytes());
        h.write_u8(0xff); // not UTF-8: ("ab", "c") and ("a", "bc") differ
        h.write(name.as_bytes());
        let head = self.index.get(&h.finish()).copied().unwrap_or(NONE);
        let mut i = head;
        while let Some(s) = self.slots.get(i as usize) {
            if s.is(method, name) {
                break;
            }
            i = s.next;
        }
        if i == NONE {
            // The allocation happens once per (method, name) per window.
            i = u32::try_from(self.slots.len()).unwrap_or(NONE - 1);
            self.slots.push(Slot {
                method: method.to_string(),
                name: name.to_string(),
                next: head,
                entry: Entry::default(),
            });
            self.index.insert(h.finish(), i);
        }
        self.recent.copy_within(0..RECENT - 1, 1);
        self.recent[0] = i;
        i
    }
}

/// A thread's shard behind a one-word lock. Only its own thread records into it; the
/// reporter takes it every 3 s for as long as a `mem::take`. So the lock is all but never
/// contended, and its release is a plain store (a `Mutex` pays a second atomic swap to
/// look for sleepers).
#[derive(Default)]
struct ShardCell {
    locked: AtomicBool,
    shard: UnsafeCell<Shard>,
}

// SAFETY: the shard is only reached through `with`, which holds `locked` (an acquire/release
// spin lock) for the whole access; `Shard` is `Send`.
unsafe impl Sync for ShardCell {}

impl ShardCell {
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut Shard) -> R) -> R {
        if self
            .locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.wait();
        }
        struct Unlock<'a>(&'a AtomicBool);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _unlock = Unlock(&self.locked);
        // SAFETY: `locked` is ours until `_unlock` drops, so no other reference to the
        // shard exists meanwhile.
        f(unsafe { &mut *self.shard.get() })
    }

    /// The other side holds the lock (for a few instructions): spin, then let it run.
    #[cold]
    #[inline(never)]
    fn wait(&self) {
        let mut spins = 0u32;
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    fn take(&self) -> Shard {
        self.with(mem::take)
    }
}

struct Hub {
    shards: Mutex<Vec<Arc<ShardCell>>>,
    /// When [`drain`] last ran: the rate it tells the clock is per second of this.
    last_drain: Mutex<Option<std::time::Instant>>,
}

static HUB: Hub = Hub {
    shards: Mutex::new(Vec::new()),
    last_drain: Mutex::new(None),
};

thread_local! {
    static LOCAL: Arc<ShardCell> = {
        let shard = Arc::new(ShardCell::default());
        lock(&HUB.shards).push(shard.clone());
        shard
    };
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while the hub was held leaves a plain list behind: still valid data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[inline(always)]
fn with_shard(f: impl FnOnce(&mut Shard)) {
    let mut f = Some(f);
    let done = LOCAL.try_with(|shard| {
        if let Some(f) = f.take() {
            shard.with(f);
        }
    });
    if done.is_err() {
        // The thread is being torn down: record into a shard of its own, kept by the hub.
        let shard = Arc::new(ShardCell::default());
        if let Some(f) = f.take() {
            shard.with(f);
        }
        lock(&HUB.shards).push(shard);
    }
}

/// Takes everything recorded since the previous call, from every thread, merged.
pub(crate) fn drain() -> Window {
    let mut window = Window::default();
    let mut shards = lock(&HUB.shards);
    for shard in shards.iter() {
        for slot in shard.take().slots {
            window.add(slot.method, slot.name, slot.entry);
        }
    }
    // Shards whose thread has exited are held only here and are now empty: let them go.
    shards.retain(|s| Arc::strong_count(s) > 1);
    drop(shards);
    let now = std::time::Instant::now();
    let mut last = lock(&HUB.last_drain);
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

/// Two significant digits: buckets at most 1/128 wide (< 1 %), a few KB per entry.
pub(crate) fn new_histogram() -> Option<Box<Histogram<u64>>> {
    Histogram::new(2).ok().map(Box::new)
}

// ---------------------------------------------------------------------------------------
// Entries

/// The statistics of one (method, name) pair over one window, as Locust's `StatsEntry`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entry {
    pub(crate) num_requests: u64,
    pub(crate) num_failures: u64,
    /// Sum of raw response times, in microseconds.
    pub(crate) total_us: u64,
    pub(crate) min_us: Option<u64>,
    pub(crate) max_us: u64,
    pub(crate) total_content_length: u64,
    /// Bucketed response time (ms, Locust's rounding) → count.
    pub(crate) response_times: BTreeMap<u64, u64>,
    pub(crate) num_reqs_per_sec: BTreeMap<i64, u64>,
    pub(crate) num_fail_per_sec: BTreeMap<i64, u64>,
    pub(crate) last_request_timestamp: Option<f64>,
    /// Error text → occurrences, first and last seen.
    pub(crate) errors: BTreeMap<String, ErrorCount>,
    /// Counts not yet in the maps above: see [`Runs`].
    runs: Runs,
    /// Response times in µs at high resolution, only when standalone turned it on.
    pub(crate) hdr: Option<Box<Histogram<u64>>>,
}

/// The current run of records in one response-time bucket and one second, counted here
/// and added to the maps when the run ends or the entry is read: two BTreeMap inserts per
/// record were most of `Entry::log`, while consecutive records mostly share both keys.
#[derive(Clone, Debug, Default, PartialEq)]
struct Runs {
    bucket: u64,
    in_bucket: u64,
    second: i64,
    in_second: u64,
}

/// How often one error happened in a window.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorCount {
    pub(crate) occurrences: u64,
    pub(crate) first_seen: f64,
    pub(crate) last_seen: f64,
}

impl Entry {
    #[inline(always)]
    fn log(&mut self, elapsed: Duration, bytes: u64, now: f64) {
        // `as_micros` without its u128 arithmetic; saturates the same way.
        let us = elapsed
            .as_secs()
            .saturating_mul(1_000_000)
            .saturating_add(u64::from(elapsed.subsec_micros()));
        self.num_requests += 1;
        self.total_us = self.total_us.saturating_add(us);
        self.min_us = Some(self.min_us.unwrap_or(u64::MAX).min(us));
        self.max_us = self.max_us.max(us);
        self.total_content_length = self.total_content_length.saturating_add(bytes);
        let (bucket, second) = (bucket_ms(us), now as i64);
        if bucket != self.runs.bucket {
            add_run(
                &mut self.response_times,
                self.runs.bucket,
                self.runs.in_bucket,
            );
            (self.runs.bucket, self.runs.in_bucket) = (bucket, 0);
        }
        if second != self.runs.second {
            add_run(
                &mut self.num_reqs_per_sec,
                self.runs.second,
                self.runs.in_second,
            );
            (self.runs.second, self.runs.in_second) = (second, 0);
        }
        self.runs.in_bucket += 1;
        self.runs.in_second += 1;
        self.last_request_timestamp = Some(self.last_request_timestamp.map_or(now, |t| t.max(now)));
        if HIGH_RESOLUTION.load(Ordering::Relaxed) {
            self.log_hdr(us);
        }
    }

    #[cold]
    #[inline(never)]
    fn log_hdr(&mut self, us: u64) {
        if self.hdr.is_none() {
            self.hdr = new_histogram();
        }
        if let Some(h) = self.hdr.as_mut() {
            // It auto-resizes; saturating only past i64::MAX / 2 µs.
            if h.record(us).is_err() {
                h.saturating_record(us);
            }
        }
    }

    fn log_error(&mut self, error: String, now: f64) {
        self.num_failures += 1;
        *self.num_fail_per_sec.entry(now as i64).or_insert(0) += 1;
        self.errors
            .entry(error)
            .and_modify(|e| {
                e.occurrences += 1;
                e.last_seen = e.last_seen.max(now);
                e.first_seen = e.first_seen.min(now);
            })
            .or_insert(ErrorCount {
                occurrences: 1,
                first_seen: now,
                last_seen: now,
            });
    }

    /// Moves the current runs into the maps; every reader of an entry sees it settled.
    fn settle(&mut self) {
        let runs = std::mem::take(&mut self.runs);
        add_run(&mut self.response_times, runs.bucket, runs.in_bucket);
        add_run(&mut self.num_reqs_per_sec, runs.second, runs.in_second);
    }

    /// Adds `other` into `self`, as the master's `StatsEntry.extend` does.
    pub(crate) fn merge(&mut self, other: &Entry) {
        self.settle();
        add_run(
            &mut self.response_times,
            other.runs.bucket,
            other.runs.in_bucket,
        );
        add_run(
            &mut self.num_reqs_per_sec,
            other.runs.second,
            other.runs.in_second,
        );
        self.num_requests += other.num_requests;
        self.num_failures += other.num_failures;
        self.total_us = self.total_us.saturating_add(other.total_us);
        self.min_us = match (self.min_us, other.min_us) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max_us = self.max_us.max(other.max_us);
        self.total_content_length = self
            .total_content_length
            .saturating_add(other.total_content_length);
        add_counts(&mut self.response_times, &other.response_times);
        add_counts(&mut self.num_reqs_per_sec, &other.num_reqs_per_sec);
        add_counts(&mut self.num_fail_per_sec, &other.num_fail_per_sec);
        self.last_request_timestamp =
            match (self.last_request_timestamp, other.last_request_timestamp) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        for (text, e) in &other.errors {
            self.errors
                .entry(text.clone())
                .and_modify(|m| {
                    m.occurrences += e.occurrences;
                    m.first_seen = m.first_seen.min(e.first_seen);
                    m.last_seen = m.last_seen.max(e.last_seen);
                })
                .or_insert_with(|| e.clone());
        }
        match (&mut self.hdr, &other.hdr) {
            (Some(a), Some(b)) => {
                // Both auto-resize, so adding cannot run out of range.
                let _ = a.add(&**b);
            }
            (a @ None, Some(b)) => *a = Some(b.clone()),
            _ => {}
        }
    }

    /// An entry of successes recorded at these (µs, epoch seconds), settled: for tests.
    #[cfg(test)]
    pub(crate) fn of_samples(samples: &[(u64, f64)]) -> Entry {
        let mut e = Entry::default();
        for &(us, now) in samples {
            e.log(Duration::from_micros(us), 0, now);
        }
        e.settle();
        e
    }

    /// Number of requests.
    pub fn num_requests(&self) -> u64 {
        self.num_requests
    }

    /// Number of failures.
    pub fn num_failures(&self) -> u64 {
        self.num_failures
    }

    /// The response-time histogram: bucket (ms, Locust's rounding) → count.
    pub fn response_times(&self) -> &BTreeMap<u64, u64> {
        &self.response_times
    }

    /// The percentile `p` (0..=1) of the response times, computed as the master does.
    pub fn percentile(&self, p: f64) -> u64 {
        percentile(&self.response_times, self.num_requests, p)
    }

    /// Locust's `median_response_time` (2.47), in µs: the master's bucketed 50th percentile,
    /// and only it kept within [min, max] (so a lone 99.6 ms request has a median of 99.6,
    /// not its bucket's 100). Locust 2.46.3 and older took `median_from_dict` instead.
    pub(crate) fn median_us(&self) -> u64 {
        if self.response_times.is_empty() {
            return 0;
        }
        let median = self.percentile(0.5).saturating_mul(1000);
        match self.min_us {
            _ if median > self.max_us => self.max_us,
            Some(min) if median < min => min,
            _ => median,
        }
    }
}

fn add_run<K: Ord>(into: &mut BTreeMap<K, u64>, key: K, count: u64) {
    if count > 0 {
        *into.entry(key).or_insert(0) += count;
    }
}

fn add_counts<K: Ord + Copy>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
    for (k, v) in from {
        *into.entry(*k).or_insert(0) += v;
    }
}

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

// ---------------------------------------------------------------------------------------
// Windows and reports

/// Everything recorded in one report window, per (method, name).
#[derive(Clone, Debug, Default)]
pub struct Window {
    pub(crate) entries: BTreeMap<(String, String), Entry>,
}

impl Window {
    fn add(&mut self, method: String, name: String, mut entry: Entry) {
        entry.settle();
        match self.entries.get_mut(&(method.clone(), name.clone())) {
            Some(e) => e.merge(&entry),
            None => {
                self.entries.insert((method, name), entry);
            }
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of `(method, name)`, if anything was recorded for it.
    pub fn entry(&self, method: &str, name: &str) -> Option<&Entry> {
        self.entries.get(&(method.to_string(), name.to_string()))
    }

    /// Requests recorded in the window, over all entries.
    pub(crate) fn num_requests(&self) -> u64 {
        self.entries.values().map(|e| e.num_requests).sum()
    }

    /// All entries merged: the `Aggregated` row.
    pub fn total(&self) -> Entry {
        let mut total = Entry::default();
        for e in self.entries.values() {
            total.merge(e);
        }
        total
    }

    /// The `stats`, `stats_total` and `errors` parts of a worker report, in Locust's shape.
    pub(crate) fn to_report(
        &self,
        start_time: f64,
    ) -> (Vec<EntryReport>, EntryReport, BTreeMap<String, ErrorReport>) {
        let stats = self
            .entries
            .iter()
            .map(|((method, name), e)| EntryReport::new(method, name, e, start_time))
            .collect();
        let total = EntryReport::new("", "Aggregated", &self.total(), start_time);
        let mut errors = BTreeMap::new();
        for ((method, name), e) in &self.entries {
            for (text, count) in &e.errors {
                errors.insert(
                    error_key(method, name, text),
                    ErrorReport {
                        method: method.clone(),
                        name: name.clone(),
                        error: text.clone(),
                        occurrences: count.occurrences,
                        first_seen: count.first_seen,
                        last_seen: count.last_seen,
                    },
                );
            }
        }
        (stats, total, errors)
    }
}

/// Locust's `StatsEntryDict`, field for field.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub(crate) struct EntryReport {
    pub name: String,
    pub method: String,
    pub last_request_timestamp: Option<f64>,
    pub start_time: f64,
    pub num_requests: u64,
    pub num_none_requests: u64,
    pub num_failures: u64,
    pub total_response_time: Millis,
    pub max_response_time: Millis,
    pub min_response_time: Option<Millis>,
    pub total_content_length: u64,
    pub response_times: BTreeMap<u64, u64>,
    pub num_reqs_per_sec: BTreeMap<i64, u64>,
    pub num_fail_per_sec: BTreeMap<i64, u64>,
}

impl EntryReport {
    fn new(method: &str, name: &str, e: &Entry, start_time: f64) -> Self {
        EntryReport {
            name: name.to_string(),
            method: method.to_string(),
            last_request_timestamp: e.last_request_timestamp,
            start_time,
            num_requests: e.num_requests,
            num_none_requests: 0,
            num_failures: e.num_failures,
            total_response_time: Millis(e.total_us),
            max_response_time: Millis(e.max_us),
            min_response_time: e.min_us.map(Millis),
            total_content_length: e.total_content_length,
            response_times: e.response_times.clone(),
            num_reqs_per_sec: e.num_reqs_per_sec.clone(),
            num_fail_per_sec: e.num_fail_per_sec.clone(),
        }
    }
}

/// A time in microseconds, sent as milliseconds: an int when whole (as Python sends the
/// times it was given as ints), else a float with microsecond precision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Millis(pub u64);

impl Serialize for Millis {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_multiple_of(1_000) {
            s.serialize_u64(self.0 / 1_000)
        } else {
            s.serialize_f64(self.0 as f64 / 1_000.0)
        }
    }
}

/// Locust's `StatsError.serialize`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub(crate) struct ErrorReport {
    pub name: String,
    pub method: String,
    pub error: String,
    pub occurrences: u64,
    pub first_seen: f64,
    pub last_seen: f64,
}

/// Locust's `StatsError.parse_error` on an error's text: the address in the first
/// `object at 0x…>` becomes `0x....` (everywhere it occurs), so that the same error from
/// different objects, processes and workers is one row. [`record_failure`] applies it to
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
    use crate::protocol::{encode, StatsReport};

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

    /// Locust 2.47's `median_response_time`: the bucketed 50th percentile, clamped (it alone)
    /// to [min, max].
    #[test]
    fn the_median_is_locust_s() {
        let entry = |samples: &[u64]| {
            let mut e = Entry::default();
            for &us in samples {
                e.log(Duration::from_micros(us), 0, 1.0);
            }
            e.settle();
            e
        };
        // Two samples in different buckets: the upper one, as 2.47's percentile rank gives.
        assert_eq!(entry(&[10_000, 20_000]).median_us(), 20_000);
        // A lone 99.6 ms request: bucket 100, clamped to the max 99.6.
        let lone = entry(&[99_600]);
        assert_eq!((lone.percentile(0.5), lone.median_us()), (100, 99_600));
        // A lone 0.4 ms request: bucket 0, clamped to the min.
        assert_eq!(entry(&[400]).median_us(), 400);
        assert_eq!(Entry::default().median_us(), 0);
        // The recorder's samples (tests/workers/recorder.rs): 20 ms.
        let mut samples = Vec::new();
        for (ms, n) in [(10, 30), (20, 30), (45, 20), (150, 15), (1200, 5)] {
            samples.extend(std::iter::repeat_n(ms * 1000, n));
        }
        assert_eq!(entry(&samples).median_us(), 20_000);
    }

    fn fixture_entry() -> Entry {
        let mut e = Entry::default();
        e.log(Duration::from_millis(10), 100, 1700000000.3);
        e.log(Duration::from_micros(12_500), 100, 1700000000.9);
        e.log(Duration::from_millis(30), 0, 1700000001.5);
        e.log_error("boom".into(), 1700000001.5);
        e
    }

    #[test]
    fn a_report_is_byte_for_byte_what_python_sends() {
        let mut window = Window::default();
        window.add("GET".into(), "/rust".into(), fixture_entry());
        let (stats, stats_total, errors) = window.to_report(1700000000.25);
        let report = StatsReport {
            stats,
            stats_total,
            errors,
            user_classes_count: [("RustUser".to_string(), 3)].into(),
            user_count: 3,
        };
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/out_stats.msgpack"
        );
        let want = std::fs::read(path).unwrap();
        let got = encode("stats", &report, "host_0123456789abcdef0123456789abcdef");
        if got != want {
            let a = rmpv::decode::read_value(&mut &got[..]).unwrap();
            let b = rmpv::decode::read_value(&mut &want[..]).unwrap();
            panic!("report differs:\n ours   {a}\n python {b}");
        }
    }

    #[test]
    fn empty_entries_send_nil_min_and_no_buckets() {
        let report = EntryReport::new("", "Aggregated", &Entry::default(), 1.0);
        assert_eq!(report.min_response_time, None);
        assert!(report.response_times.is_empty());
        assert_eq!(report.last_request_timestamp, None);
    }

    #[test]
    fn total_is_the_sum_of_entries() {
        let mut window = Window::default();
        window.add("GET".into(), "/a".into(), fixture_entry());
        let mut b = Entry::default();
        b.log(Duration::from_millis(1500), 7, 1700000002.0);
        window.add("POST".into(), "/b".into(), b);
        let t = window.total();
        assert_eq!(
            (t.num_requests, t.num_failures, t.total_content_length),
            (4, 1, 207)
        );
        assert_eq!((t.min_us, t.max_us), (Some(10_000), 1_500_000));
        assert_eq!(
            t.response_times,
            [(10, 1), (12, 1), (30, 1), (1500, 1)].into()
        );
        assert_eq!(t.response_times.values().sum::<u64>(), t.num_requests);
    }

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
        for (k, e) in drain().entries {
            match seen.entries.get_mut(&k) {
                Some(s) => s.merge(&e),
                None => {
                    seen.entries.insert(k, e);
                }
            }
        }
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
        assert_eq!(
            lock(&HUB.shards)
                .iter()
                .filter(|s| Arc::strong_count(s) == 1)
                .count(),
            0
        );
    }
}

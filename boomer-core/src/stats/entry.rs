//! One (method, name)'s statistics over a window, as Locust's `StatsEntry`: how a record
//! counts ([`Entry::log`], on the record path), how entries merge, and what the outputs read
//! (averages, the median, percentiles, rates).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::HIGH_RESOLUTION;
use crate::locust::{bucket_ms, current_rate, median, percentile, total_rates};

/// Two significant digits: buckets at most 1/128 wide (< 1 %), a few KB per entry.
fn new_histogram() -> Option<Box<Histogram<u64>>> {
    Histogram::new(2).ok().map(Box::new)
}

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
    /// Counts one request that took `elapsed` and returned `bytes`, at `now` (epoch
    /// seconds): the record path.
    #[inline(always)]
    pub(super) fn log(&mut self, elapsed: Duration, bytes: u64, now: f64) {
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

    /// Counts the failure of the request just logged, under its (normalised) text.
    pub(super) fn log_error(&mut self, error: String, now: f64) {
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
    pub(super) fn settle(&mut self) {
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

    /// The entry of the Python fixtures (`tests/fixtures/out_stats.msgpack`): three
    /// requests over two seconds, one of them failed: for tests.
    #[cfg(test)]
    pub(crate) fn fixture() -> Entry {
        let mut e = Entry::default();
        e.log(Duration::from_millis(10), 100, 1700000000.3);
        e.log(Duration::from_micros(12_500), 100, 1700000000.9);
        e.log(Duration::from_millis(30), 0, 1700000001.5);
        e.log_error("boom".into(), 1700000001.5);
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
        median(
            &self.response_times,
            self.num_requests,
            self.min_us,
            self.max_us,
        )
    }

    /// The average response time in ms.
    pub fn avg_response_time(&self) -> f64 {
        if self.num_requests == 0 {
            return 0.0;
        }
        self.total_us as f64 / 1000.0 / self.num_requests as f64
    }

    /// The fastest response time in ms (0 when empty).
    pub fn min_response_time(&self) -> f64 {
        self.min_us.unwrap_or(0) as f64 / 1000.0
    }

    /// The slowest response time in ms.
    pub fn max_response_time(&self) -> f64 {
        self.max_us as f64 / 1000.0
    }

    /// Bytes received on average per request.
    pub fn avg_content_length(&self) -> f64 {
        if self.num_requests == 0 {
            return 0.0;
        }
        self.total_content_length as f64 / self.num_requests as f64
    }

    /// Locust's median response time in ms: the bucketed 50th percentile kept within
    /// [min, max] (the `Med` and `Median Response Time` columns). Not high-resolution, in
    /// any mode, so that it is the number Locust shows for the same samples.
    pub fn median_response_time(&self) -> f64 {
        self.median_us() as f64 / 1000.0
    }

    /// The percentile `p` (0..=1) in whole ms: from the high-resolution histogram when
    /// there is one (standalone; within 1 %), else Locust's rounded buckets. Not clamped to
    /// [min, max], as Locust clamps only its median.
    pub fn response_time_percentile(&self, p: f64) -> u64 {
        if self.num_requests == 0 {
            return 0;
        }
        let us = match &self.hdr {
            Some(_) if p >= 1.0 => self.max_us,
            Some(h) => {
                // Locust's convention (the sample of rank int(n * p) + 1), so that both
                // modes agree on the same samples; only the resolution differs.
                let rank = ((self.num_requests as f64 * p) as u64 + 1).min(self.num_requests);
                let mut seen = 0;
                let at = h.iter_recorded().find(|v| {
                    seen += v.count_at_value();
                    seen >= rank
                });
                at.map_or(self.max_us, |v| h.median_equivalent(v.value_iterated_to()))
            }
            None => self.percentile(p).saturating_mul(1000),
        };
        us.saturating_add(500) / 1000
    }

    /// Locust's `current_rps`: requests per second over the last ~10 s before `last` (the
    /// run's last request).
    pub(crate) fn current_rps(&self, start_time: f64, last: f64) -> f64 {
        current_rate(&self.num_reqs_per_sec, start_time, last)
    }

    /// Locust's `current_fail_per_sec`: as [`Entry::current_rps`], of the failures.
    pub(crate) fn current_fail_per_sec(&self, start_time: f64, last: f64) -> f64 {
        current_rate(&self.num_fail_per_sec, start_time, last)
    }

    /// Locust's `total_rps` and `total_fail_per_sec`: counts over the whole run, from
    /// `start_time` to `last` (the run's last request).
    pub(crate) fn total_rates(&self, start_time: f64, last: Option<f64>) -> (f64, f64) {
        total_rates(self.num_requests, self.num_failures, start_time, last)
    }

    /// Locust's `fail_ratio`: failures per request (1 with failures and no request).
    pub(crate) fn fail_ratio(&self) -> f64 {
        match (self.num_requests, self.num_failures) {
            (0, 0) => 0.0,
            (0, _) => 1.0,
            (n, f) => f as f64 / n as f64,
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

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Only the median is clamped to [min, max]; it is Locust's bucketed one, while the
    /// percentiles are not clamped.
    #[test]
    fn only_the_median_is_clamped() {
        let lone = Entry::of_samples(&[(147_000, 1.0)]);
        // Locust: bucket 150 for the percentiles, the median clamped to the max 147.
        assert_eq!(lone.percentile(1.0), 150);
        assert_eq!(lone.response_time_percentile(1.0), 150);
        assert_eq!(lone.median_response_time(), 147.0);
        let e = Entry::of_samples(&[(101_000, 1.0), (104_000, 1.0), (147_000, 1.0)]);
        assert_eq!(e.median_response_time(), 101.0);
    }
}

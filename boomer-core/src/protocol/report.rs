//! The `stats` report's parts in Locust's wire shape (`StatsEntry.serialize`,
//! `StatsError.serialize`), made from a drained [`Window`]: the one conversion from the
//! statistics to what is sent, so that the bytes of a report are decided here alone.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::locust::error_key;
use crate::stats::{Entry, Window};

/// The `stats`, `stats_total` and `errors` parts of a worker report, in Locust's shape.
pub(crate) fn window_report(
    window: &Window,
    start_time: f64,
) -> (Vec<EntryReport>, EntryReport, BTreeMap<String, ErrorReport>) {
    // As a Python worker's `serialize_stats`: an entry with neither requests nor failures
    // (only errors: the open model's drops) sends its errors only.
    let stats = window
        .entries
        .iter()
        .filter(|(_, e)| e.num_requests > 0 || e.num_failures > 0)
        .map(|((method, name), e)| EntryReport::new(method, name, e, start_time))
        .collect();
    let total = EntryReport::new("", "Aggregated", &window.total(), start_time);
    let mut errors = BTreeMap::new();
    for ((method, name), e) in &window.entries {
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

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::protocol::{encode, StatsReport};

    #[test]
    fn a_report_is_byte_for_byte_what_python_sends() {
        let mut window = Window::default();
        window.add("GET".into(), "/rust".into(), Cow::Owned(Entry::fixture()));
        let (stats, stats_total, errors) = window_report(&window, 1700000000.25);
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
}

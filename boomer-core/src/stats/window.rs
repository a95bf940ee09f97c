//! A report window: every entry recorded since the previous report, per (method, name),
//! merged as a Locust master merges its workers' reports.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::entry::Entry;

/// Everything recorded in one report window, per (method, name).
#[derive(Clone, Debug, Default)]
pub struct Window {
    pub(crate) entries: BTreeMap<(String, String), Entry>,
}

impl Window {
    /// Adds `entry`, recorded for `(method, name)`, as the master's `StatsEntry.extend`:
    /// merged into the entry already there, else kept (settled). The one way entries come
    /// into a window: [`drain`](super::drain) adds each shard's, [`Window::merge`] each of
    /// another window's.
    pub(crate) fn add(&mut self, method: String, name: String, entry: Cow<'_, Entry>) {
        let key = (method, name);
        match self.entries.get_mut(&key) {
            Some(e) => e.merge(&entry),
            None => {
                let mut entry = entry.into_owned();
                entry.settle();
                self.entries.insert(key, entry);
            }
        }
    }

    /// Counts `n` occurrences of `error` for `(method, name)` at `now` (epoch seconds) in
    /// the failure table only: no request, no failure in the request counts (the open
    /// model's dropped iterations, which were never sent).
    pub(crate) fn add_errors(&mut self, method: &str, name: &str, error: &str, n: u64, now: f64) {
        if n == 0 {
            return;
        }
        let mut entry = Entry::default();
        entry.errors.insert(
            error.to_string(),
            super::entry::ErrorCount {
                occurrences: n,
                first_seen: now,
                last_seen: now,
            },
        );
        self.add(method.to_string(), name.to_string(), Cow::Owned(entry));
    }

    /// The open model's dropped iterations in this window (errors of method `arrival`).
    pub(crate) fn dropped(&self) -> u64 {
        self.entries
            .iter()
            .filter(|((method, _), _)| method == crate::users::arrival::DROPPED_METHOD)
            .flat_map(|(_, e)| e.errors.values())
            .map(|c| c.occurrences)
            .sum()
    }

    /// Adds every entry of `other` into this window (the outputs' run-long totals, windows
    /// held back for a slow output).
    pub(crate) fn merge(&mut self, other: &Window) {
        for ((method, name), e) in &other.entries {
            self.add(method.clone(), name.clone(), Cow::Borrowed(e));
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

    /// The entries, sorted by name, then method, as Locust's `sort_stats` sorts its tables
    /// (its entries are keyed `(name, method)`).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str, &Entry)> {
        // As Locust's tables: a row counted a request or a failure. The open model's
        // drops (errors of requests never sent) are only in `error_rows`.
        self.error_rows()
            .filter(|(_, _, e)| e.num_requests > 0 || e.num_failures > 0)
    }

    /// Every entry, sorted as [`entries`](Self::entries), including those that only hold
    /// errors: what the failure tables read.
    pub fn error_rows(&self) -> impl Iterator<Item = (&str, &str, &Entry)> {
        let mut rows: Vec<(&str, &str, &Entry)> = self
            .entries
            .iter()
            .map(|((m, n), e)| (m.as_str(), n.as_str(), e))
            .collect();
        rows.sort_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
        rows.into_iter()
    }

    /// The last request of all entries, Locust's `stats.last_request_timestamp`.
    pub(crate) fn last_request(&self) -> Option<f64> {
        self.entries
            .values()
            .filter_map(|e| e.last_request_timestamp)
            .reduce(f64::max)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn total_is_the_sum_of_entries() {
        let mut window = Window::default();
        window.add("GET".into(), "/a".into(), Cow::Owned(Entry::fixture()));
        let mut b = Entry::default();
        b.log(Duration::from_millis(1500), 7, 1700000002.0);
        window.add("POST".into(), "/b".into(), Cow::Owned(b));
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

    #[test]
    fn rows_sort_by_name_then_method() {
        let mut w = Window::default();
        for (m, n) in [("GET", "/b"), ("POST", "/a"), ("GET", "/a")] {
            w.entries
                .insert((m.into(), n.into()), Entry::of_samples(&[(1_000, 1.0)]));
        }
        let order: Vec<(&str, &str)> = w.entries().map(|(m, n, _)| (m, n)).collect();
        assert_eq!(order, [("GET", "/a"), ("POST", "/a"), ("GET", "/b")]);
    }
}

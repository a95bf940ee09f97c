//! `--csv PREFIX`: Locust's four CSV files, with Locust 2.47's exact headers, so tools that
//! read Locust's CSVs read these.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

use super::{ExceptionCount, Output, Snapshot};
use crate::locust::{error_key, percentile, PERCENTILES, PERCENTILE_NAMES};
use crate::stats::{Entry, Window};

/// Writes `PREFIX_stats.csv`, `_failures.csv`, `_exceptions.csv` (rewritten every report,
/// as Locust does) and `_stats_history.csv` (a row per report; with `--csv-full-history`,
/// a row per entry too).
pub(crate) struct CsvFiles {
    prefix: String,
    history: BufWriter<File>,
    full_history: bool,
    /// The last windows, for the full history's current percentiles (Locust's last ~10 s).
    recent: VecDeque<(f64, Arc<Window>)>,
}

/// A history row: (key, method, name, entry), the key `None` for the Aggregated row.
type HistoryRow<'a> = (Option<(&'a str, &'a str)>, &'a str, &'a str, &'a Entry);

/// Locust's `CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW`.
const CURRENT_WINDOW: f64 = 10.0;

impl CsvFiles {
    /// Creates the files now, so that a bad path fails at start-up, not at the end.
    pub(crate) fn create(prefix: &str, full_history: bool) -> io::Result<Self> {
        let mut files = CsvFiles {
            prefix: prefix.to_string(),
            history: BufWriter::new(File::create(format!("{prefix}_stats_history.csv"))?),
            full_history,
            recent: VecDeque::new(),
        };
        let mut header = vec![
            "Timestamp",
            "User Count",
            "Type",
            "Name",
            "Requests/s",
            "Failures/s",
        ];
        header.extend(PERCENTILE_NAMES);
        header.extend([
            "Total Request Count",
            "Total Failure Count",
            "Total Median Response Time",
            "Total Average Response Time",
            "Total Min Response Time",
            "Total Max Response Time",
            "Total Average Content Size",
        ]);
        write_row(&mut files.history, &header)?;
        files.history.flush()?;
        files.write_snapshot_files(&Window::default(), &Default::default(), 0.0)?;
        Ok(files)
    }

    fn path(&self, suffix: &str) -> PathBuf {
        PathBuf::from(format!("{}_{suffix}.csv", self.prefix))
    }

    /// The three files Locust rewrites at every report, from the run's totals.
    fn write_snapshot_files(
        &self,
        totals: &Window,
        exceptions: &BTreeMap<String, ExceptionCount>,
        start_time: f64,
    ) -> io::Result<()> {
        self.write_stats(totals, start_time)?;
        self.write_failures(totals)?;
        self.write_exceptions(exceptions)
    }

    /// `PREFIX_stats.csv`: a row per entry and the Aggregated row, with the run's rates.
    fn write_stats(&self, totals: &Window, start_time: f64) -> io::Result<()> {
        let mut out = BufWriter::new(File::create(self.path("stats"))?);
        let mut header = vec![
            "Type",
            "Name",
            "Request Count",
            "Failure Count",
            "Median Response Time",
            "Average Response Time",
            "Min Response Time",
            "Max Response Time",
            "Average Content Size",
            "Requests/s",
            "Failures/s",
        ];
        header.extend(PERCENTILE_NAMES);
        write_row(&mut out, &header)?;
        let last = totals.last_request();
        let total = totals.total();
        let rows = totals.entries().chain([("", "Aggregated", &total)]);
        for (method, name, e) in rows {
            let (rps, fps) = e.total_rates(start_time, last);
            let mut row = vec![
                method.to_string(),
                name.to_string(),
                e.num_requests.to_string(),
                e.num_failures.to_string(),
                ms(e.median_us()),
                py_float(e.avg_response_time()),
                ms(e.min_us.unwrap_or(0)),
                ms(e.max_us),
                avg_content(e),
                py_float(rps),
                py_float(fps),
            ];
            row.extend(percentile_fields(e));
            write_row(&mut out, &row)?;
        }
        out.flush()
    }

    /// `PREFIX_failures.csv`: a row per error, in the order of Locust's error keys.
    fn write_failures(&self, totals: &Window) -> io::Result<()> {
        let mut out = BufWriter::new(File::create(self.path("failures"))?);
        write_row(
            &mut out,
            &[
                "Method",
                "Name",
                "Error",
                "Occurrences",
                "First Seen",
                "Last Seen",
            ],
        )?;
        let mut errors = Vec::new();
        for (method, name, e) in totals.error_rows() {
            for (text, count) in &e.errors {
                errors.push((error_key(method, name, text), method, name, text, count));
            }
        }
        errors.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, method, name, text, count) in errors {
            write_row(
                &mut out,
                &[
                    method.to_string(),
                    name.to_string(),
                    text.clone(),
                    count.occurrences.to_string(),
                    utc_timestamp(count.first_seen),
                    utc_timestamp(count.last_seen),
                ],
            )?;
        }
        out.flush()
    }

    /// `PREFIX_exceptions.csv`: a row per panic site, as Locust's master groups them.
    fn write_exceptions(&self, exceptions: &BTreeMap<String, ExceptionCount>) -> io::Result<()> {
        let mut out = BufWriter::new(File::create(self.path("exceptions"))?);
        write_row(&mut out, &["Count", "Message", "Traceback", "Nodes"])?;
        for e in exceptions.values() {
            let row = [
                e.count.to_string(),
                e.msg.clone(),
                e.traceback.clone(),
                "local".into(),
            ];
            write_row(&mut out, &row)?;
        }
        out.flush()
    }

    fn append_history(&mut self, s: &Snapshot) -> io::Result<()> {
        if self.full_history {
            self.recent.push_back((s.time, s.window.clone()));
            while self
                .recent
                .front()
                .is_some_and(|(t, _)| *t <= s.time - CURRENT_WINDOW)
            {
                self.recent.pop_front();
            }
        }
        let last = s.totals.last_request();
        let total = s.totals.total();
        let mut rows: Vec<HistoryRow> = Vec::new();
        if self.full_history {
            rows.extend(s.totals.entries().map(|(m, n, e)| (Some((m, n)), m, n, e)));
        }
        rows.push((None, "", "Aggregated", &total));
        for (key, method, name, e) in rows {
            let (rps, fps) = match last {
                Some(last) => (
                    e.current_rps(s.start_time, last),
                    e.current_fail_per_sec(s.start_time, last),
                ),
                None => (0.0, 0.0),
            };
            let mut row = vec![
                (s.time as i64).to_string(),
                s.user_count.to_string(),
                method.to_string(),
                name.to_string(),
                format!("{rps:.6}"),
                format!("{fps:.6}"),
            ];
            if self.full_history {
                row.extend(self.current_percentile_fields(e, key, s));
            } else {
                row.extend(percentile_fields(e));
            }
            row.extend([
                e.num_requests.to_string(),
                e.num_failures.to_string(),
                ms(e.median_us()),
                py_float(e.avg_response_time()),
                ms(e.min_us.unwrap_or(0)),
                ms(e.max_us),
                avg_content(e),
            ]);
            write_row(&mut self.history, &row)?;
        }
        self.history.flush()
    }

    /// Locust's `get_current_response_time_percentile`: the percentiles of the last ~10 s
    /// (of one entry, or of all for `None`), 0 before the run is 2 s old (Locust's response
    /// times cache has nothing to compare with yet), N/A for an entry without requests.
    fn current_percentile_fields(
        &self,
        e: &Entry,
        key: Option<(&str, &str)>,
        s: &Snapshot,
    ) -> Vec<String> {
        if e.num_requests == 0 {
            return vec!["N/A".to_string(); PERCENTILES.len()];
        }
        if s.time - s.start_time < 2.0 {
            return vec!["0".to_string(); PERCENTILES.len()];
        }
        let mut buckets: BTreeMap<u64, u64> = BTreeMap::new();
        let mut n = 0;
        for (_, w) in &self.recent {
            for ((m, name), e) in &w.entries {
                if key.is_none_or(|(km, kn)| km == m && kn == name) {
                    n += e.num_requests;
                    for (&b, &c) in &e.response_times {
                        *buckets.entry(b).or_insert(0) += c;
                    }
                }
            }
        }
        PERCENTILES
            .iter()
            .map(|&p| percentile(&buckets, n, p).to_string())
            .collect()
    }
}

impl Output for CsvFiles {
    fn on_reset(&mut self) {
        self.recent.clear();
    }

    fn on_report(&mut self, s: Snapshot) {
        let done = self
            .append_history(&s)
            .and_then(|()| self.write_snapshot_files(&s.totals, &s.exceptions, s.start_time));
        if let Err(e) = done {
            tracing::error!("cannot write the CSV files {}_*.csv: {e}", self.prefix);
        }
    }
}

fn percentile_fields(e: &Entry) -> Vec<String> {
    if e.num_requests == 0 {
        return vec!["N/A".to_string(); PERCENTILES.len()];
    }
    PERCENTILES
        .iter()
        .map(|&p| e.response_time_percentile(p).to_string())
        .collect()
}

/// Python's `repr(float)` for the values Locust writes (`100.5`, `95.0`).
fn py_float(v: f64) -> String {
    format!("{v:?}")
}

/// A time in µs as ms, as the master has it: an int when whole, else a float.
fn ms(us: u64) -> String {
    if us.is_multiple_of(1000) {
        (us / 1000).to_string()
    } else {
        py_float(us as f64 / 1000.0)
    }
}

/// Locust's `avg_content_length`: a float, or the int 0 without requests.
fn avg_content(e: &Entry) -> String {
    if e.num_requests == 0 {
        "0".to_string()
    } else {
        py_float(e.avg_content_length())
    }
}

/// A row as Python's csv module writes it: fields quoted only when needed, CRLF.
fn write_row<S: AsRef<str>>(out: &mut impl Write, fields: &[S]) -> io::Result<()> {
    let mut line = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        let f = f.as_ref();
        if f.contains([',', '"', '\r', '\n']) {
            line.push('"');
            line.push_str(&f.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(f);
        }
    }
    line.push_str("\r\n");
    out.write_all(line.as_bytes())
}

/// Locust's `format_utc_timestamp`: `%Y-%m-%dT%H:%M:%SZ`.
pub(crate) fn utc_timestamp(epoch: f64) -> String {
    let secs = epoch as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = crate::clock::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_timestamps_as_python() {
        assert_eq!(utc_timestamp(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(1_700_000_001.5), "2023-11-14T22:13:21Z");
        assert_eq!(utc_timestamp(951_782_400.0), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn fields_are_quoted_as_python_does() {
        let mut out = Vec::new();
        write_row(&mut out, &["a", "b,c", "say \"hi\"", ""]).unwrap();
        assert_eq!(out, b"a,\"b,c\",\"say \"\"hi\"\"\",\r\n");
        assert_eq!(
            (ms(10_000), ms(12_500), py_float(95.0)),
            ("10".into(), "12.5".into(), "95.0".into())
        );
    }
}

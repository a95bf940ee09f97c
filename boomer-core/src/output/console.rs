//! Locust's headless console: the periodic table, then the summary, the percentile table and
//! the error report, on stderr as Locust logs them (so stdout is `--json`'s alone); a
//! progress line when stderr is a terminal.

use std::io::{IsTerminal, Write};

use super::{Output, RunInfo, Snapshot};
use crate::locust::{PERCENTILES, PERCENTILE_NAMES};
use crate::stats::{Entry, Window};

/// Locust's `STATS_TYPE_WIDTH` and `STATS_NAME_WIDTH` (off a terminal).
const TYPE_WIDTH: usize = 8;
const NAME_WIDTH: usize = 80;
/// Locust's `CONSOLE_STATS_INTERVAL_SEC`.
const PRINT_EVERY: f64 = 2.0;

/// Prints Locust-style tables to stderr.
pub(crate) struct Console {
    only_summary: bool,
    info: RunInfo,
    progress: bool,
    peak_users: u32,
    last_print: f64,
    last: Option<Snapshot>,
}

impl Console {
    pub(crate) fn new(only_summary: bool) -> Self {
        Console {
            only_summary,
            info: RunInfo::default(),
            progress: std::io::stderr().is_terminal(),
            peak_users: 0,
            last_print: f64::NEG_INFINITY,
            last: None,
        }
    }

    fn progress_line(&mut self, s: &Snapshot) {
        let elapsed = (s.time - s.start_time).max(0.0);
        let mut line = format!("\r\x1b[2K{} users", s.user_count);
        // Ramping up until the target is first reached; fewer users later is the stop.
        self.peak_users = self.peak_users.max(s.user_count);
        if self.peak_users < self.info.users {
            line.push_str(&format!(" (ramping up to {})", self.info.users));
        }
        line.push_str(&format!(", {} elapsed", clock(elapsed)));
        if let Some(run_time) = self.info.run_time {
            let left = (run_time.as_secs_f64() - elapsed).max(0.0).ceil();
            line.push_str(&format!(", {} left", clock(left)));
        }
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
    }

    fn clear_progress(&self) {
        if self.progress {
            eprint!("\r\x1b[2K");
        }
    }
}

impl Output for Console {
    fn on_start(&mut self, info: &RunInfo) {
        self.info = info.clone();
    }

    fn on_report(&mut self, s: Snapshot) {
        if !self.only_summary && s.time - self.last_print >= PRINT_EVERY - 0.05 {
            self.last_print = s.time;
            self.clear_progress();
            let table = stats_table(&s.totals, s.start_time, true) + "\n";
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(table.as_bytes());
            let _ = err.flush();
        }
        if self.progress && self.info.standalone {
            self.progress_line(&s);
        }
        self.last = Some(s);
    }

    fn on_stop(&mut self) {
        self.clear_progress();
        let Some(s) = self.last.take() else { return };
        // One write, so that no log line lands inside the tables.
        let mut text = format!(
            "{}\n{}\n{}",
            stats_table(&s.totals, s.start_time, false),
            percentile_table(&s.totals),
            error_report(&s.totals)
        );
        if !s.thresholds.is_empty() {
            text.push('\n');
            text.push_str(&crate::threshold::summary_table(&s.thresholds));
        }
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }
}

fn clock(secs: f64) -> String {
    let s = secs as u64;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Locust's `get_stats_summary`: `current` shows the last ~10 s rates, else the run's.
pub(crate) fn stats_table(w: &Window, start_time: f64, current: bool) -> String {
    let name_w = NAME_WIDTH - TYPE_WIDTH + 4;
    let mut out = format!(
        "{:<TYPE_WIDTH$} {:<name_w$} {:>7} {:>12} |{:>7} {:>7} {:>7}{:>7} | {:>7} {:>11}\n",
        "Type", "Name", "# reqs", "# fails", "Avg", "Min", "Max", "Med", "req/s", "failures/s"
    );
    let sep = format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}\n",
        "-".repeat(TYPE_WIDTH),
        "-".repeat(name_w),
        "-".repeat(7),
        "-".repeat(13),
        "-".repeat(7),
        "-".repeat(7),
        "-".repeat(7),
        "-".repeat(7),
        "-".repeat(8),
        "-".repeat(11)
    );
    out.push_str(&sep);
    let last = w.last_request();
    let row = |method: &str, name: &str, e: &Entry| {
        let (rps, fps) = match (current, last) {
            (true, Some(last)) => (
                e.current_rps(start_time, last),
                e.current_fail_per_sec(start_time, last),
            ),
            (true, None) => (0.0, 0.0),
            (false, _) => e.total_rates(start_time, last),
        };
        let method = if method.is_empty() {
            String::new()
        } else {
            format!("{method} ")
        };
        let fails = format!("{}({:.2}%)", e.num_failures, e.fail_ratio() * 100.0);
        format!(
            "{:<TYPE_WIDTH$} {:<name_w$} {:>7} {:>12} |{:>7} {:>7} {:>7}{:>7} | {:>7.2} {:>11.2}\n",
            method,
            name,
            e.num_requests,
            fails,
            e.avg_response_time() as u64,
            e.min_response_time() as u64,
            e.max_response_time() as u64,
            // Python's %7d of Locust's median (an int, or min/max as a float).
            e.median_response_time() as u64,
            rps,
            fps
        )
    };
    for (method, name, e) in w.entries() {
        out.push_str(&row(method, name, e));
    }
    out.push_str(&sep);
    out.push_str(&row("", "Aggregated", &w.total()));
    out
}

/// Locust's `get_percentile_stats_summary`, with high-resolution values in standalone.
pub(crate) fn percentile_table(w: &Window) -> String {
    let mut out = String::from("Response time percentiles (approximated)\n");
    out.push_str(&format!(
        "{:<TYPE_WIDTH$} {:<NAME_WIDTH$} {:>8}",
        "Type", "Name", PERCENTILE_NAMES[0]
    ));
    for name in &PERCENTILE_NAMES[1..] {
        out.push_str(&format!(" {name:>6}"));
    }
    out.push_str(&format!(" {:>6}\n", "# reqs"));
    let sep = format!(
        "{}|{}|{}|{}\n",
        "-".repeat(TYPE_WIDTH),
        "-".repeat(NAME_WIDTH),
        "-".repeat(8),
        ["------"; 11].join("|")
    );
    out.push_str(&sep);
    let row = |method: &str, name: &str, e: &Entry| {
        let mut line = format!("{method:<TYPE_WIDTH$} {name:<NAME_WIDTH$}");
        for (i, p) in PERCENTILES.into_iter().enumerate() {
            let width = if i == 0 { 8 } else { 6 };
            line.push_str(&format!(" {:>width$}", e.response_time_percentile(p)));
        }
        line.push_str(&format!(" {:>6}\n", e.num_requests));
        line
    };
    for (method, name, e) in w.entries() {
        if e.num_requests > 0 {
            out.push_str(&row(method, name, e));
        }
    }
    out.push_str(&sep);
    let total = w.total();
    if total.num_requests > 0 {
        out.push_str(&row("", "Aggregated", &total));
    }
    out
}

/// Locust's `get_error_report_summary`; empty when there were no errors.
pub(crate) fn error_report(w: &Window) -> String {
    let mut rows = Vec::new();
    for (method, name, e) in w.error_rows() {
        for (text, count) in &e.errors {
            rows.push(format!(
                "{:<18} {:<100}\n",
                count.occurrences,
                format!("{method} {name}: {}", error_name(text))
            ));
        }
    }
    if rows.is_empty() {
        return String::new();
    }
    let sep = format!("{}|{}\n", "-".repeat(18), "-".repeat(80 + NAME_WIDTH - 19));
    let mut out = format!(
        "Error report\n{:<18} {:<100}\n{sep}",
        "# occurrences", "Error"
    );
    for r in rows {
        out.push_str(&r);
    }
    out.push_str(&sep);
    out
}

/// Locust's `StatsError.to_name` for an error text: a `CatchResponseError(...)` (what
/// `boomer::http`'s `failure()` records, as Locust's `response.failure()`) shows as its
/// message, as a standalone Locust shows it.
fn error_name(text: &str) -> &str {
    let Some(inner) = text
        .strip_prefix("CatchResponseError(")
        .and_then(|t| t.strip_suffix(')'))
    else {
        return text;
    };
    // The message's repr, without its quotes when it needed no escapes.
    for quote in ['\'', '"'] {
        if let Some(message) = inner
            .strip_prefix(quote)
            .and_then(|t| t.strip_suffix(quote))
        {
            if !message.contains(['\\', quote]) {
                return message;
            }
        }
    }
    inner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catch_response_errors_show_their_message() {
        assert_eq!(error_name("CatchResponseError('no token')"), "no token");
        assert_eq!(error_name("CatchResponseError(\"it's\")"), "it's");
        assert_eq!(error_name("CatchResponseError('a\\nb')"), "'a\\nb'");
        assert_eq!(
            error_name("HTTPError('404 Client Error')"),
            "HTTPError('404 Client Error')"
        );
    }
}

//! `--html FILE`: one self-contained HTML report of a standalone run, as Locust's `--html`
//! writes one: the run's parameters, Locust's tables (request statistics, response-time
//! percentiles, failures, exceptions), the thresholds, and charts over time of requests/s
//! and failures/s, response-time percentiles, users, and each open-model class's arrivals
//! against its drops.
//!
//! The page works offline and fetches nothing: its CSS and script are inline, the data is
//! embedded as JSON, the charts are SVG drawn by the page's own script (no chart library),
//! and a Content-Security-Policy forbids every fetch. Request names and error texts come
//! from users, so everything shown is escaped (HTML text in the tables, `<` as `\u003c` in
//! the JSON, so no `</script>` can close the data block).
//!
//! The charts have a point per report (a second in standalone): its requests/s and
//! failures/s, the percentiles of that second's response times (Locust's report charts its
//! last 10 s instead, which smears a slow second over ten), the users at its end, and each
//! open-model class's iterations due and dropped per second. Past [`MAX_POINTS`] the
//! points merge two by two, so a run of any length keeps a bounded timeline.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Write};

use serde_json::{json, Value};

use super::csv::utc_timestamp;
use super::{ArrivalCount, Output, RunInfo, Snapshot};
use crate::locust::error_key;
use crate::stats::{Entry, Window};

/// Writes the report at the end of the run to a file opened at start-up.
pub(crate) struct HtmlReport {
    path: String,
    file: File,
    info: RunInfo,
    timeline: Timeline,
    last: Option<Snapshot>,
}

impl HtmlReport {
    /// Creates FILE now, so that a bad path fails at start-up, as `--csv` does, not after
    /// the whole test.
    pub(crate) fn create(path: &str) -> io::Result<Self> {
        let file = File::create(path)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot create {path}: {e}")))?;
        Ok(HtmlReport {
            path: path.to_string(),
            file,
            info: RunInfo::default(),
            timeline: Timeline::new(MAX_POINTS),
            last: None,
        })
    }
}

impl Output for HtmlReport {
    fn on_start(&mut self, info: &RunInfo) {
        self.info = info.clone();
        self.timeline.prev_time = info.start_time;
    }

    fn on_report(&mut self, snapshot: Snapshot) {
        self.timeline.add(&snapshot);
        self.last = Some(snapshot);
    }

    fn on_stop(&mut self) {
        let page = page(&self.info, self.last.as_ref(), &self.timeline);
        if let Err(e) = self
            .file
            .write_all(page.as_bytes())
            .and_then(|()| self.file.flush())
        {
            tracing::error!("cannot write the HTML report {}: {e}", self.path);
        }
    }
}

/// Points the timeline keeps before it halves its resolution: a day of one-second reports
/// ends at 64 s a point (1,350 points, 55 KB of JSON in the page with one open-model
/// class; about 100 bytes a point in memory).
const MAX_POINTS: usize = 2048;

/// The run over time, a point per report (one a second in standalone) until it holds
/// `cap` points; then each two neighbours become one and a point spans twice as many
/// reports from then on, so memory stays bounded however long the run.
#[derive(Debug)]
struct Timeline {
    cap: usize,
    points: Vec<Point>,
    /// Reports per point: doubles each time the points are halved.
    stride: u32,
    /// The point being filled, and how many reports it holds.
    pending: Option<(Point, u32)>,
    /// The open-model classes, in the order they first reported: a point's `arrivals`
    /// index.
    classes: Vec<String>,
    /// When the previous report was drained (at first, the start of the run).
    prev_time: f64,
    /// The cumulative arrival counts of the previous report, to difference.
    prev_arrivals: BTreeMap<String, ArrivalCount>,
}

/// What happened over one span of the run.
#[derive(Clone, Debug, Default, PartialEq)]
struct Point {
    /// The end of the span, in seconds since the Unix epoch.
    time: f64,
    /// Its length in seconds.
    span: f64,
    /// Users running at its end.
    users: u32,
    requests: u64,
    failures: u64,
    /// The 50th, 95th and 99th percentiles of its response times in ms (`None` without
    /// requests). A merged point keeps the worse of each, so a slow second still shows
    /// in a long run's coarse chart.
    percentiles: Option<[u64; 3]>,
    /// Per open-model class (the timeline's `classes`): iterations due and dropped.
    arrivals: Vec<(u64, u64)>,
}

impl Point {
    /// Adds the next span into this one.
    fn absorb(&mut self, later: Point) {
        self.time = later.time;
        self.span += later.span;
        self.users = later.users;
        self.requests += later.requests;
        self.failures += later.failures;
        self.percentiles = match (self.percentiles, later.percentiles) {
            (Some(a), Some(b)) => Some([a[0].max(b[0]), a[1].max(b[1]), a[2].max(b[2])]),
            (a, b) => a.or(b),
        };
        if self.arrivals.len() < later.arrivals.len() {
            self.arrivals.resize(later.arrivals.len(), (0, 0));
        }
        for (mine, theirs) in self.arrivals.iter_mut().zip(later.arrivals) {
            mine.0 += theirs.0;
            mine.1 += theirs.1;
        }
    }
}

impl Timeline {
    fn new(cap: usize) -> Self {
        Timeline {
            cap: cap.max(2),
            points: Vec::new(),
            stride: 1,
            pending: None,
            classes: Vec::new(),
            prev_time: 0.0,
            prev_arrivals: BTreeMap::new(),
        }
    }

    fn add(&mut self, s: &Snapshot) {
        let point = self.point_of(s);
        let (point, n) = match self.pending.take() {
            Some((mut pending, n)) => {
                pending.absorb(point);
                (pending, n + 1)
            }
            None => (point, 1),
        };
        if n < self.stride {
            self.pending = Some((point, n));
            return;
        }
        self.points.push(point);
        if self.points.len() >= self.cap {
            self.halve();
        }
    }

    /// Merges each two neighbouring points into one; from now on a point spans twice as
    /// many reports.
    fn halve(&mut self) {
        let mut merged = Vec::with_capacity(self.points.len() / 2 + 1);
        let mut points = std::mem::take(&mut self.points).into_iter();
        while let Some(mut first) = points.next() {
            if let Some(second) = points.next() {
                first.absorb(second);
            }
            merged.push(first);
        }
        self.points = merged;
        self.stride = self.stride.saturating_mul(2);
    }

    fn point_of(&mut self, s: &Snapshot) -> Point {
        let total = s.window.total();
        let percentiles = (total.num_requests > 0)
            .then(|| [0.5, 0.95, 0.99].map(|p| total.response_time_percentile(p)));
        let mut arrivals = vec![(0, 0); self.classes.len()];
        for (class, now) in s.arrivals.iter() {
            let before = self.prev_arrivals.get(class).copied().unwrap_or_default();
            let delta = (
                now.due.saturating_sub(before.due),
                now.dropped.saturating_sub(before.dropped),
            );
            match self.classes.iter().position(|c| c == class) {
                Some(i) => arrivals[i] = delta,
                None => {
                    self.classes.push(class.clone());
                    arrivals.push(delta);
                }
            }
        }
        self.prev_arrivals.clone_from(&s.arrivals);
        let span = (s.time - self.prev_time).max(0.0);
        self.prev_time = s.time;
        Point {
            time: s.time,
            span,
            users: s.user_count,
            requests: total.num_requests,
            failures: total.num_failures,
            percentiles,
            arrivals,
        }
    }

    /// Every point, the one still being filled last.
    fn all_points(&self) -> impl Iterator<Item = &Point> {
        self.points
            .iter()
            .chain(self.pending.iter().map(|(p, _)| p))
    }

    /// The chart data: per series, a value per point (`null` where there is none).
    fn to_json(&self, start_time: f64) -> Value {
        let points: Vec<&Point> = self.all_points().collect();
        let per_sec =
            |n: u64, p: &Point| round2(if p.span > 0.0 { n as f64 / p.span } else { 0.0 });
        let series =
            |f: &dyn Fn(&Point) -> Value| -> Vec<Value> { points.iter().map(|p| f(p)).collect() };
        let pct = |i: usize| series(&|p: &Point| json!(p.percentiles.map(|v| v[i])));
        let classes: Vec<Value> = self
            .classes
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let of = |p: &Point| p.arrivals.get(i).copied().unwrap_or_default();
                json!({
                    "name": name,
                    "due": series(&|p: &Point| json!(per_sec(of(p).0, p))),
                    "dropped": series(&|p: &Point| json!(per_sec(of(p).1, p))),
                })
            })
            .collect();
        json!({
            "t": series(&|p: &Point| json!(round2(p.time - start_time))),
            "users": series(&|p: &Point| json!(p.users)),
            "rps": series(&|p: &Point| json!(per_sec(p.requests, p))),
            "fps": series(&|p: &Point| json!(per_sec(p.failures, p))),
            "p50": pct(0),
            "p95": pct(1),
            "p99": pct(2),
            "classes": classes,
        })
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Locust's `PERCENTILES_FOR_HTML_REPORT`: the Response Time Statistics columns.
const REPORT_PERCENTILES: [(f64, &str); 8] = [
    (0.5, "50%ile"),
    (0.6, "60%ile"),
    (0.7, "70%ile"),
    (0.8, "80%ile"),
    (0.9, "90%ile"),
    (0.95, "95%ile"),
    (0.99, "99%ile"),
    (1.0, "100%ile"),
];

/// The whole page.
fn page(info: &RunInfo, last: Option<&Snapshot>, timeline: &Timeline) -> String {
    let empty = Window::default();
    let totals = last.map_or(&empty, |s| &*s.totals);
    let end_time = last.map_or(info.start_time, |s| s.time);
    let mut body = String::new();
    body.push_str("<h1>boomer test report</h1>\n");
    parameters(&mut body, info, end_time);
    request_statistics(&mut body, totals, info.start_time);
    response_times(&mut body, totals);
    failures(&mut body, totals);
    if let Some(s) = last {
        exceptions(&mut body, s);
        thresholds(&mut body, s);
        arrivals(&mut body, s);
    }
    body.push_str("<section><h2>Charts</h2><div id=\"charts\"></div></section>\n");
    let data = json!({ "timeline": timeline.to_json(info.start_time) });
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>boomer test report</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n\
         {body}<script type=\"application/json\" id=\"data\">{}</script>\n\
         <script>\n{JS}</script>\n</body>\n</html>\n",
        script_json(&data)
    )
}

/// Nothing may be fetched: not a script, a style sheet, an image, a font or a connection.
/// Only the page's own inline script and styles run, and only `data:` images load.
const CSP: &str =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:";

const CSS: &str = include_str!("html_report.css");
const JS: &str = include_str!("html_report.js");

/// JSON safe inside `<script>`: `<`, `>` and `&` only occur in its strings, where the
/// `\u00XX` escapes mean the same, so no `</script>` or `<!--` can appear.
fn script_json(v: &Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// Text safe in HTML content and in quoted attributes.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn parameters(out: &mut String, info: &RunInfo, end_time: f64) {
    let duration = (end_time - info.start_time).max(0.0) as u64;
    let run_time = info.run_time.map_or("until stopped".to_string(), |t| {
        format!("{} s", t.as_secs_f64())
    });
    let script = info
        .command_line
        .first()
        .map_or("", |p| p.rsplit(['/', '\\']).next().unwrap_or(p.as_str()));
    let rows = [
        (
            "During",
            format!(
                "{} - {} ({})",
                utc_timestamp(info.start_time),
                utc_timestamp(end_time),
                clock(duration)
            ),
        ),
        ("Target Host", info.host.clone().unwrap_or_default()),
        ("Script", script.to_string()),
        ("Users", info.users.to_string()),
        ("Spawn rate", format!("{} users/s", info.spawn_rate)),
        ("Run time", run_time),
        ("Command line", shell_words(&info.command_line)),
    ];
    out.push_str("<section><h2>Parameters</h2><table id=\"parameters\">\n");
    for (key, value) in rows {
        let _ = writeln!(out, "<tr><th>{key}</th><td>{}</td></tr>", esc(&value));
    }
    out.push_str("</table></section>\n");
}

/// `h:mm:ss`, as Locust's `format_duration` shows a run's length.
fn clock(secs: u64) -> String {
    format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// The command line as a shell would take it back: words with spaces or quotes quoted.
fn shell_words(args: &[String]) -> String {
    let word = |a: &String| {
        let plain = !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c));
        if plain {
            a.clone()
        } else {
            format!("'{}'", a.replace('\'', "'\\''"))
        }
    };
    args.iter().map(word).collect::<Vec<_>>().join(" ")
}

/// A table with a header row and rows of cells already escaped; numbers are set right.
fn table(out: &mut String, id: &str, header: &[&str], rows: &[Vec<String>]) {
    let _ = write!(
        out,
        "<div class=\"scroll\"><table id=\"{id}\">\n<thead><tr>"
    );
    for (i, h) in header.iter().enumerate() {
        let numbers = rows
            .first()
            .and_then(|r| r.get(i))
            .is_some_and(|c| is_number(c));
        let class = if numbers { " class=\"n\"" } else { "" };
        let _ = write!(out, "<th{class}>{h}</th>");
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            if is_number(cell) {
                let _ = write!(out, "<td class=\"n\">{cell}</td>");
            } else {
                let _ = write!(out, "<td>{cell}</td>");
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

fn is_number(cell: &str) -> bool {
    cell.parse::<f64>().is_ok_and(f64::is_finite)
}

/// The entries, sorted as Locust sorts them, then the Aggregated row.
fn rows_with_total(totals: &Window) -> Vec<(String, String, Entry)> {
    let mut rows: Vec<(String, String, Entry)> = totals
        .entries()
        .map(|(m, n, e)| (m.to_string(), n.to_string(), e.clone()))
        .collect();
    rows.push((String::new(), "Aggregated".into(), totals.total()));
    rows
}

fn request_statistics(out: &mut String, totals: &Window, start_time: f64) {
    let last = totals.last_request();
    let rows: Vec<Vec<String>> = rows_with_total(totals)
        .iter()
        .map(|(method, name, e)| {
            let (rps, fps) = e.total_rates(start_time, last);
            vec![
                esc(method),
                esc(name),
                e.num_requests().to_string(),
                e.num_failures().to_string(),
                format!("{}", e.median_response_time().round()),
                e.response_time_percentile(0.95).to_string(),
                e.response_time_percentile(0.99).to_string(),
                format!("{:.2}", e.avg_response_time()),
                format!("{}", e.min_response_time().round()),
                format!("{}", e.max_response_time().round()),
                format!("{:.2}", e.avg_content_length()),
                format!("{rps:.2}"),
                format!("{fps:.2}"),
            ]
        })
        .collect();
    out.push_str("<section><h2>Request Statistics</h2>\n");
    let header = [
        "Type",
        "Name",
        "# Requests",
        "# Fails",
        "Median (ms)",
        "95%ile (ms)",
        "99%ile (ms)",
        "Average (ms)",
        "Min (ms)",
        "Max (ms)",
        "Average size (bytes)",
        "RPS",
        "Failures/s",
    ];
    table(out, "requests", &header, &rows);
    out.push_str("</section>\n");
}

fn response_times(out: &mut String, totals: &Window) {
    let rows: Vec<Vec<String>> = rows_with_total(totals)
        .iter()
        .filter(|(_, _, e)| e.num_requests() > 0)
        .map(|(method, name, e)| {
            let mut row = vec![esc(method), esc(name)];
            row.extend(
                REPORT_PERCENTILES
                    .iter()
                    .map(|&(p, _)| e.response_time_percentile(p).to_string()),
            );
            row
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let mut header = vec!["Type", "Name"];
    header.extend(REPORT_PERCENTILES.iter().map(|&(_, name)| name));
    out.push_str("<section><h2>Response Time Statistics</h2>\n");
    table(out, "response-times", &header, &rows);
    out.push_str("</section>\n");
}

fn failures(out: &mut String, totals: &Window) {
    let mut errors = Vec::new();
    for (method, name, e) in totals.error_rows() {
        for (text, count) in &e.errors {
            errors.push((error_key(method, name, text), method, name, text, count));
        }
    }
    errors.sort_by(|a, b| a.0.cmp(&b.0));
    let rows: Vec<Vec<String>> = errors
        .into_iter()
        .map(|(_, method, name, text, count)| {
            vec![
                count.occurrences.to_string(),
                esc(method),
                esc(name),
                esc(text),
                utc_timestamp(count.first_seen),
                utc_timestamp(count.last_seen),
            ]
        })
        .collect();
    out.push_str("<section><h2>Failures Statistics</h2>\n");
    let header = [
        "# Failures",
        "Method",
        "Name",
        "Message",
        "First Seen",
        "Last Seen",
    ];
    table(out, "failures", &header, &rows);
    out.push_str("</section>\n");
}

fn exceptions(out: &mut String, s: &Snapshot) {
    if s.exceptions.is_empty() {
        return;
    }
    let rows: Vec<Vec<String>> = s
        .exceptions
        .values()
        .map(|e| {
            vec![
                e.count.to_string(),
                esc(&e.msg),
                esc(&e.traceback),
                "local".into(),
            ]
        })
        .collect();
    out.push_str("<section><h2>Exceptions Statistics</h2>\n");
    let header = ["# occurrences", "Message", "Traceback", "Nodes"];
    table(out, "exceptions", &header, &rows);
    out.push_str("</section>\n");
}

fn thresholds(out: &mut String, s: &Snapshot) {
    if s.thresholds.is_empty() {
        return;
    }
    let rows: Vec<Vec<String>> = s
        .thresholds
        .iter()
        .map(|t| {
            let verdict = if t.ok {
                "<span class=\"pass\">pass</span>"
            } else {
                "<span class=\"fail\">fail</span>"
            };
            vec![
                esc(&t.spec),
                esc(t.value.as_deref().unwrap_or("(nothing recorded)")),
                verdict.to_string(),
            ]
        })
        .collect();
    out.push_str("<section><h2>Thresholds</h2>\n");
    table(out, "thresholds", &["Threshold", "Value", "Result"], &rows);
    out.push_str("</section>\n");
}

fn arrivals(out: &mut String, s: &Snapshot) {
    if s.arrivals.is_empty() {
        return;
    }
    let rows: Vec<Vec<String>> = s
        .arrivals
        .iter()
        .map(|(class, a)| {
            let share = if a.due > 0 {
                a.dropped as f64 * 100.0 / a.due as f64
            } else {
                0.0
            };
            vec![
                esc(class),
                a.due.to_string(),
                a.dropped.to_string(),
                format!("{share:.2}"),
                format!("{:.2}", a.rate),
            ]
        })
        .collect();
    out.push_str("<section><h2>Arrivals</h2>\n");
    let header = [
        "Class",
        "Due",
        "Dropped",
        "Dropped %",
        "Rate at the end (/s)",
    ];
    table(out, "arrivals", &header, &rows);
    out.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::output::{ExceptionCount, ThresholdState};
    use crate::stats::ErrorCount;

    const START: f64 = 1_700_000_000.0;

    fn snapshot(second: u64, requests: u64, arrivals: &[(&str, u64, u64)]) -> Snapshot {
        let time = START + second as f64;
        let samples: Vec<(u64, f64)> = (0..requests)
            .map(|i| (1_000 * (i % 100 + 1), time - 0.5))
            .collect();
        let mut window = Window::default();
        if requests > 0 {
            window
                .entries
                .insert(("GET".into(), "/a".into()), Entry::of_samples(&samples));
        }
        let arrivals = arrivals
            .iter()
            .map(|&(class, due, dropped)| {
                let count = ArrivalCount {
                    due,
                    dropped,
                    rate: 10.0,
                };
                (class.to_string(), count)
            })
            .collect();
        let window = Arc::new(window);
        Snapshot {
            time,
            start_time: START,
            user_count: 3,
            window: window.clone(),
            totals: window,
            exceptions: Arc::default(),
            arrivals: Arc::new(arrivals),
            thresholds: Arc::default(),
        }
    }

    fn timeline(cap: usize) -> Timeline {
        let mut t = Timeline::new(cap);
        t.prev_time = START;
        t
    }

    /// A long run keeps at most `cap` points, and halving loses no request: the points
    /// still add up to every request, over the whole run.
    #[test]
    fn the_timeline_stays_bounded_and_loses_nothing() {
        let mut t = timeline(64);
        let seconds = 100_000;
        for s in 1..=seconds {
            t.add(&snapshot(s, s % 7, &[]));
            assert!(t.points.len() < 64, "{} points at {s}", t.points.len());
        }
        let points: Vec<&Point> = t.all_points().collect();
        let requests: u64 = points.iter().map(|p| p.requests).sum();
        let expected: u64 = (1..=seconds).map(|s| s % 7).sum();
        assert_eq!(requests, expected);
        let span: f64 = points.iter().map(|p| p.span).sum();
        assert_eq!(span, seconds as f64);
        assert_eq!(points.last().map(|p| p.time), Some(START + seconds as f64));
        assert_eq!(t.stride, 2048);
        // A merged point keeps the worst percentiles of its spans: those of a second of 6
        // requests of 1 to 6 ms (a second of 5 has a median of 3).
        assert!(t.points.iter().all(|p| p.percentiles == Some([4, 6, 6])));
    }

    /// Arrivals are cumulative in the snapshots; the chart shows them per second, per
    /// class, a class that starts late included.
    #[test]
    fn arrivals_are_differenced_per_class() {
        let mut t = timeline(100);
        t.add(&snapshot(1, 0, &[("Open", 10, 0)]));
        t.add(&snapshot(2, 0, &[("Open", 30, 5)]));
        t.add(&snapshot(4, 0, &[("Late", 8, 8), ("Open", 50, 5)]));
        let data = t.to_json(START);
        assert_eq!(data["classes"][0]["name"], "Open");
        assert_eq!(data["classes"][0]["due"], json!([10.0, 20.0, 10.0]));
        assert_eq!(data["classes"][0]["dropped"], json!([0.0, 5.0, 0.0]));
        assert_eq!(data["classes"][1]["name"], "Late");
        assert_eq!(data["classes"][1]["due"], json!([0.0, 0.0, 4.0]));
        assert_eq!(data["t"], json!([1.0, 2.0, 4.0]));
        assert_eq!(data["p50"], json!([null, null, null]));
    }

    /// Request names, error texts, messages and the command line come from users: none
    /// can add markup or end the data block.
    #[test]
    fn user_strings_are_escaped() {
        let evil = "</script><script>alert(1)</script><img src=x onerror=alert(2)>&\u{2028}";
        let mut s = snapshot(1, 0, &[(evil, 1, 0)]);
        let mut window = Window::default();
        let mut e = Entry::of_samples(&[(5_000, START + 0.5)]);
        e.num_failures = 1;
        let count = ErrorCount {
            occurrences: 1,
            first_seen: START + 0.5,
            last_seen: START + 0.5,
        };
        e.errors.insert(evil.to_string(), count);
        window.entries.insert((evil.into(), evil.into()), e);
        s.window = Arc::new(window);
        s.totals = s.window.clone();
        let exception = ExceptionCount {
            count: 1,
            msg: evil.into(),
            traceback: evil.into(),
        };
        s.exceptions = Arc::new([(evil.to_string(), exception)].into());
        s.thresholds = Arc::new(vec![ThresholdState {
            spec: evil.into(),
            value: Some(evil.into()),
            ok: false,
        }]);
        let info = RunInfo {
            start_time: START,
            host: Some(evil.into()),
            command_line: vec!["boomer".into(), evil.into()],
            ..RunInfo::default()
        };
        let mut t = timeline(10);
        t.add(&s);
        let html = page(&info, Some(&s), &t);
        // The page's own two scripts, and nothing else that could run.
        assert_eq!(html.matches("<script").count(), 2, "{html}");
        assert_eq!(html.matches("</script>").count(), 2, "{html}");
        assert!(!html.contains("<img"), "{html}");
        let data = html
            .split("<script type=\"application/json\" id=\"data\">")
            .nth(1)
            .and_then(|rest| rest.split("</script>").next())
            .expect("the data block");
        assert!(!data.contains('<') && !data.contains('\u{2028}'), "{data}");
        // Escaped, the data still reads back as the very text.
        let back: Value = serde_json::from_str(data).expect("JSON");
        assert_eq!(back["timeline"]["classes"][0]["name"], evil);
        // Every table shows the text, escaped.
        let shown = "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x";
        for id in [
            "requests",
            "failures",
            "exceptions",
            "thresholds",
            "arrivals",
            "parameters",
        ] {
            let at = html.find(&format!("id=\"{id}\"")).expect(id);
            assert!(html[at..].contains(shown), "{id}");
        }
        assert!(html.contains(&format!("content=\"{CSP}\"")));
    }

    /// The tables have Locust's rows: an entry per name, then Aggregated; the response
    /// times only for entries with requests; no thresholds, exceptions or arrivals
    /// sections when there are none.
    #[test]
    fn the_tables_have_locust_s_rows() {
        let s = snapshot(2, 200, &[]);
        let info = RunInfo {
            start_time: START,
            users: 3,
            spawn_rate: 1.5,
            run_time: Some(Duration::from_secs(2)),
            ..RunInfo::default()
        };
        let mut t = timeline(10);
        t.add(&s);
        let html = page(&info, Some(&s), &t);
        let requests = &html[html.find("id=\"requests\"").expect("table")..];
        let requests = &requests[..requests.find("</table>").expect("end")];
        assert_eq!(requests.matches("<tr>").count(), 3, "{requests}");
        let n = |v: &str| format!("<td class=\"n\">{v}</td>");
        let row = format!("<td>GET</td><td>/a</td>{}{}", n("200"), n("0"));
        assert!(requests.contains(&row), "{requests}");
        let row = format!("<td></td><td>Aggregated</td>{}", n("200"));
        assert!(requests.contains(&row), "{requests}");
        for absent in ["Thresholds", "Exceptions Statistics", "Arrivals"] {
            assert!(!html.contains(&format!("<h2>{absent}</h2>")), "{absent}");
        }
        assert!(html.contains("<td>2023-11-14T22:13:20Z - 2023-11-14T22:13:22Z (0:00:02)</td>"));
        // An empty run still writes a page.
        let html = page(&info, None, &timeline(10));
        assert!(
            html.contains("<h2>Request Statistics</h2>")
                && !html.contains("<h2>Response Time Statistics</h2>")
        );
    }
}

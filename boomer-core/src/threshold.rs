//! `--threshold`: pass/fail criteria on a run's statistics (`p95<300ms`,
//! `/cart:fail_ratio<1%`, `rps>1000`), in k6's vocabulary where it fits, so that a load test
//! in CI fails by its exit code instead of by someone reading the tables.
//!
//! A threshold is judged on the totals since the start of the test, with the numbers the
//! console and the CSV files print for the same run (the same [`Entry`] readers), at every
//! report: each second standalone, at each 3 s stats report in a worker. A threshold that
//! goes from holding to breached is logged as a warning (which a worker forwards to its
//! master's Logs tab); standalone `--threshold-abort` ends the test at the first breach; at
//! the end every threshold is judged once more on the final totals, printed in a table
//! after Locust's and written to `NAME_thresholds.json` with `--json-file NAME`.
//!
//! # The spec: `[NAME:]METRIC OP VALUE[UNIT]`
//!
//! - NAME, before the **last** `:` (the condition never contains one, so a name may:
//!   `http://shop:8080/cart:p95<300ms`): the rows named NAME, whatever their method, or the
//!   row whose `METHOD NAME` is NAME (`GET /cart`, as the tables show it), merged. Without
//!   it, the `Aggregated` row.
//! - METRIC: `pN` or `p(N)` (any percentile, 0 < N <= 100: `p95`, `p(99.9)`), `avg`, `min`,
//!   `max`, `med` (Locust's median: the tables' `Med` column), `fail_ratio`, `fails` and
//!   `reqs` (counts), `rps` (requests per second over the run so far, Locust's total rps).
//! - OP: `<`, `<=`, `>`, `>=`.
//! - VALUE: times in `ms` (the default) or `s`; `fail_ratio` as a percentage (`1%`) or a
//!   ratio from 0 to 1 (`0.01`); plain numbers for the others.

use std::fmt::Write as _;
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::locust::PERCENTILES;
use crate::output::{Output, Snapshot, ThresholdState};
use crate::stats::{Entry, Window};
use crate::ParseError;

/// One `--threshold`: a condition on one row of the statistics (see the
/// [module docs](self) for the spec).
///
/// ```
/// use boomer_core::threshold::Threshold;
/// let t: Threshold = "GET /cart:p(99.9)<1.5s".parse().unwrap();
/// assert_eq!(t.spec(), "GET /cart:p(99.9)<1.5s");
/// assert!("p95<300 apples".parse::<Threshold>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    spec: String,
    /// The request name (or `METHOD NAME`) it reads; `None`: the Aggregated row.
    name: Option<String>,
    metric: Metric,
    op: Op,
    /// The limit in the metric's base unit: ms, a ratio, requests/s or a count.
    limit: f64,
    /// How the spec wrote the limit, which is how values are shown.
    unit: Unit,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Metric {
    /// A fraction, 0 < p <= 1.
    Percentile(f64),
    Avg,
    Min,
    Max,
    Med,
    FailRatio,
    Fails,
    Reqs,
    Rps,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Unit {
    Ms,
    S,
    Percent,
    Ratio,
    Count,
    PerSecond,
}

impl FromStr for Threshold {
    type Err = ParseError;

    fn from_str(spec: &str) -> Result<Self, ParseError> {
        let (name, condition) = match spec.rsplit_once(':') {
            Some((name, condition)) => {
                let name = name.trim();
                if name.is_empty() {
                    return Err(bad(
                        spec,
                        "the name before `:` is empty (leave out the `:` for the Aggregated row)",
                    ));
                }
                (Some(name.to_string()), condition)
            }
            None => (None, spec),
        };
        let at = condition
            .find(['<', '>'])
            .ok_or_else(|| bad(spec, "no comparison: use <, <=, > or >="))?;
        let (metric_text, rest) = condition.split_at(at);
        let (op, value_text) = match rest.as_bytes() {
            [b'<', b'=', ..] => (Op::Le, &rest[2..]),
            [b'>', b'=', ..] => (Op::Ge, &rest[2..]),
            [b'<', ..] => (Op::Lt, &rest[1..]),
            _ => (Op::Gt, &rest[1..]),
        };
        let metric = parse_metric(metric_text.trim()).map_err(|why| bad(spec, &why))?;
        let (limit, unit) =
            parse_value(metric, value_text.trim()).map_err(|why| bad(spec, &why))?;
        Ok(Threshold {
            spec: spec.to_string(),
            name,
            metric,
            op,
            limit,
            unit,
        })
    }
}

fn bad(spec: &str, why: &str) -> ParseError {
    ParseError(format!(
        "invalid threshold {spec:?}: {why}; write [NAME:]METRIC OP VALUE, e.g. p95<300ms, \
         fail_ratio<1%, rps>1000 or \"GET /cart:avg<50ms\""
    ))
}

fn parse_metric(text: &str) -> Result<Metric, String> {
    Ok(match text.to_ascii_lowercase().as_str() {
        "avg" => Metric::Avg,
        "min" => Metric::Min,
        "max" => Metric::Max,
        "med" | "median" => Metric::Med,
        "fail_ratio" => Metric::FailRatio,
        "fails" => Metric::Fails,
        "reqs" => Metric::Reqs,
        "rps" => Metric::Rps,
        other => {
            let number = other
                .strip_prefix("p(")
                .and_then(|p| p.strip_suffix(')'))
                .or_else(|| other.strip_prefix('p'))
                .ok_or_else(|| {
                    format!(
                        "unknown metric {text:?}: use pN or p(N) (a percentile), avg, min, max, \
                         med, fail_ratio, fails, reqs or rps"
                    )
                })?;
            match number.trim().parse::<f64>() {
                Ok(n) if n > 0.0 && n <= 100.0 => Metric::Percentile(percentile_fraction(n)),
                _ => {
                    return Err(format!(
                        "{text:?}: a percentile is from 0 (excluded) to 100"
                    ))
                }
            }
        }
    })
}

/// `n` percent as the fraction the tables use for it: Locust's own constant when it is one
/// of theirs (`99.9 / 100` is not exactly `0.999`, and the rank is `int(count * p) + 1`).
fn percentile_fraction(n: f64) -> f64 {
    let p = n / 100.0;
    PERCENTILES
        .into_iter()
        .find(|q| (q - p).abs() < 1e-9)
        .unwrap_or(p)
}

/// The limit in the metric's base unit, and the unit it was written in.
fn parse_value(metric: Metric, text: &str) -> Result<(f64, Unit), String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = match number.parse() {
        Ok(n) if f64::is_finite(n) => n,
        _ => return Err(format!("{text:?} is not a number (with its unit)")),
    };
    let unit = unit.trim();
    match metric {
        Metric::Percentile(_) | Metric::Avg | Metric::Min | Metric::Max | Metric::Med => match unit
        {
            "" | "ms" => Ok((number, Unit::Ms)),
            "s" => Ok((number * 1000.0, Unit::S)),
            _ => Err(format!("a time is in ms (the default) or s, not {unit:?}")),
        },
        Metric::FailRatio => match unit {
            "%" if number <= 100.0 => Ok((number / 100.0, Unit::Percent)),
            "" if number <= 1.0 => Ok((number, Unit::Ratio)),
            "" | "%" => Err(format!(
                "a fail ratio is from 0 to 1 or from 0% to 100%, not {text:?}"
            )),
            _ => Err(format!(
                "a fail ratio is a percentage (1%) or a ratio (0.01), not {unit:?}"
            )),
        },
        Metric::Fails | Metric::Reqs | Metric::Rps => match unit {
            "" => Ok((
                number,
                if metric == Metric::Rps {
                    Unit::PerSecond
                } else {
                    Unit::Count
                },
            )),
            _ => Err(format!("{text:?}: a count or a rate takes no unit")),
        },
    }
}

impl Threshold {
    /// The threshold as given on the command line.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// Its value on `totals` (in the base unit: ms, a ratio, per second, a count), with
    /// `aggregated` the totals' Aggregated row; `None` when its row has no request.
    fn value(&self, totals: &Window, aggregated: &Entry, start_time: f64) -> Option<f64> {
        let selected;
        let e = match &self.name {
            None => aggregated,
            Some(name) => {
                selected = select(totals, name)?;
                &selected
            }
        };
        if e.num_requests() == 0 {
            return None;
        }
        Some(match self.metric {
            Metric::Percentile(p) => e.response_time_percentile(p) as f64,
            Metric::Avg => e.avg_response_time(),
            Metric::Min => e.min_response_time(),
            Metric::Max => e.max_response_time(),
            Metric::Med => e.median_response_time(),
            Metric::FailRatio => e.fail_ratio(),
            Metric::Fails => e.num_failures() as f64,
            Metric::Reqs => e.num_requests() as f64,
            Metric::Rps => e.total_rates(start_time, totals.last_request()).0,
        })
    }

    fn holds(&self, value: f64) -> bool {
        match self.op {
            Op::Lt => value < self.limit,
            Op::Le => value <= self.limit,
            Op::Gt => value > self.limit,
            Op::Ge => value >= self.limit,
        }
    }

    /// `value` (in the base unit) as the spec writes its limit: `212 ms`, `1.25 s`,
    /// `0.4 %`, `1234.57 req/s`.
    fn show(&self, value: f64) -> String {
        match self.unit {
            Unit::Ms => format!("{} ms", decimals(value, 2)),
            Unit::S => format!("{} s", decimals(value / 1000.0, 3)),
            Unit::Percent => format!("{} %", decimals(value * 100.0, 2)),
            Unit::Ratio => decimals(value, 4),
            Unit::Count => decimals(value, 0),
            Unit::PerSecond => format!("{} req/s", decimals(value, 2)),
        }
    }

    fn metric_name(&self) -> String {
        match self.metric {
            Metric::Percentile(p) => format!("p({})", decimals(p * 100.0, 4)),
            Metric::Avg => "avg".into(),
            Metric::Min => "min".into(),
            Metric::Max => "max".into(),
            Metric::Med => "med".into(),
            Metric::FailRatio => "fail_ratio".into(),
            Metric::Fails => "fails".into(),
            Metric::Reqs => "reqs".into(),
            Metric::Rps => "rps".into(),
        }
    }
}

/// The rows `name` selects, merged: those named `name`, and the one whose `METHOD NAME` is
/// `name`. `None` when there is none.
fn select(totals: &Window, name: &str) -> Option<Entry> {
    let mut rows = totals
        .entries
        .iter()
        .filter(|((method, n), _)| {
            n == name
                || name
                    .strip_prefix(method.as_str())
                    .and_then(|rest| rest.strip_prefix(' '))
                    == Some(n.as_str())
        })
        .map(|(_, e)| e);
    let mut merged = rows.next()?.clone();
    for e in rows {
        merged.merge(e);
    }
    Some(merged)
}

/// `x` with at most `places` decimals, without trailing zeros.
fn decimals(x: f64, places: usize) -> String {
    let text = format!("{x:.places$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// The exit code of a run whose threshold number `index` (from 0, in the order given) was
/// the first to fail: 10 + `index`, at most 99.
pub(crate) fn exit_code(index: usize) -> u8 {
    u8::try_from(index.min(89)).map_or(99, |i| 10 + i)
}

/// The thresholds of a run, judged at every report on the totals since the start.
pub(crate) struct Judge {
    thresholds: Vec<Threshold>,
    /// Since the start (or the last reset); only what the thresholds read is kept.
    totals: Window,
    start_time: f64,
    /// Whether each threshold was breached at the previous report (to log a change once).
    breached: Vec<bool>,
    /// `--threshold-abort`'s grace period; `None` without `--threshold-abort`.
    abort_after: Option<Duration>,
    started: Instant,
    /// The threshold that stopped the test, if one did.
    aborted_by: Option<usize>,
    /// Said after a breach: whose statistics these are.
    scope: &'static str,
}

impl Judge {
    /// The judge of `opts`' thresholds, `None` without any. `worker`: a worker judges its
    /// own share of the load, and never aborts.
    pub(crate) fn new(opts: &crate::Options, start_time: f64, worker: bool) -> Option<Self> {
        let out = &opts.output;
        if out.thresholds.is_empty() {
            return None;
        }
        let abort = out.threshold_abort && !worker;
        Some(Judge {
            breached: vec![false; out.thresholds.len()],
            thresholds: out.thresholds.clone(),
            totals: Window::default(),
            start_time,
            abort_after: abort.then(|| out.threshold_grace.unwrap_or_default()),
            started: Instant::now(),
            aborted_by: None,
            scope: if worker { " (this worker's share)" } else { "" },
        })
    }

    /// A new test (or `--reset-stats`): the totals start again from nothing (the grace
    /// period still counts from the start).
    pub(crate) fn reset(&mut self, start_time: f64) {
        self.totals = Window::default();
        self.start_time = start_time;
        self.breached.fill(false);
    }

    /// When the totals' rates count from, in seconds since the Unix epoch.
    pub(crate) fn start_time(&self) -> f64 {
        self.start_time
    }

    /// Adds a report window to the totals and judges every threshold on them; logs each
    /// threshold that breaks (and holds again) since the previous report.
    pub(crate) fn observe(&mut self, window: &Window) -> Vec<ThresholdState> {
        self.add(window);
        let values = self.values();
        let mut states = Vec::with_capacity(values.len());
        for (i, (t, value)) in self.thresholds.iter().zip(values).enumerate() {
            let breached = value.is_some_and(|v| !t.holds(v));
            let shown = value.map(|v| t.show(v));
            match (self.breached[i], breached, &shown) {
                (false, true, Some(v)) => {
                    tracing::warn!("threshold {:?} breached: {v}{}", t.spec, self.scope)
                }
                (true, false, Some(v)) => {
                    tracing::info!("threshold {:?} holds again: {v}{}", t.spec, self.scope)
                }
                _ => {}
            }
            self.breached[i] = breached;
            states.push(ThresholdState {
                spec: t.spec.clone(),
                value: shown,
                ok: !breached,
            });
        }
        states
    }

    /// `--threshold-abort`: the first breached threshold, once the grace period is over
    /// (logged, and remembered as failed whatever the final totals say).
    pub(crate) fn abort_now(&mut self) -> Option<usize> {
        let grace = self.abort_after?;
        if self.aborted_by.is_some() || self.started.elapsed() < grace {
            return None;
        }
        let i = self.breached.iter().position(|&b| b)?;
        self.aborted_by = Some(i);
        tracing::warn!(
            "stopping the test (--threshold-abort): threshold {:?} is breached",
            self.thresholds[i].spec
        );
        Some(i)
    }

    /// The final judgement, on the totals with the last window added: as
    /// [`observe`](Self::observe), except that a threshold whose row saw no request fails
    /// (a misspelt name must not pass), and so does the one that stopped the test.
    pub(crate) fn verdict(&mut self, window: &Window) -> Vec<ThresholdState> {
        let mut states = self.observe(window);
        for (i, state) in states.iter_mut().enumerate() {
            if state.value.is_none() || self.aborted_by == Some(i) {
                state.ok = false;
            }
        }
        states
    }

    fn add(&mut self, window: &Window) {
        self.totals.merge(window);
        // Neither the per-second counts nor the errors are read: the totals stay the same
        // size however long the run.
        for e in self.totals.entries.values_mut() {
            e.num_reqs_per_sec.clear();
            e.num_fail_per_sec.clear();
            e.errors.clear();
        }
    }

    fn values(&self) -> Vec<Option<f64>> {
        values(&self.thresholds, &self.totals, self.start_time)
    }
}

/// Every threshold's value on `totals` (the Aggregated row merged once for all).
fn values(thresholds: &[Threshold], totals: &Window, start_time: f64) -> Vec<Option<f64>> {
    let aggregated = if thresholds.iter().any(|t| t.name.is_none()) {
        totals.total()
    } else {
        Entry::default()
    };
    thresholds
        .iter()
        .map(|t| t.value(totals, &aggregated, start_time))
        .collect()
}

/// The index of the first failed threshold of a final judgement.
pub(crate) fn first_failed(states: &[ThresholdState]) -> Option<usize> {
    states.iter().position(|s| !s.ok)
}

/// The table printed after Locust's at the end of a run: every threshold, its value on the
/// final totals, and whether it passed. Empty without thresholds.
pub(crate) fn summary_table(states: &[ThresholdState]) -> String {
    if states.is_empty() {
        return String::new();
    }
    let spec_w = states
        .iter()
        .map(|s| s.spec.chars().count())
        .max()
        .unwrap_or(0)
        .max("Threshold".len());
    let value_w = states
        .iter()
        .map(|s| s.value.as_deref().map_or(11, |v| v.chars().count()))
        .max()
        .unwrap_or(0)
        .max("Value".len());
    let mut out = format!(
        "Thresholds\n{:<spec_w$} | {:>value_w$} | Result\n",
        "Threshold", "Value"
    );
    let sep = format!(
        "{}-|-{}-|-------\n",
        "-".repeat(spec_w),
        "-".repeat(value_w)
    );
    out.push_str(&sep);
    for s in states {
        let value = s.value.as_deref().unwrap_or("no requests");
        let result = if s.ok { "pass" } else { "FAIL" };
        let _ = writeln!(out, "{:<spec_w$} | {value:>value_w$} | {result}", s.spec);
    }
    out.push_str(&sep);
    let failed = states.iter().filter(|s| !s.ok).count();
    let _ = match first_failed(states) {
        None => writeln!(out, "All {} thresholds passed", states.len()),
        Some(i) => writeln!(
            out,
            "{failed} of {} thresholds failed (exit code {}: {:?} is the first)",
            states.len(),
            exit_code(i),
            states[i].spec
        ),
    };
    out
}

/// `--json-file NAME` with thresholds: `NAME_thresholds.json`, the final judgement of every
/// threshold (`NAME.json` stays Locust's own array, which tools compare with Locust's).
pub(crate) struct ThresholdsJson {
    thresholds: Vec<Threshold>,
    path: String,
    file: std::fs::File,
    last: Option<Snapshot>,
}

impl ThresholdsJson {
    /// Creates `NAME_thresholds.json` now, so that a bad folder fails before the test.
    pub(crate) fn create(name: &str, thresholds: Vec<Threshold>) -> std::io::Result<Self> {
        let path = format!("{name}_thresholds.json");
        let file = std::fs::File::create(&path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot create {path}: {e}")))?;
        Ok(ThresholdsJson {
            thresholds,
            path,
            file,
            last: None,
        })
    }

    /// The document: the final states (the runner's judgement) with the numbers behind
    /// them, read from the same totals.
    fn document(&self, s: &Snapshot) -> serde_json::Value {
        use serde_json::json;
        let values = values(&self.thresholds, &s.totals, s.start_time);
        let rows: Vec<serde_json::Value> = self
            .thresholds
            .iter()
            .zip(values)
            .zip(s.thresholds.iter())
            .map(|((t, value), state)| {
                json!({
                    "spec": t.spec,
                    "name": t.name,
                    "metric": t.metric_name(),
                    "op": match t.op { Op::Lt => "<", Op::Le => "<=", Op::Gt => ">", Op::Ge => ">=" },
                    "limit": t.limit,
                    "unit": base_unit(t.metric),
                    "value": value,
                    "shown": state.value,
                    "passed": state.ok,
                })
            })
            .collect();
        let first = first_failed(&s.thresholds);
        json!({
            "passed": first.is_none(),
            "first_failed": first,
            "exit_code": first.map(exit_code),
            "thresholds": rows,
        })
    }
}

/// The unit of a threshold's `limit` and `value` in the JSON.
fn base_unit(metric: Metric) -> &'static str {
    match metric {
        Metric::FailRatio => "ratio",
        Metric::Fails | Metric::Reqs => "count",
        Metric::Rps => "per_second",
        _ => "ms",
    }
}

impl Output for ThresholdsJson {
    fn on_report(&mut self, snapshot: Snapshot) {
        self.last = Some(snapshot);
    }

    fn on_stop(&mut self) {
        use std::io::Write;
        let Some(s) = self.last.take() else { return };
        if s.thresholds.len() != self.thresholds.len() {
            tracing::error!(
                "{}: no final judgement of the thresholds to write",
                self.path
            );
            return;
        }
        let doc = self.document(&s);
        let written = serde_json::to_vec_pretty(&doc)
            .map_err(std::io::Error::from)
            .and_then(|text| self.file.write_all(&text))
            .and_then(|()| self.file.write_all(b"\n"))
            .and_then(|()| self.file.flush());
        if let Err(e) = written {
            tracing::error!("cannot write {}: {e}", self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(spec: &str) -> Threshold {
        spec.parse()
            .unwrap_or_else(|e| panic!("{spec:?} refused: {e}"))
    }

    fn refused(spec: &str) -> String {
        match spec.parse::<Threshold>() {
            Ok(t) => panic!("{spec:?} taken: {t:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn specs_parse_with_their_units() {
        let p95 = t("p95<300ms");
        assert_eq!(
            (p95.name.as_deref(), p95.metric, p95.op, p95.limit, p95.unit),
            (None, Metric::Percentile(0.95), Op::Lt, 300.0, Unit::Ms)
        );
        assert_eq!(t("p(99.9) <= 1.5s").metric, Metric::Percentile(0.999));
        assert_eq!(t("p(99.9) <= 1.5s").limit, 1500.0);
        assert_eq!(t("P99.9<2").metric, Metric::Percentile(0.999));
        assert_eq!(t("p50<2").limit, 2.0);
        assert_eq!(t("p(97.5)<2").metric, Metric::Percentile(0.975));
        let ratio = t("fail_ratio<1%");
        assert_eq!((ratio.limit, ratio.unit), (0.01, Unit::Percent));
        let ratio = t("fail_ratio < 0.01");
        assert_eq!((ratio.limit, ratio.unit), (0.01, Unit::Ratio));
        let rps = t("rps>=1000");
        assert_eq!(
            (rps.metric, rps.op, rps.limit),
            (Metric::Rps, Op::Ge, 1000.0)
        );
        assert_eq!(t("avg>50").op, Op::Gt);
        for (spec, metric) in [
            ("min<1", Metric::Min),
            ("max<1", Metric::Max),
            ("med<1", Metric::Med),
            ("median<1", Metric::Med),
            ("fails<1", Metric::Fails),
            ("reqs>1", Metric::Reqs),
        ] {
            assert_eq!(t(spec).metric, metric, "{spec}");
        }
    }

    /// The name is what comes before the last `:`: names may hold `/`, `:` and spaces.
    #[test]
    fn names_split_at_the_last_colon() {
        assert_eq!(t("/cart:p95<300ms").name.as_deref(), Some("/cart"));
        assert_eq!(t("GET /cart:avg<50ms").name.as_deref(), Some("GET /cart"));
        let url = t("http://shop:8080/a?b=c:fail_ratio<1%");
        assert_eq!(url.name.as_deref(), Some("http://shop:8080/a?b=c"));
        assert_eq!(url.metric, Metric::FailRatio);
        assert_eq!(t(" checkout : p99 < 1s").name.as_deref(), Some("checkout"));
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        for (spec, why) in [
            ("p95", "no comparison"),
            ("p95=300", "no comparison"),
            (":p95<300", "name before `:` is empty"),
            ("p95<300 apples", "a time is in ms"),
            ("p95<300%", "a time is in ms"),
            ("p95<", "not a number"),
            ("p95<-3", "not a number"),
            ("p95<1e3", "a time is in ms"),
            ("p0<300", "a percentile is from 0"),
            ("p101<300", "a percentile is from 0"),
            ("p(x)<300", "a percentile is from 0"),
            ("latency<300", "unknown metric"),
            ("<300", "unknown metric"),
            ("fail_ratio<5", "from 0 to 1"),
            ("fail_ratio<101%", "from 0 to 1"),
            ("fail_ratio<1ms", "a percentage"),
            ("rps>10/s", "takes no unit"),
            ("p95<<300", "not a number"),
            ("p95<NaN", "not a number"),
        ] {
            let msg = refused(spec);
            assert!(msg.contains(why), "{spec:?}: {msg}");
            assert!(msg.contains("e.g. p95<300ms"), "{spec:?}: {msg}");
        }
    }

    /// A row of a test window: method, name, samples (µs, epoch seconds), failures.
    type Row<'a> = (&'a str, &'a str, &'a [(u64, f64)], u64);

    fn window(rows: &[Row<'_>]) -> Window {
        let mut w = Window::default();
        for &(method, name, samples, failures) in rows {
            let mut e = Entry::of_samples(samples);
            e.num_failures = failures;
            w.entries.insert((method.into(), name.into()), e);
        }
        w
    }

    /// 100 samples of 1..=100 ms on GET /a (5 failed), 10 of 500 ms on POST /a, over 10 s.
    fn run() -> Window {
        let a: Vec<(u64, f64)> = (1..=100)
            .map(|ms| (ms * 1000, 1000.0 + ms as f64 / 10.0))
            .collect();
        let b: Vec<(u64, f64)> = (0..10).map(|i| (500_000, 1000.0 + i as f64)).collect();
        window(&[("GET", "/a", &a, 5), ("POST", "/a", &b, 0)])
    }

    fn value(spec: &str, totals: &Window) -> Option<f64> {
        let th = [t(spec)];
        values(&th, totals, 1000.0)[0]
    }

    /// Values are the tables' for the same totals: the percentile and median columns, the
    /// average, the fail ratio, Locust's total rps.
    #[test]
    fn values_are_the_tables_numbers() {
        let w = run();
        let total = w.total();
        assert_eq!(
            value("p95<1", &w),
            Some(total.response_time_percentile(0.95) as f64)
        );
        assert_eq!(
            value("p99.9<1", &w),
            Some(total.response_time_percentile(0.999) as f64)
        );
        assert_eq!(value("med<1", &w), Some(total.median_response_time()));
        assert_eq!(value("avg<1", &w), Some(total.avg_response_time()));
        assert_eq!(value("max<1", &w), Some(500.0));
        assert_eq!(value("min<1", &w), Some(1.0));
        assert_eq!(value("fails<1", &w), Some(5.0));
        assert_eq!(value("reqs<1", &w), Some(110.0));
        assert_eq!(value("fail_ratio<1", &w), Some(5.0 / 110.0));
        // 110 requests from 1000.0 to the last at 1010.0.
        assert_eq!(value("rps<1", &w), Some(11.0));
        // A name selects every method's row; `METHOD NAME` one row.
        assert_eq!(value("/a:reqs<1", &w), Some(110.0));
        assert_eq!(value("GET /a:reqs<1", &w), Some(100.0));
        // Locust's rank: the 51st of 100.
        assert_eq!(value("GET /a:p50<1", &w), Some(51.0));
        assert_eq!(value("POST /a:avg<1", &w), Some(500.0));
        assert_eq!(value("POST /a:fail_ratio<1", &w), Some(0.0));
        // Nothing recorded for it: no value (not a 0 that would pass a `<`).
        assert_eq!(value("/b:p95<1", &w), None);
        assert_eq!(value("DELETE /a:p95<1", &w), None);
        assert_eq!(value("p95<1", &Window::default()), None);
    }

    #[test]
    fn comparisons_and_shown_values() {
        assert!(t("p95<300").holds(299.0) && !t("p95<300").holds(300.0));
        assert!(t("p95<=300").holds(300.0) && !t("p95<=300").holds(300.5));
        assert!(t("rps>10").holds(10.5) && !t("rps>10").holds(10.0));
        assert!(t("rps>=10").holds(10.0) && !t("rps>=10").holds(9.99));
        assert_eq!(t("p95<300ms").show(212.0), "212 ms");
        assert_eq!(t("avg<300").show(100.456), "100.46 ms");
        assert_eq!(t("p95<1s").show(1250.0), "1.25 s");
        assert_eq!(t("fail_ratio<1%").show(0.004), "0.4 %");
        assert_eq!(t("fail_ratio<0.01").show(0.004), "0.004");
        assert_eq!(t("rps>1").show(1234.567), "1234.57 req/s");
        assert_eq!(t("fails<1").show(3.0), "3");
    }

    #[test]
    fn exit_codes_name_the_first_failed_threshold() {
        assert_eq!((exit_code(0), exit_code(5), exit_code(89)), (10, 15, 99));
        assert_eq!((exit_code(90), exit_code(usize::MAX)), (99, 99));
    }

    fn judge(specs: &[&str], abort: bool, grace: Duration) -> Judge {
        let mut opts = crate::Options::default();
        opts.output.thresholds = specs.iter().map(|s| t(s)).collect();
        opts.output.threshold_abort = abort;
        opts.output.threshold_grace = Some(grace);
        Judge::new(&opts, 1000.0, false).expect("thresholds")
    }

    /// Judged on the totals since the start, not on each window; a breach stops the test
    /// only with --threshold-abort, and after its grace period.
    #[test]
    fn the_judge_reads_the_totals_and_aborts_on_a_breach() {
        let mut j = judge(
            &["p50<100ms", "GET /a:fails<6", "/b:max<1s"],
            true,
            Duration::ZERO,
        );
        let fast: Vec<(u64, f64)> = (0..10).map(|i| (10_000, 1000.0 + i as f64)).collect();
        let slow: Vec<(u64, f64)> = (0..9).map(|i| (900_000, 1010.0 + i as f64)).collect();
        let states = j.observe(&window(&[("GET", "/a", &fast, 3)]));
        assert_eq!(
            states
                .iter()
                .map(|s| (s.value.as_deref(), s.ok))
                .collect::<Vec<_>>(),
            [(Some("10 ms"), true), (Some("3"), true), (None, true)]
        );
        assert_eq!(j.abort_now(), None);
        // 9 slow ones: the median of the 19 is still fast; 6 failures in all break the second.
        let states = j.observe(&window(&[("GET", "/a", &slow, 3)]));
        assert_eq!(
            states
                .iter()
                .map(|s| (s.value.as_deref(), s.ok))
                .collect::<Vec<_>>(),
            [(Some("10 ms"), true), (Some("6"), false), (None, true)]
        );
        assert_eq!(j.abort_now(), Some(1));
        assert_eq!(j.abort_now(), None, "once");
        // The end: no request for /b fails it, the aborting one fails whatever it reads.
        let end = j.verdict(&Window::default());
        assert_eq!(
            end.iter().map(|s| s.ok).collect::<Vec<_>>(),
            [true, false, false]
        );
        assert_eq!(first_failed(&end), Some(1));

        // Without --threshold-abort, or within the grace period: no abort.
        for mut j in [
            judge(&["p50<1ms"], false, Duration::ZERO),
            judge(&["p50<1ms"], true, Duration::from_secs(3600)),
        ] {
            j.observe(&window(&[("GET", "/a", &fast, 0)]));
            assert!(!j.observe(&Window::default())[0].ok);
            assert_eq!(j.abort_now(), None);
        }
    }

    /// A reset (a new test in a worker, --reset-stats) forgets what the totals held.
    #[test]
    fn a_reset_starts_the_totals_again() {
        let mut j = judge(&["reqs<15"], false, Duration::ZERO);
        let ten: Vec<(u64, f64)> = (0..10).map(|i| (1_000, 1000.0 + i as f64)).collect();
        assert!(j.observe(&window(&[("GET", "/a", &ten, 0)]))[0].ok);
        assert!(!j.observe(&window(&[("GET", "/a", &ten, 0)]))[0].ok);
        j.reset(2000.0);
        let state = &j.observe(&window(&[("GET", "/a", &ten, 0)]))[0];
        assert_eq!((state.value.as_deref(), state.ok), (Some("10"), true));
        assert!(j
            .totals
            .entries
            .values()
            .all(|e| e.num_reqs_per_sec.is_empty()));
    }

    #[test]
    fn the_summary_table_lists_every_threshold() {
        let states = [
            ThresholdState {
                spec: "p95<300ms".into(),
                value: Some("1200 ms".into()),
                ok: false,
            },
            ThresholdState {
                spec: "GET /cart:fail_ratio<1%".into(),
                value: Some("0 %".into()),
                ok: true,
            },
            ThresholdState {
                spec: "/b:p50<1".into(),
                value: None,
                ok: false,
            },
        ];
        let table = summary_table(&states);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "Thresholds");
        assert_eq!(lines[1], "Threshold               |       Value | Result");
        assert_eq!(lines[3], "p95<300ms               |     1200 ms | FAIL");
        assert_eq!(lines[4], "GET /cart:fail_ratio<1% |         0 % | pass");
        assert_eq!(lines[5], "/b:p50<1                | no requests | FAIL");
        assert_eq!(
            lines[7],
            "2 of 3 thresholds failed (exit code 10: \"p95<300ms\" is the first)"
        );
        assert_eq!(summary_table(&[]), "");
    }
}

//! Where results go besides the master: the console, CSV and JSON files, the HTML report,
//! Prometheus, or an [`Output`] of your own.
//!
//! Outputs run on a thread of their own, fed through a bounded queue: a slow sink never
//! slows the users or the control plane. When the queue is full, the next windows are merged
//! and sent later, so no sample is lost.

mod console;
mod csv;
mod html;
mod json;
mod prometheus;
mod setup;

use std::collections::BTreeMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::stats::Window;

pub use crate::locust::PERCENTILES;

pub(crate) use console::Console;
pub(crate) use csv::CsvFiles;
pub(crate) use html::HtmlReport;
pub(crate) use json::JsonSummary;
pub(crate) use prometheus::{Prometheus, Pushgateway};
pub(crate) use setup::from_options;

/// A sink for statistics: the console, files, a metrics system.
///
/// Methods run on the outputs' own thread, never on a user's or the control plane's, so
/// they may block (write files, talk to a server).
///
/// ```
/// use boomer_core::output::{Output, RunInfo, Snapshot};
///
/// struct CountRequests(u64);
///
/// impl Output for CountRequests {
///     fn on_start(&mut self, info: &RunInfo) {
///         println!("test started at {}", info.start_time);
///     }
///     fn on_report(&mut self, snapshot: Snapshot) {
///         self.0 = snapshot.totals.total().num_requests();
///     }
///     fn on_stop(&mut self) {
///         println!("{} requests in all", self.0);
///     }
/// }
///
/// let builder = boomer_core::Boomer::builder().output(CountRequests(0));
/// ```
pub trait Output: Send + 'static {
    /// The test started (standalone) or the worker started (worker mode).
    fn on_start(&mut self, _info: &RunInfo) {}
    /// A report window: every second in standalone, every 3 s in worker mode, and once at
    /// the end with the last samples.
    fn on_report(&mut self, snapshot: Snapshot);
    /// The statistics were reset (`--reset-stats`, once every user is spawned): the next
    /// snapshot's totals start again from nothing.
    fn on_reset(&mut self) {}
    /// The run is over; the last report came before this.
    fn on_stop(&mut self) {}
}

/// What a run was asked to do.
#[derive(Clone, Debug, Default)]
pub struct RunInfo {
    /// When the run started, in seconds since the Unix epoch.
    pub start_time: f64,
    /// True in standalone mode, false when a master drives the users.
    pub standalone: bool,
    /// The target user count (standalone).
    pub users: u32,
    /// Users started per second (standalone).
    pub spawn_rate: f64,
    /// How long the test runs (standalone, `-t`), if limited.
    pub run_time: Option<Duration>,
    /// The host given on the command line (`-H`), if any.
    pub host: Option<String>,
    /// The program's command line, its path first.
    pub command_line: Vec<String>,
}

/// One report: what was recorded in the last window and everything since the start.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// When the window was drained, in seconds since the Unix epoch.
    pub time: f64,
    /// When the run started, in seconds since the Unix epoch.
    pub start_time: f64,
    /// Users running when the window was drained.
    pub user_count: u32,
    /// Recorded since the previous snapshot.
    pub window: Arc<Window>,
    /// Recorded since the start (with high-resolution percentiles in standalone).
    pub totals: Arc<Window>,
    /// Panics in tasks and handlers since the start, grouped as Locust's master groups
    /// them: by traceback (`panic in <what> at <file:line>`), so one panic site is one row
    /// with a count, whatever the messages.
    pub exceptions: Arc<BTreeMap<String, ExceptionCount>>,
    /// Arrival-driven (open-model) user classes, by class name: their iterations due and
    /// dropped since the start. Empty when no class is arrival-driven.
    pub arrivals: Arc<BTreeMap<String, ArrivalCount>>,
    /// Every `--threshold` with its value at this snapshot, in the order given. Empty
    /// without thresholds.
    pub thresholds: Arc<Vec<ThresholdState>>,
}

/// What an arrival-driven user class was asked for and what it could not start, since the
/// start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ArrivalCount {
    /// Iterations that came due (started or dropped).
    pub due: u64,
    /// Iterations dropped: due while every user of the class was busy, for longer than the
    /// class's lag limit.
    pub dropped: u64,
    /// The class's arrival rate for this worker at the snapshot, per second.
    pub rate: f64,
}

/// One `--threshold` and where it stands.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ThresholdState {
    /// The threshold as given (`"p95<300ms"`, `"checkout:fail_ratio<1%"`).
    pub spec: String,
    /// The observed value in the threshold's unit, shown (`"212 ms"`, `"0.4 %"`); `None`
    /// while nothing was recorded for it.
    pub value: Option<String>,
    /// True while the threshold holds (or has nothing to judge yet). The last snapshot of a
    /// standalone run holds the final judgement: false there also for a threshold whose row
    /// saw no request, and for the one that stopped the test (`--threshold-abort`).
    pub ok: bool,
}

/// How often one exception (one traceback) happened.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExceptionCount {
    /// Occurrences.
    pub count: u64,
    /// The message of the first occurrence (as Locust's master shows it).
    pub msg: String,
    /// The traceback they share.
    pub traceback: String,
}

/// A window handed to the outputs by the runner or the worker.
#[derive(Default)]
pub(crate) struct Report {
    pub time: f64,
    pub user_count: u32,
    pub window: Window,
    pub exceptions: Vec<(String, String)>,
    /// Cumulative, so a later report replaces an earlier one.
    pub arrivals: BTreeMap<String, ArrivalCount>,
    /// The latest state of every threshold (replaced by a later report).
    pub thresholds: Vec<ThresholdState>,
}

impl Report {
    fn absorb(&mut self, later: Report) {
        self.time = later.time;
        self.user_count = later.user_count;
        self.window.merge(&later.window);
        self.exceptions.extend(later.exceptions);
        self.arrivals = later.arrivals;
        self.thresholds = later.thresholds;
    }
}

enum Msg {
    /// A report, and whether the totals are reset before it (`--reset-stats`).
    Report(Report, bool),
    Stop,
}

/// The queue to the outputs' thread. Inert (and free) when there are no outputs.
#[derive(Default)]
pub(crate) struct Outputs {
    tx: Option<SyncSender<Msg>>,
    backlog: Option<Report>,
    /// The next report resets the totals first.
    reset: bool,
    thread: Option<JoinHandle<()>>,
    /// The run's start as the outputs know it ([`RunInfo::start_time`]; 0 when inert).
    start_time: f64,
}

/// Reports waiting for a slow output before the runner merges windows instead.
const QUEUE: usize = 16;

impl Outputs {
    /// Starts the outputs' thread; with no outputs, nothing runs.
    pub(crate) fn start(outputs: Vec<Box<dyn Output>>, info: RunInfo) -> std::io::Result<Self> {
        if outputs.is_empty() {
            return Ok(Outputs::default());
        }
        let (tx, rx) = sync_channel(QUEUE);
        let start_time = info.start_time;
        let thread = std::thread::Builder::new()
            .name("boomer-outputs".into())
            .spawn(move || deliver(rx, outputs, info))?;
        Ok(Outputs {
            tx: Some(tx),
            backlog: None,
            reset: false,
            thread: Some(thread),
            start_time,
        })
    }

    /// The run's start (seconds since the Unix epoch) that the outputs' rates count from,
    /// if any output listens: the thresholds' `rps` counts from the same.
    pub(crate) fn start_time(&self) -> Option<f64> {
        self.active().then_some(self.start_time)
    }

    /// True when some output listens.
    pub(crate) fn active(&self) -> bool {
        self.tx.is_some()
    }

    /// Queues a report without ever waiting: if the queue is full, it is merged into the
    /// next one.
    pub(crate) fn report(&mut self, report: Report) {
        let Some(tx) = &self.tx else { return };
        let report = match self.backlog.take() {
            Some(mut earlier) => {
                earlier.absorb(report);
                earlier
            }
            None => report,
        };
        let reset = std::mem::take(&mut self.reset);
        match tx.try_send(Msg::Report(report, reset)) {
            Ok(()) => {}
            Err(TrySendError::Full(Msg::Report(r, reset))) => {
                self.backlog = Some(r);
                self.reset = reset;
            }
            Err(_) => self.tx = None,
        }
    }

    /// Forgets the totals (`--reset-stats`), from the next report on (never waiting): what
    /// was held back and not yet queued is dropped too.
    pub(crate) fn reset(&mut self) {
        self.backlog = None;
        self.reset = true;
    }

    /// Delivers what is queued, tells the outputs to stop, and waits for them to finish
    /// (files written, tables printed).
    pub(crate) fn stop(&mut self) {
        if let Some(tx) = self.tx.take() {
            if let Some(r) = self.backlog.take() {
                let _ = tx.send(Msg::Report(r, std::mem::take(&mut self.reset)));
            }
            let _ = tx.send(Msg::Stop);
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("an output panicked");
            }
        }
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        self.stop();
    }
}

fn deliver(rx: Receiver<Msg>, mut outputs: Vec<Box<dyn Output>>, info: RunInfo) {
    for o in outputs.iter_mut() {
        o.on_start(&info);
    }
    let mut totals = Arc::new(Window::default());
    let mut exceptions: Arc<BTreeMap<String, ExceptionCount>> = Arc::default();
    while let Ok(Msg::Report(report, reset)) = rx.recv() {
        if reset {
            totals = Arc::default();
            for o in outputs.iter_mut() {
                o.on_reset();
            }
        }
        // A copy only while an output still holds the previous snapshot: bounded, as what
        // the totals keep is (see `forget_old_seconds`).
        let run = Arc::make_mut(&mut totals);
        run.merge(&report.window);
        forget_old_seconds(run);
        if !report.exceptions.is_empty() {
            let all = Arc::make_mut(&mut exceptions);
            for (msg, traceback) in report.exceptions {
                count_exception(all, msg, traceback);
            }
        }
        let snapshot = Snapshot {
            time: report.time,
            start_time: info.start_time,
            user_count: report.user_count,
            window: Arc::new(report.window),
            totals: totals.clone(),
            exceptions: exceptions.clone(),
            arrivals: Arc::new(report.arrivals),
            thresholds: Arc::new(report.thresholds),
        };
        for o in outputs.iter_mut() {
            o.on_report(snapshot.clone());
        }
    }
    for o in outputs.iter_mut() {
        o.on_stop();
    }
}

/// Counts one exception under its traceback, as Locust's `log_exception` (keyed by the
/// traceback's hash, the first message kept).
fn count_exception(all: &mut BTreeMap<String, ExceptionCount>, msg: String, traceback: String) {
    let e = all
        .entry(traceback)
        .or_insert_with_key(|traceback| ExceptionCount {
            count: 0,
            msg,
            traceback: traceback.clone(),
        });
    e.count += 1;
}

/// How many seconds before the run's last request the totals keep per-second counts:
/// Locust's `current_rps` reads `[last - 12, last - 2)`, nothing older.
const KEEP_SECONDS: i64 = 12;

/// Drops the per-second counts no output reads any more, so the totals stay the same size
/// however long the run (the run-long totals are in the counters; `--json`, whose
/// `num_reqs_per_sec` is the whole run's as Locust's, keeps its own).
fn forget_old_seconds(totals: &mut Window) {
    let Some(last) = totals.last_request() else {
        return;
    };
    let oldest = (last as i64).saturating_sub(KEEP_SECONDS);
    for e in totals.entries.values_mut() {
        for per_sec in [&mut e.num_reqs_per_sec, &mut e.num_fail_per_sec] {
            if per_sec.first_key_value().is_some_and(|(&t, _)| t < oldest) {
                *per_sec = per_sec.split_off(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Entry;

    /// Exceptions group by traceback (the panic site), as Locust's master: ten panics of
    /// one site with ten messages are one row of 10 showing the first message.
    #[test]
    fn exceptions_group_by_panic_site() {
        struct Last(std::sync::mpsc::Sender<Arc<BTreeMap<String, ExceptionCount>>>);
        impl Output for Last {
            fn on_report(&mut self, snapshot: Snapshot) {
                let _ = self.0.send(snapshot.exceptions);
            }
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let mut outputs = Outputs::start(vec![Box::new(Last(tx))], RunInfo::default()).unwrap();
        let site = "panic in task flaky at src/main.rs:17";
        for round in 0..2 {
            let mut exceptions: Vec<(String, String)> = (0..5)
                .map(|i| {
                    let msg = format!("task flaky panicked at src/main.rs:17: run {round}{i}");
                    (msg, site.to_string())
                })
                .collect();
            exceptions.push((
                "task other panicked at src/main.rs:40: no".into(),
                "panic in task other at src/main.rs:40".into(),
            ));
            outputs.report(Report {
                time: 1.0,
                user_count: 1,
                window: Window::default(),
                exceptions,
                ..Report::default()
            });
        }
        outputs.stop();
        let last = rx.try_iter().last().expect("a report");
        assert_eq!(last.len(), 2, "{last:?}");
        let flaky = &last[site];
        assert_eq!(flaky.count, 10);
        assert_eq!(flaky.msg, "task flaky panicked at src/main.rs:17: run 00");
        assert_eq!(flaky.traceback, site);
        assert_eq!(last["panic in task other at src/main.rs:40"].count, 2);
    }

    /// The totals forget old seconds, and Locust's current rates read the same numbers.
    #[test]
    fn old_seconds_go_and_the_current_rates_stay() {
        let start = 1_700_000_000.0;
        let samples: Vec<(u64, f64)> = (0..600)
            .flat_map(|s| (0..=(s % 5)).map(move |i| (1_000 + i * 10, start + s as f64 + 0.5)))
            .collect();
        let mut totals = Window::default();
        totals
            .entries
            .insert(("GET".into(), "/a".into()), Entry::of_samples(&samples));
        let e = &totals.entries[&("GET".to_string(), "/a".to_string())];
        let last = totals.last_request().unwrap();
        let before = (e.current_rps(start, last), e.num_reqs_per_sec.len());
        forget_old_seconds(&mut totals);
        let e = &totals.entries[&("GET".to_string(), "/a".to_string())];
        assert_eq!(before.1, 600);
        assert_eq!(e.num_reqs_per_sec.len(), KEEP_SECONDS as usize + 1);
        assert_eq!(e.current_rps(start, last), before.0);
        assert!(before.0 > 0.0);
        assert_eq!(e.num_requests, samples.len() as u64);
    }
}

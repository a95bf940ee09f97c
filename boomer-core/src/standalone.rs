//! Standalone mode: the users, events and statistics of a worker, driven by a local runner
//! instead of a master. Users ramp up at the spawn rate (never faster), the test ends at the
//! run time or at SIGINT/SIGTERM, and every window of stats goes to the outputs.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::{sleep_until, Instant};

use crate::bus::EventBus;
use crate::clock;
use crate::config::Options;
use crate::events::{Event, SpawnEvent};
use crate::outbox::Outgoing;
use crate::output::{Outputs, Report};
use crate::runner::{self, ticker, Exit, Outbox, Signals};
use crate::stats;
use crate::threshold::{self, Judge};
use crate::users::Users;

/// Locust's `CSV_STATS_INTERVAL_SEC`: one history row per second.
const REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// Runs a standalone test to its end; [`Exit::Threshold`] when a `--threshold` failed, else
/// [`Exit::Failures`] when anything failed.
pub(crate) async fn run(
    opts: Options,
    mut users: Users,
    bus: EventBus,
    mut outputs: Outputs,
) -> Exit {
    let mut outbox = Outbox::install();
    let run_start = outputs.start_time().unwrap_or_else(clock::now_epoch);
    let mut runner = Runner {
        thresholds: Judge::new(&opts, run_start, false),
        outputs: &mut outputs,
        failures: 0,
        exceptions: Vec::new(),
    };
    let start = Instant::now();
    runner::start_test(&mut users, &bus, runner::tag_filter(&opts));
    tracing::info!(
        "Ramping to {} users at a rate of {:.2} per second",
        opts.run.users,
        opts.run.spawn_rate
    );
    let target = users.plan().distribute(opts.run.users);
    bus.fire(Event::Spawn(spawn_event(&opts, target.clone())));
    let ramp = Ramp {
        target: opts.run.users,
        rate: opts.run.spawn_rate,
    };
    let deadline = opts.run.run_time.map(|t| start + t);
    let mut report = ticker(REPORT_INTERVAL);
    report.reset();
    let mut signals = Signals::new();
    let mut spawned = 0;
    let mut complete = ramp.target == 0;
    let exit = loop {
        let next_spawn = (!complete).then(|| start + ramp.at(spawned));
        tokio::select! {
            _ = wait_until(next_spawn) => {
                spawned = ramp.due(start.elapsed());
                let counts = users.plan().distribute(spawned);
                // A ramp only grows: a class loses users only when the split over the
                // classes shifts, and those stop at once (`--stop-timeout` is for the end).
                users.apply(&counts, Duration::ZERO);
                if spawned >= ramp.target {
                    complete = true;
                    tracing::info!("All users spawned: {counts:?} ({spawned} total users)");
                    bus.fire(Event::SpawningComplete(u64::from(spawned)));
                    if opts.run.reset_stats {
                        tracing::info!("Resetting stats");
                        runner.reset();
                    }
                }
            }
            _ = wait_until(deadline) => {
                tracing::info!("--run-time limit reached, stopping test");
                break Exit::Quit;
            }
            _ = report.tick() => {
                runner.report(&users, false);
                if runner.thresholds.as_mut().and_then(Judge::abort_now).is_some() {
                    break Exit::Quit;
                }
            }
            Some(out) = outbox.recv() => runner.collect(out),
            _ = signals.recv() => break Exit::Signal,
        }
    };
    // Locust's --stop-timeout: users may finish their current task for that long.
    users
        .stop_all(opts.run.stop_timeout.unwrap_or_default())
        .await;
    drop(runner::end_test(&bus));
    while let Some(out) = outbox.try_recv() {
        runner.collect(out);
    }
    // The last window: everything recorded up to the users' stop is in the summary.
    let failed = runner.report(&users, true);
    let failures = runner.failures + runner.exceptions.len() as u64;
    outputs.stop();
    runner::quit_handlers(&bus).await;
    drop(outbox);
    match failed {
        Some(index) => Exit::Threshold(index),
        None if failures > 0 => Exit::Failures,
        None => exit,
    }
}

struct Runner<'a> {
    outputs: &'a mut Outputs,
    thresholds: Option<Judge>,
    failures: u64,
    exceptions: Vec<(String, String)>,
}

impl Runner<'_> {
    /// Hands the window to the outputs, with the thresholds judged on it (the final
    /// judgement when `last`); the first failed threshold of the final judgement.
    fn report(&mut self, users: &Users, last: bool) -> Option<usize> {
        let user_count = users.total();
        let mut window = stats::drain();
        let arrivals = users.report_arrivals(&mut window);
        self.failures += window.entries.values().map(|e| e.num_failures).sum::<u64>();
        // Dropped iterations are errors without a request; Locust's exit code counts every
        // error, as a master does for a worker's drops.
        self.failures += window.dropped();
        let thresholds = match self.thresholds.as_mut() {
            Some(judge) if last => judge.verdict(&window),
            Some(judge) => judge.observe(&window),
            None => Vec::new(),
        };
        let failed = if last {
            threshold::first_failed(&thresholds)
        } else {
            None
        };
        self.outputs.report(Report {
            time: clock::now_epoch(),
            user_count,
            window,
            exceptions: std::mem::take(&mut self.exceptions),
            arrivals,
            thresholds,
        });
        failed
    }

    /// `--reset-stats`: everything recorded so far is forgotten, its failures too (Locust's
    /// exit code looks at the errors after the reset).
    fn reset(&mut self) {
        stats::drain();
        self.failures = 0;
        self.outputs.reset();
        if let Some(judge) = self.thresholds.as_mut() {
            // The outputs' rates still count from the run's start.
            let start = judge.start_time();
            judge.reset(start);
        }
    }

    fn collect(&mut self, out: Outgoing) {
        match out {
            Outgoing::Exception { msg, traceback } => self.exceptions.push((msg, traceback)),
            Outgoing::Custom { kind, .. } => {
                tracing::debug!("custom message {kind:?} dropped: no master in standalone mode")
            }
        }
    }
}

async fn wait_until(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// User `k` (from 0) starts `k / rate` seconds into the test, as Locust's local runner
/// starts them: at most `1 + rate * t` users after `t` seconds.
struct Ramp {
    target: u32,
    rate: f64,
}

impl Ramp {
    /// When user number `k` may start, from the test's start.
    fn at(&self, k: u32) -> Duration {
        if self.rate <= 0.0 || !self.rate.is_finite() {
            return Duration::ZERO;
        }
        Duration::try_from_secs_f64(f64::from(k) / self.rate).unwrap_or(Duration::MAX)
    }

    /// How many users may run `elapsed` into the test.
    fn due(&self, elapsed: Duration) -> u32 {
        if self.rate <= 0.0 || !self.rate.is_finite() {
            return self.target;
        }
        let n = (elapsed.as_secs_f64() * self.rate).floor() + 1.0;
        (n.min(f64::from(self.target))) as u32
    }
}

fn spawn_event(opts: &Options, user_classes_count: BTreeMap<String, u32>) -> SpawnEvent {
    SpawnEvent {
        user_classes_count,
        host: opts.load.host.clone(),
        spawn_rate: opts.run.spawn_rate,
        stop_timeout: opts.run.stop_timeout.map_or(0.0, |t| t.as_secs_f64()),
        options: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_never_outruns_the_rate() {
        let r = Ramp {
            target: 10,
            rate: 4.0,
        };
        assert_eq!(r.due(Duration::ZERO), 1);
        assert_eq!(r.due(Duration::from_millis(249)), 1);
        assert_eq!(r.due(Duration::from_millis(250)), 2);
        assert_eq!(r.due(Duration::from_secs(60)), 10);
        assert_eq!(r.at(8), Duration::from_secs(2));
        let all = Ramp {
            target: 5,
            rate: f64::INFINITY,
        };
        assert_eq!((all.due(Duration::ZERO), all.at(4)), (5, Duration::ZERO));
    }
}

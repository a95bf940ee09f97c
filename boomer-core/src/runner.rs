//! What the worker and standalone modes share in running a test: how the process ends,
//! the signals that end it, the ticker, and a test's start and end as Locust runs them (the
//! users held back until the `test_start` handlers have run; `stop` then `test_stop`; the
//! quit handlers, given [`QUIT_HANDLERS_GRACE`]).

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{interval, Interval, MissedTickBehavior};

use crate::bus::EventBus;
use crate::config::Options;
use crate::events::Event;
use crate::outbox::{self, Outgoing};
use crate::users::{Gate, TagFilter, Users};

/// How long quit waits for the quit handlers before the process exits.
pub(crate) const QUIT_HANDLERS_GRACE: Duration = Duration::from_secs(5);

/// Why the worker (or a standalone run) stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The master sent `quit`.
    Quit,
    /// SIGINT or SIGTERM.
    Signal,
    /// The master was lost (or never reached) and `--exit-on-master-loss` was given.
    MasterLost,
    /// A standalone test ended with failures (the process exits with
    /// `--exit-code-on-error`).
    Failures,
    /// A standalone test ended with a failed `--threshold`: the index (from 0, in the order
    /// given) of the first that failed. The process exits with 10 + the index, at most 99.
    Threshold(usize),
}

impl Exit {
    /// The process's exit code: 0 on quit or a signal, 3 when the master was lost,
    /// `exit_code_on_error` on failures, 10 + the index of the first failed threshold (at
    /// most 99).
    ///
    /// ```
    /// use boomer_core::Exit;
    /// assert_eq!((Exit::Quit.code(1), Exit::Failures.code(4)), (0, 4));
    /// assert_eq!((Exit::Threshold(0).code(1), Exit::Threshold(2).code(1)), (10, 12));
    /// ```
    pub fn code(self, exit_code_on_error: u8) -> u8 {
        match self {
            Exit::Quit | Exit::Signal => 0,
            Exit::MasterLost => 3,
            Exit::Failures => exit_code_on_error,
            Exit::Threshold(index) => crate::threshold::exit_code(index),
        }
    }
}

/// An interval that delays its ticks after a stall instead of bursting.
pub(crate) fn ticker(period: Duration) -> Interval {
    let mut t = interval(period);
    t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    t
}

/// Locust's `--tags` / `--exclude-tags` from this process's own flags.
pub(crate) fn tag_filter(opts: &Options) -> TagFilter {
    TagFilter {
        include: (!opts.load.tags.is_empty()).then(|| opts.load.tags.clone()),
        exclude: opts.load.exclude_tags.clone(),
    }
}

/// A test's start: the users of the new test are held back until the `test_start`
/// handlers have run, as Locust's are.
pub(crate) fn start_test(users: &mut Users, bus: &EventBus, filter: TagFilter) {
    let gate = Gate::closed();
    users.new_test(gate.clone(), filter);
    let started = bus.fire_wait(Event::TestStart);
    tokio::spawn(async move {
        let _ = started.await;
        gate.open();
    });
}

/// A test's end, once its users have stopped: `stop`, then `test_stop`; the receiver hears
/// when the `test_stop` handlers are done (drop it not to wait).
pub(crate) fn end_test(bus: &EventBus) -> oneshot::Receiver<()> {
    bus.fire(Event::Stop);
    bus.fire_wait(Event::TestStop)
}

/// Runs the quit handlers, waiting for them up to [`QUIT_HANDLERS_GRACE`].
pub(crate) async fn quit_handlers(bus: &EventBus) {
    let done = bus.fire_wait(Event::Quit);
    if tokio::time::timeout(QUIT_HANDLERS_GRACE, done)
        .await
        .is_err()
    {
        tracing::warn!("quit handlers still running after {QUIT_HANDLERS_GRACE:?}; exiting");
    }
}

/// The outbox that task code sends custom messages and exceptions through, installed for
/// as long as this guard lives.
pub(crate) struct Outbox {
    rx: mpsc::UnboundedReceiver<Outgoing>,
}

impl Outbox {
    pub(crate) fn install() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        outbox::install(Some(tx));
        Outbox { rx }
    }

    pub(crate) async fn recv(&mut self) -> Option<Outgoing> {
        self.rx.recv().await
    }

    pub(crate) fn try_recv(&mut self) -> Option<Outgoing> {
        self.rx.try_recv().ok()
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        outbox::install(None);
    }
}

/// SIGINT and SIGTERM. The listeners live as long as the worker: a listener created
/// anew for each wait would miss a signal delivered between two waits.
pub(crate) struct Signals {
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    pub(crate) fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Signals {
                int: signal(SignalKind::interrupt()).ok(),
                term: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    #[cfg(unix)]
    pub(crate) async fn recv(&mut self) {
        async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
            match s.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = next(&mut self.int) => tracing::info!("SIGINT: quitting"),
            _ = next(&mut self.term) => tracing::info!("SIGTERM: quitting"),
        }
    }

    #[cfg(not(unix))]
    pub(crate) async fn recv(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C: quitting");
    }
}

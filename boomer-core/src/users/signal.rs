//! How a user is told to stop, and how its requests in flight hold a stop back: the
//! [`UserSignal`] each user's loop watches (and each [`Ctx`](crate::Ctx) holds), the
//! [`InFlight`] guard a client takes before it sends, and the [`Gate`] that holds a new
//! test's users back until its `test_start` handlers have run. Nothing here knows about
//! contexts or the spawner, so `ctx.rs` imports it without a cycle.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Tells one user to stop: softly (finish the current task, skip the wait) or hard
/// (cancel the current task too). It also counts the user's requests in flight: a request
/// the target may have seen is never dropped unrecorded, so a cancelled task is dropped only
/// once none is in flight (see [`begin_request`]).
#[derive(Default)]
pub(crate) struct UserSignal {
    soft: AtomicBool,
    hard: AtomicBool,
    notify: Notify,
    /// The task of the user's current iteration, woken by a hard stop: registering the same
    /// waker again is a compare, where a `Notify` wait is a lock and a list insert per task
    /// that waits (each HTTP request does).
    task: futures_util::task::AtomicWaker,
    /// Requests of this user between their start and their `Response`.
    in_flight: AtomicU32,
    /// Non-zero while new requests must not start: [`DRAINING`] or [`ABORTING`].
    refuse: AtomicU8,
    /// An arrival-driven user's lateness (µs) in starting its iteration, added to the
    /// first response time the iteration records: see [`UserSignal::take_late`].
    late_us: AtomicU32,
}

/// The user's loop is finishing the requests of a cancelled task before dropping it.
const DRAINING: u8 = 1;
/// The user is about to be aborted (it outlived its stop), once no request is in flight.
const ABORTING: u8 = 2;

impl UserSignal {
    pub(crate) fn stopping(&self) -> bool {
        self.soft.load(Ordering::Acquire)
    }

    pub(super) fn hard_stopped(&self) -> bool {
        self.hard.load(Ordering::Acquire)
    }

    pub(super) fn soft_stop(&self) {
        self.soft.store(true, Ordering::Release);
        self.notify.notify_waiters();
        self.task.wake();
    }

    pub(super) fn hard_stop(&self) {
        self.soft.store(true, Ordering::Release);
        self.hard.store(true, Ordering::Release);
        self.notify.notify_waiters();
        self.task.wake();
    }

    async fn wait(&self, flag: &AtomicBool) {
        loop {
            // Created before the check, so a stop in between still wakes us.
            let notified = self.notify.notified();
            if flag.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    pub(super) async fn soft(&self) {
        self.wait(&self.soft).await
    }

    /// Sleeps `wait` unless the user is stopped first (true then). The stop wakes the task
    /// through `task`, not a `Notify` wait: an idle user's future carries no `Notified`
    /// (BENCHMARKS.md §3), and registering the same waker again is a compare.
    pub(super) async fn stop_or_sleep(&self, wait: Duration) -> bool {
        let mut sleep = std::pin::pin!(tokio::time::sleep(wait));
        std::future::poll_fn(|cx| {
            if self.stopping() {
                return Poll::Ready(true);
            }
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(false);
            }
            // Registered before the second check: a stop in between still wakes the task.
            self.task.register(cx.waker());
            if self.stopping() {
                Poll::Ready(true)
            } else {
                Poll::Pending
            }
        })
        .await
    }

    /// Sets how late the current iteration started (an arrival-driven user's, counted from
    /// when it was due), for the first sample it records.
    pub(super) fn set_late(&self, late: Duration) {
        let us = u32::try_from(late.as_micros()).unwrap_or(u32::MAX);
        self.late_us.store(us, Ordering::Relaxed);
    }

    /// The current iteration's lateness, once: the first response time recorded in an
    /// arrival-driven iteration counts from when it was due (coordinated omission
    /// corrected), the later ones from when they were sent. Zero for other users.
    pub(crate) fn take_late(&self) -> Duration {
        if self.late_us.load(Ordering::Relaxed) == 0 {
            return Duration::ZERO;
        }
        Duration::from_micros(u64::from(self.late_us.swap(0, Ordering::Relaxed)))
    }

    pub(super) fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Aborts the user's task once it has no request in flight (none starts from now on),
    /// and returns once it is gone. A request in flight ends within its own timeout.
    pub(super) async fn abort_when_idle(&self, join: &mut JoinHandle<()>) {
        loop {
            // Created before the check: a request that ends in between still wakes us.
            // (`notify` also wakes soft and hard waits: each waiter checks its own condition.)
            let idle = self.notify.notified();
            // SeqCst, here and in `begin_request`: either this load sees the request that
            // is starting, or that request sees ABORTING and backs off.
            self.refuse.fetch_or(ABORTING, Ordering::SeqCst);
            if self.in_flight() == 0 {
                join.abort();
                let _ = (&mut *join).await;
                return;
            }
            tokio::select! {
                _ = idle => {}
                _ = &mut *join => return,
            }
        }
    }
}

tokio::task_local! {
    /// The signal of the user whose task is being polled, for [`begin_request`].
    pub(super) static CURRENT_USER: Arc<UserSignal>;
}

/// [`UserSignal::take_late`] of the user whose task is being polled (zero outside one).
pub(crate) fn take_current_late() -> Duration {
    CURRENT_USER.try_with(|s| s.take_late()).unwrap_or_default()
}

/// A request of a user in flight: while it lives, a stopped user's task is not dropped (see
/// [`Ctx::in_flight`](crate::Ctx::in_flight)).
#[must_use = "the request counts as in flight only while the guard lives"]
pub struct InFlight(Arc<UserSignal>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let signal = &self.0;
        if signal.in_flight.fetch_sub(1, Ordering::SeqCst) == 1
            && signal.refuse.load(Ordering::SeqCst) & ABORTING != 0
        {
            signal.notify.notify_waiters();
        }
    }
}

/// Called by a client before it sends anything: the request then counts as in flight until
/// the guard is dropped, and a cancelled user is dropped only once it has none in flight, so
/// every request the target sees is recorded. If the user's task is being cancelled, the
/// request never starts (this never completes, and the task is dropped here). Outside a
/// user (e.g. `--run-tasks`), `None`: nothing to guard.
pub(crate) async fn begin_request() -> Option<InFlight> {
    let signal = CURRENT_USER.try_with(Arc::clone).ok()?;
    Some(begin_request_of(signal).await)
}

/// [`begin_request`] for the user of `signal`.
pub(crate) async fn begin_request_of(signal: Arc<UserSignal>) -> InFlight {
    if signal.refuse.load(Ordering::SeqCst) == 0 {
        signal.in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = InFlight(signal);
        if guard.0.refuse.load(Ordering::SeqCst) == 0 {
            return guard;
        }
        // An abort began meanwhile: back off (the drop wakes it) and never send.
    }
    std::future::pending().await
}

/// Runs `fut` unless the user is hard-stopped first: `None` if it was. The future is then
/// dropped, but not with a request in flight: it is polled on until its requests in flight
/// have ended (each within its timeout) and so are recorded, and it starts no new one (see
/// [`begin_request`]). The user's task registers its waker for a hard stop each time the
/// future is pending: the same waker as last time, so that is a compare, not a `Notify`
/// wait's lock and list insert (measured: ~1.4 % of the worker's CPU per HTTP request).
pub(super) async fn until_hard<F: Future>(signal: &UserSignal, fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let first = std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        // Registered before the check: a hard stop in between still wakes this task.
        signal.task.register(cx.waker());
        if signal.hard_stopped() {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    })
    .await;
    if first.is_some() {
        return first;
    }
    if signal.in_flight() == 0 {
        return None;
    }
    signal.refuse.fetch_or(DRAINING, Ordering::SeqCst);
    let out = std::future::poll_fn(|cx| match fut.as_mut().poll(cx) {
        Poll::Ready(out) => Poll::Ready(Some(out)),
        // The guard of a request is dropped inside this poll, when it ends.
        Poll::Pending if signal.in_flight() == 0 => Poll::Ready(None),
        Poll::Pending => Poll::Pending,
    })
    .await;
    signal.refuse.fetch_and(!DRAINING, Ordering::SeqCst);
    out
}

/// Holds new users back until it opens: users of a new test start only once the
/// `test_start` handlers have run, as Locust's do.
#[derive(Clone, Default)]
pub(crate) struct Gate(Arc<GateInner>);

#[derive(Default)]
struct GateInner {
    open: AtomicBool,
    notify: Notify,
}

impl Gate {
    pub(crate) fn closed() -> Self {
        Gate::default()
    }

    pub(crate) fn open(&self) {
        self.0.open.store(true, Ordering::Release);
        self.0.notify.notify_waiters();
    }

    pub(super) async fn wait(&self) {
        loop {
            let notified = self.0.notify.notified();
            if self.0.open.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

//! The per-user context a task receives.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::host::HostCell;
use crate::stats;
use crate::users::signal::UserSignal;

/// One virtual user's view of the test: the current host, its id, and the record methods.
///
/// A task that takes `&mut Ctx` gets the context of the user running it:
///
/// ```
/// # use std::time::Duration;
/// # fn task(ctx: &mut boomer_core::Ctx) {
/// let host = ctx.host().unwrap_or("http://127.0.0.1:8080").to_string();
/// ctx.record_success("GET", "/", Duration::from_millis(12), 512);
/// # }
/// ```
pub struct Ctx {
    user_id: u64,
    host: Arc<HostCell>,
    class_host: Option<Arc<str>>,
    host_seen: u64,
    host_cached: Option<Arc<str>>,
    signal: Arc<UserSignal>,
    /// Made on first use, so users that never send HTTP cost one pointer.
    #[cfg(feature = "http")]
    http: Option<Box<crate::http::HttpClient>>,
}

impl Ctx {
    pub(crate) fn new(
        user_id: u64,
        host: Arc<HostCell>,
        class_host: Option<String>,
        signal: Arc<UserSignal>,
    ) -> Self {
        let mut ctx = Ctx {
            user_id,
            host,
            class_host: class_host.map(Into::into),
            host_seen: u64::MAX,
            host_cached: None,
            signal,
            #[cfg(feature = "http")]
            http: None,
        };
        ctx.refresh();
        ctx
    }

    /// A context outside any worker (for `--run-tasks` and tests), with this host.
    pub fn detached(host: Option<&str>) -> Self {
        let cell = Arc::new(HostCell::default());
        cell.set(host.map(str::to_string));
        Ctx::new(0, cell, None, Arc::default())
    }

    /// Picks up a host change made on the master (web UI), once per iteration: true if the
    /// host or a class changed since the last call (the web UI's class picker bumps the same
    /// version, so that one atomic load per iteration covers both).
    #[inline]
    pub(crate) fn refresh(&mut self) -> bool {
        let version = self.host.version();
        if version == self.host_seen {
            return false;
        }
        self.host_seen = version;
        self.reload_host();
        true
    }

    /// The user's class host, as its class now has it (the web UI's class picker may change
    /// it for running users).
    pub(crate) fn set_class_host(&mut self, class_host: Option<&str>) {
        if self.class_host.as_deref() != class_host {
            self.class_host = class_host.map(Into::into);
            self.reload_host();
        }
    }

    #[cold]
    fn reload_host(&mut self) {
        // As in Locust, the master's Host (or --host) wins over the class's own host.
        self.host_cached = self.host.get().or_else(|| self.class_host.clone());
    }

    /// The host under test: the master's Host field (or `--host`), as of this iteration.
    pub fn host(&self) -> Option<&str> {
        self.host_cached.as_deref()
    }

    /// True once this user has been told to stop (the test stops, or the master lowers the
    /// user count): a task running a long loop should end it. The current task may finish
    /// within the master's `stop_timeout`; then it is cancelled at its next `.await`, once
    /// its `boomer::http` requests in flight have ended and been recorded (none new starts).
    pub fn stopping(&self) -> bool {
        self.signal.stopping()
    }

    /// Marks a request sent by a client of your own (`boomer::http` does this itself) as in
    /// flight until the guard is dropped: a user stopped meanwhile (`stop_timeout` over, or
    /// 0) has its task cancelled only once the guard is gone, so what the target saw gets
    /// recorded. Take it before sending, drop it once the request is recorded. If the
    /// user's task is being cancelled already, this never completes: the request is never
    /// sent.
    ///
    /// ```
    /// # async fn task(ctx: &mut boomer_core::Ctx) {
    /// let started = std::time::Instant::now();
    /// let in_flight = ctx.in_flight().await;
    /// // ... send the request with your client, read the response ...
    /// ctx.record_success("GET", "/", started.elapsed(), 0);
    /// drop(in_flight);
    /// # }
    /// ```
    pub async fn in_flight(&self) -> crate::InFlight {
        crate::users::signal::begin_request_of(self.signal.clone()).await
    }

    /// This user's HTTP client, bound to [`host`](Self::host): see [`crate::http`].
    ///
    /// ```no_run
    /// # async fn task(ctx: &mut boomer_core::Ctx) {
    /// ctx.http().get("/").send().await;
    /// # }
    /// ```
    #[cfg(feature = "http")]
    pub fn http(&mut self) -> &mut crate::http::HttpClient {
        let client = self.http.get_or_insert_with(Default::default);
        client.follow_host(&self.host_cached);
        client
    }

    /// This user's number on this worker (0, 1, 2, ...).
    pub fn user_id(&self) -> u64 {
        self.user_id
    }

    /// This worker's index among the master's workers (0, 1, 2, ...), from the master's
    /// ack: Locust's `runner.worker_index`. `None` until the master acknowledged the worker
    /// (and with a master older than 2.11, which sends none); `Some(0)` standalone, as
    /// Locust's local runner. With [`user_id`](Self::user_id) it numbers users across a
    /// fleet, e.g. to give each a distinct account:
    ///
    /// ```
    /// # fn task(ctx: &mut boomer_core::Ctx) {
    /// let account = match ctx.worker_index() {
    ///     Some(worker) => format!("user-{worker}-{}", ctx.user_id()),
    ///     None => format!("user-x-{}", ctx.user_id()),
    /// };
    /// # let _ = account;
    /// # }
    /// ```
    pub fn worker_index(&self) -> Option<u64> {
        u64::try_from(WORKER_INDEX.load(Ordering::Relaxed)).ok()
    }

    /// Records a successful request: see [`crate::record_success`].
    ///
    /// In an arrival-driven class (`arrival_rate`), the first sample an iteration records
    /// also counts the time the iteration waited for a free user after it was due (see
    /// `--latency-from`).
    pub fn record_success(&self, kind: &str, name: &str, elapsed: Duration, bytes: u64) {
        let elapsed = elapsed.saturating_add(self.signal.take_late());
        stats::record_success(kind, name, elapsed, bytes);
    }

    /// Records a failed request: see [`crate::record_failure`].
    pub fn record_failure(
        &self,
        kind: &str,
        name: &str,
        elapsed: Duration,
        error: impl std::fmt::Display,
    ) {
        let elapsed = elapsed.saturating_add(self.signal.take_late());
        stats::record_failure(kind, name, elapsed, error);
    }
}

/// The worker index the master gave (-1 for none); 0 outside a worker, as Locust's local
/// runner.
static WORKER_INDEX: AtomicI64 = AtomicI64::new(0);

/// Sets what [`Ctx::worker_index`] returns (the worker does, from the master's ack).
pub(crate) fn set_worker_index(index: Option<u64>) {
    let value = index.and_then(|i| i64::try_from(i).ok()).unwrap_or(-1);
    WORKER_INDEX.store(value, Ordering::Relaxed);
}

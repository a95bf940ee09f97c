//! The control plane: the state machine of a Locust worker (ready → spawning → running →
//! ready), heartbeats both ways, reports, and the connection supervisor. It runs on its own
//! thread and runtime, so no user load can delay a heartbeat.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::{interval, sleep, Interval, MissedTickBehavior};

use crate::bus::EventBus;
use crate::config::Options;
use crate::events::Event;
use crate::host::HostCell;
use crate::outbox::{self, Outgoing};
use crate::protocol::{self, FromMaster, Heartbeat, SpawningComplete, StatsReport, WorkerState};
use crate::stats;
use crate::users::{Gate, TagFilter, Users};

const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
const REPORT_INTERVAL: Duration = Duration::from_secs(3);
const CLIENT_READY_RETRY: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// At quit, how long running tasks may take to finish before they are cancelled.
const QUIT_SOFT_STOP: Duration = Duration::from_millis(200);
/// How long quit waits for the quit handlers before the process exits.
const QUIT_HANDLERS_GRACE: Duration = Duration::from_secs(5);
/// The pause between dropping a connection and opening the next.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);
/// How often new log lines go to the master, as Python workers do.
const LOGS_INTERVAL: Duration = Duration::from_secs(10);
/// What the worker says of a master older than the oldest it is tested with.
const OLD_MASTER: &str = "this master is older than the Locust versions boomer supports \
    (2.12.2 to 2.47.0); it may work, but upgrade Locust if anything misbehaves";
/// Messages kept for resending while the master is unreachable.
const MAX_PENDING: usize = 10_000;

/// Why the worker stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The master sent `quit`.
    Quit,
    /// SIGINT or SIGTERM.
    Signal,
    /// The master was lost and `--exit-on-master-loss` was given.
    MasterLost,
    /// A standalone test ended with failures (the process exits with
    /// `--exit-code-on-error`).
    Failures,
}

/// What ended a session with the master.
enum SessionEnd {
    Exit(Exit),
    Reconnect,
}

pub(crate) struct Worker {
    opts: Options,
    node_id: String,
    state: WorkerState,
    acked: bool,
    ready_sent: Instant,
    users: Users,
    bus: EventBus,
    host: Arc<HostCell>,
    last_spawn: f64,
    /// When the master last sent anything.
    master_seen: Instant,
    /// Whether the master sends heartbeats (2.19+): only then does its silence count.
    heartbeats_armed: bool,
    /// When the connection was lost, while it is.
    lost_since: Option<Instant>,
    window_start: f64,
    /// Whether the master is recent enough for `logs` (2.29+).
    master_takes_logs: bool,
    logs_sent: Instant,
    logs_written: u64,
    /// Reports and messages that bounced, resent once a connection is back.
    pending: VecDeque<Vec<u8>>,
    outbox: mpsc::UnboundedReceiver<Outgoing>,
    metrics: ProcessMetrics,
    signals: Signals,
    outputs: crate::output::Outputs,
}

impl Worker {
    pub(crate) fn new(opts: Options, users: Users, bus: EventBus, host: Arc<HostCell>) -> Self {
        let (tx, outbox) = mpsc::unbounded_channel();
        outbox::install(Some(tx));
        Worker {
            node_id: node_id(),
            opts,
            state: WorkerState::Ready,
            acked: false,
            ready_sent: Instant::now(),
            users,
            bus,
            host,
            last_spawn: f64::NEG_INFINITY,
            master_seen: Instant::now(),
            heartbeats_armed: false,
            lost_since: None,
            window_start: stats::now_epoch(),
            master_takes_logs: false,
            // The first lines go out as soon as the master is known to take them.
            logs_sent: Instant::now()
                .checked_sub(LOGS_INTERVAL)
                .unwrap_or_else(Instant::now),
            logs_written: 0,
            pending: VecDeque::new(),
            outbox,
            metrics: ProcessMetrics::new(),
            signals: Signals::new(),
            outputs: Default::default(),
        }
    }

    /// Also hands every report window to these outputs (e.g. Prometheus).
    pub(crate) fn with_outputs(mut self, outputs: crate::output::Outputs) -> Self {
        self.outputs = outputs;
        self
    }

    /// Connects, serves the master until it says quit (or a signal arrives), reconnecting
    /// whenever the connection is lost.
    pub(crate) async fn run(mut self) -> Exit {
        let endpoint = self.opts.endpoint();
        tracing::info!("worker {} joining the master at {endpoint}", self.node_id);
        let mut backoff = Duration::from_millis(200);
        let node_id = self.node_id.clone();
        loop {
            let mut watch = ticker(HEARTBEAT_INTERVAL);
            let connect = protocol_link(&endpoint, &node_id);
            tokio::pin!(connect);
            let link = loop {
                tokio::select! {
                    link = &mut connect => break link,
                    _ = self.signals.recv() => return self.quit(None, Exit::Signal).await,
                    _ = watch.tick() => {
                        if let Some(exit) = self.check_master_lost(false).await {
                            return exit;
                        }
                    }
                }
            };
            let mut link = match link {
                Ok(link) => link,
                Err(e) => {
                    tracing::warn!("{e}; retrying in {backoff:?}");
                    tokio::select! {
                        _ = sleep(backoff) => {}
                        _ = self.signals.recv() => return self.quit(None, Exit::Signal).await,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    continue;
                }
            };
            backoff = Duration::from_millis(200);
            tracing::info!("connected to {endpoint}");
            match self.session(&mut link).await {
                SessionEnd::Exit(exit) => return exit,
                SessionEnd::Reconnect => {
                    self.lost_since = Some(Instant::now());
                    tracing::warn!("reconnecting to the master as {}", self.node_id);
                    // Let the master drop the old connection first: a ROUTER that still
                    // holds our identity ignores a new connection that claims it.
                    tokio::select! {
                        _ = sleep(RECONNECT_PAUSE) => {}
                        _ = self.signals.recv() => return self.quit(None, Exit::Signal).await,
                    }
                }
            }
        }
    }

    /// Whether the master has been silent too long: with the link up, no frame since the
    /// timeout (only once the master has sent heartbeats: those before 2.19 never do); with
    /// the link down, down that long. Then the users stop (nobody counts them), and with
    /// `--exit-on-master-loss` the worker exits.
    async fn check_master_lost(&mut self, link_up: bool) -> Option<Exit> {
        let timeout = self.opts.heartbeat_timeout()?;
        let silent = if link_up {
            self.heartbeats_armed.then(|| self.master_seen.elapsed())?
        } else {
            self.lost_since?.elapsed()
        };
        if silent <= timeout {
            return None;
        }
        if self.state != WorkerState::Ready {
            tracing::error!(
                "no word from the master for {:.0?}: stopping the users; still trying to reconnect",
                silent
            );
            self.users.stop_all().await;
            self.state = WorkerState::Ready;
            self.bus.fire(Event::Stop);
            self.bus.fire(Event::TestStop);
        }
        if self.opts.exit_on_master_loss {
            tracing::error!("the master is lost and --exit-on-master-loss is set: exiting");
            return Some(Exit::MasterLost);
        }
        None
    }

    async fn session(&mut self, link: &mut crate::transport::Link) -> SessionEnd {
        // A fresh connection gets a whole timeout before the master counts as silent.
        self.master_seen = Instant::now();
        self.lost_since = None;
        self.client_ready(link).await;
        while let Some(frame) = self.pending.pop_front() {
            if let Err((frame, e)) = link.send(frame).await {
                self.pending.push_front(frame);
                tracing::warn!("resend failed: {e}");
                return SessionEnd::Reconnect;
            }
        }
        let mut heartbeat = ticker(HEARTBEAT_INTERVAL);
        let mut report = ticker(REPORT_INTERVAL);
        loop {
            tokio::select! {
                event = link.next() => match event {
                    crate::transport::LinkEvent::Frame(bytes) => {
                        if let Some(end) = self.on_frame(link, &bytes).await {
                            return end;
                        }
                    }
                    crate::transport::LinkEvent::Lost(why) => {
                        tracing::warn!("lost the master: {why}");
                        return SessionEnd::Reconnect;
                    }
                },
                _ = heartbeat.tick() => {
                    if let Some(end) = self.on_heartbeat_tick(link).await {
                        return end;
                    }
                }
                _ = report.tick() => self.report(link).await,
                Some(out) = self.outbox.recv() => self.send_outgoing(link, out).await,
                _ = self.signals.recv() => return SessionEnd::Exit(self.quit(Some(link), Exit::Signal).await),
            }
        }
    }

    async fn on_frame(
        &mut self,
        link: &mut crate::transport::Link,
        bytes: &[u8],
    ) -> Option<SessionEnd> {
        self.master_seen = Instant::now();
        let msg = match protocol::decode(bytes).and_then(FromMaster::parse) {
            Ok(msg) => msg,
            Err(e) => {
                tracing::warn!("dropped a message from the master: {e}");
                return None;
            }
        };
        match msg {
            FromMaster::Ack { index } => self.on_ack(link, index).await,
            FromMaster::Spawn { timestamp, event } => self.on_spawn(link, timestamp, event).await,
            FromMaster::SpawningComplete { user_count } => {
                // Only masters of 2.29 and later broadcast this, and only they take `logs`.
                self.master_takes_logs = true;
                self.bus.fire(Event::SpawningComplete(user_count));
            }
            FromMaster::Stop => self.on_stop(link).await,
            FromMaster::Quit => {
                tracing::info!("the master says quit");
                return Some(SessionEnd::Exit(self.quit(Some(link), Exit::Quit).await));
            }
            FromMaster::Heartbeat => self.heartbeats_armed = true,
            FromMaster::Reconnect => {
                tracing::info!("the master asked us to reconnect");
                return Some(SessionEnd::Reconnect);
            }
            FromMaster::UpdateUserClass(data) => {
                tracing::info!("ignoring update_user_class from the web UI: {data}");
            }
            FromMaster::Custom(msg) => {
                if self
                    .bus
                    .handles(&crate::EventKind::Message(msg.kind.clone()))
                {
                    self.bus.fire(Event::Message(msg));
                } else {
                    tracing::warn!("no handler for message type {:?}; dropped", msg.kind);
                }
            }
        }
        None
    }

    async fn on_ack(&mut self, link: &mut crate::transport::Link, index: Option<i64>) {
        tracing::info!("the master acknowledged us (worker index {index:?})");
        if index.is_none() {
            tracing::warn!("{OLD_MASTER}: its ack has no worker index (Locust 2.10)");
        }
        if self.users.total() > 0 {
            // A fresh ack means the master registered us anew, with no users: follow it so
            // that nothing runs that the master does not count.
            tracing::warn!("the master re-registered us: stopping the users it no longer counts");
            self.stop_users(link).await;
        }
        self.acked = true;
        self.bus.fire(Event::Connected);
    }

    async fn on_spawn(
        &mut self,
        link: &mut crate::transport::Link,
        timestamp: f64,
        event: crate::SpawnEvent,
    ) {
        // Only a registered worker gets spawns: masters older than 2.10 never ack.
        self.acked = true;
        self.send(link, "spawning", &()).await;
        if timestamp <= self.last_spawn {
            tracing::debug!("dropped a stale spawn ({timestamp} <= {})", self.last_spawn);
            return;
        }
        self.last_spawn = timestamp;
        self.users.set_stop_timeout(
            Duration::try_from_secs_f64(event.stop_timeout()).unwrap_or_default(),
        );
        if self.state == WorkerState::Ready {
            let gate = Gate::closed();
            self.users
                .new_test(gate.clone(), tag_filter(&event, &self.opts));
            let done = self.bus.fire_wait(Event::TestStart);
            tokio::spawn(async move {
                let _ = done.await;
                gate.open();
            });
        }
        self.state = WorkerState::Spawning;
        let fallback = self.opts.host.clone();
        self.host.set(event.host.clone().or(fallback));
        self.users.apply(&event.user_classes_count);
        tracing::info!(
            "spawn: {:?} (host {:?})",
            event.user_classes_count,
            event.host
        );
        self.bus.fire(Event::Spawn(event));
        let done = SpawningComplete {
            user_classes_count: self.users.counts(),
            user_count: self.users.total(),
        };
        self.send(link, "spawning_complete", &done).await;
        self.state = WorkerState::Running;
    }

    async fn on_stop(&mut self, link: &mut crate::transport::Link) {
        tracing::info!("the master says stop");
        self.stop_users(link).await;
        tracing::debug!(
            "users stopped; tasks alive on the users' runtime: {}",
            self.users.alive_tasks()
        );
        self.send(link, "client_stopped", &()).await;
        self.client_ready(link).await;
    }

    /// Registers with the master; resent every 5 s until the master acks (masters before
    /// 2.10 never do, and the worker carries on without).
    async fn client_ready(&mut self, link: &mut crate::transport::Link) {
        self.acked = false;
        self.ready_sent = Instant::now();
        self.send(link, "client_ready", &protocol::CLIENT_READY_VERSION)
            .await;
    }

    /// Stops every user and sends what they recorded at once, so the run that just ended
    /// counts all of it.
    async fn stop_users(&mut self, link: &mut crate::transport::Link) {
        let was_running = self.state != WorkerState::Ready;
        self.users.stop_all().await;
        self.state = WorkerState::Ready;
        if was_running {
            self.bus.fire(Event::Stop);
            self.bus.fire(Event::TestStop);
        }
        self.report(link).await;
    }

    async fn on_heartbeat_tick(&mut self, link: &mut crate::transport::Link) -> Option<SessionEnd> {
        let silent = self.heartbeats_armed
            && self
                .opts
                .heartbeat_timeout()
                .is_some_and(|t| self.master_seen.elapsed() > t);
        if let Some(exit) = self.check_master_lost(true).await {
            return Some(SessionEnd::Exit(exit));
        }
        if silent {
            // A silent master may hold a dead connection: rebuild the socket.
            return Some(SessionEnd::Reconnect);
        }
        if !self.acked && self.ready_sent.elapsed() >= CLIENT_READY_RETRY {
            tracing::warn!(
                "no ack from the master yet; sending client_ready again (a master that never \
                 acks is older than Locust 2.10: {OLD_MASTER})"
            );
            self.client_ready(link).await;
        }
        if self.master_takes_logs && self.logs_sent.elapsed() >= LOGS_INTERVAL {
            self.send_logs(link).await;
        }
        let (cpu, rss) = self.metrics.sample();
        let hb = Heartbeat {
            state: self.state,
            current_cpu_usage: cpu,
            current_memory_usage: rss,
        };
        self.send(link, "heartbeat", &hb).await;
        None
    }

    /// Sends the WARN and ERROR lines so far, when there are new ones (the master shows them
    /// in its Logs tab).
    async fn send_logs(&mut self, link: &mut crate::transport::Link) {
        self.logs_sent = Instant::now();
        let written = crate::logs::written();
        if written == self.logs_written {
            return;
        }
        self.logs_written = written;
        let data = protocol::Logs {
            worker_id: self.node_id.clone(),
            logs: crate::logs::lines(),
        };
        self.send(link, "logs", &data).await;
    }

    /// Sends the deltas since the last report (every 3 s, and at once on stop and quit).
    async fn report(&mut self, link: &mut crate::transport::Link) {
        let window = stats::drain();
        if self.outputs.active() {
            self.outputs.report(crate::output::Report {
                time: stats::now_epoch(),
                user_count: self.users.total(),
                window: window.clone(),
                exceptions: Vec::new(),
            });
        }
        let start = std::mem::replace(&mut self.window_start, stats::now_epoch());
        let (stats, stats_total, errors) = window.to_report(start);
        let report = StatsReport {
            stats,
            stats_total,
            errors,
            user_classes_count: self.users.counts(),
            user_count: self.users.total(),
        };
        self.send_reliable(link, "stats", &report).await;
    }

    async fn send_outgoing(&mut self, link: &mut crate::transport::Link, out: Outgoing) {
        match out {
            Outgoing::Custom { kind, data } => self.send_reliable(link, &kind, &data).await,
            Outgoing::Exception { msg, traceback } => {
                let data = protocol::Exception { msg, traceback };
                self.send_reliable(link, "exception", &data).await
            }
        }
    }

    /// Quit from any state: stop users, send the final report and `quit` at once, then let
    /// the quit handlers run.
    async fn quit(&mut self, link: Option<&mut crate::transport::Link>, exit: Exit) -> Exit {
        let was_running = self.state != WorkerState::Ready;
        // The master waits only 0.5 s for final reports: tasks in flight get a short moment
        // to finish (so what they did is counted), not the whole stop_timeout.
        self.users.set_stop_timeout(QUIT_SOFT_STOP);
        self.users.stop_all().await;
        if let Some(link) = link {
            self.report(link).await;
            while let Ok(out) = self.outbox.try_recv() {
                self.send_outgoing(link, out).await;
            }
            if self.master_takes_logs {
                self.send_logs(link).await;
            }
            self.send(link, "quit", &()).await;
        }
        if was_running {
            self.bus.fire(Event::Stop);
            self.bus.fire(Event::TestStop);
        }
        let done = self.bus.fire_wait(Event::Quit);
        if tokio::time::timeout(QUIT_HANDLERS_GRACE, done)
            .await
            .is_err()
        {
            tracing::warn!("quit handlers still running after {QUIT_HANDLERS_GRACE:?}; exiting");
        }
        // Give the socket a moment to flush the last frames before the process exits.
        sleep(Duration::from_millis(100)).await;
        self.outputs.stop();
        outbox::install(None);
        exit
    }

    async fn send<T: Serialize + ?Sized>(
        &mut self,
        link: &mut crate::transport::Link,
        kind: &str,
        data: &T,
    ) {
        let frame = protocol::encode(kind, data, &self.node_id);
        if let Err((_, e)) = link.send(frame).await {
            tracing::debug!("{kind} not sent: {e}");
        }
    }

    /// Sends a message that must not be lost: if it bounces, it is kept and resent after
    /// the connection is rebuilt.
    async fn send_reliable<T: Serialize + ?Sized>(
        &mut self,
        link: &mut crate::transport::Link,
        kind: &str,
        data: &T,
    ) {
        let frame = protocol::encode(kind, data, &self.node_id);
        if let Err((frame, e)) = link.send(frame).await {
            tracing::warn!("{kind} bounced ({e}); it will be resent after reconnecting");
            if self.pending.len() >= MAX_PENDING {
                self.pending.pop_front();
                tracing::error!("too many unsent messages: dropped the oldest");
            }
            self.pending.push_back(frame);
        }
    }
}

/// Locust's `--tags` / `--exclude-tags`: the master's (from its options) when it sends
/// any, else this worker's own flags.
fn tag_filter(event: &crate::SpawnEvent, opts: &Options) -> TagFilter {
    let from_master = |key: &str| event.option::<Vec<String>>(key);
    let include =
        from_master("tags").or_else(|| (!opts.tags.is_empty()).then(|| opts.tags.clone()));
    let exclude = from_master("exclude_tags").unwrap_or_else(|| opts.exclude_tags.clone());
    TagFilter { include, exclude }
}

async fn protocol_link(endpoint: &str, node_id: &str) -> Result<crate::transport::Link, String> {
    crate::transport::Link::connect(endpoint, node_id, CONNECT_TIMEOUT).await
}

pub(crate) fn ticker(period: Duration) -> Interval {
    let mut t = interval(period);
    t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    t
}

/// `<hostname>_<32 hex>`, as Python workers name themselves: the master spreads users
/// across hosts by the part before the first `_`.
pub(crate) fn node_id() -> String {
    let host = sysinfo::System::host_name()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
        .replace('_', "-");
    let mut rng = fastrand::Rng::new();
    format!("{host}_{:016x}{:016x}", rng.u64(..), rng.u64(..))
}

/// The process's CPU percent since the previous sample and its resident memory, as
/// psutil's `cpu_percent()` and `memory_info().rss` in a Python worker: on Linux a clock
/// read and one small /proc file a heartbeat, no process-table refresh.
struct ProcessMetrics {
    last: Option<(std::time::Instant, Duration)>,
    #[cfg(not(target_os = "linux"))]
    system: sysinfo::System,
}

impl ProcessMetrics {
    fn new() -> Self {
        ProcessMetrics {
            last: None,
            #[cfg(not(target_os = "linux"))]
            system: sysinfo::System::new(),
        }
    }

    #[cfg(target_os = "linux")]
    fn sample(&mut self) -> (f64, u64) {
        let now = std::time::Instant::now();
        let cpu = process_cpu_time();
        let percent = match (self.last, cpu) {
            (Some((then, was)), Some(cpu)) => {
                let wall = now.duration_since(then).as_secs_f64();
                if wall > 0.0 {
                    cpu.saturating_sub(was).as_secs_f64() / wall * 100.0
                } else {
                    0.0
                }
            }
            _ => 0.0,
        };
        if let Some(cpu) = cpu {
            self.last = Some((now, cpu));
        }
        (percent, resident_bytes().unwrap_or(0))
    }

    #[cfg(not(target_os = "linux"))]
    fn sample(&mut self) -> (f64, u64) {
        let Ok(pid) = sysinfo::get_current_pid() else {
            return (0.0, 0);
        };
        self.system.refresh_processes_specifics(
            sysinfo::ProcessesToUpdate::Some(&[pid]),
            true,
            sysinfo::ProcessRefreshKind::nothing()
                .with_cpu()
                .with_memory(),
        );
        match self.system.process(pid) {
            Some(p) => (f64::from(p.cpu_usage()), p.memory()),
            None => (0.0, 0),
        }
    }
}

/// CPU time of every thread of this process so far.
#[cfg(target_os = "linux")]
fn process_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live, aligned, writable timespec owned by this frame, and
    // clock_gettime writes nothing but it; CLOCK_PROCESS_CPUTIME_ID exists since Linux 2.6.12.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u32::try_from(ts.tv_nsec).ok()?;
    (rc == 0).then(|| Duration::new(secs, nanos))
}

/// Resident set size, from /proc/self/statm (pages; the second field).
#[cfg(target_os = "linux")]
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a constant of the system; it takes no pointer.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages.checked_mul(u64::try_from(page).ok().filter(|&p| p > 0)?)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_metrics_see_cpu_spent_and_memory_held() {
        let mut m = ProcessMetrics::new();
        let (_, rss) = m.sample();
        assert!(rss > 1 << 20, "rss {rss}");
        // Spin ~50 ms of this thread's CPU: the next sample sees a share of a core.
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let (cpu, _) = m.sample();
        assert!(cpu > 10.0 && cpu < 100.0 * 64.0, "cpu {cpu} %");
    }
}

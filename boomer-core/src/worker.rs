//! The control plane: the state machine of a Locust worker (ready → spawning → running →
//! ready), heartbeats both ways, reports, and the connection supervisor. It runs on its own
//! thread and runtime, so no user load can delay a heartbeat; and it never waits for users
//! either: stopping them is a job it polls among its other events.

use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::oneshot;
use tokio::time::sleep;

use crate::bus::EventBus;
use crate::clock;
use crate::config::Options;
use crate::events::Event;
use crate::host::HostCell;
use crate::outbox::{self, Outgoing};
use crate::process::{node_id, ProcessMetrics};
use crate::protocol::{self, FromMaster, Heartbeat, SpawningComplete, StatsReport, WorkerState};
use crate::runner::{self, ticker, Exit, Outbox, Signals};
use crate::stats;
use crate::transport::{ConnectError, Connector, Link, LinkEvent};
use crate::users::{TagFilter, Users};

const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
const REPORT_INTERVAL: Duration = Duration::from_secs(3);
const CLIENT_READY_RETRY: Duration = Duration::from_secs(5);
/// How long a master that answered before may take to answer on a new connection; past
/// it, the master still holds the old one (its ROUTER then took our first message for an
/// identity and routes nothing to us), and the connection is made again.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest pause between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the worker says that no master answers.
const NO_MASTER_EVERY: Duration = Duration::from_secs(5);
/// At quit, how long running tasks may take to finish before they are cancelled.
const QUIT_SOFT_STOP: Duration = Duration::from_millis(200);
/// How long closing a connection waits for the last frames to be written and the master
/// to close its end.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);
/// At exit, the same wait: the master has had its final report by then, or never will.
const EXIT_CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often new log lines go to the master, as Python workers do.
const LOGS_INTERVAL: Duration = Duration::from_secs(10);
/// The most names of missing classes reported one by one in a test: a master naming new
/// classes at every spawn gets one more report, and the worker remembers no more names.
const MAX_MISSING_REPORTED: usize = 100;
/// Messages kept for resending while the master is unreachable, and their bytes.
const MAX_PENDING: usize = 10_000;
const MAX_PENDING_BYTES: usize = 64 << 20;
/// The longest `stop_timeout` taken from the master (a day; beyond, time arithmetic in the
/// users' stop would overflow long before anyone waits that long).
const MAX_STOP_TIMEOUT: Duration = Duration::from_secs(86_400);
/// Master messages held while users stop (they are handled, in order, afterwards).
const MAX_DEFERRED: usize = 10_000;

/// What ended a session with the master.
enum SessionEnd {
    Exit(Exit),
    /// Quit, with the link still open for the final report.
    Quit(Exit),
    /// Make a new connection; `register` sends `client_ready` on it (not after the master's
    /// own `reconnect`: Python's worker only resets its socket then).
    Reconnect {
        register: bool,
    },
}

/// Users being stopped: the control loop polls this among its other events.
enum Busy {
    /// Until every user has stopped (the future gives them back).
    Users(Pin<Box<dyn Future<Output = Users> + Send>>, AfterStop),
    /// Until the `stop` and `test_stop` handlers have run.
    Handlers(oneshot::Receiver<()>, AfterStop),
}

/// What follows once users have stopped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AfterStop {
    /// The master said `stop`: `client_stopped`, then `client_ready`.
    ClientStopped,
    /// Nothing more (the master lost, or registered us anew).
    Idle,
}

enum Step {
    Users(Box<Users>, AfterStop),
    Handlers(AfterStop),
}

pub(crate) struct Worker {
    opts: Options,
    node_id: String,
    endpoint: String,
    state: WorkerState,
    acked: bool,
    /// Whether any master acked us in this process (then a master answers at the endpoint).
    ever_acked: bool,
    ready_sent: Instant,
    /// `None` while a [`Busy`] job holds them.
    users: Option<Users>,
    /// Cuts the users' stops short at quit.
    hurry: Arc<crate::users::Hurry>,
    /// A spawn that retired users: `spawning_complete` waits for them to be gone, as a
    /// Python worker's does (runners.py `start_worker`).
    completing: Option<crate::users::Retiring>,
    busy: Option<Busy>,
    /// Master messages that need the users, received while they were stopping.
    deferred: VecDeque<FromMaster>,
    /// `client_stopped` is owed to the master (its stop finished while disconnected).
    owe_stopped: bool,
    /// The users a stop under way holds, per class: reported until they are gone, as a
    /// Python worker counts its users until they stop (the master waits for 0).
    stopping_counts: std::collections::BTreeMap<String, u32>,
    bus: EventBus,
    host: Arc<HostCell>,
    last_spawn: f64,
    /// The last spawn's `stop_timeout`: how long users that spawn retired, or that a stop
    /// stops, may finish their current task.
    stop_timeout: Duration,
    /// The master's `--reset-stats`, from its options in the spawn.
    reset_stats: bool,
    /// Classes the master named that this worker lacks, already reported in this test.
    missing_reported: MissingClasses,
    /// What the worker knows of the master's liveness.
    live: Liveness,
    /// Whether this connection registered (sent `client_ready`).
    registering: bool,
    window_start: f64,
    /// The WARN and ERROR lines for the master's Logs tab.
    logs: LogForwarder,
    /// Reports and messages that bounced, resent once a connection is back.
    pending: ReliableQueue,
    /// Installed while the worker lives.
    outbox: Outbox,
    metrics: ProcessMetrics,
    signals: Signals,
    outputs: crate::output::Outputs,
    /// `--threshold`: this worker's share, judged at each report.
    thresholds: Option<crate::threshold::Judge>,
    connector: Connector,
}

impl Worker {
    pub(crate) fn new(opts: Options, users: Users, bus: EventBus, host: Arc<HostCell>) -> Self {
        let outbox = Outbox::install();
        let thresholds = crate::threshold::Judge::new(&opts, clock::now_epoch(), true);
        // Unknown until the master's ack, as Locust's runner.worker_index.
        crate::ctx::set_worker_index(None);
        Worker {
            node_id: node_id(),
            endpoint: opts.master.endpoint(),
            opts,
            state: WorkerState::Ready,
            acked: false,
            ever_acked: false,
            ready_sent: Instant::now(),
            hurry: users.hurry(),
            completing: None,
            users: Some(users),
            busy: None,
            deferred: VecDeque::new(),
            owe_stopped: false,
            stopping_counts: Default::default(),
            bus,
            host,
            last_spawn: f64::NEG_INFINITY,
            stop_timeout: Duration::ZERO,
            reset_stats: false,
            missing_reported: MissingClasses::default(),
            live: Liveness::default(),
            registering: false,
            window_start: clock::now_epoch(),
            logs: LogForwarder::default(),
            pending: ReliableQueue::default(),
            outbox,
            metrics: ProcessMetrics::new(),
            signals: Signals::new(),
            outputs: Default::default(),
            thresholds,
            connector: Connector::default(),
        }
    }

    /// Makes its connections with `connector` (a fake master's, in tests).
    #[cfg(test)]
    pub(crate) fn with_connector(mut self, connector: Connector) -> Self {
        self.connector = connector;
        self
    }

    /// Also hands every report window to these outputs (e.g. Prometheus).
    pub(crate) fn with_outputs(mut self, outputs: crate::output::Outputs) -> Self {
        self.outputs = outputs;
        self
    }

    /// Connects, serves the master until it says quit (or a signal arrives), reconnecting
    /// whenever the connection is lost.
    pub(crate) async fn run(mut self) -> Exit {
        tracing::info!(
            "worker {} joining the master at {}",
            self.node_id,
            self.endpoint
        );
        let mut register = true;
        loop {
            let link = match self.connect().await {
                Ok(link) => link,
                Err(exit) => return exit,
            };
            match self.session(link, register).await {
                Ok(r) => register = r,
                Err(exit) => return exit,
            }
        }
    }

    /// Connects, retrying with a growing pause; meanwhile the worker goes on with what
    /// needs no master (signals, a stop under way, the master-loss deadline).
    async fn connect(&mut self) -> Result<Link, Exit> {
        let mut backoff = Duration::from_millis(200);
        loop {
            let (endpoint, node_id) = (self.endpoint.clone(), self.node_id.clone());
            let connector = self.connector.clone();
            let attempt = connector.connect(&endpoint, &node_id, CONNECT_TIMEOUT);
            match self.offline(attempt).await? {
                Ok(link) => {
                    tracing::info!("connected to {endpoint}");
                    tracing::debug!(
                        "tasks alive on the control runtime: {}",
                        tokio::runtime::Handle::current()
                            .metrics()
                            .num_alive_tasks()
                    );
                    return Ok(link);
                }
                Err(e) => self.no_master(&e),
            }
            self.offline(sleep(backoff)).await?;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Says, every few seconds, that no master answers, and to a newcomer what to do.
    fn no_master(&mut self, why: &ConnectError) {
        if self
            .live
            .no_master_said
            .is_some_and(|t| t.elapsed() < NO_MASTER_EVERY)
        {
            tracing::debug!("{why}");
            return;
        }
        self.live.no_master_said = Some(Instant::now());
        if self.ever_acked {
            tracing::warn!(
                "the master at {} does not answer ({why}); retrying",
                self.endpoint
            );
        } else {
            tracing::warn!(
                "no master answers at {} ({why}); start one there (`locust -f locustfile.py \
                 --master`, with --master-bind-port for another port), or run this worker with \
                 --standalone",
                self.endpoint
            );
        }
    }

    /// Runs `fut` to its end while no connection is up, handling signals, the master-loss
    /// deadline and a stop under way meanwhile.
    async fn offline<F: Future>(&mut self, fut: F) -> Result<F::Output, Exit> {
        tokio::pin!(fut);
        let mut watch = ticker(HEARTBEAT_INTERVAL);
        loop {
            tokio::select! {
                out = &mut fut => return Ok(out),
                _ = self.signals.recv() => return Err(self.quit(None, Exit::Signal).await),
                _ = watch.tick() => {
                    if let Some(exit) = self.check_master_lost(false) {
                        return Err(self.quit(None, exit).await);
                    }
                }
                step = busy_step(&mut self.busy) => {
                    if let Some(SessionEnd::Quit(exit) | SessionEnd::Exit(exit)) =
                        self.after_step(None, step)
                    {
                        return Err(self.quit(None, exit).await);
                    }
                }
                _ = until_complete(&mut self.completing) => self.spawning_complete(None),
            }
        }
    }

    /// Whether the master has been silent too long: with the link up, no frame since the
    /// timeout (only once the master has sent heartbeats: those before 2.19 never do);
    /// otherwise, unheard that long (never reached since the start, or lost since). Then
    /// the users stop (nobody counts them), and with `--exit-on-master-loss` the worker
    /// exits: like Locust's worker, which gives up on a master it cannot reach.
    fn check_master_lost(&mut self, link_up: bool) -> Option<Exit> {
        let timeout = self.opts.master.heartbeat_timeout()?;
        let silent = match self.live.lost_since {
            Some(since) => since.elapsed(),
            None if link_up && self.live.heartbeats_armed => self.live.master_seen.elapsed(),
            None => return None,
        };
        if silent <= timeout {
            return None;
        }
        if self.state != WorkerState::Ready && self.busy.is_none() {
            tracing::error!(
                "no word from the master for {:.0?}: stopping the users; still trying to reconnect",
                silent
            );
            self.stop_users(AfterStop::Idle);
        }
        if self.opts.master.exit_on_master_loss {
            if self.ever_acked {
                tracing::error!("the master is lost and --exit-on-master-loss is set: exiting");
            } else {
                tracing::error!(
                    "no master answered at {} within --master-heartbeat-timeout ({timeout:?}) \
                     and --exit-on-master-loss is set: exiting",
                    self.endpoint
                );
            }
            return Some(Exit::MasterLost);
        }
        None
    }

    /// Serves one connection. `Ok(register)` to reconnect (sending `client_ready` on the
    /// next connection if `register`), `Err` to exit.
    async fn session(&mut self, mut link: Link, register: bool) -> Result<bool, Exit> {
        // A fresh connection gets a whole timeout before the master counts as silent.
        self.live.master_seen = Instant::now();
        self.live.heard_here = false;
        self.registering = register;
        if self.owe_stopped {
            // The stop the master asked for ended while disconnected: say so first, as the
            // master drops a worker that reports it stopped, then register.
            self.owe_stopped = false;
            self.send(&mut link, "client_stopped", &());
            self.client_ready(&mut link);
        } else if register {
            self.client_ready(&mut link);
        }
        if register {
            // A master that registers us anew knows nothing of what was held for the old one.
            self.deferred.clear();
        }
        let end = match self.take_deferred(&mut link) {
            Some(end) => end,
            None => self.serve(&mut link).await,
        };
        match end {
            SessionEnd::Exit(exit) => {
                drop(link);
                Err(self.quit(None, exit).await)
            }
            SessionEnd::Quit(exit) => Err(self.quit(Some(link), exit).await),
            SessionEnd::Reconnect { register } => {
                if register {
                    self.live.lost_since.get_or_insert_with(Instant::now);
                }
                tracing::warn!("reconnecting to the master as {}", self.node_id);
                // The master must let go of the old connection first: a ROUTER that still
                // holds our identity ignores a new connection that claims it.
                if !self.offline(link.close(CLOSE_TIMEOUT)).await? {
                    tracing::warn!(
                        "the master did not close the old connection within {CLOSE_TIMEOUT:?}"
                    );
                }
                Ok(register)
            }
        }
    }

    async fn serve(&mut self, link: &mut Link) -> SessionEnd {
        self.resend_pending(link);
        let mut heartbeat = ticker(HEARTBEAT_INTERVAL);
        let mut report = ticker(REPORT_INTERVAL);
        loop {
            let end = tokio::select! {
                event = link.next() => match event {
                    LinkEvent::Frame(bytes) => self.on_frame(link, &bytes),
                    LinkEvent::Lost(why) => {
                        tracing::warn!("lost the master: {why}");
                        Some(SessionEnd::Reconnect { register: true })
                    }
                },
                _ = heartbeat.tick() => self.on_heartbeat_tick(link),
                _ = report.tick() => {
                    self.resend_pending(link);
                    self.report(Some(link));
                    None
                }
                Some(out) = self.outbox.recv() => {
                    self.send_outgoing(link, out);
                    None
                }
                step = busy_step(&mut self.busy) => self.after_step(Some(link), step),
                _ = until_complete(&mut self.completing) => {
                    self.spawning_complete(Some(link));
                    None
                }
                _ = self.signals.recv() => Some(SessionEnd::Quit(Exit::Signal)),
            };
            if let Some(end) = end {
                return end;
            }
        }
    }

    fn on_frame(&mut self, link: &mut Link, bytes: &[u8]) -> Option<SessionEnd> {
        self.live.master_seen = Instant::now();
        self.live.lost_since = None;
        if !self.live.heard_here {
            self.live.heard_here = true;
            tracing::info!("the master answers on this connection");
        }
        let msg = match protocol::decode(bytes).and_then(FromMaster::parse) {
            Ok(msg) => msg,
            Err(e) => {
                tracing::warn!("dropped a message from the master: {e}");
                return None;
            }
        };
        self.on_message(link, msg)
    }

    fn on_message(&mut self, link: &mut Link, msg: FromMaster) -> Option<SessionEnd> {
        let needs_users = matches!(
            msg,
            FromMaster::Ack { .. }
                | FromMaster::Spawn { .. }
                | FromMaster::Stop
                | FromMaster::UpdateUserClass(_)
        );
        if needs_users && self.busy.is_some() {
            // Handled once the users have stopped, in order, as Python's worker (whose
            // receiving greenlet is inside stop()) does.
            if self.deferred.len() >= MAX_DEFERRED {
                tracing::error!("too many master messages while users stop: dropped the oldest");
                self.deferred.pop_front();
            }
            self.deferred.push_back(msg);
            return None;
        }
        match msg {
            FromMaster::Ack { index } => self.on_ack(link, index),
            FromMaster::Spawn { timestamp, event } => {
                self.on_spawn(link, timestamp, event);
            }
            FromMaster::SpawningComplete { user_count } => {
                // Only masters of 2.29 and later broadcast this, and only they take `logs`.
                self.logs.master_takes = true;
                if self.reset_stats {
                    // The master resets its stats now (--reset-stats): what this worker
                    // recorded during the ramp-up and has not reported yet goes too, as a
                    // Python worker's reset_all at spawning_complete.
                    let _ = stats::drain();
                    self.window_start = clock::now_epoch();
                    if let Some(judge) = self.thresholds.as_mut() {
                        judge.reset(self.window_start);
                    }
                    tracing::info!("the master resets its stats (--reset-stats): so do we");
                }
                self.bus.fire(Event::SpawningComplete(user_count));
            }
            FromMaster::Stop => {
                tracing::info!("the master says stop");
                self.stop_users(AfterStop::ClientStopped);
            }
            FromMaster::Quit => {
                tracing::info!("the master says quit");
                return Some(SessionEnd::Quit(Exit::Quit));
            }
            FromMaster::Heartbeat => self.live.heartbeats_armed = true,
            FromMaster::Reconnect => {
                tracing::info!("the master asked us to reconnect (users keep running)");
                return Some(SessionEnd::Reconnect { register: false });
            }
            FromMaster::UpdateUserClass(data) => self.update_user_class(&data),
            FromMaster::Custom(msg) => {
                if self
                    .bus
                    .handles(&crate::EventKind::Message(msg.kind.clone().into()))
                {
                    self.bus.fire(Event::Message(msg));
                } else {
                    tracing::warn!("no handler for message type {:?}; dropped", msg.kind);
                }
            }
        }
        None
    }

    fn on_ack(&mut self, _link: &mut Link, index: Option<i64>) {
        tracing::info!("the master acknowledged us (worker index {index:?})");
        if index.is_none() {
            tracing::warn!(
                "this master is older than the Locust versions boomer supports (2.12.2 to \
                 2.47.0): its ack has no worker index (Locust 2.10); it may work, but upgrade \
                 Locust if anything misbehaves"
            );
        }
        crate::ctx::set_worker_index(index.and_then(|i| u64::try_from(i).ok()));
        if self.total() > 0 {
            // A fresh ack means the master registered us anew, with no users: follow it so
            // that nothing runs that the master does not count.
            tracing::warn!("the master re-registered us: stopping the users it no longer counts");
            self.stop_users(AfterStop::Idle);
        }
        self.acked = true;
        self.ever_acked = true;
        self.bus.fire(Event::Connected);
    }

    fn on_spawn(&mut self, link: &mut Link, timestamp: f64, event: crate::SpawnEvent) {
        // Only a registered worker gets spawns: masters older than 2.10 never ack.
        self.acked = true;
        self.send(link, "spawning", &());
        if timestamp <= self.last_spawn {
            tracing::debug!("dropped a stale spawn ({timestamp} <= {})", self.last_spawn);
            return;
        }
        self.last_spawn = timestamp;
        let first = self.state == WorkerState::Ready;
        let Some(users) = self.users.as_mut() else {
            return;
        };
        self.stop_timeout = Duration::try_from_secs_f64(event.stop_timeout())
            .unwrap_or_default()
            .min(MAX_STOP_TIMEOUT);
        if first {
            // A new test: what was recorded since the last report belongs to no test (the
            // master cleared its stats too), as Python's clear_all at the first spawn.
            let stale = stats::drain().num_requests();
            if stale > 0 {
                tracing::info!("dropped {stale} requests recorded outside any test");
            }
            self.window_start = clock::now_epoch();
            if let Some(judge) = self.thresholds.as_mut() {
                judge.reset(self.window_start);
            }
            self.missing_reported = MissingClasses::default();
            self.reset_stats = event.option::<bool>("reset_stats").unwrap_or(false);
            runner::start_test(users, &self.bus, tag_filter(&event, &self.opts));
        }
        self.state = WorkerState::Spawning;
        self.report_missing_classes(&event);
        let Some(users) = self.users.as_mut() else {
            return;
        };
        let fallback = self.opts.load.host.clone();
        self.host.set(event.host.clone().or(fallback));
        let (rates, fleet) = arrival_options(&event);
        users.set_fleet(rates, fleet);
        // A spawn replaces the one still completing, as Python's kills its greenlet.
        self.completing = users.apply(&event.user_classes_count, self.stop_timeout);
        tracing::info!(
            "spawn: {:?} (host {:?})",
            event.user_classes_count,
            event.host
        );
        self.bus.fire(Event::Spawn(event));
        if self.completing.is_none() {
            self.spawning_complete(Some(link));
        } else {
            tracing::debug!("spawning_complete once the retired users are gone");
        }
    }

    /// The spawn is done (its retired users gone): the counts as they are now.
    fn spawning_complete(&mut self, link: Option<&mut Link>) {
        self.completing = None;
        self.state = WorkerState::Running;
        let Some(users) = self.users.as_ref() else {
            return;
        };
        let done = SpawningComplete {
            user_classes_count: users.counts(),
            user_count: users.total(),
        };
        if let Some(link) = link {
            self.send(link, "spawning_complete", &done);
        }
    }

    /// The web UI's class picker edited a class (Locust's `update_user_class`): its tasks
    /// and host apply to the users started from then on, and to its running users from
    /// their next iteration; weight and fixed_count are kept as Python's worker keeps them
    /// (the master's dispatcher is what uses them).
    fn update_user_class(&mut self, data: &rmpv::Value) {
        let field = |key: &str| {
            data.as_map()?
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v)
        };
        let Some(name) = field("user_class_name").and_then(|v| v.as_str()) else {
            tracing::warn!("update_user_class without a user_class_name: {data}");
            return;
        };
        let tasks: Option<Vec<String>> = field("tasks").and_then(|v| {
            v.as_array().map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
        });
        let host = field("host").map(|v| v.as_str().filter(|h| !h.is_empty()).map(str::to_string));
        // Whole numbers only (the web UI sends ints), clamped to what a class holds.
        let count = |key: &str| {
            field(key)
                .and_then(|v| v.as_u64())
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
        };
        let edit = crate::users::ClassEdit {
            tasks,
            host,
            weight: count("weight"),
            fixed_count: count("fixed_count"),
        };
        let Some(users) = self.users.as_mut() else {
            return;
        };
        match users.update_class(name, edit) {
            Ok(()) => tracing::info!("the web UI updated class {name:?}: {data}"),
            Err(e) => tracing::warn!("update_user_class from the web UI not applied: {e}"),
        }
    }

    /// A class the master asks users of, and this worker lacks, is an error the master
    /// shows (its Exceptions tab), once per class and test.
    fn report_missing_classes(&mut self, event: &crate::SpawnEvent) {
        let Some(users) = self.users.as_ref() else {
            return;
        };
        for (name, &count) in &event.user_classes_count {
            if count == 0 || users.plan().resolve(name).is_some() {
                continue;
            }
            match self.missing_reported.first(name) {
                Some(Missing::Class) => outbox::exception(
                    format!(
                        "the master asks for {count} users of class {name:?}, which this worker \
                         does not have: none started"
                    ),
                    format!(
                        "worker {}: no user class {name:?} (name the Rust class as the \
                         master's locustfile does)",
                        self.node_id
                    ),
                ),
                Some(Missing::TooMany) => outbox::exception(
                    format!(
                        "the master asks for users of more than {MAX_MISSING_REPORTED} classes \
                         this worker does not have (the latest: {name:?}): none started, and \
                         the others are not reported one by one"
                    ),
                    format!("worker {}: too many missing user classes", self.node_id),
                ),
                None => {}
            }
        }
    }

    /// Starts stopping every user: the control loop goes on, and `then` follows once they
    /// and the `test_stop` handlers are done.
    fn stop_users(&mut self, then: AfterStop) {
        // A stop ends the spawn still completing, as Python's kills its greenlet.
        self.completing = None;
        let Some(mut users) = self.users.take() else {
            return;
        };
        self.stopping_counts = users.counts();
        let stop_timeout = self.stop_timeout;
        self.busy = Some(Busy::Users(
            Box::pin(async move {
                users.stop_all(stop_timeout).await;
                users
            }),
            then,
        ));
    }

    /// One step of a stop is done: the users (then their handlers run), or the handlers
    /// (then the report, and what the stop was for).
    fn after_step(&mut self, link: Option<&mut Link>, step: Step) -> Option<SessionEnd> {
        match step {
            Step::Users(users, then) => {
                self.users = Some(*users);
                self.stopping_counts.clear();
                if self.state != WorkerState::Ready {
                    self.busy = Some(Busy::Handlers(runner::end_test(&self.bus), then));
                    return None;
                }
                self.stopped(link, then)
            }
            Step::Handlers(then) => self.stopped(link, then),
        }
    }

    /// Users and handlers are done: everything they recorded goes to the master at once,
    /// then what the stop was for; then the messages held meanwhile.
    fn stopped(&mut self, mut link: Option<&mut Link>, then: AfterStop) -> Option<SessionEnd> {
        self.state = WorkerState::Ready;
        if let Some(users) = self.users.as_ref() {
            tracing::debug!(
                "users stopped; tasks alive on the users' runtime: {}",
                users.alive_tasks()
            );
        }
        self.report(link.as_deref_mut());
        let Some(link) = link else {
            self.owe_stopped |= then == AfterStop::ClientStopped;
            return None;
        };
        if then == AfterStop::ClientStopped {
            self.send(link, "client_stopped", &());
            self.client_ready(link);
        }
        self.take_deferred(link)
    }

    /// Handles the master messages held while users stopped, until one starts a new stop.
    fn take_deferred(&mut self, link: &mut Link) -> Option<SessionEnd> {
        while self.busy.is_none() {
            let msg = self.deferred.pop_front()?;
            if let Some(end) = self.on_message(link, msg) {
                return Some(end);
            }
        }
        None
    }

    /// Registers with the master; resent every 5 s until the master acks (masters before
    /// 2.10 never do, and the worker carries on without).
    fn client_ready(&mut self, link: &mut Link) {
        self.acked = false;
        self.ready_sent = Instant::now();
        self.send(link, "client_ready", &protocol::CLIENT_READY_VERSION);
    }

    fn on_heartbeat_tick(&mut self, link: &mut Link) -> Option<SessionEnd> {
        let silent = self.live.heartbeats_armed
            && self
                .opts
                .master
                .heartbeat_timeout()
                .is_some_and(|t| self.live.master_seen.elapsed() > t);
        if let Some(exit) = self.check_master_lost(true) {
            return Some(SessionEnd::Exit(exit));
        }
        if silent {
            // A silent master may hold a dead connection: rebuild the socket.
            return Some(SessionEnd::Reconnect { register: true });
        }
        let expects_answer = self.registering || self.live.heartbeats_armed;
        if self.ever_acked
            && expects_answer
            && !self.live.heard_here
            && self.live.master_seen.elapsed() >= ANSWER_TIMEOUT
        {
            tracing::warn!(
                "the master does not answer on the new connection (it still held the old one \
                 when this one came): connecting again"
            );
            return Some(SessionEnd::Reconnect {
                register: self.registering,
            });
        }
        if !self.acked && self.ready_sent.elapsed() >= CLIENT_READY_RETRY {
            if self
                .live
                .no_master_said
                .is_none_or(|t| t.elapsed() >= NO_MASTER_EVERY)
            {
                self.live.no_master_said = Some(Instant::now());
                tracing::warn!(
                    "connected to {}, but no master acknowledged us yet; sending client_ready \
                     again (a frozen or overloaded master answers late; Locust before 2.10 \
                     never acks)",
                    self.endpoint
                );
            }
            self.client_ready(link);
        }
        if self.logs.master_takes && self.logs.sent.elapsed() >= LOGS_INTERVAL {
            self.send_logs(link);
        }
        self.heartbeat(link);
        None
    }

    fn heartbeat(&mut self, link: &mut Link) {
        let (cpu, rss) = self.metrics.sample();
        let hb = Heartbeat {
            state: self.state,
            current_cpu_usage: cpu,
            current_memory_usage: rss,
        };
        self.send(link, "heartbeat", &hb);
    }

    /// Sends the WARN and ERROR lines so far, when there are new ones (the master shows them
    /// in its Logs tab).
    fn send_logs(&mut self, link: &mut Link) {
        self.logs.sent = Instant::now();
        // The whole kept list (the master replaces a worker's lines with each message),
        // when something is new; never again after a flood, as Locust's worker.
        let Some(logs) = self.logs.lines.next() else {
            return;
        };
        let data = protocol::Logs {
            worker_id: self.node_id.clone(),
            logs,
        };
        self.send(link, "logs", &data);
    }

    fn counts(&self) -> std::collections::BTreeMap<String, u32> {
        match self.users.as_ref() {
            Some(users) => users.counts(),
            None => self.stopping_counts.clone(),
        }
    }

    fn total(&self) -> u32 {
        match self.users.as_ref() {
            Some(users) => users.total(),
            None => self
                .stopping_counts
                .values()
                .fold(0u32, |sum, &n| sum.saturating_add(n)),
        }
    }

    /// Sends the deltas since the last report (every 3 s, and at once on stop and quit);
    /// without a connection they wait for the next.
    fn report(&mut self, link: Option<&mut Link>) {
        let Some(link) = link else {
            return;
        };
        let mut window = stats::drain();
        let arrivals = self
            .users
            .as_ref()
            .map(|u| u.report_arrivals(&mut window))
            .unwrap_or_default();
        let thresholds = match self.thresholds.as_mut() {
            Some(judge) => judge.observe(&window),
            None => Vec::new(),
        };
        if self.outputs.active() {
            self.outputs.report(crate::output::Report {
                time: clock::now_epoch(),
                user_count: self.total(),
                window: window.clone(),
                exceptions: Vec::new(),
                arrivals,
                thresholds,
            });
        }
        let start = std::mem::replace(&mut self.window_start, clock::now_epoch());
        let (stats, stats_total, errors) = protocol::window_report(&window, start);
        let report = StatsReport {
            stats,
            stats_total,
            errors,
            user_classes_count: self.counts(),
            user_count: self.total(),
        };
        self.send_reliable(link, "stats", &report);
    }

    fn send_outgoing(&mut self, link: &mut Link, out: Outgoing) {
        match out {
            Outgoing::Custom { kind, data } => self.send_reliable(link, &kind, &data),
            Outgoing::Exception { msg, traceback } => {
                let data = protocol::Exception { msg, traceback };
                self.send_reliable(link, "exception", &data)
            }
        }
    }

    /// Quit from any state: stop users, send the final report and `quit` at once, let the
    /// quit handlers run, and close the connection once all of it is written.
    async fn quit(&mut self, mut link: Option<Link>, exit: Exit) -> Exit {
        // Every stop, under way or to come, gives tasks only a short moment more (the master
        // waits 0.5 s for final reports after its own quit); requests in flight still finish
        // and are recorded, however long they take.
        self.hurry.now();
        self.completing = None;
        let mut was_running = self.state != WorkerState::Ready;
        match self.busy.take() {
            Some(Busy::Users(stopping, _)) => match self.heartbeating(&mut link, stopping).await {
                Some(users) => self.users = Some(users),
                None => tracing::warn!("users still stopping at a second signal: left behind"),
            },
            // Their stop and test_stop events are already fired.
            Some(Busy::Handlers(..)) => was_running = false,
            None => {}
        }
        if let Some(mut users) = self.users.take() {
            let stopping = users.stopping(QUIT_SOFT_STOP);
            if self.heartbeating(&mut link, stopping).await.is_none() {
                tracing::warn!("users still stopping at a second signal: left behind");
            }
            self.users = Some(users);
        }
        if let Some(link) = link.as_mut() {
            self.report(Some(link));
            while let Some(out) = self.outbox.try_recv() {
                self.send_outgoing(link, out);
            }
            if self.logs.master_takes {
                self.send_logs(link);
            }
            self.send(link, "quit", &());
        }
        if was_running {
            // Not waited for: the quit handlers follow at once, as in Locust.
            drop(runner::end_test(&self.bus));
        }
        runner::quit_handlers(&self.bus).await;
        if let Some(link) = link {
            // Written to the master before the process exits.
            link.close(EXIT_CLOSE_TIMEOUT).await;
        }
        self.outputs.stop();
        exit
    }

    /// Awaits `fut` while heartbeating the master (so that a long wait does not get us
    /// marked missing) and reading what it sends (dropped: we are quitting). A second
    /// signal gives up the wait (`None`).
    async fn heartbeating<F: Future>(
        &mut self,
        link: &mut Option<Link>,
        fut: F,
    ) -> Option<F::Output> {
        let mut fut = std::pin::pin!(fut);
        let mut beat = ticker(HEARTBEAT_INTERVAL);
        beat.reset();
        loop {
            tokio::select! {
                out = &mut fut => return Some(out),
                _ = beat.tick() => {
                    if let Some(l) = link.as_mut() {
                        self.heartbeat(l);
                    }
                }
                event = next_event(link) => {
                    if let LinkEvent::Lost(why) = event {
                        tracing::debug!("connection lost while quitting: {why}");
                        *link = None;
                    }
                }
                _ = self.signals.recv() => return None,
            }
        }
    }

    fn send<T: Serialize + ?Sized>(&mut self, link: &mut Link, kind: &str, data: &T) {
        self.send_as(link, kind, data, false);
    }

    /// Sends a message that must not be lost: if it bounces, it is kept and resent after
    /// the connection is rebuilt.
    fn send_reliable<T: Serialize + ?Sized>(&mut self, link: &mut Link, kind: &str, data: &T) {
        self.send_as(link, kind, data, true);
    }

    fn send_as<T: Serialize + ?Sized>(
        &mut self,
        link: &mut Link,
        kind: &str,
        data: &T,
        reliable: bool,
    ) {
        let frame = protocol::encode(kind, data, &self.node_id);
        match link.send(frame) {
            Ok(()) => {}
            Err((frame, e)) if reliable => {
                tracing::warn!("{kind} bounced ({e}); it will be resent after reconnecting");
                self.pending.push(frame);
            }
            Err((_, e)) => tracing::debug!("{kind} not sent: {e}"),
        }
    }

    /// Resends what bounced, oldest first, as far as the send queue takes it now (the rest
    /// at the next report).
    fn resend_pending(&mut self, link: &mut Link) {
        self.pending.resend(link);
    }
}

/// What the worker knows of the master's liveness.
struct Liveness {
    /// When the master last sent anything.
    master_seen: Instant,
    /// Whether the master sends heartbeats (2.19+): only then does its silence count.
    heartbeats_armed: bool,
    /// Whether the master sent anything on this connection yet.
    heard_here: bool,
    /// Since when no master has been heard (from the start, until the first frame; from a
    /// loss, until the next).
    lost_since: Option<Instant>,
    /// When the worker last said that no master answers.
    no_master_said: Option<Instant>,
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness {
            master_seen: Instant::now(),
            heartbeats_armed: false,
            heard_here: false,
            lost_since: Some(Instant::now()),
            no_master_said: None,
        }
    }
}

/// The WARN and ERROR lines sent to the master (its Logs tab), every [`LOGS_INTERVAL`].
struct LogForwarder {
    /// Whether the master is recent enough for `logs` (2.29+).
    master_takes: bool,
    sent: Instant,
    lines: crate::logs::LogSender,
}

impl Default for LogForwarder {
    fn default() -> Self {
        LogForwarder {
            master_takes: false,
            // The first lines go out as soon as the master is known to take them.
            sent: Instant::now()
                .checked_sub(LOGS_INTERVAL)
                .unwrap_or_else(Instant::now),
            lines: crate::logs::LogSender::default(),
        }
    }
}

/// Messages that must not be lost and bounced (the connection was gone or its queue
/// full), kept for the next connection: at most [`MAX_PENDING`] of them and
/// [`MAX_PENDING_BYTES`], the oldest dropped first.
#[derive(Default)]
struct ReliableQueue {
    frames: VecDeque<Vec<u8>>,
    bytes: usize,
}

impl ReliableQueue {
    fn push(&mut self, frame: Vec<u8>) {
        self.bytes += frame.len();
        self.frames.push_back(frame);
        while self.frames.len() > MAX_PENDING || self.bytes > MAX_PENDING_BYTES {
            let Some(old) = self.frames.pop_front() else {
                break;
            };
            self.bytes -= old.len();
            tracing::error!("too many unsent messages: dropped the oldest");
        }
    }

    fn resend(&mut self, link: &mut Link) {
        while let Some(frame) = self.frames.pop_front() {
            self.bytes -= frame.len();
            if let Err((frame, e)) = link.send(frame) {
                tracing::debug!("resend paused: {e}");
                self.bytes += frame.len();
                self.frames.push_front(frame);
                return;
            }
        }
    }
}

/// The next event of the connection; never, without one.
async fn next_event(link: &mut Option<Link>) -> LinkEvent {
    match link.as_mut() {
        Some(link) => link.next().await,
        None => std::future::pending().await,
    }
}

/// Ends once the spawn still completing is done; never when none is.
async fn until_complete(completing: &mut Option<crate::users::Retiring>) {
    match completing.as_mut() {
        Some(retiring) => retiring.await,
        None => std::future::pending().await,
    }
}

/// The next step of the stop under way; never completes when none is.
async fn busy_step(busy: &mut Option<Busy>) -> Step {
    let step = match busy.as_mut() {
        None => std::future::pending().await,
        Some(Busy::Users(stopping, then)) => Step::Users(Box::new(stopping.await), *then),
        Some(Busy::Handlers(done, then)) => {
            let _ = done.await;
            Step::Handlers(*then)
        }
    };
    *busy = None;
    step
}

/// Locust's `--tags` / `--exclude-tags`: the master's (from its options) when it sends
/// any, else this worker's own flags.
fn tag_filter(event: &crate::SpawnEvent, opts: &Options) -> TagFilter {
    let own = runner::tag_filter(opts);
    let from_master = |key: &str| event.option::<Vec<String>>(key);
    TagFilter {
        include: from_master("tags").or(own.include),
        exclude: from_master("exclude_tags").unwrap_or(own.exclude),
    }
}

/// The missing classes reported in a test: each name once, at most
/// [`MAX_MISSING_REPORTED`] names, then once that there are more.
#[derive(Default)]
struct MissingClasses {
    names: BTreeSet<String>,
    too_many: bool,
}

#[derive(Debug, PartialEq)]
enum Missing {
    /// Report this class.
    Class,
    /// Report that there are too many to report.
    TooMany,
}

impl MissingClasses {
    /// What to report for the missing class `name`, if anything yet.
    fn first(&mut self, name: &str) -> Option<Missing> {
        if self.names.contains(name) {
            None
        } else if self.names.len() < MAX_MISSING_REPORTED {
            self.names.insert(name.to_string());
            Some(Missing::Class)
        } else if !self.too_many {
            self.too_many = true;
            Some(Missing::TooMany)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod fuzz;

/// The open model's part of a spawn: the master's `arrival_rate` option (a custom
/// argument of its locustfile; a string, or a number per second), and the fleet's user
/// count this worker's users are a share of (`users`, which the web UI's start form sets
/// since Locust 2.2x, else `-u`'s `num_users`). A rate that does not parse is logged and
/// ignored (the command line's applies).
fn arrival_options(
    event: &crate::SpawnEvent,
) -> (Option<crate::users::arrival::RateSpecs>, Option<u32>) {
    let text = event
        .option::<String>("arrival_rate")
        .or_else(|| event.option::<f64>("arrival_rate").map(|r| r.to_string()));
    let rates = match text {
        Some(text) if !text.trim().is_empty() => {
            match crate::users::arrival::RateSpecs::parse(&text) {
                Ok(rates) => Some(rates),
                Err(e) => {
                    tracing::error!("the master's arrival_rate is ignored: {e}");
                    None
                }
            }
        }
        _ => None,
    };
    let fleet = event
        .option::<u64>("users")
        .or_else(|| event.option::<u64>("num_users"))
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    (rates, fleet)
}

#[cfg(test)]
mod tests {

    /// The master's `arrival_rate` option arrives as a string (or a number, for a
    /// `type=float` argument); the fleet's user count as `users` (web UI) or `num_users`.
    #[test]
    fn the_masters_arrival_options_are_read_from_parsed_options() {
        let spawn = |opts: Vec<(&str, Value)>| crate::SpawnEvent {
            user_classes_count: std::collections::BTreeMap::new(),
            host: None,
            spawn_rate: 1.0,
            stop_timeout: 0.0,
            options: opts.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        };
        let (rates, fleet) = arrival_options(&spawn(vec![
            ("arrival_rate", Value::from("Shopper=10; 0, 5s:20")),
            ("num_users", Value::from(40)),
        ]));
        let rates = rates.expect("parsed");
        assert!(rates.named.contains_key("Shopper") && rates.rest.is_some());
        assert_eq!(fleet, Some(40));
        let (rates, fleet) = arrival_options(&spawn(vec![
            ("arrival_rate", Value::from(400.0)),
            ("users", Value::from(8)),
            ("num_users", Value::from(40)),
        ]));
        assert_eq!(rates, crate::users::arrival::RateSpecs::parse("400").ok());
        assert_eq!(fleet, Some(8), "the web UI's count wins");
        for bad in [Value::from("fast"), Value::from(""), Value::Nil] {
            let (rates, _) = arrival_options(&spawn(vec![("arrival_rate", bad)]));
            assert_eq!(rates, None);
        }
        assert_eq!(arrival_options(&spawn(vec![])), (None, None));
    }

    use super::*;

    /// A master naming new classes at every spawn: the first ones are reported, once each,
    /// then once that there are more, and the names kept stay bounded.
    #[test]
    fn missing_classes_are_reported_once_and_kept_bounded() {
        let mut m = MissingClasses::default();
        assert_eq!(m.first("Ghost"), Some(Missing::Class));
        assert_eq!(m.first("Ghost"), None);
        let mut reports = Vec::new();
        for i in 0..10_000 {
            reports.extend(m.first(&format!("Invented{i}")));
        }
        assert_eq!(
            reports.iter().filter(|r| **r == Missing::Class).count(),
            MAX_MISSING_REPORTED - 1
        );
        assert_eq!(reports.last(), Some(&Missing::TooMany));
        assert_eq!(reports.len(), MAX_MISSING_REPORTED);
        assert_eq!(m.names.len(), MAX_MISSING_REPORTED);
        assert_eq!(m.first("Ghost"), None);
    }

    // --- The state machine against a fake master (transport::fake), without ZeroMQ. ---

    use crate::transport::fake::{map, Accepted, FakeMaster};
    use rmpv::Value;

    /// A worker with one task of no class (any class name the master sends runs it), its
    /// users on `users_rt`, built with `args` and the fake master's connector (in the
    /// control runtime: it listens to signals).
    fn fake_worker(args: &[&str], users_rt: &tokio::runtime::Runtime) -> (Worker, FakeMaster) {
        use clap::Parser;
        fn tick(_: &mut crate::Ctx) -> crate::registry::BoxFuture<'_, crate::registry::Outcome> {
            Box::pin(async {
                tokio::time::sleep(Duration::from_millis(10)).await;
                Ok(())
            })
        }
        let mut registry = crate::registry::Registry::default();
        registry.add_task(crate::registry::Task::new(
            "tick",
            1,
            crate::registry::TaskFn::Async(tick),
        ));
        let registry = Arc::new(registry);
        let host = Arc::new(HostCell::default());
        let users = Users::new(
            users_rt.handle().clone(),
            registry.clone(),
            host.clone(),
            None,
        );
        let bus = EventBus::start(users_rt.handle(), registry.handlers.clone());
        let opts = Options::try_parse_from(std::iter::once("boomer").chain(args.iter().copied()))
            .expect("options");
        let (master, connector) = FakeMaster::new();
        let worker = Worker::new(opts, users, bus, host).with_connector(connector);
        (worker, master)
    }

    /// Runs `script` as the master against the worker; the worker's exit.
    pub(super) fn against(args: &[&str], script: impl AsyncFnOnce(FakeMaster)) -> Exit {
        let _stats = crate::STATS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let users_rt = crate::users::fixtures::runtime(1);
        let control = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        control.block_on(async {
            let (worker, master) = fake_worker(args, &users_rt);
            let worker = tokio::spawn(worker.run());
            script(master).await;
            tokio::time::timeout(Duration::from_secs(10), worker)
                .await
                .expect("the worker ends")
                .expect("the worker does not panic")
        })
    }

    pub(super) fn num(v: &Value, key: &str) -> Option<u64> {
        v.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .and_then(|(_, v)| v.as_u64())
    }

    fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
        v.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .and_then(|(_, v)| v.as_str())
    }

    /// Accepts the first connection and acknowledges its `client_ready`.
    pub(super) async fn registered(master: &mut FakeMaster) -> Accepted {
        let mut conn = master.accept().await;
        conn.expect("client_ready").await;
        conn.send("ack", map(&[("index", 7.into())]));
        conn
    }

    pub(super) fn spawn_message(users: u64, timestamp: f64) -> Value {
        map(&[
            ("timestamp", timestamp.into()),
            ("user_classes_count", map(&[("RustUser", users.into())])),
            ("host", Value::Nil),
            ("stop_timeout", 0.into()),
            ("parsed_options", map(&[])),
        ])
    }

    #[test]
    fn acked_it_heartbeats_ready_and_quits_when_told() {
        let exit = against(&[], async |mut master| {
            let mut conn = registered(&mut master).await;
            let (hb, _) = conn.expect("heartbeat").await;
            assert_eq!(text(&hb, "state"), Some("ready"), "{hb}");
            conn.send("quit", Value::Nil);
            conn.expect("quit").await;
        });
        assert_eq!(exit, Exit::Quit);
    }

    #[test]
    fn a_spawn_runs_users_and_a_stop_ends_with_client_stopped_then_ready() {
        let exit = against(&[], async |mut master| {
            let mut conn = registered(&mut master).await;
            conn.send("spawn", spawn_message(3, 1.0));
            let (done, before) = conn.expect("spawning_complete").await;
            assert!(before.contains(&"spawning".to_string()), "{before:?}");
            assert_eq!(num(&done, "user_count"), Some(3), "{done}");
            let (hb, _) = conn.expect("heartbeat").await;
            assert_eq!(text(&hb, "state"), Some("running"), "{hb}");
            conn.send("stop", Value::Nil);
            let (_, before) = conn.expect("client_stopped").await;
            assert!(!before.contains(&"client_ready".to_string()), "{before:?}");
            conn.expect("client_ready").await;
            conn.send("ack", map(&[("index", 7.into())]));
            conn.send("quit", Value::Nil);
            conn.expect("quit").await;
        });
        assert_eq!(exit, Exit::Quit);
    }

    #[test]
    fn a_lower_spawn_completes_once_the_retired_users_are_gone() {
        let exit = against(&[], async |mut master| {
            let mut conn = registered(&mut master).await;
            conn.send("spawn", spawn_message(5, 1.0));
            let (done, _) = conn.expect("spawning_complete").await;
            assert_eq!(num(&done, "user_count"), Some(5), "{done}");
            conn.send("spawn", spawn_message(2, 2.0));
            let (done, _) = conn.expect("spawning_complete").await;
            assert_eq!(num(&done, "user_count"), Some(2), "{done}");
            conn.send("quit", Value::Nil);
            conn.expect("quit").await;
        });
        assert_eq!(exit, Exit::Quit);
    }

    /// `reconnect` resets the connection and keeps the users running, as Python's
    /// `reset_connection`: no second `client_ready`, the heartbeats go on saying running.
    #[test]
    fn reconnect_keeps_the_users() {
        let exit = against(&[], async |mut master| {
            let mut conn = registered(&mut master).await;
            conn.send("spawn", spawn_message(2, 1.0));
            conn.expect("spawning_complete").await;
            conn.send("reconnect", Value::Nil);
            let mut again = master.accept().await;
            let (hb, before) = again.expect("heartbeat").await;
            assert!(!before.contains(&"client_ready".to_string()), "{before:?}");
            assert_eq!(text(&hb, "state"), Some("running"), "{hb}");
            again.send("quit", Value::Nil);
            again.expect("quit").await;
            drop(conn);
        });
        assert_eq!(exit, Exit::Quit);
    }

    /// A master that stops heartbeating past `--master-heartbeat-timeout` is lost: with
    /// `--exit-on-master-loss` the worker exits (3), after a new connection got no answer.
    #[test]
    fn a_silent_master_is_lost() {
        let args = ["--master-heartbeat-timeout", "1", "--exit-on-master-loss"];
        let exit = against(&args, async |mut master| {
            let mut conn = registered(&mut master).await;
            conn.send("heartbeat", Value::Nil);
            // Silent from now on, until the worker gives this connection up.
            while conn.recv().await.is_some() {}
        });
        assert_eq!(exit, Exit::MasterLost);
    }

    #[test]
    fn a_broken_connection_is_made_again_and_registers() {
        let exit = against(&[], async |mut master| {
            let conn = registered(&mut master).await;
            conn.break_connection();
            let mut again = master.accept().await;
            again.expect("client_ready").await;
            again.send("ack", map(&[("index", 7.into())]));
            again.expect("heartbeat").await;
            again.send("quit", Value::Nil);
            again.expect("quit").await;
        });
        assert_eq!(exit, Exit::Quit);
    }
}

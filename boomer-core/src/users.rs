//! Starting and stopping users to match the master's per-class targets, and the loop each
//! user runs: build its state (`on_start`), pick a task by weight (or in order), run it,
//! wait, until told to stop; then `on_stop`.

use std::any::Any;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};
use std::sync::{Arc, Once, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::host::HostCell;
use crate::outbox;
use crate::ratelimit::RateLimiter;
use crate::registry::{Outcome, Registry, Task, TaskFn, UserClass, UserState};
use crate::stats;
use crate::Ctx;

/// After `stop_timeout`, cancelled users get this long to run `on_stop` before they are
/// dropped.
const ON_STOP_GRACE: Duration = Duration::from_millis(300);
/// After a [`Hurry`] (quit), how long stopped users may still finish their task.
pub(crate) const HURRIED_STOP: Duration = Duration::from_millis(200);
/// First pause before a user whose `on_start` failed tries again (doubling up to 10 s).
const ON_START_RETRY: Duration = Duration::from_millis(500);

/// Which tasks run: Locust's `--tags` / `--exclude-tags`.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TagFilter {
    pub(crate) include: Option<Vec<String>>,
    pub(crate) exclude: Vec<String>,
}

impl TagFilter {
    fn keeps(&self, tags: &BTreeSet<&str>) -> bool {
        let included = match &self.include {
            Some(wanted) => wanted.iter().any(|t| tags.contains(t.as_str())),
            None => true,
        };
        included && !self.exclude.iter().any(|t| tags.contains(t.as_str()))
    }
}

/// The tasks one class's users pick from, with their cumulative weights.
pub(crate) struct TaskTable {
    tasks: Vec<Task>,
    cumulative: Vec<u64>,
}

impl TaskTable {
    pub(crate) fn new(tasks: Vec<Task>) -> Self {
        let mut sum = 0u64;
        let cumulative = tasks
            .iter()
            .map(|t| {
                sum += u64::from(t.weight.max(1));
                sum
            })
            .collect();
        TaskTable { tasks, cumulative }
    }

    /// A task drawn at random in proportion to its weight, as Locust users pick theirs.
    pub(crate) fn pick(&self, rng: &mut fastrand::Rng) -> Option<&Task> {
        let total = *self.cumulative.last()?;
        let roll = rng.u64(0..total);
        let i = self.cumulative.partition_point(|&c| c <= roll);
        self.tasks.get(i)
    }

    fn nth(&self, i: usize) -> Option<&Task> {
        self.tasks.get(i % self.tasks.len().max(1))
    }

    fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

/// A class as its users run it: the class and its tasks after tag filtering.
pub(crate) struct ClassPlan {
    pub(crate) class: UserClass,
    table: TaskTable,
}

/// One class's plan as its running users see it: the web UI's class picker replaces it
/// ([`Users::update_class`]) and bumps the host's version, which each user loads once per
/// iteration anyway ([`Ctx::refresh`]); a user that sees the version change reloads its
/// plan from here, so running users switch at their next iteration.
pub(crate) struct ClassSlot {
    plan: RwLock<Arc<ClassPlan>>,
    /// Woken by an edit, for users whose class has no task to pick.
    changed: Notify,
}

impl ClassSlot {
    fn new(plan: Arc<ClassPlan>) -> Arc<Self> {
        Arc::new(ClassSlot {
            plan: RwLock::new(plan),
            changed: Notify::new(),
        })
    }

    fn get(&self) -> Arc<ClassPlan> {
        self.plan.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, plan: Arc<ClassPlan>) {
        *self.plan.write().unwrap_or_else(|e| e.into_inner()) = plan;
    }

    /// Waits until the class has a task to pick (an edit gave it some): its plan then;
    /// `None` if the user was told to stop first.
    async fn until_tasks(&self, signal: &UserSignal) -> Option<Arc<ClassPlan>> {
        loop {
            // Created before the check, so an edit in between still wakes us.
            let changed = self.changed.notified();
            let plan = self.get();
            if !plan.table.is_empty() {
                return Some(plan);
            }
            tokio::select! {
                biased;
                _ = signal.soft() => return None,
                _ = changed => {}
            }
        }
    }
}

/// Every class of the registry, with the task tables users pick from.
pub(crate) struct Plan {
    classes: Vec<Arc<ClassPlan>>,
}

/// The name of the class of tasks that take no user state.
pub(crate) const DEFAULT_CLASS: &str = "default";

impl Plan {
    pub(crate) fn new(registry: &Registry, filter: &TagFilter) -> Plan {
        let mut classes = registry.classes.clone();
        if registry.tasks.iter().any(|t| t.class.is_none()) {
            classes.push(UserClass::default_class(DEFAULT_CLASS));
        }
        let classes = classes
            .into_iter()
            .map(|class| {
                let mut tasks: Vec<Task> = registry
                    .tasks
                    .iter()
                    .filter(|t| t.class == class.type_id)
                    .filter(|t| {
                        let tags: BTreeSet<&str> = t
                            .tags
                            .iter()
                            .chain(class.tags.iter())
                            .map(String::as_str)
                            .collect();
                        filter.keeps(&tags)
                    })
                    .cloned()
                    .collect();
                if class.sequential {
                    tasks.sort_by(|a, b| a.order.cmp(&b.order));
                }
                if tasks.is_empty() && filter != &TagFilter::default() {
                    tracing::warn!(
                        "user class {} has no task left after tag filtering",
                        class.name
                    );
                }
                Arc::new(ClassPlan {
                    class,
                    table: TaskTable::new(tasks),
                })
            })
            .collect();
        Plan { classes }
    }

    /// The class that runs the master's class `name`: the class of that name; else the
    /// default class (tasks with no user state); else the only class there is.
    pub(crate) fn resolve(&self, name: &str) -> Option<&Arc<ClassPlan>> {
        self.resolve_index(name).map(|i| &self.classes[i])
    }

    /// [`resolve`](Self::resolve), as an index into the classes.
    fn resolve_index(&self, name: &str) -> Option<usize> {
        self.classes
            .iter()
            .position(|c| c.class.type_id.is_some() && c.class.name == name)
            .or_else(|| self.classes.iter().position(|c| c.class.type_id.is_none()))
            .or((self.classes.len() == 1).then_some(0))
    }

    /// A slot per class, holding its plan, for the users to reload from.
    fn slots(&self) -> Vec<Arc<ClassSlot>> {
        self.classes.iter().cloned().map(ClassSlot::new).collect()
    }

    /// Locust's split of `total` users over the classes (standalone mode): fixed counts
    /// first, then the rest by weight, largest remainders first.
    #[allow(dead_code)] // used by the standalone runner
    pub(crate) fn distribute(&self, total: u32) -> BTreeMap<String, u32> {
        let mut out = BTreeMap::new();
        let mut left = total;
        for c in self.classes.iter().filter(|c| c.class.fixed_count > 0) {
            let n = c.class.fixed_count.min(left);
            out.insert(c.class.name.clone(), n);
            left -= n;
        }
        let weighted: Vec<&Arc<ClassPlan>> = self
            .classes
            .iter()
            .filter(|c| c.class.fixed_count == 0)
            .collect();
        let weight_sum: u64 = weighted
            .iter()
            .map(|c| u64::from(c.class.weight.max(1)))
            .sum();
        if weight_sum == 0 {
            return out;
        }
        let mut shares: Vec<(String, u32, f64)> = weighted
            .iter()
            .map(|c| {
                let exact = f64::from(left) * c.class.weight.max(1) as f64 / weight_sum as f64;
                (c.class.name.clone(), exact.floor() as u32, exact.fract())
            })
            .collect();
        let mut rest = left - shares.iter().map(|s| s.1).sum::<u32>();
        shares.sort_by(|a, b| b.2.total_cmp(&a.2));
        for share in shares.iter_mut() {
            if rest == 0 {
                break;
            }
            share.1 += 1;
            rest -= 1;
        }
        for (name, n, _) in shares {
            out.insert(name, n);
        }
        out
    }
}

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
}

/// The user's loop is finishing the requests of a cancelled task before dropping it.
const DRAINING: u8 = 1;
/// The user is about to be aborted (it outlived its stop), once no request is in flight.
const ABORTING: u8 = 2;

impl UserSignal {
    pub(crate) fn stopping(&self) -> bool {
        self.soft.load(Ordering::Acquire)
    }

    fn hard_stopped(&self) -> bool {
        self.hard.load(Ordering::Acquire)
    }

    fn soft_stop(&self) {
        self.soft.store(true, Ordering::Release);
        self.notify.notify_waiters();
        self.task.wake();
    }

    fn hard_stop(&self) {
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

    async fn soft(&self) {
        self.wait(&self.soft).await
    }

    /// Sleeps `wait` unless the user is stopped first (true then). The stop wakes the task
    /// through `task`, not a `Notify` wait: an idle user's future carries no `Notified`
    /// (BENCHMARKS.md §3), and registering the same waker again is a compare.
    async fn stop_or_sleep(&self, wait: Duration) -> bool {
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

    fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Aborts the user's task once it has no request in flight (none starts from now on),
    /// and returns once it is gone. A request in flight ends within its own timeout.
    async fn abort_when_idle(&self, join: &mut JoinHandle<()>) {
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
    static CURRENT_USER: Arc<UserSignal>;
}

/// A request of a user in flight: while it lives, a stopped user's task is not dropped (see
/// [`Ctx::in_flight`]).
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

struct UserHandle {
    signal: Arc<UserSignal>,
    join: JoinHandle<()>,
}

/// A user retired by a lower count, finishing in the background.
struct RetiredUser {
    class: String,
    /// Set once it is gone, before its [`Batch`] hears of it.
    gone: Arc<AtomicBool>,
    join: JoinHandle<()>,
}

impl RetiredUser {
    fn gone(&self) -> bool {
        self.gone.load(Ordering::Acquire)
    }
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

    async fn wait(&self) {
        loop {
            let notified = self.0.notify.notified();
            if self.0.open.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

/// What every user of a test shares.
#[derive(Clone)]
struct Shared {
    host: Arc<HostCell>,
    gate: Gate,
    limiter: Option<Arc<dyn RateLimiter>>,
}

/// The running users, per class name as the master names them.
pub(crate) struct Users {
    rt: Handle,
    registry: Arc<Registry>,
    plan: Plan,
    /// The plan's classes, one slot each (same order), that running users reload from.
    slots: Vec<Arc<ClassSlot>>,
    filter: TagFilter,
    shared: Shared,
    running: BTreeMap<String, Vec<UserHandle>>,
    /// Users retired by a lower count, still finishing, by class (counted until they are
    /// gone, as Python's worker counts its users; stopping waits for them too).
    retiring: Vec<RetiredUser>,
    stop_timeout: Duration,
    /// Cuts every stop under way short (quit): see [`Hurry`].
    hurry: Arc<Hurry>,
    next_id: u64,
}

impl Users {
    pub(crate) fn new(
        rt: Handle,
        registry: Arc<Registry>,
        host: Arc<HostCell>,
        limiter: Option<Arc<dyn RateLimiter>>,
    ) -> Self {
        install_panic_hook();
        let gate = Gate::closed();
        gate.open();
        let filter = TagFilter::default();
        let plan = Plan::new(&registry, &filter);
        Users {
            rt,
            slots: plan.slots(),
            plan,
            registry,
            filter,
            shared: Shared {
                host,
                gate,
                limiter,
            },
            running: BTreeMap::new(),
            retiring: Vec::new(),
            stop_timeout: Duration::ZERO,
            hurry: Arc::default(),
            next_id: 0,
        }
    }

    /// Prepares a new test: users started from now on wait for `gate`, pick tasks through
    /// `filter`, and the rate limiter starts over.
    pub(crate) fn new_test(&mut self, gate: Gate, filter: TagFilter) {
        self.shared.gate = gate;
        if filter != self.filter {
            self.plan = Plan::new(&self.registry, &filter);
            self.slots = self.plan.slots();
            self.filter = filter;
        }
        if let Some(l) = &self.shared.limiter {
            limiter_call("the rate limiter's start", || l.start());
        }
    }

    /// How long stopped users may finish their current task (the master's `stop_timeout`).
    pub(crate) fn set_stop_timeout(&mut self, timeout: Duration) {
        self.stop_timeout = timeout;
    }

    /// The plan, e.g. to split a user count over the classes.
    #[allow(dead_code)] // used by the standalone runner
    pub(crate) fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Starts or stops only the difference to reach `target` (absolute counts per master
    /// class name); classes the target does not name keep their users. If this call retired
    /// users, the future returned ends once they are gone: a Python worker reports
    /// `spawning_complete` only then (runners.py `start_worker`).
    ///
    /// A name no class here runs is skipped (the control plane reports it to the master).
    /// The running map keeps a name only while it has users or the latest target names it,
    /// so a master inventing class names at every spawn leaves it bounded.
    pub(crate) fn apply(&mut self, target: &BTreeMap<String, u32>) -> Option<Retiring> {
        let batch = Arc::new(Batch::default());
        self.retiring.retain(|r| !r.gone());
        for (name, &want) in target {
            let Some(i) = self.plan.resolve_index(name) else {
                continue;
            };
            let running = self.running.entry(name.clone()).or_default();
            let want = want as usize;
            while running.len() > want {
                if let Some(user) = running.pop() {
                    let retired = retire(user, self.stop_timeout, self.hurry.clone());
                    let member = Batch::join(&batch);
                    let gone = Arc::new(AtomicBool::new(false));
                    let mark = gone.clone();
                    let join = self.rt.spawn(async move {
                        retired.await;
                        // Before the batch hears of it: counted no more once it is done.
                        mark.store(true, Ordering::Release);
                        drop(member);
                    });
                    self.retiring.push(RetiredUser {
                        class: name.clone(),
                        gone,
                        join,
                    });
                }
            }
            let slot = &self.slots[i];
            while running.len() < want {
                let signal = Arc::new(UserSignal::default());
                let ctx = Ctx::new(
                    self.next_id,
                    self.shared.host.clone(),
                    self.plan.classes[i].class.host.clone(),
                    signal.clone(),
                );
                self.next_id += 1;
                let join = self.rt.spawn(CURRENT_USER.scope(
                    signal.clone(),
                    user_loop(slot.clone(), ctx, self.shared.clone(), signal.clone()),
                ));
                running.push(UserHandle { signal, join });
            }
        }
        self.running
            .retain(|name, users| !users.is_empty() || target.contains_key(name));
        if batch.left.load(Ordering::Acquire) == 0 {
            return None;
        }
        Some(Box::pin(async move { batch.done().await }))
    }

    /// Cuts every stop under way, and every stop to come, short: users still finishing a
    /// task get [`HURRIED_STOP`] more, then are cancelled (their requests in flight still
    /// finish and are recorded). For quitting: the whole `stop_timeout` is not waited for.
    pub(crate) fn hurry(&self) -> Arc<Hurry> {
        self.hurry.clone()
    }

    /// Tasks alive on the users' runtime (users, handlers, timers), to spot leaks.
    pub(crate) fn alive_tasks(&self) -> usize {
        self.rt.metrics().num_alive_tasks()
    }

    /// Users per master class name: running, and retired but still finishing.
    pub(crate) fn counts(&self) -> BTreeMap<String, u32> {
        let mut counts: BTreeMap<String, u32> = self
            .running
            .iter()
            .map(|(class, users)| (class.clone(), users.len() as u32))
            .collect();
        for r in self.retiring.iter().filter(|r| !r.gone()) {
            let n = counts.entry(r.class.clone()).or_default();
            *n = n.saturating_add(1);
        }
        counts
    }

    pub(crate) fn total(&self) -> u32 {
        let running = self.running.values().map(|u| u.len() as u32).sum::<u32>();
        let retiring = self.retiring.iter().filter(|r| !r.gone()).count();
        running.saturating_add(retiring as u32)
    }

    /// Stops every user: each may finish its current task within `stop_timeout`, then is
    /// cancelled and runs `on_stop`. Returns once all are gone, users retired earlier
    /// included, so that what they recorded is in the shards before the next report.
    pub(crate) async fn stop_all(&mut self) {
        self.stopping().await
    }

    /// [`stop_all`](Self::stop_all) as a future that borrows nothing: the users are taken
    /// out at once (the counts read 0), and the future ends once they are all gone, so a
    /// caller may await it beside other work.
    pub(crate) fn stopping(&mut self) -> impl Future<Output = ()> + Send + 'static {
        let users: Vec<UserHandle> = std::mem::take(&mut self.running)
            .into_values()
            .flatten()
            .collect();
        let retiring = std::mem::take(&mut self.retiring);
        if let Some(l) = &self.shared.limiter {
            limiter_call("the rate limiter's stop", || l.stop());
        }
        for u in &users {
            u.signal.soft_stop();
        }
        let stop_timeout = self.stop_timeout;
        let hurry = self.hurry.clone();
        async move {
            let deadline = deadline_after(stop_timeout);
            let users = users.into_iter().map(|u| stop_user(u, deadline, &hurry));
            futures_join_all(users).await;
            for r in retiring {
                let _ = r.join.await;
            }
        }
    }
}

/// Awaits every future, concurrently, in the calling task: each wake-up polls only the
/// futures it woke, and outside tokio's cooperative budget, which would otherwise turn
/// every poll past its 128th into a deferred wake-up and a trip round the scheduler
/// (200,000 users took 54 s to stop, a million minutes; `many_idle_users_stop_at_once`).
async fn futures_join_all<F: Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    use futures_util::StreamExt;
    let mut pending: futures_util::stream::FuturesUnordered<F> = futures.collect();
    tokio::task::unconstrained(async move { while pending.next().await.is_some() {} }).await;
}

/// Stops one user that was told to stop softly: it may finish its task until `deadline`
/// (or [`HURRIED_STOP`] after a [`Hurry`]); then it is cancelled (its requests in flight
/// finish and are recorded), gets [`ON_STOP_GRACE`] for `on_stop`, and is aborted once no
/// request of its is in flight.
async fn stop_user(user: UserHandle, deadline: tokio::time::Instant, hurry: &Hurry) {
    let UserHandle { signal, mut join } = user;
    let ended = tokio::select! {
        ended = tokio::time::timeout_at(deadline, &mut join) => ended.is_ok(),
        _ = hurry.wait() => tokio::time::timeout(HURRIED_STOP, &mut join).await.is_ok(),
    };
    if ended {
        return;
    }
    signal.hard_stop();
    if tokio::time::timeout(ON_STOP_GRACE, &mut join).await.is_ok() {
        return;
    }
    if signal.in_flight() == 0 {
        tracing::warn!("a user was still busy {ON_STOP_GRACE:?} after its stop: dropped");
    }
    signal.abort_when_idle(&mut join).await;
}

/// Stops one user in the background: soft stop, then as [`stop_user`] after `stop_timeout`.
fn retire(
    user: UserHandle,
    stop_timeout: Duration,
    hurry: Arc<Hurry>,
) -> impl Future<Output = ()> + Send + 'static {
    user.signal.soft_stop();
    async move { stop_user(user, deadline_after(stop_timeout), &hurry).await }
}

/// Once set, stops under way and to come give users only [`HURRIED_STOP`] to finish their
/// task (quit does not wait for a whole `stop_timeout`).
#[derive(Default)]
pub(crate) struct Hurry {
    on: AtomicBool,
    notify: Notify,
}

impl Hurry {
    pub(crate) fn now(&self) {
        self.on.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    async fn wait(&self) {
        loop {
            // Created before the check, so a hurry in between still wakes us.
            let notified = self.notify.notified();
            if self.on.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

/// Ends once the users one [`Users::apply`] retired are gone.
pub(crate) type Retiring = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The users one [`Users::apply`] retired: done once the last member is dropped.
#[derive(Default)]
struct Batch {
    left: AtomicU32,
    notify: Notify,
}

/// A retired user of a [`Batch`], until it is gone (dropped on abort too).
struct BatchMember(Arc<Batch>);

impl Batch {
    fn join(batch: &Arc<Batch>) -> BatchMember {
        batch.left.fetch_add(1, Ordering::AcqRel);
        BatchMember(batch.clone())
    }

    async fn done(&self) {
        loop {
            let notified = self.notify.notified();
            if self.left.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for BatchMember {
    fn drop(&mut self) {
        if self.0.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.notify.notify_waiters();
        }
    }
}

/// `after` from now; a year from now for a longer one (whatever the master sent, adding it
/// must not overflow the clock).
fn deadline_after(after: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    let year = Duration::from_secs(365 * 86_400);
    now.checked_add(after.min(year)).unwrap_or(now)
}

async fn user_loop(slot: Arc<ClassSlot>, mut ctx: Ctx, shared: Shared, signal: Arc<UserSignal>) {
    shared.gate.wait().await;
    // The class as of now (an edit may have come since the user was made). The picker
    // changes only its tasks and host: `on_start`, `on_stop` and `wait_time` stay.
    let mut plan = slot.get();
    ctx.set_class_host(plan.class.host.as_deref());
    // Boxed, here and for async tasks below: a future's size is that of its largest await
    // point, and every idle user holds one, so the rare and large ones live on the heap
    // only while they run (idle users stay under 1 KiB each).
    let Some(mut state) = Box::pin(start_user(&plan.class, &mut ctx, &signal)).await else {
        return;
    };
    let mut rng = fastrand::Rng::new();
    let mut next_in_order = 0usize;
    let mut backoff = Backoff::default();
    // Time is read once per iteration when it can be: the task's start doubles as the
    // iteration's start unless a rate limiter waits in between, and the end is read only
    // for a failure's response time or a wait that depends on how long the task took.
    let wait_uses_elapsed = plan.class.wait_time.uses_elapsed();
    while !signal.stopping() {
        // One atomic load: the host's version, which the class picker bumps too.
        if ctx.refresh() {
            let now = slot.get();
            if !Arc::ptr_eq(&now, &plan) {
                plan = now;
                ctx.set_class_host(plan.class.host.as_deref());
                next_in_order = 0;
            }
        }
        if plan.table.is_empty() {
            // No task to pick (tag filtering, or the picker left none): wait for an edit.
            let Some(now) = Box::pin(slot.until_tasks(&signal)).await else {
                break;
            };
            plan = now;
            ctx.set_class_host(plan.class.host.as_deref());
            next_in_order = 0;
            continue;
        }
        let class = &plan.class;
        let began = (shared.limiter.is_none() || wait_uses_elapsed).then(Instant::now);
        if let Some(limiter) = &shared.limiter {
            let Some(acquired) = Box::pin(acquire_unless_stopped(&**limiter, &signal)).await else {
                break;
            };
            if let Err(panic) = acquired {
                // Recorded as a task's panic is; the user backs off and tries again.
                let what = format!("rate limiter of {}", class.name);
                backoff.failed("rate_limiter", &class.name, &what, &*panic);
                if Box::pin(backoff.pause(&signal)).await.is_err() {
                    break;
                }
                continue;
            }
        }
        let task = if class.sequential {
            next_in_order += 1;
            plan.table.nth(next_in_order - 1)
        } else {
            plan.table.pick(&mut rng)
        };
        if let Some(task) = task {
            let start = match began {
                Some(began) if shared.limiter.is_none() => began,
                _ => Instant::now(),
            };
            let ran = match task.run {
                TaskFn::Sync(f) if !signal.hard_stopped() => {
                    // Runs to the end in one go: nothing to cancel, no future to poll.
                    settle(
                        &task.name,
                        start,
                        catch_unwind(AssertUnwindSafe(|| f(&mut ctx))),
                    );
                    true
                }
                _ => Box::pin(run_in_loop(task, &mut ctx, &mut *state, &signal, start)).await,
            };
            if !ran {
                break;
            }
        }
        let took = match began {
            Some(began) if wait_uses_elapsed => began.elapsed(),
            _ => Duration::ZERO,
        };
        let wait = match catch_unwind(AssertUnwindSafe(|| class.wait_time.next(took, &mut rng))) {
            Ok(wait) => {
                backoff.reset();
                wait
            }
            Err(panic) => {
                // Recorded as a task's panic is; the user waits a growing pause instead.
                let what = format!("wait_time of {}", class.name);
                backoff.failed("wait_time", &class.name, &what, &*panic);
                if Box::pin(backoff.pause(&signal)).await.is_err() {
                    break;
                }
                continue;
            }
        };
        if wait.is_zero() {
            // A plain fn, or an async fn that never waits, would otherwise hold its thread; but
            // yielding every iteration costs a trip through the scheduler (and, with one user,
            // an epoll per iteration): yield once tokio's cooperative budget is spent.
            tokio::task::consume_budget().await;
        } else if signal.stop_or_sleep(wait).await {
            break;
        }
    }
    if let Some(stop) = plan.class.on_stop {
        if let Err(panic) = CatchUnwind(stop(&mut *state, &mut ctx)).await {
            report_panic(&format!("on_stop of {}", plan.class.name), &*panic);
        }
    }
}

/// [`acquire`], unless the user is told to stop first (`None`).
async fn acquire_unless_stopped(
    limiter: &dyn RateLimiter,
    signal: &UserSignal,
) -> Option<Result<(), Box<dyn Any + Send>>> {
    tokio::select! {
        biased;
        _ = signal.soft() => None,
        r = acquire(limiter) => Some(r),
    }
}

/// One permit of a rate limiter; a panic in `acquire` (or in its future) is returned.
async fn acquire(limiter: &dyn RateLimiter) -> Result<(), Box<dyn Any + Send>> {
    let permit = catch_unwind(AssertUnwindSafe(|| limiter.acquire()))?;
    CatchUnwind(permit).await
}

/// Calls a limiter's `start` or `stop`: a panic there is reported, not the control loop's.
fn limiter_call(what: &str, call: impl FnOnce()) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(call)) {
        report_panic(what, &*panic);
    }
}

/// The pause after a panic in a user's `wait_time` or rate limiter: 500 ms, doubling up to
/// 10 s while it keeps panicking, so a broken closure does not spin.
#[derive(Default)]
struct Backoff {
    next: Option<Duration>,
}

impl Backoff {
    fn reset(&mut self) {
        self.next = None;
    }

    /// Records the panic as a failure of type `kind` named `name`, and as an exception.
    fn failed(&mut self, kind: &str, name: &str, what: &str, panic: &(dyn Any + Send)) {
        let error = format!("panic: {}", panic_message(panic));
        report_panic(what, panic);
        stats::record_failure(kind, name, Duration::ZERO, error);
        let pause = self
            .next
            .map_or(ON_START_RETRY, |p| (p * 2).min(Duration::from_secs(10)));
        self.next = Some(pause);
    }

    /// Sleeps the current pause; `Err` if the user was told to stop meanwhile.
    async fn pause(&self, signal: &UserSignal) -> Result<(), ()> {
        tokio::select! {
            biased;
            _ = signal.soft() => Err(()),
            _ = tokio::time::sleep(self.next.unwrap_or(ON_START_RETRY)) => Ok(()),
        }
    }
}

/// Runs the class's `on_start` until it succeeds: each failure (an `Err` or a panic) is
/// recorded as a failure of type `on_start`, and the user tries again after a growing pause
/// (it keeps counting as a running user, as in Locust). `None` if stopped meanwhile.
async fn start_user(class: &UserClass, ctx: &mut Ctx, signal: &UserSignal) -> Option<UserState> {
    let Some(on_start) = class.on_start else {
        return Some(Box::new(()));
    };
    let mut pause = ON_START_RETRY;
    loop {
        let began = Instant::now();
        if signal.hard_stopped() {
            return None;
        }
        let result = until_hard(signal, CatchUnwind(on_start(ctx))).await?;
        let error = match result {
            Ok(Ok(state)) => return Some(state),
            Ok(Err(e)) => e,
            Err(panic) => {
                report_panic(&format!("on_start of {}", class.name), &*panic);
                format!("panic: {}", panic_message(&*panic))
            }
        };
        stats::record_failure("on_start", &class.name, began.elapsed(), &error);
        tokio::select! {
            biased;
            _ = signal.soft() => return None,
            _ = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(Duration::from_secs(10));
    }
}

/// `--run-tasks`: runs each named task once, outside any test, each on a fresh user (its own
/// context, HTTP client and cookies, built by its class's `on_start`), and writes what it
/// recorded to `out`. A name is a task's (every class's task of that name runs) or
/// `Class.task`. `Err` with the unknown name.
pub(crate) async fn run_tasks(
    registry: &Registry,
    names: &[String],
    host: Option<&str>,
    out: &mut (dyn std::io::Write + Send),
) -> Result<(), String> {
    install_panic_hook();
    let mut chosen = Vec::new();
    for name in names {
        let before = chosen.len();
        for task in &registry.tasks {
            let class = registry.class_name(task.class);
            // Tasks of no class of their own are named as written.
            let qualified = match class {
                DEFAULT_CLASS => task.name.to_string(),
                class => format!("{class}.{}", task.name),
            };
            if &task.name == name || &qualified == name {
                chosen.push((task, qualified));
            }
        }
        if chosen.len() == before {
            return Err(name.clone());
        }
    }
    for (task, qualified) in chosen {
        let _ = writeln!(out, "running task {qualified}");
        let mut ctx = Ctx::detached(host);
        run_once(registry, task, &mut ctx).await;
        let window = stats::drain();
        if window.is_empty() {
            let _ = writeln!(out, "  recorded nothing");
        }
        for ((method, name), e) in &window.entries {
            let _ = writeln!(out, "  {}", summary(method, name, e));
            for (error, count) in &e.errors {
                let _ = writeln!(out, "    error x{}: {error}", count.occurrences);
            }
        }
    }
    Ok(())
}

/// One line of `--run-tasks`' report, in plain numbers.
fn summary(method: &str, name: &str, e: &stats::Entry) -> String {
    let ms = |us: u64| us as f64 / 1000.0;
    let min = e
        .min_us
        .map_or_else(|| "-".to_string(), |us| ms(us).to_string());
    format!(
        "{method} {name}: {} requests, {} failures, min {min} ms, max {} ms",
        e.num_requests,
        e.num_failures,
        ms(e.max_us)
    )
}

/// Runs one task once outside any test (`--run-tasks`): a task of a user class gets a user
/// built by the class's `on_start`, torn down by its `on_stop`.
async fn run_once(registry: &Registry, task: &Task, ctx: &mut Ctx) {
    let class = registry
        .classes
        .iter()
        .find(|c| task.class.is_some() && c.type_id == task.class);
    let signal = UserSignal::default();
    let mut state = match class {
        Some(class) => match start_user(class, ctx, &signal).await {
            Some(state) => state,
            None => return,
        },
        None => Box::new(()),
    };
    run_task(task, ctx, &mut *state).await;
    if let Some(stop) = class.and_then(|c| c.on_stop) {
        if let Err(panic) = CatchUnwind(stop(&mut *state, ctx)).await {
            report_panic("on_stop", &*panic);
        }
    }
}

/// Runs one task once; an `Err` or a panic is recorded as a failure of the task (type
/// `task`), and a panic is also sent to the master as an `exception`.
pub(crate) async fn run_task(task: &Task, ctx: &mut Ctx, state: &mut (dyn Any + Send)) {
    run_task_from(task, ctx, state, Instant::now()).await
}

/// Runs one task as a user's loop does, from `start`: false if the user was hard-stopped
/// before the task ended (the task is then dropped).
pub(crate) async fn run_in_loop(
    task: &Task,
    ctx: &mut Ctx,
    state: &mut (dyn Any + Send),
    signal: &UserSignal,
    start: Instant,
) -> bool {
    if signal.hard_stopped() {
        return false;
    }
    if let TaskFn::Sync(f) = task.run {
        // Runs to the end in one go: nothing to cancel, no future to poll.
        settle(&task.name, start, catch_unwind(AssertUnwindSafe(|| f(ctx))));
        return true;
    }
    until_hard(signal, run_task_from(task, ctx, state, start))
        .await
        .is_some()
}

/// [`run_task`] of a task that started at `start`.
async fn run_task_from(task: &Task, ctx: &mut Ctx, state: &mut (dyn Any + Send), start: Instant) {
    let result = match task.run {
        TaskFn::Sync(f) => catch_unwind(AssertUnwindSafe(|| f(ctx))),
        TaskFn::Async(f) => CatchUnwind(f(ctx)).await,
        TaskFn::User(f) => CatchUnwind(f(state, ctx)).await,
        TaskFn::Blocking(f) => {
            // Caught on the blocking thread, where the hook noted the panic's site.
            let run = move || catch_unwind(f).map_err(|panic| (panic, take_panic_site()));
            match tokio::task::spawn_blocking(run).await {
                Ok(Ok(outcome)) => Ok(outcome),
                Ok(Err((panic, site))) => {
                    set_panic_site(site);
                    Err(panic)
                }
                Err(e) if e.is_panic() => Err(e.into_panic()),
                Err(_) => return,
            }
        }
    };
    settle(&task.name, start, result);
}

/// Records the failure of a task that started at `start`, if it failed. A success reads
/// no clock: its time is not recorded.
#[inline]
fn settle(task: &str, start: Instant, result: Result<Outcome, Box<dyn Any + Send>>) {
    if !matches!(result, Ok(Ok(()))) {
        failed(task, start.elapsed(), result);
    }
}

#[cold]
#[inline(never)]
fn failed(task: &str, elapsed: Duration, result: Result<Outcome, Box<dyn Any + Send>>) {
    match result {
        Ok(Ok(())) => {}
        Ok(Err(error)) => stats::record_failure("task", task, elapsed, error),
        Err(panic) => {
            stats::record_failure(
                "task",
                task,
                elapsed,
                format!("panic: {}", panic_message(&*panic)),
            );
            report_panic(&format!("task {task}"), &*panic);
        }
    }
}

/// Runs `fut` unless the user is hard-stopped first: `None` if it was. The future is then
/// dropped, but not with a request in flight: it is polled on until its requests in flight
/// have ended (each within its timeout) and so are recorded, and it starts no new one (see
/// [`begin_request`]). The user's task registers its waker for a hard stop each time the
/// future is pending: the same waker as last time, so that is a compare, not a `Notify`
/// wait's lock and list insert (measured: ~1.4 % of the worker's CPU per HTTP request).
async fn until_hard<F: Future>(signal: &UserSignal, fut: F) -> Option<F::Output> {
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

/// Sends a caught panic to the master as an `exception`. The master groups exceptions by
/// traceback, as Python's; ours is where the panic happened (`file:line`, from the panic
/// hook) and what panicked, so one panic site is one row with a count, whatever the
/// messages (the row shows the first).
pub(crate) fn report_panic(what: &str, panic: &(dyn Any + Send)) {
    let msg = panic_message(panic);
    match take_panic_site() {
        Some(site) => outbox::exception(
            format!("{what} panicked at {site}: {msg}"),
            format!("panic in {what} at {site}"),
        ),
        None => outbox::exception(
            format!("{what} panicked: {msg}"),
            format!("panic in {what}:\n{msg}"),
        ),
    }
}

thread_local! {
    /// Where the last panic on this thread happened, noted by the hook.
    static PANIC_SITE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs, once, a panic hook that notes where each panic happens (for
/// [`report_panic`]); the hook that was in place still runs after it.
pub(crate) fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(at) = info.location() {
                set_panic_site(Some(format!("{}:{}", at.file(), at.line())));
            }
            previous(info);
        }));
    });
}

fn set_panic_site(site: Option<String>) {
    let _ = PANIC_SITE.try_with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            *s = site;
        }
    });
}

fn take_panic_site() -> Option<String> {
    PANIC_SITE
        .try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.take()))
        .ok()
        .flatten()
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

/// A future that turns a panic while polling into an `Err` with the payload.
pub(crate) struct CatchUnwind<F>(pub(crate) F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

// --- Hook for the control plane (worker.rs): the web UI's class picker. ---

/// What one `update_user_class` sets; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub(crate) struct ClassEdit {
    /// The names of the tasks to run.
    pub(crate) tasks: Option<Vec<String>>,
    /// The class's own host (`Some(None)`: none, the master's applies).
    pub(crate) host: Option<Option<String>>,
    pub(crate) weight: Option<u32>,
    pub(crate) fixed_count: Option<u32>,
}

impl Users {
    /// Locust's `update_user_class` (the web UI's class picker, 2.25+) for the master's
    /// class `name`: its tasks (by name, among this class's tasks after tag filtering) and
    /// its host, for the users started from now on and, from their next iteration, for
    /// its running users too (as Locust's pick their next task from the class's `tasks`).
    ///
    /// `weight` and `fixed_count` are kept, as Python's worker sets them on its class; they
    /// change nothing here (the master splits the users over the classes).
    pub(crate) fn update_class(&mut self, name: &str, edit: ClassEdit) -> Result<(), String> {
        let Some(i) = self.plan.resolve_index(name) else {
            return Err(format!("this worker has no class {name:?}"));
        };
        let current = self.plan.classes[i].clone();
        let mut class = current.class.clone();
        if let Some(host) = edit.host {
            class.host = host;
        }
        if let Some(weight) = edit.weight {
            class.weight = weight;
        }
        if let Some(fixed_count) = edit.fixed_count {
            class.fixed_count = fixed_count;
        }
        let table = match edit.tasks.as_deref() {
            None => TaskTable::new(current.table.tasks.clone()),
            Some(wanted) => {
                let full = Plan::new(&self.registry, &self.filter);
                let kept: Vec<Task> = full.classes[i]
                    .table
                    .tasks
                    .iter()
                    .filter(|t| wanted.contains(&t.name))
                    .cloned()
                    .collect();
                if kept.is_empty() && !wanted.is_empty() {
                    return Err(format!(
                        "none of the tasks {wanted:?} is a task of class {name:?} here"
                    ));
                }
                TaskTable::new(kept)
            }
        };
        let plan = Arc::new(ClassPlan { class, table });
        self.plan.classes[i] = plan.clone();
        // Running users of the class switch at their next iteration: the slot first, then
        // the version they check, then those waiting for a task.
        self.slots[i].set(plan);
        self.shared.host.touch();
        self.slots[i].changed.notify_waiters();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(name: &str, weight: u32) -> Task {
        Task::new(name, weight, TaskFn::Sync(|_| Ok(())))
    }

    #[test]
    fn weighted_choice_follows_the_weights() {
        let table = TaskTable::new(vec![task("a", 1), task("b", 3), task("c", 6)]);
        let mut rng = fastrand::Rng::with_seed(42);
        let mut counts = BTreeMap::new();
        let n = 1_000_000;
        for _ in 0..n {
            *counts
                .entry(table.pick(&mut rng).unwrap().name.clone())
                .or_insert(0u32) += 1;
        }
        for (name, share) in [("a", 0.1), ("b", 0.3), ("c", 0.6)] {
            let got = f64::from(counts[name]) / f64::from(n);
            assert!((got - share).abs() < 0.003, "{name}: {got} vs {share}");
        }
    }

    #[test]
    fn tag_filters_as_locust() {
        let f = |include: Option<&[&str]>, exclude: &[&str]| TagFilter {
            include: include.map(|i| i.iter().map(|s| s.to_string()).collect()),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
        };
        let tags: BTreeSet<&str> = ["a", "b"].into();
        let none = BTreeSet::new();
        assert!(f(None, &[]).keeps(&tags));
        assert!(f(None, &[]).keeps(&none));
        assert!(f(Some(&["b", "z"]), &[]).keeps(&tags));
        assert!(!f(Some(&["z"]), &[]).keeps(&tags));
        assert!(!f(Some(&["z"]), &[]).keeps(&none));
        assert!(!f(None, &["a"]).keeps(&tags));
        assert!(f(None, &["a"]).keeps(&none));
    }

    struct Shopper;
    struct Admin;

    fn start(_: &mut Ctx) -> crate::registry::BoxFuture<'_, Result<UserState, String>> {
        Box::pin(async { Ok(Box::new(()) as UserState) })
    }

    fn registry(default_tasks: bool) -> Registry {
        let mut r = Registry::default();
        r.add_class(UserClass::new::<Shopper>("Shopper", start).weight(3));
        r.add_class(UserClass::new::<Admin>("Admin", start).fixed_count(2));
        r.add_task(task("shop", 1).for_class::<Shopper>());
        r.add_task(task("admin", 1).for_class::<Admin>());
        if default_tasks {
            r.add_task(task("plain", 1));
        }
        r
    }

    #[test]
    fn master_class_names_map_to_classes() {
        let plan = Plan::new(&registry(false), &TagFilter::default());
        assert_eq!(plan.resolve("Shopper").unwrap().class.name, "Shopper");
        assert_eq!(plan.resolve("Admin").unwrap().class.name, "Admin");
        assert!(plan.resolve("Unknown").is_none());
        // With tasks of no class, unknown names go to the default class.
        let plan = Plan::new(&registry(true), &TagFilter::default());
        assert_eq!(plan.resolve("Unknown").unwrap().class.name, DEFAULT_CLASS);
        assert_eq!(plan.resolve("Shopper").unwrap().class.name, "Shopper");
        // A single class takes every name.
        let mut one = Registry::default();
        one.add_class(UserClass::new::<Shopper>("Shopper", start));
        one.add_task(task("shop", 1).for_class::<Shopper>());
        let plan = Plan::new(&one, &TagFilter::default());
        assert_eq!(plan.resolve("RustUser").unwrap().class.name, "Shopper");
    }

    #[test]
    fn users_split_over_classes_as_locust() {
        let plan = Plan::new(&registry(true), &TagFilter::default());
        // Admin fixed at 2; the other 10 by weight: Shopper 3, default 1.
        let split = plan.distribute(12);
        assert_eq!(split["Admin"], 2);
        assert_eq!(split["Shopper"] + split[DEFAULT_CLASS], 10);
        assert_eq!(split["Shopper"], 8);
        assert_eq!(plan.distribute(1)["Admin"], 1);
    }

    /// What a user of the conservation tests "sends": a request counted by the target when it
    /// starts, and recorded when its response is dropped (as `boomer::http`'s `Response`).
    struct Sample(&'static AtomicU32);

    impl Drop for Sample {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Users ramped 10 → 30 → 5 and stopped, at stop_timeout 0: every request the target
    /// saw was recorded, though users were retired and stopped mid-request.
    #[test]
    fn retired_and_stopped_users_record_their_requests_in_flight() {
        static SERVED: AtomicU32 = AtomicU32::new(0);
        static RECORDED: AtomicU32 = AtomicU32::new(0);
        fn request(ctx: &mut Ctx) -> crate::registry::BoxFuture<'_, Outcome> {
            Box::pin(async move {
                // Half as a custom client does, half as boomer::http does.
                let in_flight = match ctx.user_id() % 2 {
                    0 => Some(ctx.in_flight().await),
                    _ => begin_request().await,
                };
                SERVED.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(7)).await;
                let sample = Sample(&RECORDED);
                drop(in_flight);
                // The task goes on with the response, then waits before its next request.
                tokio::time::sleep(Duration::from_millis(3)).await;
                drop(sample);
                let _next = begin_request().await;
                Ok(())
            })
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut registry = Registry::default();
        registry.add_task(Task::new("request", 1, TaskFn::Async(request)));
        let mut users = Users::new(
            rt.handle().clone(),
            Arc::new(registry),
            Arc::default(),
            None,
        );
        users.set_stop_timeout(Duration::ZERO);
        let at = |n: u32| BTreeMap::from([(DEFAULT_CLASS.to_string(), n)]);
        for n in [10, 30, 5, 20, 3] {
            users.apply(&at(n));
            rt.block_on(async { tokio::time::sleep(Duration::from_millis(100)).await });
        }
        rt.block_on(users.stop_all());
        let served = SERVED.load(Ordering::SeqCst);
        assert!(served > 100, "{served}");
        assert_eq!(RECORDED.load(Ordering::SeqCst), served);
    }

    /// Stopping many idle users at once ends promptly, awaited from a runtime of its own as
    /// the control plane does: the stop awaits them all in one task, which once spun for
    /// minutes on a million users (tokio's cooperative budget sent it round again and again).
    #[test]
    fn many_idle_users_stop_at_once() {
        let users_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let control = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut registry = Registry::default();
        registry.add_class(
            UserClass::new::<Shopper>("Shopper", start).wait_time(crate::WaitTime::constant(1.0)),
        );
        registry.add_task(task("shop", 1).for_class::<Shopper>());
        let mut users = Users::new(
            users_rt.handle().clone(),
            Arc::new(registry),
            Arc::default(),
            None,
        );
        users.set_stop_timeout(Duration::from_secs(1));
        let n = 200_000;
        users.apply(&BTreeMap::from([("Shopper".to_string(), n)]));
        assert_eq!(users.total(), n);
        users_rt.block_on(async { tokio::time::sleep(Duration::from_millis(500)).await });
        let stopping = users.stopping();
        let began = Instant::now();
        let stopped = control
            .block_on(async { tokio::time::timeout(Duration::from_secs(20), stopping).await });
        assert!(stopped.is_ok(), "{n} users still stopping after 20 s");
        eprintln!("{n} idle users stopped in {:?}", began.elapsed());
        assert_eq!(users.total(), 0);
    }

    /// Users retired mid-request still count (as Python's worker counts its greenlets
    /// until they die), and the future `apply` returns ends once they are gone: the
    /// worker's `spawning_complete` waits for it.
    #[test]
    fn retired_users_count_until_they_are_gone() {
        static STARTED: AtomicU32 = AtomicU32::new(0);
        static HELD: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(0);
        fn request(ctx: &mut Ctx) -> crate::registry::BoxFuture<'_, Outcome> {
            Box::pin(async move {
                let _in_flight = ctx.in_flight().await;
                STARTED.fetch_add(1, Ordering::SeqCst);
                let _answer = HELD.acquire().await;
                Ok(())
            })
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut registry = Registry::default();
        registry.add_task(Task::new("request", 1, TaskFn::Async(request)));
        let mut users = Users::new(
            rt.handle().clone(),
            Arc::new(registry),
            Arc::default(),
            None,
        );
        users.set_stop_timeout(Duration::ZERO);
        let at = |n: u32| BTreeMap::from([(DEFAULT_CLASS.to_string(), n)]);
        assert!(users.apply(&at(4)).is_none(), "nobody was retired");
        rt.block_on(async {
            while STARTED.load(Ordering::SeqCst) < 4 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        let mut retiring = users.apply(&at(1)).expect("three users were retired");
        assert_eq!(users.total(), 4);
        assert_eq!(users.counts(), at(4));
        let early = rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(50), &mut retiring).await
        });
        assert!(early.is_err(), "done while their requests are in flight");
        HELD.add_permits(1);
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), retiring).await })
            .expect("the retired users are gone once their requests end");
        assert_eq!(users.total(), 1);
        assert_eq!(users.counts(), at(1));
        HELD.add_permits(1_000);
        rt.block_on(users.stop_all());
        assert_eq!(users.total(), 0);
    }

    /// Each task of `--run-tasks` runs on a fresh user: a cookie one class's task got does
    /// not reach the other class's (whose task has the same name: names are per class).
    #[cfg(feature = "http")]
    #[test]
    fn run_tasks_gives_each_task_a_fresh_user() {
        static LEAKED: AtomicBool = AtomicBool::new(false);
        fn log_in<'a>(
            _: &'a mut (dyn Any + Send),
            ctx: &'a mut Ctx,
        ) -> crate::registry::BoxFuture<'a, Outcome> {
            Box::pin(async move {
                let jar = ctx.http().cookies_mut();
                jar.set("http://127.0.0.1/", "session=abc")
                    .map_err(|e| e.to_string())
            })
        }
        fn check<'a>(
            _: &'a mut (dyn Any + Send),
            ctx: &'a mut Ctx,
        ) -> crate::registry::BoxFuture<'a, Outcome> {
            Box::pin(async move {
                let leaked = ctx.http().cookies().get("session").is_some();
                LEAKED.store(leaked, Ordering::SeqCst);
                Ok(())
            })
        }
        let mut r = Registry::default();
        r.add_class(UserClass::new::<Shopper>("Shopper", start));
        r.add_class(UserClass::new::<Admin>("Admin", start));
        r.add_task(Task::new("visit", 1, TaskFn::User(log_in)).for_class::<Shopper>());
        r.add_task(Task::new("visit", 1, TaskFn::User(check)).for_class::<Admin>());
        assert_eq!(r.validate(), Ok(()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut out = Vec::new();
        let names = ["visit".to_string()];
        let host = Some("http://127.0.0.1");
        rt.block_on(run_tasks(&r, &names, host, &mut out)).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("running task Shopper.visit\n"), "{out}");
        assert!(out.contains("running task Admin.visit\n"), "{out}");
        assert!(
            !LEAKED.load(Ordering::SeqCst),
            "a cookie leaked between users"
        );
        // A qualified name runs one task; an unknown name is an error.
        let mut out = Vec::new();
        let names = ["Admin.visit".to_string()];
        rt.block_on(run_tasks(&r, &names, host, &mut out)).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(!out.contains("Shopper"), "{out}");
        let names = ["nope".to_string()];
        let err = rt.block_on(run_tasks(&r, &names, host, &mut Vec::new()));
        assert_eq!(err, Err("nope".to_string()));
    }

    #[test]
    fn run_tasks_prints_plain_numbers() {
        let mut e = stats::Entry::default();
        e.num_requests = 2;
        e.num_failures = 1;
        e.min_us = Some(43_269);
        e.max_us = 50_000;
        assert_eq!(
            summary("GET", "/", &e),
            "GET /: 2 requests, 1 failures, min 43.269 ms, max 50 ms"
        );
        let none = stats::Entry::default();
        assert_eq!(
            summary("GET", "/", &none),
            "GET /: 0 requests, 0 failures, min - ms, max 0 ms"
        );
    }

    /// A stop_timeout as long as a Duration goes (a master may send 1e300) neither
    /// overflows the clock nor holds users that finish their task.
    #[test]
    fn a_huge_stop_timeout_stops_users_that_finish() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mut registry = Registry::default();
        registry.add_task(task("quick", 1));
        let mut users = Users::new(
            rt.handle().clone(),
            Arc::new(registry),
            Arc::default(),
            None,
        );
        users.set_stop_timeout(Duration::MAX);
        let at = |n: u32| BTreeMap::from([(DEFAULT_CLASS.to_string(), n)]);
        let _guard = rt.enter();
        users.apply(&at(3));
        users.apply(&at(1));
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), users.stop_all())
                .await
                .expect("stopped")
        });
        assert_eq!(users.total(), 0);
    }

    /// A master that names a new class at every spawn (10,000 spawns): the worker keeps
    /// no entry per name, whether a class here takes the name (the only class takes every
    /// name) or none does.
    #[test]
    fn invented_class_names_leave_nothing_behind() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let mut one = Registry::default();
        one.add_class(UserClass::new::<Shopper>("Shopper", start));
        one.add_task(task("shop", 1).for_class::<Shopper>());
        for registry in [one, registry(false)] {
            let mut users = Users::new(
                rt.handle().clone(),
                Arc::new(registry),
                Arc::default(),
                None,
            );
            for i in 0..10_000 {
                users.apply(&BTreeMap::from([
                    ("Shopper".to_string(), 1),
                    (format!("Invented{i}"), 0),
                ]));
                assert!(
                    users.running.len() <= 2,
                    "{} names kept",
                    users.running.len()
                );
            }
            // What a master that names every class sees: the names of its last spawn.
            let counts = users.counts();
            assert_eq!(counts.get("Shopper"), Some(&1), "{counts:?}");
            assert!(counts.len() <= 2, "{counts:?}");
            // A name the only class takes runs users, and lets go of them when they stop.
            users.apply(&BTreeMap::from([("Invented".to_string(), 2)]));
            let runs_any = users.plan.resolve("Invented").is_some();
            assert_eq!(users.total(), if runs_any { 3 } else { 1 });
            let retiring = users.apply(&BTreeMap::from([
                ("Shopper".to_string(), 0),
                ("Invented".to_string(), 0),
            ]));
            rt.block_on(retiring.expect("users were retired"));
            assert_eq!(users.total(), 0);
            assert!(users
                .apply(&BTreeMap::from([("Other".to_string(), 0)]))
                .is_none());
            assert_eq!(users.total(), 0);
            assert!(users.running.len() <= 1, "{:?}", users.counts());
            rt.block_on(users.stop_all());
        }
    }

    /// The class picker reaches running users at their next iteration: two users of the
    /// default class run `a` and `b`; once `b` alone is picked, the same users run only `b`.
    #[test]
    fn running_users_switch_to_the_picked_tasks() {
        use std::sync::atomic::AtomicU64;
        static RAN: [[AtomicU64; 2]; 2] = [
            [AtomicU64::new(0), AtomicU64::new(0)],
            [AtomicU64::new(0), AtomicU64::new(0)],
        ];
        fn count(ctx: &mut Ctx, task: usize) -> Outcome {
            if let Some(user) = RAN.get(ctx.user_id() as usize) {
                user[task].fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        }
        let ran = |user: usize, task: usize| RAN[user][task].load(Ordering::SeqCst);
        let wait = |what: &str, done: &dyn Fn() -> bool| {
            let deadline = Instant::now() + Duration::from_secs(30);
            while !done() {
                assert!(Instant::now() < deadline, "timed out waiting for {what}");
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mut registry = Registry::default();
        registry.add_task(Task::new("a", 1, TaskFn::Sync(|ctx| count(ctx, 0))));
        registry.add_task(Task::new("b", 1, TaskFn::Sync(|ctx| count(ctx, 1))));
        let mut users = Users::new(
            rt.handle().clone(),
            Arc::new(registry),
            Arc::default(),
            None,
        );
        let _guard = rt.enter();
        users.apply(&BTreeMap::from([(DEFAULT_CLASS.to_string(), 2)]));
        wait("both users on both tasks", &|| {
            (0..2).all(|u| ran(u, 0) > 0 && ran(u, 1) > 0)
        });
        let edit = ClassEdit {
            tasks: Some(vec!["b".to_string()]),
            weight: Some(7),
            fixed_count: Some(3),
            ..ClassEdit::default()
        };
        users.update_class(DEFAULT_CLASS, edit).unwrap();
        let class = &users.plan.classes[0].class;
        assert_eq!((class.weight, class.fixed_count), (7, 3));
        // Two iterations of `b` each: the iteration under way at the edit is over.
        let at_edit = [ran(0, 1), ran(1, 1)];
        wait("an iteration after the edit", &|| {
            (0..2).all(|u| ran(u, 1) >= at_edit[u] + 2)
        });
        let a = [ran(0, 0), ran(1, 0)];
        let b = [ran(0, 1), ran(1, 1)];
        wait("100 more iterations", &|| {
            (0..2).all(|u| ran(u, 1) >= b[u] + 100)
        });
        assert_eq!([ran(0, 0), ran(1, 0)], a, "a task that was not picked ran");
        assert_eq!(users.total(), 2);
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), users.stop_all())
                .await
                .expect("stopped")
        });
    }

    /// An idle user is mostly its loop's future (BENCHMARKS.md §3: under 1 KiB per user in
    /// all): the class picker's slot adds one pointer to it, no more.
    #[test]
    fn the_user_loop_future_stays_small() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut registry = Registry::default();
        registry.add_task(task("quick", 1));
        let users = Users::new(
            rt.handle().clone(),
            Arc::new(registry),
            Arc::default(),
            None,
        );
        let signal = Arc::new(UserSignal::default());
        let ctx = Ctx::new(0, users.shared.host.clone(), None, signal.clone());
        let user = user_loop(users.slots[0].clone(), ctx, users.shared.clone(), signal);
        let size = std::mem::size_of_val(&user);
        eprintln!("user_loop future: {size} bytes");
        // 528 bytes here, debug and release (712 before the rate limiter's wait and the
        // backoff's pause were boxed; BENCHMARKS.md §3): a guard against growing it by
        // mistake.
        assert!(size <= 536, "user_loop future: {size} bytes");
    }

    #[test]
    fn validation_names_the_fix() {
        let mut r = registry(false);
        assert_eq!(r.validate(), Ok(()));
        r.add_class(UserClass::new::<u8>("Empty", start));
        assert_eq!(
            r.validate(),
            Err(crate::RegistryError::ClassWithoutTask("Empty".into()))
        );
        let mut r = registry(false);
        r.add_task(task("orphan", 1).for_class::<u16>());
        assert_eq!(
            r.validate(),
            Err(crate::RegistryError::UnknownClass("orphan".into()))
        );
        assert_eq!(
            Registry::default().validate(),
            Err(crate::RegistryError::NoTask)
        );
        // Task names are unique per class, not across classes.
        let mut r = registry(false);
        r.add_task(task("shop", 1).for_class::<Admin>());
        assert_eq!(r.validate(), Ok(()));
        r.add_task(task("shop", 2).for_class::<Admin>());
        assert_eq!(
            r.validate(),
            Err(crate::RegistryError::DuplicateTask(
                "shop".into(),
                "Admin".into()
            ))
        );
    }
}

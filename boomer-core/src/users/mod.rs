//! The users of a test. This module is the spawner: [`Users`] starts and stops users to
//! match the master's per-class targets, retires the surplus in the background (counted
//! until they are gone), stops them all at a test's end, and cuts every stop short on quit
//! ([`Hurry`]). What users run is in `plan` (tags, weights, the split over classes), how
//! one is told to stop in `signal`, and the loop each runs in `run`.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::host::HostCell;
use crate::panic::{install_panic_hook, report_panic};
use crate::ratelimit::RateLimiter;
use crate::registry::{Registry, Task};
use crate::Ctx;

pub(crate) mod arrival;
mod plan;
mod run;
pub(crate) mod signal;

pub(crate) use plan::{Plan, TagFilter};
pub(crate) use run::{run_in_loop, run_task, start_user};
pub(crate) use signal::{Gate, UserSignal};

use arrival::{Arrivals, Schedule};
use plan::{ClassPlan, ClassSlot, TaskTable};
use run::{arrival_loop, user_loop};
use signal::CURRENT_USER;

/// After `stop_timeout`, cancelled users get this long to run `on_stop` before they are
/// dropped.
const ON_STOP_GRACE: Duration = Duration::from_millis(300);
/// After a [`Hurry`] (quit), how long stopped users may still finish their task.
pub(crate) const HURRIED_STOP: Duration = Duration::from_millis(200);

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
    /// Cuts every stop under way short (quit): see [`Hurry`].
    hurry: Arc<Hurry>,
    next_id: u64,
    /// The open model: its settings and the arrival-driven classes' schedules.
    arrivals: Arrivals,
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
            hurry: Arc::default(),
            next_id: 0,
            arrivals: Arrivals::default(),
        }
    }

    /// The open model's settings from the command line: `--arrival-rate` (checked),
    /// `--arrival-max-lag`, `--latency-from`.
    pub(crate) fn set_arrival_options(
        &mut self,
        rates: &[String],
        max_lag: Duration,
        from_due: bool,
    ) -> Result<(), String> {
        let mut cli = arrival::RateSpecs::default();
        for r in rates {
            cli.add(r).map_err(|e| format!("--arrival-rate {e}"))?;
        }
        self.arrivals.cli = cli;
        self.arrivals.max_lag = max_lag;
        self.arrivals.from_due = from_due;
        Ok(())
    }

    /// What the master's spawn message says of the open model: its `arrival_rate` option
    /// (`None`: it sent none) and its user count, which this worker's users are a share of.
    pub(crate) fn set_fleet(
        &mut self,
        master: Option<arrival::RateSpecs>,
        fleet_users: Option<u32>,
    ) {
        self.arrivals.master = master;
        self.arrivals.fleet_users = fleet_users;
    }

    /// The schedule for master class `name` (class `i` of the plan) with `want` users here,
    /// made or updated: `None` for a closed-loop class.
    fn schedule_for(&mut self, name: &str, i: usize, want: u32) -> Option<Arc<Schedule>> {
        let any_declared = self
            .plan
            .classes
            .iter()
            .any(|c| c.class.arrival_rate.is_some());
        let declared = self.plan.classes[i]
            .class
            .arrival_rate
            .as_deref()
            .and_then(|r| arrival::Profile::parse(r).ok());
        let profile = self
            .arrivals
            .specs()
            .profile_for(name, declared.as_ref(), any_declared)?;
        let share = match self.arrivals.fleet_users {
            None => 1.0,
            Some(fleet) => {
                let of_class = self
                    .plan
                    .distribute(fleet)
                    .get(name)
                    .copied()
                    .unwrap_or(fleet);
                if of_class == 0 {
                    0.0
                } else {
                    (f64::from(want) / f64::from(of_class)).min(1.0)
                }
            }
        };
        let now = tokio::time::Instant::now();
        let max_lag = self.arrivals.max_lag;
        let schedule = self
            .arrivals
            .schedules
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(Schedule::new(profile.clone(), share, max_lag, now)));
        schedule.set_profile(profile, now);
        schedule.set_share(share, now);
        Some(schedule.clone())
    }

    /// The arrival-driven classes' counts since the test started, by master class name.
    pub(crate) fn arrival_counts(&self) -> BTreeMap<String, crate::output::ArrivalCount> {
        let now = tokio::time::Instant::now();
        self.arrivals
            .schedules
            .iter()
            .map(|(name, s)| {
                let (due, dropped, rate) = s.counts(now);
                (
                    name.clone(),
                    crate::output::ArrivalCount { due, dropped, rate },
                )
            })
            .collect()
    }

    /// For a report: the iterations dropped since the previous one go into `window`'s
    /// failure table (method `arrival`, the class's name, [`arrival::DROPPED`]), and the
    /// arrival-driven classes' counts since the test started come back.
    pub(crate) fn report_arrivals(
        &self,
        window: &mut crate::stats::Window,
    ) -> BTreeMap<String, crate::output::ArrivalCount> {
        let now = crate::clock::now_epoch();
        let instant = tokio::time::Instant::now();
        for (name, s) in &self.arrivals.schedules {
            s.sweep(instant);
            let n = s.take_unreported();
            window.add_errors(arrival::DROPPED_METHOD, name, arrival::DROPPED, n, now);
        }
        self.arrival_counts()
    }

    /// Prepares a new test: users started from now on wait for `gate`, pick tasks through
    /// `filter`, and the rate limiter starts over.
    pub(crate) fn new_test(&mut self, gate: Gate, filter: TagFilter) {
        self.shared.gate = gate;
        // A new test's schedules start at its first users.
        self.arrivals.schedules.clear();
        if filter != self.filter {
            self.plan = Plan::new(&self.registry, &filter);
            self.slots = self.plan.slots();
            self.filter = filter;
        }
        if let Some(l) = &self.shared.limiter {
            limiter_call("the rate limiter's start", || l.start());
        }
    }

    /// The plan, e.g. to split a user count over the classes.
    pub(crate) fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Starts or stops only the difference to reach `target` (absolute counts per master
    /// class name); classes the target does not name keep their users. If this call retired
    /// users, the future returned ends once they are gone: a Python worker reports
    /// `spawning_complete` only then (runners.py `start_worker`). A retired user may finish
    /// its current task within `stop_timeout` (the master's), as [`stop_all`](Self::stop_all).
    ///
    /// A name no class here runs is skipped (the control plane reports it to the master).
    /// The running map keeps a name only while it has users or the latest target names it,
    /// so a master inventing class names at every spawn leaves it bounded.
    pub(crate) fn apply(
        &mut self,
        target: &BTreeMap<String, u32>,
        stop_timeout: Duration,
    ) -> Option<Retiring> {
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
                    let retired = retire(user, stop_timeout, self.hurry.clone());
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
            let schedule = self.schedule_for(name, i, want as u32);
            let running = self.running.entry(name.clone()).or_default();
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
                let join = match &schedule {
                    None => self.rt.spawn(CURRENT_USER.scope(
                        signal.clone(),
                        user_loop(slot.clone(), ctx, self.shared.clone(), signal.clone()),
                    )),
                    Some(schedule) => self.rt.spawn(CURRENT_USER.scope(
                        signal.clone(),
                        arrival_loop(
                            slot.clone(),
                            ctx,
                            self.shared.clone(),
                            signal.clone(),
                            schedule.clone(),
                            self.arrivals.from_due,
                        ),
                    )),
                };
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
    pub(crate) async fn stop_all(&mut self, stop_timeout: Duration) {
        self.stopping(stop_timeout).await
    }

    /// [`stop_all`](Self::stop_all) as a future that borrows nothing: the users are taken
    /// out at once (the counts read 0), and the future ends once they are all gone, so a
    /// caller may await it beside other work.
    pub(crate) fn stopping(
        &mut self,
        stop_timeout: Duration,
    ) -> impl Future<Output = ()> + Send + 'static {
        let users: Vec<UserHandle> = std::mem::take(&mut self.running)
            .into_values()
            .flatten()
            .collect();
        let retiring = std::mem::take(&mut self.retiring);
        // Nothing comes due once the users are stopping (the counts so far stay).
        let now = tokio::time::Instant::now();
        for s in self.arrivals.schedules.values() {
            s.set_share(0.0, now);
        }
        if let Some(l) = &self.shared.limiter {
            limiter_call("the rate limiter's stop", || l.stop());
        }
        for u in &users {
            u.signal.soft_stop();
        }
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

/// Calls a limiter's `start` or `stop`: a panic there is reported, not the control loop's.
fn limiter_call(what: &str, call: impl FnOnce()) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(call)) {
        report_panic(what, &*panic);
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

/// Test set-ups shared by the users' unit tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::sync::Arc;

    use super::Users;
    use crate::registry::Registry;

    /// A runtime of `threads` worker threads, with timers and I/O, as the users' own.
    pub(crate) fn runtime(threads: usize) -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .unwrap()
    }

    /// Users of `registry` on `rt`, with no host and no rate limiter.
    pub(crate) fn users_of(rt: &tokio::runtime::Runtime, registry: Registry) -> Users {
        Users::new(
            rt.handle().clone(),
            Arc::new(registry),
            Arc::default(),
            None,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;
    use std::time::Instant;

    use super::fixtures::{runtime, users_of};
    use super::signal::begin_request;
    use super::*;
    use crate::registry::fixtures::{registry, start, task, Shopper};
    use crate::registry::{Outcome, TaskFn, UserClass, DEFAULT_CLASS};

    /// What a user of the conservation tests "sends": a request counted by the target when it
    /// starts, and recorded when its response is dropped (as `boomer::http`'s `Response`).
    struct Sample(&'static AtomicU32);

    impl Drop for Sample {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// An arrival-driven class runs the share of the fleet's rate that its users are of the
    /// fleet's: 10 of the master's 40 users at 400/s fleet-wide is 100/s here; all 40 is
    /// the whole rate; the command line's rate gives way to the master's. Stopped, it comes
    /// due no more.
    #[test]
    fn an_arrival_class_runs_its_share_of_the_fleet() {
        let rt = runtime(1);
        let mut registry = Registry::default();
        registry.add_class(UserClass::new::<Shopper>("Shopper", start).arrival_rate("50"));
        registry.add_task(task("shop", 1).for_class::<Shopper>());
        let mut users = users_of(&rt, registry);
        users
            .set_arrival_options(&["80".into()], Duration::from_secs(5), true)
            .unwrap();
        let _guard = rt.enter();
        let rate = |users: &Users| users.arrival_counts()["Shopper"].rate;
        let at = |n: u32| BTreeMap::from([("Shopper".to_string(), n)]);
        users.apply(&at(2), Duration::ZERO);
        assert_eq!(
            rate(&users),
            80.0,
            "standalone: the command line's, all of it"
        );
        let master = arrival::RateSpecs::parse("400").ok();
        users.set_fleet(master.clone(), Some(40));
        users.apply(&at(10), Duration::ZERO);
        assert_eq!(rate(&users), 100.0);
        users.set_fleet(master, Some(40));
        users.apply(&at(40), Duration::ZERO);
        assert_eq!(rate(&users), 400.0);
        users.set_fleet(None, Some(40));
        users.apply(&at(20), Duration::ZERO);
        assert_eq!(
            rate(&users),
            40.0,
            "no master rate: the command line's share"
        );
        rt.block_on(users.stop_all(Duration::ZERO));
        assert_eq!(rate(&users), 0.0);
        let mut window = crate::stats::Window::default();
        let counts = users.report_arrivals(&mut window);
        assert_eq!(counts["Shopper"].dropped, 0, "{counts:?}");
        assert_eq!(window.num_requests(), 0);
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
        let rt = runtime(2);
        let mut registry = Registry::default();
        registry.add_task(Task::new("request", 1, TaskFn::Async(request)));
        let mut users = users_of(&rt, registry);
        let at = |n: u32| BTreeMap::from([(DEFAULT_CLASS.to_string(), n)]);
        for n in [10, 30, 5, 20, 3] {
            users.apply(&at(n), Duration::ZERO);
            rt.block_on(async { tokio::time::sleep(Duration::from_millis(100)).await });
        }
        rt.block_on(users.stop_all(Duration::ZERO));
        let served = SERVED.load(Ordering::SeqCst);
        assert!(served > 100, "{served}");
        assert_eq!(RECORDED.load(Ordering::SeqCst), served);
    }

    /// Stopping many idle users at once ends promptly, awaited from a runtime of its own as
    /// the control plane does: the stop awaits them all in one task, which once spun for
    /// minutes on a million users (tokio's cooperative budget sent it round again and again).
    #[test]
    fn many_idle_users_stop_at_once() {
        let users_rt = runtime(1);
        let control = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut registry = Registry::default();
        registry.add_class(
            UserClass::new::<Shopper>("Shopper", start).wait_time(crate::WaitTime::constant(1.0)),
        );
        registry.add_task(task("shop", 1).for_class::<Shopper>());
        let mut users = users_of(&users_rt, registry);
        let n = 200_000;
        users.apply(
            &BTreeMap::from([("Shopper".to_string(), n)]),
            Duration::from_secs(1),
        );
        assert_eq!(users.total(), n);
        users_rt.block_on(async { tokio::time::sleep(Duration::from_millis(500)).await });
        let stopping = users.stopping(Duration::from_secs(1));
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
        let rt = runtime(2);
        let mut registry = Registry::default();
        registry.add_task(Task::new("request", 1, TaskFn::Async(request)));
        let mut users = users_of(&rt, registry);
        let at = |n: u32| BTreeMap::from([(DEFAULT_CLASS.to_string(), n)]);
        assert!(
            users.apply(&at(4), Duration::ZERO).is_none(),
            "nobody was retired"
        );
        rt.block_on(async {
            while STARTED.load(Ordering::SeqCst) < 4 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        let mut retiring = users
            .apply(&at(1), Duration::ZERO)
            .expect("three users were retired");
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
        rt.block_on(users.stop_all(Duration::ZERO));
        assert_eq!(users.total(), 0);
    }

    /// A stop_timeout as long as a Duration goes (a master may send 1e300) neither
    /// overflows the clock nor holds users that finish their task.
    #[test]
    fn a_huge_stop_timeout_stops_users_that_finish() {
        let rt = runtime(1);
        let mut registry = Registry::default();
        registry.add_task(task("quick", 1));
        let mut users = users_of(&rt, registry);
        let at = |n: u32| BTreeMap::from([(DEFAULT_CLASS.to_string(), n)]);
        let _guard = rt.enter();
        users.apply(&at(3), Duration::MAX);
        users.apply(&at(1), Duration::MAX);
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), users.stop_all(Duration::MAX))
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
        let rt = runtime(1);
        let _guard = rt.enter();
        let mut one = Registry::default();
        one.add_class(UserClass::new::<Shopper>("Shopper", start));
        one.add_task(task("shop", 1).for_class::<Shopper>());
        for registry in [one, registry(false)] {
            let mut users = users_of(&rt, registry);
            for i in 0..10_000 {
                users.apply(
                    &BTreeMap::from([("Shopper".to_string(), 1), (format!("Invented{i}"), 0)]),
                    Duration::ZERO,
                );
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
            users.apply(
                &BTreeMap::from([("Invented".to_string(), 2)]),
                Duration::ZERO,
            );
            let runs_any = users.plan.resolve("Invented").is_some();
            assert_eq!(users.total(), if runs_any { 3 } else { 1 });
            let retiring = users.apply(
                &BTreeMap::from([("Shopper".to_string(), 0), ("Invented".to_string(), 0)]),
                Duration::ZERO,
            );
            rt.block_on(retiring.expect("users were retired"));
            assert_eq!(users.total(), 0);
            assert!(users
                .apply(&BTreeMap::from([("Other".to_string(), 0)]), Duration::ZERO)
                .is_none());
            assert_eq!(users.total(), 0);
            assert!(users.running.len() <= 1, "{:?}", users.counts());
            rt.block_on(users.stop_all(Duration::ZERO));
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
        let rt = runtime(1);
        let mut registry = Registry::default();
        registry.add_task(Task::new("a", 1, TaskFn::Sync(|ctx| count(ctx, 0))));
        registry.add_task(Task::new("b", 1, TaskFn::Sync(|ctx| count(ctx, 1))));
        let mut users = users_of(&rt, registry);
        let _guard = rt.enter();
        users.apply(
            &BTreeMap::from([(DEFAULT_CLASS.to_string(), 2)]),
            Duration::ZERO,
        );
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
            tokio::time::timeout(Duration::from_secs(10), users.stop_all(Duration::ZERO))
                .await
                .expect("stopped")
        });
    }
}

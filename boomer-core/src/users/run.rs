//! The loop each user runs: wait for the test's gate, build its state (`on_start`), pick a
//! task by weight (or in order), run it, wait, until told to stop; then `on_stop`. Also the
//! task runners it shares with `--run-tasks` and the benches: timing, panic catching,
//! failure recording.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::arrival::{Claim, Schedule};
use super::plan::{ClassPlan, ClassSlot};
use super::signal::{until_hard, UserSignal};
use super::Shared;
use crate::panic::{panic_message, report_panic, set_panic_site, take_panic_site, CatchUnwind};
use crate::ratelimit::RateLimiter;
use crate::registry::{Outcome, Task, TaskFn, UserClass, UserState};
use crate::stats;
use crate::Ctx;

/// First pause before a user whose `on_start` failed tries again (doubling up to
/// [`MAX_PAUSE`]); the same for a panicking `wait_time` or rate limiter.
const ON_START_RETRY: Duration = Duration::from_millis(500);

/// The longest pause of a [`Backoff`].
const MAX_PAUSE: Duration = Duration::from_secs(10);

pub(super) async fn user_loop(
    slot: Arc<ClassSlot>,
    mut ctx: Ctx,
    shared: Shared,
    signal: Arc<UserSignal>,
) {
    shared.gate.wait().await;
    // The class as of now (an edit may have come since the user was made). The picker
    // changes only its tasks and host: `on_start`, `on_stop` and `wait_time` stay.
    let mut picker = Picker::new(&slot, &mut ctx);
    // Boxed, here and for async tasks below: a future's size is that of its largest await
    // point, and every idle user holds one, so the rare and large ones live on the heap
    // only while they run (idle users stay under 1 KiB each).
    let Some(mut state) = Box::pin(start_user(&picker.plan.class, &mut ctx, &signal)).await else {
        return;
    };
    let mut backoff = Backoff::default();
    // Time is read once per iteration when it can be: the task's start doubles as the
    // iteration's start unless a rate limiter waits in between, and the end is read only
    // for a failure's response time or a wait that depends on how long the task took.
    let wait_uses_elapsed = picker.plan.class.wait_time.uses_elapsed();
    while !signal.stopping() {
        picker.refresh(&slot, &mut ctx);
        if picker.plan.table.is_empty() {
            if Box::pin(picker.until_tasks(&slot, &mut ctx, &signal))
                .await
                .is_none()
            {
                break;
            }
            continue;
        }
        let began = (shared.limiter.is_none() || wait_uses_elapsed).then(Instant::now);
        if let Some(limiter) = &shared.limiter {
            let Some(acquired) = Box::pin(acquire_unless_stopped(&**limiter, &signal)).await else {
                break;
            };
            if let Err(panic) = acquired {
                // Recorded as a task's panic is; the user backs off and tries again.
                let class = &picker.plan.class;
                let what = format!("rate limiter of {}", class.name);
                backoff.failed("rate_limiter", &class.name, &what, &*panic);
                if Box::pin(backoff.pause(&signal)).await.is_err() {
                    break;
                }
                continue;
            }
        }
        if let Some(task) = picker.pick() {
            let start = match began {
                Some(began) if shared.limiter.is_none() => began,
                _ => Instant::now(),
            };
            let ran = match run_inline(task, &mut ctx, &signal, start) {
                Some(ran) => ran,
                None => Box::pin(run_async(task, &mut ctx, &mut *state, &signal, start)).await,
            };
            if !ran {
                break;
            }
        }
        let took = match began {
            Some(began) if wait_uses_elapsed => began.elapsed(),
            _ => Duration::ZERO,
        };
        let (class, rng) = (&picker.plan.class, &mut picker.rng);
        let wait = match catch_unwind(AssertUnwindSafe(|| class.wait_time.next(took, rng))) {
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
    stop_user_state(&picker.plan, &mut *state, &mut ctx).await;
}

/// The loop of a user of an arrival-driven class: instead of running its tasks one after
/// the other with waits between, it takes the class's next iteration from `schedule`,
/// sleeps until it is due, runs one task (picked as [`user_loop`] picks), and goes back
/// for the next. With `from_due`, the iteration's lateness (started after its due time,
/// every user having been busy) counts in its first response time.
pub(super) async fn arrival_loop(
    slot: Arc<ClassSlot>,
    mut ctx: Ctx,
    shared: Shared,
    signal: Arc<UserSignal>,
    schedule: Arc<Schedule>,
    from_due: bool,
) {
    shared.gate.wait().await;
    let mut picker = Picker::new(&slot, &mut ctx);
    let Some(mut state) = Box::pin(start_user(&picker.plan.class, &mut ctx, &signal)).await else {
        return;
    };
    while !signal.stopping() {
        picker.refresh(&slot, &mut ctx);
        if picker.plan.table.is_empty() {
            if Box::pin(picker.until_tasks(&slot, &mut ctx, &signal))
                .await
                .is_none()
            {
                break;
            }
            continue;
        }
        let due = match schedule.claim(tokio::time::Instant::now()) {
            Claim::At(due) => due,
            Claim::Idle => {
                // Registered, then claimed again: a change of rate in between still wakes
                // the user (and a busy schedule never pays for the registration).
                let changed = schedule.changes().notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if let Claim::At(due) = schedule.claim(tokio::time::Instant::now()) {
                    due
                } else {
                    tokio::select! {
                        biased;
                        _ = signal.soft() => break,
                        _ = changed => continue,
                    }
                }
            }
        };
        if due > tokio::time::Instant::now() {
            tokio::select! {
                biased;
                _ = signal.soft() => break,
                _ = tokio::time::sleep_until(due) => {}
            }
        }
        let start = Instant::now();
        if from_due {
            signal.set_late(tokio::time::Instant::from_std(start).saturating_duration_since(due));
        }
        if let Some(task) = picker.pick() {
            let ran = match run_inline(task, &mut ctx, &signal, start) {
                Some(ran) => ran,
                None => Box::pin(run_async(task, &mut ctx, &mut *state, &signal, start)).await,
            };
            signal.set_late(Duration::ZERO);
            if !ran {
                break;
            }
        }
        tokio::task::consume_budget().await;
    }
    stop_user_state(&picker.plan, &mut *state, &mut ctx).await;
}

/// What both loops keep of their class: its plan as of now (the web UI's class picker may
/// replace it between iterations), and how the next task is picked.
struct Picker {
    plan: Arc<ClassPlan>,
    rng: fastrand::Rng,
    /// The next task of a `sequential` class.
    next_in_order: usize,
}

impl Picker {
    /// The class as of now (an edit may have come since the user was made). The picker
    /// changes only its tasks and host: `on_start`, `on_stop` and `wait_time` stay.
    fn new(slot: &ClassSlot, ctx: &mut Ctx) -> Self {
        let plan = slot.get();
        ctx.set_class_host(plan.class.host.as_deref());
        Picker {
            plan,
            rng: fastrand::Rng::new(),
            next_in_order: 0,
        }
    }

    fn replace(&mut self, plan: Arc<ClassPlan>, ctx: &mut Ctx) {
        self.plan = plan;
        ctx.set_class_host(self.plan.class.host.as_deref());
        self.next_in_order = 0;
    }

    /// Once per iteration: one atomic load (the host's version, which the class picker
    /// bumps too), and the class's new plan if it changed.
    #[inline]
    fn refresh(&mut self, slot: &ClassSlot, ctx: &mut Ctx) {
        if ctx.refresh() {
            let now = slot.get();
            if !Arc::ptr_eq(&now, &self.plan) {
                self.replace(now, ctx);
            }
        }
    }

    /// No task to pick (tag filtering, or the picker left none): waits for an edit that
    /// gives the class some; `None` if the user was told to stop first.
    async fn until_tasks(
        &mut self,
        slot: &ClassSlot,
        ctx: &mut Ctx,
        signal: &UserSignal,
    ) -> Option<()> {
        let now = slot.until_tasks(signal).await?;
        self.replace(now, ctx);
        Some(())
    }

    /// The next task: by weight, or in declaration order for a `sequential` class.
    #[inline]
    fn pick(&mut self) -> Option<&Task> {
        let Picker {
            plan,
            rng,
            next_in_order,
        } = self;
        if plan.class.sequential {
            *next_in_order += 1;
            plan.table.nth(*next_in_order - 1)
        } else {
            plan.table.pick(rng)
        }
    }
}

/// The class's `on_stop`, as a user's loop ends; a panic there is reported.
async fn stop_user_state(plan: &ClassPlan, state: &mut (dyn Any + Send), ctx: &mut Ctx) {
    if let Some(stop) = plan.class.on_stop {
        if let Err(panic) = CatchUnwind(stop(state, ctx)).await {
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

/// The pause after a failed `on_start`, or a panic in a user's `wait_time` or rate limiter:
/// 500 ms, doubling up to 10 s while it keeps failing, so a broken closure does not spin.
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
        self.grow();
    }

    /// The next pause: the first one, or twice the last, up to [`MAX_PAUSE`].
    fn grow(&mut self) {
        self.next = Some(self.next.map_or(ON_START_RETRY, |p| (p * 2).min(MAX_PAUSE)));
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
pub(crate) async fn start_user(
    class: &UserClass,
    ctx: &mut Ctx,
    signal: &UserSignal,
) -> Option<UserState> {
    let Some(on_start) = class.on_start else {
        return Some(Box::new(()));
    };
    let mut backoff = Backoff::default();
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
        backoff.grow();
        backoff.pause(signal).await.ok()?;
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
    match run_inline(task, ctx, signal, start) {
        Some(ran) => ran,
        None => run_async(task, ctx, state, signal, start).await,
    }
}

/// [`run_in_loop`] of a task that [`run_inline`] did not take: awaited unless the user was
/// hard-stopped first, and dropped if it is meanwhile.
async fn run_async(
    task: &Task,
    ctx: &mut Ctx,
    state: &mut (dyn Any + Send),
    signal: &UserSignal,
    start: Instant,
) -> bool {
    if signal.hard_stopped() {
        return false;
    }
    until_hard(signal, run_task_from(task, ctx, state, start))
        .await
        .is_some()
}

/// The sync fast path, shared by the user's loop and [`run_in_loop`]: a sync task runs
/// inline, to the end in one go (nothing to cancel, no future to poll or box), unless the
/// user was hard-stopped (`Some(false)`, as [`run_in_loop`]'s). `None` for a task that is
/// not sync: nothing was read, not even the stop signal; the caller goes on with
/// [`run_async`], which checks it.
#[inline]
fn run_inline(task: &Task, ctx: &mut Ctx, signal: &UserSignal, start: Instant) -> Option<bool> {
    let TaskFn::Sync(f) = task.run else {
        return None;
    };
    if signal.hard_stopped() {
        return Some(false);
    }
    settle(&task.name, start, catch_unwind(AssertUnwindSafe(|| f(ctx))));
    Some(true)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::fixtures::task;
    use crate::registry::Registry;
    use crate::users::fixtures::users_of;

    /// An idle user is mostly its loop's future (BENCHMARKS.md §3: under 1 KiB per user in
    /// all): the class picker's slot adds one pointer to it, no more.
    #[test]
    fn the_user_loop_future_stays_small() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut registry = Registry::default();
        registry.add_task(task("quick", 1));
        let users = users_of(&rt, registry);
        let signal = Arc::new(UserSignal::default());
        let ctx = Ctx::new(0, users.shared.host.clone(), None, signal.clone());
        let user = user_loop(users.slots[0].clone(), ctx, users.shared.clone(), signal);
        let size = std::mem::size_of_val(&user);
        eprintln!("user_loop future: {size} bytes");
        // 520 bytes here in a debug build (528 before the loops shared a Picker, 712 before
        // the rate limiter's wait and the backoff's pause were boxed; BENCHMARKS.md §3): a
        // guard against growing it by mistake.
        assert!(size <= 528, "user_loop future: {size} bytes");
    }
}

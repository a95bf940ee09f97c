//! Starting and stopping users to match the master's per-class targets, and the loop each
//! user runs: pick a task by weight, run it, yield.

use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::host::HostCell;
use crate::outbox;
use crate::registry::{Outcome, Task, TaskFn};
use crate::stats;
use crate::Ctx;

/// The tasks users pick from, with their cumulative weights.
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
}

/// The running users, per user class.
pub(crate) struct Users {
    rt: Handle,
    table: Arc<TaskTable>,
    host: Arc<HostCell>,
    classes: BTreeMap<String, Vec<JoinHandle<()>>>,
    next_id: u64,
    gate: Gate,
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
            // Created before the check, so an open() in between still wakes us.
            let notified = self.0.notify.notified();
            if self.0.open.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

impl Users {
    pub(crate) fn new(rt: Handle, table: Arc<TaskTable>, host: Arc<HostCell>) -> Self {
        Users {
            rt,
            table,
            host,
            classes: BTreeMap::new(),
            next_id: 0,
            gate: {
                let gate = Gate::closed();
                gate.open();
                gate
            },
        }
    }

    /// Users started from now on wait for `gate` to open.
    pub(crate) fn set_gate(&mut self, gate: Gate) {
        self.gate = gate;
    }

    /// Starts or stops only the difference to reach `target` (absolute counts per class);
    /// classes the target does not name keep their users.
    pub(crate) fn apply(&mut self, target: &BTreeMap<String, u32>) {
        for (class, &want) in target {
            let running = self.classes.entry(class.clone()).or_default();
            let want = want as usize;
            while running.len() > want {
                if let Some(user) = running.pop() {
                    user.abort();
                }
            }
            while running.len() < want {
                let ctx = Ctx::new(self.next_id, self.host.clone());
                self.next_id += 1;
                running.push(
                    self.rt
                        .spawn(user_loop(ctx, self.table.clone(), self.gate.clone())),
                );
            }
        }
    }

    /// Running users per class (every class the master named, zeros included).
    pub(crate) fn counts(&self) -> BTreeMap<String, u32> {
        self.classes
            .iter()
            .map(|(class, users)| (class.clone(), users.len() as u32))
            .collect()
    }

    pub(crate) fn total(&self) -> u32 {
        self.classes.values().map(|u| u.len() as u32).sum()
    }

    /// Stops every user and waits up to `grace` for them to be gone, so that what they
    /// recorded is in the shards before the next report. A user blocked in a plain `fn`
    /// ends when that call returns; its samples then go out in a later report.
    pub(crate) async fn stop_all(&mut self, grace: Duration) {
        let handles: Vec<JoinHandle<()>> = self
            .classes
            .values_mut()
            .flat_map(|users| users.drain(..))
            .collect();
        self.classes.clear();
        for h in &handles {
            h.abort();
        }
        let all = async {
            for h in handles {
                let _ = h.await;
            }
        };
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!("some users were still busy {grace:?} after stop");
        }
    }
}

async fn user_loop(mut ctx: Ctx, table: Arc<TaskTable>, gate: Gate) {
    gate.wait().await;
    drop(gate);
    let mut rng = fastrand::Rng::new();
    loop {
        ctx.refresh();
        if let Some(task) = table.pick(&mut rng) {
            run_task(task, &mut ctx).await;
        }
        // A plain fn, or an async fn that never waits, would otherwise hold its thread; but
        // yielding every iteration costs a trip through the scheduler (and, with one user,
        // an epoll per iteration): yield once tokio's cooperative budget is spent.
        tokio::task::consume_budget().await;
    }
}

/// Runs one task once; an `Err` or a panic is recorded as a failure of the task (type
/// `task`), and a panic is also sent to the master as an `exception`.
pub(crate) async fn run_task(task: &Task, ctx: &mut Ctx) {
    let start = Instant::now();
    let result = match task.run {
        TaskFn::Sync(f) => catch_unwind(AssertUnwindSafe(|| f(ctx))),
        TaskFn::Async(f) => CatchUnwind(f(ctx)).await,
        TaskFn::Blocking(f) => match tokio::task::spawn_blocking(f).await {
            Ok(outcome) => Ok(outcome),
            Err(e) if e.is_panic() => Err(e.into_panic()),
            Err(_) => return,
        },
    };
    settle(&task.name, start.elapsed(), result);
}

fn settle(task: &str, elapsed: Duration, result: Result<Outcome, Box<dyn Any + Send>>) {
    match result {
        Ok(Ok(())) => {}
        Ok(Err(error)) => stats::record_failure("task", task, elapsed, error),
        Err(panic) => {
            let msg = panic_message(&*panic);
            stats::record_failure("task", task, elapsed, format!("panic: {msg}"));
            outbox::exception(
                format!("task {task} panicked: {msg}"),
                format!("panic in task {task}:\n{msg}"),
            );
        }
    }
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

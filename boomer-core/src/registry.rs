//! What user code registers: tasks and event handlers, collected with `inventory` by the
//! macros (or added programmatically through the builder) and validated once at start-up.

use std::future::Future;
use std::pin::Pin;

use crate::events::{Event, EventKind};
use crate::Ctx;

/// A boxed future borrowed for `'a`, the shape every registered async function returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a task run came to: `Ok(())`, or the text of the error it returned.
pub type Outcome = Result<(), String>;

/// How a task is called.
#[derive(Clone, Copy)]
pub enum TaskFn {
    /// A plain `fn`, run inline on the user's async loop: it must not block.
    Sync(fn(&mut Ctx) -> Outcome),
    /// A plain `fn` that may block, run on tokio's blocking pool.
    Blocking(fn() -> Outcome),
    /// An `async fn`.
    Async(for<'a> fn(&'a mut Ctx) -> BoxFuture<'a, Outcome>),
}

/// One task: a function that every user runs again and again, picked by weight.
#[derive(Clone)]
pub struct Task {
    pub(crate) name: String,
    pub(crate) weight: u32,
    pub(crate) tags: Vec<String>,
    pub(crate) run: TaskFn,
}

impl Task {
    /// A task named `name`, picked `weight` times as often as a task of weight 1.
    ///
    /// ```
    /// use boomer_core::{Task, TaskFn};
    /// let task = Task::new("ping", 3, TaskFn::Sync(|_ctx| Ok(())));
    /// assert_eq!(task.name(), "ping");
    /// ```
    pub fn new(name: impl Into<String>, weight: u32, run: TaskFn) -> Self {
        Task {
            name: name.into(),
            weight,
            tags: Vec::new(),
            run,
        }
    }

    /// The same task with these tags (for `--tags` / `--exclude-tags`).
    pub fn with_tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// The task's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The task's weight.
    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// The task's tags.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }
}

/// An event handler: called for every event of its kind, in registration order.
#[derive(Clone)]
pub struct Handler {
    pub(crate) kind: EventKind,
    pub(crate) name: String,
    pub(crate) run: HandlerFn,
}

/// How a handler is called: with the event, whatever its kind.
pub type HandlerFn = for<'a> fn(&'a Event) -> BoxFuture<'a, ()>;

impl Handler {
    /// A handler for events of `kind`.
    pub fn new(kind: EventKind, name: impl Into<String>, run: HandlerFn) -> Self {
        Handler {
            kind,
            name: name.into(),
            run,
        }
    }

    /// The kind of event it handles.
    pub fn kind(&self) -> &EventKind {
        &self.kind
    }
}

/// A task registered by `#[boomer::task]` (emitted by the macro; not for direct use).
#[doc(hidden)]
pub struct TaskRegistration {
    pub name: &'static str,
    pub weight: u32,
    pub tags: &'static [&'static str],
    pub run: TaskFn,
    /// Where the fn is, for messages: `module_path!()`.
    pub module: &'static str,
}

/// A handler registered by `#[boomer::on]` (emitted by the macro; not for direct use).
#[doc(hidden)]
pub struct HandlerRegistration {
    pub event: StaticEventKind,
    pub name: &'static str,
    pub run: HandlerFn,
    pub module: &'static str,
}

/// The event kinds a macro can name (a `const`-friendly mirror of [`EventKind`]).
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum StaticEventKind {
    Connected,
    Spawn,
    SpawningComplete,
    Stop,
    Quit,
    TestStart,
    TestStop,
    Message(&'static str),
}

impl From<StaticEventKind> for EventKind {
    fn from(kind: StaticEventKind) -> Self {
        match kind {
            StaticEventKind::Connected => EventKind::Connected,
            StaticEventKind::Spawn => EventKind::Spawn,
            StaticEventKind::SpawningComplete => EventKind::SpawningComplete,
            StaticEventKind::Stop => EventKind::Stop,
            StaticEventKind::Quit => EventKind::Quit,
            StaticEventKind::TestStart => EventKind::TestStart,
            StaticEventKind::TestStop => EventKind::TestStop,
            StaticEventKind::Message(t) => EventKind::Message(t.to_string()),
        }
    }
}

inventory::collect!(TaskRegistration);
inventory::collect!(HandlerRegistration);

/// Everything the worker runs: tasks and handlers, validated.
#[derive(Clone, Default)]
pub struct Registry {
    pub(crate) tasks: Vec<Task>,
    pub(crate) handlers: Vec<Handler>,
}

/// Why the registered tasks cannot run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    /// Nothing registered a task.
    #[error(
        "no task is registered: annotate a fn with #[boomer::task] (if your tasks live in a \
         library crate, link it with `use my_tasks as _;` in the binary), or add one with \
         Boomer::builder().task(...)"
    )]
    NoTask,
    /// Two tasks share a name.
    #[error("two tasks are named {0:?}: give one of them #[boomer::task(name = \"...\")]")]
    DuplicateTask(String),
}

impl Registry {
    /// Every task and handler registered with the macros in this binary, sorted by name so
    /// that runs are reproducible (inventory yields them in no particular order).
    pub fn from_macros() -> Self {
        let mut tasks: Vec<Task> = inventory::iter::<TaskRegistration>
            .into_iter()
            .map(|t| Task {
                name: t.name.to_string(),
                weight: t.weight,
                tags: t.tags.iter().map(|s| s.to_string()).collect(),
                run: t.run,
            })
            .collect();
        tasks.sort_by(|a, b| a.name.cmp(&b.name));
        let mut regs: Vec<&HandlerRegistration> =
            inventory::iter::<HandlerRegistration>.into_iter().collect();
        regs.sort_by_key(|h| (h.module, h.name));
        let handlers = regs
            .into_iter()
            .map(|h| Handler::new(h.event.into(), format!("{}::{}", h.module, h.name), h.run))
            .collect();
        Registry { tasks, handlers }
    }

    /// Adds a task.
    pub fn add_task(&mut self, task: Task) {
        self.tasks.push(task);
    }

    /// Adds a handler.
    pub fn add_handler(&mut self, handler: Handler) {
        self.handlers.push(handler);
    }

    /// The tasks.
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// Checks that the worker has something to run.
    pub fn validate(&self) -> Result<(), RegistryError> {
        if self.tasks.is_empty() {
            return Err(RegistryError::NoTask);
        }
        let mut names: Vec<&str> = self.tasks.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(RegistryError::DuplicateTask(w[0].to_string()));
        }
        Ok(())
    }
}

/// What a task may return: `()`, or `Result<(), E>` whose `Err` is recorded as a failure of
/// the task with the error's text.
pub trait IntoOutcome {
    /// Converts the task's return value.
    fn into_outcome(self) -> Outcome;
}

impl IntoOutcome for () {
    fn into_outcome(self) -> Outcome {
        Ok(())
    }
}

impl<E: std::fmt::Display> IntoOutcome for Result<(), E> {
    fn into_outcome(self) -> Outcome {
        self.map_err(|e| e.to_string())
    }
}

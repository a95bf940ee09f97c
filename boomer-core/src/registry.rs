//! What user code registers: user classes, tasks and event handlers, collected with
//! `inventory` by the macros (or added programmatically through the builder) and checked by
//! [`Registry::validate`] once at start-up.

use std::any::{Any, TypeId};
use std::future::Future;
use std::pin::Pin;

use crate::events::{Event, EventKind};
use crate::Ctx;

/// The name of the class of tasks that take no user state.
pub(crate) const DEFAULT_CLASS: &str = "default";

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
    /// A task of a user class: gets the user's state (the class's type) and the context.
    User(for<'a> fn(&'a mut (dyn Any + Send), &'a mut Ctx) -> BoxFuture<'a, Outcome>),
}

/// One user's state, as built by its class's `on_start`.
pub type UserState = Box<dyn Any + Send>;
/// Builds a user's state (a class's `on_start`); an `Err` is recorded as a failure.
pub type StartFn = for<'a> fn(&'a mut Ctx) -> BoxFuture<'a, Result<UserState, String>>;
/// Tears a user down (a class's `on_stop`).
pub type StopFn = for<'a> fn(&'a mut (dyn Any + Send), &'a mut Ctx) -> BoxFuture<'a, ()>;

/// One task: a function that every user runs again and again, picked by weight.
#[derive(Clone)]
pub struct Task {
    pub(crate) name: String,
    pub(crate) weight: u32,
    pub(crate) tags: Vec<String>,
    pub(crate) run: TaskFn,
    /// The user class (its state's type), or `None` for the default class.
    pub(crate) class: Option<TypeId>,
    /// Declaration order, for sequential classes.
    pub(crate) order: (String, u32),
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
            class: None,
            order: (String::new(), 0),
        }
    }

    /// The same task, for users of class `T` (its state type); its fn must be
    /// [`TaskFn::User`].
    pub fn for_class<T: Any>(mut self) -> Self {
        self.class = Some(TypeId::of::<T>());
        self
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
    /// `line!()` of the fn, for the declaration order of sequential classes.
    pub line: u32,
    /// `TypeId::of::<State>` for a task of a user class.
    pub class: Option<fn() -> TypeId>,
}

/// A user class registered by `#[boomer::user]` (emitted by the macro; not for direct use).
#[doc(hidden)]
pub struct UserClassRegistration {
    pub name: &'static str,
    pub weight: u32,
    pub fixed_count: u32,
    pub wait_time: fn() -> crate::WaitTime,
    pub arrival_rate: Option<&'static str>,
    pub host: Option<&'static str>,
    pub tags: &'static [&'static str],
    pub sequential: bool,
    pub on_start: StartFn,
    pub on_stop: Option<StopFn>,
    pub type_id: fn() -> TypeId,
}

/// A user class: a kind of user with its own state, tasks and pacing, as Locust's `User`
/// subclasses. The master assigns users per class by name.
#[derive(Clone)]
pub struct UserClass {
    pub(crate) name: String,
    pub(crate) weight: u32,
    pub(crate) fixed_count: u32,
    pub(crate) wait_time: crate::WaitTime,
    /// The open model's rate (`arrival_rate`): `None` for a closed loop.
    pub(crate) arrival_rate: Option<String>,
    pub(crate) host: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) sequential: bool,
    pub(crate) on_start: Option<StartFn>,
    pub(crate) on_stop: Option<StopFn>,
    /// `None` for the default class (tasks that name no class).
    pub(crate) type_id: Option<TypeId>,
}

impl UserClass {
    /// The default class: tasks that take no user state.
    pub(crate) fn default_class(name: &str) -> Self {
        UserClass {
            name: name.to_string(),
            weight: 1,
            fixed_count: 0,
            wait_time: crate::WaitTime::None,
            arrival_rate: None,
            host: None,
            tags: Vec::new(),
            sequential: false,
            on_start: None,
            on_stop: None,
            type_id: None,
        }
    }

    /// A class named `name` (the Locust class name it answers to) whose users' state is a
    /// `T`, built by `on_start`.
    pub fn new<T: Any + Send>(name: impl Into<String>, on_start: StartFn) -> Self {
        UserClass {
            on_start: Some(on_start),
            type_id: Some(TypeId::of::<T>()),
            ..UserClass::default_class(&name.into())
        }
    }

    /// The class's name (the Locust class name it answers to).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Locust's class `weight` (used to split users over classes in standalone mode).
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// Locust's `fixed_count`: exactly this many users of the class (standalone mode).
    pub fn fixed_count(mut self, count: u32) -> Self {
        self.fixed_count = count;
        self
    }

    /// The pause after each task.
    pub fn wait_time(mut self, wait: crate::WaitTime) -> Self {
        self.wait_time = wait;
        self
    }

    /// Drives the class by arrivals (the open model) instead of by a loop: iterations start
    /// at this rate whatever the response times, its users being the pool that runs them.
    /// `rate` is a number per second (`"400"`, `"600/m"`) or stages (`"0, 30s:400, 5m:400"`),
    /// checked by [`Registry::validate`]; `--arrival-rate` and the master's `arrival_rate`
    /// option override it.
    pub fn arrival_rate(mut self, rate: impl Into<String>) -> Self {
        self.arrival_rate = Some(rate.into());
        self
    }

    /// The host its users test when neither the master nor `--host` gives one.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Tags that apply to all its tasks.
    pub fn tags<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tags: I) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Run the tasks in declaration order instead of at random (Locust's
    /// `SequentialTaskSet`).
    pub fn sequential(mut self, sequential: bool) -> Self {
        self.sequential = sequential;
        self
    }

    /// Tears each user down when it stops.
    pub fn on_stop(mut self, on_stop: StopFn) -> Self {
        self.on_stop = Some(on_stop);
        self
    }
}

/// A handler registered by `#[boomer::on]` (emitted by the macro; not for direct use).
#[doc(hidden)]
pub struct HandlerRegistration {
    pub event: EventKind,
    pub name: &'static str,
    pub run: HandlerFn,
    pub module: &'static str,
}

inventory::collect!(TaskRegistration);
inventory::collect!(UserClassRegistration);
inventory::collect!(HandlerRegistration);

/// Everything the worker runs: user classes, tasks and handlers (checked with
/// [`validate`](Registry::validate) before a run).
#[derive(Clone, Default)]
pub struct Registry {
    pub(crate) tasks: Vec<Task>,
    pub(crate) handlers: Vec<Handler>,
    pub(crate) classes: Vec<UserClass>,
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
    /// Two tasks of one class share a name (the task, then the class).
    #[error(
        "two tasks of class {1} are named {0:?}: give one of them \
         #[boomer::task(name = \"...\")]"
    )]
    DuplicateTask(String, String),
    /// A user class without tasks.
    #[error("user class {0} has no task: add a #[boomer::task] fn that takes `&mut {0}`")]
    ClassWithoutTask(String),
    /// A task of a class that is not registered.
    #[error(
        "task {0:?} takes the state of a type that is not a user class: add #[boomer::user] to it"
    )]
    UnknownClass(String),
    /// Two classes share a name.
    #[error("two user classes are named {0:?}: give one of them #[boomer::user(name = \"...\")]")]
    DuplicateClass(String),
    /// A class's `arrival_rate` does not parse (the class, the reason).
    #[error("user class {0}: arrival_rate {1}")]
    BadArrivalRate(String, String),
}

impl Registry {
    /// Every user class, task and handler registered with the macros in this binary, in an
    /// order that makes runs reproducible (inventory yields them in no particular order):
    /// classes and tasks by name, handlers by module, then name.
    pub fn from_macros() -> Self {
        let mut tasks: Vec<Task> = inventory::iter::<TaskRegistration>
            .into_iter()
            .map(|t| Task {
                name: t.name.to_string(),
                weight: t.weight,
                tags: t.tags.iter().map(|s| s.to_string()).collect(),
                run: t.run,
                class: t.class.map(|f| f()),
                order: (t.module.to_string(), t.line),
            })
            .collect();
        let mut classes: Vec<UserClass> = inventory::iter::<UserClassRegistration>
            .into_iter()
            .map(|c| UserClass {
                name: c.name.to_string(),
                weight: c.weight,
                fixed_count: c.fixed_count,
                wait_time: (c.wait_time)(),
                arrival_rate: c.arrival_rate.map(str::to_string),
                host: c.host.map(str::to_string),
                tags: c.tags.iter().map(|s| s.to_string()).collect(),
                sequential: c.sequential,
                on_start: Some(c.on_start),
                on_stop: c.on_stop,
                type_id: Some((c.type_id)()),
            })
            .collect();
        classes.sort_by(|a, b| a.name.cmp(&b.name));
        tasks.sort_by(|a, b| a.name.cmp(&b.name));
        let mut regs: Vec<&HandlerRegistration> =
            inventory::iter::<HandlerRegistration>.into_iter().collect();
        regs.sort_by_key(|h| (h.module, h.name));
        let handlers = regs
            .into_iter()
            .map(|h| Handler::new(h.event.clone(), format!("{}::{}", h.module, h.name), h.run))
            .collect();
        Registry {
            tasks,
            handlers,
            classes,
        }
    }

    /// Adds a user class.
    pub fn add_class(&mut self, class: UserClass) {
        self.classes.push(class);
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

    /// The name of the class whose state is `class` (the default class for `None`).
    pub(crate) fn class_name(&self, class: Option<TypeId>) -> &str {
        match class {
            None => DEFAULT_CLASS,
            Some(_) => self
                .classes
                .iter()
                .find(|c| c.type_id == class)
                .map_or("?", |c| c.name.as_str()),
        }
    }

    /// Checks that the worker has something to run and that it is consistent: at least one
    /// task, task names unique per class, class names unique, every task's class
    /// registered, and every class with a task.
    pub fn validate(&self) -> Result<(), RegistryError> {
        if self.tasks.is_empty() {
            return Err(RegistryError::NoTask);
        }
        // Unique per class, as Locust's: two classes may each have a task `browse`.
        let mut names: Vec<(Option<TypeId>, &str)> = self
            .tasks
            .iter()
            .map(|t| (t.class, t.name.as_str()))
            .collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            let (class, task) = w[0];
            return Err(RegistryError::DuplicateTask(
                task.to_string(),
                self.class_name(class).to_string(),
            ));
        }
        let mut class_names: Vec<&str> = self.classes.iter().map(|c| c.name.as_str()).collect();
        class_names.sort_unstable();
        if let Some(w) = class_names.windows(2).find(|w| w[0] == w[1]) {
            return Err(RegistryError::DuplicateClass(w[0].to_string()));
        }
        for task in &self.tasks {
            if task.class.is_some() && !self.classes.iter().any(|c| c.type_id == task.class) {
                return Err(RegistryError::UnknownClass(task.name.clone()));
            }
        }
        for class in &self.classes {
            if let Some(rate) = &class.arrival_rate {
                if let Err(e) = crate::users::arrival::Profile::parse(rate) {
                    return Err(RegistryError::BadArrivalRate(class.name.clone(), e));
                }
            }
            if !self.tasks.iter().any(|t| t.class == class.type_id) {
                return Err(RegistryError::ClassWithoutTask(class.name.clone()));
            }
        }
        Ok(())
    }
}

/// What a task may return: `()`, or `Result<(), E>` whose `Err` is recorded as a failure of
/// the task with the error's text.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a task's return type",
    label = "a task returns `()` or `Result<(), E>` where `E: Display`"
)]
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

#[cfg(test)]
pub(crate) mod fixtures {
    //! Registries for the unit tests of the modules that run them: a class of weight 3
    //! (`Shopper`), one of fixed count 2 (`Admin`), and tasks that do nothing.

    use super::{BoxFuture, Registry, Task, TaskFn, UserClass, UserState};
    use crate::Ctx;

    pub(crate) fn task(name: &str, weight: u32) -> Task {
        Task::new(name, weight, TaskFn::Sync(|_| Ok(())))
    }

    pub(crate) struct Shopper;
    pub(crate) struct Admin;

    pub(crate) fn start(_: &mut Ctx) -> BoxFuture<'_, Result<UserState, String>> {
        Box::pin(async { Ok(Box::new(()) as UserState) })
    }

    pub(crate) fn registry(default_tasks: bool) -> Registry {
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
}

#[cfg(test)]
mod tests {
    use super::fixtures::{registry, start, task, Admin};
    use super::*;

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

#[cfg(test)]
mod arrival_tests {
    use super::fixtures::{start, task, Shopper};
    use super::*;

    /// A class's `arrival_rate` is checked before a run, with the reason.
    #[test]
    fn a_bad_arrival_rate_is_refused_before_the_run() {
        let mut r = Registry::default();
        r.add_class(UserClass::new::<Shopper>("Shopper", start).arrival_rate("10, soon:5"));
        r.add_task(task("shop", 1).for_class::<Shopper>());
        let e = r.validate().expect_err("a bad stage");
        let RegistryError::BadArrivalRate(class, why) = &e else {
            panic!("{e:?}");
        };
        assert_eq!(class, "Shopper");
        assert!(
            e.to_string().contains("\"soon\" is not a duration"),
            "{e}: {why}"
        );
        r.classes[0].arrival_rate = Some("0, 30s:400".into());
        assert_eq!(r.validate(), Ok(()));
    }
}

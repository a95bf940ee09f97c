//! Paths emitted by the macros. Not public API: anything here may change in any release.

pub use ::boomer_core::inventory;
pub use ::boomer_core::registry::{
    BoxFuture, HandlerRegistration, IntoOutcome, Outcome, TaskFn, TaskRegistration,
};
pub use ::boomer_core::{Ctx, CustomMessage, Event, EventKind, SpawnEvent};
pub use ::std::boxed::Box;

/// Spawn-handler argument: the user count of the spawn (Go boomer's signature).
pub fn spawn_users(ev: &SpawnEvent) -> u32 {
    ev.users()
}

/// Spawn-handler argument: the master's spawn rate (Go boomer's signature).
pub fn spawn_rate(ev: &SpawnEvent) -> f64 {
    ev.spawn_rate()
}

pub use ::boomer_core::registry::{UserClassRegistration, UserState};
pub use ::boomer_core::WaitTime;
pub use ::std::any::{Any, TypeId};

/// The types `#[boomer::user]` made into user classes: what a task's `&mut T` and the
/// class hooks require.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a user class",
    label = "add #[boomer::user] to its definition"
)]
pub trait UserClass: Any + Send {}

/// What a class's `on_start` may return: the state, or `Result<state, E: Display>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not what an `on_start` of `{T}` returns",
    label = "an `on_start` returns `{T}` or `Result<{T}, E>` where `E: Display`"
)]
pub trait IntoUserState<T> {
    /// The state, or the error's text.
    fn into_user_state(self) -> Result<T, String>;
}

impl<T: UserClass> IntoUserState<T> for T {
    fn into_user_state(self) -> Result<T, String> {
        Ok(self)
    }
}

impl<T: UserClass, E: ::std::fmt::Display> IntoUserState<T> for Result<T, E> {
    fn into_user_state(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

/// What an `on_start` returned, boxed as the runtime keeps it.
pub fn start_state<T: UserClass>(built: impl IntoUserState<T>) -> Result<UserState, String> {
    built
        .into_user_state()
        .map(|state| Box::new(state) as UserState)
}

/// The `on_start` of a class without one: the state is `T::default()`.
pub fn default_start<T: UserClass + DefaultState>(
    _: &mut Ctx,
) -> BoxFuture<'_, Result<UserState, String>> {
    Box::pin(async { Ok(Box::new(T::default_state()) as UserState) })
}

/// `Default`, named so that a class without `on_start` or `Default` gets a message naming
/// both fixes.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no `on_start` and does not implement `Default`",
    label = "implement `Default` or give `on_start = ...`"
)]
pub trait DefaultState {
    /// `Default::default()`.
    fn default_state() -> Self;
}

impl<T: Default> DefaultState for T {
    fn default_state() -> Self {
        T::default()
    }
}

/// The state of a task's or hook's user as its class's type. Only a bug in boomer could
/// hand over another user's state: it is an error of the task, not a panic.
pub fn user_state<T: UserClass>(state: &mut (dyn Any + Send)) -> Result<&mut T, String> {
    state
        .downcast_mut::<T>()
        .ok_or_else(|| "internal: user state of the wrong type".to_string())
}

/// What a class's `on_start` returns: a future (it must be an `async fn`), checked on the
/// path the user wrote so that a plain `fn` gets a message that says so.
#[diagnostic::on_unimplemented(
    message = "`on_start` must be an `async fn`: this one returns `{Self}`, which is not a future",
    label = "make this function `async fn`",
    note = "a class's `on_start` is `async fn(&mut boomer::Ctx) -> State` (or `-> Result<State, E>`)"
)]
pub trait StartFuture: ::core::future::IntoFuture {}

impl<F: ::core::future::IntoFuture> StartFuture for F {}

/// `on_start`'s future, as it came (see [`StartFuture`]).
pub fn start_future<F: StartFuture>(future: F) -> F {
    future
}

/// What a class's `on_stop` returns: a future (it must be an `async fn`).
#[diagnostic::on_unimplemented(
    message = "`on_stop` must be an `async fn`: this one returns `{Self}`, which is not a future",
    label = "make this function `async fn`",
    note = "a class's `on_stop` is `async fn(&mut State, &mut boomer::Ctx)`"
)]
pub trait StopFuture: ::core::future::IntoFuture {}

impl<F: ::core::future::IntoFuture> StopFuture for F {}

/// `on_stop`'s future, as it came (see [`StopFuture`]).
pub fn stop_future<F: StopFuture>(future: F) -> F {
    future
}

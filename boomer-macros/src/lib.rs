//! The attributes of [boomer](https://docs.rs/boomer): `#[boomer::task]`, `#[boomer::on]`
//! and `#[boomer::user]`. Use them through the `boomer` crate, which re-exports them and
//! holds their documentation (so that its examples compile against it); the code they
//! generate refers to `::boomer::__private` only, or to `<path>::__private` with
//! `crate = "<path>"` (see `emit.rs`).
//!
//! Each attribute registers the fn or struct it annotates (with `inventory`) and leaves it
//! untouched, so it can still be used, tested and documented like any other. Every mistake
//! in one attribute and its item is reported in the same build, at the tokens that caused
//! it.

mod args;
mod emit;
mod errors;
mod on;
mod sig;
mod task;
mod user;

use proc_macro::TokenStream;

/// Registers a fn as a task: every simulated user runs its tasks again and again, picking
/// one at random by weight each time, as Locust's `@task` does. Documented, with examples,
/// on its re-export `boomer::task`.
#[proc_macro_attribute]
pub fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    task::expand(args.into(), item.into()).into()
}

/// Registers a fn as a handler of a worker event: it is called each time the event
/// happens. Documented, with examples, on its re-export `boomer::on`.
#[proc_macro_attribute]
pub fn on(args: TokenStream, item: TokenStream) -> TokenStream {
    on::expand(args.into(), item.into()).into()
}

/// Registers a struct as a user class, as a Locust `User` subclass: its value is the state
/// of one user, built by `on_start` and torn down by `on_stop`. Documented, with examples,
/// on its re-export `boomer::user`.
#[proc_macro_attribute]
pub fn user(args: TokenStream, item: TokenStream) -> TokenStream {
    user::expand(args.into(), item.into()).into()
}

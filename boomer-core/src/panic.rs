//! Panic capture: a panic in user code (a task, a hook, an event handler) is caught,
//! recorded, and sent to the master as an `exception` naming where it happened, instead of
//! taking a user or the control plane down. The hook notes each panic's site; the helpers
//! here turn a caught payload into the exception the master groups by site.

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context, Poll};

use crate::outbox;

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

pub(crate) fn set_panic_site(site: Option<String>) {
    let _ = PANIC_SITE.try_with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            *s = site;
        }
    });
}

pub(crate) fn take_panic_site() -> Option<String> {
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

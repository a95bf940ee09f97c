//! Messages user code sends to the master from any thread (custom messages, exceptions),
//! queued for the control plane.

use std::sync::RwLock;

use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;

use crate::events::Value;

/// A message for the master, queued by user code.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Custom { kind: String, data: Value },
    Exception { msg: String, traceback: String },
}

static OUTBOX: RwLock<Option<UnboundedSender<Outgoing>>> = RwLock::new(None);

pub(crate) fn install(tx: Option<UnboundedSender<Outgoing>>) {
    *OUTBOX.write().unwrap_or_else(|e| e.into_inner()) = tx;
}

fn push(msg: Outgoing) -> bool {
    let guard = OUTBOX.read().unwrap_or_else(|e| e.into_inner());
    match guard.as_ref() {
        Some(tx) => tx.send(msg).is_ok(),
        None => false,
    }
}

/// Sends a custom message of type `kind` to the master, where a locustfile handler
/// registered with `environment.runner.register_message(kind, handler)` receives `data`.
///
/// `data` may be anything serde can serialize: a string, a number, a struct or map, a list.
/// Without a running worker (e.g. under `--run-tasks`) the message is logged and dropped.
///
/// ```
/// boomer_core::send_message("acknowledge_users", "Thanks for the message");
/// ```
pub fn send_message(kind: &str, data: impl Serialize) {
    let data = match rmpv::ext::to_value(data) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!("custom message {kind:?} not sent: its data does not serialize: {e}");
            return;
        }
    };
    if !push(Outgoing::Custom {
        kind: kind.to_string(),
        data,
    }) {
        tracing::warn!("custom message {kind:?} dropped: no master connection is running");
    }
}

pub(crate) fn exception(msg: String, traceback: String) {
    tracing::error!("{msg}");
    push(Outgoing::Exception { msg, traceback });
}

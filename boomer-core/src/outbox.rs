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
/// `data` may be anything serde can serialize: a string, a number, a struct or map (a dict
/// on the master, keyed by field name), a list. Without a running worker (e.g. under
/// `--run-tasks`) the message is logged and dropped.
///
/// ```
/// boomer_core::send_message("acknowledge_users", "Thanks for the message");
/// #[derive(serde::Serialize)]
/// struct Progress { done: u32, of: u32 }
/// boomer_core::send_message("progress", Progress { done: 3, of: 10 }); // {"done": 3, "of": 10}
/// ```
pub fn send_message(kind: &str, data: impl Serialize) {
    let data = match to_value(&data) {
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

/// `data` as msgpack the master reads as Python does: a struct becomes a map keyed by its
/// field names (rmpv's own serializer would make it an array of the values).
fn to_value(data: &impl Serialize) -> Result<Value, String> {
    let bytes = rmp_serde::to_vec_named(data).map_err(|e| e.to_string())?;
    crate::protocol::read_value(&bytes)
        .map(|(value, _)| value)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structs_go_as_maps_keyed_by_field_name() {
        #[derive(Serialize)]
        struct Progress {
            done: u32,
            of: u32,
        }
        let v = to_value(&Progress { done: 3, of: 10 }).unwrap();
        let Value::Map(pairs) = v else {
            panic!("not a map: {v:?}")
        };
        let keys: Vec<_> = pairs
            .iter()
            .map(|(k, _)| k.as_str().unwrap_or(""))
            .collect();
        assert_eq!(keys, ["done", "of"]);
        assert_eq!(to_value(&"text").unwrap(), Value::from("text"));
        assert_eq!(
            to_value(&[1, 2]).unwrap(),
            Value::Array(vec![1.into(), 2.into()])
        );
    }
}

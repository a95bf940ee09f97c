//! Events a worker fires and the typed payloads handlers receive.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

pub use rmpv::Value;

/// Which events a handler listens to. Const-constructible (a message type is a
/// `Cow<'static, str>`), so `#[boomer::on]` registers a handler under its `EventKind`
/// directly.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// The master acknowledged the worker (`ack`), after each `client_ready`.
    Connected,
    /// The master sent a new target user count (each ramp-up step).
    Spawn,
    /// The master says the ramp-up is over (Locust 2.29 and later).
    SpawningComplete,
    /// The test was stopped: users are stopped.
    Stop,
    /// The worker is quitting.
    Quit,
    /// The first spawn of a test.
    TestStart,
    /// The test ended (stop or quit while running).
    TestStop,
    /// A custom message of this type from the master: `EventKind::Message("ping".into())`.
    Message(Cow<'static, str>),
}

/// An event, as handlers receive it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// See [`EventKind::Connected`].
    Connected,
    /// See [`EventKind::Spawn`].
    Spawn(SpawnEvent),
    /// See [`EventKind::SpawningComplete`]; carries the master's total user count.
    SpawningComplete(u64),
    /// See [`EventKind::Stop`].
    Stop,
    /// See [`EventKind::Quit`].
    Quit,
    /// See [`EventKind::TestStart`].
    TestStart,
    /// See [`EventKind::TestStop`].
    TestStop,
    /// See [`EventKind::Message`].
    Message(CustomMessage),
}

impl Event {
    /// The kind of this event.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Connected => EventKind::Connected,
            Event::Spawn(_) => EventKind::Spawn,
            Event::SpawningComplete(_) => EventKind::SpawningComplete,
            Event::Stop => EventKind::Stop,
            Event::Quit => EventKind::Quit,
            Event::TestStart => EventKind::TestStart,
            Event::TestStop => EventKind::TestStop,
            Event::Message(m) => EventKind::Message(Cow::Owned(m.kind.clone())),
        }
    }

    /// The spawn payload, if this is a spawn event.
    pub fn as_spawn(&self) -> Option<&SpawnEvent> {
        match self {
            Event::Spawn(s) => Some(s),
            _ => None,
        }
    }

    /// The custom message, if this is one.
    pub fn as_message(&self) -> Option<&CustomMessage> {
        match self {
            Event::Message(m) => Some(m),
            _ => None,
        }
    }

    /// The master's user count, if this is a spawning-complete event.
    pub fn as_spawning_complete(&self) -> Option<u64> {
        match self {
            Event::SpawningComplete(n) => Some(*n),
            _ => None,
        }
    }
}

/// What the master asked for in a `spawn` message.
#[derive(Clone, Debug, Default)]
pub struct SpawnEvent {
    pub(crate) user_classes_count: BTreeMap<String, u32>,
    pub(crate) host: Option<String>,
    pub(crate) spawn_rate: f64,
    pub(crate) stop_timeout: f64,
    pub(crate) options: BTreeMap<String, Value>,
}

impl SpawnEvent {
    /// The total number of users this worker must run.
    pub fn users(&self) -> u32 {
        // Saturating: a plain sum of u32s panics in debug builds on overflow.
        self.user_classes_count
            .values()
            .fold(0u32, |sum, &n| sum.saturating_add(n))
    }

    /// The spawn rate the master was started with (`-r`), or the user count when the master
    /// did not send its options.
    pub fn spawn_rate(&self) -> f64 {
        self.spawn_rate
    }

    /// The target user count per user class, as named in the master's locustfile.
    pub fn user_classes_count(&self) -> &BTreeMap<String, u32> {
        &self.user_classes_count
    }

    /// The Host field of the master (`--host` or the web UI), if set.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// How long running tasks may take to finish when the test stops, in seconds.
    pub fn stop_timeout(&self) -> f64 {
        self.stop_timeout
    }

    /// The master's command-line options (`parsed_options`), including custom ones.
    pub fn options(&self) -> &BTreeMap<String, Value> {
        &self.options
    }

    /// One master option, decoded into `T`.
    pub fn option<T: DeserializeOwned>(&self, name: &str) -> Option<T> {
        self.options
            .get(name)
            .and_then(|v| rmpv::ext::from_value(v.clone()).ok())
    }
}

/// How deep a payload [`CustomMessage::decode`] decodes (a Python master may send 1023).
pub const MAX_DECODE_DEPTH: usize = 256;

/// A message of a user-defined type, from the master (`runner.send_message(type, data)`).
#[derive(Clone, Debug)]
pub struct CustomMessage {
    pub(crate) kind: String,
    pub(crate) data: Value,
}

impl CustomMessage {
    /// A message of type `kind` carrying `data`.
    pub fn new(kind: impl Into<String>, data: Value) -> Self {
        CustomMessage {
            kind: kind.into(),
            data,
        }
    }

    /// The message type.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The payload as it arrived (any msgpack shape: str, map, list, bytes, ...).
    pub fn data(&self) -> &Value {
        &self.data
    }

    /// The payload decoded into `T`.
    ///
    /// ```
    /// use boomer_core::{CustomMessage, Value};
    /// let msg = CustomMessage::new("greet", Value::from("hello"));
    /// let text: String = msg.decode().unwrap();
    /// assert_eq!(text, "hello");
    /// ```
    ///
    /// A payload nested deeper than 256 levels is an error (read it with
    /// [`data`](Self::data) instead): serde recurses, at about 2 KB of stack per level in a
    /// debug build, and a handler's thread has 2 MiB.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, rmpv::ext::Error> {
        let depth = depth(&self.data);
        if depth > MAX_DECODE_DEPTH {
            return Err(rmpv::ext::Error::Syntax(format!(
                "nested {depth} levels deep, more than the {MAX_DECODE_DEPTH} decode takes \
                 (read the raw value with data())"
            )));
        }
        rmpv::ext::from_value(self.data.clone())
    }
}

/// How many containers deep `v` goes (a scalar is 0), counted without recursion: what
/// [`CustomMessage::decode`] and the protocol's reader bound (also at `protocol::depth`).
///
/// ```
/// use boomer_core::Value;
/// let v = Value::Map(vec![("a".into(), Value::Array(vec![1.into()]))]);
/// assert_eq!(boomer_core::protocol::depth(&v), 2);
/// assert_eq!(boomer_core::protocol::depth(&Value::Nil), 0);
/// ```
pub fn depth(v: &Value) -> usize {
    let mut deepest = 0;
    let mut todo = vec![(v, 0usize)];
    while let Some((v, d)) = todo.pop() {
        match v {
            Value::Array(items) => todo.extend(items.iter().map(|i| (i, d + 1))),
            Value::Map(pairs) => {
                todo.extend(pairs.iter().flat_map(|(k, v)| [(k, d + 1), (v, d + 1)]))
            }
            _ => continue,
        }
        deepest = deepest.max(d + 1);
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> Value {
        let mut v = Value::from("deep");
        for _ in 0..depth {
            v = Value::Map(vec![("level".into(), v)]);
        }
        v
    }

    /// A handler decoding the deepest payload a Python master sends, on a thread of a
    /// handler's stack size: an error, not a stack overflow (which aborts the process).
    #[test]
    fn decoding_a_payload_deeper_than_serde_can_take_is_an_error() {
        let result = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                let ok = CustomMessage::new("m", nested(MAX_DECODE_DEPTH));
                assert!(ok.decode::<serde_json::Value>().is_ok());
                let deep = CustomMessage::new("m", nested(1023));
                deep.decode::<serde_json::Value>()
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(result.unwrap_err().contains("nested 1023 levels deep"));
    }
}

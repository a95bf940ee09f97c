//! Locust's master/worker messages, their shapes on the wire and their msgpack codec.
//! Nothing else decides what bytes a message is made of: the statistics hand over a
//! [`Window`](crate::stats::Window), and `report.rs` turns it into Locust's report shapes;
//! the transport only frames what is encoded here.
//!
//! Every message is a msgpack array of exactly three elements, `[type, data, node_id]`,
//! strings as msgpack `str`, one ZeroMQ frame (see docs/protocol.md §2).

mod report;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::events::{CustomMessage, SpawnEvent, Value};

pub(crate) use report::{window_report, EntryReport, ErrorReport};

/// A decoded envelope, before its data is interpreted.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// The message type.
    pub kind: String,
    /// The payload.
    pub data: Value,
    /// The node id (for master → worker, the target worker).
    pub node_id: String,
}

/// Why bytes from the master were not a message we could use.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not msgpack at all.
    #[error("not msgpack: {0}")]
    Msgpack(String),
    /// Valid msgpack followed by more bytes.
    #[error("{0} bytes left over after the message")]
    Trailing(usize),
    /// Valid msgpack, nested deeper than any Python master can pack.
    #[error(
        "nested deeper than {MAX_DEPTH} levels, more than a Python master can send \
         (msgpack-python's nesting limit)"
    )]
    TooDeep,
    /// Valid msgpack with more values than one message may carry.
    #[error("more than {MAX_VALUES} values in one message (split such data into several)")]
    TooManyValues,
    /// Not a `[str, any, str]` array.
    #[error("not a [type, data, node_id] envelope: {0}")]
    Envelope(String),
    /// A known message type with a payload of the wrong shape.
    #[error("bad {kind} message: {reason}")]
    Field {
        /// The message type.
        kind: String,
        /// What was wrong.
        reason: String,
    },
}

/// The deepest nesting accepted, the envelope included: msgpack-python's `Packer` refuses
/// deeper data ("recursion limit exceeded", its default nest limit of 1024), so no Python
/// master sends more, and its unpacker takes no more either. The decoder below is iterative,
/// so this depth costs no stack.
pub const MAX_DEPTH: usize = 1024;

/// The most values (scalars and containers) one message may hold, so that a frame of small
/// values cannot multiply into gigabytes of [`Value`]s (each is 32 bytes, from 1 byte on the
/// wire). Locust's own messages hold a few hundred.
pub const MAX_VALUES: usize = 1 << 20;

/// The largest frame the worker takes from the master, in bytes: the ZeroMQ socket drops
/// the connection to a peer announcing more, before allocating it (libzmq's
/// `ZMQ_MAXMSGSIZE`). Locust's spawn messages are a few KiB; custom messages may be larger.
pub const MAX_FRAME: usize = 16 << 20;

/// The most user classes a spawn may name, and the longest class name (bytes): a master
/// has a few classes with short names; this bounds the maps keyed by them.
pub const MAX_CLASSES: usize = 1024;
/// See [`MAX_CLASSES`].
pub const MAX_CLASS_NAME: usize = 1024;

/// The most users one worker is asked to run (the sum over its classes): each user is a
/// task with its own state, and a master asking for more is wrong or hostile.
pub const MAX_USERS: u64 = 1_000_000;

/// The longest `stop_timeout` kept, in seconds (ten years): longer is the same wait in
/// practice, and a deadline of `now + stop_timeout` must not overflow.
pub const MAX_STOP_TIMEOUT: f64 = 10.0 * 365.0 * 86_400.0;

/// Decodes one frame into an envelope.
pub fn decode(bytes: &[u8]) -> Result<Envelope, DecodeError> {
    let (value, used) = read_value(bytes)?;
    if used < bytes.len() {
        return Err(DecodeError::Trailing(bytes.len() - used));
    }
    let Value::Array(items) = value else {
        return Err(DecodeError::Envelope(format!(
            "a {} instead of an array",
            kind_of(&value)
        )));
    };
    let [kind, data, node_id]: [Value; 3] = items.try_into().map_err(|v: Vec<Value>| {
        DecodeError::Envelope(format!("{} elements instead of 3", v.len()))
    })?;
    let kind = match kind {
        Value::String(s) if s.is_str() => s.into_str().unwrap_or_default(),
        other => {
            return Err(DecodeError::Envelope(format!(
                "type is a {}",
                kind_of(&other)
            )))
        }
    };
    let node_id = match node_id {
        Value::String(s) => s.into_str().unwrap_or_default(),
        Value::Nil => String::new(),
        other => {
            return Err(DecodeError::Envelope(format!(
                "node_id is a {}",
                kind_of(&other)
            )))
        }
    };
    Ok(Envelope {
        kind,
        data,
        node_id,
    })
}

/// Reads one msgpack value from the start of `bytes`; returns it and the bytes it took.
///
/// Iterative, with an explicit stack: nesting costs no thread stack (rmpv's recursive
/// reader needs about 5 KB of stack per level in a debug build, so 1024 levels would
/// overflow the control thread's 2 MiB). Nothing is allocated beyond what the input holds:
/// lengths are checked against the bytes left before anything is reserved.
///
/// ```
/// use boomer_core::protocol::{read_value, DecodeError};
/// use boomer_core::Value;
/// // [1, "a"] and a byte more.
/// let (v, used) = read_value(&[0x92, 0x01, 0xa1, b'a', 0xc0]).unwrap();
/// assert_eq!((v, used), (Value::Array(vec![1.into(), "a".into()]), 4));
/// // An array announcing 4 billion items in 5 bytes: refused, nothing reserved.
/// assert!(matches!(read_value(&[0xdd, 0xff, 0xff, 0xff, 0xff]), Err(DecodeError::Msgpack(_))));
/// ```
pub fn read_value(bytes: &[u8]) -> Result<(Value, usize), DecodeError> {
    let mut rd = Reader { buf: bytes, pos: 0 };
    let mut open: Vec<Open> = Vec::new();
    let mut values = 0usize;
    loop {
        values += 1;
        if values > MAX_VALUES {
            return Err(DecodeError::TooManyValues);
        }
        let mut value = match rd.item()? {
            Item::Value(v) => v,
            Item::Array(0) => Value::Array(Vec::new()),
            Item::Map(0) => Value::Map(Vec::new()),
            Item::Array(_) | Item::Map(_) if open.len() >= MAX_DEPTH => {
                return Err(DecodeError::TooDeep)
            }
            // Small initial capacities: a header may announce more than the input holds
            // at every level, and each value is 32 bytes.
            Item::Array(len) => {
                open.push(Open::Array(Vec::with_capacity(len.min(16)), len));
                continue;
            }
            Item::Map(len) => {
                open.push(Open::Map(Vec::with_capacity(len.min(16)), None, len));
                continue;
            }
        };
        // Close every container this value completes.
        loop {
            match open.last_mut() {
                None => return Ok((value, rd.pos)),
                Some(Open::Array(items, len)) => {
                    items.push(value);
                    if items.len() < *len {
                        break;
                    }
                    let Some(Open::Array(items, _)) = open.pop() else {
                        unreachable!("the top is an array")
                    };
                    value = Value::Array(items);
                }
                Some(Open::Map(pairs, key, len)) => {
                    let Some(k) = key.take() else {
                        *key = Some(value);
                        break;
                    };
                    pairs.push((k, value));
                    if pairs.len() < *len {
                        break;
                    }
                    let Some(Open::Map(pairs, ..)) = open.pop() else {
                        unreachable!("the top is a map")
                    };
                    value = Value::Map(pairs);
                }
            }
        }
    }
}

/// A container being filled: its items so far and how many it announced.
enum Open {
    Array(Vec<Value>, usize),
    Map(Vec<(Value, Value)>, Option<Value>, usize),
}

/// One msgpack item: a whole scalar, or the header of a container.
enum Item {
    Value(Value),
    Array(usize),
    Map(usize),
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let rest = &self.buf[self.pos..];
        if rest.len() < n {
            return Err(DecodeError::Msgpack(format!(
                "truncated: {n} bytes announced at byte {}, {} left",
                self.pos,
                rest.len()
            )));
        }
        self.pos += n;
        Ok(&rest[..n])
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A length field of `N` bytes.
    fn len<const N: usize>(&mut self) -> Result<usize, DecodeError> {
        let b = self.be::<N>()?;
        let n = b.iter().fold(0u64, |n, &b| n << 8 | u64::from(b));
        usize::try_from(n).map_err(|_| DecodeError::Msgpack(format!("a length of {n}")))
    }

    /// Checks that `n` items of at least `per` bytes each can still follow.
    fn items(&self, n: usize, per: usize) -> Result<usize, DecodeError> {
        let left = self.buf.len() - self.pos;
        if n.saturating_mul(per) > left {
            return Err(DecodeError::Msgpack(format!(
                "truncated: {n} items announced at byte {}, {left} bytes left",
                self.pos
            )));
        }
        Ok(n)
    }

    fn str(&mut self, len: usize) -> Result<Item, DecodeError> {
        let at = self.pos;
        let bytes = self.take(len)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Item::Value(Value::from(s))),
            // Python's str is always valid UTF-8 on the wire; its unpacker refuses this too.
            Err(e) => Err(DecodeError::Msgpack(format!(
                "a str at byte {at} that is not UTF-8 ({e})"
            ))),
        }
    }

    fn ext(&mut self, len: usize) -> Result<Item, DecodeError> {
        let [ty] = self.be::<1>()?;
        let data = self.take(len)?.to_vec();
        Ok(Item::Value(Value::Ext(ty as i8, data)))
    }

    fn item(&mut self) -> Result<Item, DecodeError> {
        let [marker] = self.be::<1>()?;
        let v = |v: Value| Ok(Item::Value(v));
        match marker {
            0x00..=0x7f => v(Value::from(marker)),
            0x80..=0x8f => Ok(Item::Map(self.items(usize::from(marker & 0x0f), 2)?)),
            0x90..=0x9f => Ok(Item::Array(self.items(usize::from(marker & 0x0f), 1)?)),
            0xa0..=0xbf => self.str(usize::from(marker & 0x1f)),
            0xc0 => v(Value::Nil),
            0xc2 => v(Value::Boolean(false)),
            0xc3 => v(Value::Boolean(true)),
            0xc4 => {
                let n = self.len::<1>()?;
                v(Value::Binary(self.take(n)?.to_vec()))
            }
            0xc5 => {
                let n = self.len::<2>()?;
                v(Value::Binary(self.take(n)?.to_vec()))
            }
            0xc6 => {
                let n = self.len::<4>()?;
                v(Value::Binary(self.take(n)?.to_vec()))
            }
            0xc7 => {
                let n = self.len::<1>()?;
                self.ext(n)
            }
            0xc8 => {
                let n = self.len::<2>()?;
                self.ext(n)
            }
            0xc9 => {
                let n = self.len::<4>()?;
                self.ext(n)
            }
            0xca => v(Value::F32(f32::from_be_bytes(self.be()?))),
            0xcb => v(Value::F64(f64::from_be_bytes(self.be()?))),
            0xcc => v(Value::from(u8::from_be_bytes(self.be()?))),
            0xcd => v(Value::from(u16::from_be_bytes(self.be()?))),
            0xce => v(Value::from(u32::from_be_bytes(self.be()?))),
            0xcf => v(Value::from(u64::from_be_bytes(self.be()?))),
            0xd0 => v(Value::from(i8::from_be_bytes(self.be()?))),
            0xd1 => v(Value::from(i16::from_be_bytes(self.be()?))),
            0xd2 => v(Value::from(i32::from_be_bytes(self.be()?))),
            0xd3 => v(Value::from(i64::from_be_bytes(self.be()?))),
            0xd4 => self.ext(1),
            0xd5 => self.ext(2),
            0xd6 => self.ext(4),
            0xd7 => self.ext(8),
            0xd8 => self.ext(16),
            0xd9 => {
                let n = self.len::<1>()?;
                self.str(n)
            }
            0xda => {
                let n = self.len::<2>()?;
                self.str(n)
            }
            0xdb => {
                let n = self.len::<4>()?;
                self.str(n)
            }
            0xdc => {
                let n = self.len::<2>()?;
                Ok(Item::Array(self.items(n, 1)?))
            }
            0xdd => {
                let n = self.len::<4>()?;
                Ok(Item::Array(self.items(n, 1)?))
            }
            0xde => {
                let n = self.len::<2>()?;
                Ok(Item::Map(self.items(n, 2)?))
            }
            0xdf => {
                let n = self.len::<4>()?;
                Ok(Item::Map(self.items(n, 2)?))
            }
            0xe0..=0xff => v(Value::from(marker as i8)),
            0xc1 => Err(DecodeError::Msgpack(format!(
                "0xc1 at byte {} (a marker msgpack never uses)",
                self.pos - 1
            ))),
        }
    }
}

/// Encodes `[kind, data, node_id]`.
pub fn encode<T: Serialize + ?Sized>(kind: &str, data: &T, node_id: &str) -> Vec<u8> {
    // Serializing our own plain structs into a Vec cannot fail; an empty frame would be
    // dropped by the transport, never sent.
    rmp_serde::to_vec_named(&(kind, data, node_id)).unwrap_or_default()
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "bool",
        Value::Integer(_) => "int",
        Value::F32(_) | Value::F64(_) => "float",
        Value::String(_) => "str",
        Value::Binary(_) => "bin",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Ext(..) => "ext",
    }
}

// ---------------------------------------------------------------------------------------
// Master → worker

/// A message from the master, interpreted.
#[derive(Clone, Debug)]
pub enum FromMaster {
    /// Reply to `client_ready`; `index` is missing before Locust 2.11.
    Ack {
        /// The worker index the master gave us.
        index: Option<i64>,
    },
    /// A new absolute target.
    Spawn {
        /// The master's `time.time()` when it sent this.
        timestamp: f64,
        /// The payload.
        event: SpawnEvent,
    },
    /// The ramp-up is complete (2.29+).
    SpawningComplete {
        /// The master's total user count.
        user_count: u64,
    },
    /// Stop the test.
    Stop,
    /// Quit.
    Quit,
    /// The reply to our heartbeat (2.19+).
    Heartbeat,
    /// Rebuild the socket.
    Reconnect,
    /// The web UI changed a user class (2.25+).
    UpdateUserClass(Value),
    /// Anything else: a custom message.
    Custom(CustomMessage),
}

impl FromMaster {
    /// Interprets an envelope; wrong field types are an error, never a panic.
    pub fn parse(env: Envelope) -> Result<FromMaster, DecodeError> {
        let field = |reason: String| DecodeError::Field {
            kind: env.kind.clone(),
            reason,
        };
        let core = matches!(
            env.kind.as_str(),
            "ack"
                | "spawn"
                | "spawning_complete"
                | "stop"
                | "quit"
                | "heartbeat"
                | "reconnect"
                | "update_user_class"
        );
        // Locust's own messages are at most 4 levels deep; only custom ones may go to
        // MAX_DEPTH. What the worker does with core data (log it, read options) recurses,
        // and must not meet 1024 levels on the control thread's stack.
        if core {
            let depth = depth(&env.data);
            if depth > MAX_CORE_DEPTH {
                return Err(field(format!(
                    "data nested {depth} levels deep (Locust's are at most 4)"
                )));
            }
        }
        Ok(match env.kind.as_str() {
            "ack" => FromMaster::Ack {
                index: map_get(&env.data, "index").and_then(Value::as_i64),
            },
            "spawn" => parse_spawn(&env.data).map_err(field)?,
            "spawning_complete" => FromMaster::SpawningComplete {
                user_count: map_get(&env.data, "user_count")
                    .and_then(as_f64)
                    .map_or(0, |n| n.max(0.0) as u64),
            },
            "stop" => FromMaster::Stop,
            "quit" => FromMaster::Quit,
            "heartbeat" => FromMaster::Heartbeat,
            "reconnect" => FromMaster::Reconnect,
            "update_user_class" => FromMaster::UpdateUserClass(env.data),
            _ => FromMaster::Custom(CustomMessage::new(env.kind, env.data)),
        })
    }
}

fn parse_spawn(data: &Value) -> Result<FromMaster, String> {
    if !data.is_map() {
        return Err(format!("data is a {}, not a map", kind_of(data)));
    }
    let timestamp = map_get(data, "timestamp")
        .and_then(as_f64)
        .ok_or("no numeric timestamp")?;
    // A NaN would make every later spawn look fresh (`t <= NaN` is false), an infinity
    // every later one stale; Python's `time.time()` is neither.
    if !timestamp.is_finite() {
        return Err(format!("timestamp {timestamp} is not a finite number"));
    }
    let user_classes_count = parse_counts(map_get(data, "user_classes_count"))?;
    let host = match map_get(data, "host") {
        Some(Value::String(s)) => s.as_str().map(str::to_string),
        None | Some(Value::Nil) => None,
        Some(_) => return Err("host is not a string".into()),
    };
    let stop_timeout = stop_timeout(map_get(data, "stop_timeout").and_then(as_f64));
    let mut options = BTreeMap::new();
    if let Some(Value::Map(pairs)) = map_get(data, "parsed_options") {
        for (k, v) in pairs {
            if let Some(k) = k.as_str() {
                options.insert(k.to_string(), v.clone());
            }
        }
    }
    // parse_counts bounds the sum by MAX_USERS, so it fits.
    let users: u64 = user_classes_count.values().map(|&n| u64::from(n)).sum();
    let spawn_rate = options
        .get("spawn_rate")
        .and_then(as_f64)
        .unwrap_or(users as f64);
    Ok(FromMaster::Spawn {
        timestamp,
        event: SpawnEvent {
            user_classes_count,
            host,
            spawn_rate,
            stop_timeout,
            options,
        },
    })
}

/// `user_classes_count`: whole counts, at most [`MAX_CLASSES`] names of at most
/// [`MAX_CLASS_NAME`] bytes, and at most [`MAX_USERS`] users in all (summed in u64: two
/// classes of 3e9 users must be an error, not an overflow).
fn parse_counts(counts: Option<&Value>) -> Result<BTreeMap<String, u32>, String> {
    let Some(Value::Map(pairs)) = counts else {
        return Err("no user_classes_count map".into());
    };
    if pairs.len() > MAX_CLASSES {
        return Err(format!(
            "{} user classes, more than the {MAX_CLASSES} a worker takes",
            pairs.len()
        ));
    }
    let mut out = BTreeMap::new();
    let mut total = 0u64;
    for (k, v) in pairs {
        let name = k.as_str().ok_or("a user class name is not a string")?;
        if name.len() > MAX_CLASS_NAME {
            return Err(format!(
                "a user class name of {} bytes, longer than {MAX_CLASS_NAME}",
                name.len()
            ));
        }
        let count = as_f64(v)
            .filter(|n| *n >= 0.0 && n.fract() == 0.0 && *n <= u32::MAX as f64)
            .ok_or_else(|| format!("user count of {name} is not a whole number"))?
            as u32;
        if let Some(old) = out.insert(name.to_string(), count) {
            total -= u64::from(old);
        }
        total += u64::from(count);
    }
    if total > MAX_USERS {
        return Err(format!(
            "{total} users in all, more than the {MAX_USERS} one worker runs"
        ));
    }
    Ok(out)
}

/// Python takes `stop_timeout or 0.0`; a NaN or negative one means no wait here, and a
/// huge one is kept at [`MAX_STOP_TIMEOUT`] so that no deadline overflows.
fn stop_timeout(secs: Option<f64>) -> f64 {
    match secs {
        Some(s) if s > 0.0 => s.min(MAX_STOP_TIMEOUT),
        _ => 0.0,
    }
}

/// How deep Locust's own messages (not custom ones) may be nested.
pub const MAX_CORE_DEPTH: usize = 16;

pub use crate::events::depth;

fn map_get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// A number that may arrive as int or float.
fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => i.as_f64(),
        Value::F32(f) => Some(*f as f64),
        Value::F64(f) => Some(*f),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Worker → master

/// `client_ready` data: `-1` skips the master's version check (Locust 2.0+).
pub const CLIENT_READY_VERSION: i64 = -1;

/// The worker states a master understands (anything else confuses `--expect-workers` and
/// `check_stopped`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerState {
    /// Connected, no users.
    Ready,
    /// Applying a spawn.
    Spawning,
    /// Users running.
    Running,
}

/// `heartbeat` data; all three keys are mandatory for the master's listener.
#[derive(Debug, Serialize)]
pub struct Heartbeat {
    /// The worker state.
    pub state: WorkerState,
    /// Process CPU in percent (may exceed 100).
    pub current_cpu_usage: f64,
    /// Resident memory in bytes.
    pub current_memory_usage: u64,
}

/// `stats` data: the five keys of a Python worker's report.
#[derive(Debug, Serialize)]
pub(crate) struct StatsReport {
    pub stats: Vec<EntryReport>,
    pub stats_total: EntryReport,
    pub errors: BTreeMap<String, ErrorReport>,
    pub user_classes_count: BTreeMap<String, u32>,
    pub user_count: u32,
}

/// `spawning_complete` data.
#[derive(Debug, Serialize)]
pub struct SpawningComplete {
    /// Running users per class.
    pub user_classes_count: BTreeMap<String, u32>,
    /// Their sum.
    pub user_count: u32,
}

/// `exception` data: both keys are mandatory.
#[derive(Debug, Serialize)]
pub struct Exception {
    /// The message.
    pub msg: String,
    /// Where it happened; the master groups exceptions by this text.
    pub traceback: String,
}

/// `logs` data (Locust 2.29+).
#[derive(Debug, Serialize)]
pub struct Logs {
    /// Our node id.
    pub worker_id: String,
    /// Every line so far.
    pub logs: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE: &str = "host_0123456789abcdef0123456789abcdef";

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/{name}.msgpack",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn parse(name: &str) -> FromMaster {
        let env = decode(&fixture(name)).expect("decodes");
        assert_eq!(env.node_id, NODE);
        FromMaster::parse(env).expect("parses")
    }

    #[test]
    fn decodes_every_master_message_python_packs() {
        assert!(matches!(parse("ack"), FromMaster::Ack { index: Some(3) }));
        assert!(matches!(parse("ack_nil"), FromMaster::Ack { index: None }));
        assert!(matches!(
            parse("spawning_complete"),
            FromMaster::SpawningComplete { user_count: 3 }
        ));
        assert!(matches!(parse("stop"), FromMaster::Stop));
        assert!(matches!(parse("quit"), FromMaster::Quit));
        assert!(matches!(parse("heartbeat"), FromMaster::Heartbeat));
        assert!(matches!(parse("reconnect"), FromMaster::Reconnect));
    }

    #[test]
    fn decodes_spawn_with_loose_numbers() {
        let FromMaster::Spawn { timestamp, event } = parse("spawn") else {
            panic!("not a spawn")
        };
        assert_eq!(timestamp, 1795888084.7012);
        assert_eq!(event.user_classes_count().get("RustUser"), Some(&3));
        assert_eq!(event.user_classes_count().get("Other"), Some(&0));
        assert_eq!(event.users(), 3);
        assert_eq!(event.host(), None);
        assert_eq!(event.spawn_rate(), 2.5);
        assert_eq!(event.option::<String>("my_arg").as_deref(), Some("x"));
        let FromMaster::Spawn { timestamp, event } = parse("spawn_int_fields") else {
            panic!("not a spawn")
        };
        assert_eq!(timestamp, 1795888090.0);
        assert_eq!(event.host(), Some("http://127.0.0.1:8080"));
        assert_eq!(event.stop_timeout(), 5.0);
        // No parsed_options (masters before 2.2): the rate falls back to the user count.
        assert_eq!(event.spawn_rate(), 7.0);
    }

    #[test]
    fn custom_payloads_of_any_shape_arrive_intact() {
        let FromMaster::Custom(m) = parse("custom_str") else {
            panic!()
        };
        assert_eq!(m.kind(), "user_defined");
        assert_eq!(m.decode::<String>().unwrap(), r#"{"worker": 0}"#);
        let FromMaster::Custom(m) = parse("custom_map") else {
            panic!()
        };
        #[derive(serde::Deserialize)]
        struct Body {
            worker: u32,
            tags: Vec<String>,
            nested: std::collections::HashMap<String, f64>,
        }
        let body: Body = m.decode().unwrap();
        assert_eq!(
            (body.worker, body.tags, body.nested["x"]),
            (1, vec!["a".into(), "b".into()], 1.5)
        );
        let FromMaster::Custom(m) = parse("custom_bin") else {
            panic!()
        };
        assert_eq!(m.data().as_slice(), Some(&[0u8, 1, 255][..]));
        let FromMaster::Custom(m) = parse("custom_list") else {
            panic!()
        };
        assert_eq!(
            m.data(),
            &Value::Array(vec![1.into(), "two".into(), Value::Nil, 3.5.into()])
        );
    }

    /// The `out_*` fixtures are what Locust 2.47's own `WorkerRunner` sent (heartbeat,
    /// spawning_complete, the user_error listener's exception), captured from its client by
    /// tests/fixtures/make_fixtures.py; client_ready is Locust's packing of our -1 (Python
    /// sends its version string).
    #[test]
    fn encodes_what_a_python_worker_sends_byte_for_byte() {
        assert_eq!(
            encode("client_ready", &CLIENT_READY_VERSION, NODE),
            fixture("out_client_ready")
        );
        let hb = Heartbeat {
            state: WorkerState::Running,
            current_cpu_usage: 1.5,
            current_memory_usage: 12345678,
        };
        assert_eq!(encode("heartbeat", &hb, NODE), fixture("out_heartbeat"));
        let done = SpawningComplete {
            user_classes_count: [("RustUser".to_string(), 3)].into(),
            user_count: 3,
        };
        assert_eq!(
            encode("spawning_complete", &done, NODE),
            fixture("out_spawning_complete")
        );
        // The traceback Python formatted for the fixture (make_fixtures.py prints it): the
        // same two fields, whatever text they carry.
        let exc = Exception {
            msg: "boom".into(),
            traceback:
                "  File \"task.rs\", line 4, in <module>\n  File \"task.rs\", line 2, in t\n".into(),
        };
        assert_eq!(encode("exception", &exc, NODE), fixture("out_exception"));
    }

    #[test]
    fn nil_data_is_msgpack_nil() {
        let bytes = encode("quit", &(), NODE);
        let env = decode(&bytes).unwrap();
        assert_eq!((env.kind.as_str(), &env.data), ("quit", &Value::Nil));
    }

    fn pack(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, v).unwrap();
        out
    }

    fn envelope(kind: &str, data: Value) -> Vec<u8> {
        pack(&Value::Array(vec![kind.into(), data, NODE.into()]))
    }

    fn map(pairs: Vec<(&str, Value)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    #[test]
    fn malformed_msgpack_is_an_error() {
        assert!(decode(&[0xc1]).is_err());
        assert!(matches!(
            decode(&[0x93, 0xa1]),
            Err(DecodeError::Msgpack(_))
        ));
        assert!(matches!(decode(&[]), Err(DecodeError::Msgpack(_))));
        // A 4-billion-element array header with no elements must not allocate or hang.
        assert!(decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]).is_err());
        let mut deep = vec![0x91u8; 100_000];
        deep.push(0xc0);
        assert!(decode(&deep).is_err());
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        let mut bytes = encode("quit", &(), NODE);
        bytes.push(0xc0);
        assert!(matches!(decode(&bytes), Err(DecodeError::Trailing(1))));
    }

    #[test]
    fn wrong_envelopes_are_errors() {
        let two = pack(&Value::Array(vec!["quit".into(), Value::Nil]));
        assert!(matches!(decode(&two), Err(DecodeError::Envelope(_))));
        let four = pack(&Value::Array(vec![
            "quit".into(),
            Value::Nil,
            NODE.into(),
            Value::Nil,
        ]));
        assert!(matches!(decode(&four), Err(DecodeError::Envelope(_))));
        let not_array = pack(&map(vec![("type", "quit".into())]));
        assert!(matches!(decode(&not_array), Err(DecodeError::Envelope(_))));
        let bin_type = pack(&Value::Array(vec![
            Value::Binary(b"quit".to_vec()),
            Value::Nil,
            NODE.into(),
        ]));
        assert!(matches!(decode(&bin_type), Err(DecodeError::Envelope(_))));
        let int_node = pack(&Value::Array(vec!["quit".into(), Value::Nil, 5.into()]));
        assert!(matches!(decode(&int_node), Err(DecodeError::Envelope(_))));
    }

    fn parse_bytes(bytes: &[u8]) -> Result<FromMaster, DecodeError> {
        decode(bytes).and_then(FromMaster::parse)
    }

    #[test]
    fn wrong_field_types_are_errors() {
        let good_counts = || map(vec![("RustUser", 1.into())]);
        let cases = vec![
            Value::Nil,
            Value::from("spawn"),
            map(vec![("user_classes_count", good_counts())]),
            map(vec![
                ("timestamp", "soon".into()),
                ("user_classes_count", good_counts()),
            ]),
            map(vec![("timestamp", 1.0.into())]),
            map(vec![
                ("timestamp", 1.0.into()),
                ("user_classes_count", Value::Array(vec![])),
            ]),
            map(vec![
                ("timestamp", 1.0.into()),
                ("user_classes_count", map(vec![("A", (-1).into())])),
            ]),
            map(vec![
                ("timestamp", 1.0.into()),
                ("user_classes_count", map(vec![("A", 1.5.into())])),
            ]),
            map(vec![
                ("timestamp", 1.0.into()),
                ("user_classes_count", map(vec![("A", "3".into())])),
            ]),
            map(vec![
                ("timestamp", 1.0.into()),
                ("user_classes_count", good_counts()),
                ("host", 5.into()),
            ]),
            Value::Map(vec![(1.into(), 2.into())]),
        ];
        for data in cases {
            let result = parse_bytes(&envelope("spawn", data.clone()));
            assert!(
                matches!(result, Err(DecodeError::Field { .. })),
                "{data} gave {result:?}"
            );
        }
        let odd = Value::Map(vec![
            ("timestamp".into(), 1.0.into()),
            (
                "user_classes_count".into(),
                Value::Map(vec![(7.into(), 1.into())]),
            ),
        ]);
        assert!(parse_bytes(&envelope("spawn", odd)).is_err());
    }

    #[test]
    fn lenient_where_locust_is() {
        // ack with a non-int index, spawning_complete without a count, unknown types.
        assert!(matches!(
            parse_bytes(&envelope("ack", map(vec![("index", "x".into())]))),
            Ok(FromMaster::Ack { index: None })
        ));
        assert!(matches!(
            parse_bytes(&envelope("spawning_complete", Value::Nil)),
            Ok(FromMaster::SpawningComplete { user_count: 0 })
        ));
        assert!(matches!(
            parse_bytes(&envelope(
                "update_user_class",
                map(vec![("user_class_name", "A".into())])
            )),
            Ok(FromMaster::UpdateUserClass(_))
        ));
        assert!(matches!(
            parse_bytes(&envelope("whatever", 1.into())),
            Ok(FromMaster::Custom(_))
        ));
        // Extra keys and a nil host / stop_timeout / parsed_options are fine.
        let spawn = map(vec![
            ("timestamp", 2.into()),
            ("user_classes_count", map(vec![("A", 2.into())])),
            ("host", Value::Nil),
            ("stop_timeout", Value::Nil),
            ("parsed_options", Value::Nil),
            ("extra", "ignored".into()),
        ]);
        assert!(matches!(
            parse_bytes(&envelope("spawn", spawn)),
            Ok(FromMaster::Spawn { .. })
        ));
    }

    /// `depth` nested one-element arrays around a 0, as the data of a custom message.
    fn nested(depth: usize) -> Vec<u8> {
        let mut b = vec![0x93, 0xac];
        b.extend(b"user_defined");
        b.extend(std::iter::repeat_n(0x91, depth));
        b.push(0x00);
        b.push(0xd9);
        b.push(NODE.len() as u8);
        b.extend(NODE.as_bytes());
        b
    }

    fn depth_of(v: &Value) -> usize {
        let mut depth = 0;
        let mut v = v;
        while let Value::Array(items) = v {
            depth += 1;
            v = &items[0];
        }
        depth
    }

    #[test]
    fn takes_the_deepest_message_a_python_master_packs() {
        // msgpack-python packs `("user_defined", data, node_id)` with data nested up to 1023
        // lists (its nest limit, 1024, counts the envelope); 30 levels used to be refused
        // as "depth limit exceeded". Decoded on a thread with the control thread's stack.
        let FromMaster::Custom(m) = parse("custom_nested_30") else {
            panic!("not a custom message")
        };
        assert_eq!(depth(m.data()), 30);
        let env = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                assert!(decode(&nested(30)).is_ok());
                decode(&nested(MAX_DEPTH - 1)).map(|e| depth_of(&e.data))
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(env.unwrap(), MAX_DEPTH - 1);
        let err = decode(&nested(MAX_DEPTH)).unwrap_err();
        assert!(matches!(err, DecodeError::TooDeep), "{err}");
        assert!(
            err.to_string()
                .contains("more than a Python master can send"),
            "{err}"
        );
    }

    #[test]
    fn decodes_what_rmpv_decodes() {
        // Every marker, as rmpv (the reference reader) sees it.
        let samples = [
            Value::Nil,
            true.into(),
            false.into(),
            0.into(),
            127.into(),
            (-1).into(),
            (-32).into(),
            (-33).into(),
            200.into(),
            70_000.into(),
            u64::MAX.into(),
            i64::MIN.into(),
            (-200).into(),
            (-40_000).into(),
            Value::F32(1.5),
            Value::F64(-2.25),
            "".into(),
            "x".repeat(31).into(),
            "y".repeat(200).into(),
            "z".repeat(70_000).into(),
            Value::Binary(vec![1, 2, 3]),
            Value::Binary(vec![7; 300]),
            Value::Binary(vec![7; 70_000]),
            Value::Ext(-1, vec![0; 4]),
            Value::Ext(5, vec![1]),
            Value::Ext(5, vec![1; 2]),
            Value::Ext(5, vec![1; 8]),
            Value::Ext(5, vec![1; 16]),
            Value::Ext(5, vec![1; 3]),
            Value::Ext(5, vec![1; 300]),
            Value::Ext(5, vec![1; 70_000]),
            Value::Array((0..20).map(Value::from).collect()),
            Value::Array((0..70_000).map(Value::from).collect()),
            Value::Map((0..20).map(|i| (i.into(), "v".into())).collect()),
            Value::Map((0..70_000).map(|i| (i.into(), Value::Nil)).collect()),
            Value::Map(vec![(Value::Array(vec![]), Value::Map(vec![]))]),
        ];
        for v in samples {
            let bytes = pack(&v);
            let want = rmpv::decode::read_value(&mut &bytes[..]).unwrap();
            let (got, used) = read_value(&bytes).unwrap();
            assert_eq!((&got, used), (&want, bytes.len()));
            // Every strict prefix is truncated, never a panic.
            for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
                if cut < bytes.len() {
                    assert!(read_value(&bytes[..cut]).is_err(), "{v} cut at {cut}");
                }
            }
        }
    }

    #[test]
    fn a_frame_of_tiny_values_cannot_multiply_into_gigabytes() {
        // An array of MAX_VALUES nils is 1 MiB on the wire and 32 MiB of Values: refused.
        let mut b = vec![0xdd];
        b.extend(((MAX_VALUES + 1) as u32).to_be_bytes());
        b.extend(std::iter::repeat_n(0xc0, MAX_VALUES + 1));
        assert!(matches!(read_value(&b), Err(DecodeError::TooManyValues)));
        // Headers announcing more than the bytes left are refused before any allocation.
        let mut b = vec![0x91; 1000];
        b.extend([0xdd, 0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(read_value(&b), Err(DecodeError::Msgpack(_))));
        assert!(matches!(
            read_value(&[0xdb, 0xff, 0xff, 0xff, 0xff]),
            Err(DecodeError::Msgpack(_))
        ));
        assert!(matches!(
            read_value(&[0xa2, 0xff, 0xfe]),
            Err(DecodeError::Msgpack(_))
        ));
    }

    fn spawn_with(counts: Value, extra: Vec<(&str, Value)>) -> Result<FromMaster, DecodeError> {
        let mut pairs = vec![("timestamp", 1.0.into()), ("user_classes_count", counts)];
        pairs.extend(extra);
        parse_bytes(&envelope("spawn", map(pairs)))
    }

    #[test]
    fn user_counts_are_bounded_and_their_sum_never_overflows() {
        // Two classes of 3e9 users: the u32 sum used to panic in debug builds.
        let big = map(vec![
            ("A", 3_000_000_000u64.into()),
            ("B", 3_000_000_000u64.into()),
        ]);
        let err = spawn_with(big, vec![]).unwrap_err();
        assert!(err.to_string().contains("6000000000 users in all"), "{err}");
        let over = map(vec![("A", (MAX_USERS + 1).into())]);
        assert!(spawn_with(over, vec![]).is_err());
        let at = map(vec![
            ("A", (MAX_USERS / 2).into()),
            ("B", (MAX_USERS / 2).into()),
        ]);
        let Ok(FromMaster::Spawn { event, .. }) = spawn_with(at, vec![]) else {
            panic!("MAX_USERS in all is taken")
        };
        assert_eq!(u64::from(event.users()), MAX_USERS);
        assert_eq!(event.spawn_rate(), MAX_USERS as f64);
    }

    #[test]
    fn class_names_the_master_invents_are_bounded() {
        let many = Value::Map(
            (0..=MAX_CLASSES)
                .map(|i| (format!("C{i}").into(), 0.into()))
                .collect(),
        );
        assert!(spawn_with(many, vec![]).is_err());
        let long = Value::Map(vec![("x".repeat(MAX_CLASS_NAME + 1).into(), 1.into())]);
        assert!(spawn_with(long, vec![]).is_err());
        let fine = Value::Map(
            (0..MAX_CLASSES)
                .map(|i| (format!("C{i}").into(), 0.into()))
                .collect(),
        );
        assert!(spawn_with(fine, vec![]).is_ok());
    }

    #[test]
    fn nan_or_infinite_timestamps_are_refused() {
        for t in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let data = map(vec![
                ("timestamp", t.into()),
                ("user_classes_count", map(vec![("A", 1.into())])),
            ]);
            let result = parse_bytes(&envelope("spawn", data));
            assert!(
                matches!(result, Err(DecodeError::Field { .. })),
                "{t}: {result:?}"
            );
        }
    }

    #[test]
    fn stop_timeouts_are_finite_and_bounded() {
        let cases = [
            (Value::from(f64::NAN), 0.0),
            (Value::from(f64::INFINITY), MAX_STOP_TIMEOUT),
            (Value::from(1e300), MAX_STOP_TIMEOUT),
            (Value::from(u64::MAX), MAX_STOP_TIMEOUT),
            (Value::from(f64::NEG_INFINITY), 0.0),
            (Value::from(-5), 0.0),
            (Value::from(2.5), 2.5),
            (Value::Nil, 0.0),
        ];
        for (given, want) in cases {
            let counts = map(vec![("A", 1.into())]);
            let Ok(FromMaster::Spawn { event, .. }) =
                spawn_with(counts, vec![("stop_timeout", given.clone())])
            else {
                panic!("{given}")
            };
            assert_eq!(event.stop_timeout(), want, "{given}");
            // What the worker does with it must not panic either.
            let d = std::time::Duration::from_secs_f64(event.stop_timeout());
            let _ = std::time::Instant::now() + d;
        }
    }

    #[test]
    fn core_messages_nested_deeper_than_locust_are_refused() {
        // The worker logs update_user_class data with Display, which needs about 2 KB of
        // stack per level in a debug build: 1023 levels would overflow the control thread.
        let mut deep = Value::from(0);
        for _ in 0..(MAX_DEPTH - 1) {
            deep = Value::Array(vec![deep]);
        }
        assert_eq!(depth(&deep), MAX_DEPTH - 1);
        let bytes = envelope("update_user_class", deep.clone());
        let result = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || parse_bytes(&bytes).map(|_| ()).map_err(|e| e.to_string()))
            .unwrap()
            .join()
            .unwrap();
        assert!(result.unwrap_err().contains("nested 1023 levels deep"));
        for kind in ["spawn", "ack", "stop", "quit", "heartbeat", "reconnect"] {
            assert!(
                parse_bytes(&envelope(kind, deep.clone())).is_err(),
                "{kind}"
            );
        }
        // Custom messages take all of it.
        assert!(matches!(
            parse_bytes(&envelope("user_defined", deep.clone())),
            Ok(FromMaster::Custom(_))
        ));
        // A flat update_user_class, as the web UI sends it, is fine.
        let ui = map(vec![
            ("user_class_name", "RustUser".into()),
            ("weight", 2.into()),
            ("tasks", Value::Array(vec!["a".into()])),
        ]);
        assert_eq!(depth(&ui), 2);
        assert!(parse_bytes(&envelope("update_user_class", ui)).is_ok());
        // Unwind the deep value by hand: dropping it recursively is fine, but cheap to avoid.
        while let Value::Array(mut items) = deep {
            deep = items.pop().unwrap();
        }
    }
}

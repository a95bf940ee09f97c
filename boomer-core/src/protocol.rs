//! Locust's master/worker messages and their msgpack codec. Nothing else touches bytes.
//!
//! Every message is a msgpack array of exactly three elements, `[type, data, node_id]`,
//! strings as msgpack `str`, one ZeroMQ frame (see `locust-protocol.md` §2).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::events::{CustomMessage, SpawnEvent, Value};
use crate::stats::{EntryReport, ErrorReport};

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
    Msgpack(#[from] rmpv::decode::Error),
    /// Valid msgpack followed by more bytes.
    #[error("{0} bytes left over after the message")]
    Trailing(usize),
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

/// Nesting deeper than this is refused: Locust's own messages are 4 levels deep, and a
/// recursive decoder must not let a hostile frame exhaust the control thread's stack.
const MAX_DEPTH: usize = 64;

/// Decodes one frame into an envelope.
pub fn decode(bytes: &[u8]) -> Result<Envelope, DecodeError> {
    let mut rd = bytes;
    let value = rmpv::decode::read_value_with_max_depth(&mut rd, MAX_DEPTH)?;
    if !rd.is_empty() {
        return Err(DecodeError::Trailing(rd.len()));
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
    let mut user_classes_count = BTreeMap::new();
    match map_get(data, "user_classes_count") {
        Some(Value::Map(pairs)) => {
            for (k, v) in pairs {
                let name = k.as_str().ok_or("a user class name is not a string")?;
                let count = as_f64(v)
                    .filter(|n| *n >= 0.0 && n.fract() == 0.0 && *n <= u32::MAX as f64)
                    .ok_or_else(|| format!("user count of {name} is not a whole number"))?;
                user_classes_count.insert(name.to_string(), count as u32);
            }
        }
        _ => return Err("no user_classes_count map".into()),
    }
    let host = match map_get(data, "host") {
        Some(Value::String(s)) => s.as_str().map(str::to_string),
        None | Some(Value::Nil) => None,
        Some(_) => return Err("host is not a string".into()),
    };
    let stop_timeout = map_get(data, "stop_timeout")
        .and_then(as_f64)
        .unwrap_or(0.0);
    let mut options = BTreeMap::new();
    if let Some(Value::Map(pairs)) = map_get(data, "parsed_options") {
        for (k, v) in pairs {
            if let Some(k) = k.as_str() {
                options.insert(k.to_string(), v.clone());
            }
        }
    }
    let users: u32 = user_classes_count.values().sum();
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
        let exc = Exception {
            msg: "boom".into(),
            traceback: "panic in task t:\nboom".into(),
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
}

//! A randomized test of everything a master can send, on the fake master
//! (`transport::fake`): thousands of random frames (garbage bytes, random msgpack, every
//! message type with random payloads, now and then a `reconnect`) reach a real worker,
//! which must neither panic nor hang: afterwards it still takes a spawn and answers it, and
//! quits when told. (The ZMTP framing under these frames has its own fuzz target,
//! `fuzz/fuzz_targets/zmtp.rs`, and `tests/frame_limit.rs`.)

use std::time::Duration;

use rmpv::Value;

use super::tests::{against, num, registered, spawn_message};
use super::Exit;
use crate::transport::fake::Accepted;

const FRAMES: usize = 3_000;

/// About one typed frame in a hundred is a `reconnect`: the worker then drops its
/// connection and opens a new one, which the test accepts and goes on with.
const RECONNECT_PERCENT: u8 = 1;

fn pack(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, v).expect("encode");
    out
}

/// A random msgpack value, at most `depth` deep; numbers stay small so that random spawns
/// ask for a few users, not billions.
fn value(rng: &mut fastrand::Rng, depth: u32) -> Value {
    const WORDS: [&str; 6] = [
        "",
        "RustUser",
        "x",
        "timestamp",
        "user_classes_count",
        "host",
    ];
    const KEYS: [&str; 7] = [
        "timestamp",
        "user_classes_count",
        "host",
        "stop_timeout",
        "parsed_options",
        "index",
        "user_count",
    ];
    match rng.u8(0..if depth == 0 { 7 } else { 10 }) {
        0 => Value::Nil,
        1 => Value::Boolean(rng.bool()),
        2 => Value::from(rng.i64(-5..50)),
        3 => Value::from(rng.f64() * 1e9),
        4 => Value::from(WORDS[rng.usize(0..WORDS.len())]),
        5 => Value::Binary((0..rng.usize(0..8)).map(|_| rng.u8(..)).collect()),
        6 => Value::from(rng.u64(0..40)),
        7 => Value::Array(
            (0..rng.usize(0..4))
                .map(|_| value(rng, depth - 1))
                .collect(),
        ),
        8 => Value::Ext(rng.i8(..), vec![rng.u8(..)]),
        _ => Value::Map(
            (0..rng.usize(0..5))
                .map(|_| {
                    let k = if rng.bool() {
                        Value::from(KEYS[rng.usize(0..KEYS.len())])
                    } else {
                        value(rng, 0)
                    };
                    (k, value(rng, depth - 1))
                })
                .collect(),
        ),
    }
}

enum Frame {
    Bytes(Vec<u8>),
    /// A well-formed `reconnect` for this worker.
    Reconnect(Vec<u8>),
}

fn random_frame(rng: &mut fastrand::Rng, node: &str) -> Frame {
    if rng.u8(0..2) == 0 && rng.u8(0..100) < RECONNECT_PERCENT {
        let data = value(rng, 2);
        return Frame::Reconnect(pack(&Value::Array(vec![
            Value::from("reconnect"),
            data,
            Value::from(node),
        ])));
    }
    Frame::Bytes(random_bytes(rng, node))
}

fn random_bytes(rng: &mut fastrand::Rng, node: &str) -> Vec<u8> {
    // Every type but `quit` (which ends the worker) and `reconnect` (random_frame sends
    // it, and accepts the worker's new connection).
    const KINDS: [&str; 8] = [
        "ack",
        "spawn",
        "spawning_complete",
        "stop",
        "heartbeat",
        "update_user_class",
        "custom",
        "",
    ];
    match rng.u8(0..4) {
        0 => (0..rng.usize(0..64)).map(|_| rng.u8(..)).collect(),
        1 => pack(&value(rng, 3)),
        _ => {
            let kind = KINDS[rng.usize(0..KINDS.len())];
            let mut data = value(rng, 3);
            if kind == "spawn" && rng.bool() {
                // Often a well-formed spawn with random counts.
                data = spawn_message(rng.u64(0..20), rng.f64() * 1e9);
            }
            let node = if rng.u8(0..10) == 0 {
                value(rng, 0)
            } else {
                Value::from(node)
            };
            pack(&Value::Array(vec![Value::from(kind), data, node]))
        }
    }
}

/// Whether the worker answers `spawn` (timestamped after every random one) with
/// `spawning_complete` for its 3 users; it may still be working through the random frames,
/// so the spawn goes again until it does.
async fn answers_a_spawn(conn: &mut Accepted) {
    let check = async {
        loop {
            conn.send("spawn", spawn_message(3, 1e12));
            let answer = tokio::time::timeout(Duration::from_secs(2), async {
                loop {
                    let (data, _) = conn.expect("spawning_complete").await;
                    if num(&data, "user_count") == Some(3) {
                        return;
                    }
                }
            })
            .await;
            if answer.is_ok() {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), check)
        .await
        .expect("the worker answers a spawn after the random frames");
}

#[test]
fn random_master_messages_never_break_the_worker() {
    let exit = against(&[], async |mut master| {
        let mut conn = registered(&mut master).await;
        let node = conn.node_id.clone();
        let mut rng = fastrand::Rng::with_seed(0xb00b);
        let mut reconnects = 0;
        for _ in 0..FRAMES {
            match random_frame(&mut rng, &node) {
                Frame::Bytes(frame) => conn.send_raw(frame),
                Frame::Reconnect(frame) => {
                    conn.send_raw(frame);
                    // The same identity on the new connection, and no new registration
                    // needed (the users keep running, as Python's reset_connection).
                    conn = master.accept().await;
                    assert_eq!(conn.node_id, node, "the same identity");
                    reconnects += 1;
                }
            }
        }
        assert!(reconnects >= 5, "only {reconnects} reconnects");
        answers_a_spawn(&mut conn).await;
        conn.send("quit", Value::Nil);
        conn.expect("quit").await;
    });
    assert_eq!(exit, Exit::Quit);
}

//! A randomized smoke test of everything a master can send: a ROUTER plays the master and
//! sends thousands of random frames (garbage bytes, random msgpack, every message type with
//! random payloads) to a real worker, which must neither panic nor hang: afterwards it still
//! takes a spawn and answers it, and quits when told.

use std::time::Duration;

use boomer_core::{Boomer, Exit, Task, TaskFn, Value};
use futures_util::StreamExt;
use zeromq::prelude::*;
use zeromq::{RouterSocket, ZmqMessage};

const FRAMES: usize = 3_000;

fn pack(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, v).expect("encode");
    out
}

/// A random msgpack value, at most `depth` deep; numbers stay small so that random spawns
/// ask for a few users, not billions.
fn value(rng: &mut fastrand::Rng, depth: u32) -> Value {
    match rng.u8(0..if depth == 0 { 7 } else { 10 }) {
        0 => Value::Nil,
        1 => Value::Boolean(rng.bool()),
        2 => Value::from(rng.i64(-5..50)),
        3 => Value::from(rng.f64() * 1e9),
        4 => Value::from(
            [
                "",
                "RustUser",
                "x",
                "timestamp",
                "user_classes_count",
                "host",
            ][rng.usize(0..6)],
        ),
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
                    let key = [
                        "timestamp",
                        "user_classes_count",
                        "host",
                        "stop_timeout",
                        "parsed_options",
                        "index",
                        "user_count",
                    ];
                    let k = if rng.bool() {
                        Value::from(key[rng.usize(0..key.len())])
                    } else {
                        value(rng, 0)
                    };
                    (k, value(rng, depth - 1))
                })
                .collect(),
        ),
    }
}

/// About one typed frame in a hundred is a `reconnect`: the worker then drops its
/// connection and opens a new one, and the sender waits for it (see `Frame::Reconnect`).
const RECONNECT_PERCENT: u8 = 1;

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
            // Every type but `quit` (which ends the worker) and `reconnect` (random_frame
            // sends it, and waits for the worker to come back).
            let kind = KINDS[rng.usize(0..KINDS.len())];
            let mut data = value(rng, 3);
            if kind == "spawn" && rng.bool() {
                // Often a well-formed spawn with random counts.
                data = Value::Map(vec![
                    ("timestamp".into(), Value::from(rng.f64() * 1e9)),
                    (
                        "user_classes_count".into(),
                        Value::Map(vec![(Value::from("RustUser"), Value::from(rng.u64(0..20)))]),
                    ),
                    ("host".into(), Value::Nil),
                    ("stop_timeout".into(), Value::from(0.0)),
                ]);
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

/// Sends one frame to the worker. Like a libzmq ROUTER, drops it when the worker is gone
/// (while it reconnects) or its queue is full.
async fn send(router: &mut RouterSocket, id: &bytes::Bytes, frame: Vec<u8>) -> bool {
    let msg =
        ZmqMessage::try_from(vec![id.clone(), bytes::Bytes::from(frame)]).expect("two frames");
    if router.send(msg).await.is_err() {
        tokio::time::sleep(Duration::from_millis(5)).await;
        return false;
    }
    true
}

/// The next message of type `kind` from the worker (other types are skipped).
async fn expect(router: &mut RouterSocket, kind: &str) -> (bytes::Bytes, Value) {
    loop {
        let msg = router.recv().await.expect("router recv");
        let id = msg.get(0).expect("identity").clone();
        let payload = msg.get(1).expect("payload").to_vec();
        let env = boomer_core::protocol::decode(&payload).expect("the worker sends valid messages");
        if env.kind == kind {
            return (id, env.data);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_master_messages_never_break_the_worker() {
    let mut router = RouterSocket::new();
    let mut monitor = router.monitor();
    let endpoint = router.bind("tcp://127.0.0.1:0").await.expect("bind");
    let port = match endpoint {
        zeromq::Endpoint::Tcp(_, port) => port,
        other => panic!("unexpected endpoint {other:?}"),
    };
    let builder = Boomer::builder()
        .task(Task::new("noop", 1, TaskFn::Sync(|_| Ok(()))))
        .args(["worker", "--master-port", &port.to_string()])
        .expect("options");
    let worker = tokio::spawn(builder.run());

    let (id, _) = expect(&mut router, "client_ready").await;
    let node = String::from_utf8(id.to_vec()).expect("utf-8 identity");
    let ack =
        boomer_core::protocol::encode("ack", &Value::Map(vec![("index".into(), 0.into())]), &node);
    send(&mut router, &id, ack).await;

    let mut rng = fastrand::Rng::with_seed(0xb00b);
    let mut delivered = 0;
    let mut reconnects = 0;
    for _ in 0..FRAMES {
        match random_frame(&mut rng, &node) {
            Frame::Bytes(frame) => delivered += usize::from(send(&mut router, &id, frame).await),
            Frame::Reconnect(frame) => {
                while monitor.try_recv().is_ok() {}
                if send(&mut router, &id, frame).await {
                    delivered += 1;
                    reconnects += 1;
                    // The worker is back when the ROUTER accepts its new connection. The
                    // worker first waits for the old one to be closed by this end, which
                    // zeromq's ROUTER (unlike libzmq's) notices only while receiving.
                    tokio::time::timeout(Duration::from_secs(15), async {
                        loop {
                            tokio::select! {
                                event = monitor.next() => match event {
                                    Some(zeromq::SocketEvent::Accepted(..)) => return,
                                    Some(_) => {}
                                    None => return,
                                },
                                _ = router.recv() => {}
                            }
                        }
                    })
                    .await
                    .expect("the worker reconnects after `reconnect`");
                }
            }
        }
    }
    eprintln!("{reconnects} reconnects, {delivered} of {FRAMES} frames delivered");
    assert!(reconnects >= 5, "only {reconnects} reconnects");
    assert!(
        delivered > FRAMES * 9 / 10,
        "only {delivered} of {FRAMES} frames went out"
    );

    // Still alive and correct: a valid spawn is answered with the users it asked for.
    let spawn = Value::Map(vec![
        ("timestamp".into(), Value::from(1e12)),
        (
            "user_classes_count".into(),
            Value::Map(vec![(Value::from("RustUser"), Value::from(3))]),
        ),
        ("host".into(), Value::Nil),
        ("stop_timeout".into(), Value::from(0)),
    ]);
    let check = async {
        // The worker may still be working through the random frames: send until it answers.
        loop {
            send(
                &mut router,
                &id,
                boomer_core::protocol::encode("spawn", &spawn, &node),
            )
            .await;
            let answer = tokio::time::timeout(Duration::from_secs(2), async {
                loop {
                    let (_, data) = expect(&mut router, "spawning_complete").await;
                    let count = data
                        .as_map()
                        .and_then(|m| m.iter().find(|(k, _)| k.as_str() == Some("user_count")))
                        .and_then(|(_, v)| v.as_u64());
                    if count == Some(3) {
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

    quit(&mut router, &id, &node, worker).await;
}

/// The master's `reconnect` (sent when it could not read a worker's frame): the worker
/// closes its socket and opens a new one with the same identity, and goes on heartbeating
/// without registering again (as Python's worker, whose users keep running).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_rebuilds_the_socket_with_the_same_identity() {
    let mut router = RouterSocket::new();
    let endpoint = router.bind("tcp://127.0.0.1:0").await.expect("bind");
    let zeromq::Endpoint::Tcp(_, port) = endpoint else {
        panic!("not tcp")
    };
    let builder = Boomer::builder()
        .task(Task::new("noop", 1, TaskFn::Sync(|_| Ok(()))))
        .args(["worker", "--master-port", &port.to_string()])
        .expect("options");
    let worker = tokio::spawn(builder.run());

    let (id, _) = expect(&mut router, "client_ready").await;
    let node = String::from_utf8(id.to_vec()).expect("utf-8 identity");
    send(
        &mut router,
        &id,
        boomer_core::protocol::encode("ack", &Value::Nil, &node),
    )
    .await;
    send(
        &mut router,
        &id,
        boomer_core::protocol::encode("reconnect", &(), &node),
    )
    .await;
    // Heartbeats with the same identity, past the one or two the old connection may still
    // carry (receiving also lets this ROUTER see the old connection end); the `quit` below
    // then reaches the worker only through the new connection.
    for _ in 0..3 {
        let (again, _) =
            tokio::time::timeout(Duration::from_secs(10), expect(&mut router, "heartbeat"))
                .await
                .expect("heartbeats after reconnect");
        assert_eq!(again, id, "the same identity");
    }

    quit(&mut router, &id, &node, worker).await;
}

/// Sends `quit` and checks that the worker ends with [`Exit::Quit`], without panic or error.
async fn quit(
    router: &mut RouterSocket,
    id: &bytes::Bytes,
    node: &str,
    worker: tokio::task::JoinHandle<Result<Exit, boomer_core::Error>>,
) {
    send(router, id, boomer_core::protocol::encode("quit", &(), node)).await;
    let exit = tokio::time::timeout(Duration::from_secs(10), worker)
        .await
        .expect("the worker quits")
        .expect("no panic")
        .expect("no error");
    assert_eq!(exit, Exit::Quit);
}

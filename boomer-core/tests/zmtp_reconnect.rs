//! The worker against a real ZeroMQ ROUTER (the `zeromq` crate) playing the master: the
//! `reconnect` path over real sockets and ZMTP identities. The randomized test of what a
//! master can send runs on the fake master instead (boomer-core/src/worker/fuzz.rs).

use std::time::Duration;

use boomer_core::{Boomer, Exit, Task, TaskFn, Value};
use zeromq::prelude::*;
use zeromq::{RouterSocket, ZmqMessage};

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

//! A fake master for unit tests of the worker's state machine, without ZeroMQ: each
//! connection the worker makes is a pair of frame channels that the test accepts, reads the
//! worker's messages from, and writes the master's into.

use std::time::Duration;

use rmpv::Value;
use tokio::sync::mpsc;

use super::{Connector, LinkEvent};
use crate::protocol;

/// How long the fake master waits for what a test expects before the test fails.
const EXPECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The worker's end of one fake connection.
pub(crate) struct Frames {
    to_master: mpsc::UnboundedSender<Vec<u8>>,
    from_master: mpsc::UnboundedReceiver<LinkEvent>,
}

impl Frames {
    pub(super) fn send(&mut self, frame: Vec<u8>) -> Result<(), (Vec<u8>, String)> {
        self.to_master
            .send(frame)
            .map_err(|e| (e.0, "the fake master closed the connection".to_string()))
    }

    pub(super) async fn next(&mut self) -> LinkEvent {
        match self.from_master.recv().await {
            Some(event) => event,
            None => LinkEvent::Lost("the fake master closed the connection".into()),
        }
    }

    pub(super) fn close(self) -> bool {
        true
    }
}

/// The master's end of one connection the worker made.
pub(crate) struct Accepted {
    /// The identity the worker connected with.
    pub(crate) node_id: String,
    from_worker: mpsc::UnboundedReceiver<Vec<u8>>,
    to_worker: mpsc::UnboundedSender<LinkEvent>,
}

pub(super) fn pair(node_id: &str) -> (Frames, Accepted) {
    let (to_master, from_worker) = mpsc::unbounded_channel();
    let (to_worker, from_master) = mpsc::unbounded_channel();
    let frames = Frames {
        to_master,
        from_master,
    };
    let accepted = Accepted {
        node_id: node_id.to_string(),
        from_worker,
        to_worker,
    };
    (frames, accepted)
}

/// Accepts the connections of a worker built with its [`Connector`].
pub(crate) struct FakeMaster {
    accept: mpsc::UnboundedReceiver<Accepted>,
}

impl FakeMaster {
    pub(crate) fn new() -> (FakeMaster, Connector) {
        let (tx, accept) = mpsc::unbounded_channel();
        (FakeMaster { accept }, Connector::Fake(tx))
    }

    /// The worker's next connection.
    pub(crate) async fn accept(&mut self) -> Accepted {
        match tokio::time::timeout(EXPECT_TIMEOUT, self.accept.recv()).await {
            Ok(Some(conn)) => conn,
            Ok(None) => panic!("the worker is gone"),
            Err(_) => panic!("no connection within {EXPECT_TIMEOUT:?}"),
        }
    }
}

impl Accepted {
    /// The worker's next message on this connection, `None` once it closed it.
    pub(crate) async fn recv(&mut self) -> Option<(String, Value)> {
        let frame = match tokio::time::timeout(EXPECT_TIMEOUT, self.from_worker.recv()).await {
            Ok(frame) => frame?,
            Err(_) => panic!("no message from the worker within {EXPECT_TIMEOUT:?}"),
        };
        let envelope = protocol::decode(&frame).expect("the worker sends valid msgpack");
        assert_eq!(
            envelope.node_id, self.node_id,
            "every message names its worker"
        );
        Some((envelope.kind, envelope.data))
    }

    /// The data of the worker's next `kind` message; the messages before it are returned
    /// too (their types), for tests that check what came, or did not come, in between.
    pub(crate) async fn expect(&mut self, kind: &str) -> (Value, Vec<String>) {
        let mut before = Vec::new();
        loop {
            match self.recv().await {
                Some((k, data)) if k == kind => return (data, before),
                Some((k, _)) => before.push(k),
                None => panic!("the worker closed the connection before {kind:?}: {before:?}"),
            }
        }
    }

    /// Sends a message as a Locust master does: `[type, data, node_id]`.
    pub(crate) fn send(&self, kind: &str, data: Value) {
        let message = Value::Array(vec![kind.into(), data, self.node_id.as_str().into()]);
        let mut frame = Vec::new();
        rmpv::encode::write_value(&mut frame, &message).expect("encode");
        let _ = self.to_worker.send(LinkEvent::Frame(frame));
    }

    /// Sends a frame as it is, whatever its bytes (the fuzz test's random frames).
    pub(crate) fn send_raw(&self, frame: Vec<u8>) {
        let _ = self.to_worker.send(LinkEvent::Frame(frame));
    }

    /// The connection breaks (the worker sees it lost).
    pub(crate) fn break_connection(self) {
        let _ = self.to_worker.send(LinkEvent::Lost(
            "the fake master broke the connection".into(),
        ));
    }
}

/// A msgpack map from `(key, value)` pairs.
pub(crate) fn map(pairs: &[(&str, Value)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| (Value::from(*k), v.clone()))
            .collect(),
    )
}

//! The ZeroMQ DEALER to the master, and what the `zeromq` crate leaves to us: noticing that
//! the connection is gone and rebuilding the socket with the same identity.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use zeromq::prelude::*;
use zeromq::util::PeerIdentity;
use zeromq::{DealerSendHalf, DealerSocket, SocketEvent, SocketOptions, ZmqError, ZmqMessage};

/// What the link reports.
#[derive(Debug)]
pub(crate) enum LinkEvent {
    /// One frame from the master.
    Frame(Vec<u8>),
    /// The connection is gone; the socket must be rebuilt.
    Lost(String),
}

/// A connected DEALER: send frames, receive [`LinkEvent`]s.
pub(crate) struct Link {
    send: DealerSendHalf,
    events: mpsc::Receiver<LinkEvent>,
}

impl Link {
    /// Connects a new socket with identity `node_id` (the master routes by it), giving up
    /// after `timeout`.
    pub(crate) async fn connect(
        endpoint: &str,
        node_id: &str,
        timeout: Duration,
    ) -> Result<Link, String> {
        let mut opts = SocketOptions::default();
        let identity = node_id
            .parse::<PeerIdentity>()
            .map_err(|e: ZmqError| format!("node id {node_id:?} is not a valid identity: {e}"))?;
        opts.peer_identity(identity);
        opts.connect_timeout(timeout);
        // A frame larger than this drops the connection before it is allocated.
        opts.max_message_size(crate::protocol::MAX_FRAME);
        let mut socket = DealerSocket::with_options(opts);
        let mut monitor = socket.monitor();
        socket
            .connect(endpoint)
            .await
            .map_err(|e| format!("cannot connect to {endpoint}: {e}"))?;
        let (send, mut recv) = socket.split();
        let (tx, events) = mpsc::channel(1024);
        let lost = tx.clone();
        tokio::spawn(async move {
            while let Some(event) = monitor.next().await {
                if let SocketEvent::Disconnected(_) = event {
                    let _ = lost
                        .send(LinkEvent::Lost("the master closed the connection".into()))
                        .await;
                    return;
                }
            }
        });
        tokio::spawn(async move {
            loop {
                let event = match recv.recv().await {
                    Ok(msg) => match frame_of(msg) {
                        Some(frame) => LinkEvent::Frame(frame),
                        None => continue,
                    },
                    Err(e) => LinkEvent::Lost(format!("receive failed: {e}")),
                };
                let lost = matches!(event, LinkEvent::Lost(_));
                if tx.send(event).await.is_err() || lost {
                    return;
                }
            }
        });
        Ok(Link { send, events })
    }

    /// Sends one frame; when it could not be handed to the connection, returns it so that
    /// the caller can send it again after reconnecting.
    pub(crate) async fn send(&mut self, frame: Vec<u8>) -> Result<(), (Vec<u8>, String)> {
        match self.send.send(ZmqMessage::from(frame.clone())).await {
            Ok(()) => Ok(()),
            Err(e) => Err((frame, e.to_string())),
        }
    }

    /// The next event; `Lost` when the link's tasks are gone.
    pub(crate) async fn next(&mut self) -> LinkEvent {
        self.events
            .recv()
            .await
            .unwrap_or_else(|| LinkEvent::Lost("the socket closed".into()))
    }
}

/// The master sends exactly one frame per message; anything else is logged and dropped.
fn frame_of(msg: ZmqMessage) -> Option<Vec<u8>> {
    if msg.len() != 1 {
        tracing::warn!(
            "dropped a message of {} frames from the master (expected 1)",
            msg.len()
        );
        return None;
    }
    msg.into_vec().into_iter().next().map(|b| b.to_vec())
}

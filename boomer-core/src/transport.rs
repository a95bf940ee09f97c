//! The connection to the master: a ZeroMQ DEALER speaking ZMTP 3.0 (NULL mechanism) over
//! one TCP stream of its own.
//!
//! Owning the stream, rather than a ZeroMQ library's background tasks, gives the two events
//! a worker needs and a library hides: when the last frame has been written (before the
//! process exits), and when the master has closed its end of an old connection. The second
//! matters because libzmq's ROUTER (Locust sets no ROUTER_HANDOVER) ignores a new
//! connection that claims an identity it still holds, and then takes that connection's
//! first message for its identity.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

#[cfg(test)]
pub(crate) mod fake;

/// The largest frame taken from the master ([`crate::protocol::MAX_FRAME`], as libzmq's
/// ZMQ_MAXMSGSIZE): a longer one ends the connection at its length field, before any of it
/// is buffered.
const MAX_FRAME: u64 = crate::protocol::MAX_FRAME as u64;
/// Frames queued for writing: past this, a send bounces instead of waiting, so a master
/// that stopped reading never blocks the control loop.
const SEND_QUEUE: usize = 4096;

const FLAG_MORE: u8 = 0x01;
const FLAG_LONG: u8 = 0x02;
const FLAG_COMMAND: u8 = 0x04;

/// What the link reports.
#[derive(Debug)]
pub(crate) enum LinkEvent {
    /// One frame from the master.
    Frame(Vec<u8>),
    /// The connection is gone; a new one must be made.
    Lost(String),
}

/// A connection to the master: send frames, receive [`LinkEvent`]s, close. Over TCP (a
/// ZeroMQ DEALER), or over a pair of frame channels to a fake master in tests, so that the
/// worker's state machine is tested without ZeroMQ.
pub(crate) struct Link(Inner);

enum Inner {
    Zmtp(Zmtp),
    #[cfg(test)]
    Frames(fake::Frames),
}

impl Link {
    /// Queues one frame; when the queue is full or the connection gone, returns it so that
    /// the caller can keep it for the next connection.
    pub(crate) fn send(&mut self, frame: Vec<u8>) -> Result<(), (Vec<u8>, String)> {
        if frame.is_empty() {
            // An empty payload is no message: the master would answer `reconnect`.
            return Err((frame, "an empty frame is never sent".to_string()));
        }
        match &mut self.0 {
            Inner::Zmtp(z) => z.send(frame),
            #[cfg(test)]
            Inner::Frames(f) => f.send(frame),
        }
    }

    /// The next event. Cancel-safe.
    pub(crate) async fn next(&mut self) -> LinkEvent {
        match &mut self.0 {
            Inner::Zmtp(z) => z.next().await,
            #[cfg(test)]
            Inner::Frames(f) => f.next().await,
        }
    }

    /// Closes the connection in order (see [`Zmtp::close`]); returns whether the master
    /// closed its end within `timeout`.
    pub(crate) async fn close(self, timeout: Duration) -> bool {
        match self.0 {
            Inner::Zmtp(z) => z.close(timeout).await,
            #[cfg(test)]
            Inner::Frames(f) => f.close(),
        }
    }
}

/// Where the worker's connections come from.
#[derive(Clone, Default)]
pub(crate) enum Connector {
    /// TCP to the master's endpoint, ZMTP 3.0.
    #[default]
    Tcp,
    /// Frame channels, each connection handed to a [`fake::FakeMaster`].
    #[cfg(test)]
    Fake(tokio::sync::mpsc::UnboundedSender<fake::Accepted>),
}

impl Connector {
    /// Connects to `endpoint` (`tcp://host:port`) with identity `node_id` (the master routes
    /// by it) and completes the ZMTP handshake, within `timeout`.
    pub(crate) async fn connect(
        &self,
        endpoint: &str,
        node_id: &str,
        timeout: Duration,
    ) -> Result<Link, ConnectError> {
        match self {
            Connector::Tcp => Ok(Link(Inner::Zmtp(
                Zmtp::connect(endpoint, node_id, timeout).await?,
            ))),
            #[cfg(test)]
            Connector::Fake(accept) => {
                let (link, accepted) = fake::pair(node_id);
                accept
                    .send(accepted)
                    .map_err(|_| ConnectError::Refused("the fake master is gone".into()))?;
                Ok(Link(Inner::Frames(link)))
            }
        }
    }
}

/// A connected DEALER over TCP.
struct Zmtp {
    reader: OwnedReadHalf,
    buf: Vec<u8>,
    /// Parts of a multi-part message read so far, and their bytes.
    parts: Parts,
    queue: mpsc::Sender<Vec<u8>>,
    /// Writes the queued frames; ends (after a FIN) once the queue is closed and drained,
    /// or when a write fails.
    writer: Option<JoinHandle<Result<(), String>>>,
}

impl Zmtp {
    async fn connect(
        endpoint: &str,
        node_id: &str,
        timeout: Duration,
    ) -> Result<Zmtp, ConnectError> {
        if node_id.is_empty() || node_id.len() > 255 || node_id.as_bytes()[0] == 0 {
            return Err(ConnectError::Refused(format!(
                "node id {node_id:?} is not a valid ZeroMQ identity (1 to 255 bytes, not \
                 starting with a 0 byte)"
            )));
        }
        let addr = endpoint.strip_prefix("tcp://").unwrap_or(endpoint);
        match tokio::time::timeout(timeout, handshake(addr, node_id)).await {
            Ok(result) => result,
            Err(_) => Err(ConnectError::Silent(format!(
                "no ZeroMQ handshake from {endpoint} within {timeout:?}"
            ))),
        }
    }

    fn send(&mut self, frame: Vec<u8>) -> Result<(), (Vec<u8>, String)> {
        self.queue.try_send(frame).map_err(|e| match e {
            mpsc::error::TrySendError::Full(f) => (f, "the send queue is full".to_string()),
            mpsc::error::TrySendError::Closed(f) => (f, "the connection is closed".to_string()),
        })
    }

    /// The next event. Cancel-safe: bytes read stay in the buffer until a frame is whole.
    async fn next(&mut self) -> LinkEvent {
        loop {
            match self.take_frame() {
                Ok(Some(frame)) => return LinkEvent::Frame(frame),
                Ok(None) => {}
                Err(why) => return LinkEvent::Lost(why),
            }
            let read = tokio::select! {
                read = self.reader.read_buf(&mut self.buf) => read,
                written = wait_writer(&mut self.writer) => {
                    return LinkEvent::Lost(match written {
                        Err(e) => format!("send failed: {e}"),
                        Ok(()) => "the connection is closed".into(),
                    });
                }
            };
            match read {
                Ok(0) => return LinkEvent::Lost("the master closed the connection".into()),
                Ok(_) => {}
                Err(e) => return LinkEvent::Lost(format!("receive failed: {e}")),
            }
        }
    }

    /// Closes the connection in order: every queued frame is written, then a FIN; then
    /// waits (up to `timeout`) for the master to close its end, so that a new connection
    /// with the same identity is not ignored, and no unread byte turns the close into a
    /// reset that would discard what was sent. Returns whether the master closed its end.
    async fn close(self, timeout: Duration) -> bool {
        let Zmtp {
            mut reader,
            queue,
            writer,
            ..
        } = self;
        drop(queue);
        let closed = async move {
            if let Some(writer) = writer {
                let _ = writer.await;
            }
            let mut sink = [0u8; 4096];
            loop {
                match reader.read(&mut sink).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        };
        tokio::time::timeout(timeout, closed).await.is_ok()
    }

    fn take_frame(&mut self) -> Result<Option<Vec<u8>>, String> {
        take_frame(&mut self.buf, &mut self.parts)
    }
}

/// The parts of a multi-part message seen so far (the master never sends one), and their
/// bytes: the message, not each part, is held to [`MAX_FRAME`], as libzmq's ZMQ_MAXMSGSIZE.
#[derive(Default)]
struct Parts {
    count: usize,
    bytes: u64,
}

/// Every message [`take_frame`] takes from `bytes` (frames after the greeting, as they come
/// from the master) until it needs more or refuses them: the fuzz target's entry
/// (`fuzz/fuzz_targets/zmtp.rs`).
pub(crate) fn messages_of(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut buf = bytes.to_vec();
    let mut parts = Parts::default();
    let mut out = Vec::new();
    while let Some(message) = take_frame(&mut buf, &mut parts)? {
        out.push(message);
    }
    Ok(out)
}

/// Takes one whole message frame from `buf`, handling commands on the way.
fn take_frame(buf: &mut Vec<u8>, parts: &mut Parts) -> Result<Option<Vec<u8>>, String> {
    loop {
        let Some((flags, header, size)) = frame_header(buf)? else {
            return Ok(None);
        };
        let end = header + size;
        if buf.len() < end {
            return Ok(None);
        }
        let body: Vec<u8> = buf[header..end].to_vec();
        buf.drain(..end);
        if flags & FLAG_COMMAND != 0 {
            if command_name(&body) == Some(b"ERROR") {
                return Err("the master sent a ZMTP ERROR".into());
            }
            // PING needs a master with ZMQ heartbeats, which Locust never sets; other
            // commands mean nothing to a DEALER.
            continue;
        }
        if flags & FLAG_MORE != 0 || parts.count > 0 {
            parts.bytes = parts.bytes.saturating_add(size as u64);
            if parts.bytes > MAX_FRAME {
                return Err(format!(
                    "the master sent a message of more than {MAX_FRAME} bytes: closing"
                ));
            }
        }
        if flags & FLAG_MORE != 0 {
            parts.count = parts.count.saturating_add(1);
            continue;
        }
        if parts.count > 0 {
            tracing::warn!(
                "dropped a message of {} frames from the master (expected 1)",
                parts.count.saturating_add(1)
            );
            *parts = Parts::default();
            continue;
        }
        return Ok(Some(body));
    }
}

/// Why a connection could not be made.
#[derive(Debug)]
pub(crate) enum ConnectError {
    /// Nothing listens there (or the address is wrong).
    Refused(String),
    /// Something accepted the connection but did not speak ZMTP in time (a frozen or busy
    /// master, or another program).
    Silent(String),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Refused(why) | ConnectError::Silent(why) => f.write_str(why),
        }
    }
}

async fn handshake(addr: &str, node_id: &str) -> Result<Zmtp, ConnectError> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| ConnectError::Refused(format!("cannot connect to tcp://{addr}: {e}")))?;
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let silent = |what: &str, e: std::io::Error| {
        ConnectError::Silent(format!(
            "ZeroMQ handshake with tcp://{addr} failed ({what}): {e}"
        ))
    };
    writer
        .write_all(&greeting())
        .await
        .map_err(|e| silent("greeting", e))?;
    let mut theirs = [0u8; 64];
    reader
        .read_exact(&mut theirs)
        .await
        .map_err(|e| silent("greeting", e))?;
    if theirs[0] != 0xFF || theirs[9] != 0x7F || theirs[10] < 3 || &theirs[12..16] != b"NULL" {
        return Err(ConnectError::Silent(format!(
            "tcp://{addr} does not speak ZMTP 3 with the NULL mechanism (is it a Locust master?)"
        )));
    }
    let mut ready = Vec::new();
    command(&mut ready, b"READY");
    property(&mut ready, b"Socket-Type", b"DEALER");
    property(&mut ready, b"Identity", node_id.as_bytes());
    writer
        .write_all(&framed(FLAG_COMMAND, &ready))
        .await
        .map_err(|e| silent("READY", e))?;
    let mut buf = Vec::new();
    let their_ready = loop {
        if let Some((flags, header, size)) =
            frame_header(&buf).map_err(|e| ConnectError::Silent(e.to_string()))?
        {
            if buf.len() >= header + size {
                if flags & FLAG_COMMAND == 0 {
                    return Err(ConnectError::Silent(format!(
                        "tcp://{addr} sent a message before its READY"
                    )));
                }
                let body = buf[header..header + size].to_vec();
                buf.drain(..header + size);
                break body;
            }
        }
        let n = reader
            .read_buf(&mut buf)
            .await
            .map_err(|e| silent("READY", e))?;
        if n == 0 {
            return Err(ConnectError::Silent(format!(
                "tcp://{addr} closed the connection during the handshake"
            )));
        }
    };
    if command_name(&their_ready) != Some(b"READY") {
        return Err(ConnectError::Silent(format!(
            "tcp://{addr} refused the handshake ({})",
            String::from_utf8_lossy(&their_ready)
        )));
    }
    let (queue, frames) = mpsc::channel(SEND_QUEUE);
    let writer = tokio::spawn(write_frames(writer, frames));
    Ok(Zmtp {
        reader,
        buf,
        parts: Parts::default(),
        queue,
        writer: Some(writer),
    })
}

/// Writes queued frames until the queue closes, then half-closes the stream.
async fn write_frames(
    mut writer: OwnedWriteHalf,
    mut frames: mpsc::Receiver<Vec<u8>>,
) -> Result<(), String> {
    while let Some(frame) = frames.recv().await {
        writer
            .write_all(&framed(0, &frame))
            .await
            .map_err(|e| e.to_string())?;
    }
    writer.shutdown().await.map_err(|e| e.to_string())
}

/// Completes when the writer has ended (never, once it has been awaited).
async fn wait_writer(writer: &mut Option<JoinHandle<Result<(), String>>>) -> Result<(), String> {
    let Some(handle) = writer.as_mut() else {
        return std::future::pending().await;
    };
    let result = handle.await;
    *writer = None;
    result.map_err(|e| e.to_string())?
}

/// The 64-byte ZMTP 3.0 greeting of a client with the NULL mechanism.
fn greeting() -> [u8; 64] {
    let mut g = [0u8; 64];
    g[0] = 0xFF;
    g[8] = 1;
    g[9] = 0x7F;
    g[10] = 3; // version 3.0
    g[12..16].copy_from_slice(b"NULL");
    g
}

fn framed(flags: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 9);
    match u8::try_from(body.len()) {
        Ok(short) => out.extend_from_slice(&[flags, short]),
        Err(_) => {
            out.push(flags | FLAG_LONG);
            out.extend_from_slice(&(body.len() as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(body);
    out
}

fn command(out: &mut Vec<u8>, name: &[u8]) {
    out.push(name.len() as u8);
    out.extend_from_slice(name);
}

fn property(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(&(value.len() as u32).to_be_bytes());
    out.extend_from_slice(value);
}

fn command_name(body: &[u8]) -> Option<&[u8]> {
    let len = usize::from(*body.first()?);
    body.get(1..1 + len)
}

/// A frame's flags, header length and body length, once the header is whole.
fn frame_header(buf: &[u8]) -> Result<Option<(u8, usize, usize)>, String> {
    let Some(&flags) = buf.first() else {
        return Ok(None);
    };
    let (header, size) = if flags & FLAG_LONG != 0 {
        let Some(bytes) = buf.get(1..9) else {
            return Ok(None);
        };
        let mut be = [0u8; 8];
        be.copy_from_slice(bytes);
        (9, u64::from_be_bytes(be))
    } else {
        match buf.get(1) {
            Some(&n) => (2, u64::from(n)),
            None => return Ok(None),
        }
    };
    if size > MAX_FRAME {
        return Err(format!(
            "the master announced a frame of {size} bytes (more than {MAX_FRAME}): closing"
        ));
    }
    Ok(Some((flags, header, size as usize)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_short_and_long_round_trip_through_the_header() {
        for len in [0usize, 1, 255, 256, 70_000] {
            let body = vec![7u8; len];
            let f = framed(0, &body);
            let (flags, header, size) = frame_header(&f).unwrap().unwrap();
            assert_eq!((flags & FLAG_LONG != 0, size), (len > 255, len));
            assert_eq!(&f[header..], &body[..]);
            // A partial header waits for more bytes.
            assert_eq!(frame_header(&f[..header - 1]).unwrap(), None);
        }
    }

    #[test]
    fn a_huge_announced_frame_is_refused_before_buffering() {
        let mut f = vec![FLAG_LONG];
        f.extend_from_slice(&u64::MAX.to_be_bytes());
        assert!(frame_header(&f).is_err());
    }

    #[test]
    fn random_bytes_never_panic_nor_buffer_past_the_limit() {
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..20_000 {
            let len = rng.usize(0..64);
            let mut buf: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            let mut parts = Parts::default();
            // Whatever comes: frames, a wait for more bytes, or an error; never a panic.
            while let Ok(Some(frame)) = take_frame(&mut buf, &mut parts) {
                assert!(frame.len() as u64 <= MAX_FRAME);
            }
        }
        // Two frames in one read, a command between them, a MORE part dropped.
        let mut buf = framed(0, b"one");
        buf.extend(framed(FLAG_COMMAND, b"\x04PING"));
        buf.extend(framed(FLAG_MORE, b"part"));
        buf.extend(framed(0, b"end"));
        buf.extend(framed(0, b"two"));
        let mut parts = Parts::default();
        assert_eq!(take_frame(&mut buf, &mut parts), Ok(Some(b"one".to_vec())));
        assert_eq!(take_frame(&mut buf, &mut parts), Ok(Some(b"two".to_vec())));
        assert_eq!(take_frame(&mut buf, &mut parts), Ok(None));
    }

    #[test]
    fn ready_properties_are_laid_out_as_zmtp_says() {
        let mut ready = Vec::new();
        command(&mut ready, b"READY");
        property(&mut ready, b"Identity", b"ab");
        assert_eq!(command_name(&ready), Some(&b"READY"[..]));
        assert_eq!(&ready[6..], b"\x08Identity\x00\x00\x00\x02ab");
    }
}

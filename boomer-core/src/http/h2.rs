//! HTTP/2 on one connection per user (negotiated by ALPN on https, or h2c with prior
//! knowledge), straight on the `h2` crate. Its connection runs as a task of its own: it
//! answers pings and settings while the user waits between requests.
//!
//! hyper's HTTP/2 client (which is this same `h2` underneath) was measured at 13.3 µs of
//! worker CPU per request against h2load's 9.2 (BENCHMARKS.md §2c): its dispatch channel,
//! its response oneshot and its body collection are a second hand-off per request that a
//! client doing one request at a time per connection does not need.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use h2::client::SendRequest;
use hyper::{HeaderMap, Request, Uri};

use super::conn::Stream;
use super::h1::Failed;
use super::url::Target;
use super::HttpError;

/// The largest response body taken (as HTTP/1.1's growth cap, per message).
const MAX_BODY: usize = 1 << 30;

pub(crate) struct H2 {
    sender: SendRequest<Bytes>,
    /// Set by the connection's task when it ends.
    closed: Arc<AtomicBool>,
    /// The URI of the last target, parsed once: a user repeating a request reuses it.
    last: Option<(Arc<Target>, Uri)>,
}

/// A response as read.
pub(crate) struct Raw {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) first_byte: Instant,
}

impl H2 {
    pub(crate) async fn handshake(stream: Stream, authority: &str) -> Result<H2, HttpError> {
        // hyper's client settings: 2 MiB per stream, 5 MiB per connection, no server push.
        let (sender, conn) = h2::client::Builder::new()
            .initial_window_size(2 << 20)
            .initial_connection_window_size(5 << 20)
            .max_send_buffer_size(400 << 10)
            .enable_push(false)
            .handshake(stream)
            .await
            .map_err(|e| HttpError::new(format!("HTTP/2 handshake with {authority}: {e}")))?;
        let closed = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&closed);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("HTTP/2 connection ended: {e}");
            }
            flag.store(true, Ordering::Release);
        });
        Ok(H2 {
            sender,
            closed,
            last: None,
        })
    }

    /// The connection can take another request.
    pub(crate) fn usable(&self) -> bool {
        !self.closed.load(Ordering::Acquire)
    }

    /// The URI of `target`, from the last request's when it is the same target.
    pub(crate) fn uri(&mut self, target: &Arc<Target>) -> Result<Uri, Failed> {
        if let Some((last, uri)) = &self.last {
            if Arc::ptr_eq(last, target) {
                return Ok(uri.clone());
            }
        }
        let uri: Uri = target
            .to_string()
            .parse()
            .map_err(|e| Failed::Fatal(HttpError::new(format!("invalid request: {e}"))))?;
        self.last = Some((Arc::clone(target), uri.clone()));
        Ok(uri)
    }

    pub(crate) async fn exchange(
        &mut self,
        request: Request<()>,
        body: Bytes,
        reused: bool,
    ) -> Result<Raw, Failed> {
        let failed = |e: h2::Error| {
            // A connection the server closed (GOAWAY, reset) while it sat idle: once more on
            // a new one, as for HTTP/1.1.
            if reused
                && (e.is_go_away() || e.is_io() || e.reason() == Some(h2::Reason::REFUSED_STREAM))
            {
                Failed::Stale
            } else {
                Failed::Fatal(HttpError::new(e.to_string()))
            }
        };
        std::future::poll_fn(|cx| self.sender.poll_ready(cx))
            .await
            .map_err(failed)?;
        let (response, mut send) = self
            .sender
            .send_request(request, body.is_empty())
            .map_err(failed)?;
        if !body.is_empty() {
            // Data beyond the peer's window is buffered by h2 and sent as the window opens.
            send.send_data(body, true).map_err(failed)?;
        }
        let resp = response.await.map_err(failed)?;
        let first_byte = Instant::now();
        let (parts, mut recv) = resp.into_parts();
        let body = read_body(&mut recv).await?;
        Ok(Raw {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
            first_byte,
        })
    }
}

/// The whole body: one DATA frame's bytes as they came (no copy), several joined; the
/// window released as they arrive.
async fn read_body(recv: &mut h2::RecvStream) -> Result<Bytes, Failed> {
    let read_failed = |e: h2::Error| {
        Failed::Fatal(HttpError::new(format!(
            "cannot read the response body: {e}"
        )))
    };
    let mut first: Option<Bytes> = None;
    let mut more = BytesMut::new();
    while let Some(chunk) = recv.data().await {
        let chunk = chunk.map_err(read_failed)?;
        let _ = recv.flow_control().release_capacity(chunk.len());
        match &first {
            None => first = Some(chunk),
            Some(head) => {
                if more.is_empty() {
                    more.extend_from_slice(head);
                }
                if more.len() + chunk.len() > MAX_BODY {
                    return Err(Failed::Fatal(HttpError::new(format!(
                        "response body larger than {} MiB",
                        MAX_BODY >> 20
                    ))));
                }
                more.extend_from_slice(&chunk);
            }
        }
    }
    Ok(if more.is_empty() {
        first.unwrap_or_default()
    } else {
        more.freeze()
    })
}

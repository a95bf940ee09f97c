//! HTTP/2 on one connection per user, through hyper (negotiated by ALPN on https, or h2c
//! with prior knowledge). hyper's HTTP/2 connection runs as a task of its own: it answers
//! pings and settings while the user waits between requests.

use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::{self, SendRequest};
use hyper::{HeaderMap, Request};
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::conn::Stream;
use super::h1::Failed;
use super::HttpError;

pub(crate) struct H2 {
    sender: SendRequest<Full<Bytes>>,
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
        let (sender, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .map_err(|e| HttpError::new(format!("HTTP/2 handshake with {authority}: {e}")))?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("HTTP/2 connection ended: {e}");
            }
        });
        Ok(H2 { sender })
    }

    /// The connection can take another request.
    pub(crate) fn usable(&self) -> bool {
        !self.sender.is_closed()
    }

    pub(crate) async fn exchange(
        &mut self,
        request: Request<Full<Bytes>>,
        reused: bool,
    ) -> Result<Raw, Failed> {
        let stale = |e: hyper::Error| {
            if reused && (e.is_closed() || e.is_canceled()) {
                Failed::Stale
            } else {
                Failed::Fatal(HttpError::new(e.to_string()))
            }
        };
        self.sender.ready().await.map_err(stale)?;
        let resp = self.sender.send_request(request).await.map_err(stale)?;
        let first_byte = Instant::now();
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| HttpError::new(format!("cannot read the response body: {e}")))?
            .to_bytes();
        Ok(Raw {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
            first_byte,
        })
    }
}

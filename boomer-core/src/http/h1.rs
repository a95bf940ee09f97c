//! HTTP/1.1 on one kept-alive connection, the lean way: the request's bytes are written as
//! they are (built once and reused by the caller when nothing changed), and the response is
//! parsed in place in one read buffer with `httparse`. Head and body are handed out as
//! slices of that buffer ([`Bytes`]), which reclaims its memory once they are dropped: no
//! allocation per request in the steady state, and no task, channel or timer of its own.
//!
//! hyper's client (one `Request`, `HeaderMap` and `Uri` per call, a channel to its
//! connection task) peaks at 0.85 × wrk on this machine; this loop at 1.05 × (see
//! BENCHMARKS.md). hyper still serves HTTP/2 (`h2.rs`).

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use hyper::header::{HeaderName, HeaderValue};
use hyper::HeaderMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::conn::Stream;
use super::{pyerr, HttpError};

/// A response head larger than this is refused (nginx's default limit is 8 KiB per line).
const MAX_HEAD: usize = 256 * 1024;
/// Headers per response parsed without allocating; more go through a larger array.
const HEADERS: usize = 48;
/// Reads ask for at least this much room.
const READ_CHUNK: usize = 16 * 1024;
/// Bodies grow by at most this much ahead of what arrived: a `Content-Length` from the
/// server is never trusted with an allocation.
const MAX_RESERVE: usize = 1024 * 1024;

/// One HTTP/1.1 connection.
pub(crate) struct H1 {
    stream: Stream,
    buf: BytesMut,
    /// Where a request with a body is assembled (head and body in one write).
    out: Vec<u8>,
    /// The server may take another request on this connection.
    pub(crate) reusable: bool,
}

/// A response as read.
pub(crate) struct Raw {
    pub(crate) status: u16,
    /// The status line and headers, parsed into a map only when asked ([`header_map`]).
    pub(crate) head: Bytes,
    pub(crate) body: Bytes,
    pub(crate) first_byte: Instant,
    /// Headers the client acts on.
    pub(crate) set_cookie: bool,
    pub(crate) location: bool,
    pub(crate) content_encoding: bool,
}

/// Why an exchange failed.
pub(crate) enum Failed {
    /// Nothing came back on a reused connection: the server closed it while it was idle.
    /// The request may be retried on a new connection, as urllib3 does.
    Stale,
    Fatal(HttpError),
}

impl From<HttpError> for Failed {
    fn from(e: HttpError) -> Self {
        Failed::Fatal(e)
    }
}

/// What the head says about framing and the connection.
struct Framing {
    status: u16,
    head_len: usize,
    length: Option<u64>,
    chunked: bool,
    keep_alive: bool,
    set_cookie: bool,
    location: bool,
    content_encoding: bool,
}

impl H1 {
    pub(crate) fn new(stream: Stream) -> H1 {
        H1 {
            stream,
            buf: BytesMut::with_capacity(READ_CHUNK),
            out: Vec::new(),
            reusable: true,
        }
    }

    /// Sends `head` (and `body`) and reads the whole response. `head_only` for HEAD, whose
    /// response has no body whatever its headers say.
    pub(crate) async fn exchange(
        &mut self,
        head: &[u8],
        body: &[u8],
        head_only: bool,
        reused: bool,
    ) -> Result<Raw, Failed> {
        self.reusable = false;
        self.buf.clear();
        if let Err(e) = self.write(head, body).await {
            return Err(if reused {
                Failed::Stale
            } else {
                Failed::Fatal(HttpError::new(pyerr::os_error(&e)))
            });
        }
        let (framing, first_byte) = self.read_head(reused).await?;
        let head = self.buf.split_to(framing.head_len).freeze();
        let no_body = head_only || matches!(framing.status, 204 | 304 | 100..=199);
        let (body, delimited) = if no_body {
            (Bytes::new(), true)
        } else if framing.chunked {
            (self.read_chunked().await?, true)
        } else if let Some(n) = framing.length {
            (self.read_exact(n).await?, true)
        } else {
            (self.read_to_end().await?, false)
        };
        self.reusable = framing.keep_alive && delimited && self.buf.is_empty();
        Ok(Raw {
            status: framing.status,
            head,
            body,
            first_byte,
            set_cookie: framing.set_cookie,
            location: framing.location,
            content_encoding: framing.content_encoding,
        })
    }

    async fn write(&mut self, head: &[u8], body: &[u8]) -> std::io::Result<()> {
        if body.is_empty() {
            self.stream.write_all(head).await?;
        } else if body.len() <= READ_CHUNK {
            self.out.clear();
            self.out.extend_from_slice(head);
            self.out.extend_from_slice(body);
            self.stream.write_all(&self.out).await?;
        } else {
            self.stream.write_all(head).await?;
            self.stream.write_all(body).await?;
        }
        self.stream.flush().await
    }

    /// Reads until a final (non-1xx) response head is complete.
    async fn read_head(&mut self, reused: bool) -> Result<(Framing, Instant), Failed> {
        let mut first_byte = None;
        loop {
            if !self.buf.is_empty() {
                match parse_head(&self.buf)? {
                    Some(f) if (100..200).contains(&f.status) && f.status != 101 => {
                        // 100 Continue and friends: skip, the real response follows.
                        let _ = self.buf.split_to(f.head_len);
                        continue;
                    }
                    Some(f) => return Ok((f, first_byte.unwrap_or_else(Instant::now))),
                    None if self.buf.len() > MAX_HEAD => {
                        return Err(HttpError::new(format!(
                            "response head larger than {} KiB",
                            MAX_HEAD / 1024
                        ))
                        .into())
                    }
                    None => {}
                }
            }
            let got = self.fill().await;
            match got {
                Ok(0) if self.buf.is_empty() && first_byte.is_none() && reused => {
                    return Err(Failed::Stale)
                }
                Ok(0) => return Err(HttpError::new(pyerr::remote_disconnected()).into()),
                Ok(_) => {
                    first_byte.get_or_insert_with(Instant::now);
                }
                Err(e) if reused && first_byte.is_none() && is_reset(&e) => {
                    return Err(Failed::Stale)
                }
                Err(e) => return Err(HttpError::new(pyerr::os_error(&e)).into()),
            }
        }
    }

    /// One read into the buffer, making room first.
    async fn fill(&mut self) -> std::io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        self.stream.read_buf(&mut self.buf).await
    }

    async fn read_exact(&mut self, n: u64) -> Result<Bytes, Failed> {
        let n = usize::try_from(n).map_err(|_| HttpError::new("response body too large"))?;
        while self.buf.len() < n {
            let missing = n - self.buf.len();
            self.buf.reserve(missing.min(MAX_RESERVE));
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) => {
                    let read = self.buf.len();
                    return Err(HttpError::new(pyerr::incomplete_read(read, n - read)).into());
                }
                Ok(_) => {}
                Err(e) => return Err(HttpError::new(pyerr::os_error(&e)).into()),
            }
        }
        Ok(self.buf.split_to(n).freeze())
    }

    /// A body delimited by the end of the connection (no length, not chunked).
    async fn read_to_end(&mut self) -> Result<Bytes, Failed> {
        loop {
            match self.fill().await {
                Ok(0) => return Ok(self.buf.split().freeze()),
                Ok(_) => {}
                Err(e) => return Err(HttpError::new(pyerr::os_error(&e)).into()),
            }
        }
    }

    /// A chunked body, decoded; trailers are read and dropped.
    async fn read_chunked(&mut self) -> Result<Bytes, Failed> {
        let mut body = BytesMut::new();
        loop {
            let (start, size) = loop {
                match httparse::parse_chunk_size(&self.buf) {
                    Ok(httparse::Status::Complete(found)) => break found,
                    Ok(httparse::Status::Partial) => self.more().await?,
                    Err(_) => {
                        let line =
                            find(&self.buf, b"\n").map_or(&self.buf[..], |i| &self.buf[..=i]);
                        return Err(HttpError::new(pyerr::invalid_chunk_length(line)).into());
                    }
                }
            };
            let _ = self.buf.split_to(start);
            if size == 0 {
                return self.skip_trailers(body).await;
            }
            let size = usize::try_from(size).map_err(|_| HttpError::new("chunk too large"))?;
            while self.buf.len() < size + 2 {
                self.buf
                    .reserve((size + 2 - self.buf.len()).min(MAX_RESERVE));
                match self.fill().await {
                    Ok(0) => {
                        let read = self.buf.len().min(size);
                        let e = pyerr::incomplete_read(read, size - read);
                        return Err(HttpError::new(e).into());
                    }
                    Ok(_) => {}
                    Err(e) => return Err(HttpError::new(pyerr::os_error(&e)).into()),
                }
            }
            body.extend_from_slice(&self.buf[..size]);
            if &self.buf[size..size + 2] != b"\r\n" {
                return Err(HttpError::new("a chunk does not end with CRLF").into());
            }
            let _ = self.buf.split_to(size + 2);
        }
    }

    async fn skip_trailers(&mut self, body: BytesMut) -> Result<Bytes, Failed> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                let _ = self.buf.split_to(end + 2);
                if end == 0 {
                    return Ok(body.freeze());
                }
                continue;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(HttpError::new("response trailers too large").into());
            }
            self.more().await?;
        }
    }

    /// Reads more, failing if the connection ends (inside a chunk size line or trailers).
    async fn more(&mut self) -> Result<(), Failed> {
        match self.fill().await {
            Ok(0) => Err(HttpError::new(pyerr::ended_prematurely()).into()),
            Ok(_) => Ok(()),
            Err(e) => Err(HttpError::new(pyerr::os_error(&e)).into()),
        }
    }
}

fn is_reset(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
    )
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses a complete head, or `None` if more bytes are needed.
fn parse_head(buf: &[u8]) -> Result<Option<Framing>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => framing(&resp, n).map(Some),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            let mut many = vec![httparse::EMPTY_HEADER; 1024];
            let mut resp = httparse::Response::new(&mut many);
            match resp.parse(buf) {
                Ok(httparse::Status::Complete(n)) => framing(&resp, n).map(Some),
                Ok(httparse::Status::Partial) => Ok(None),
                Err(_) => Err(HttpError::new(pyerr::bad_status_line(buf))),
            }
        }
        Err(_) => Err(HttpError::new(pyerr::bad_status_line(buf))),
    }
}

fn framing(resp: &httparse::Response<'_, '_>, head_len: usize) -> Result<Framing, HttpError> {
    let status = resp.code.unwrap_or(0);
    let http10 = resp.version == Some(0);
    let mut f = Framing {
        status,
        head_len,
        length: None,
        chunked: false,
        keep_alive: !http10,
        set_cookie: false,
        location: false,
        content_encoding: false,
    };
    for h in resp.headers.iter() {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| HttpError::new("invalid Content-Length in the response"))?;
            if f.length.is_some_and(|m| m != n) {
                return Err(HttpError::new("conflicting Content-Length headers"));
            }
            f.length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            f.chunked = last_token(h.value).eq_ignore_ascii_case(b"chunked");
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = trim(token);
                if token.eq_ignore_ascii_case(b"close") {
                    f.keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && http10 {
                    f.keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"set-cookie") {
            f.set_cookie = true;
        } else if name.eq_ignore_ascii_case(b"location") {
            f.location = true;
        } else if name.eq_ignore_ascii_case(b"content-encoding") {
            f.content_encoding = true;
        }
    }
    Ok(f)
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &b[start..end]
}

fn last_token(value: &[u8]) -> &[u8] {
    trim(value.rsplit(|&b| b == b',').next().unwrap_or(value))
}

/// The headers of a raw head as a map (invalid names or values are skipped).
pub(crate) fn header_map(head: &[u8]) -> HeaderMap {
    let mut headers = vec![httparse::EMPTY_HEADER; 1024];
    let mut resp = httparse::Response::new(&mut headers);
    let mut map = HeaderMap::new();
    if resp.parse(head).is_ok() {
        for h in resp.headers.iter() {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(h.name.as_bytes()),
                HeaderValue::from_bytes(h.value),
            ) {
                map.append(n, v);
            }
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_say_how_the_body_is_framed() {
        let f = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            .unwrap()
            .unwrap();
        assert_eq!(
            (f.status, f.head_len, f.length, f.keep_alive),
            (200, 38, Some(5), true)
        );
        let f = parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(f.chunked);
        let f = parse_head(b"HTTP/1.0 200 OK\r\n\r\n").unwrap().unwrap();
        assert!(!f.keep_alive);
        let f = parse_head(b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(f.keep_alive);
        let f = parse_head(b"HTTP/1.1 302 Found\r\nLocation: /\r\nConnection: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(f.location && !f.keep_alive);
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Le")
            .unwrap()
            .is_none());
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").is_err());
        let two = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        assert!(parse_head(two).is_err());
    }

    #[test]
    fn many_headers_still_parse() {
        let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..200 {
            head.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        assert_eq!(parse_head(&head).unwrap().unwrap().status, 200);
        assert_eq!(header_map(&head).len(), 200);
    }
}

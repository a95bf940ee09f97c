//! Failure texts as Locust's `HttpUser` words them, byte for byte, so that a fleet of Rust
//! and Python workers hitting the same fault shares one row of the master's failure table.
//!
//! A Python worker reports `StatsError.parse_error(exception)`, the `repr()` of the exception
//! that `requests` raised, after `ResponseContextManager.__exit__` unwrapped connection errors
//! to their innermost cause (`locust/clients.py`). The texts below were produced by Locust
//! 2.47.0's `HttpSession` against servers that answer each fault (the test
//! `texts_are_pythons` lists them).

use std::io;
use std::time::Duration;

use super::url::{Scheme, Target};
use crate::locust::python_repr;

/// A status >= 400 (and < 600, as `raise_for_status`): `HTTPError('404 Client Error: Not
/// Found for url: /missing')`, where the URL is the request's *name* (Locust puts the name in
/// the URL while it raises, so that one name is one row) and the reason is the server's own
/// phrase from the status line (the standard one where there is none, as over HTTP/2).
pub(crate) fn status(status: u16, reason: &str, name: &str) -> String {
    let kind = if status < 500 { "Client" } else { "Server" };
    let text = format!("{status} {kind} Error: {reason} for url: {name}");
    format!("HTTPError({})", python_repr(&text))
}

/// Whether `raise_for_status` raises for this status.
pub(crate) fn is_failure_status(status: u16) -> bool {
    (400..600).contains(&status)
}

/// `resp.failure("text")`: Locust wraps the text in a `CatchResponseError`.
pub(crate) fn catch_response(text: &str) -> String {
    format!("CatchResponseError({})", python_repr(text))
}

/// A socket error, as Python's `OSError` constructor names it from the errno:
/// `ConnectionRefusedError(111, 'Connection refused')`. Name resolution failures are
/// `socket.gaierror`s: `gaierror(-2, 'Name or service not known')`.
pub(crate) fn os_error(e: &io::Error) -> String {
    if let Some(code) = e.raw_os_error() {
        let text = io::Error::from_raw_os_error(code).to_string();
        let strerror = text
            .strip_suffix(&format!(" (os error {code})"))
            .unwrap_or(&text);
        return format!(
            "{}({code}, {})",
            os_error_class(code),
            python_repr(strerror)
        );
    }
    let text = e.to_string();
    if let Some(why) = text.strip_prefix("failed to lookup address information: ") {
        return format!("gaierror({}, {})", gai_code(why), python_repr(why));
    }
    format!("OSError({})", python_repr(&text))
}

/// The subclass of `OSError` Python picks for an errno (PEP 3151), Linux's numbering.
fn os_error_class(code: i32) -> &'static str {
    match code {
        libc_errno::ECONNREFUSED => "ConnectionRefusedError",
        libc_errno::ECONNRESET => "ConnectionResetError",
        libc_errno::ECONNABORTED => "ConnectionAbortedError",
        libc_errno::EPIPE | libc_errno::ESHUTDOWN => "BrokenPipeError",
        libc_errno::ETIMEDOUT => "TimeoutError",
        libc_errno::EAGAIN | libc_errno::EALREADY | libc_errno::EINPROGRESS => "BlockingIOError",
        libc_errno::EINTR => "InterruptedError",
        libc_errno::EACCES | libc_errno::EPERM => "PermissionError",
        _ => "OSError",
    }
}

/// Linux's errno values (glibc's `errno.h`), written out so that the names read as Python's.
mod libc_errno {
    pub const EPERM: i32 = 1;
    pub const EINTR: i32 = 4;
    pub const EAGAIN: i32 = 11;
    pub const EACCES: i32 = 13;
    pub const EPIPE: i32 = 32;
    pub const ECONNABORTED: i32 = 103;
    pub const ECONNRESET: i32 = 104;
    pub const ESHUTDOWN: i32 = 108;
    pub const ETIMEDOUT: i32 = 110;
    pub const ECONNREFUSED: i32 = 111;
    pub const EALREADY: i32 = 114;
    pub const EINPROGRESS: i32 = 115;
}

/// glibc's `EAI_*` code for its `gai_strerror` text.
fn gai_code(text: &str) -> i32 {
    match text {
        "Name or service not known" => -2,
        "Temporary failure in name resolution" => -3,
        "Non-recoverable failure in name resolution" => -4,
        "No address associated with hostname" => -5,
        "Servname not supported for ai_socktype" => -8,
        _ => -11,
    }
}

/// The server closed the connection before a response began.
pub(crate) fn remote_disconnected() -> String {
    "RemoteDisconnected('Remote end closed connection without response')".to_string()
}

/// The body ended early: `read` bytes of the body (or of the current chunk) came and
/// `more` were still expected.
pub(crate) fn incomplete_read(read: usize, more: usize) -> String {
    let inner = format!("IncompleteRead({read} bytes read, {more} more expected)");
    format!("ChunkedEncodingError(ProtocolError('Connection broken: {inner}', {inner}))")
}

/// The connection ended where a chunk's size line (or the trailers) should be.
pub(crate) fn ended_prematurely() -> String {
    "ChunkedEncodingError(ProtocolError('Response ended prematurely'))".to_string()
}

/// A chunk size line that is not a number (`line` with its CRLF, if it had one).
pub(crate) fn invalid_chunk_length(line: &[u8]) -> String {
    let inner = format!(
        "InvalidChunkLength(got length {}, 0 bytes read)",
        python_bytes_repr(line)
    );
    let message = python_repr(&format!("Connection broken: {inner}"));
    format!("ChunkedEncodingError(ProtocolError({message}, {inner}))")
}

/// Python's `repr(bytes)`, for at most the first 512 bytes.
fn python_bytes_repr(b: &[u8]) -> String {
    let b = &b[..b.len().min(512)];
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::from("b");
    out.push(char::from(quote));
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(char::from(c));
            }
            0x20..=0x7e => out.push(char::from(c)),
            c => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push(char::from(quote));
    out
}

/// A status line that is not one: `BadStatusLine('garbage\r\n')`.
pub(crate) fn bad_status_line(head: &[u8]) -> String {
    let end = head
        .iter()
        .position(|&b| b == b'\n')
        .map_or(head.len(), |i| i + 1)
        .min(512);
    // http.client decodes the line as ISO-8859-1.
    let line: String = head[..end].iter().map(|&b| char::from(b)).collect();
    format!("BadStatusLine({})", python_repr(&line))
}

/// The request timed out: `requests`' `ReadTimeout`, with urllib3's pool text.
pub(crate) fn read_timeout(target: Option<&Target>, timeout: Duration) -> String {
    let pool = match target {
        Some(t) => {
            let kind = match t.scheme {
                Scheme::Http => "HTTPConnectionPool",
                Scheme::Https => "HTTPSConnectionPool",
            };
            format!("{kind}(host={}, port={})", python_repr(&t.host), t.port)
        }
        None => "HTTPConnectionPool(host=None, port=None)".to_string(),
    };
    let text = format!(
        "{pool}: Read timed out. (read timeout={})",
        python_seconds(timeout)
    );
    format!("ReadTimeout(ReadTimeoutError({}))", python_repr(&text))
}

/// Seconds as a Locust user writes them: `10` for whole seconds, else Python's float repr.
fn python_seconds(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        d.as_secs().to_string()
    } else {
        // Rust's shortest round-trip float text is Python's repr for these values.
        format!("{}", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each text as Locust 2.47.0's `HttpSession` reported it (`StatsError.parse_error` of
    /// the exception its request event carried), against a server that answered each fault.
    #[test]
    fn texts_are_pythons() {
        assert_eq!(
            status(404, "Not Found", "/missing?x=1"),
            "HTTPError('404 Client Error: Not Found for url: /missing?x=1')"
        );
        assert_eq!(
            status(418, "Brewing Now", "/reason"),
            "HTTPError('418 Client Error: Brewing Now for url: /reason')"
        );
        assert_eq!(
            status(503, "Service Unavailable", "/s503"),
            "HTTPError('503 Server Error: Service Unavailable for url: /s503')"
        );
        assert!(!is_failure_status(600) && is_failure_status(599) && !is_failure_status(399));
        assert_eq!(
            os_error(&io::Error::from_raw_os_error(111)),
            "ConnectionRefusedError(111, 'Connection refused')"
        );
        assert_eq!(
            os_error(&io::Error::from_raw_os_error(104)),
            "ConnectionResetError(104, 'Connection reset by peer')"
        );
        assert_eq!(
            os_error(&io::Error::other(
                "failed to lookup address information: Name or service not known"
            )),
            "gaierror(-2, 'Name or service not known')"
        );
        assert_eq!(
            remote_disconnected(),
            "RemoteDisconnected('Remote end closed connection without response')"
        );
        assert_eq!(
            incomplete_read(3, 97),
            "ChunkedEncodingError(ProtocolError('Connection broken: IncompleteRead(3 bytes read, \
             97 more expected)', IncompleteRead(3 bytes read, 97 more expected)))"
        );
        assert_eq!(
            bad_status_line(b"garbage\r\n\r\n"),
            "BadStatusLine('garbage\\r\\n')"
        );
        let target = Target::parse("http://127.0.0.1:57619/stall").unwrap();
        assert_eq!(
            read_timeout(Some(&target), Duration::from_secs(10)),
            "ReadTimeout(ReadTimeoutError(\"HTTPConnectionPool(host='127.0.0.1', port=57619): \
             Read timed out. (read timeout=10)\"))"
        );
        assert_eq!(
            read_timeout(Some(&target), Duration::from_millis(500)),
            "ReadTimeout(ReadTimeoutError(\"HTTPConnectionPool(host='127.0.0.1', port=57619): \
             Read timed out. (read timeout=0.5)\"))"
        );
        assert_eq!(
            catch_response("no price in it's body"),
            "CatchResponseError(\"no price in it's body\")"
        );
        assert_eq!(catch_response("plain"), "CatchResponseError('plain')");
        assert_eq!(
            invalid_chunk_length(b"zz\r\n"),
            r#"ChunkedEncodingError(ProtocolError("Connection broken: InvalidChunkLength(got length b'zz\\r\\n', 0 bytes read)", InvalidChunkLength(got length b'zz\r\n', 0 bytes read)))"#
        );
        assert_eq!(
            ended_prematurely(),
            "ChunkedEncodingError(ProtocolError('Response ended prematurely'))"
        );
        assert_eq!(
            bad_status_line(b"SSH-2.0-OpenSSH\r\n\r\n"),
            "BadStatusLine('SSH-2.0-OpenSSH\\r\\n')"
        );
    }
}

//! An HTTP/1.1 client that records every request, bound to the user's host.
//!
//! Every user has its own [`HttpClient`] (`ctx.http()`), with one kept-alive connection: a
//! user sends one request at a time, so one connection is all it can use, and no pool lock is
//! shared between users. Requests go to the host of the current iteration (the master's Host
//! field, changed live from the web UI, or `--host`), so a host change reaches the next request.
//!
//! Each request records itself as Locust's `HttpUser` does: the method as type, the path as
//! given (or [`RequestBuilder::name`]) as name, the time until the whole body was read, the
//! body's length; a failure on a connection error, a timeout or a status >= 400. Redirects
//! are followed (up to 30, as `requests` does) and recorded as one request.
//!
//! Built on hyper 1's connection API directly (no reqwest, no hyper-util pool): the fewest
//! crates to compile and no lock or pool bookkeeping per request.
//!
//! Plain `http://` only: there is no TLS here.

use std::fmt::{self, Display};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

pub use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_TYPE, HOST, LOCATION};
pub use hyper::{HeaderMap, Method};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::stats;
mod body;
pub mod cookies;

/// As Locust's FastHttpUser `network_timeout`: long, but a hung server still fails.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// As `requests`' `Session.max_redirects`.
const MAX_REDIRECTS: usize = 30;

/// One user's HTTP client: its host, its default options and its kept-alive connection.
///
/// A task gets its user's client from [`Ctx::http`](crate::Ctx::http):
///
/// ```no_run
/// # async fn task(ctx: &mut boomer_core::Ctx) {
/// // Recorded as GET /hello, a failure if the status is >= 400.
/// ctx.http().get("/hello").send().await;
///
/// // A 404 that is expected: judge the response yourself (catch_response).
/// let mut resp = ctx.http().get("/maybe").name("/maybe [404 ok]").send().await;
/// if resp.status() == 404 {
///     resp.success();
/// }
///
/// // A 200 with the wrong body is a failure too.
/// let mut resp = ctx
///     .http()
///     .post("/api/items")
///     .content_type("application/json")
///     .body(r#"{"id": 1}"#)
///     .send()
///     .await;
/// if resp.ok() && !resp.text().contains("created") {
///     resp.failure("item not created");
/// }
/// # }
/// ```
pub struct HttpClient {
    host: Option<Arc<str>>,
    timeout: Duration,
    keep_alive: bool,
    headers: HeaderMap,
    conn: Option<Conn>,
}

/// A connection kept alive for the next request to the same scheme and authority.
struct Conn {
    authority: String,
    sender: SendRequest<Full<Bytes>>,
    /// hyper's side of the connection, polled by the user's own task while it waits on a
    /// request ([`drive`]): no task of its own, so no wake-up and channel hop per request.
    /// `None` once it ended (the server closed, or an error reached the sender).
    driver: Option<Driver>,
}

type Driver = http1::Connection<TokioIo<TcpStream>, Full<Bytes>>;

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient {
            host: None,
            timeout: DEFAULT_TIMEOUT,
            keep_alive: true,
            headers: HeaderMap::new(),
            conn: None,
        }
    }
}

impl HttpClient {
    /// A client for `host` (e.g. `http://127.0.0.1:8080`), outside any user.
    pub fn new(host: Option<&str>) -> Self {
        HttpClient {
            host: host.map(Into::into),
            ..HttpClient::default()
        }
    }

    /// Follows the user's host; called by `Ctx::http` with the iteration's host.
    pub(crate) fn follow_host(&mut self, host: &Option<Arc<str>>) {
        let same = match (&self.host, host) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if !same {
            self.host = host.clone();
        }
    }

    /// The host paths are relative to.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The timeout of each request from now on (connect, send, whole response); 60 s unless set.
    pub fn set_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = timeout;
        self
    }

    /// Keep-alive off sends `Connection: close` and opens a new connection per request.
    pub fn set_keep_alive(&mut self, keep_alive: bool) -> &mut Self {
        self.keep_alive = keep_alive;
        if !keep_alive {
            self.conn = None;
        }
        self
    }

    /// A header sent with every request from now on (a request's own header wins).
    ///
    /// Nothing asks for compression unless you set `Accept-Encoding` here: responses are
    /// counted as they arrive and never decompressed.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<&mut Self, HttpError> {
        let (name, value) = header_pair(name, value)?;
        self.headers.insert(name, value);
        Ok(self)
    }

    /// A GET request of `path` (relative to the host, or an absolute `http://` URL).
    pub fn get(&mut self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::GET, path)
    }

    /// A POST request.
    pub fn post(&mut self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::POST, path)
    }

    /// A PUT request.
    pub fn put(&mut self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::PUT, path)
    }

    /// A DELETE request.
    pub fn delete(&mut self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::DELETE, path)
    }

    /// A HEAD request.
    pub fn head(&mut self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::HEAD, path)
    }

    /// A PATCH request.
    pub fn patch(&mut self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::PATCH, path)
    }

    /// A request with any method.
    pub fn request(&mut self, method: Method, path: &str) -> RequestBuilder<'_> {
        RequestBuilder {
            timeout: self.timeout,
            keep_alive: self.keep_alive,
            client: self,
            method,
            path: path.to_string(),
            name: None,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            redirects: true,
            error: None,
        }
    }
}

/// One request being set up; [`send`](RequestBuilder::send) sends and records it.
#[must_use = "a request does nothing until it is sent with .send().await"]
pub struct RequestBuilder<'a> {
    client: &'a mut HttpClient,
    method: Method,
    path: String,
    name: Option<String>,
    headers: HeaderMap,
    body: Bytes,
    timeout: Duration,
    keep_alive: bool,
    redirects: bool,
    /// A bad header or an unreadable body file: the request fails with it when sent.
    error: Option<HttpError>,
}

impl RequestBuilder<'_> {
    /// The name in the statistics instead of the path (e.g. `/item/[id]` for `/item/42`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match header_pair(name, value) {
            Ok((name, value)) => {
                self.headers.append(name, value);
            }
            Err(e) => self.error = self.error.or(Some(e)),
        }
        self
    }

    /// Sets `Content-Type`.
    pub fn content_type(self, value: &str) -> Self {
        self.header(CONTENT_TYPE.as_str(), value)
    }

    /// The request body (`Content-Length` is set from it).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// The request body read from a file now; a file that cannot be read fails the request.
    /// In a hot loop, read it once and pass the bytes to [`body`](Self::body) (a clone of
    /// [`Bytes`] is free).
    pub fn body_file(mut self, path: impl AsRef<std::path::Path>) -> Self {
        let path = path.as_ref();
        match std::fs::read(path) {
            Ok(bytes) => self.body = bytes.into(),
            Err(e) => {
                let e = HttpError(format!("cannot read body file {}: {e}", path.display()));
                self.error = self.error.or(Some(e));
            }
        }
        self
    }

    /// This request's timeout, instead of the client's.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Keep-alive for this request, instead of the client's setting.
    pub fn keep_alive(mut self, keep_alive: bool) -> Self {
        self.keep_alive = keep_alive;
        self
    }

    /// Whether to follow redirects (the default, as Locust's `allow_redirects=True`).
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.redirects = follow;
        self
    }

    /// Sends the request, reads the whole response and returns it. The request is recorded
    /// when the [`Response`] is dropped, so its verdict can still be changed until then.
    pub async fn send(self) -> Response {
        let start = Instant::now();
        let name = self.name.clone().unwrap_or_else(|| self.path.clone());
        let method = self.method.clone();
        let timeout = self.timeout;
        let result = match tokio::time::timeout(timeout, self.exchange()).await {
            Ok(result) => result,
            Err(_) => Err(HttpError(format!("timed out after {timeout:?}"))),
        };
        let elapsed = start.elapsed();
        let (status, headers, body, error) = match result {
            Ok(Exchange {
                status,
                headers,
                body,
                url,
            }) => {
                let error = (status >= 400).then(|| status_error(status, &url));
                (status, headers, body, error)
            }
            Err(e) => (0, HeaderMap::new(), Bytes::new(), Some(e.0)),
        };
        Response {
            status,
            headers,
            body,
            elapsed,
            method,
            name,
            error,
            recorded: false,
        }
    }

    async fn exchange(mut self) -> Result<Exchange, HttpError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let mut url = self.url()?;
        let mut method = self.method.clone();
        let mut body = std::mem::take(&mut self.body);
        for _ in 0..=MAX_REDIRECTS {
            let resp = self.once(&method, &url, body.clone()).await?;
            let location = match resp.headers.get(LOCATION) {
                Some(l) if self.redirects && is_redirect(resp.status) => l,
                _ => return Ok(resp),
            };
            let location = location
                .to_str()
                .map_err(|_| HttpError("redirect Location is not text".into()))?;
            url = resolve(&url, location)?;
            // As `requests`: 303, and 301/302 except after HEAD, continue as a bodiless GET.
            if resp.status == 303 || (matches!(resp.status, 301 | 302) && method != Method::HEAD) {
                method = Method::GET;
                body = Bytes::new();
            }
        }
        Err(HttpError(format!("exceeded {MAX_REDIRECTS} redirects")))
    }

    /// The absolute URL: an absolute `http://` path as is, else the host followed by the
    /// path (Locust's `f"{base_url}{path}"`).
    fn url(&self) -> Result<Uri, HttpError> {
        let text = if self.path.starts_with("http://") || self.path.starts_with("https://") {
            self.path.clone()
        } else {
            let host = self.client.host.as_deref().ok_or_else(|| {
                HttpError("no host: set one in the master's Host field or with --host".into())
            })?;
            format!("{}{}", host.trim_end_matches('/'), self.path)
        };
        text.parse()
            .map_err(|e| HttpError(format!("invalid URL {text:?}: {e}")))
    }

    /// One request/response on the kept-alive connection (or a new one).
    async fn once(
        &mut self,
        method: &Method,
        url: &Uri,
        body: Bytes,
    ) -> Result<Exchange, HttpError> {
        let target = Target::of(url)?;
        let reused = self
            .client
            .conn
            .as_ref()
            .is_some_and(|c| c.authority == target.authority && !c.sender.is_closed());
        let req = self.build(method, url, &target, body)?;
        let result = self.round_trip(&target, reused, req.clone_parts()).await;
        let result = match result {
            // The server closed an idle kept-alive connection just as we reused it: retry
            // once on a new one, as urllib3 does.
            Err(RoundTripError::Stale) => self.round_trip(&target, false, req.clone_parts()).await,
            other => other,
        };
        let (parts, body) = result.map_err(RoundTripError::into_error)?;
        if !self.keep_alive {
            self.client.conn = None;
        }
        Ok(Exchange {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
            url: url.clone(),
        })
    }

    fn build(
        &self,
        method: &Method,
        url: &Uri,
        target: &Target,
        body: Bytes,
    ) -> Result<ReqParts, HttpError> {
        let mut headers = self.client.headers.clone();
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
        let host = HeaderValue::from_str(&target.authority)
            .map_err(|_| HttpError(format!("invalid host in {url}")))?;
        headers.insert(HOST, host);
        if !self.keep_alive {
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        let path = url.path_and_query().map_or("/", |p| p.as_str());
        Ok(ReqParts {
            method: method.clone(),
            path: path.to_string(),
            headers,
            body,
        })
    }

    async fn round_trip(
        &mut self,
        target: &Target,
        reuse: bool,
        req: ReqParts,
    ) -> Result<(hyper::http::response::Parts, Bytes), RoundTripError> {
        let (mut sender, mut driver) = match self.client.conn.take() {
            Some(conn) if reuse => (conn.sender, conn.driver),
            _ => {
                let (sender, driver) = connect(target).await.map_err(RoundTripError::Fatal)?;
                (sender, Some(driver))
            }
        };
        let request = req.into_request().map_err(RoundTripError::Fatal)?;
        if drive(&mut driver, sender.ready()).await.is_err() {
            return Err(if reuse {
                RoundTripError::Stale
            } else {
                RoundTripError::Fatal(HttpError("connection closed".into()))
            });
        }
        let resp = match drive(&mut driver, sender.send_request(request)).await {
            Ok(resp) => resp,
            Err(e)
                if reuse && !e.is_timeout() && (e.is_canceled() || e.is_incomplete_message()) =>
            {
                return Err(RoundTripError::Stale)
            }
            Err(e) => return Err(RoundTripError::Fatal(HttpError(e.to_string()))),
        };
        let (parts, body) = resp.into_parts();
        let body = drive(&mut driver, body.collect())
            .await
            .map_err(|e| RoundTripError::Fatal(HttpError(e.to_string())))?
            .to_bytes();
        self.client.conn = Some(Conn {
            authority: target.authority.clone(),
            sender,
            driver,
        });
        Ok((parts, body))
    }
}

/// A response, read whole. It is recorded when dropped: until then, [`success`](Self::success)
/// and [`failure`](Self::failure) change its verdict (Locust's `catch_response`).
pub struct Response {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
    elapsed: Duration,
    method: Method,
    name: String,
    error: Option<String>,
    recorded: bool,
}

impl Response {
    /// The status code; 0 when no response came (connection error, timeout).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// True unless the request is (so far) a failure.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// Why it is a failure, if it is.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The response body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The response body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The time from sending to the end of the body (all redirects included).
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Counts the request as a success, whatever its status.
    pub fn success(&mut self) {
        self.error = None;
    }

    /// Counts the request as a failure with this error.
    pub fn failure(&mut self, error: impl Display) {
        self.error = Some(error.to_string());
    }

    fn record(&mut self) {
        if std::mem::replace(&mut self.recorded, true) {
            return;
        }
        let method = self.method.as_str();
        match &self.error {
            None => stats::record_success(method, &self.name, self.elapsed, self.body.len() as u64),
            Some(e) => stats::record_failure(method, &self.name, self.elapsed, e),
        }
    }
}

impl Drop for Response {
    fn drop(&mut self) {
        self.record();
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("method", &self.method)
            .field("name", &self.name)
            .field("status", &self.status)
            .field("bytes", &self.body.len())
            .field("elapsed", &self.elapsed)
            .field("error", &self.error)
            .finish()
    }
}

/// Why a request could not be set up or sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError(String);

impl Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

// ---------------------------------------------------------------------------------------
// Helpers

struct Exchange {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
    url: Uri,
}

/// Where to connect: `host:port` as sent in the Host header, and the address parts.
#[derive(Debug)]
struct Target {
    authority: String,
    host: String,
    port: u16,
}

impl Target {
    fn of(url: &Uri) -> Result<Target, HttpError> {
        match url.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(HttpError(format!(
                    "{url}: https is not supported by boomer::http (no TLS)"
                )))
            }
            _ => return Err(HttpError(format!("{url}: not an http:// URL"))),
        }
        let authority = url
            .authority()
            .ok_or_else(|| HttpError(format!("{url}: no host")))?;
        let host = authority.host();
        // An IPv6 literal comes bracketed in URLs but not in socket addresses.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        Ok(Target {
            authority: authority.as_str().to_string(),
            host,
            port: authority.port_u16().unwrap_or(80),
        })
    }
}

async fn connect(target: &Target) -> Result<(SendRequest<Full<Bytes>>, Driver), HttpError> {
    let stream = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| HttpError(format!("cannot connect to {}: {e}", target.authority)))?;
    // Requests are small and sent whole: Nagle would only add latency.
    let _ = stream.set_nodelay(true);
    http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| HttpError(format!("{}: {e}", target.authority)))
}

/// Awaits `fut` (the sender's side of a request) while polling the connection's `driver`,
/// which does the actual reads and writes: the fut first (to hand over the request), then
/// the driver, then the fut again (to take the response the driver just handed back).
/// When the driver ends it is dropped, which fails whatever the fut still waits for.
async fn drive<F: Future>(driver: &mut Option<Driver>, fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(out);
        }
        match driver.as_mut() {
            Some(d) => {
                if Pin::new(d).poll(cx).is_ready() {
                    *driver = None;
                }
                fut.as_mut().poll(cx)
            }
            None => Poll::Pending,
        }
    })
    .await
}

/// A request's parts, kept so a stale connection can be retried with the same request.
struct ReqParts {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl ReqParts {
    fn clone_parts(&self) -> ReqParts {
        ReqParts {
            method: self.method.clone(),
            path: self.path.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
        }
    }

    fn into_request(self) -> Result<Request<Full<Bytes>>, HttpError> {
        let mut req = Request::builder()
            .method(self.method)
            .uri(self.path)
            .body(Full::new(self.body))
            .map_err(|e| HttpError(e.to_string()))?;
        *req.headers_mut() = self.headers;
        Ok(req)
    }
}

enum RoundTripError {
    /// A reused connection turned out closed before the request got through.
    Stale,
    Fatal(HttpError),
}

impl RoundTripError {
    fn into_error(self) -> HttpError {
        match self {
            RoundTripError::Stale => HttpError("connection closed by the server".into()),
            RoundTripError::Fatal(e) => e,
        }
    }
}

fn header_pair(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), HttpError> {
    let n = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| HttpError(format!("invalid header name {name:?}")))?;
    let v = HeaderValue::from_str(value)
        .map_err(|_| HttpError(format!("invalid value for header {name}: {value:?}")))?;
    Ok((n, v))
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The URL a `Location` points to from `base`: absolute, absolute-path, or relative.
fn resolve(base: &Uri, location: &str) -> Result<Uri, HttpError> {
    let text = if location.starts_with("http://") || location.starts_with("https://") {
        location.to_string()
    } else {
        let scheme = base.scheme_str().unwrap_or("http");
        let authority = base.authority().map_or("", |a| a.as_str());
        if let Some(rest) = location.strip_prefix("//") {
            format!("{scheme}://{rest}")
        } else if location.starts_with('/') {
            format!("{scheme}://{authority}{location}")
        } else {
            let path = base.path();
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            format!("{scheme}://{authority}{dir}{location}")
        }
    };
    text.parse()
        .map_err(|e| HttpError(format!("invalid redirect Location {location:?}: {e}")))
}

/// The failure text of a status >= 400, as `requests`' `raise_for_status` words it.
fn status_error(status: u16, url: &Uri) -> String {
    let reason = hyper::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let kind = if status < 500 { "Client" } else { "Server" };
    format!("{status} {kind} Error: {reason} for url: {url}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn locations_resolve_as_browsers_do() {
        let base = uri("http://a:8080/x/y?q=1");
        let cases = [
            ("/z", "http://a:8080/z"),
            ("z", "http://a:8080/x/z"),
            ("http://b/c", "http://b/c"),
            ("//b:9/c", "http://b:9/c"),
        ];
        for (loc, want) in cases {
            assert_eq!(resolve(&base, loc).unwrap(), uri(want), "{loc}");
        }
    }

    #[test]
    fn status_errors_read_as_requests_words_them() {
        assert_eq!(
            status_error(404, &uri("http://h/missing")),
            "404 Client Error: Not Found for url: http://h/missing"
        );
        assert_eq!(
            status_error(503, &uri("http://h/")),
            "503 Server Error: Service Unavailable for url: http://h/"
        );
    }

    /// A server that answers one request per connection and then closes it, without
    /// saying so: every reuse finds the connection closed and retries on a new one.
    #[test]
    fn a_connection_closed_while_idle_is_retried() {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let mut out = reader.into_inner();
                let _ = out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            }
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut client = HttpClient::new(Some(&format!("http://127.0.0.1:{port}")));
            for _ in 0..3 {
                let resp = client.get("/").send().await;
                assert_eq!((resp.status(), resp.error()), (200, None));
                assert_eq!(&resp.body()[..], b"ok");
                // Let the server close the connection while it is idle.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    }

    #[test]
    fn targets_need_plain_http() {
        let t = Target::of(&uri("http://[::1]:81/p")).unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.authority.as_str()),
            ("::1", 81, "[::1]:81")
        );
        assert_eq!(Target::of(&uri("http://h/")).unwrap().port, 80);
        assert!(Target::of(&uri("https://h/"))
            .unwrap_err()
            .0
            .contains("TLS"));
    }
}

//! An HTTP client that records every request, bound to the user's host: HTTP/1.1 and
//! HTTP/2, over TLS or not, with a cookie jar per user, as `requests.Session` keeps one.
//!
//! Every user has its own [`HttpClient`] (`ctx.http()`), with one kept-alive connection: a
//! user sends one request at a time, so one connection is all it can use, and no pool lock is
//! shared between users. Requests go to the host of the current iteration (the master's Host
//! field, changed live from the web UI, or `--host`), so a host change reaches the next request.
//!
//! Each request records itself as Locust's `HttpUser` does: the method as type, the path and
//! query asked for (the host's own path included, as `request.path_url`; or
//! [`RequestBuilder::name`]) as name, the time until the whole body was read, the body's
//! length (of failed responses too); a failure on a connection error, a timeout or a status
//! from 400 to 599. Failures read as a Python worker's, byte for byte, so that a fleet of
//! Rust and Python workers shares the master's failure rows:
//! `HTTPError('404 Client Error: Not Found for url: /missing')`,
//! `ConnectionRefusedError(111, 'Connection refused')`, `ReadTimeout(...)`,
//! `CatchResponseError('text')` for [`Response::failure`]. Redirects are followed (up to 30,
//! as `requests` does, across http and https) and recorded as one request.
//!
//! - **HTTPS** with rustls: the system's CAs, plus `--ca-cert FILE`; `--client-cert` and
//!   `--client-key` for mTLS; `--insecure` to skip verification (staging). TLS sessions are
//!   resumed on reconnect. In code: [`HttpConfig`] through `Builder::http_config`.
//! - **HTTP/2** by ALPN on https unless `--http1-only`; h2c on http with
//!   `--http2-prior-knowledge`.
//! - **Sessions**: cookies are kept per user (RFC 6265), see [`HttpClient::cookies`].
//! - **Bodies**: [`RequestBuilder::json`], [`form`](RequestBuilder::form),
//!   [`query`](RequestBuilder::query), [`Response::json`]; `gzip`, `deflate` and `br`
//!   responses are decoded when the request asked for them with `Accept-Encoding`.
//! - **Timings** beyond Locust's: [`Response::timings`] (connect, TLS, time to first byte,
//!   body, reuse), as k6 reports them.
//!
//! HTTP/1.1 goes through a lean loop of our own (`h1.rs`: request bytes reused, response
//! parsed in place); HTTP/2 straight on the `h2` crate.

mod body;
mod config;
mod conn;
pub mod cookies;
mod h1;
mod h2;
mod pyerr;
mod url;

use std::borrow::Cow;
use std::fmt::{self, Display};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::{Duration, Instant};

pub use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::header::{
    ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, COOKIE, HOST, LOCATION,
    SET_COOKIE,
};
pub use hyper::{HeaderMap, Method, Version};

use self::config::Shared;
pub use self::config::{HttpConfig, HttpOptions};
pub use self::cookies::CookieJar;
use self::h1::{Failed, H1};
use self::h2::H2;
use self::url::Target;
use crate::stats;

/// Makes `shared` the configuration of every client made from now on (at start-up).
pub(crate) fn install_config(shared: Shared) {
    config::install(Arc::new(shared));
}

/// As Locust's FastHttpUser `network_timeout`: long, but a hung server still fails.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// As `requests`' `Session.max_redirects`.
const MAX_REDIRECTS: usize = 30;
/// A decoded (decompressed) body larger than this is a failure, not an allocation.
const MAX_DECODED: usize = 256 * 1024 * 1024;

/// One user's HTTP client: its host, its default options, its cookies and its kept-alive
/// connection.
///
/// A task gets its user's client from [`Ctx::http`](crate::Ctx::http):
///
/// ```no_run
/// # async fn task(ctx: &mut boomer_core::Ctx) {
/// // Recorded as GET /hello, a failure if the status is 400 to 599.
/// ctx.http().get("/hello").send().await;
///
/// // A 404 that is expected: judge the response yourself (catch_response).
/// let mut resp = ctx.http().get("/maybe").name("/maybe [404 ok]").send().await;
/// if resp.status() == 404 {
///     resp.success();
/// }
///
/// // JSON both ways; a 200 with the wrong body is a failure too.
/// #[derive(serde::Deserialize)]
/// struct Created { id: u64 }
/// let mut resp = ctx.http().post("/api/items").json(&serde_json::json!({"name": "x"})).send().await;
/// match resp.json::<Created>() {
///     Ok(item) if item.id > 0 => {}
///     _ => resp.failure("item not created"),
/// }
/// # }
/// ```
pub struct HttpClient {
    host: Option<Arc<str>>,
    timeout: Duration,
    keep_alive: bool,
    headers: HeaderMap,
    /// Bumped when `headers` change, so prepared request bytes are rebuilt.
    headers_version: u64,
    jar: CookieJar,
    cookies_on: bool,
    shared: Arc<Shared>,
    conn: Option<Conn>,
    /// The last plain request's bytes, sent again as they are while nothing changes.
    prepared: Option<Prepared>,
    deadline: Deadline,
}

/// A connection kept alive for the next request to the same origin.
struct Conn {
    origin: Arc<Target>,
    proto: Proto,
}

enum Proto {
    H1(H1),
    H2(H2),
}

impl Conn {
    fn usable(&self) -> bool {
        match &self.proto {
            Proto::H1(h1) => h1.reusable,
            Proto::H2(h2) => h2.usable(),
        }
    }
}

/// A request that carried nothing but its method and path, kept with its bytes.
struct Prepared {
    method: Method,
    host: Option<Arc<str>>,
    path: String,
    keep_alive: bool,
    headers_version: u64,
    target: Arc<Target>,
    name: Arc<str>,
    head: Vec<u8>,
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient::with_shared(None, Shared::global())
    }
}

impl HttpClient {
    /// A client for `host` (e.g. `http://127.0.0.1:8080`), outside any user, with the
    /// process's configuration (the command line's TLS flags).
    pub fn new(host: Option<&str>) -> Self {
        HttpClient::with_shared(host.map(Into::into), Shared::global())
    }

    /// A client for `host` with a configuration of its own; a file the configuration names
    /// that cannot be read is an error.
    pub fn with_config(host: Option<&str>, config: &HttpConfig) -> Result<Self, HttpError> {
        Ok(HttpClient::with_shared(
            host.map(Into::into),
            Arc::new(config.build()?),
        ))
    }

    fn with_shared(host: Option<Arc<str>>, shared: Arc<Shared>) -> Self {
        HttpClient {
            host,
            timeout: DEFAULT_TIMEOUT,
            keep_alive: true,
            headers: HeaderMap::new(),
            headers_version: 0,
            jar: CookieJar::default(),
            cookies_on: true,
            shared,
            conn: None,
            prepared: None,
            deadline: Deadline::default(),
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

    /// The timeout of each request from now on (connect, send, whole response, redirects
    /// included); 60 s unless set.
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
    /// Nothing asks for compression unless `Accept-Encoding` is set (here or on a request):
    /// then `gzip`, `deflate` and `br` responses are decoded, and their decoded length is
    /// recorded.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<&mut Self, HttpError> {
        let (name, value) = header_pair(name, value)?;
        self.headers.insert(name, value);
        self.headers_version += 1;
        Ok(self)
    }

    /// Removes a header set with [`set_header`](Self::set_header).
    pub fn remove_header(&mut self, name: &str) -> &mut Self {
        self.headers.remove(name);
        self.headers_version += 1;
        self
    }

    /// Sends `Authorization: Bearer <token>` with every request from now on.
    pub fn set_bearer_auth(&mut self, token: &str) -> Result<&mut Self, HttpError> {
        self.set_header(AUTHORIZATION.as_str(), &format!("Bearer {token}"))
    }

    /// This user's cookies: what the servers set, sent back as a browser would.
    ///
    /// ```no_run
    /// # async fn task(ctx: &mut boomer_core::Ctx) {
    /// ctx.http().post("/login").form(&[("user", "u1"), ("password", "p")]).send().await;
    /// let logged_in = ctx.http().cookies().get("session").is_some();
    /// # let _ = logged_in;
    /// # }
    /// ```
    pub fn cookies(&self) -> &CookieJar {
        &self.jar
    }

    /// This user's cookies, to set or remove some.
    pub fn cookies_mut(&mut self) -> &mut CookieJar {
        &mut self.jar
    }

    /// With `false`, cookies are neither sent nor stored (the jar keeps what it has).
    pub fn set_cookies_enabled(&mut self, on: bool) -> &mut Self {
        self.cookies_on = on;
        self
    }

    /// Closes the kept-alive connection (the next request opens a new one).
    pub fn close(&mut self) {
        self.conn = None;
    }

    /// A GET request of `path` (relative to the host, or an absolute `http(s)://` URL).
    pub fn get<'a>(&'a mut self, path: &'a str) -> RequestBuilder<'a> {
        self.request(Method::GET, path)
    }

    /// A POST request.
    pub fn post<'a>(&'a mut self, path: &'a str) -> RequestBuilder<'a> {
        self.request(Method::POST, path)
    }

    /// A PUT request.
    pub fn put<'a>(&'a mut self, path: &'a str) -> RequestBuilder<'a> {
        self.request(Method::PUT, path)
    }

    /// A DELETE request.
    pub fn delete<'a>(&'a mut self, path: &'a str) -> RequestBuilder<'a> {
        self.request(Method::DELETE, path)
    }

    /// A HEAD request.
    pub fn head<'a>(&'a mut self, path: &'a str) -> RequestBuilder<'a> {
        self.request(Method::HEAD, path)
    }

    /// A PATCH request.
    pub fn patch<'a>(&'a mut self, path: &'a str) -> RequestBuilder<'a> {
        self.request(Method::PATCH, path)
    }

    /// A request with any method.
    pub fn request<'a>(&'a mut self, method: Method, path: &'a str) -> RequestBuilder<'a> {
        RequestBuilder {
            timeout: self.timeout,
            keep_alive: self.keep_alive,
            client: self,
            method,
            path: Cow::Borrowed(path),
            name: None,
            headers: None,
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
    path: Cow<'a, str>,
    name: Option<Cow<'a, str>>,
    /// `None` until a header is added: the fast path sends prepared bytes.
    headers: Option<HeaderMap>,
    body: Bytes,
    timeout: Duration,
    keep_alive: bool,
    redirects: bool,
    /// A bad header, query or body: the request fails with it when sent.
    error: Option<HttpError>,
}

impl<'a> RequestBuilder<'a> {
    /// The name in the statistics instead of the path (e.g. `/item/[id]` for `/item/42`).
    pub fn name(mut self, name: impl Into<Cow<'a, str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds a header (it replaces a client-wide header of the same name).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match header_pair(name, value) {
            Ok((name, value)) => {
                self.headers
                    .get_or_insert_with(HeaderMap::new)
                    .append(name, value);
            }
            Err(e) => self.fail(e),
        }
        self
    }

    fn fail(&mut self, e: HttpError) {
        self.error.get_or_insert(e);
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

    /// A JSON body (and `Content-Type: application/json`), from any serde value.
    ///
    /// ```no_run
    /// # async fn task(ctx: &mut boomer_core::Ctx) {
    /// #[derive(serde::Serialize)]
    /// struct Login<'a> { username: &'a str, password: &'a str }
    /// ctx.http().post("/login").json(&Login { username: "u", password: "p" }).send().await;
    /// # }
    /// ```
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Self {
        self.encoded_body(body::encode_json(value), "application/json")
    }

    /// A form body (`application/x-www-form-urlencoded`), from pairs or a serde struct.
    pub fn form<T: serde::Serialize + ?Sized>(self, form: &T) -> Self {
        self.encoded_body(body::encode_form(form), "application/x-www-form-urlencoded")
    }

    fn encoded_body(mut self, encoded: Result<Bytes, HttpError>, content_type: &str) -> Self {
        match encoded {
            Ok(bytes) => {
                self.body = bytes;
                self.content_type(content_type)
            }
            Err(e) => {
                self.fail(e);
                self
            }
        }
    }

    /// Query parameters appended to the path (`?a=1&b=x+y`), from pairs or a serde
    /// struct. As with Locust's `get("/search", params=...)`, the recorded name is the path
    /// with its query: give a [`name`](Self::name) to group them.
    ///
    /// ```no_run
    /// # async fn task(ctx: &mut boomer_core::Ctx) {
    /// ctx.http().get("/search").query(&[("q", "red shoes"), ("page", "2")]).send().await;
    /// # }
    /// ```
    pub fn query<T: serde::Serialize + ?Sized>(mut self, query: &T) -> Self {
        match body::encode_query(query) {
            Ok(encoded) => {
                let mut path = self.path.into_owned();
                body::append_query(&mut path, &encoded);
                self.path = Cow::Owned(path);
            }
            Err(e) => self.fail(e),
        }
        self
    }

    /// HTTP basic authentication (`Authorization: Basic ...`).
    pub fn basic_auth(self, user: &str, password: Option<&str>) -> Self {
        let value = body::basic_auth(user, password);
        self.header(AUTHORIZATION.as_str(), &value)
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer_auth(self, token: &str) -> Self {
        self.header(AUTHORIZATION.as_str(), &format!("Bearer {token}"))
    }

    /// The request body read from a file now; a file that cannot be read fails the request.
    /// In a hot loop, read it once and pass the bytes to [`body`](Self::body) (a clone of
    /// [`Bytes`] is free).
    pub fn body_file(mut self, path: impl AsRef<std::path::Path>) -> Self {
        let path = path.as_ref();
        match std::fs::read(path) {
            Ok(bytes) => self.body = bytes.into(),
            Err(e) => self.fail(HttpError::new(format!(
                "cannot read body file {}: {e}",
                path.display()
            ))),
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
        // In flight until the Response exists, so a stopped user is not dropped mid-request.
        let _in_flight = crate::users::signal::begin_request().await;
        let start = Instant::now();
        let timeout = self.timeout;
        let deadline = tokio::time::Instant::from_std(start) + timeout;
        let method = self.method.clone();
        let name_hint = self.name.clone();
        let path = self.path.clone();
        let client = &mut *self.client;
        let mut timer = std::mem::take(&mut client.deadline);
        let request = Request {
            method: self.method,
            path: self.path,
            headers: self.headers,
            body: self.body,
            keep_alive: self.keep_alive,
            redirects: self.redirects,
            error: self.error,
            started: start,
        };
        let result = {
            // Pinned here and lent to `run`: a future passed by value would be carried (and
            // copied) twice more, kilobytes per request.
            let mut exchange = std::pin::pin!(client.exchange(request));
            timer.run(deadline, exchange.as_mut()).await
        };
        client.deadline = timer;
        let end = Instant::now();
        // An arrival-driven iteration's first request counts from when it was due.
        let elapsed = end
            .saturating_duration_since(start)
            .saturating_add(crate::users::signal::take_current_late());
        let (mut ex, error) = match result {
            Some(Ok(ex)) => (ex, None),
            Some(Err(e)) => (Exchange::failed(), Some(e.0)),
            None => {
                // The connection is mid-exchange: it cannot be reused.
                client.conn = None;
                let target = client.absolute(&path).ok();
                let target = target.and_then(|url| Target::parse(&url).ok());
                let e = pyerr::read_timeout(target.as_ref(), timeout);
                (Exchange::failed(), Some(e))
            }
        };
        if let Some(first_byte) = ex.first_byte {
            ex.timings.body = end.saturating_duration_since(first_byte);
        }
        let name = client.name_of(name_hint, &path, &ex);
        let error = error.or_else(|| {
            pyerr::is_failure_status(ex.status)
                .then(|| pyerr::status(ex.status, &ex.reason(), &name))
        });
        Response {
            status: ex.status,
            version: ex.version,
            head: ex.head,
            headers: ex.headers,
            body: ex.body,
            elapsed,
            timings: ex.timings,
            method,
            name,
            error,
            recorded: false,
        }
    }
}

/// What a request carries into the exchange.
struct Request<'a> {
    method: Method,
    path: Cow<'a, str>,
    headers: Option<HeaderMap>,
    body: Bytes,
    keep_alive: bool,
    redirects: bool,
    error: Option<HttpError>,
    /// When `send` began: the first request on a kept-alive connection is sent then (one
    /// clock read less per request).
    started: Instant,
}

impl Request<'_> {
    fn accepts_encoding(&self, client: &HeaderMap) -> bool {
        self.headers
            .as_ref()
            .is_some_and(|h| h.contains_key(ACCEPT_ENCODING))
            || client.contains_key(ACCEPT_ENCODING)
    }
}

/// A response read whole, before it becomes a [`Response`].
struct Exchange {
    status: u16,
    version: Version,
    head: Bytes,
    headers: OnceLock<HeaderMap>,
    body: Bytes,
    /// The URL it answered (set once the exchange is done).
    target: Option<Arc<Target>>,
    /// The URL first asked for, before any redirect: its path is the default name.
    requested: Option<Arc<Target>>,
    timings: Timings,
    /// The name of the prepared request that was sent, if it was one.
    prepared_name: Option<Arc<str>>,
    /// When the response's first byte came: `send` reads the clock once at the end, for
    /// the response time and the body's phase alike.
    first_byte: Option<Instant>,
}

impl Exchange {
    fn failed() -> Exchange {
        Exchange {
            status: 0,
            version: Version::HTTP_11,
            head: Bytes::new(),
            headers: OnceLock::new(),
            body: Bytes::new(),
            target: None,
            requested: None,
            timings: Timings::default(),
            prepared_name: None,
            first_byte: None,
        }
    }

    /// The headers, if they were parsed: HTTP/1.1 parses them only when one the client acts
    /// on (Set-Cookie, Location, Content-Encoding) is there.
    fn parsed_headers(&self) -> Option<&HeaderMap> {
        self.headers.get()
    }

    /// The reason phrase: the server's, from HTTP/1.1's status line (decoded as `requests`
    /// does: UTF-8, else ISO-8859-1), else the standard one.
    fn reason(&self) -> Cow<'_, str> {
        let line = self.head.split(|&b| b == b'\n').next().unwrap_or(&[]);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut parts = line.splitn(3, |&b| b == b' ');
        if let (Some(_), Some(_), Some(reason)) = (parts.next(), parts.next(), parts.next()) {
            return match std::str::from_utf8(reason) {
                Ok(text) => Cow::Borrowed(text),
                Err(_) => Cow::Owned(reason.iter().map(|&b| char::from(b)).collect()),
            };
        }
        let standard = hyper::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason());
        Cow::Borrowed(standard.unwrap_or(""))
    }
}

impl HttpClient {
    /// The request and its redirects.
    async fn exchange(&mut self, mut req: Request<'_>) -> Result<Exchange, HttpError> {
        if let Some(e) = req.error.take() {
            return Err(e);
        }
        let decode = req.accepts_encoding(&self.headers);
        let mut target = None;
        let mut first = None;
        for _ in 0..=MAX_REDIRECTS {
            let mut ex = self.once(&mut req, target.take()).await?;
            if first.is_none() {
                first = ex.target.clone();
            }
            ex.requested = first.clone();
            let (Some(here), Some(headers)) = (ex.target.clone(), ex.parsed_headers()) else {
                return Ok(ex);
            };
            if self.cookies_on && headers.contains_key(SET_COOKIE) {
                self.store_cookies(&here, headers);
            }
            let location = headers
                .get(LOCATION)
                .filter(|_| req.redirects && is_redirect(ex.status));
            let Some(location) = location else {
                if decode {
                    decode_body(&mut ex)?;
                }
                return Ok(ex);
            };
            let location = location
                .to_str()
                .map_err(|_| HttpError::new("redirect Location is not text"))?;
            let next = here.resolve(location)?;
            // As `requests`: 303, and 301/302 except after HEAD, continue as a bodiless GET;
            // credentials are not sent to another host.
            if ex.status == 303 || (matches!(ex.status, 301 | 302) && req.method != Method::HEAD) {
                req.method = Method::GET;
                req.body = Bytes::new();
            }
            if next.host != here.host {
                if let Some(h) = req.headers.as_mut() {
                    h.remove(AUTHORIZATION);
                }
            }
            target = Some(Arc::new(next));
        }
        Err(HttpError::new(format!(
            "exceeded {MAX_REDIRECTS} redirects"
        )))
    }

    fn store_cookies(&mut self, url: &Target, headers: &HeaderMap) {
        match ::url::Url::parse(&url.to_string()) {
            Ok(url) => self.jar.store_response(
                &url,
                headers.get_all(SET_COOKIE).iter().map(|v| v.as_bytes()),
            ),
            Err(e) => tracing::debug!("cookies of {url} not stored: {e}"),
        }
    }

    fn cookie_header(&self, target: &Target) -> Option<String> {
        if !self.cookies_on || self.jar.is_empty() {
            return None;
        }
        let url = ::url::Url::parse(&target.to_string()).ok()?;
        self.jar.request_header(&url)
    }

    /// One request/response, on the kept-alive connection if it still serves this origin.
    /// `hop` is a redirect's target; the first request's comes from the path.
    async fn once(
        &mut self,
        req: &mut Request<'_>,
        hop: Option<Arc<Target>>,
    ) -> Result<Exchange, HttpError> {
        let first_hop = hop.is_none();
        let fast = first_hop
            && req.headers.is_none()
            && req.body.is_empty()
            && (!self.cookies_on || self.jar.is_empty());
        // A plain request like the last one reuses its parsed target and bytes; another
        // plain one replaces them (the retry below and `send_on_conn` use what is there).
        let version = self.headers_version;
        let hit = self
            .prepared
            .as_ref()
            .filter(|p| fast && p.matches(req, &self.host, version))
            .map(|p| p.target.clone());
        let target = match (hop, hit) {
            (Some(t), _) | (None, Some(t)) => t,
            (None, None) => {
                let target = Arc::new(Target::parse(&self.absolute(&req.path)?)?);
                if fast {
                    let p = Prepared::new(req, &target, &self.host, &self.headers, version);
                    self.prepared = Some(p);
                }
                target
            }
        };
        let mut timings;
        let mut retried = false;
        // One await of each (not a second pair for the retry): the future stays small.
        let result = loop {
            timings = Timings::default();
            timings.reused = self.connect(&target, &mut timings).await?;
            match self.send_on_conn(req, &target, fast, &mut timings).await {
                // The server closed the idle connection as we reused it: once more on a new
                // one, as urllib3 does.
                Err(Failed::Stale) if !retried => {
                    self.conn = None;
                    retried = true;
                }
                other => break other,
            }
        };
        let mut ex = match result {
            Ok(ex) => ex,
            Err(Failed::Stale) => {
                self.conn = None;
                return Err(HttpError::new(pyerr::remote_disconnected()));
            }
            Err(Failed::Fatal(e)) => {
                self.conn = None;
                return Err(e);
            }
        };
        if !req.keep_alive || !self.conn.as_ref().is_some_and(Conn::usable) {
            self.conn = None;
        }
        ex.target = Some(target);
        ex.timings = timings;
        Ok(ex)
    }

    /// Makes sure a connection to `target`'s origin is open: true if an open one is reused.
    async fn connect(&mut self, target: &Arc<Target>, t: &mut Timings) -> Result<bool, HttpError> {
        if let Some(conn) = &self.conn {
            if conn.origin.same_origin(target) && conn.usable() {
                return Ok(true);
            }
        }
        self.conn = None;
        // Boxed, as the HTTP/2 exchange below: the connect and handshake futures are
        // kilobytes that every request's future would otherwise carry and copy (measured:
        // ~3 % of the worker's CPU in memmove on HTTP/1.1, BENCHMARKS.md §2b).
        let opened = Box::pin(conn::open(target, &self.shared)).await?;
        t.connect = opened.connect;
        t.tls_handshake = opened.tls;
        t.tls_resumed = opened.resumed;
        let proto = if opened.h2 {
            Proto::H2(Box::pin(H2::handshake(opened.stream, &target.authority)).await?)
        } else {
            Proto::H1(H1::new(opened.stream))
        };
        self.conn = Some(Conn {
            origin: Arc::clone(target),
            proto,
        });
        Ok(false)
    }

    async fn send_on_conn(
        &mut self,
        req: &Request<'_>,
        target: &Arc<Target>,
        fast: bool,
        t: &mut Timings,
    ) -> Result<Exchange, Failed> {
        let reused = t.reused;
        // A plain first request on a kept-alive connection goes out at once: `send`'s own
        // start stands for when it was sent.
        let sent = if reused && fast {
            req.started
        } else {
            Instant::now()
        };
        let cookie = self.cookie_header(target);
        let Some(conn) = self.conn.as_mut() else {
            return Err(Failed::Fatal(HttpError::new("no connection")));
        };
        match &mut conn.proto {
            Proto::H1(h1) => {
                let head_only = req.method == Method::HEAD;
                let mut prepared_name = None;
                let raw = if let Some(p) = self.prepared.as_ref().filter(|_| fast) {
                    prepared_name = Some(p.name.clone());
                    h1.exchange(&p.head, &[], head_only, reused).await?
                } else {
                    let mut head = Vec::with_capacity(256);
                    write_head(&mut head, req, target, &self.headers, cookie.as_deref());
                    h1.exchange(&head, &req.body, head_only, reused).await?
                };
                t.time_to_first_byte = raw.first_byte.saturating_duration_since(sent);
                let headers = OnceLock::new();
                if raw.set_cookie || raw.location || raw.content_encoding {
                    let _ = headers.set(h1::header_map(&raw.head));
                }
                Ok(Exchange {
                    status: raw.status,
                    version: Version::HTTP_11,
                    head: raw.head,
                    headers,
                    body: raw.body,
                    target: None,
                    requested: None,
                    timings: Timings::default(),
                    prepared_name,
                    first_byte: Some(raw.first_byte),
                })
            }
            Proto::H2(h2) => {
                let uri = h2.uri(target)?;
                let request = h2_request(req, uri, &self.headers, cookie.as_deref())?;
                let raw = Box::pin(h2.exchange(request, req.body.clone(), reused)).await?;
                t.time_to_first_byte = raw.first_byte.saturating_duration_since(sent);
                let headers = OnceLock::new();
                let _ = headers.set(raw.headers);
                Ok(Exchange {
                    status: raw.status,
                    version: Version::HTTP_2,
                    head: Bytes::new(),
                    headers,
                    body: raw.body,
                    target: None,
                    requested: None,
                    timings: Timings::default(),
                    prepared_name: None,
                    first_byte: Some(raw.first_byte),
                })
            }
        }
    }

    /// The absolute URL: an absolute `http(s)://` path as is, else the host followed by the
    /// path (Locust's `f"{base_url}{path}"`).
    fn absolute<'p>(&self, path: &'p str) -> Result<Cow<'p, str>, HttpError> {
        if has_scheme(path) {
            return Ok(Cow::Borrowed(path));
        }
        let host = self.host.as_deref().ok_or_else(|| {
            HttpError::new("no host: set one in the master's Host field or with --host")
        })?;
        Ok(Cow::Owned(format!("{}{path}", host.trim_end_matches('/'))))
    }

    /// The recorded name: `.name()`, else the path and query of the URL first asked for
    /// (Locust's `request.path_url`: the host's own path included, absolute URLs by their
    /// path); the prepared request's `Arc` when it is the same text, so the fast path
    /// allocates no name.
    fn name_of(&self, hint: Option<Cow<'_, str>>, path: &str, ex: &Exchange) -> Arc<str> {
        if let Some(name) = hint {
            return Arc::from(&*name);
        }
        if let Some(name) = &ex.prepared_name {
            return Arc::clone(name);
        }
        if let Some(target) = &ex.requested {
            return Arc::from(target.path.as_str());
        }
        // No exchange (a connection error, a timeout): the URL it would have asked for.
        let target = self.absolute(path).ok();
        match target.and_then(|url| Target::parse(&url).ok()) {
            Some(t) => Arc::from(t.path.as_str()),
            None => Arc::from(path),
        }
    }
}

fn has_scheme(path: &str) -> bool {
    let lower = |n: usize| path.get(..n).map(str::to_ascii_lowercase);
    lower(7).as_deref() == Some("http://") || lower(8).as_deref() == Some("https://")
}

fn same_host(a: &Option<Arc<str>>, b: &Option<Arc<str>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
        (None, None) => true,
        _ => false,
    }
}

impl Prepared {
    fn new(
        req: &Request<'_>,
        target: &Arc<Target>,
        host: &Option<Arc<str>>,
        headers: &HeaderMap,
        headers_version: u64,
    ) -> Prepared {
        let mut head = Vec::with_capacity(128);
        write_head(&mut head, req, target, headers, None);
        Prepared {
            method: req.method.clone(),
            host: host.clone(),
            path: req.path.to_string(),
            keep_alive: req.keep_alive,
            headers_version,
            target: Arc::clone(target),
            name: Arc::from(target.path.as_str()),
            head,
        }
    }

    /// `req` would be sent as these same bytes.
    fn matches(&self, req: &Request<'_>, host: &Option<Arc<str>>, headers_version: u64) -> bool {
        self.method == req.method
            && self.keep_alive == req.keep_alive
            && self.headers_version == headers_version
            && self.path == req.path
            && same_host(&self.host, host)
    }
}

/// Writes an HTTP/1.1 request head: the request line, `Host`, the client's headers that
/// the request does not set itself, the request's, the cookies, the framing.
fn write_head(
    out: &mut Vec<u8>,
    req: &Request<'_>,
    target: &Target,
    client: &HeaderMap,
    cookie: Option<&str>,
) {
    let own = req.headers.as_ref();
    let sets = |name: &HeaderName| own.is_some_and(|h| h.contains_key(name));
    out.extend_from_slice(req.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if !sets(&HOST) && !client.contains_key(HOST) {
        out.extend_from_slice(b"Host: ");
        out.extend_from_slice(target.authority.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let framing = |n: &HeaderName| {
        n == hyper::header::CONTENT_LENGTH || n == hyper::header::TRANSFER_ENCODING
    };
    for (name, value) in client.iter() {
        if !sets(name) && !framing(name) {
            push_header(out, name.as_str(), value.as_bytes());
        }
    }
    for (name, value) in own.into_iter().flat_map(|h| h.iter()) {
        if !framing(name) {
            push_header(out, name.as_str(), value.as_bytes());
        }
    }
    if let Some(cookie) = cookie {
        push_header(out, "cookie", cookie.as_bytes());
    }
    if !req.body.is_empty() || matches!(req.method, Method::POST | Method::PUT | Method::PATCH) {
        push_header(out, "content-length", req.body.len().to_string().as_bytes());
    }
    if !req.keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The same request for HTTP/2 (`h2` takes `:scheme` and `:authority` from the absolute URI).
fn h2_request(
    req: &Request<'_>,
    uri: hyper::Uri,
    client: &HeaderMap,
    cookie: Option<&str>,
) -> Result<hyper::Request<()>, Failed> {
    let mut builder = hyper::Request::builder()
        .method(req.method.clone())
        .uri(uri)
        .version(Version::HTTP_2);
    let mut headers = client.clone();
    if let Some(own) = &req.headers {
        for name in own.keys() {
            headers.remove(name);
        }
        for (name, value) in own {
            headers.append(name.clone(), value.clone());
        }
    }
    // HTTP/2 carries the host as `:authority` and forbids connection-specific headers.
    for name in [
        HOST,
        hyper::header::CONNECTION,
        hyper::header::TRANSFER_ENCODING,
    ] {
        headers.remove(name);
    }
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        headers.insert(COOKIE, cookie);
    }
    if let Some(h) = builder.headers_mut() {
        *h = headers;
    }
    builder
        .body(())
        .map_err(|e| Failed::Fatal(HttpError::new(format!("invalid request: {e}"))))
}

fn decode_body(ex: &mut Exchange) -> Result<(), HttpError> {
    let Some(coding) = ex.parsed_headers().and_then(|h| h.get(CONTENT_ENCODING)) else {
        return Ok(());
    };
    let coding = coding.as_bytes().to_vec();
    let body = std::mem::take(&mut ex.body);
    ex.body = body::decode(&coding, body, MAX_DECODED)?;
    Ok(())
}

/// Where the time of one request went (the last one, after redirects), as k6 reports it.
/// Locust's response time is [`Response::elapsed`]: from sending to the end of the body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// Name resolution and the TCP handshake (zero on a reused connection).
    pub connect: Duration,
    /// The TLS handshake (zero on plain http or a reused connection).
    pub tls_handshake: Duration,
    /// From sending the request to the first byte of the response (the server's time).
    pub time_to_first_byte: Duration,
    /// From the first byte to the end of the body.
    pub body: Duration,
    /// The request went on a connection kept alive from an earlier one.
    pub reused: bool,
    /// The TLS handshake resumed an earlier session (no full handshake).
    pub tls_resumed: bool,
}

/// A response, read whole. It is recorded when dropped: until then, [`success`](Self::success)
/// and [`failure`](Self::failure) change its verdict (Locust's `catch_response`).
pub struct Response {
    status: u16,
    version: Version,
    /// HTTP/1.1's raw head, parsed into `headers` on first use.
    head: Bytes,
    headers: OnceLock<HeaderMap>,
    body: Bytes,
    elapsed: Duration,
    timings: Timings,
    method: Method,
    name: Arc<str>,
    error: Option<String>,
    recorded: bool,
}

impl Response {
    /// The status code; 0 when no response came (connection error, timeout).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The name it is recorded under: `.name()`, else the path and query asked for.
    pub fn name(&self) -> &str {
        &self.name
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
        self.headers.get_or_init(|| h1::header_map(&self.head))
    }

    /// One header's value as text, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// The response body (decoded when the request asked for compression).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The response body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The body parsed as JSON into any serde type (or `serde_json::Value`).
    ///
    /// ```no_run
    /// # async fn task(ctx: &mut boomer_core::Ctx) {
    /// #[derive(serde::Deserialize)]
    /// struct Token { token: String }
    /// let mut resp = ctx.http().post("/login").json(&[("user", "u1")]).send().await;
    /// match resp.json::<Token>() {
    ///     Ok(t) => ctx.http().set_bearer_auth(&t.token).map(|_| ()).unwrap_or(()),
    ///     Err(e) => resp.failure(e),
    /// }
    /// # }
    /// ```
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| HttpError::new(format!("the response is not the JSON expected: {e}")))
    }

    /// HTTP/1.1 or HTTP/2.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The time from sending to the end of the body (all redirects included): the response
    /// time recorded. For the first request of an arrival-driven iteration it counts from
    /// when the iteration was due (`--latency-from due`, the default).
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Where the time went: connect, TLS, time to first byte, body; whether the connection
    /// was reused.
    pub fn timings(&self) -> &Timings {
        &self.timings
    }

    /// Counts the request as a success, whatever its status.
    pub fn success(&mut self) {
        self.error = None;
    }

    /// Counts the request as a failure with this error. The master shows it as a Python
    /// worker's `response.failure(text)`: `CatchResponseError('text')`.
    pub fn failure(&mut self, error: impl Display) {
        self.error = Some(pyerr::catch_response(&error.to_string()));
    }

    fn record(&mut self) {
        if std::mem::replace(&mut self.recorded, true) {
            return;
        }
        let method = self.method.as_str();
        match &self.error {
            None => stats::record_success(method, &self.name, self.elapsed, self.body.len() as u64),
            Some(e) => {
                let bytes = self.body.len() as u64;
                stats::record_failure_sized(method, &self.name, self.elapsed, bytes, e)
            }
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
            .field("version", &self.version)
            .field("bytes", &self.body.len())
            .field("elapsed", &self.elapsed)
            .field("timings", &self.timings)
            .field("error", &self.error)
            .finish()
    }
}

/// Why a request could not be set up or sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

impl HttpError {
    pub(crate) fn new(text: impl Into<String>) -> Self {
        HttpError(text.into())
    }
}

/// The request timeout without a timer per request: one `Sleep` per client, moved only
/// when it fires before the current request's deadline (with a 60 s timeout, about once a
/// minute) or when a request's deadline is earlier than the one it is set to.
#[derive(Default)]
struct Deadline {
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Deadline {
    /// `fut`'s output, or `None` if `deadline` passed first.
    async fn run<F: Future>(
        &mut self,
        deadline: tokio::time::Instant,
        fut: F,
    ) -> Option<F::Output> {
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.deadline() > deadline {
            sleep.as_mut().reset(deadline);
        }
        let mut fut = std::pin::pin!(fut);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(out) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(out));
            }
            while sleep.as_mut().poll(cx).is_ready() {
                if tokio::time::Instant::now() >= deadline {
                    return Poll::Ready(None);
                }
                sleep.as_mut().reset(deadline);
            }
            Poll::Pending
        })
        .await
    }
}

fn header_pair(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), HttpError> {
    let n = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| HttpError::new(format!("invalid header name {name:?}")))?;
    let v = HeaderValue::from_str(value)
        .map_err(|_| HttpError::new(format!("invalid value for header {name}: {value:?}")))?;
    Ok((n, v))
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

#[cfg(test)]
mod tests;

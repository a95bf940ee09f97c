//! `--prometheus-listen ADDR`: the current stats in the Prometheus text format.
//!
//! A hand-written exposition over a plain `std` listener rather than the prometheus-client
//! crate: the page is a dozen metric families rendered once per report, and serving a
//! prebuilt string needs no registry, no async runtime and no extra dependency.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Output, Snapshot};
use crate::locust::PERCENTILES;
use crate::stats::Entry;

/// Serves the latest rendered page; the page is rebuilt at every report.
pub(crate) struct Prometheus {
    page: Arc<Mutex<Arc<String>>>,
}

/// Scrapes served at once; a connection past these is answered 503 at once.
const MAX_SCRAPES: usize = 32;
/// How long a scraper may take to send its request or read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

impl Prometheus {
    /// Binds now (so a taken port fails at start-up) and serves on threads of its own:
    /// each connection has its own, so that idle or slow clients never delay a scrape.
    pub(crate) fn bind(addr: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let page = Arc::new(Mutex::new(Arc::new(String::new())));
        let served = page.clone();
        let busy = Arc::new(AtomicUsize::new(0));
        std::thread::Builder::new()
            .name("boomer-prometheus".into())
            .spawn(move || accept(listener, served, busy))?;
        tracing::info!("serving Prometheus metrics on http://{addr}/metrics");
        Ok(Prometheus { page })
    }
}

fn accept(listener: TcpListener, page: Arc<Mutex<Arc<String>>>, busy: Arc<AtomicUsize>) {
    for stream in listener.incoming() {
        let mut stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::debug!("prometheus listener: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if busy.fetch_add(1, Ordering::AcqRel) >= MAX_SCRAPES {
            busy.fetch_sub(1, Ordering::AcqRel);
            let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
            let _ = stream.write_all(&response("503 Service Unavailable", "too many scrapes\n"));
            continue;
        }
        let page = page.clone();
        let done = busy.clone();
        let spawned = std::thread::Builder::new()
            .name("boomer-scrape".into())
            .spawn(move || {
                if let Err(e) = serve(stream, &page) {
                    tracing::debug!("prometheus scrape failed: {e}");
                }
                done.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            busy.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Pushes the page to a Prometheus Pushgateway at every report, as Go boomer's
/// `PrometheusPusherOutput` does: `PUT <gateway>/metrics/job/<job>` (plain http://).
pub(crate) struct Pushgateway {
    authority: String,
    path: String,
    /// After a failed push, the next try waits until then (each push is the whole page, so
    /// a skipped one loses nothing): a dead gateway costs the outputs one timeout per
    /// [`RETRY_AFTER`], not one per report.
    retry_at: Option<Instant>,
    /// The latest page not pushed because of `retry_at`: pushed at the end.
    pending: Option<String>,
}

/// Why `--prometheus-pushgateway` / `--prometheus-job` cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum PushgatewayError {
    /// Only plain HTTP gateways are spoken to.
    #[error("the Pushgateway URL must start with http://, not {0:?}")]
    NotHttp(String),
    /// The job names the pushed group.
    #[error("--prometheus-job must not be empty")]
    EmptyJob,
}

/// How long pushes pause after one failed.
const RETRY_AFTER: Duration = Duration::from_secs(10);

impl Pushgateway {
    /// `url` is the gateway's base URL, e.g. `http://127.0.0.1:9091`.
    pub(crate) fn new(url: &str, job: &str) -> Result<Self, PushgatewayError> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| PushgatewayError::NotHttp(url.to_string()))?;
        let (authority, base) = match rest.split_once('/') {
            Some((a, b)) => (a, b.trim_end_matches('/')),
            None => (rest, ""),
        };
        let authority = if authority.contains(':') {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        let base = if base.is_empty() {
            String::new()
        } else {
            format!("/{base}")
        };
        if job.is_empty() {
            return Err(PushgatewayError::EmptyJob);
        }
        Ok(Pushgateway {
            authority,
            path: format!("{base}/metrics/{}", job_segment(job)),
            retry_at: None,
            pending: None,
        })
    }

    fn push(&self, body: &str) -> io::Result<u16> {
        let mut stream = connect(&self.authority)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        let req = format!(
            "PUT {} HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain; version=0.0.4\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.path,
            self.authority,
            body.len()
        );
        stream.write_all(req.as_bytes())?;
        let mut head = [0u8; 32];
        let n = stream.read(&mut head)?;
        let text = String::from_utf8_lossy(&head[..n]);
        Ok(text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0))
    }
}

/// Connects within [`IO_TIMEOUT`] (to each address the name resolves to, in turn), so a
/// gateway that never answers cannot hold the outputs, or the process's exit, for the
/// system's connect timeout (minutes).
fn connect(authority: &str) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the name resolves to no address");
    for addr in authority.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, IO_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The job's part of a push URL: `job/<name>` when the name is URL-safe as it is, else the
/// Pushgateway's `job@base64/<base64url>` (which also carries a `/`, that no percent
/// escape gets through the gateway's router).
fn job_segment(job: &str) -> String {
    let safe = job
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if safe {
        format!("job/{job}")
    } else {
        format!("job@base64/{}", base64url(job.as_bytes()))
    }
}

/// RFC 4648's URL-safe base64, with padding.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Pushgateway {
    fn push_page(&mut self, page: &str) {
        let failed = match self.push(page) {
            Ok(200..=299) => false,
            Ok(status) => {
                tracing::warn!("the Pushgateway answered {status} to a push");
                false
            }
            Err(e) => {
                tracing::warn!("cannot push to the Pushgateway at {}: {e}", self.authority);
                true
            }
        };
        self.retry_at = failed.then(|| Instant::now() + RETRY_AFTER);
    }
}

impl Output for Pushgateway {
    fn on_report(&mut self, s: Snapshot) {
        let page = render(&s);
        if self.retry_at.is_some_and(|at| Instant::now() < at) {
            self.pending = Some(page);
            return;
        }
        self.pending = None;
        self.push_page(&page);
    }

    fn on_stop(&mut self) {
        if let Some(page) = self.pending.take() {
            self.push_page(&page);
        }
    }
}

impl Output for Prometheus {
    fn on_report(&mut self, s: Snapshot) {
        let page = Arc::new(render(&s));
        *self.page.lock().unwrap_or_else(|e| e.into_inner()) = page;
    }
}

fn response(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Answers one request: the page at `GET /metrics` (or HEAD), 404 elsewhere.
fn serve(mut stream: TcpStream, page: &Mutex<Arc<String>>) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    let answer = match (method, path) {
        (b"GET" | b"HEAD", b"/metrics") => {
            let body = page.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let mut answer = response("200 OK", &body);
            if method == b"HEAD" {
                answer.truncate(answer.len() - body.len());
            }
            answer
        }
        (_, b"/metrics") => response("405 Method Not Allowed", "only GET /metrics\n"),
        _ => response("404 Not Found", "not found: the metrics are at /metrics\n"),
    };
    stream.write_all(&answer)
}

/// A metric family: name, type, help, and the value of an entry.
type Family<'a> = (&'a str, &'a str, &'a str, &'a dyn Fn(&Entry) -> f64);

/// Microseconds as seconds, the base unit of the exposition conventions.
fn secs(us: u64) -> f64 {
    us as f64 / 1e6
}

/// The page: per (method, name) and for the Aggregated row (method ""), what the console
/// shows, in base units (seconds, bytes) and with the percentiles as a summary, as
/// `promtool check metrics` wants them.
pub(crate) fn render(s: &Snapshot) -> String {
    let total = s.totals.total();
    let mut rows: Vec<(&str, &str, &Entry)> = s.totals.entries().collect();
    rows.push(("", "Aggregated", &total));
    let last = s.totals.last_request();
    let mut out = String::new();
    let families: [Family; 8] = [
        ("boomer_requests_total", "counter", "Requests.", &|e| {
            e.num_requests as f64
        }),
        (
            "boomer_failures_total",
            "counter",
            "Failed requests.",
            &|e| e.num_failures as f64,
        ),
        (
            "boomer_response_time_avg_seconds",
            "gauge",
            "Average response time.",
            &|e| e.avg_response_time() / 1000.0,
        ),
        (
            "boomer_response_time_min_seconds",
            "gauge",
            "Fastest response time.",
            &|e| secs(e.min_us.unwrap_or(0)),
        ),
        (
            "boomer_response_time_max_seconds",
            "gauge",
            "Slowest response time.",
            &|e| secs(e.max_us),
        ),
        (
            "boomer_content_length_avg_bytes",
            "gauge",
            "Average content size.",
            &|e| e.avg_content_length(),
        ),
        (
            "boomer_current_requests_per_second",
            "gauge",
            "Requests per second over the last 10 s, as Locust's current RPS.",
            &|e| last.map_or(0.0, |l| e.current_rps(s.start_time, l)),
        ),
        (
            "boomer_current_failures_per_second",
            "gauge",
            "Failures per second over the last 10 s.",
            &|e| last.map_or(0.0, |l| e.current_fail_per_sec(s.start_time, l)),
        ),
    ];
    for (metric, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} {kind}");
        for (method, name, e) in &rows {
            let _ = writeln!(out, "{metric}{} {}", labels(method, name, None), value(e));
        }
    }
    let metric = "boomer_response_time_seconds";
    let _ = writeln!(
        out,
        "# HELP {metric} Response times: Locust's percentiles.\n# TYPE {metric} summary"
    );
    for (method, name, e) in &rows {
        for p in PERCENTILES {
            let q = Some(("quantile", p.to_string()));
            let v = e.response_time_percentile(p) as f64 / 1000.0;
            let _ = writeln!(out, "{metric}{} {v}", labels(method, name, q));
        }
        let l = labels(method, name, None);
        let _ = writeln!(out, "{metric}_sum{l} {}", secs(e.total_us));
        let _ = writeln!(out, "{metric}_count{l} {}", e.num_requests);
    }
    let metric = "boomer_errors_total";
    let _ = writeln!(
        out,
        "# HELP {metric} Failures by error.\n# TYPE {metric} counter"
    );
    for (method, name, e) in s.totals.error_rows() {
        for (text, count) in &e.errors {
            let l = labels(method, name, Some(("error", text.clone())));
            let _ = writeln!(out, "{metric}{l} {}", count.occurrences);
        }
    }
    let _ = writeln!(
        out,
        "# HELP boomer_users Running users.\n# TYPE boomer_users gauge"
    );
    let _ = writeln!(out, "boomer_users {}", s.user_count);
    if !s.arrivals.is_empty() {
        type Read = fn(&crate::output::ArrivalCount) -> f64;
        let metrics: [(&str, &str, &str, Read); 3] = [
            (
                "boomer_arrivals_total",
                "counter",
                "Iterations of an arrival-driven class that came due.",
                |a| a.due as f64,
            ),
            (
                "boomer_arrivals_dropped_total",
                "counter",
                "Iterations dropped: due while every user of the class was busy.",
                |a| a.dropped as f64,
            ),
            (
                "boomer_arrival_rate",
                "gauge",
                "The arrival rate this process runs, per second.",
                |a| a.rate,
            ),
        ];
        for (metric, kind, help, value) in metrics {
            let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} {kind}");
            for (class, a) in s.arrivals.iter() {
                let _ = writeln!(out, "{metric}{{class=\"{}\"}} {}", escape(class), value(a));
            }
        }
    }
    out
}

fn labels(method: &str, name: &str, extra: Option<(&str, String)>) -> String {
    let mut l = format!("{{method=\"{}\",name=\"{}\"", escape(method), escape(name));
    if let Some((k, v)) = extra {
        let _ = write!(l, ",{k}=\"{}\"", escape(&v));
    }
    l.push('}');
    l
}

/// The exposition format's label escapes.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_that_need_it_are_base64url() {
        assert_eq!(job_segment("boomer"), "job/boomer");
        assert_eq!(job_segment("a b/c"), "job@base64/YSBiL2M=");
        assert_eq!(job_segment("?>"), "job@base64/Pz4=");
        assert_eq!(base64url(b"\xfb\xff"), "-_8=");
        let push = Pushgateway::new("http://gw:9091/base/", "a b/c").unwrap();
        assert_eq!(
            (push.authority.as_str(), push.path.as_str()),
            ("gw:9091", "/base/metrics/job@base64/YSBiL2M=")
        );
        assert!(Pushgateway::new("http://gw", "").is_err());
    }
}

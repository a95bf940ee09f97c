//! `--prometheus-listen ADDR`: the current stats in the Prometheus text format.
//!
//! A hand-written exposition over a plain `std` listener rather than the prometheus-client
//! crate: the page is a dozen metric families rendered once per report, and serving a
//! prebuilt string needs no registry, no async runtime and no extra dependency.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{last_request, Output, Snapshot, PERCENTILES};
use crate::stats::Entry;

/// Serves the latest rendered page; the page is rebuilt at every report.
pub(crate) struct Prometheus {
    page: Arc<Mutex<String>>,
}

impl Prometheus {
    /// Binds now (so a taken port fails at start-up) and serves on a thread of its own.
    pub(crate) fn bind(addr: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let page = Arc::new(Mutex::new(String::new()));
        let served = page.clone();
        std::thread::Builder::new()
            .name("boomer-prometheus".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    if let Err(e) = serve(stream, &served) {
                        tracing::debug!("prometheus scrape failed: {e}");
                    }
                }
            })?;
        tracing::info!("serving Prometheus metrics on http://{addr}/metrics");
        Ok(Prometheus { page })
    }
}

/// Pushes the page to a Prometheus Pushgateway at every report, as Go boomer's
/// `PrometheusPusherOutput` does: `PUT <gateway>/metrics/job/<job>` (plain http://).
pub(crate) struct Pushgateway {
    authority: String,
    path: String,
}

impl Pushgateway {
    /// `url` is the gateway's base URL, e.g. `http://127.0.0.1:9091`.
    pub(crate) fn new(url: &str, job: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("the Pushgateway URL must start with http://, not {url:?}"))?;
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
        Ok(Pushgateway {
            authority,
            path: format!("{base}/metrics/job/{job}"),
        })
    }

    fn push(&self, body: &str) -> io::Result<u16> {
        let mut stream = TcpStream::connect(&self.authority)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
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

impl Output for Pushgateway {
    fn on_report(&mut self, s: Snapshot) {
        match self.push(&render(&s)) {
            Ok(200..=299) => {}
            Ok(status) => tracing::warn!("the Pushgateway answered {status} to a push"),
            Err(e) => tracing::warn!("cannot push to the Pushgateway at {}: {e}", self.authority),
        }
    }
}

impl Output for Prometheus {
    fn on_report(&mut self, s: Snapshot) {
        let page = render(&s);
        *self.page.lock().unwrap_or_else(|e| e.into_inner()) = page;
    }
}

fn serve(mut stream: TcpStream, page: &Mutex<String>) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    // Read the request head; whatever the path, the answer is the metrics page.
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let body = page.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(resp.as_bytes())
}

/// A metric family: name, type, help, and the value of an entry.
type Family<'a> = (&'a str, &'a str, &'a str, &'a dyn Fn(&Entry) -> f64);

/// The page: per (method, name) and for the Aggregated row (method ""), the counters the
/// console shows.
pub(crate) fn render(s: &Snapshot) -> String {
    let total = s.totals.total();
    let mut rows: Vec<(&str, &str, &Entry)> = s.totals.entries().collect();
    rows.push(("", "Aggregated", &total));
    let last = last_request(&s.totals);
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
            "boomer_response_time_avg_ms",
            "gauge",
            "Average response time.",
            &|e| e.avg_response_time(),
        ),
        (
            "boomer_response_time_min_ms",
            "gauge",
            "Fastest response time.",
            &|e| e.min_response_time(),
        ),
        (
            "boomer_response_time_max_ms",
            "gauge",
            "Slowest response time.",
            &|e| e.max_response_time(),
        ),
        (
            "boomer_content_length_avg_bytes",
            "gauge",
            "Average content size.",
            &|e| e.avg_content_length(),
        ),
        (
            "boomer_current_rps",
            "gauge",
            "Requests per second, last 10 s.",
            &|e| last.map_or(0.0, |l| e.current_rps(s.start_time, l)),
        ),
        (
            "boomer_current_fail_per_sec",
            "gauge",
            "Failures per second, last 10 s.",
            &|e| last.map_or(0.0, |l| e.current_fail_per_sec(s.start_time, l)),
        ),
    ];
    for (metric, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} {kind}");
        for (method, name, e) in &rows {
            let _ = writeln!(out, "{metric}{} {}", labels(method, name, None), value(e));
        }
    }
    let metric = "boomer_response_time_ms";
    let _ = writeln!(
        out,
        "# HELP {metric} Response time percentiles.\n# TYPE {metric} gauge"
    );
    for (method, name, e) in &rows {
        for p in PERCENTILES {
            let q = Some(("quantile", p.to_string()));
            let _ = writeln!(
                out,
                "{metric}{} {}",
                labels(method, name, q),
                e.response_time_percentile(p)
            );
        }
    }
    let metric = "boomer_errors_total";
    let _ = writeln!(
        out,
        "# HELP {metric} Failures by error.\n# TYPE {metric} counter"
    );
    for (method, name, e) in s.totals.entries() {
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

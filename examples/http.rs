//! The everyday HTTP worker: GET a path (or a weighted mix of paths) on the host the master
//! sends (the Host field of its web UI, or `locust --host`), or `--host` when it sends none.
//!
//! ```text
//! locust -f examples/locustfile.py --master --host http://127.0.0.1:8080
//! cargo run --release --example http
//! ```
//!
//! Options, as environment variables (Go boomer's http example has the same as flags):
//! - `HTTP_PATHS`: `path[:weight],...`, e.g. `/:3,/about:1` (default `/`);
//! - `HTTP_METHOD` (default `GET`), `HTTP_BODY_FILE` (the body, read once),
//!   `HTTP_CONTENT_TYPE`, `HTTP_HEADERS` (`Name: value` pairs separated by `\n`);
//! - `HTTP_TIMEOUT` (seconds, default 60), `HTTP_KEEPALIVE=0` (a connection per request).
//!
//! Compression is off: nothing asks for it unless `HTTP_HEADERS` sets `Accept-Encoding`.

use std::sync::OnceLock;
use std::time::Duration;

use boomer::http::{Bytes, Method};

struct Config {
    /// Each path repeated `weight` times: a user walks this list from a random start.
    paths: Vec<String>,
    method: Method,
    body: Bytes,
    content_type: Option<String>,
    headers: Vec<(String, String)>,
    timeout: Duration,
    keep_alive: bool,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let mut paths = Vec::new();
        for item in env("HTTP_PATHS").unwrap_or_else(|| "/".into()).split(',') {
            let (path, weight) = match item.rsplit_once(':') {
                Some((p, w)) if w.parse::<u32>().is_ok() => (p, w.parse().unwrap_or(1)),
                _ => (item, 1),
            };
            paths.extend(std::iter::repeat_n(path.trim().to_string(), weight));
        }
        let body = match env("HTTP_BODY_FILE") {
            Some(path) => std::fs::read(&path).unwrap_or_else(|e| {
                eprintln!("cannot read HTTP_BODY_FILE {path}: {e}");
                std::process::exit(2)
            }),
            None => Vec::new(),
        };
        let headers = env("HTTP_HEADERS")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        Config {
            paths,
            method: env("HTTP_METHOD")
                .and_then(|m| m.parse().ok())
                .unwrap_or(Method::GET),
            body: body.into(),
            content_type: env("HTTP_CONTENT_TYPE"),
            headers,
            timeout: env("HTTP_TIMEOUT")
                .and_then(|t| t.parse().ok())
                .and_then(|t| Duration::try_from_secs_f64(t).ok())
                .unwrap_or(Duration::from_secs(60)),
            keep_alive: env("HTTP_KEEPALIVE").is_none_or(|v| v != "0"),
        }
    })
}

#[boomer::task]
async fn request(ctx: &mut boomer::Ctx) {
    let cfg = config();
    let path = &cfg.paths[(ctx.user_id() as usize + next()) % cfg.paths.len()];
    let client = ctx.http();
    client
        .set_timeout(cfg.timeout)
        .set_keep_alive(cfg.keep_alive);
    let mut req = client
        .request(cfg.method.clone(), path)
        .body(cfg.body.clone());
    if let Some(ct) = &cfg.content_type {
        req = req.content_type(ct);
    }
    for (name, value) in &cfg.headers {
        req = req.header(name, value);
    }
    req.send().await;
}

/// A per-thread counter that walks the weighted path list.
fn next() -> usize {
    thread_local!(static N: std::cell::Cell<usize> = const { std::cell::Cell::new(0) });
    N.with(|n| {
        n.set(n.get().wrapping_add(1));
        n.get()
    })
}

boomer::main!();

//! The HTTP server that `examples/quickstart.rs` and `examples/shop.rs` test when no
//! `--host` is given (hyper, on 127.0.0.1, in the example's own process), and their `fn main`.
//!
//! Routes, each answered after 1 to 20 ms, so the percentile table has something to show:
//!
//! - `GET /`, `GET /about`: a line of text.
//! - `POST /login` with JSON `{"username": "...", "password": "secret"}`: 200 with JSON
//!   `{"token": "..."}` and `Set-Cookie: session=<id>; Path=/; HttpOnly`; 401 on a bad password.
//! - `GET /products?page=N&category=C`: a JSON list of up to 10 products (90 in all, in the
//!   categories `books`, `games`, `music`); needs the session cookie, else 401.
//! - `GET /products/<id>`: one product, `{"id", "name", "category", "price"}`; ids 7, 17, 27,
//!   ... answer 200 *without* `"price"` (a bug the shop example catches).
//! - `POST /cart` with JSON `{"product_id": N, "quantity": N}`, `GET /cart`: the session's
//!   cart, `{"items": [...]}`; both need the session cookie and `Authorization: Bearer <its token>`, else 401.
//! - `POST /logout`: ends the session (the cookie is cleared).

use std::collections::HashMap;
use std::convert::Infallible;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, COOKIE, SET_COOKIE};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// `fn main` of the examples: a short standalone test (20 users, 10 s) unless the command
/// line or Locust's environment variables say otherwise, or a worker with `--master-host`;
/// against the embedded server unless `--host` names one (a master's Host field wins).
///
/// It is `Boomer::builder().standalone_by_default().run_main()` with `--host` added: that
/// `run_main` parses the process's own command line, so this one parses it itself.
pub fn main() -> ExitCode {
    for (var, default) in [
        ("LOCUST_USERS", "20"),
        ("LOCUST_SPAWN_RATE", "10"),
        ("LOCUST_RUN_TIME", "10s"),
    ] {
        if std::env::var_os(var).is_none() {
            std::env::set_var(var, default);
        }
    }
    let mut args: Vec<String> = std::env::args().collect();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut embedded = None;
    if arg(&args, &["--host", "-H"]).is_none() {
        match rt.block_on(TcpListener::bind("127.0.0.1:0")) {
            Ok(listener) => {
                let url = match listener.local_addr() {
                    Ok(addr) => format!("http://{addr}"),
                    Err(_) => String::from("http://127.0.0.1:9"),
                };
                args.extend(["--host".to_string(), url.clone()]);
                rt.spawn(serve(listener));
                embedded = Some(url);
            }
            Err(e) => eprintln!("cannot start the embedded target: {e}"),
        }
    }
    let builder = match boomer::Boomer::builder()
        .standalone_by_default()
        .args(&args)
    {
        Ok(builder) => builder,
        Err(e) => e.exit(),
    };
    let loglevel = arg(&args, &["--loglevel", "-L"])
        .or_else(|| std::env::var("BOOMER_LOGLEVEL").ok())
        .unwrap_or_else(|| "info".into());
    boomer_core::init_logging(&loglevel);
    if let Some(url) = embedded {
        tracing::info!("no --host given: testing the embedded target at {url}");
    }
    let failure_code = arg(&args, &["--exit-code-on-error"]).and_then(|c| c.parse().ok());
    match rt.block_on(builder.run()) {
        Ok(exit) => ExitCode::from(exit.code(failure_code.unwrap_or(1))),
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// The value of an option on the command line: `--name VALUE`, `--name=VALUE`, `-N VALUE`
/// or `-NVALUE`.
fn arg(args: &[String], names: &[&str]) -> Option<String> {
    let mut args = args.iter().skip(1);
    while let Some(a) = args.next() {
        for name in names {
            if a == name {
                return args.next().cloned();
            }
            let glued = match a.strip_prefix(name) {
                Some(rest) if name.starts_with("--") => rest.strip_prefix('='),
                Some(rest) if !rest.is_empty() => Some(rest),
                _ => None,
            };
            if let Some(value) = glued {
                return Some(value.to_string());
            }
        }
    }
    None
}

/// Accepts connections, each served by hyper (keep-alive, bodies) on a task of its own.
async fn serve(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let io = hyper_util::rt::TokioIo::new(stream);
                let service = hyper::service::service_fn(handle);
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new().serve_connection(io, service),
                );
            }
            // Out of file descriptors, most likely: wait for some to close.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

const CATEGORIES: [&str; 3] = ["books", "games", "music"];
const PRODUCTS: u64 = 90;

/// A logged-in user's session, by the id in its cookie.
struct Session {
    token: String,
    cart: Vec<Value>,
}

static SESSIONS: LazyLock<Mutex<HashMap<String, Session>>> = LazyLock::new(Default::default);

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    static SERVED: AtomicU64 = AtomicU64::new(0);
    let n = SERVED.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(1 + n * 7919 % 20)).await;
    let (head, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return Ok(error(StatusCode::BAD_REQUEST, "cannot read the body"));
    };
    let json: Value = serde_json::from_slice(&body).unwrap_or_default();
    let bearer = head
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let bearer = bearer.and_then(|v| v.strip_prefix("Bearer "));
    let sid = cookie(&head.headers, "session").unwrap_or("");
    let mut sessions = SESSIONS.lock().unwrap_or_else(|e| e.into_inner());
    let session = sessions.get_mut(sid);
    let unauthorised = || error(StatusCode::UNAUTHORIZED, "log in first");
    let resp = match (head.method, head.uri.path()) {
        (Method::GET, "/") => text("Hello from the boomer quickstart\n"),
        (Method::GET, "/about") => text("boomer: Locust workers in Rust\n"),
        (Method::POST, "/login") => {
            let user = json["username"].as_str().unwrap_or("");
            if user.is_empty() || json["password"] != "secret" {
                return Ok(error(StatusCode::UNAUTHORIZED, "bad credentials"));
            }
            let id = format!("{:016x}", (n + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let token = format!("t-{user}-{:x}", (n + 7).wrapping_mul(0xbf58_476d_1ce4_e5b9));
            let mut resp = reply(StatusCode::OK, json!({"token": token}));
            let cookie = HeaderValue::from_str(&format!("session={id}; Path=/; HttpOnly"));
            resp.headers_mut().extend(cookie.map(|c| (SET_COOKIE, c)));
            let cart = Vec::new();
            sessions.insert(id, Session { token, cart });
            resp
        }
        (Method::GET, "/products") if session.is_some() => {
            let query = head.uri.query().unwrap_or("");
            let param = |name: &str| {
                let mut pairs = query.split('&');
                pairs.find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            };
            let page = param("page").and_then(|p| p.parse().ok()).unwrap_or(1usize);
            let category = param("category");
            let products: Vec<Value> = (1..=PRODUCTS)
                .filter(|&id| category.is_none_or(|c| c == category_of(id)))
                .skip(page.saturating_sub(1) * 10)
                .take(10)
                .map(product)
                .collect();
            reply(StatusCode::OK, Value::from(products))
        }
        (Method::GET, path) if path.starts_with("/products/") => {
            match path["/products/".len()..].parse() {
                Ok(id) if (1..=PRODUCTS).contains(&id) => reply(StatusCode::OK, product(id)),
                _ => error(StatusCode::NOT_FOUND, "no such product"),
            }
        }
        (method, "/cart") => match session {
            Some(session) if bearer == Some(&session.token) => {
                if method == Method::POST {
                    if !json["product_id"].is_u64() {
                        return Ok(error(StatusCode::BAD_REQUEST, "no product_id"));
                    }
                    session.cart.push(json);
                }
                reply(StatusCode::OK, json!({"items": session.cart}))
            }
            _ => unauthorised(),
        },
        (Method::POST, "/logout") if session.is_some() => {
            sessions.remove(sid);
            let mut resp = reply(StatusCode::OK, json!({"bye": true}));
            let gone = HeaderValue::from_static("session=; Path=/; Max-Age=0");
            resp.headers_mut().insert(SET_COOKIE, gone);
            resp
        }
        (_, "/products" | "/logout") => unauthorised(),
        _ => error(StatusCode::NOT_FOUND, "not found"),
    };
    Ok(resp)
}

fn category_of(id: u64) -> &'static str {
    CATEGORIES[(id % 3) as usize]
}

/// Product `id`; those whose id ends in 7 have no price (the bug the shop example finds).
fn product(id: u64) -> Value {
    let mut product =
        json!({"id": id, "name": format!("Product {id}"), "category": category_of(id)});
    if id % 10 != 7 {
        product["price"] = json!(1.0 + (id * 199 % 5000) as f64 / 100.0);
    }
    product
}

fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(name)?.strip_prefix('='))
}

fn text(body: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    let plain = HeaderValue::from_static("text/plain");
    resp.headers_mut().insert(CONTENT_TYPE, plain);
    resp
}

fn error(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    reply(status, json!({ "error": text }))
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    let json = HeaderValue::from_static("application/json");
    resp.headers_mut().insert(CONTENT_TYPE, json);
    resp
}

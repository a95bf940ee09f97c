//! The quickstart: `cargo run --release --example quickstart`.
//!
//! With no `--host`, the tasks test an HTTP server embedded in this example (on 127.0.0.1,
//! started on first use) for 10 s in standalone mode, and print Locust's console tables.
//! `--host http://HOST:PORT` tests that server instead; `--master-host` joins a Locust
//! master as a worker (run `locust -f examples/locustfile.py --master` first).
//!
//! The requests are plain HTTP/1.1 over tokio TCP, on keep-alive connections shared by all
//! users, so that the example needs no HTTP client crate.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::OnceCell;

#[boomer::task(weight = 3)]
async fn index(ctx: &mut boomer::Ctx) {
    get(ctx, "/").await;
}

#[boomer::task(weight = 1)]
async fn about(ctx: &mut boomer::Ctx) {
    get(ctx, "/about").await;
}

fn main() -> ExitCode {
    // Locust's environment variables: a short test unless the command line says otherwise.
    for (var, default) in [
        ("LOCUST_USERS", "20"),
        ("LOCUST_SPAWN_RATE", "10"),
        ("LOCUST_RUN_TIME", "10s"),
    ] {
        if std::env::var_os(var).is_none() {
            std::env::set_var(var, default);
        }
    }
    boomer::Boomer::builder().standalone_by_default().run_main()
}

/// One GET, recorded as `GET <path>`: a failure on any I/O error or a non-2xx status.
async fn get(ctx: &boomer::Ctx, path: &str) {
    let authority = match ctx.host() {
        Some(host) => match host.strip_prefix("http://") {
            Some(rest) => rest.split('/').next().unwrap_or(rest).to_string(),
            None => {
                let error = format!("only http:// hosts are supported here, not {host:?}");
                boomer::record_failure("GET", path, Duration::ZERO, error);
                tokio::time::sleep(Duration::from_secs(1)).await;
                return;
            }
        },
        None => embedded_target().await.to_string(),
    };
    let start = Instant::now();
    match request(&authority, path).await {
        Ok((200..=299, bytes)) => ctx.record_success("GET", path, start.elapsed(), bytes),
        Ok((status, _)) => {
            ctx.record_failure("GET", path, start.elapsed(), format!("HTTP {status}"))
        }
        Err(e) => {
            ctx.record_failure("GET", path, start.elapsed(), e);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Idle keep-alive connections, by authority.
static POOL: Mutex<Vec<(String, BufReader<TcpStream>)>> = Mutex::new(Vec::new());

async fn request(authority: &str, path: &str) -> std::io::Result<(u16, u64)> {
    let pooled = {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        let i = pool.iter().position(|(a, _)| a == authority);
        i.map(|i| pool.swap_remove(i).1)
    };
    let mut conn = match pooled {
        Some(conn) => conn,
        None => BufReader::new(TcpStream::connect(host_port(authority)).await?),
    };
    let req = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: boomer\r\n\r\n");
    conn.get_mut().write_all(req.as_bytes()).await?;
    let (status, length, close) = read_head(&mut conn).await?;
    let mut body = vec![0; length];
    conn.read_exact(&mut body).await?;
    if !close {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        pool.push((authority.to_string(), conn));
    }
    Ok((status, length as u64))
}

fn host_port(authority: &str) -> String {
    if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    }
}

/// Status, Content-Length and whether the server closes the connection.
async fn read_head(conn: &mut BufReader<TcpStream>) -> std::io::Result<(u16, usize, bool)> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut line = String::new();
    if conn.read_line(&mut line).await? == 0 {
        return Err(bad("connection closed"));
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("not an HTTP response"))?;
    let (mut length, mut close) = (None, false);
    loop {
        line.clear();
        if conn.read_line(&mut line).await? == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().ok();
        } else if lower.starts_with("connection:") && lower.contains("close") {
            close = true;
        }
    }
    // Without a length the body runs to the end of the connection: not supported here.
    let length = length.ok_or_else(|| bad("no Content-Length"))?;
    Ok((status, length, close))
}

/// The embedded target's address, started on first use.
async fn embedded_target() -> &'static str {
    static TARGET: OnceCell<String> = OnceCell::const_new();
    TARGET
        .get_or_init(|| async {
            match TcpListener::bind("127.0.0.1:0").await {
                Ok(listener) => {
                    let addr = listener
                        .local_addr()
                        .map(|a| a.to_string())
                        .unwrap_or_default();
                    tracing::info!("no --host given: testing the embedded target at http://{addr}");
                    tokio::spawn(serve(listener));
                    addr
                }
                Err(e) => {
                    tracing::error!("cannot start the embedded target: {e}");
                    String::from("127.0.0.1:9")
                }
            }
        })
        .await
}

/// The embedded target: answers every GET with 200 after a few ms, keeping connections open.
async fn serve(listener: TcpListener) {
    static SERVED: AtomicU64 = AtomicU64::new(0);
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(async move {
            let mut conn = BufReader::new(stream);
            let mut line = String::new();
            loop {
                // Read the request head; the body of a GET is empty.
                let mut path = None;
                loop {
                    line.clear();
                    match conn.read_line(&mut line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) if line == "\r\n" => break,
                        Ok(_) if path.is_none() => {
                            path = line.split_whitespace().nth(1).map(str::to_string)
                        }
                        Ok(_) => {}
                    }
                }
                // A spread of response times, so the percentile table has something to show.
                let n = SERVED.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(1 + n * 7919 % 20)).await;
                let body = match path.as_deref() {
                    Some("/about") => "boomer: Locust workers in Rust\n",
                    _ => "Hello from the boomer quickstart\n",
                };
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if conn.get_mut().write_all(resp.as_bytes()).await.is_err() {
                    return;
                }
            }
        });
    }
}

//! End-to-end test worker: each iteration sends one HTTP/1.1 GET to the host the master
//! gives (`http://127.0.0.1:PORT`) over a new connection and records it on a 200 answer,
//! then waits 20 ms. The test's target counts what it served; the two must agree.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn get(addr: &str) -> std::io::Result<usize> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /count HTTP/1.1\r\nHost: target\r\nConnection: close\r\n\r\n")
        .await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    if response.starts_with(b"HTTP/1.1 200") {
        Ok(response.len())
    } else {
        Err(std::io::Error::other("not a 200"))
    }
}

#[boomer::task]
async fn count(ctx: &mut boomer::Ctx) {
    let addr = ctx
        .host()
        .unwrap_or("http://127.0.0.1:9")
        .trim_start_matches("http://")
        .to_string();
    let start = Instant::now();
    match get(&addr).await {
        Ok(bytes) => ctx.record_success("GET", "/count", start.elapsed(), bytes as u64),
        Err(e) => ctx.record_failure("GET", "/count", start.elapsed(), e),
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
}

boomer::main!();

//! End-to-end: `boomer::http` against a tiny HTTP server in this test, with a real Locust
//! master whose Host field points at it. What the server counted must be what the master's
//! CSV shows, 404s failures unless the task judged them.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

type Counts = Arc<Mutex<HashMap<String, u64>>>;

/// A keep-alive HTTP/1.1 server on 127.0.0.1 that counts requests per path: `/` answers
/// `hello`, `/redirect` a 302 to `/`, anything else a 404.
fn serve() -> (u16, Counts) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the test server");
    let port = listener.local_addr().expect("local addr").port();
    let counts = Counts::default();
    let shared = counts.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counts = shared.clone();
            std::thread::spawn(move || connection(stream, counts));
        }
    });
    (port, counts)
}

fn connection(stream: TcpStream, counts: Counts) {
    let mut out = stream.try_clone().expect("clone the stream");
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut close = false;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header.trim().is_empty() {
                break;
            }
            close |= header.to_ascii_lowercase().starts_with("connection: close");
        }
        *counts
            .lock()
            .expect("counts")
            .entry(path.clone())
            .or_insert(0) += 1;
        let resp = match path.as_str() {
            "/" => "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_string(),
            "/redirect" => "HTTP/1.1 302 Found\r\nLocation: /\r\nContent-Length: 0\r\n\r\n".into(),
            _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!".into(),
        };
        if out.write_all(resp.as_bytes()).is_err() || close {
            return;
        }
    }
}

#[test]
fn http_requests_are_counted_as_the_server_saw_them() {
    let (http_port, counts) = serve();
    let dir = scratch("http");
    let port = free_port();
    let host = format!("http://127.0.0.1:{http_port}");
    let mut master = headless_master(
        &dir,
        "examples/locustfile.py",
        port,
        8,
        "5s",
        &["--csv", "run", "--exit-code-on-error", "0", "--host", &host],
    );
    let mut worker = worker(&dir, "e2e_http", port, &[("HTTP_TOTAL", "500")], &[]);
    let status = master.wait(Duration::from_secs(60));
    assert_eq!(status.code(), Some(0), "master log:\n{}", master.output());
    let wstatus = worker.wait(Duration::from_secs(10));
    assert_eq!(wstatus.code(), Some(0), "worker log:\n{}", worker.output());

    let served = counts.lock().expect("counts").clone();
    assert_eq!(served.values().sum::<u64>(), 600, "server saw {served:?}");
    let stats = csv_records(&dir.join("run_stats.csv"));
    let row = |name: &str| {
        let r = stats
            .iter()
            .find(|r| r["Name"] == name)
            .unwrap_or_else(|| panic!("no row {name} in {stats:?}"));
        if name != "Aggregated" {
            assert_eq!(r["Type"], "GET");
        }
        let n = |c: &str| r[c].parse::<u64>().expect("a count");
        (n("Request Count"), n("Failure Count"))
    };
    // 500 requests: 100 each of /missing, /gone, /redirect (+ 100 redirected to /), 200 /.
    assert_eq!(row("/missing"), (served["/missing"], served["/missing"]));
    assert_eq!(row("/gone [expected]"), (served["/gone"], 0));
    assert_eq!(row("/redirect"), (served["/redirect"], 0));
    assert_eq!(row("/"), (served["/"] - served["/redirect"], 0));
    assert_eq!(row("Aggregated"), (500, 100));
    let failures = csv_records(&dir.join("run_failures.csv"));
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(
        failures[0]["Error"],
        format!("404 Client Error: Not Found for url: {host}/missing")
    );
    let log = master.output();
    assert!(!log.contains("Traceback"), "{log}");
}

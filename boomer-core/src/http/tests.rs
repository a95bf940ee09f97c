//! The client against small servers on 127.0.0.1 that write exact bytes: framing, reuse,
//! retries and failures the end-to-end servers cannot produce on purpose.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;

use super::*;

/// A server whose every connection is handled by `answer`, given the request heads read so
/// far on it; it sends what it read to the returned channel.
fn serve(
    answer: impl Fn(&str, &mut TcpStream) -> bool + Send + Sync + 'static,
) -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (answer, tx) = (answer.clone(), tx.clone());
            std::thread::spawn(move || {
                let mut out = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                loop {
                    let mut head = String::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        head.push_str(&line);
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    head.push_str(&String::from_utf8_lossy(&body));
                    let _ = tx.send(head.clone());
                    if !answer(&head, &mut out) {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://127.0.0.1:{port}"), rx)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn path_of(head: &str) -> &str {
    head.split_whitespace().nth(1).unwrap_or("")
}

/// Checked without recording: `Response` records on drop into this test thread's shard,
/// which no reporter drains here.
fn outcome(resp: &Response) -> (u16, String, Option<String>) {
    (
        resp.status(),
        resp.text().into_owned(),
        resp.error().map(str::to_string),
    )
}

#[test]
fn framing_of_every_kind_is_read() {
    let (host, _) = serve(|head, out| {
        let resp: &[u8] = match path_of(head) {
            "/chunked" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
            "/204" => b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
            "/304" => b"HTTP/1.1 304 Not Modified\r\n\r\n",
            "/continue" => b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            _ if head.starts_with("HEAD") => b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
            _ => b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        };
        out.write_all(resp).is_ok()
    });
    rt().block_on(async {
        let mut c = HttpClient::new(Some(&host));
        let r = c.get("/chunked").send().await;
        assert_eq!(outcome(&r), (200, "hello world".into(), None));
        drop(r);
        // Kept alive through every one of these: the body framing was right each time.
        for (path, status, body) in [
            ("/204", 204, ""),
            ("/304", 304, ""),
            ("/continue", 200, "ok"),
            ("/", 200, "hello"),
        ] {
            let r = c.get(path).send().await;
            assert_eq!(outcome(&r), (status, body.into(), None), "{path}");
            assert!(r.timings().reused, "{path} reused the connection");
        }
        let r = c.head("/").send().await;
        assert_eq!(outcome(&r), (200, String::new(), None));
        let r = c.get("/").send().await;
        assert_eq!(outcome(&r), (200, "hello".into(), None), "after HEAD");
    });
}

#[test]
fn requests_carry_what_was_asked() {
    let (host, seen) = serve(|_, out| {
        out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .is_ok()
    });
    rt().block_on(async {
        let mut c = HttpClient::new(Some(&host));
        c.set_header("X-Client", "1").unwrap();
        c.get("/a b")
            .query(&[("q", "x y"), ("n", "1")])
            .header("X-Req", "2")
            .send()
            .await;
        let head = seen.recv().unwrap();
        assert!(
            head.starts_with("GET /a%20b?q=x+y&n=1 HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.contains("x-client: 1\r\n") && head.contains("x-req: 2\r\n"),
            "{head}"
        );
        assert!(
            head.contains(&format!("Host: {}\r\n", &host["http://".len()..])),
            "{head}"
        );
        c.post("/j")
            .json(&serde_json::json!({"a": 1}))
            .basic_auth("Aladdin", Some("open sesame"))
            .send()
            .await;
        let head = seen.recv().unwrap();
        assert!(
            head.contains("content-type: application/json\r\n"),
            "{head}"
        );
        assert!(
            head.contains("authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"),
            "{head}"
        );
        assert!(
            head.contains("content-length: 7\r\n") && head.ends_with("\r\n\r\n{\"a\":1}"),
            "{head}"
        );
        // The same plain request twice: the prepared bytes are sent again, byte for byte.
        c.get("/p").send().await;
        c.get("/p").send().await;
        assert_eq!(seen.recv().unwrap(), seen.recv().unwrap());
        c.post("/empty").send().await;
        assert!(seen.recv().unwrap().contains("content-length: 0\r\n"));
        c.get("/close").keep_alive(false).send().await;
        assert!(seen.recv().unwrap().contains("connection: close\r\n"));
    });
}

/// A server that answers one request per connection and then closes it, without
/// saying so: every reuse finds the connection closed and retries on a new one.
#[test]
fn a_connection_closed_while_idle_is_retried() {
    let (host, seen) = serve(|_, out| {
        let _ = out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        false
    });
    rt().block_on(async {
        let mut client = HttpClient::new(Some(&host));
        for i in 0..3 {
            let resp = client.get("/").send().await;
            assert_eq!(outcome(&resp), (200, "ok".into(), None), "request {i}");
            // The server has read the request and closed: the next one finds it closed.
            seen.recv().unwrap();
        }
    });
}

#[test]
fn broken_responses_fail_without_hanging() {
    let (host, _) = serve(|head, out| {
        let resp: &[u8] = match path_of(head) {
            "/truncated" => b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b",
            "/garbage" => b"SSH-2.0-OpenSSH\r\n\r\n",
            "/bad-chunk" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "/eof-body" => b"HTTP/1.1 200 OK\r\n\r\nuntil the end",
            _ => b"HTTP/1.1 200 OK\r\nContent-Le",
        };
        let _ = out.write_all(resp);
        false
    });
    rt().block_on(async {
        let mut c = HttpClient::new(Some(&host));
        for (path, why) in [
            (
                "/truncated",
                "ChunkedEncodingError(ProtocolError('Connection broken: IncompleteRead(10 bytes \
                 read, 90 more expected)', IncompleteRead(10 bytes read, 90 more expected)))",
            ),
            ("/garbage", "BadStatusLine('SSH-2.0-OpenSSH\\r\\n')"),
            (
                "/bad-chunk",
                r#"ChunkedEncodingError(ProtocolError("Connection broken: InvalidChunkLength(got length b'zz\\r\\n', 0 bytes read)", InvalidChunkLength(got length b'zz\r\n', 0 bytes read)))"#,
            ),
            (
                "/half-head",
                "RemoteDisconnected('Remote end closed connection without response')",
            ),
        ] {
            let r = c.get(path).send().await;
            assert_eq!(r.status(), 0, "{path}");
            assert_eq!(r.error(), Some(why), "{path}");
        }
        let r = c.get("/eof-body").send().await;
        assert_eq!(outcome(&r), (200, "until the end".into(), None));
    });
}

#[test]
fn a_large_body_arrives_whole() {
    const N: usize = 3 * 1024 * 1024 + 7;
    let (host, _) = serve(|_, out| {
        let body: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
        let _ = out.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {N}\r\n\r\n").as_bytes());
        out.write_all(&body).is_ok()
    });
    rt().block_on(async {
        let mut c = HttpClient::new(Some(&host));
        for _ in 0..2 {
            let r = c.get("/").send().await;
            assert_eq!(r.body().len(), N);
            assert!(r
                .body()
                .iter()
                .enumerate()
                .all(|(i, &b)| b == (i % 251) as u8));
        }
    });
}

#[test]
fn a_silent_server_times_out_and_the_next_request_still_works() {
    let (host, _) = serve(|head, out| {
        if path_of(head) == "/slow" {
            std::thread::sleep(Duration::from_millis(500));
        }
        out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .is_ok()
    });
    rt().block_on(async {
        let mut c = HttpClient::new(Some(&host));
        let r = c
            .get("/slow")
            .timeout(Duration::from_millis(100))
            .send()
            .await;
        assert_eq!(r.status(), 0);
        let port = host.rsplit(':').next().unwrap();
        let want = format!(
            "ReadTimeout(ReadTimeoutError(\"HTTPConnectionPool(host='127.0.0.1', port={port}): \
             Read timed out. (read timeout=0.1)\"))"
        );
        assert_eq!(r.error(), Some(&*want), "{r:?}");
        assert!(r.elapsed() < Duration::from_millis(400), "{r:?}");
        let r = c.get("/").send().await;
        assert_eq!(outcome(&r), (200, "ok".into(), None));
        assert!(!r.timings().reused, "a timed-out connection is not reused");
    });
}

#[test]
fn cookies_set_by_a_server_are_sent_back() {
    let (host, seen) = serve(|head, out| {
        let resp: &[u8] = match path_of(head) {
            "/login" => {
                b"HTTP/1.1 200 OK\r\nSet-Cookie: session=s1; Path=/\r\nContent-Length: 0\r\n\r\n"
            }
            _ => b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        };
        out.write_all(resp).is_ok()
    });
    rt().block_on(async {
        let mut c = HttpClient::new(Some(&host));
        c.get("/").send().await;
        assert!(!seen.recv().unwrap().to_ascii_lowercase().contains("cookie"));
        c.post("/login").send().await;
        seen.recv().unwrap();
        assert_eq!(c.cookies().get("session"), Some("s1"));
        c.get("/").send().await;
        assert!(seen.recv().unwrap().contains("cookie: session=s1\r\n"));
        c.set_cookies_enabled(false);
        c.get("/").send().await;
        assert!(!seen.recv().unwrap().contains("cookie:"));
    });
}

#[test]
fn redirects_are_followed_and_recorded_once() {
    let (host, seen) = serve(|head, out| {
        let resp: &[u8] = match path_of(head) {
            "/a" => b"HTTP/1.1 302 Found\r\nLocation: b?x=1\r\nContent-Length: 0\r\n\r\n",
            "/see-other" => b"HTTP/1.1 303 See Other\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n",
            "/loop" => b"HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n",
            _ => b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nhere",
        };
        out.write_all(resp).is_ok()
    });
    rt().block_on(async {
        let mut c = HttpClient::new(Some(&host));
        let r = c.get("/a").send().await;
        assert_eq!(outcome(&r), (200, "here".into(), None));
        assert_eq!(
            (
                seen.recv().unwrap().lines().next().unwrap(),
                seen.recv().unwrap().lines().next().unwrap()
            ),
            ("GET /a HTTP/1.1", "GET /b?x=1 HTTP/1.1")
        );
        let r = c.post("/see-other").body("data").send().await;
        assert_eq!(r.status(), 200);
        seen.recv().unwrap();
        assert!(
            seen.recv().unwrap().starts_with("GET /b HTTP/1.1"),
            "303 continues as GET"
        );
        let r = c.get("/loop").send().await;
        assert!(
            r.error()
                .unwrap_or_default()
                .contains("exceeded 30 redirects"),
            "{r:?}"
        );
        let r = c.get("/a").follow_redirects(false).send().await;
        assert_eq!(r.status(), 302);
        assert_eq!(r.header("location"), Some("b?x=1"));
    });
}

#[test]
fn the_deadline_timer_moves_only_when_it_fires() {
    rt().block_on(async {
        let mut d = Deadline::default();
        let soon = tokio::time::Instant::now() + Duration::from_millis(30);
        assert_eq!(d.run(soon, async { 1 }).await, Some(1));
        // A later deadline keeps the earlier timer; when it fires early, it is moved on.
        let later = tokio::time::Instant::now() + Duration::from_millis(80);
        let slow = tokio::time::sleep(Duration::from_millis(50));
        assert_eq!(
            d.run(later, async {
                slow.await;
                2
            })
            .await,
            Some(2)
        );
        let never = std::future::pending::<()>();
        let start = Instant::now();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(40);
        assert_eq!(d.run(deadline, never).await, None);
        assert!(start.elapsed() >= Duration::from_millis(40));
    });
}

/// Names and failure texts as a Python `HttpUser` reports them, so that the master merges a
/// mixed fleet's rows (the texts come from Locust 2.47.0 against the same answers).
#[test]
fn names_and_failures_read_as_a_python_workers() {
    let (host, _) = serve(|head, out| {
        let resp: &[u8] = match path_of(head) {
            "/api/teapot" => b"HTTP/1.1 418 Brewing Now\r\nContent-Length: 0\r\n\r\n",
            "/down" => b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\nno",
            "/weird" => b"HTTP/1.1 600 Weird\r\nContent-Length: 2\r\n\r\nno",
            _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope",
        };
        out.write_all(resp).is_ok()
    });
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    rt().block_on(async {
        let mut c = HttpClient::new(Some(&format!("{host}/api")));
        let r = c.get("/missing?x=1").send().await;
        assert_eq!(r.name(), "/api/missing?x=1");
        assert_eq!(
            r.error(),
            Some("HTTPError('404 Client Error: Not Found for url: /api/missing?x=1')")
        );
        assert_eq!(r.body().len(), 4);
        let r = c.get("/missing").name("/named").send().await;
        assert_eq!(
            r.error(),
            Some("HTTPError('404 Client Error: Not Found for url: /named')")
        );
        let r = c.get("/teapot").send().await;
        assert_eq!(
            r.error(),
            Some("HTTPError('418 Client Error: Brewing Now for url: /api/teapot')")
        );
        let r = c.get(&format!("{host}/down")).send().await;
        assert_eq!(r.name(), "/down");
        assert_eq!(
            r.error(),
            Some("HTTPError('503 Server Error: Service Unavailable for url: /down')")
        );
        // `raise_for_status` stops at 599.
        let r = c.get(&format!("{host}/weird")).send().await;
        assert_eq!((r.status(), r.error()), (600, None));
        let mut r = c.get("/missing").send().await;
        r.failure("no price in it's body");
        assert_eq!(
            r.error(),
            Some("CatchResponseError(\"no price in it's body\")")
        );
        let r = c
            .get(&format!("http://127.0.0.1:{closed}/refused"))
            .send()
            .await;
        assert_eq!(r.name(), "/refused");
        assert_eq!(
            r.error(),
            Some("ConnectionRefusedError(111, 'Connection refused')")
        );
    });
}

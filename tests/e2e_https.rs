//! End-to-end: `boomer::http` over TLS and HTTP/2 against real servers (hyper behind
//! rustls, certificates made by the test), with a real Locust master. What the servers
//! served must be what the master counted; bad certificates fail with errors that say why.

mod common;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::servers::{Certs, Server, ServerOpts};
use common::*;

const RUN: Duration = Duration::from_secs(60);

/// A CSV row by column, and the stats rows by name.
type Row = HashMap<String, String>;
type Rows = HashMap<String, Row>;

/// One headless run of `worker` (5 s, `users` users) with the master's Host set to `host`;
/// returns the master's stats rows by name and its failure rows.
fn run(
    test: &str,
    worker_name: &str,
    users: u32,
    host: &str,
    env: &[(&str, &str)],
    flags: &[&str],
) -> (Rows, Vec<Row>) {
    let dir = scratch(test);
    let port = free_port();
    let mut master = headless_master(
        &dir,
        "examples/locustfile.py",
        port,
        users,
        "5s",
        &["--csv", "run", "--exit-code-on-error", "0", "--host", host],
    );
    let mut worker = worker(&dir, worker_name, port, env, flags);
    master.assert_exit(0, RUN);
    worker.assert_exit(0, Duration::from_secs(10));
    let rows = csv_records(&dir.join("run_stats.csv"))
        .into_iter()
        .map(|r| (r["Name"].clone(), r))
        .collect();
    (rows, csv_records(&dir.join("run_failures.csv")))
}

/// A TLS server (HTTP/2 and HTTP/1.1 by ALPN) with the certificate for 127.0.0.1.
fn tls_server(certs: &Certs) -> Server {
    Server::start(ServerOpts {
        tls: Some(certs.server.clone()),
        ..ServerOpts::default()
    })
}

fn count(rows: &Rows, name: &str, col: &str) -> u64 {
    rows.get(name)
        .unwrap_or_else(|| panic!("no row {name} in {rows:?}"))[col]
        .parse()
        .expect("a count")
}

/// The e2e_http mix (300 requests: /missing, /gone, /redirect → /, 2 × /) against `server`:
/// every row equals what the server served.
fn conserve(test: &str, server: &Server, flags: &[&str]) {
    let (rows, failures) = run(
        test,
        "e2e_http",
        8,
        &server.url(),
        &[("HTTP_TOTAL", "300")],
        flags,
    );
    let served = server.counts();
    assert_eq!(server.total(), 360, "served {served:?}");
    let n = |name: &str| {
        (
            count(&rows, name, "Request Count"),
            count(&rows, name, "Failure Count"),
        )
    };
    assert_eq!(
        n("/missing"),
        (server.count("/missing"), server.count("/missing"))
    );
    assert_eq!(n("/gone [expected]"), (server.count("/gone"), 0));
    assert_eq!(n("/redirect"), (server.count("/redirect"), 0));
    assert_eq!(n("/"), (server.count("/") - server.count("/redirect"), 0));
    assert_eq!(n("Aggregated"), (300, 60));
    assert_eq!(failures.len(), 1, "{failures:?}");
}

#[test]
fn https_requests_are_counted_as_served() {
    let dir = scratch("https-certs");
    let certs = Certs::new(&dir);
    let server = Server::start(ServerOpts {
        tls: Some(certs.server.clone()),
        http1_only: true,
        ..ServerOpts::default()
    });
    let ca = certs.ca.display().to_string();
    conserve("https", &server, &["--ca-cert", &ca]);
    assert_eq!(
        server
            .seen
            .h2_requests
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[test]
fn http2_requests_are_counted_as_served() {
    let dir = scratch("h2-certs");
    let certs = Certs::new(&dir);
    let server = tls_server(&certs);
    let ca = certs.ca.display().to_string();
    conserve("h2", &server, &["--ca-cert", &ca]);
    // ALPN chose HTTP/2 for every request, on one connection per user.
    let h2 = server
        .seen
        .h2_requests
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(h2, 360);
    let conns = server
        .seen
        .connections
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(conns <= 8, "{conns} connections for 8 users");

    // The same server with --http1-only: HTTP/1.1 over TLS.
    let h1 = tls_server(&certs);
    conserve("h2-off", &h1, &["--ca-cert", &ca, "--http1-only"]);
    assert_eq!(
        h1.seen
            .h2_requests
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[test]
fn h2c_with_prior_knowledge_is_counted_as_served() {
    let server = Server::start(ServerOpts {
        h2c: true,
        ..ServerOpts::default()
    });
    conserve("h2c", &server, &["--http2-prior-knowledge"]);
    assert_eq!(
        server
            .seen
            .h2_requests
            .load(std::sync::atomic::Ordering::Relaxed),
        360
    );
}

#[test]
fn sessions_keep_their_cookies_apart_and_json_round_trips() {
    let dir = scratch("session-certs");
    let certs = Certs::new(&dir);
    let server = tls_server(&certs);
    let ca = certs.ca.display().to_string();
    let (rows, failures) = run(
        "session",
        "e2e_session",
        8,
        &server.url(),
        &[("SESSION_TOTAL", "300")],
        &["--ca-cert", &ca],
    );
    assert!(failures.is_empty(), "{failures:?}");
    // Each of the 8 users logged in once, under its own name; every /me carried the
    // cookie of the user that sent it (else the worker records a failure).
    let logins: Vec<String> = (0..8).map(|i| format!("user-{i}")).collect();
    assert_eq!(server.logins(), logins);
    assert_eq!(
        count(&rows, "/login", "Request Count"),
        server.count("/login")
    );
    assert_eq!(count(&rows, "/me", "Request Count"), 150);
    assert_eq!(count(&rows, "/echo", "Request Count"), 150);
    assert_eq!((server.count("/me"), server.count("/echo")), (150, 150));
    assert_eq!(count(&rows, "Aggregated", "Failure Count"), 0);
}

#[test]
fn a_redirect_from_http_to_https_is_followed() {
    let dir = scratch("redirect-certs");
    let certs = Certs::new(&dir);
    let tls = tls_server(&certs);
    let plain = Server::start(ServerOpts::default());
    let path = format!("/to?{}/", tls.url());
    let ca = certs.ca.display().to_string();
    let (rows, failures) = run(
        "redirect-https",
        "e2e_http",
        4,
        &plain.url(),
        &[("HTTP_TOTAL", "100"), ("HTTP_ONLY_PATH", &path)],
        &["--ca-cert", &ca],
    );
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(count(&rows, &path, "Request Count"), 100);
    assert_eq!((plain.count("/to"), tls.count("/")), (100, 100));
}

/// A worker against a server with this certificate: every request fails with an error
/// that contains `why`, and the users go on (all 20 are tried).
fn fails_with(test: &str, cert: &common::servers::CertFiles, flags: &[&str], why: &str) {
    let server = Server::start(ServerOpts {
        tls: Some(cert.clone()),
        ..ServerOpts::default()
    });
    let env = [("HTTP_TOTAL", "20"), ("HTTP_ONLY_PATH", "/")];
    let (rows, failures) = run(test, "e2e_http", 2, &server.url(), &env, flags);
    assert_eq!(count(&rows, "/", "Failure Count"), 20);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0]["Error"].contains(why), "{failures:?}");
    assert_eq!(server.total(), 0);
}

#[test]
fn bad_certificates_fail_with_errors_that_say_why() {
    let dir = scratch("bad-certs");
    let certs = Certs::new(&dir);
    let ca = certs.ca.display().to_string();
    let trust = ["--ca-cert", ca.as_str()];
    fails_with("expired", &certs.expired, &trust, "has expired");
    fails_with(
        "wrong-host",
        &certs.wrong_host,
        &trust,
        "is not valid for the host name",
    );
    fails_with(
        "unknown-ca",
        &certs.self_signed,
        &trust,
        "signed by an unknown CA",
    );
    // No --ca-cert: the test CA is unknown to the system's roots.
    fails_with("no-ca", &certs.server, &[], "signed by an unknown CA");

    // --insecure accepts the self-signed certificate.
    let server = Server::start(ServerOpts {
        tls: Some(certs.self_signed.clone()),
        ..ServerOpts::default()
    });
    let env = [("HTTP_TOTAL", "20"), ("HTTP_ONLY_PATH", "/")];
    let (rows, failures) = run(
        "insecure",
        "e2e_http",
        2,
        &server.url(),
        &env,
        &["--insecure"],
    );
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(
        (count(&rows, "/", "Request Count"), server.count("/")),
        (20, 20)
    );
}

#[test]
fn client_certificates_are_presented_when_asked() {
    let dir = scratch("mtls-certs");
    let certs = Certs::new(&dir);
    let server = Server::start(ServerOpts {
        tls: Some(certs.server.clone()),
        client_ca: Some(certs.client_ca.clone()),
        ..ServerOpts::default()
    });
    let (ca, cert, key) = (
        certs.ca.display().to_string(),
        certs.client.cert.display().to_string(),
        certs.client.key.display().to_string(),
    );
    let env = [("HTTP_TOTAL", "20"), ("HTTP_ONLY_PATH", "/")];
    let flags = [
        "--ca-cert",
        &ca,
        "--client-cert",
        &cert,
        "--client-key",
        &key,
    ];
    let (rows, failures) = run("mtls", "e2e_http", 2, &server.url(), &env, &flags);
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(
        (count(&rows, "/", "Request Count"), server.count("/")),
        (20, 20)
    );

    // Without one, the server refuses: failures, nothing served.
    let (rows, _) = run(
        "mtls-none",
        "e2e_http",
        2,
        &server.url(),
        &env,
        &["--ca-cert", &ca],
    );
    assert_eq!(count(&rows, "/", "Failure Count"), 20);
    assert_eq!(
        server.count("/"),
        20,
        "only the 20 requests with a certificate"
    );
}

/// The web UI's Host edit moves running users from an HTTP/1.1 server to an HTTP/2 one.
#[test]
fn a_host_change_moves_users_between_protocols() {
    let dir = scratch("host-h2");
    let certs = Certs::new(&dir);
    let (a, b) = (Server::start(ServerOpts::default()), tls_server(&certs));
    let port = free_port();
    let (_master, web) = web_master(&dir, "examples/locustfile.py", port, &[]);
    let ca = certs.ca.display().to_string();
    let env = [("HTTP_TOTAL", "1000000000"), ("HTTP_ONLY_PATH", "/")];
    let _worker = worker(&dir, "e2e_http", port, &env, &["--ca-cert", &ca]);
    wait_workers(web, 1, "ready", RUN);
    swarm(web, 2, &a.url());
    wait_for("requests to the HTTP/1.1 host", RUN, || {
        (a.count("/") > 50).then_some(())
    });
    swarm(web, 2, &b.url());
    let h2 = || {
        b.seen
            .h2_requests
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    wait_for("HTTP/2 requests to the new host", RUN, || {
        (h2() > 50).then_some(())
    });
    let on_a = a.count("/");
    wait_for("more HTTP/2 requests", RUN, || (h2() > 200).then_some(()));
    stop(web);
    // Once the users moved, the old host got nothing more.
    assert_eq!(a.count("/"), on_a);
    assert_eq!(h2(), b.total());
}

/// A TLS server with certificates made for `test`, a client in this process that trusts
/// its CA, and a runtime to drive the client.
fn tls_client(test: &str) -> (Server, boomer::http::HttpClient, tokio::runtime::Runtime) {
    let certs = Certs::new(&scratch(test));
    let server = tls_server(&certs);
    let config = boomer::http::HttpConfig::new().ca_cert_file(&certs.ca);
    let client =
        boomer::http::HttpClient::with_config(Some(&server.url()), &config).expect("config");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    (server, client, rt)
}

/// One client in this process against the TLS server: a reconnect resumes the TLS session,
/// the timings say which phases a request went through, and a gzip body asked for is decoded.
#[test]
fn reconnects_resume_tls_and_timings_tell_the_phases() {
    let (server, mut client, rt) = tls_client("resume-certs");
    rt.block_on(async {
        let first = client.get("/").send().await;
        assert_eq!(
            (first.status(), first.version()),
            (200, boomer::http::Version::HTTP_2)
        );
        let t = *first.timings();
        assert!(!t.reused && !t.tls_resumed, "{t:?}");
        assert!(
            t.connect > Duration::ZERO && t.tls_handshake > Duration::ZERO,
            "{t:?}"
        );
        let again = client.get("/").send().await;
        let t = *again.timings();
        assert!(t.reused && t.tls_handshake == Duration::ZERO, "{t:?}");
        assert!(again.elapsed() >= t.time_to_first_byte, "{t:?}");
        client.close();
        let resumed = client.get("/").send().await;
        assert!(resumed.timings().tls_resumed, "{:?}", resumed.timings());
        assert_eq!(resumed.text(), "hello");

        let plain = client.get("/gzip").send().await;
        assert_eq!(plain.text(), "hello, compressed");
        let gz = client
            .get("/gzip")
            .header("Accept-Encoding", "gzip")
            .send()
            .await;
        assert_eq!(gz.header("content-encoding"), Some("gzip"));
        assert_eq!(gz.text(), "hello, compressed");
    });
    assert_eq!(
        server
            .seen
            .connections
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
}

/// HTTP/2 bodies past the flow-control windows, both ways: a 300 KB request body (the
/// server's window is 64 KiB) and a 3 MB response (past the client's 2 MiB stream window),
/// on one connection.
#[test]
fn http2_bodies_cross_the_flow_control_windows() {
    let (server, mut client, rt) = tls_client("h2-bodies");
    rt.block_on(async {
        let big = "y".repeat(300_000);
        let echo = client.post("/echo").body(big.clone()).send().await;
        assert_eq!(echo.version(), boomer::http::Version::HTTP_2);
        let seen: serde_json::Value = echo.json().expect("JSON");
        assert_eq!(seen["body"].as_str().map(str::len), Some(big.len()));
        for _ in 0..2 {
            let resp = client.get("/big?3000000").send().await;
            assert_eq!(
                (resp.status(), resp.body().len()),
                (200, 3_000_000),
                "{resp:?}"
            );
            assert!(resp.body().iter().all(|&b| b == b'x'));
        }
    });
    assert_eq!(server.seen.connections.load(Ordering::Relaxed), 1);
}

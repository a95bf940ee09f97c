//! Real servers for the HTTP end-to-end tests: hyper's HTTP/1.1 and HTTP/2 servers, plain
//! or behind rustls with certificates made here (rcgen), on 127.0.0.1, on a thread of
//! their own. They count what they served, so a test can compare it with what the
//! master counted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

/// A certificate and its key, as PEM files.
#[derive(Clone, Debug)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Every certificate the tests need, signed by test CAs made for this run.
pub struct Certs {
    /// The CA that signs the server certificates (what `--ca-cert` trusts).
    pub ca: PathBuf,
    /// Valid for 127.0.0.1 and localhost.
    pub server: CertFiles,
    /// Expired in 2020.
    pub expired: CertFiles,
    /// Valid only for `wrong.example`.
    pub wrong_host: CertFiles,
    /// Self-signed for 127.0.0.1 (no CA the client knows).
    pub self_signed: CertFiles,
    /// The CA a server requiring client certificates trusts, and a client certificate.
    pub client_ca: PathBuf,
    pub client: CertFiles,
}

impl Certs {
    pub fn new(dir: &Path) -> Certs {
        let server_ca = ca("boomer test CA");
        let client_ca = ca("boomer client CA");
        let write = |name: &str, pem: String| {
            let path = dir.join(name);
            std::fs::write(&path, pem).expect("write a PEM file");
            path
        };
        let leaf = |name: &str,
                    sans: &[&str],
                    issuer: &CertifiedIssuer<'static, KeyPair>,
                    expired: bool| {
            let key = KeyPair::generate().expect("a key");
            let mut params =
                CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                    .expect("params");
            params.distinguished_name.push(DnType::CommonName, sans[0]);
            if expired {
                params.not_before = rcgen::date_time_ymd(2019, 1, 1);
                params.not_after = rcgen::date_time_ymd(2020, 1, 1);
            }
            let cert = params.signed_by(&key, &**issuer).expect("sign");
            CertFiles {
                cert: write(&format!("{name}.pem"), cert.pem()),
                key: write(&format!("{name}.key"), key.serialize_pem()),
            }
        };
        let self_key = KeyPair::generate().expect("a key");
        let self_cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .expect("params")
            .self_signed(&self_key)
            .expect("self-sign");
        Certs {
            ca: write("ca.pem", server_ca.pem()),
            server: leaf("server", &["127.0.0.1", "localhost"], &server_ca, false),
            expired: leaf("expired", &["127.0.0.1"], &server_ca, true),
            wrong_host: leaf("wrong_host", &["wrong.example"], &server_ca, false),
            self_signed: CertFiles {
                cert: write("self_signed.pem", self_cert.pem()),
                key: write("self_signed.key", self_key.serialize_pem()),
            },
            client_ca: write("client_ca.pem", client_ca.pem()),
            client: leaf("client", &["boomer-client"], &client_ca, false),
        }
    }
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("a key")).expect("a CA")
}

/// How a [`Server`] listens.
#[derive(Clone, Default)]
pub struct ServerOpts {
    /// TLS with this certificate; plain HTTP without.
    pub tls: Option<CertFiles>,
    /// Offer only http/1.1 by ALPN (h2 and http/1.1 otherwise).
    pub http1_only: bool,
    /// Plain HTTP/2 with prior knowledge (h2c).
    pub h2c: bool,
    /// Require a client certificate signed by this CA.
    pub client_ca: Option<PathBuf>,
}

/// What a server saw.
#[derive(Default)]
pub struct Seen {
    paths: Mutex<HashMap<String, u64>>,
    pub h2_requests: AtomicU64,
    pub connections: AtomicU64,
    /// session id → the user name that logged in with it.
    sessions: Mutex<HashMap<String, String>>,
    next_session: AtomicU64,
}

/// A server on 127.0.0.1 that runs until the test process ends.
pub struct Server {
    pub addr: SocketAddr,
    pub scheme: &'static str,
    pub seen: Arc<Seen>,
}

impl Server {
    pub fn start(opts: ServerOpts) -> Server {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a test server");
        let addr = listener.local_addr().expect("its address");
        listener.set_nonblocking(true).expect("nonblocking");
        let seen = Arc::new(Seen::default());
        let scheme = if opts.tls.is_some() { "https" } else { "http" };
        let acceptor = opts.tls.as_ref().map(|tls| tls_acceptor(tls, &opts));
        let shared = seen.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("tokio listener");
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = tcp.set_nodelay(true);
                    shared.connections.fetch_add(1, Ordering::Relaxed);
                    let (seen, acceptor, h2c) = (shared.clone(), acceptor.clone(), opts.h2c);
                    tokio::spawn(async move {
                        match acceptor {
                            Some(acceptor) => {
                                let Ok(tls) = acceptor.accept(tcp).await else {
                                    return;
                                };
                                let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                                serve(TokioIo::new(tls), h2, seen).await;
                            }
                            None => serve(TokioIo::new(tcp), h2c, seen).await,
                        }
                    });
                }
            });
        });
        Server { addr, scheme, seen }
    }

    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Requests served on `path`.
    pub fn count(&self, path: &str) -> u64 {
        self.seen
            .paths
            .lock()
            .expect("counts")
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.seen.paths.lock().expect("counts").values().sum()
    }

    pub fn counts(&self) -> HashMap<String, u64> {
        self.seen.paths.lock().expect("counts").clone()
    }

    /// The distinct user names that logged in.
    pub fn logins(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .seen
            .sessions
            .lock()
            .expect("sessions")
            .values()
            .cloned()
            .collect();
        names.sort();
        names
    }
}

fn tls_acceptor(tls: &CertFiles, opts: &ServerOpts) -> tokio_rustls::TlsAcceptor {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert)
        .expect("read the cert")
        .collect::<Result<_, _>>()
        .expect("parse the cert");
    let key = PrivateKeyDer::from_pem_file(&tls.key).expect("read the key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions");
    let builder = match &opts.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(ca).expect("read the client CA") {
                roots
                    .add(cert.expect("parse the client CA"))
                    .expect("add the client CA");
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .expect("a client verifier");
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key).expect("server config");
    config.alpn_protocols = if opts.http1_only {
        vec![b"http/1.1".to_vec()]
    } else {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    };
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

async fn serve<IO>(io: TokioIo<IO>, h2: bool, seen: Arc<Seen>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let seen = seen.clone();
        async move { Ok::<_, std::convert::Infallible>(route(req, &seen, h2).await) }
    });
    if h2 {
        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(io, service)
            .await;
    } else {
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, service)
            .await;
    }
}

fn reply(status: u16, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    resp
}

fn with(mut resp: Response<Full<Bytes>>, name: &str, value: &str) -> Response<Full<Bytes>> {
    resp.headers_mut().append(
        hyper::header::HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
        value.parse().expect("a header value"),
    );
    resp
}

fn json(status: u16, value: serde_json::Value) -> Response<Full<Bytes>> {
    with(
        reply(status, value.to_string()),
        "content-type",
        "application/json",
    )
}

/// `/` hello; `/missing`, `/gone` 404; `/redirect` → `/`; `/to?URL` → URL; `/login` (POST
/// JSON `{"username"}`: a session cookie and a token); `/me` (the session's user, 401
/// without one); `/echo` (JSON of what came); `/status/N`; `/gzip`; `/stall?N` (its
/// Nth request, counted from 1, answers after 2 s, the others at once); `/sleep?MS` (after
/// MS milliseconds).
async fn route(req: Request<Incoming>, seen: &Seen, h2: bool) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let nth = {
        let mut paths = seen.paths.lock().expect("counts");
        let n = paths.entry(path.clone()).or_insert(0);
        *n += 1;
        *n
    };
    if h2 {
        seen.h2_requests.fetch_add(1, Ordering::Relaxed);
    }
    let method = req.method().to_string();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (cookie, auth, ctype, accept) = (
        header("cookie"),
        header("authorization"),
        header("content-type"),
        header("accept-encoding"),
    );
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    match path.as_str() {
        "/" => reply(200, "hello"),
        "/stall" => {
            if query.parse() == Ok(nth) {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
            reply(200, "stalled once")
        }
        "/sleep" => {
            let ms = query.parse().unwrap_or(0u64).min(10_000);
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            reply(200, "slept")
        }
        "/redirect" => with(reply(302, ""), "location", "/"),
        "/to" => with(reply(302, ""), "location", &query),
        "/login" => {
            let user = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["username"].as_str().map(str::to_string));
            let Some(user) = user else {
                return reply(400, "no username");
            };
            let id = format!("s{}", seen.next_session.fetch_add(1, Ordering::Relaxed));
            seen.sessions
                .lock()
                .expect("sessions")
                .insert(id.clone(), user.clone());
            let resp = json(200, serde_json::json!({ "token": format!("t-{user}") }));
            with(
                resp,
                "set-cookie",
                &format!("session={id}; Path=/; HttpOnly"),
            )
        }
        "/me" => {
            let session = cookie
                .split(';')
                .find_map(|c| c.trim().strip_prefix("session="))
                .unwrap_or("");
            match seen.sessions.lock().expect("sessions").get(session) {
                Some(user) => json(200, serde_json::json!({ "username": user, "auth": auth })),
                None => reply(401, "log in first"),
            }
        }
        "/echo" => json(
            200,
            serde_json::json!({
                "method": method, "path": path, "query": query, "content_type": ctype,
                "authorization": auth, "cookie": cookie,
                "body": String::from_utf8_lossy(&body),
            }),
        ),
        "/gzip" if accept.contains("gzip") => {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let _ = enc.write_all(b"hello, compressed");
            let resp = reply(200, enc.finish().unwrap_or_default());
            with(resp, "content-encoding", "gzip")
        }
        "/gzip" => reply(200, "hello, compressed"),
        p if p.starts_with("/status/") => reply(p[8..].parse().unwrap_or(500), ""),
        // `/big?N`: N bytes of `x` (past a flow-control window when large).
        "/big" => reply(200, "x".repeat(query.parse().unwrap_or(0))),
        _ => reply(404, "no!"),
    }
}

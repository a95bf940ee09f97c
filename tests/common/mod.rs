//! Harness for the end-to-end tests: a real Locust master (installed by
//! `scripts/install-locust`), the example workers built by `cargo test`, their outputs.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub mod servers;

pub const LOCUST_VERSION: &str = "2.47.0";

/// The pinned Locust; a missing one fails the test (CI installs it with scripts/install-locust).
pub fn locust() -> PathBuf {
    let path = std::env::var_os("BOOMER_LOCUST")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!(".venv/locust-{LOCUST_VERSION}/bin/locust"))
        });
    assert!(
        path.exists(),
        "Locust not found at {}: run scripts/install-locust (scripts/test does)",
        path.display()
    );
    path
}

/// An example binary built by `cargo test`.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo test` (which builds the examples) or `cargo build --examples`",
        path.display()
    );
    path
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// A scratch directory for one test's outputs.
pub fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{test}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A child process whose stdout/stderr go to files, killed when dropped.
pub struct Proc {
    pub name: String,
    child: Option<Child>,
    pub log: PathBuf,
    exit: Option<mpsc::Receiver<ExitStatus>>,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command, dir: &Path) -> Proc {
        let log = dir.join(format!("{name}.log"));
        let out = fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        cmd.stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .stdin(Stdio::null());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            name: name.to_string(),
            child: Some(child),
            log,
            exit: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Waits for the process to exit (on a thread blocked in wait(), no polling).
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        if self.exit.is_none() {
            let mut child = self.child.take().expect("child");
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                if let Ok(status) = child.wait() {
                    let _ = tx.send(status);
                }
            });
            self.exit = Some(rx);
            self.child = None;
        }
        match self.exit.as_ref().expect("receiver").recv_timeout(timeout) {
            Ok(status) => status,
            Err(_) => panic!(
                "{} did not exit within {timeout:?}; its log:\n{}",
                self.name,
                self.output()
            ),
        }
    }

    /// Waits for the process to exit and checks its exit code, showing its log if wrong.
    pub fn assert_exit(&mut self, code: i32, timeout: Duration) {
        let status = self.wait(timeout);
        assert_eq!(
            status.code(),
            Some(code),
            "{} exited with {status}; its log:\n{}",
            self.name,
            self.output()
        );
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status();
        assert!(
            status.map(|s| s.success()).unwrap_or(false),
            "kill -{sig} failed"
        );
    }

    pub fn output(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A Locust master on 127.0.0.1.
pub fn master(dir: &Path, locustfile: &str, port: u16, args: &[&str]) -> Proc {
    let mut cmd = Command::new(locust());
    cmd.arg("-f")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(locustfile))
        .args(["--master", "--master-bind-host", "127.0.0.1"])
        .args(["--master-bind-port", &port.to_string()])
        .args(args)
        .current_dir(dir);
    Proc::spawn("master", cmd, dir)
}

/// A headless master that waits up to 30 s for one worker, runs `users` users (spawned at
/// once) for `run_time`, then quits: Locust's `--headless --only-summary -u N -r N -t T
/// --expect-workers 1`, plus `extra`.
pub fn headless_master(
    dir: &Path,
    locustfile: &str,
    port: u16,
    users: u32,
    run_time: &str,
    extra: &[&str],
) -> Proc {
    let users = users.to_string();
    let mut args = vec![
        "--headless",
        "--only-summary",
        "-u",
        &users,
        "-r",
        &users,
        "-t",
        run_time,
        "--expect-workers",
        "1",
        "--expect-workers-max-wait",
        "30",
    ];
    args.extend_from_slice(extra);
    master(dir, locustfile, port, &args)
}

/// An example worker joining the master on `port`.
pub fn worker(
    dir: &Path,
    example_name: &str,
    port: u16,
    env: &[(&str, &str)],
    args: &[&str],
) -> Proc {
    let mut cmd = Command::new(example(example_name));
    cmd.args([
        "--master-host",
        "127.0.0.1",
        "--master-port",
        &port.to_string(),
    ])
    .args(args)
    .envs(env.iter().copied())
    .current_dir(dir);
    Proc::spawn(&format!("worker-{example_name}"), cmd, dir)
}

/// A CSV file as rows of fields (quotes handled as Python's csv module writes them).
pub fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\r', false) => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// The rows of a CSV keyed by header name.
pub fn csv_records(path: &Path) -> Vec<HashMap<String, String>> {
    let rows = read_csv(path);
    let header = rows.first().cloned().unwrap_or_default();
    rows.into_iter()
        .skip(1)
        .map(|r| header.iter().cloned().zip(r).collect())
        .collect()
}

/// A minimal HTTP/1.1 request to the master's web UI on 127.0.0.1; returns (status, body).
pub fn http(port: u16, method: &str, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(':', "%3A").replace('/', "%2F")))
        .collect::<Vec<_>>()
        .join("&");
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).expect("send request");
    let mut resp = String::new();
    stream.read_to_string(&mut resp).expect("read response");
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Polls `probe` until it returns Some, or panics after `timeout` with `what`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The CSV row the master must show for `RECORDER_TOTAL` requests of the recorder worker
/// (see tests/workers/recorder.rs): counts, failures, median, average, min, max, content
/// size, then the percentiles 50 .. 100.
pub fn assert_recorder_row(row: &std::collections::HashMap<String, String>, total: u64) {
    let failures = total / 20;
    let expect = [
        ("Request Count", total.to_string()),
        ("Failure Count", failures.to_string()),
        ("Median Response Time", "20".into()),
        ("Average Response Time", "100.5".into()),
        ("Min Response Time", "10".into()),
        ("Max Response Time", "1200".into()),
        ("Average Content Size", "95.0".into()),
        ("50%", "20".into()),
        ("66%", "45".into()),
        ("75%", "45".into()),
        ("80%", "150".into()),
        ("90%", "150".into()),
        ("95%", "1200".into()),
        ("98%", "1200".into()),
        ("99%", "1200".into()),
        ("99.9%", "1200".into()),
        ("100%", "1200".into()),
    ];
    for (column, want) in expect {
        assert_eq!(row.get(column), Some(&want), "column {column:?} of {row:?}");
    }
}

/// The master's Aggregated request count, its state and its workers (web API).
pub fn aggregated_requests(web: u16) -> Option<(u64, String, Vec<serde_json::Value>)> {
    let (code, body) = http(web, "GET", "/stats/requests", &[]);
    if code != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    let total = v["stats"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == "Aggregated")
        .and_then(|e| e["num_requests"].as_u64())
        .unwrap_or(0);
    let state = v["state"].as_str()?.to_string();
    let workers = v["workers"].as_array()?.clone();
    Some((total, state, workers))
}

pub fn requests_named(web: u16, name: &str) -> u64 {
    let (_, body) = http(web, "GET", "/stats/requests", &[]);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["stats"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["name"] == name))
        .and_then(|e| e["num_requests"].as_u64())
        .unwrap_or(0)
}

/// Waits until the master's web API lists exactly `n` workers, all in `state`.
pub fn wait_workers(web: u16, n: usize, state: &str, timeout: Duration) {
    wait_for(&format!("{n} worker(s) {state}"), timeout, || {
        aggregated_requests(web)
            .filter(|(_, _, w)| w.len() == n && w.iter().all(|w| w["state"] == state))
            .map(|_| ())
    })
}

/// Starts a test from the web API.
pub fn swarm(web: u16, users: u32, host: &str) {
    let users = users.to_string();
    let (code, body) = http(
        web,
        "POST",
        "/swarm",
        &[
            ("user_count", &users),
            ("spawn_rate", &users),
            ("host", host),
        ],
    );
    assert_eq!(code, 200, "{body}");
}

/// A web-UI master (no --headless) on 127.0.0.1: returns it and its web port.
pub fn web_master(dir: &Path, locustfile: &str, port: u16, args: &[&str]) -> (Proc, u16) {
    let web = free_port();
    let web_s = web.to_string();
    let mut all = vec!["--web-host", "127.0.0.1", "--web-port", &web_s];
    all.extend_from_slice(args);
    (master(dir, locustfile, port, &all), web)
}

/// Stops the test from the web API (`POST /stop`; `GET` before Locust 2.3x).
pub fn stop(web: u16) {
    let (mut code, _) = http(web, "POST", "/stop", &[]);
    if code == 405 {
        code = http(web, "GET", "/stop", &[]).0;
    }
    assert_eq!(code, 200, "stop failed");
}

/// The version of the Locust under test, e.g. (2, 47, 0).
pub fn locust_version() -> (u32, u32, u32) {
    let out = Command::new(locust())
        .arg("--version")
        .output()
        .expect("locust --version");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let version = text.split_whitespace().nth(1).unwrap_or_default();
    let mut parts = version.split('.').map(|p| p.parse().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

/// An error text as the master's failures CSV shows it: before Locust 2.28 the master quoted
/// every error once more (`repr()` of the text, locust commit 947f5413).
pub fn master_error(text: &str) -> String {
    if locust_version() >= (2, 28, 0) {
        return text.to_string();
    }
    // Python's repr(str) for the texts the tests use (no control characters).
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(quote);
    for c in text.chars() {
        if c == '\\' || c == quote {
            out.push('\\');
        }
        out.push(c);
    }
    out.push(quote);
    out
}

/// The prologue most end-to-end tests share: a scratch directory, a web-UI master on free
/// ports, and one example worker that the master lists as ready. Dropping it kills both.
pub struct Cluster {
    pub dir: PathBuf,
    /// The master's port for workers.
    pub port: u16,
    /// The master's web port.
    pub web: u16,
    pub master: Proc,
    pub worker: Proc,
}

/// A [`Cluster`] for test `test`: [`web_master`] running `locustfile` with `master_args`,
/// and [`worker`] `example` with `env` and `worker_args`, once the master lists it as ready
/// (within 60 s).
pub fn ready_cluster(
    test: &str,
    locustfile: &str,
    master_args: &[&str],
    example: &str,
    env: &[(&str, &str)],
    worker_args: &[&str],
) -> Cluster {
    let dir = scratch(test);
    let port = free_port();
    let (master, web) = web_master(&dir, locustfile, port, master_args);
    let worker = worker(&dir, example, port, env, worker_args);
    wait_workers(web, 1, "ready", Duration::from_secs(60));
    Cluster {
        dir,
        port,
        web,
        master,
        worker,
    }
}

/// Whether `promtool` finds anything to say about a page (it prints nothing when clean).
pub fn promtool_check(page: &str) -> (bool, String) {
    use std::io::Write;
    let promtool = std::env::var("BOOMER_PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{promtool} not found ({e}): install it (Debian's package prometheus)")
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(page.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && said.trim().is_empty(), said)
}

/// The lines of the (one) worker in the master's Logs tab (`GET /logs`, Locust 2.29+), once
/// it has any.
pub fn logs_tab_lines(web: u16) -> Option<Vec<String>> {
    let (_, body) = http(web, "GET", "/logs", &[]);
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    let lines = v["workers"].as_object()?.values().next()?.as_array()?;
    Some(
        lines
            .iter()
            .filter_map(|l| l.as_str().map(str::to_string))
            .collect(),
    )
}

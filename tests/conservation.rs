//! End-to-end: never lose a sample. `examples/http` against a target that counts every
//! request it reads and answers it 20 ms later, under a real Locust master that ramps the
//! users up and down (a `LoadTestShape`, then the web UI's "edit running test") at the
//! default `stop_timeout` of 0, so users are retired and stopped mid-request. What the
//! target served must be what the master counted, exactly.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;

/// How long the target takes to answer: users are caught mid-request when they stop.
const LATENCY: Duration = Duration::from_millis(20);

/// A keep-alive HTTP/1.1 server on 127.0.0.1 that counts each request once its head is
/// read, waits [`LATENCY`], and answers `200 hello`.
fn counting_target() -> (String, Arc<AtomicU64>) {
    slow_counting_target(LATENCY, Duration::ZERO)
}

/// [`counting_target`] answering after `latency` plus up to `jitter` more, varying from
/// request to request (so that users do not move in step).
fn slow_counting_target(latency: Duration, jitter: Duration) -> (String, Arc<AtomicU64>) {
    let (host, target) = target(latency, jitter);
    (host, target.served)
}

/// What a target has read, and answered.
#[derive(Clone, Default)]
struct Counts {
    served: Arc<AtomicU64>,
    answered: Arc<AtomicU64>,
}

impl Counts {
    /// Requests read and not answered yet.
    fn in_flight(&self) -> u64 {
        let answered = self.answered.load(Ordering::SeqCst);
        self.served.load(Ordering::SeqCst).saturating_sub(answered)
    }
}

/// [`slow_counting_target`], with its answers counted too.
fn target(latency: Duration, jitter: Duration) -> (String, Counts) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the target");
    let port = listener.local_addr().expect("local addr").port();
    let counts = Counts::default();
    let shared = counts.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counts = shared.clone();
            std::thread::spawn(move || connection(stream, &counts, latency, jitter));
        }
    });
    (format!("http://127.0.0.1:{port}"), counts)
}

fn connection(stream: TcpStream, counts: &Counts, latency: Duration, jitter: Duration) {
    let mut out = stream.try_clone().expect("clone the stream");
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header.trim().is_empty() {
                break;
            }
        }
        let n = counts.served.fetch_add(1, Ordering::SeqCst);
        // A spread of the jitter by the request's number (Weyl sequence: evenly spread).
        let spread = (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64 / (1u64 << 53) as f64;
        std::thread::sleep(latency + jitter.mul_f64(spread));
        let resp = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let written = out.write_all(resp.as_bytes());
        counts.answered.fetch_add(1, Ordering::SeqCst);
        if written.is_err() {
            return;
        }
    }
}

/// The master's request count and failure count for `GET /` in a stats CSV.
fn counted(csv: &Path) -> (u64, u64) {
    let stats = csv_records(csv);
    let row = stats
        .iter()
        .find(|r| r["Name"] == "/" && r["Type"] == "GET")
        .unwrap_or_else(|| panic!("no GET / row in {stats:?}"));
    let n = |c: &str| row[c].parse::<u64>().expect("a count");
    (n("Request Count"), n("Failure Count"))
}

/// A `LoadTestShape` on the master: 10 users, then 30, then 5, then the end of the test
/// (a headless master quits): served == counted at every ramp-down, and at the quit.
fn shape_run(name: &str, extra: &[&str]) {
    let (host, served) = counting_target();
    let dir = scratch(name);
    let locustfile = dir.join("shape.py");
    std::fs::write(
        &locustfile,
        "from locust import User, LoadTestShape\n\
         \n\
         class RustUser(User):\n\
         \x20   pass\n\
         \n\
         class Shape(LoadTestShape):\n\
         \x20   stages = [(3, 10), (6, 30), (9, 5)]\n\
         \n\
         \x20   def tick(self):\n\
         \x20       t = self.get_run_time()\n\
         \x20       for end, users in self.stages:\n\
         \x20           if t < end:\n\
         \x20               return (users, 100)\n\
         \x20       return None\n",
    )
    .expect("write the locustfile");
    let port = free_port();
    let mut args = vec![
        "--headless",
        "--only-summary",
        "--expect-workers",
        "1",
        "--expect-workers-max-wait",
        "30",
        "--csv",
        "run",
        "--host",
        &host,
    ];
    args.extend_from_slice(extra);
    let mut master = master(&dir, locustfile.to_str().expect("utf-8 path"), port, &args);
    let mut worker = worker(&dir, "http", port, &[], &[]);
    master.assert_exit(0, Duration::from_secs(60));
    worker.assert_exit(0, Duration::from_secs(10));
    let served = served.load(Ordering::SeqCst);
    let (requests, failures) = counted(&dir.join("run_stats.csv"));
    assert!(served > 1000, "the target served only {served}");
    assert_eq!(
        (requests, failures),
        (served, 0),
        "the target served {served}; master log:\n{}\nworker log:\n{}",
        master.output(),
        worker.output()
    );
}

#[test]
fn a_load_shape_loses_no_request_at_stop_timeout_0() {
    shape_run("shape0", &[]);
}

#[test]
fn a_load_shape_loses_no_request_at_stop_timeout_1() {
    shape_run("shape1", &["--stop-timeout", "1"]);
}

/// The web UI's "edit running test" (POST /swarm again while running): 5 users, then 20,
/// then 3, then Stop: served == counted once the master shows the test stopped.
#[test]
fn web_ui_user_edits_lose_no_request() {
    let (host, served) = counting_target();
    let Cluster {
        dir,
        web,
        master,
        worker,
        ..
    } = ready_cluster("edits", "examples/locustfile.py", &[], "http", &[], &[]);
    for users in [5, 20, 3] {
        swarm(web, users, &host);
        wait_for(
            &format!("{users} users running"),
            Duration::from_secs(10),
            || {
                let (_, body) = http(web, "GET", "/stats/requests", &[]);
                let v: serde_json::Value = serde_json::from_str(&body).ok()?;
                (v["state"] == "running" && v["user_count"] == users).then_some(())
            },
        );
        // Let the users run a while at this count (load, not synchronisation).
        std::thread::sleep(Duration::from_millis(1500));
    }
    stop(web);
    wait_workers(web, 1, "ready", Duration::from_secs(10));
    wait_for(
        "the master to show the test stopped",
        Duration::from_secs(10),
        || aggregated_requests(web).filter(|(_, state, _)| state == "stopped"),
    );
    let (code, csv) = http(web, "GET", "/stats/requests/csv", &[]);
    assert_eq!(code, 200, "{csv}");
    let file = dir.join("stats.csv");
    std::fs::write(&file, csv).expect("write the CSV");
    let served = served.load(Ordering::SeqCst);
    let (requests, failures) = counted(&file);
    assert!(served > 500, "the target served only {served}");
    assert_eq!(
        (requests, failures),
        (served, 0),
        "the target served {served}; master log:\n{}\nworker log:\n{}",
        master.output(),
        worker.output()
    );
    master.signal("TERM");
    worker.signal("TERM");
}

/// The worker quits mid-run (SIGINT, then SIGTERM for a second worker), its 20 users
/// mid-request on a target that answers in 300 to 700 ms, longer than the moment a quitting
/// worker lets tasks finish (200 ms): its final report makes the master's count what the
/// target served.
#[test]
fn a_worker_quitting_mid_request_loses_none() {
    let (host, served) =
        slow_counting_target(Duration::from_millis(300), Duration::from_millis(400));
    let dir = scratch("worker-quit");
    let port = free_port();
    let (_master, web) = web_master(&dir, "examples/locustfile.py", port, &[]);
    for sig in ["INT", "TERM"] {
        let mut worker = worker(&dir, "http", port, &[], &[]);
        wait_workers(web, 1, "ready", Duration::from_secs(30));
        // Each new test starts the master's stats over.
        let before = served.load(Ordering::SeqCst);
        swarm(web, 20, &host);
        wait_workers(web, 1, "running", Duration::from_secs(10));
        // Let the users run a while (load, not synchronisation).
        std::thread::sleep(Duration::from_millis(2000));
        worker.signal(sig);
        worker.assert_exit(0, Duration::from_secs(5));
        let served = served.load(Ordering::SeqCst) - before;
        assert!(served > 40, "the target served only {served}");
        // The master's web API caches its stats for 2 s: wait for its count to settle.
        let counted = wait_for(
            &format!("the worker gone (SIG{sig}), its final report counting {served}"),
            Duration::from_secs(10),
            || {
                aggregated_requests(web)
                    .filter(|(n, _, w)| w.is_empty() && *n == served)
                    .map(|(n, _, _)| n)
            },
        );
        assert_eq!(counted, served);
        stop(web);
    }
}

/// SIGTERM while a stop is under way (web UI Stop at `--stop-timeout 30`, every user
/// mid-request on a target that answers in 3 to 3.5 s): the worker waits for the requests in
/// flight (heartbeating the master meanwhile), where it once left its users behind after
/// 0.5 s, and exits 0 with every request counted.
#[test]
fn a_signal_during_a_long_stop_loses_none() {
    let (host, served) =
        slow_counting_target(Duration::from_millis(3000), Duration::from_millis(500));
    let Cluster {
        web,
        master,
        mut worker,
        ..
    } = ready_cluster(
        "quit-while-stopping",
        "examples/locustfile.py",
        &["--stop-timeout", "30"],
        "http",
        &[],
        &[],
    );
    swarm(web, 10, &host);
    wait_workers(web, 1, "running", Duration::from_secs(10));
    // Each user on its second request (just sent: 2.5 s or more to go).
    wait_for(
        "every user's second request",
        Duration::from_secs(15),
        || (served.load(Ordering::SeqCst) >= 20).then_some(()),
    );
    // The master answers POST /stop once its workers have stopped: ask from a thread.
    let stopping = std::thread::spawn(move || stop(web));
    wait_for("the worker told to stop", Duration::from_secs(10), || {
        worker
            .output()
            .contains("the master says stop")
            .then_some(())
    });
    // The users finish their task (stop_timeout 30): their requests are in flight now.
    worker.signal("TERM");
    worker.assert_exit(0, Duration::from_secs(10));
    let served = served.load(Ordering::SeqCst);
    let counted = wait_for(
        &format!("the worker gone, its final report counting {served}"),
        Duration::from_secs(10),
        || {
            aggregated_requests(web)
                .filter(|(n, _, w)| w.is_empty() && *n == served)
                .map(|(n, _, _)| n)
        },
    );
    assert_eq!(counted, served, "master log:\n{}", master.output());
    stopping.join().expect("POST /stop");
    let log = worker.output();
    assert!(!log.contains("left behind"), "worker log:\n{log}");
}

/// A ramp-down (web UI edit 20 → 3 users at `--stop-timeout 10`) with every user mid-request
/// on a target that answers in 5 s: as a Python worker, ours counts the retired users until
/// they are gone and only then reports `spawning_complete`, so the master (waiting for the
/// workers' counts to reach the target) fires its `spawning_complete` event only once the
/// retired users' requests are answered. Then Stop: served == counted.
#[test]
fn a_ramp_down_completes_once_the_retired_users_are_gone() {
    let (host, target) = target(Duration::from_secs(5), Duration::ZERO);
    let dir = scratch("ramp-down-complete");
    let port = free_port();
    let web = free_port();
    let mut cmd = std::process::Command::new(locust());
    cmd.arg("-f")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/locustfiles/spawning_complete.py"))
        .args(["--master", "--master-bind-host", "127.0.0.1"])
        .args(["--master-bind-port", &port.to_string()])
        .args(["--web-host", "127.0.0.1", "--web-port", &web.to_string()])
        .args(["--stop-timeout", "10"])
        // The master waits (up to 30 s, not 1 s) for the workers' counts to reach the target.
        .env("LOCUST_WAIT_FOR_WORKERS_REPORT_AFTER_RAMP_UP", "30")
        .current_dir(&dir);
    let master = Proc::spawn("master", cmd, &dir);
    let worker = worker(&dir, "http", port, &[], &[]);
    wait_workers(web, 1, "ready", Duration::from_secs(30));
    swarm(web, 20, &host);
    wait_for("20 requests in flight", Duration::from_secs(10), || {
        (target.in_flight() == 20).then_some(())
    });
    wait_for(
        "the master's spawning_complete at 20",
        Duration::from_secs(10),
        || {
            master
                .output()
                .contains("SPAWNING_COMPLETE 20")
                .then_some(())
        },
    );
    // 20 → 3 in one step (a spawn rate above the difference).
    let (code, body) = http(
        web,
        "POST",
        "/swarm",
        &[("user_count", "3"), ("spawn_rate", "100"), ("host", &host)],
    );
    assert_eq!(code, 200, "{body}");
    let in_flight = wait_for(
        "the master's spawning_complete at 3",
        Duration::from_secs(20),
        || {
            let seen = master.output().contains("SPAWNING_COMPLETE 3\n");
            seen.then(|| target.in_flight())
        },
    );
    assert!(
        in_flight <= 3,
        "spawning_complete while {in_flight} requests were in flight; master log:\n{}\nworker \
         log:\n{}",
        master.output(),
        worker.output()
    );
    stop(web);
    wait_workers(web, 1, "ready", Duration::from_secs(20));
    let served = target.served.load(Ordering::SeqCst);
    let counted = wait_for(
        &format!("the master counting {served}"),
        Duration::from_secs(10),
        || {
            aggregated_requests(web)
                .filter(|(n, state, _)| state == "stopped" && *n == served)
                .map(|(n, _, _)| n)
        },
    );
    assert_eq!(counted, served);
    master.signal("TERM");
    worker.signal("TERM");
}

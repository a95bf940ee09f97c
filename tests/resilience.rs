//! Never break, never lose a sample: master restarts and losses, signals, panics, and
//! conservation (the master's count equals what a target served), against a real master.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

const RUN: Duration = Duration::from_secs(60);

/// The master is killed mid-run and restarted on the same port: the same worker process
/// re-registers and the next test counts exactly.
#[test]
fn survives_a_master_restart() {
    let dir = scratch("restart");
    let port = free_port();
    // The recorder's samples include failures: exit code 0 then proves no handler error.
    let quiet = ["--exit-code-on-error", "0"];
    let (mut first, web) = web_master(&dir, "examples/locustfile.py", port, &quiet);
    let mut worker = worker(
        &dir,
        "e2e_recorder",
        port,
        &[("RECORDER_TOTAL", "300")],
        &[],
    );
    wait_workers(web, 1, "ready", RUN);
    swarm(web, 3, "http://127.0.0.1:9");
    wait_for("300 requests", RUN, || {
        aggregated_requests(web).filter(|(n, _, _)| *n >= 300)
    });
    first.signal("KILL");
    first.wait(RUN);

    let (mut second, web) = web_master(&dir, "examples/locustfile.py", port, &quiet);
    wait_workers(web, 1, "ready", RUN);
    swarm(web, 3, "http://127.0.0.1:9");
    wait_for("300 requests after the restart", RUN, || {
        aggregated_requests(web)
            .filter(|(n, s, _)| *n >= 300 && (s == "running" || s == "spawning"))
    });
    stop(web);
    wait_workers(web, 1, "ready", RUN);
    let (n, _, _) = aggregated_requests(web).expect("stats");
    assert_eq!(n, 300, "worker log:\n{}", worker.output());
    second.signal("TERM");
    second.assert_exit(0, RUN);
    worker.assert_exit(0, Duration::from_secs(10));
    assert!(
        worker.output().contains("reconnecting to the master"),
        "{}",
        worker.output()
    );
}

/// The master disappears for good: after the heartbeat timeout the users stop and the
/// worker keeps trying (or exits with code 3 under --exit-on-master-loss).
#[test]
fn notices_a_master_gone_for_good() {
    let dir = scratch("gone");
    let port = free_port();
    let (mut master, web) = web_master(&dir, "examples/locustfile.py", port, &[]);
    let args = ["--master-heartbeat-timeout", "2"];
    let mut staying = worker(&dir, "e2e_recorder", port, &[], &args);
    let mut leaving = worker(
        &dir,
        "e2e_host",
        port,
        &[],
        &["--master-heartbeat-timeout", "2", "--exit-on-master-loss"],
    );
    wait_workers(web, 2, "ready", RUN);
    swarm(web, 4, "http://127.0.0.1:9");
    wait_workers(web, 2, "running", RUN);
    master.signal("KILL");
    master.wait(RUN);
    let began = Instant::now();
    leaving.assert_exit(3, Duration::from_secs(20));
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "took {:?}",
        began.elapsed()
    );
    wait_for(
        "the staying worker to stop its users",
        Duration::from_secs(20),
        || {
            staying
                .output()
                .contains("stopping the users; still trying to reconnect")
                .then_some(())
        },
    );
    // It is still alive, trying to reconnect.
    wait_for("a reconnect attempt", Duration::from_secs(20), || {
        staying.output().contains("cannot connect").then_some(())
    });
    staying.signal("TERM");
    staying.assert_exit(0, Duration::from_secs(10));
}

/// SIGINT and SIGTERM mid-run, while the users record a steady stream (2 users, one record
/// every 5 ms each) and after the worker's periodic reports have counted some of it: the
/// final report and `quit` reach the master within 1 s, and the master counts exactly what
/// the worker says it recorded in all.
#[test]
fn signals_send_the_final_report_at_once() {
    let dir = scratch("signals");
    let port = free_port();
    let (mut master, web) = web_master(
        &dir,
        "examples/locustfile.py",
        port,
        &["--exit-code-on-error", "0"],
    );
    for (round, sig) in [(1u64, "INT"), (2, "TERM")] {
        let mut worker = worker(
            &dir,
            "e2e_recorder",
            port,
            &[("RECORDER_TOTAL", "1000000000"), ("RECORDER_PACE_MS", "5")],
            &[],
        );
        wait_workers(web, 1, "ready", RUN);
        swarm(web, 2, "http://127.0.0.1:9");
        wait_workers(web, 1, "running", RUN);
        // A periodic report has come in, and recording goes on.
        wait_for("a periodic report", RUN, || {
            aggregated_requests(web).filter(|(n, _, _)| *n > 0)
        });
        let sent = std::time::SystemTime::now();
        worker.signal(sig);
        // The master logs the worker's quit: within 1 s of the signal (its log's clock is
        // this machine's; its web API caches stats for 2 s, so the API cannot time this).
        let line = wait_for("the master to log the quit", Duration::from_secs(5), || {
            master
                .output()
                .lines()
                .filter(|l| l.contains("quit. 0 workers ready"))
                .nth(round as usize - 1)
                .map(str::to_string)
        });
        let delay = seconds_after(&line, sent);
        assert!(
            (0.0..1.0).contains(&delay),
            "round {round}: quit logged {delay:.3} s after SIG{sig}"
        );
        worker.assert_exit(0, Duration::from_secs(5));
        let recorded: u64 = worker
            .output()
            .lines()
            .find_map(|l| {
                l.strip_prefix("recorded ")?
                    .strip_suffix(" requests")?
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no count in the worker's log:\n{}", worker.output()));
        // The final report made the master's count exact (its web API caches for 2 s).
        wait_for("the final report", Duration::from_secs(5), || {
            aggregated_requests(web).filter(|(n, _, w)| *n == recorded && w.is_empty())
        });
        stop(web);
    }
    master.signal("TERM");
    master.wait(RUN);
}

/// Seconds from `t` to the time of a Locust log line (`[YYYY-MM-DD HH:MM:SS,mmm] ...`),
/// on the time of day, up to the machine's time-zone offset (a multiple of 15 minutes).
fn seconds_after(line: &str, t: std::time::SystemTime) -> f64 {
    let clock = line.get(12..24).unwrap_or_default(); // HH:MM:SS,mmm
    let parts: Vec<f64> = clock
        .replace(',', ".")
        .split(':')
        .filter_map(|p| p.parse().ok())
        .collect();
    assert_eq!(parts.len(), 3, "no time in {line:?}");
    let logged = parts[0] * 3600.0 + parts[1] * 60.0 + parts[2];
    let since_epoch = t
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let delta = logged - since_epoch % 86_400.0;
    (delta + 450.0).rem_euclid(900.0) - 450.0
}

/// A panic in a task is a failure of that task and an exception in the master's
/// `_exceptions.csv`; the user goes on.
#[test]
fn task_panics_are_failures_and_exceptions() {
    let dir = scratch("panics");
    let port = free_port();
    let mut master = headless_master(
        &dir,
        "examples/locustfile.py",
        port,
        1,
        "4s",
        &["--csv", "run"],
    );
    let mut worker = worker(&dir, "e2e_panicky", port, &[], &[]);
    // Failures and exceptions: Locust's default --exit-code-on-error is 1.
    master.assert_exit(1, RUN);
    worker.assert_exit(0, Duration::from_secs(10));
    let stats = csv_records(&dir.join("run_stats.csv"));
    let ok = stats
        .iter()
        .find(|r| r["Name"] == "/flaky")
        .expect("/flaky row");
    assert_eq!(ok["Request Count"], "90");
    let failures = csv_records(&dir.join("run_failures.csv"));
    assert_eq!(failures.len(), 10, "{failures:?}");
    for f in &failures {
        assert_eq!(
            (
                f["Method"].as_str(),
                f["Name"].as_str(),
                f["Occurrences"].as_str()
            ),
            ("task", "flaky", "1")
        );
        assert!(
            f["Error"]
                .trim_start_matches('\'')
                .starts_with("panic: flaky broke on run "),
            "{f:?}"
        );
    }
    // Grouped by panic site, as Python's by traceback: the 10 panics of `flaky` (10
    // messages, one `panic!`) are one row with a count of 10, showing the first message.
    let exceptions = csv_records(&dir.join("run_exceptions.csv"));
    assert_eq!(exceptions.len(), 2, "{exceptions:?}");
    let flaky = exceptions
        .iter()
        .find(|e| e["Message"].contains("task flaky panicked"))
        .unwrap_or_else(|| panic!("no exception of flaky: {exceptions:?}"));
    assert_eq!(flaky["Count"], "10", "{exceptions:?}");
    let site = "tests/workers/panicky.rs:17";
    assert!(
        flaky["Message"].starts_with(&format!(
            "task flaky panicked at {site}: flaky broke on run "
        )),
        "{flaky:?}"
    );
    assert!(flaky["Traceback"].contains(site), "{flaky:?}");
    // The spawn handler's panic: reported where it happened, as a task's, and the run went
    // on (the 90 successes above).
    let (handler_name, handler_site) = ("e2e_panicky::spawn_breaks", "tests/workers/panicky.rs:25");
    let handler = exceptions
        .iter()
        .find(|e| e["Message"].contains(&format!("event handler {handler_name} panicked")))
        .unwrap_or_else(|| panic!("no exception of spawn_breaks: {exceptions:?}"));
    assert_eq!(
        handler["Message"],
        format!(
            "event handler {handler_name} panicked at {handler_site}: spawn handler broke at 1 users"
        ),
        "{handler:?}"
    );
    assert_eq!(
        handler["Traceback"],
        format!("panic in event handler {handler_name} at {handler_site}"),
        "{handler:?}"
    );
}

/// A target that counts the HTTP requests it answered.
struct Target {
    port: u16,
    served: Arc<AtomicU64>,
}

impl Target {
    fn start() -> Target {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the target");
        let port = listener.local_addr().expect("addr").port();
        let served = Arc::new(AtomicU64::new(0));
        let count = served.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let count = count.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    let mut request = Vec::new();
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let body = b"ok";
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    if stream
                        .write_all(head.as_bytes())
                        .and_then(|_| stream.write_all(body))
                        .is_ok()
                    {
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        Target { port, served }
    }

    fn served(&self) -> u64 {
        self.served.load(Ordering::SeqCst)
    }
}

/// Ramp up, ramp down, a second worker joining and leaving (rebalancing), stop and start
/// again: for every run the master's count equals the target's.
#[test]
fn nothing_lost_nothing_counted_twice() {
    let dir = scratch("conservation");
    let target = Target::start();
    let host = format!("http://127.0.0.1:{}", target.port);
    let port = free_port();
    let (mut master, web) = web_master(
        &dir,
        "examples/locustfile.py",
        port,
        &["--stop-timeout", "5", "--enable-rebalancing"],
    );
    let mut first = worker(&dir, "e2e_counter", port, &[], &[]);
    wait_workers(web, 1, "ready", RUN);
    for run in 1..=2 {
        let before = target.served();
        swarm(web, 6, &host);
        wait_workers(web, 1, "running", RUN);
        let mut second = worker(&dir, "e2e_counter", port, &[], &[]);
        wait_for("the second worker to get users", RUN, || {
            aggregated_requests(web).filter(|(_, _, w)| {
                w.len() == 2
                    && w.iter()
                        .all(|w| w["state"] == "running" && w["user_count"].as_u64() > Some(0))
            })
        });
        swarm(web, 2, &host); // ramp down
        wait_for("the ramp-down", RUN, || {
            aggregated_requests(web).filter(|(_, _, w)| {
                w.iter()
                    .map(|w| w["user_count"].as_u64().unwrap_or(0))
                    .sum::<u64>()
                    == 2
            })
        });
        second.signal("TERM"); // leaves: the master rebalances onto the first
        second.assert_exit(0, Duration::from_secs(10));
        wait_for("the first worker to take all users", RUN, || {
            aggregated_requests(web).filter(|(_, _, w)| w.len() == 1 && w[0]["user_count"] == 2)
        });
        stop(web);
        wait_workers(web, 1, "ready", RUN);
        let (counted, _, _) = aggregated_requests(web).expect("stats");
        let served = target.served() - before;
        assert!(served > 0, "run {run}: nothing served");
        assert_eq!(
            counted, served,
            "run {run}: the master counted {counted}, the target served {served}"
        );
    }
    master.signal("TERM");
    master.assert_exit(0, RUN);
    first.assert_exit(0, Duration::from_secs(10));
}

/// Worker log lines at WARN and above reach the master's Logs tab (Locust 2.29+); older
/// masters get no `logs` message at all.
#[test]
fn warnings_reach_the_master_logs_tab() {
    let Cluster {
        web,
        mut master,
        mut worker,
        ..
    } = ready_cluster(
        "logs",
        "examples/locustfile.py",
        &["--exit-code-on-error", "0"],
        "e2e_panicky",
        &[],
        &[],
    );
    swarm(web, 1, "http://127.0.0.1:9");
    let (code, _) = http(web, "GET", "/logs", &[]);
    if code == 404 {
        // A master before 2.29: wait for the panics to be counted, then check that nothing
        // unknown was sent.
        wait_for("the panics", RUN, || {
            aggregated_requests(web).filter(|(n, _, _)| *n >= 100)
        });
        assert!(
            !master.output().contains("Unknown message type"),
            "{}",
            master.output()
        );
    } else {
        let logs = wait_for("the worker's lines in the Logs tab", RUN, || {
            logs_tab_lines(web).filter(|lines| {
                lines
                    .iter()
                    .any(|l| l.contains("/ERROR/") && l.contains("task flaky panicked"))
            })
        });
        assert!(logs.iter().all(|l| !l.contains("/INFO/")), "{logs:?}");
    }
    master.signal("TERM");
    master.wait(RUN);
    worker.assert_exit(0, Duration::from_secs(10));
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS of the worker")
}

/// 100 stop/start cycles through the web API: the worker's users come back to 0 each time,
/// no task is left behind, and its memory does not grow.
#[test]
fn a_hundred_stop_start_cycles_leak_nothing() {
    let Cluster {
        web,
        mut master,
        mut worker,
        ..
    } = ready_cluster(
        "cycles",
        "examples/locustfile.py",
        &[],
        "e2e_host",
        &[],
        &["--loglevel", "info,boomer_core=debug"],
    );
    let alive_tasks = |log: &str| -> Vec<u64> {
        log.lines()
            .filter_map(|l| l.split("tasks alive on the users' runtime: ").nth(1))
            .filter_map(|n| n.trim().parse().ok())
            .collect()
    };
    let mut rss_warm = 0;
    for cycle in 1..=100usize {
        swarm(web, 5, "http://127.0.0.1:9");
        wait_for(&format!("spawn {cycle}"), RUN, || {
            (worker.output().matches("spawn: ").count() >= cycle).then_some(())
        });
        stop(web);
        wait_for(&format!("stop {cycle}"), RUN, || {
            (alive_tasks(&worker.output()).len() >= cycle).then_some(())
        });
        // Back to ready: registered again after each stop.
        wait_for(&format!("ready {cycle}"), RUN, || {
            (master.output().matches("reported as ready").count() > cycle).then_some(())
        });
        if cycle == 10 {
            rss_warm = rss_kib(worker.pid());
        }
    }
    // A task that just ended may still be counted for a moment; nothing may pile up.
    let alive = alive_tasks(&worker.output());
    let floor = alive.iter().copied().min().unwrap_or(0);
    assert!(
        alive.iter().all(|&n| n <= floor + 1),
        "tasks alive after each stop: {alive:?}"
    );
    assert_eq!(
        alive[90..].iter().min(),
        Some(&floor),
        "tasks alive after each stop: {alive:?}"
    );
    let rss_end = rss_kib(worker.pid());
    assert!(
        rss_end * 10 <= rss_warm * 11,
        "RSS grew from {rss_warm} KiB to {rss_end} KiB"
    );
    wait_for("the final state", RUN, || {
        aggregated_requests(web)
            .filter(|(_, _, w)| w.len() == 1 && w[0]["state"] == "ready" && w[0]["user_count"] == 0)
    });
    master.signal("TERM");
    master.wait(RUN);
    worker.assert_exit(0, Duration::from_secs(10));
}

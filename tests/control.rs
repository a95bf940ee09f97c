//! The control plane against a real Locust master: heartbeats while users stop, the stop
//! handshake, reconnects (the master's `reconnect`, a frozen master), the worker index,
//! CPU as the Workers tab shows it, classes the worker lacks, `--reset-stats`, and a worker
//! with no master.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};

use common::*;

const RUN: Duration = Duration::from_secs(60);

/// Seconds from `t` to the time of a Locust log line (`[YYYY-MM-DD HH:MM:SS,mmm] ...`),
/// on the time of day, up to the machine's time-zone offset (a multiple of 15 minutes).
fn seconds_after(line: &str, t: SystemTime) -> f64 {
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

/// The first master log line containing `what`, once it is there.
fn master_line(master: &Proc, what: &str, timeout: Duration) -> String {
    wait_for(&format!("the master to log {what:?}"), timeout, || {
        master
            .output()
            .lines()
            .find(|l| l.contains(what))
            .map(str::to_string)
    })
}

fn assert_never_missing(master: &Proc) {
    let log = master.output();
    assert!(
        !log.contains("failed to send heartbeat") && !log.contains("missing"),
        "the master lost the worker:\n{log}"
    );
}

/// Sockets the process holds open.
fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter(|target| target.to_string_lossy().starts_with("socket:"))
                .count()
        })
        .unwrap_or(0)
}

/// Whether the master under test is at least `version`; if not, says which test does not
/// apply to it and why.
fn master_has(version: (u32, u32, u32), what: &str) -> bool {
    let has = locust_version() >= version;
    if !has {
        eprintln!(
            "this Locust master is older than {version:?}, which brought {what}: not checked"
        );
    }
    has
}

fn count(log: &str, what: &str) -> usize {
    log.matches(what).count()
}

/// Locust's scenario: `--stop-timeout 15`, 4 users whose task sleeps 12 s, stop from the
/// web UI 2 s into the run. The users take ~10 s to stop; the worker heartbeats all along
/// (the master never marks it missing), each user's task ends and is counted, and
/// `client_stopped` comes once they are done.
#[test]
fn heartbeats_go_on_while_users_stop() {
    let Cluster {
        web,
        mut master,
        mut worker,
        ..
    } = ready_cluster(
        "control-stop-timeout",
        "tests/control/reconnect.py",
        &["--stop-timeout", "15"],
        "e2e_control",
        &[("CONTROL_SLEEP_MS", "12000")],
        &[],
    );
    swarm(web, 4, "http://127.0.0.1:9");
    wait_workers(web, 1, "running", RUN);
    // The scenario: the stop comes 2 s into the run, while every task sleeps.
    std::thread::sleep(Duration::from_secs(2));
    let stopped_at = SystemTime::now();
    stop(web);
    let line = master_line(&master, "reported that it has stopped", RUN);
    let took = seconds_after(&line, stopped_at);
    assert!(
        (7.0..15.0).contains(&took),
        "client_stopped came {took:.1} s after the stop (the tasks end ~10 s after it)"
    );
    wait_for("the 4 tasks counted", RUN, || {
        (requests_named(web, "/w0") == 4).then_some(())
    });
    wait_workers(web, 1, "ready", RUN);
    assert_never_missing(&master);
    master.signal("TERM");
    master.wait(RUN);
    worker.assert_exit(0, Duration::from_secs(10));
}

/// `client_stopped` goes only once the `test_stop` handlers have run (here they take 5 s,
/// longer than the master's 3 heartbeats of grace), and what they recorded is in the report
/// before it; the worker heartbeats meanwhile.
#[test]
fn client_stopped_follows_the_test_stop_handlers() {
    let Cluster {
        web,
        mut master,
        mut worker,
        ..
    } = ready_cluster(
        "control-test-stop",
        "tests/control/reconnect.py",
        &[],
        "e2e_control",
        &[("CONTROL_TEST_STOP_MS", "5000")],
        &[],
    );
    swarm(web, 2, "http://127.0.0.1:9");
    wait_for("requests", RUN, || {
        (requests_named(web, "/w0") > 0).then_some(())
    });
    let stopped_at = SystemTime::now();
    stop(web);
    let line = master_line(&master, "reported that it has stopped", RUN);
    let took = seconds_after(&line, stopped_at);
    assert!(
        took >= 5.0,
        "client_stopped came {took:.2} s after the stop, before the 5 s test_stop handler ended"
    );
    wait_for("the handler's sample", RUN, || {
        (requests_named(web, "/test_stop") == 1).then_some(())
    });
    // Registered again after client_stopped.
    wait_for("ready again", RUN, || {
        (count(&master.output(), "reported as ready") >= 2).then_some(())
    });
    assert_never_missing(&master);
    master.signal("TERM");
    master.wait(RUN);
    worker.assert_exit(0, Duration::from_secs(10));
}

/// What was recorded between two tests (here by the `connected` handler, at the ack after
/// `client_ready`) belongs to no test: cleared at the next test's first spawn, as Python's
/// worker clears its stats, so the second test counts none of it.
#[test]
fn the_first_spawn_clears_what_no_test_recorded() {
    let dir = scratch("control-clear");
    let port = free_port();
    let (mut master, web) = web_master(&dir, "tests/control/reconnect.py", port, &[]);
    let mut worker = worker(
        &dir,
        "e2e_control",
        port,
        &[("CONTROL_CONNECTED", "1")],
        &[],
    );
    for run in 1..=2 {
        wait_workers(web, 1, "ready", RUN);
        swarm(web, 2, "http://127.0.0.1:9");
        // One answer of the master (its web API caches for 2 s): this run's requests, and
        // none recorded between runs.
        let late = wait_for("this run's requests", RUN, || {
            let (_, body) = http(web, "GET", "/stats/requests", &[]);
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            let named = |name: &str| {
                v["stats"].as_array().and_then(|a| {
                    a.iter()
                        .find(|e| e["name"] == name)
                        .and_then(|e| e["num_requests"].as_u64())
                })
            };
            (named(&format!("/run{run}")).unwrap_or(0) > 20).then(|| named("/late").unwrap_or(0))
        });
        assert_eq!(late, 0, "run {run}: requests of no test were counted");
        stop(web);
    }
    master.signal("TERM");
    master.wait(RUN);
    worker.assert_exit(0, Duration::from_secs(10));
}

/// 20 times the master sends `reconnect` (as after a corrupt frame): each time the worker
/// makes a new connection that the master takes (it answers on it), its users run on
/// untouched, and no socket or task is left behind.
#[test]
fn reconnect_requests_keep_users_and_leak_nothing() {
    if !master_has(
        (2, 19, 0),
        "master heartbeats (the worker's only sign that the master answers)",
    ) {
        return;
    }
    let Cluster {
        web,
        mut master,
        mut worker,
        ..
    } = ready_cluster(
        "control-reconnect",
        "tests/control/reconnect.py",
        &[],
        "e2e_control",
        &[],
        &["--loglevel", "info,boomer_core=debug"],
    );
    swarm(web, 3, "http://127.0.0.1:9");
    wait_workers(web, 1, "running", RUN);
    let tasks = |log: &str| -> Vec<u64> {
        log.lines()
            .filter_map(|l| l.split("tasks alive on the control runtime: ").nth(1))
            .filter_map(|n| n.trim().parse().ok())
            .collect()
    };
    // The connection to the master, and the runtimes' own (signal) sockets.
    let sockets_before = sockets(worker.pid());
    for cycle in 1..=20usize {
        let (code, body) = http(web, "POST", "/reconnect-workers", &[]);
        assert_eq!(code, 200, "{body}");
        wait_for(&format!("reconnect {cycle}"), RUN, || {
            let log = worker.output();
            (count(&log, "the master asked us to reconnect") >= cycle
                && count(&log, "the master answers on this connection") > cycle)
                .then_some(())
        });
        assert_eq!(
            sockets(worker.pid()),
            sockets_before,
            "cycle {cycle}: sockets"
        );
    }
    let log = worker.output();
    let alive = tasks(&log);
    // One connection per cycle, and one more each time the master still held the old one
    // when the new one came (the worker notices within 1 s and connects again).
    assert!(alive.len() > 20, "{alive:?}");
    assert!(
        alive.iter().all(|&n| n == alive[0]),
        "tasks alive on the control runtime at each connection: {alive:?}"
    );
    // The users never stopped: one spawn, no stop, and they still count.
    assert_eq!(count(&log, "spawn: "), 1, "{log}");
    assert!(!log.contains("users stopped"), "{log}");
    let before = requests_named(web, "/w0");
    wait_for("requests after the reconnects", RUN, || {
        aggregated_requests(web)
            .filter(|(_, _, w)| w.len() == 1 && w[0]["user_count"] == 3)
            .filter(|_| requests_named(web, "/w0") > before + 20)
    });
    assert_eq!(count(&master.output(), "reported as ready"), 1);
    assert_never_missing(&master);
    master.signal("TERM");
    master.wait(RUN);
    worker.assert_exit(0, Duration::from_secs(10));
}

/// A master frozen (SIGSTOP) past the worker's `--master-heartbeat-timeout`, then resumed:
/// the worker, which stopped its users and reconnected, is registered again within a few
/// seconds of the resume and gets its users back, on one connection; the master never
/// marks it missing.
#[test]
fn a_frozen_master_gets_its_worker_back() {
    if !master_has(
        (2, 19, 0),
        "master heartbeats (without them a frozen master cannot be told)",
    ) {
        return;
    }
    let Cluster {
        web,
        mut master,
        mut worker,
        ..
    } = ready_cluster(
        "control-frozen",
        "tests/control/reconnect.py",
        &[],
        "e2e_control",
        &[],
        &["--master-heartbeat-timeout", "3"],
    );
    swarm(web, 2, "http://127.0.0.1:9");
    wait_for("requests", RUN, || {
        (requests_named(web, "/w0") > 0).then_some(())
    });
    let sockets_before = sockets(worker.pid());
    master.signal("STOP");
    wait_for("the worker to give up on the frozen master", RUN, || {
        worker
            .output()
            .contains("stopping the users; still trying to reconnect")
            .then_some(())
    });
    wait_for("the worker to reconnect", RUN, || {
        worker
            .output()
            .contains("reconnecting to the master")
            .then_some(())
    });
    // Frozen a while longer: the new connection waits for the old one to be let go.
    std::thread::sleep(Duration::from_secs(4));
    master.signal("CONT");
    let resumed = Instant::now();
    // Registered again (the master logs it at DEBUG: it still had the worker's node).
    wait_for("the worker registered again", RUN, || {
        (count(&worker.output(), "the master acknowledged us") == 2).then_some(())
    });
    let back = resumed.elapsed();
    wait_for("the worker running again", RUN, || {
        aggregated_requests(web).filter(|(_, _, w)| {
            w.len() == 1 && w[0]["state"] == "running" && w[0]["user_count"] == 2
        })
    });
    assert!(
        back < Duration::from_secs(8),
        "back {back:?} after the resume"
    );
    let before = requests_named(web, "/w0");
    wait_for("new requests", RUN, || {
        (requests_named(web, "/w0") > before + 10).then_some(())
    });
    assert!(count(&worker.output(), "spawn: ") >= 2);
    assert_eq!(
        sockets(worker.pid()),
        sockets_before,
        "one connection to the master"
    );
    assert_never_missing(&master);
    master.signal("TERM");
    master.wait(RUN);
    worker.assert_exit(0, Duration::from_secs(10));
}

/// The web UI's task picker (`POST /user`, Locust's `update_user_class`, 2.25+): the
/// class's users then run only the tasks picked.
#[test]
fn the_web_ui_picks_the_tasks() {
    if !master_has((2, 25, 0), "update_user_class") {
        return;
    }
    let Cluster {
        web,
        mut master,
        mut worker,
        ..
    } = ready_cluster(
        "control-picker",
        "tests/control/reconnect.py",
        &[],
        "e2e_control",
        &[("CONTROL_TOCK", "1")],
        &[],
    );
    post_user(web, r#"{"user_class_name": "RustUser", "tasks": ["tock"]}"#);
    // The master sent update_user_class before answering: it reaches the worker before
    // the spawn, on the same connection.
    swarm(web, 3, "http://127.0.0.1:9");
    wait_for("tocks", RUN, || {
        (requests_named(web, "/tock") > 30).then_some(())
    });
    assert_eq!(
        requests_named(web, "/w0"),
        0,
        "a task that was not picked ran"
    );
    master.signal("TERM");
    master.wait(RUN);
    worker.assert_exit(0, Duration::from_secs(10));
}

/// The web UI's class picker (`POST /user`, as its form sends it): the master applies it
/// and sends `update_user_class` to its workers before it answers.
fn post_user(web: u16, body: &str) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", web)).expect("web UI");
    let req = format!(
        "POST /user HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    std::io::Write::write_all(&mut stream, req.as_bytes()).expect("POST /user");
    let mut resp = String::new();
    std::io::Read::read_to_string(&mut stream, &mut resp).expect("answer");
    assert!(resp.starts_with("HTTP/1.1 201"), "{resp}");
}

/// Requests per name, as the master's web API shows them.
fn request_rows(web: u16) -> BTreeMap<String, u64> {
    let (_, body) = http(web, "GET", "/stats/requests", &[]);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["stats"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["name"] != "Aggregated")
        .filter_map(|e| Some((e["name"].as_str()?.to_string(), e["num_requests"].as_u64()?)))
        .collect()
}

/// The class picker reaches the users already running, as in Locust (whose users pick
/// their next task from the class's `tasks`): three users run `tick` and `tock` with no
/// host; after the edit (only `tock`, and a host), the same three users run only `tock`,
/// against the new host, and no new user started.
#[test]
fn the_web_ui_picks_the_tasks_of_running_users() {
    if !master_has((2, 25, 0), "update_user_class") {
        return;
    }
    let Cluster {
        web,
        mut master,
        mut worker,
        ..
    } = ready_cluster(
        "control-picker-running",
        "tests/control/reconnect.py",
        &[],
        "e2e_control",
        &[("CONTROL_IDS", "1")],
        &[],
    );
    swarm(web, 3, "");
    let count = |rows: &BTreeMap<String, u64>, name: &str| rows.get(name).copied().unwrap_or(0);
    wait_for("each of the 3 users running both tasks", RUN, || {
        let rows = request_rows(web);
        (0..3)
            .all(|u| {
                count(&rows, &format!("/tick/u{u}@-")) > 0
                    && count(&rows, &format!("/tock/u{u}@-")) > 0
            })
            .then_some(())
    });
    post_user(
        web,
        r#"{"user_class_name": "RustUser", "tasks": ["tock"], "host": "http://127.0.0.1:7"}"#,
    );
    let picked = |u: u32| format!("/tock/u{u}@http://127.0.0.1:7");
    let first = wait_for(
        "every running user on the picked task and host",
        RUN,
        || {
            let rows = request_rows(web);
            (0..3).all(|u| count(&rows, &picked(u)) > 0).then_some(rows)
        },
    );
    // Two more reports in which every user ran the picked task: the first of them holds
    // whatever a user recorded before its first picked task (its task of the edit's time).
    let later = |than: &BTreeMap<String, u64>| {
        wait_for("a later report of every user", RUN, || {
            let rows = request_rows(web);
            (0..3)
                .all(|u| count(&rows, &picked(u)) > count(than, &picked(u)))
                .then_some(rows)
        })
    };
    let second = later(&first);
    let third = later(&second);
    let grew: Vec<String> = third
        .iter()
        .filter(|(name, &n)| count(&second, name) != n)
        .map(|(name, _)| name.clone())
        .collect();
    assert_eq!(
        grew,
        (0..3).map(picked).collect::<Vec<_>>(),
        "only the picked task, by the same users, grew: {second:?} -> {third:?}"
    );
    let users: BTreeSet<&str> = third
        .keys()
        .filter_map(|name| name.split('/').nth(2)?.split('@').next())
        .collect();
    assert_eq!(
        users,
        BTreeSet::from(["u0", "u1", "u2"]),
        "no user but the 3 running: {third:?}"
    );
    master.signal("TERM");
    master.wait(RUN);
    worker.assert_exit(0, Duration::from_secs(10));
}

/// Tasks see the worker index the master gave (`ctx.worker_index()`): two workers, two
/// rows `/w0` and `/w1`, none before the ack.
#[test]
fn tasks_see_the_worker_index() {
    let dir = scratch("control-index");
    let port = free_port();
    let mut master = master(
        &dir,
        "tests/control/reconnect.py",
        port,
        &[
            "--headless",
            "--only-summary",
            "-u",
            "4",
            "-r",
            "4",
            "-t",
            "4s",
            "--expect-workers",
            "2",
            "--expect-workers-max-wait",
            "30",
            "--csv",
            "run",
        ],
    );
    let mut first = worker(&dir, "e2e_control", port, &[], &[]);
    let mut second = worker(&dir, "e2e_control", port, &[], &[]);
    master.assert_exit(0, RUN);
    first.assert_exit(0, Duration::from_secs(10));
    second.assert_exit(0, Duration::from_secs(10));
    let stats = csv_records(&dir.join("run_stats.csv"));
    let mut names: Vec<&str> = stats
        .iter()
        .map(|r| r["Name"].as_str())
        .filter(|n| *n != "Aggregated")
        .collect();
    names.sort();
    assert_eq!(names, ["/w0", "/w1"], "{stats:?}");
}

/// The Workers tab's CPU: one decimal, as psutil rounds, and a share of the cores the
/// worker may use (never above 100 %), as a Python worker's saturated thread shows 100 %.
#[test]
fn cpu_is_rounded_and_of_the_usable_cores() {
    let Cluster {
        web,
        mut master,
        mut worker,
        ..
    } = ready_cluster(
        "control-cpu",
        "tests/control/reconnect.py",
        &[],
        "e2e_control",
        &[("CONTROL_SPIN", "1")],
        &[],
    );
    swarm(web, 8, "http://127.0.0.1:9");
    wait_workers(web, 1, "running", RUN);
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        // Every second a heartbeat: sample a little faster than that.
        if let Some((_, _, w)) = aggregated_requests(web) {
            if let Some(cpu) = w.first().and_then(|w| w["cpu_usage"].as_f64()) {
                seen.push(cpu);
            }
        }
        std::thread::sleep(Duration::from_millis(400));
    }
    assert!(
        seen.iter().any(|&c| c > 10.0),
        "the spinning worker: {seen:?}"
    );
    for cpu in &seen {
        assert!(*cpu <= 100.0, "above 100 %: {seen:?}");
        assert_eq!(*cpu, (cpu * 10.0).round() / 10.0, "one decimal: {seen:?}");
    }
    master.signal("TERM");
    master.wait(RUN);
    worker.assert_exit(0, Duration::from_secs(10));
}

/// A spawn that names a class the worker lacks is an error the master shows: an
/// exception (its `_exceptions.csv`), and the worker logs it.
#[test]
fn a_class_the_worker_lacks_is_an_exception() {
    let dir = scratch("control-ghost");
    let port = free_port();
    let mut master = headless_master(
        &dir,
        "tests/control/ghost.py",
        port,
        5,
        "3s",
        &["--csv", "run"],
    );
    let mut worker = worker(&dir, "users", port, &[], &[]);
    // An exception makes the master exit with --exit-code-on-error (1).
    master.assert_exit(1, RUN);
    worker.assert_exit(0, Duration::from_secs(10));
    let exceptions = csv_records(&dir.join("run_exceptions.csv"));
    assert_eq!(exceptions.len(), 1, "{exceptions:?}");
    assert!(
        exceptions[0]["Message"].contains("users of class \"Ghost\""),
        "{exceptions:?}"
    );
    assert_eq!(exceptions[0]["Count"], "1", "{exceptions:?}");
    assert!(
        worker.output().contains("class \"Ghost\""),
        "{}",
        worker.output()
    );
}

/// The master's `--reset-stats`: what the worker recorded during the ramp-up and had not
/// reported when the master reset is dropped too, so no ramp-up sample is counted.
#[test]
fn reset_stats_drops_the_ramp_up() {
    if !master_has((2, 29, 0), "the spawning_complete broadcast") {
        return;
    }
    let dir = scratch("control-reset");
    let port = free_port();
    let mut master = master(
        &dir,
        "tests/control/reconnect.py",
        port,
        &[
            "--headless",
            "--only-summary",
            "-u",
            "4",
            "-r",
            "1",
            "-t",
            "9s",
            "--expect-workers",
            "1",
            "--expect-workers-max-wait",
            "30",
            "--reset-stats",
            "--csv",
            "run",
        ],
    );
    let mut worker = worker(&dir, "e2e_control", port, &[("CONTROL_FULL", "4")], &[]);
    master.assert_exit(0, RUN);
    worker.assert_exit(0, Duration::from_secs(10));
    let stats = csv_records(&dir.join("run_stats.csv"));
    // The master's reset keeps its rows, at 0: no ramp-up sample may come after it.
    let counted: Vec<(&str, &str)> = stats
        .iter()
        .map(|r| (r["Name"].as_str(), r["Request Count"].as_str()))
        .filter(|(name, _)| *name != "Aggregated" && *name != "/full")
        .collect();
    assert!(
        counted.iter().all(|(_, n)| *n == "0"),
        "ramp-up samples counted after the reset: {counted:?}"
    );
    assert!(stats.iter().any(|r| r["Name"] == "/full"), "{stats:?}");
}

/// Without a master, the worker says every few seconds that none answers, and how to
/// start one or run standalone.
#[test]
fn no_master_says_what_to_do() {
    let dir = scratch("control-no-master");
    let port = free_port();
    let mut worker = worker(&dir, "e2e_control", port, &[], &[]);
    let said = format!("no master answers at tcp://127.0.0.1:{port}");
    let started = Instant::now();
    wait_for("the second notice", Duration::from_secs(20), || {
        (count(&worker.output(), &said) >= 2).then_some(())
    });
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(4),
        "{took:?}: {}",
        worker.output()
    );
    assert!(
        worker.output().contains("--standalone"),
        "{}",
        worker.output()
    );
    assert!(worker.output().contains("locust -f"), "{}", worker.output());
    worker.signal("TERM");
    worker.assert_exit(0, Duration::from_secs(10));
}

/// `--exit-on-master-loss` with a master that was never reached: the worker exits (code
/// 3) once `--master-heartbeat-timeout` has passed without one.
#[test]
fn exit_on_master_loss_when_no_master_was_ever_reached() {
    let dir = scratch("control-never");
    let port = free_port();
    let started = Instant::now();
    let mut worker = worker(
        &dir,
        "e2e_control",
        port,
        &[],
        &["--exit-on-master-loss", "--master-heartbeat-timeout", "2"],
    );
    worker.assert_exit(3, Duration::from_secs(15));
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(
        worker.output().contains("no master answered"),
        "{}",
        worker.output()
    );
}

//! End-to-end: the example workers against a real Locust master on 127.0.0.1, checked
//! through what the master reports (its CSV files, its log, its web API, its exit code).

mod common;

use std::time::Duration;

use common::*;

const RUN: Duration = Duration::from_secs(60);

#[test]
fn recorded_times_reach_the_master_exactly() {
    let dir = scratch("recorded");
    let port = free_port();
    let mut master = headless_master(
        &dir,
        "examples/locustfile.py",
        port,
        4,
        "5s",
        &["--csv", "run", "--exit-code-on-error", "0"],
    );
    let mut worker = worker(
        &dir,
        "e2e_recorder",
        port,
        &[("RECORDER_TOTAL", "1000")],
        &[],
    );
    let status = master.wait(RUN);
    assert_eq!(status.code(), Some(0), "master log:\n{}", master.output());
    let wstatus = worker.wait(Duration::from_secs(10));
    assert_eq!(wstatus.code(), Some(0), "worker log:\n{}", worker.output());

    let stats = csv_records(&dir.join("run_stats.csv"));
    let rust = stats
        .iter()
        .find(|r| r["Name"] == "/rust")
        .expect("a /rust row");
    assert_eq!(rust["Type"], "GET");
    assert_recorder_row(rust, 1000);
    let total = stats
        .iter()
        .find(|r| r["Name"] == "Aggregated")
        .expect("the Aggregated row");
    assert_recorder_row(total, 1000);

    let failures = csv_records(&dir.join("run_failures.csv"));
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["Method"], "GET");
    assert_eq!(failures[0]["Name"], "/rust");
    // Masters before 2.10.2 show a string error as its repr.
    assert!(
        ["boom", "'boom'"].contains(&failures[0]["Error"].as_str()),
        "{failures:?}"
    );
    assert_eq!(failures[0]["Occurrences"], "50");
    let exceptions = read_csv(&dir.join("run_exceptions.csv"));
    assert_eq!(exceptions.len(), 1, "no exception expected: {exceptions:?}");

    let log = master.output();
    assert!(log.contains("All users spawned"), "{log}");
    assert!(!log.contains("Traceback"), "{log}");
    assert!(!log.contains("Unknown message type"), "{log}");
}

#[test]
fn custom_messages_round_trip() {
    let dir = scratch("custom");
    let port = free_port();
    let mut master = headless_master(&dir, "examples/custom_message.py", port, 2, "4s", &[]);
    let mut worker = worker(&dir, "custom_message", port, &[], &[]);
    let status = master.wait(RUN);
    let log = master.output();
    // Exit code 0: no failure and no exception in any master handler.
    assert_eq!(status.code(), Some(0), "master log:\n{log}");
    worker.assert_exit(0, Duration::from_secs(10));
    assert!(
        log.contains(": worker 0 got users user0,user1,user2"),
        "the JSON string message did not come back:\n{log}\nworker:\n{}",
        worker.output()
    );
    assert!(
        log.contains(": worker 0 got tags a,b"),
        "the map message did not come back:\n{log}\nworker:\n{}",
        worker.output()
    );
}

#[test]
fn stop_then_start_counts_each_run() {
    let dir = scratch("stopstart");
    let port = free_port();
    let (mut master, web) = web_master(
        &dir,
        "examples/locustfile.py",
        port,
        &["--csv", "run", "--exit-code-on-error", "0"],
    );
    let mut worker = worker(
        &dir,
        "e2e_recorder",
        port,
        &[("RECORDER_TOTAL", "500")],
        &[],
    );
    let worker_is = |state: &'static str| {
        move || {
            aggregated_requests(web)
                .filter(|(_, _, w)| w.len() == 1 && w[0]["state"] == state)
                .map(|_| ())
        }
    };
    wait_for("the worker to be ready", RUN, worker_is("ready"));

    for run in 1..=2 {
        let (code, body) = http(
            web,
            "POST",
            "/swarm",
            &[
                ("user_count", "3"),
                ("spawn_rate", "3"),
                ("host", "http://127.0.0.1:9"),
            ],
        );
        assert_eq!(code, 200, "{body}");
        // The master clears its stats before it leaves "stopped"/"ready" for this run.
        wait_for(&format!("run {run} to count 500 requests"), RUN, || {
            aggregated_requests(web)
                .filter(|(n, state, _)| *n >= 500 && (state == "running" || state == "spawning"))
                .map(|_| ())
        });
        stop(web);
        wait_for("the worker to be ready again", RUN, worker_is("ready"));
        let (n, state, workers) = aggregated_requests(web).expect("stats");
        assert_eq!(n, 500, "run {run}: state {state}, workers {workers:?}");
        assert_eq!(workers[0]["user_count"], 0, "run {run}: {workers:?}");
    }
    master.signal("TERM");
    let status = master.wait(RUN);
    assert_eq!(status.code(), Some(0), "master log:\n{}", master.output());
    worker.assert_exit(0, Duration::from_secs(10));
    let stats = csv_records(&dir.join("run_stats.csv"));
    let total = stats
        .iter()
        .find(|r| r["Name"] == "Aggregated")
        .expect("Aggregated row");
    assert_recorder_row(total, 500);
}

/// Editing the Host of a running test in the web UI reaches users that are already running
/// (Locust's own workers only give it to users started afterwards).
#[test]
fn host_changes_reach_running_users() {
    let dir = scratch("host");
    let port = free_port();
    let (mut master, web) = web_master(&dir, "examples/locustfile.py", port, &[]);
    let _worker = worker(&dir, "e2e_host", port, &[], &[]);
    wait_for("the worker to be ready", RUN, || {
        aggregated_requests(web)
            .filter(|(_, _, w)| w.len() == 1 && w[0]["state"] == "ready")
            .map(|_| ())
    });
    let swarm = |host: &str| {
        let (code, body) = http(
            web,
            "POST",
            "/swarm",
            &[("user_count", "2"), ("spawn_rate", "2"), ("host", host)],
        );
        assert_eq!(code, 200, "{body}");
    };
    swarm("http://first.test");
    wait_for("requests to the first host", RUN, || {
        (requests_named(web, "http://first.test") > 0).then_some(())
    });
    // Same user count: no user is started or stopped, only the host changes. Each record's
    // type is the id of the user that made it: the users that see the second host must be
    // the two that saw the first (a restarted user would have a new id).
    wait_for("both users on the first host", RUN, || {
        (users_of(web, "http://first.test").len() == 2).then_some(())
    });
    swarm("http://second.test");
    wait_for("both users on the second host", RUN, || {
        (users_of(web, "http://second.test").len() == 2).then_some(())
    });
    assert_eq!(
        users_of(web, "http://second.test"),
        users_of(web, "http://first.test"),
        "a user was restarted by the host change"
    );
    let (_, _, workers) = aggregated_requests(web).expect("stats");
    assert_eq!(workers[0]["user_count"], 2, "{workers:?}");
    master.signal("TERM");
    master.assert_exit(0, RUN);
}

/// The types (here: user ids) of the master's stats rows named `name`.
fn users_of(web: u16, name: &str) -> std::collections::BTreeSet<String> {
    let (_, body) = http(web, "GET", "/stats/requests", &[]);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let rows = v["stats"].as_array().cloned().unwrap_or_default();
    rows.iter()
        .filter(|e| e["name"] == name)
        .filter_map(|e| e["method"].as_str().map(str::to_string))
        .collect()
}

/// Every event handler fires, with its payload, in order: connected before spawn, stop
/// before quit; sync and async handlers alike (examples/events.rs logs them).
#[test]
fn handlers_fire_in_order_with_their_payloads() {
    let Cluster {
        web,
        mut master,
        mut worker,
        ..
    } = ready_cluster("events", "examples/locustfile.py", &[], "events", &[], &[]);
    swarm(web, 2, "http://127.0.0.1:9");
    // Masters before 2.29 do not broadcast spawning_complete.
    let broadcast = locust_version() >= (2, 29, 0);
    let last_spawn_event = if broadcast {
        "event: spawning_complete"
    } else {
        "event: spawn {"
    };
    wait_for("the spawn events", RUN, || {
        worker.output().contains(last_spawn_event).then_some(())
    });
    stop(web);
    wait_for("the second connected", RUN, || {
        (worker.output().matches("event: connected").count() == 2).then_some(())
    });
    master.signal("TERM");
    master.wait(RUN);
    worker.assert_exit(0, Duration::from_secs(10));
    let log = worker.output();
    let events: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split("event: ").nth(1))
        .collect();
    let mut expected = vec![
        "connected (the master acknowledged us)",
        "test_start",
        "spawn 2 users at 2/s",
        r#"spawn {"RustUser": 2}, host Some("http://127.0.0.1:9"), stop_timeout 0"#,
        "spawning_complete, 2 users in the test",
        "stop",
        "test_stop",
        "connected (the master acknowledged us)",
        "quit",
    ];
    if !broadcast {
        expected.retain(|e| !e.starts_with("spawning_complete"));
    }
    assert_eq!(events, expected, "worker log:\n{log}");
}

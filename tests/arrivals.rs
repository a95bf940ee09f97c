//! The open model end to end: the arrival-driven test worker (tests/workers/arrivals.rs)
//! against a real HTTP server on 127.0.0.1, standalone (stages, drops, coordinated
//! omission) and as a fleet of two under a real Locust master whose locustfile carries the
//! `--arrival-rate` option (the worker's own `--print-locustfile`). Every run checks conservation:
//! what the server served is what was counted.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::servers::{Server, ServerOpts};
use common::*;

/// The arrival worker in standalone mode against `server`, getting `path`.
fn standalone(dir: &Path, server: &Server, path: &str, args: &[&str]) -> Proc {
    let mut cmd = Command::new(example("e2e_arrivals"));
    cmd.args(["--standalone", "--only-summary", "-H", &server.url()])
        .args(args)
        .env("ARRIVAL_PATH", path)
        .current_dir(dir);
    Proc::spawn("arrivals", cmd, dir)
}

/// The `hit` row and the failures of a standalone run's `--csv PREFIX`.
fn csv_of(dir: &Path, prefix: &str) -> (HashMap<String, String>, Vec<HashMap<String, String>>) {
    let stats = csv_records(&dir.join(format!("{prefix}_stats.csv")));
    let hit = stats
        .into_iter()
        .find(|r| r["Name"] == "hit")
        .unwrap_or_else(|| panic!("no `hit` row in {prefix}_stats.csv"));
    let failures = csv_records(&dir.join(format!("{prefix}_failures.csv")));
    (hit, failures)
}

fn num(row: &HashMap<String, String>, column: &str) -> f64 {
    row[column]
        .parse()
        .unwrap_or_else(|_| panic!("{column} = {:?} is not a number", row[column]))
}

/// Stages run exactly their integral, whatever the response times: 100/s ramping to 300/s
/// over 2 s, 3 s at 300/s, down to 0 over 2 s: 150 + 250 + 900 + 300 = 1600 iterations,
/// every one served and counted, none dropped.
#[test]
fn standalone_stages_run_their_integral() {
    let dir = scratch("arrivals-stages");
    let server = Server::start(ServerOpts::default());
    let started = Instant::now();
    let mut run = standalone(
        &dir,
        &server,
        "/",
        &[
            "-u",
            "20",
            "-r",
            "1000",
            "--arrival-rate",
            "100, 2s:300, 3s:300, 2s:0",
            "-t",
            "9s",
            "--csv",
            "stages",
        ],
    );
    run.assert_exit(0, Duration::from_secs(40));
    let (hit, failures) = csv_of(&dir, "stages");
    assert_eq!(num(&hit, "Request Count"), 1600.0, "{hit:?}");
    assert_eq!(num(&hit, "Failure Count"), 0.0, "{hit:?}");
    assert_eq!(server.count("/"), 1600, "served == counted");
    assert!(failures.is_empty(), "nothing dropped: {failures:?}");
    assert!(started.elapsed() >= Duration::from_secs(9), "ran its -t");
}

/// A pool too small for the rate: 2 users whose requests take 200 ms serve 10/s of 50/s.
/// What cannot start within --arrival-max-lag is dropped and counted in the failure table
/// (method `arrival`, the class name), never queued: started + dropped is what came due,
/// give or take what was still waiting at the end. Drops are errors: the exit code says so
/// (`--exit-code-on-error`, as a master's for a worker's drops).
#[test]
fn a_busy_pool_drops_and_counts() {
    let dir = scratch("arrivals-drops");
    let server = Server::start(ServerOpts::default());
    let prometheus = free_port();
    let listen = format!("127.0.0.1:{prometheus}");
    let mut run = standalone(
        &dir,
        &server,
        "/sleep?200",
        &[
            "--prometheus-listen",
            &listen,
            "-u",
            "2",
            "-r",
            "100",
            "--arrival-rate",
            "50",
            "--arrival-max-lag",
            "1s",
            "-t",
            "6s",
            "--csv",
            "drops",
        ],
    );
    // Prometheus counts the drops as they happen, in a page promtool finds clean.
    let page = wait_for("drops on /metrics", Duration::from_secs(20), || {
        let (status, page) = http(prometheus, "GET", "/metrics", &[]);
        let dropped = page
            .lines()
            .find_map(|l| l.strip_prefix("boomer_arrivals_dropped_total{class=\"Arrivals\"} "))
            .and_then(|n| n.parse::<u64>().ok());
        (status == 200 && dropped > Some(0)).then_some(page)
    });
    assert!(
        page.contains("boomer_errors_total{method=\"arrival\",name=\"Arrivals\""),
        "{page}"
    );
    let (clean, said) = promtool_check(&page);
    assert!(clean, "promtool: {said}\n{page}");
    run.assert_exit(1, Duration::from_secs(30));
    assert!(
        run.output()
            .contains("dropped: due while every user of the class was busy"),
        "the console's error report names the drops:\n{}",
        run.output()
    );
    let (hit, failures) = csv_of(&dir, "drops");
    let served = num(&hit, "Request Count");
    assert_eq!(server.count("/sleep"), served as u64, "served == counted");
    let dropped: Vec<_> = failures
        .iter()
        .filter(|f| f["Method"] == "arrival" && f["Name"] == "Arrivals")
        .collect();
    assert_eq!(dropped.len(), 1, "{failures:?}");
    assert!(
        dropped[0]["Error"].contains("dropped"),
        "a clear name: {:?}",
        dropped[0]
    );
    let dropped: f64 = dropped[0]["Occurrences"].parse().expect("a count");
    // 6 s at 50/s = 300 due; 2 users at 5/s serve about 60; at most 1 s of arrivals (50)
    // plus one per user was still waiting when the run ended.
    assert!((50.0..=75.0).contains(&served), "served {served}");
    let accounted = served + dropped;
    assert!(
        (300.0 - 52.0..=301.0).contains(&accounted),
        "served {served} + dropped {dropped} of 300 due"
    );
}

/// Coordinated omission: at 100/s with one user, the target stalls once for 2 s (its
/// 300th request). The ~200 arrivals due meanwhile start late, once it answers; counted
/// from when they were due (the default) the 99th percentile shows the stall, counted from
/// when they were sent (`--latency-from sent`) it does not.
#[test]
fn latency_counts_from_when_the_iteration_was_due() {
    let mut p99 = BTreeMap::new();
    for from in ["due", "sent"] {
        let dir = scratch(&format!("arrivals-co-{from}"));
        let server = Server::start(ServerOpts::default());
        let mut run = standalone(
            &dir,
            &server,
            "/stall?300",
            &[
                "-u",
                "1",
                "--arrival-rate",
                "100",
                "--latency-from",
                from,
                "-t",
                "10s",
                "--csv",
                "co",
            ],
        );
        run.assert_exit(0, Duration::from_secs(40));
        let (hit, failures) = csv_of(&dir, "co");
        assert!(failures.is_empty(), "{from}: nothing dropped: {failures:?}");
        let count = num(&hit, "Request Count");
        assert_eq!(server.count("/stall"), count as u64, "served == counted");
        assert!(
            (990.0..=1001.0).contains(&count),
            "{from}: {count} requests"
        );
        assert!(num(&hit, "Max Response Time") >= 1990.0, "{from}: {hit:?}");
        p99.insert(from, (num(&hit, "99%"), num(&hit, "50%")));
    }
    eprintln!("p99 (p50), ms: {p99:?}");
    let (due, sent) = (p99["due"], p99["sent"]);
    assert!(due.0 >= 1000.0, "from due: the stall shows: {p99:?}");
    assert!(sent.0 < 100.0, "from sent: it does not: {p99:?}");
}

/// Two workers under one real master share the fleet's rate, set on the master (its
/// locustfile's `--arrival-rate`, here 400/s, over the worker's default of 50): the master
/// counts 400/s; one worker leaves, the master gives its users to the other, which then
/// runs the whole rate: still 400/s. Seconds are the master's per-second counts
/// (`num_reqs_per_sec` of its merged entry, written at quit); the server served what the master counted.
#[test]
fn a_fleet_keeps_its_rate_when_a_worker_leaves() {
    let dir = scratch("arrivals-fleet");
    let server = Server::start(ServerOpts::default());
    let port = free_port();
    // The master's locustfile is the one the worker prints: its class, and the
    // `--arrival-rate` argument.
    let printed = Command::new(example("e2e_arrivals"))
        .arg("--print-locustfile")
        .output()
        .expect("--print-locustfile");
    assert!(printed.status.success());
    let locustfile = dir.join("locustfile.py");
    // Plus, for this test, the master's merged `hit` entry written at quit (`--json-file`
    // came with Locust 2.3x; this reads the same numbers on every version).
    let dump =
        "\n\nimport json\n\n\n@events.quitting.add_listener\ndef _dump(environment, **_kw):\n    \
                e = environment.stats.get(\"hit\", \"GET\")\n    \
                with open(\"fleet.json\", \"w\") as f:\n        \
                json.dump([{\"name\": \"hit\", \"num_requests\": e.num_requests, \
                \"num_failures\": e.num_failures, \"num_reqs_per_sec\": e.num_reqs_per_sec}], f)\n";
    let mut text = printed.stdout.clone();
    text.extend_from_slice(dump.as_bytes());
    std::fs::write(&locustfile, &text).expect("write the locustfile");
    assert!(String::from_utf8_lossy(&printed.stdout).contains("\"--arrival-rate\""));
    let mut master = master(
        &dir,
        locustfile.to_str().expect("a UTF-8 path"),
        port,
        &[
            "--headless",
            "-u",
            "40",
            "-r",
            "40",
            "-t",
            "24s",
            "--expect-workers",
            "2",
            "--expect-workers-max-wait",
            "60",
            "--arrival-rate",
            "400",
            "-H",
            &server.url(),
        ],
    );
    let _a = worker(&dir, "e2e_arrivals", port, &[], &[]);
    let mut b = worker(&dir, "e2e_arrivals", port, &[], &[]);
    let first = wait_for("the first request", Duration::from_secs(60), || {
        (server.total() > 0).then(clock_secs)
    });
    // 10 s with both workers, then one leaves (SIGTERM: it reports and quits).
    wait_for("10 s of load", Duration::from_secs(30), || {
        (clock_secs() >= first + 10.0).then_some(())
    });
    b.signal("TERM");
    let left = clock_secs();
    b.assert_exit(0, Duration::from_secs(20));
    master.assert_exit(0, Duration::from_secs(60));
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("fleet.json")).expect("the master's fleet.json"),
    )
    .expect("JSON");
    let hit = json
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == "hit"))
        .unwrap_or_else(|| panic!("no hit row in {json}"))
        .clone();
    let counted = hit["num_requests"].as_u64().expect("num_requests");
    assert_eq!(server.total(), counted, "served == counted by the master");
    assert_eq!(hit["num_failures"].as_u64(), Some(0), "{hit}");
    let per_sec: BTreeMap<i64, u64> = hit["num_reqs_per_sec"]
        .as_object()
        .expect("num_reqs_per_sec")
        .iter()
        .map(|(s, n)| (s.parse().expect("a second"), n.as_u64().expect("a count")))
        .collect();
    // Every whole second of the window within 2 % of the rate; the window's mean.
    let mean = |from: f64, to: f64| -> f64 {
        let seconds: Vec<u64> = (from.ceil() as i64..to.floor() as i64)
            .map(|s| per_sec.get(&s).copied().unwrap_or(0))
            .collect();
        assert!(seconds.len() >= 5, "{from}..{to}: {per_sec:?}");
        for (i, n) in seconds.iter().enumerate() {
            assert!(
                (392..=408).contains(n),
                "second {i} of {from}..{to}: {n}/s: {per_sec:?}"
            );
        }
        seconds.iter().sum::<u64>() as f64 / seconds.len() as f64
    };
    let both = mean(first + 1.0, left - 1.0);
    // The master hears of the leave at once (the worker's quit) and rebalances.
    let one = mean(left + 3.0, first + 22.0);
    eprintln!("fleet: {both:.1}/s with two workers, {one:.1}/s with one; {per_sec:?}");
    assert!((392.0..=408.0).contains(&both), "two workers: {both}/s");
    assert!((392.0..=408.0).contains(&one), "one worker: {one}/s");
}

/// Drops under a master: a worker whose single user cannot keep up counts the drops in the
/// master's failure table (its `--csv` failures), and the server served what the master
/// counted.
#[test]
fn drops_reach_the_masters_failure_table() {
    let dir = scratch("arrivals-master-drops");
    let server = Server::start(ServerOpts::default());
    let port = free_port();
    let mut master = headless_master(
        &dir,
        "tests/locustfiles/arrivals.py",
        port,
        1,
        "6s",
        &[
            "--csv",
            "master",
            "-H",
            &server.url(),
            "--arrival-rate",
            "50",
        ],
    );
    let mut worker = worker(
        &dir,
        "e2e_arrivals",
        port,
        &[("ARRIVAL_PATH", "/sleep?100")],
        &["--arrival-max-lag", "1s"],
    );
    master.assert_exit(1, Duration::from_secs(60));
    worker.assert_exit(0, Duration::from_secs(20));
    let failures = csv_records(&dir.join("master_failures.csv"));
    let row = failures
        .iter()
        .find(|f| f["Method"] == "arrival" && f["Name"] == "Arrivals")
        .unwrap_or_else(|| panic!("no drops in the master's failures: {failures:?}"));
    assert!(row["Error"].contains("dropped"), "{row:?}");
    let dropped: u64 = row["Occurrences"].parse().expect("a count");
    assert!(dropped >= 100, "6 s at 50/s, 10/s served: {row:?}");
    let stats = csv_records(&dir.join("master_stats.csv"));
    let hit = stats
        .iter()
        .find(|r| r["Name"] == "hit")
        .expect("a hit row");
    assert_eq!(
        hit["Request Count"],
        server.count("/sleep").to_string(),
        "served == counted"
    );
}

/// The rate set in the master's web UI: the locustfile's `--arrival-rate` is in the start
/// form's options (the page carries it), the start form's value reaches the worker in the
/// spawn's `parsed_options`, with the form's user count as the fleet's: 10 of 10 users at
/// 200/s is 200/s here, whatever the worker's own default (50/s).
#[test]
fn the_web_ui_sets_the_fleets_rate() {
    let server = Server::start(ServerOpts::default());
    let cluster = ready_cluster(
        "arrivals-web",
        "tests/locustfiles/arrivals.py",
        &[],
        "e2e_arrivals",
        &[],
        &[],
    );
    let (code, page) = http(cluster.web, "GET", "/", &[]);
    assert_eq!(code, 200);
    assert!(
        page.contains("arrival_rate"),
        "the start form offers the option:\n{page}"
    );
    let url = server.url();
    let (code, body) = http(
        cluster.web,
        "POST",
        "/swarm",
        &[
            ("user_count", "10"),
            ("spawn_rate", "10"),
            ("host", &url),
            ("arrival_rate", "200"),
        ],
    );
    assert_eq!(code, 200, "{body}");
    wait_for("the first request", Duration::from_secs(30), || {
        (server.total() > 0).then_some(())
    });
    // Five seconds of the schedule, once it runs: 1000 iterations, give or take the one
    // or two in flight at either end.
    let settle = Instant::now() + Duration::from_secs(1);
    wait_for("a second of load", Duration::from_secs(5), || {
        (Instant::now() >= settle).then_some(())
    });
    let (t0, n0) = (Instant::now(), server.total());
    let until = t0 + Duration::from_secs(5);
    wait_for("five seconds of load", Duration::from_secs(10), || {
        (Instant::now() >= until).then_some(())
    });
    let (t1, n1) = (Instant::now(), server.total());
    let rate = (n1 - n0) as f64 / (t1 - t0).as_secs_f64();
    stop(cluster.web);
    eprintln!("web UI: {rate:.1}/s");
    assert!((196.0..=204.0).contains(&rate), "{rate}/s, not 200/s");
}

fn clock_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

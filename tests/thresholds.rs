//! `--threshold` end to end: standalone runs of the recorder worker (tests/workers/recorder.rs,
//! whose samples are known: p50 20 ms, p95 and max 1200 ms, 5 % failures) that pass, fail and
//! abort, with their exit codes, summary table and JSON; a worker's breach in a real
//! master's Logs tab; and the fleet-wide recipe (tests/locustfiles/thresholds.py) on a real
//! headless master with a Rust worker against a real HTTP target.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::servers::{Server, ServerOpts};
use common::*;

const RUN: Duration = Duration::from_secs(60);

/// The recorder, standalone, recording `total` samples, one every `pace_ms` per user.
fn recorder(dir: &Path, total: u64, pace_ms: u64, args: &[&str]) -> Proc {
    let mut cmd = Command::new(example("e2e_recorder"));
    cmd.arg("--standalone")
        .args(args)
        .env("RECORDER_TOTAL", total.to_string())
        .env("RECORDER_PACE_MS", pace_ms.to_string())
        .current_dir(dir);
    Proc::spawn("standalone", cmd, dir)
}

/// The lines of the thresholds' summary table (after Locust's tables).
fn summary(out: &str) -> Vec<String> {
    let at = out
        .rfind("\nThresholds\n")
        .unwrap_or_else(|| panic!("no thresholds table in\n{out}"));
    out[at + 1..].lines().map(str::to_string).collect()
}

/// The row of `spec` in the summary table: its value and result.
fn row(table: &[String], spec: &str) -> (String, String) {
    let line = table
        .iter()
        .find(|l| l.split('|').next().map(str::trim) == Some(spec))
        .unwrap_or_else(|| panic!("no row {spec:?} in {table:#?}"));
    let cells: Vec<&str> = line.split('|').map(str::trim).collect();
    (cells[1].to_string(), cells[2].to_string())
}

/// The Aggregated 90 % column of Locust's percentile table.
fn console_p90(out: &str) -> String {
    let table = &out[out
        .rfind("Response time percentiles")
        .unwrap_or_else(|| panic!("no percentile table in\n{out}"))..];
    let line = table
        .lines()
        .find(|l| l.trim_start().starts_with("Aggregated"))
        .expect("an Aggregated row");
    // Aggregated, then 50% 66% 75% 80% 90% ...
    line.split_whitespace()
        .nth(5)
        .expect("a 90% column")
        .to_string()
}

/// A breach with --threshold-abort stops a 60 s test at the first report after it, through
/// the normal end: the summary, the JSON (every sample in it), the exit code of the first
/// failed threshold (10 + its index).
#[test]
fn a_breach_aborts_the_test_with_the_threshold_s_exit_code() {
    let dir = scratch("thresholds-abort");
    let started = Instant::now();
    let mut run = recorder(
        &dir,
        100_000,
        5,
        &[
            "-u",
            "2",
            "-t",
            "60s",
            "--threshold",
            "p50<100ms",
            "--threshold",
            "max<1s",
            "--threshold",
            // 150 ms once the first 1200 ms sample breaks max<1s, whenever it stops.
            "GET /rust:p90<100ms",
            "--threshold-abort",
            "--json-file",
            "run",
            "--csv",
            "run",
        ],
    );
    run.assert_exit(11, RUN);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(20),
        "not stopped early: {took:?}"
    );
    let out = run.output();
    assert!(
        out.contains("threshold \"max<1s\" breached: 1.2 s"),
        "{out}"
    );
    assert!(
        out.contains("stopping the test (--threshold-abort): threshold \"max<1s\" is breached"),
        "{out}"
    );
    let table = summary(&out);
    assert_eq!(row(&table, "p50<100ms"), ("20 ms".into(), "pass".into()));
    assert_eq!(row(&table, "max<1s"), ("1.2 s".into(), "FAIL".into()));
    let (p90, result) = row(&table, "GET /rust:p90<100ms");
    assert_eq!((p90.as_str(), result.as_str()), ("150 ms", "FAIL"));
    // The same number as Locust's percentile table.
    assert_eq!(p90, format!("{} ms", console_p90(&out)));
    let csv = csv_records(&dir.join("run_stats.csv"));
    let aggregated = csv
        .iter()
        .find(|r| r["Name"] == "Aggregated")
        .expect("a row");
    assert_eq!(p90, format!("{} ms", aggregated["90%"]));
    assert!(
        out.contains("2 of 3 thresholds failed (exit code 11: \"max<1s\" is the first)"),
        "{out}"
    );

    // NAME.json stays Locust's array; NAME_thresholds.json has the judgement, and every
    // sample recorded is in the totals (the test ended normally).
    let recorded: u64 = out
        .lines()
        .find_map(|l| {
            l.strip_prefix("recorded ")?
                .strip_suffix(" requests")?
                .parse()
                .ok()
        })
        .expect("the recorder's count");
    let locust: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).expect("run.json"))
            .expect("JSON");
    let entries = locust.as_array().expect("Locust's array");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["num_requests"], recorded);
    let text = std::fs::read_to_string(dir.join("run_thresholds.json")).expect("the file");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(doc["passed"], false, "{doc}");
    assert_eq!(doc["first_failed"], 1, "{doc}");
    assert_eq!(doc["exit_code"], 11, "{doc}");
    let rows = doc["thresholds"].as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["spec"], "p50<100ms");
    assert_eq!(rows[0]["metric"], "p(50)");
    assert_eq!(rows[0]["value"], 20.0);
    assert_eq!(rows[0]["passed"], true);
    assert_eq!(rows[1]["value"], 1200.0);
    assert_eq!(rows[1]["limit"], 1000.0);
    assert_eq!(rows[1]["unit"], "ms");
    assert_eq!(rows[1]["passed"], false);
    assert_eq!(rows[2]["name"], "GET /rust");
    assert_eq!(rows[2]["shown"], p90);
}

/// --threshold-grace holds the abort back: the same breach stops the test no earlier.
#[test]
fn the_grace_period_holds_the_abort_back() {
    let dir = scratch("thresholds-grace");
    let started = Instant::now();
    let mut run = recorder(
        &dir,
        100_000,
        5,
        &[
            "-t",
            "60s",
            "--threshold",
            "max<1s",
            "--threshold-abort",
            "--threshold-grace",
            "4s",
            "--only-summary",
        ],
    );
    run.assert_exit(10, RUN);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(20),
        "{took:?}"
    );
    let out = run.output();
    // Breached at the first report, logged once; the abort waited.
    assert_eq!(
        out.matches("threshold \"max<1s\" breached").count(),
        1,
        "{out}"
    );
    assert!(
        out.contains("stopping the test (--threshold-abort)"),
        "{out}"
    );
}

/// Passing thresholds exit 0 when nothing failed; failures that the thresholds tolerate
/// still give --exit-code-on-error (Locust's rule), and a threshold on a name that saw no
/// request fails at the end.
#[test]
fn passing_thresholds_exit_zero() {
    // The recorder's first 90 samples all succeed.
    let dir = scratch("thresholds-pass");
    let mut run = recorder(
        &dir,
        90,
        0,
        &[
            "-t",
            "2s",
            "--threshold",
            "p50<100ms",
            "--threshold",
            "fail_ratio<1%",
            "--threshold",
            "reqs>=90",
            "--threshold-abort",
        ],
    );
    run.assert_exit(0, RUN);
    let out = run.output();
    let table = summary(&out);
    assert_eq!(row(&table, "fail_ratio<1%"), ("0 %".into(), "pass".into()));
    assert_eq!(row(&table, "reqs>=90"), ("90".into(), "pass".into()));
    assert!(out.contains("All 3 thresholds passed"), "{out}");
    assert!(!out.contains("breached"), "{out}");

    let dir = scratch("thresholds-tolerated");
    let mut run = recorder(
        &dir,
        1000,
        0,
        &[
            "-t",
            "2s",
            "--threshold",
            "fail_ratio<10%",
            "--exit-code-on-error",
            "7",
        ],
    );
    run.assert_exit(7, RUN);
    assert_eq!(
        row(&summary(&run.output()), "fail_ratio<10%"),
        ("5 %".into(), "pass".into())
    );

    let dir = scratch("thresholds-no-requests");
    let mut run = recorder(&dir, 90, 0, &["-t", "2s", "--threshold", "/typo:p95<1s"]);
    run.assert_exit(10, RUN);
    assert_eq!(
        row(&summary(&run.output()), "/typo:p95<1s"),
        ("no requests".into(), "FAIL".into())
    );
}

/// A bad spec is refused at start-up, as any bad flag (exit 2).
#[test]
fn a_bad_spec_is_refused_at_start_up() {
    let dir = scratch("thresholds-bad");
    let mut run = recorder(&dir, 10, 0, &["--threshold", "p95 < 300 apples"]);
    run.assert_exit(2, RUN);
    let out = run.output();
    assert!(
        out.contains("invalid threshold \"p95 < 300 apples\""),
        "{out}"
    );
    assert!(!out.contains("recorded"), "{out}");
}

/// A worker judges its own share: a breach is a warning that reaches the master's Logs
/// tab (Locust 2.29 and later take `logs`).
#[test]
fn a_worker_s_breach_reaches_the_master_s_logs_tab() {
    let Cluster {
        web,
        mut master,
        mut worker,
        ..
    } = ready_cluster(
        "thresholds-worker",
        "examples/locustfile.py",
        &["--exit-code-on-error", "0"],
        "e2e_recorder",
        &[("RECORDER_PACE_MS", "5")],
        &["--threshold", "max<1s", "--threshold", "p50<100ms"],
    );
    swarm(web, 1, "http://127.0.0.1:9");
    let want = "threshold \"max<1s\" breached: 1.2 s (this worker's share)";
    let (code, _) = http(web, "GET", "/logs", &[]);
    if code == 404 {
        // A master before 2.29 has no Logs tab: the worker's own log says it.
        wait_for("the breach in the worker's log", RUN, || {
            worker.output().contains(want).then_some(())
        });
    } else {
        let lines = wait_for("the breach in the master's Logs tab", RUN, || {
            logs_tab_lines(web).filter(|lines| {
                lines
                    .iter()
                    .any(|l| l.contains("/WARNING/") && l.contains(want))
            })
        });
        assert!(
            !lines.iter().any(|l| l.contains("p50<100ms")),
            "a holding threshold is not logged: {lines:?}"
        );
    }
    master.signal("TERM");
    master.wait(RUN);
    worker.assert_exit(0, Duration::from_secs(10));
}

/// The fleet-wide recipe: a headless master running tests/locustfiles/thresholds.py judges
/// the whole fleet (here one Rust worker against a real HTTP server).
fn fleet(test: &str, env: &[(&str, &str)], run_time: &str, thresholds: &[&str]) -> (Proc, Proc) {
    let dir = scratch(test);
    let server = Server::start(ServerOpts::default());
    let port = free_port();
    let url = server.url();
    let mut extra = vec!["-H", url.as_str()];
    for t in thresholds {
        extra.extend(["--threshold", t]);
    }
    extra.push("--threshold-abort");
    let master = headless_master(
        &dir,
        "tests/locustfiles/thresholds.py",
        port,
        1,
        run_time,
        &extra,
    );
    let worker = worker(&dir, "e2e_http", port, env, &[]);
    // The server lives as long as the test process.
    std::mem::forget(server);
    (master, worker)
}

#[test]
fn the_fleet_recipe_passes_a_holding_threshold() {
    let (mut master, mut worker) = fleet(
        "thresholds-fleet-pass",
        &[("HTTP_ONLY_PATH", "/"), ("HTTP_TOTAL", "300")],
        "4s",
        &["fail_ratio<1%", "GET /:p95<1s", "reqs>=300"],
    );
    master.assert_exit(0, RUN);
    let out = master.output();
    for line in [
        "threshold 'fail_ratio<1%': 0: pass",
        "threshold 'GET /:p95<1s'",
        "threshold 'reqs>=300': 300: pass",
    ] {
        assert!(out.contains(line), "{line:?} not in\n{out}");
    }
    assert!(!out.contains("FAIL") && !out.contains("breached"), "{out}");
    worker.assert_exit(0, Duration::from_secs(10));
}

#[test]
fn the_fleet_recipe_stops_a_breached_test_with_its_exit_code() {
    let started = Instant::now();
    // Of every 5 requests one is a 404: a fail ratio of 20 %.
    let (mut master, mut worker) = fleet(
        "thresholds-fleet-breach",
        &[("HTTP_TOTAL", "100000")],
        "60s",
        &["reqs>0", "fail_ratio<5%"],
    );
    master.assert_exit(11, RUN);
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "not stopped early"
    );
    let out = master.output();
    for line in [
        // About 0.2 (a 404 in every 5 requests), as far as the reports go.
        "threshold 'fail_ratio<5%' breached: 0.",
        "stopping the test (--threshold-abort)",
        "threshold 'reqs>0'",
        "threshold 'fail_ratio<5%': 0.",
        "Shutting down (exit code 11)",
    ] {
        assert!(out.contains(line), "{line:?} not in\n{out}");
    }
    let verdict = out
        .lines()
        .find(|l| l.contains("threshold 'fail_ratio<5%': "))
        .expect("the verdict");
    assert!(verdict.ends_with(": FAIL"), "{verdict}");
    worker.assert_exit(0, Duration::from_secs(10));
}

/// The recipe refuses a bad spec when the master starts, not at the end of the test.
#[test]
fn the_fleet_recipe_refuses_a_bad_spec_at_start_up() {
    let dir = scratch("thresholds-fleet-bad");
    let mut master = headless_master(
        &dir,
        "tests/locustfiles/thresholds.py",
        free_port(),
        1,
        "60s",
        &["--threshold", "p95 < 300 apples"],
    );
    master.assert_exit(2, RUN);
    let out = master.output();
    assert!(
        out.contains("invalid threshold 'p95 < 300 apples'"),
        "{out}"
    );
}

//! Standalone mode end to end: the recorder worker (tests/workers/recorder.rs) run with
//! `--standalone`, checked through its console tables, its CSV files (parsed by Python's csv
//! module and compared with a real Locust run's), its Prometheus endpoint and exit code.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// Locust's values for the recorder's 1000 samples (see tests/workers/recorder.rs).
const RECORDER_ROW: [(&str, &str); 17] = [
    ("Request Count", "1000"),
    ("Failure Count", "50"),
    ("Median Response Time", "20"),
    ("Average Response Time", "100.5"),
    ("Min Response Time", "10"),
    ("Max Response Time", "1200"),
    ("Average Content Size", "95.0"),
    ("50%", "20"),
    ("66%", "45"),
    ("75%", "45"),
    ("80%", "150"),
    ("90%", "150"),
    ("95%", "1200"),
    ("98%", "1200"),
    ("99%", "1200"),
    ("99.9%", "1200"),
    ("100%", "1200"),
];

fn standalone(dir: &Path, args: &[&str]) -> Proc {
    recording(dir, 1000, args)
}

/// The recorder in standalone mode, recording `total` samples (failures from the 96th on).
fn recording(dir: &Path, total: u64, args: &[&str]) -> Proc {
    let mut cmd = Command::new(example("e2e_recorder"));
    cmd.arg("--standalone")
        .args(args)
        .env("RECORDER_TOTAL", total.to_string())
        .current_dir(dir);
    Proc::spawn("standalone", cmd, dir)
}

/// When the line of `out` containing `what` was logged, in seconds since the Unix epoch
/// (tracing's `2026-01-02T03:04:05.123456Z` timestamps).
fn log_time(out: &str, what: &str) -> f64 {
    let line = out
        .lines()
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no log line with {what:?} in\n{out}"));
    let stamp = line.split_whitespace().next().expect("a timestamp");
    let num = |range: std::ops::Range<usize>| -> i64 {
        stamp
            .get(range)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not a timestamp: {line}"))
    };
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + num(11..13) * 3600 + num(14..16) * 60 + num(17..19);
    let frac: f64 = stamp
        .get(19..stamp.len() - 1)
        .filter(|f| !f.is_empty())
        .map_or(0.0, |f| format!("0{f}").parse().expect("fraction"));
    secs as f64 + frac
}

/// A CSV file as Python reads it: its header and its rows keyed by header.
type PyCsv = (Vec<String>, Vec<HashMap<String, String>>);

/// The four CSV files of `prefix` as Python's csv module reads them: file → rows of dicts,
/// plus the header row.
fn python_csv(dir: &Path, prefix: &str) -> HashMap<String, PyCsv> {
    let python = locust().with_file_name("python3");
    let script = r#"
import csv, json, sys
out = {}
for kind in ["stats", "failures", "exceptions", "stats_history"]:
    with open(f"{sys.argv[1]}_{kind}.csv", newline="") as f:
        reader = csv.DictReader(f)
        out[kind] = [reader.fieldnames, list(reader)]
print(json.dumps(out))
"#;
    let out = Command::new(python)
        .args(["-c", script, prefix])
        .current_dir(dir)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python's json")
}

/// The headers of a real Locust 2.47 headless run's CSV files.
fn locust_headers(dir: &Path) -> HashMap<String, Vec<String>> {
    let locustfile = dir.join("real_locustfile.py");
    std::fs::write(
        &locustfile,
        "from locust import User, task, constant\n\
         class U(User):\n    wait_time = constant(0.2)\n    @task\n    def t(self):\n        \
         self.environment.events.request.fire(request_type='GET', name='/x', response_time=10, \
         response_length=1, exception=None, context={})\n",
    )
    .expect("write locustfile");
    let mut cmd = Command::new(locust());
    cmd.arg("-f")
        .arg(&locustfile)
        .args([
            "--headless",
            "--only-summary",
            "-u",
            "1",
            "-r",
            "1",
            "-t",
            "2s",
        ])
        .args(["--csv", "real", "--exit-code-on-error", "0"])
        .current_dir(dir);
    let mut real = Proc::spawn("locust", cmd, dir);
    let status = real.wait(Duration::from_secs(60));
    assert_eq!(status.code(), Some(0), "{}", real.output());
    python_csv(dir, "real")
        .into_iter()
        .map(|(k, (header, _))| (k, header))
        .collect()
}

/// The console line of the last `Aggregated` row in the table starting at `title`.
fn console_row<'a>(out: &'a str, title: &str) -> Vec<&'a str> {
    let table = &out[out
        .rfind(title)
        .unwrap_or_else(|| panic!("no {title:?} in\n{out}"))..];
    let line = table
        .lines()
        .find(|l| l.trim_start().starts_with("Aggregated"))
        .unwrap_or_else(|| panic!("no Aggregated row in\n{table}"));
    line.split(['|', ' ']).filter(|f| !f.is_empty()).collect()
}

/// Waits until the history CSV (a row a second) shows the recorder's 1000 samples.
fn all_samples_in_history(dir: &Path) {
    let path = dir.join("run_stats_history.csv");
    wait_for(
        "all samples in the history",
        Duration::from_secs(20),
        || {
            let text = std::fs::read_to_string(&path).ok()?;
            // Column 18 is "Total Request Count".
            text.lines()
                .any(|l| l.split(',').nth(17) == Some("1000"))
                .then_some(())
        },
    );
}

#[test]
fn standalone_run_reports_what_was_recorded() {
    let dir = scratch("standalone");
    let prom = free_port();
    let prom_addr = format!("127.0.0.1:{prom}");
    let started = Instant::now();
    let mut run = standalone(
        &dir,
        &[
            "-u",
            "10",
            "-r",
            "2",
            "-t",
            "6s",
            "--csv",
            "run",
            "--json-file",
            "run",
            "--prometheus-listen",
            &prom_addr,
        ],
    );
    // Once the recorder's 1000 samples are in the history, Prometheus must show them (its
    // page follows each report, after the CSV files, on the same thread).
    all_samples_in_history(&dir);
    let want = "boomer_requests_total{method=\"GET\",name=\"/rust\"} 1000";
    let page = wait_for("the samples on /metrics", Duration::from_secs(10), || {
        let (status, page) = http(prom, "GET", "/metrics", &[]);
        (status == 200 && page.contains(want)).then_some(page)
    });
    for want in [
        "boomer_requests_total{method=\"GET\",name=\"/rust\"} 1000",
        "boomer_failures_total{method=\"\",name=\"Aggregated\"} 50",
        "boomer_response_time_seconds{method=\"GET\",name=\"/rust\",quantile=\"0.9\"} 0.15",
        "boomer_errors_total{method=\"GET\",name=\"/rust\",error=\"boom\"} 50",
    ] {
        assert!(page.contains(want), "{want} not in\n{page}");
    }

    // Failures: exit code 1, as Locust's --exit-code-on-error default.
    let status = run.wait(Duration::from_secs(30));
    let took = started.elapsed();
    let out = run.output();
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(
        took >= Duration::from_secs(6) && took < Duration::from_secs(10),
        "ran {took:?}"
    );

    // The console: totals, percentiles, error report.
    let totals = console_row(&out, "failures/s");
    assert_eq!(
        &totals[1..7],
        ["1000", "50(5.00%)", "100", "10", "1200", "20"],
        "{out}"
    );
    let pcts = console_row(&out, "Response time percentiles");
    assert_eq!(
        &pcts[1..],
        ["20", "45", "45", "150", "150", "1200", "1200", "1200", "1200", "1200", "1200", "1000"],
        "{out}"
    );
    assert!(out.contains("Error report"), "{out}");
    assert!(out.contains("50                 GET /rust: boom"), "{out}");

    // The CSVs, read by Python's csv module, with the headers of a real Locust run.
    let ours = python_csv(&dir, "run");
    let real = locust_headers(&dir);
    for (kind, header) in &real {
        assert_eq!(&ours[kind].0, header, "header of _{kind}.csv");
    }
    let stats = &ours["stats"].1;
    for name in ["/rust", "Aggregated"] {
        let row = stats.iter().find(|r| r["Name"] == name).expect("row");
        for (column, want) in RECORDER_ROW {
            assert_eq!(row[column], want, "{column} of {name}: {row:?}");
        }
    }
    let failures = &ours["failures"].1;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(
        (&*failures[0]["Error"], &*failures[0]["Occurrences"]),
        ("boom", "50")
    );

    // The ramp, as Locust's: 10 users at 2 a second. Locust starts floor(rate) users every
    // second from the start, so t seconds in it runs between min(10, 2t) and 2t + 2 users.
    // A history row of Timestamp T (whole seconds) was counted t seconds in, T - S <= t <
    // T + 1 - S, S the start (from the worker's log line): the count is bounded on both
    // sides, with one step of slack below for a loaded machine.
    let start = log_time(&out, "Ramping to 10 users");
    let history = &ours["stats_history"].1;
    let rows: Vec<(f64, u32)> = history
        .iter()
        .map(|r| {
            let t: f64 = r["Timestamp"].parse().expect("timestamp");
            (t - start, r["User Count"].parse().expect("count"))
        })
        .collect();
    // The last row is the summary, after the users stopped.
    let ramp = &rows[..rows.len() - 1];
    assert!(ramp.len() >= 5, "{rows:?}");
    for &(t, n) in ramp {
        let (earliest, latest) = (t, t + 1.0);
        assert!(
            f64::from(n) <= 2.0 * latest + 2.0,
            "ramp too fast: {n} users {t:.3} s in: {rows:?}"
        );
        assert!(
            f64::from(n) >= (2.0 * earliest - 2.0).min(10.0),
            "ramp too slow: {n} users {t:.3} s in: {rows:?}"
        );
    }
    assert!(
        ramp.iter().any(|&(_, n)| n == 10),
        "never reached 10 users: {rows:?}"
    );

    // The JSON summary: Locust's serialized entries.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).expect("run.json"))
            .expect("valid JSON");
    assert_eq!(json[0]["name"], "/rust");
    assert_eq!(json[0]["num_requests"], 1000);
    assert_eq!(json[0]["num_failures"], 50);
}

#[test]
fn sigint_prints_the_summary_and_writes_the_files() {
    let dir = scratch("standalone-sigint");
    let mut run = standalone(&dir, &["-u", "2", "-r", "10", "--csv", "run"]);
    all_samples_in_history(&dir);
    run.signal("INT");
    let status = run.wait(Duration::from_secs(10));
    let out = run.output();
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(
        out.contains("Response time percentiles (approximated)"),
        "{out}"
    );
    let totals = console_row(&out, "failures/s");
    assert_eq!(totals[1], "1000", "{out}");
    let stats = csv_records(&dir.join("run_stats.csv"));
    let total = stats
        .iter()
        .find(|r| r["Name"] == "Aggregated")
        .expect("row");
    assert_eq!(total["Request Count"], "1000");
}

#[test]
fn no_failures_exit_zero_and_exit_code_is_configurable() {
    // No failures (the recorder's first 90 samples all succeed): exit 0, by default.
    let dir = scratch("standalone-exit-clean");
    let mut run = recording(&dir, 90, &["-u", "1", "-t", "1s", "--csv", "run"]);
    let status = run.wait(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{}", run.output());
    let stats = csv_records(&dir.join("run_stats.csv"));
    let total = stats
        .iter()
        .find(|r| r["Name"] == "Aggregated")
        .expect("row");
    assert_eq!(
        (&*total["Request Count"], &*total["Failure Count"]),
        ("90", "0"),
        "{total:?}"
    );

    // Failures (50 of 1000), with a code of our own: that code, not Locust's default 1.
    let dir = scratch("standalone-exit-failures");
    let mut run = recording(
        &dir,
        1000,
        &[
            "-u",
            "1",
            "-t",
            "1s",
            "--exit-code-on-error",
            "3",
            "--csv",
            "run",
        ],
    );
    let status = run.wait(Duration::from_secs(20));
    assert_eq!(status.code(), Some(3), "{}", run.output());
    let stats = csv_records(&dir.join("run_stats.csv"));
    let total = stats
        .iter()
        .find(|r| r["Name"] == "Aggregated")
        .expect("row");
    assert_eq!(total["Failure Count"], "50", "{total:?}");

    // And 0 lets the same failures pass.
    let dir = scratch("standalone-exit-zero");
    let mut run = recording(
        &dir,
        1000,
        &[
            "-u",
            "1",
            "-t",
            "1s",
            "--exit-code-on-error",
            "0",
            "--only-summary",
        ],
    );
    let status = run.wait(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{}", run.output());
}

/// Panics group by where they happened, as the master groups them: the panicky worker's
/// task panics 10 times at one `panic!` with 10 messages (one row, count 10, the first
/// message), its spawn handler once.
#[test]
fn exceptions_group_by_panic_site() {
    let dir = scratch("standalone-exceptions");
    let mut cmd = Command::new(example("e2e_panicky"));
    cmd.args(["--standalone", "-u", "1", "-t", "2s", "--csv", "run"])
        .current_dir(&dir);
    let mut run = Proc::spawn("standalone", cmd, &dir);
    let status = run.wait(Duration::from_secs(20));
    let out = run.output();
    assert_eq!(status.code(), Some(1), "{out}");
    let rows = csv_records(&dir.join("run_exceptions.csv"));
    assert_eq!(rows.len(), 2, "{rows:?}");
    let site = "tests/workers/panicky.rs:17";
    let traceback = format!("panic in task flaky at {site}");
    let flaky = rows
        .iter()
        .find(|r| r["Traceback"] == traceback)
        .unwrap_or_else(|| panic!("no row of {traceback}: {rows:?}"));
    assert_eq!(flaky["Count"], "10", "{rows:?}");
    assert_eq!(
        flaky["Message"],
        format!("task flaky panicked at {site}: flaky broke on run 0"),
        "{rows:?}"
    );
    let handler = rows
        .iter()
        .find(|r| {
            r["Traceback"]
                == "panic in event handler e2e_panicky::spawn_breaks at tests/workers/panicky.rs:25"
        })
        .unwrap_or_else(|| panic!("no row of the spawn handler: {rows:?}"));
    assert_eq!(handler["Count"], "1", "{rows:?}");
}

#[test]
fn prometheus_serves_a_worker_s_stats_too() {
    let dir = scratch("worker-prometheus");
    let port = free_port();
    let prom = free_port();
    let mut master = headless_master(
        &dir,
        "examples/locustfile.py",
        port,
        2,
        "8s",
        &["--exit-code-on-error", "0"],
    );
    let addr = format!("127.0.0.1:{prom}");
    let mut worker = worker(
        &dir,
        "e2e_recorder",
        port,
        &[("RECORDER_TOTAL", "1000")],
        &["--prometheus-listen", &addr],
    );
    // The worker reports every 3 s; the page follows each report.
    let page = wait_for("the samples on /metrics", Duration::from_secs(30), || {
        let (status, page) = http(prom, "GET", "/metrics", &[]);
        let want = "boomer_requests_total{method=\"GET\",name=\"/rust\"} 1000";
        (status == 200 && page.contains(want)).then_some(page)
    });
    assert!(
        page.contains("boomer_failures_total{method=\"GET\",name=\"/rust\"} 50"),
        "{page}"
    );
    // Locust's buckets in worker mode: the same percentiles as the master's.
    assert!(
        page.contains(
            "boomer_response_time_seconds{method=\"GET\",name=\"/rust\",quantile=\"0.8\"} 0.15"
        ),
        "{page}"
    );
    master.assert_exit(0, Duration::from_secs(60));
    worker.assert_exit(0, Duration::from_secs(10));
}

#[test]
fn pushes_to_a_pushgateway() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = scratch("standalone-push");
    let gateway = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", gateway.local_addr().expect("addr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in gateway.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let (mut head, mut line, mut length) = (String::new(), String::new(), 0);
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
                line.clear();
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let _ = reader
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
            let _ = tx.send((head, String::from_utf8_lossy(&body).to_string()));
        }
    });
    let mut run = standalone(
        &dir,
        &["-u", "1", "-t", "3s", "--prometheus-pushgateway", &url],
    );
    let (head, body) = rx.recv_timeout(Duration::from_secs(20)).expect("a push");
    assert!(
        head.starts_with("PUT /metrics/job/boomer HTTP/1.1"),
        "{head}"
    );
    assert!(
        body.contains("boomer_requests_total{method=\"GET\",name=\"/rust\"}"),
        "{body}"
    );
    run.wait(Duration::from_secs(20));
}

/// A run whose stdout and stderr are kept apart: (exit code, stdout, stderr).
fn run_split(dir: &Path, mut cmd: Command, timeout: Duration) -> (Option<i32>, String, String) {
    let (out_path, err_path) = (dir.join("stdout.txt"), dir.join("stderr.txt"));
    cmd.current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"));
    let mut child = cmd.spawn().expect("start");
    let (tx, rx) = std::sync::mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = match rx.recv_timeout(timeout) {
        Ok(status) => status.expect("wait"),
        Err(_) => {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!(
                "still running after {timeout:?}; stderr:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (status.code(), read(&out_path), read(&err_path))
}

fn names_worker(envs: &[(&str, &str)], args: &[&str]) -> Command {
    let mut cmd = Command::new(example("e2e_names"));
    cmd.args(args).envs(envs.iter().copied());
    cmd
}

#[test]
fn json_on_stdout_is_json_alone() {
    let dir = scratch("standalone-json-stdout");
    // (A worker that prints nothing of its own: the recorder prints its count at quit.)
    let cmd = names_worker(
        &[("NAMES_SCRIPT", "GET /j 10;GET /j 20;GET /j 30 bad")],
        &["--standalone", "-u", "1", "-t", "2s", "--json"],
    );
    let (code, stdout, stderr) = run_split(&dir, cmd, Duration::from_secs(30));
    assert_eq!(code, Some(1), "{stderr}");
    // Piped into a JSON parser: Python's, as `| python3 -m json.tool` would.
    let python = locust().with_file_name("python3");
    let parsed = Command::new(python)
        .args([
            "-c",
            "import json, sys; d = json.load(sys.stdin); print(d[0]['name'], d[0]['num_requests'])",
        ])
        .stdin(std::fs::File::open(dir.join("stdout.txt")).expect("stdout"))
        .output()
        .expect("python");
    assert!(
        parsed.status.success(),
        "stdout is not JSON alone: {}\n--- stdout ---\n{stdout}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&parsed.stdout), "/j 3\n");
    // The tables went to stderr, as Locust's.
    assert!(
        stderr.contains("Response time percentiles (approximated)"),
        "{stderr}"
    );
}

/// The same samples recorded by a real Locust and by boomer, written to `--csv` by each:
/// the rows come in Locust's order (name, then method), the median is Locust's (only it
/// clamped to [min, max]), and error texts go through Locust's parse_error, so the two
/// addresses below are one row.
#[test]
fn csv_rows_medians_and_errors_are_locust_s() {
    let dir = scratch("standalone-as-locust");
    let script = "GET /b 101;GET /b 104;GET /b 147;POST /a 10;POST /a 20;GET /a 99.6;\
        GET /a 5 ConnectionError(<urllib3.connection.HTTPConnection object at 0x7f3a2c1d5e50>: refused);\
        GET /a 7 ConnectionError(<urllib3.connection.HTTPConnection object at 0x7f00aa>: refused)";
    let locustfile = dir.join("script_locustfile.py");
    std::fs::write(
        &locustfile,
        r#"import os
from locust import User, task, constant

class U(User):
    wait_time = constant(0.05)
    done = False

    @task
    def t(self):
        if U.done:
            return
        U.done = True
        for sample in os.environ["NAMES_SCRIPT"].split(";"):
            parts = sample.strip().split(" ", 3)
            error = parts[3] if len(parts) > 3 else None
            # An int when whole, as boomer writes whole milliseconds.
            rt = float(parts[2]) if "." in parts[2] else int(parts[2])
            self.environment.events.request.fire(request_type=parts[0], name=parts[1],
                # (record_failure records no content: 0 bytes for the failures.)
                response_time=rt, response_length=0 if error else 10, exception=error, context={})
"#,
    )
    .expect("write locustfile");
    let mut cmd = Command::new(locust());
    cmd.arg("-f")
        .arg(&locustfile)
        .args([
            "--headless",
            "--only-summary",
            "-u",
            "1",
            "-r",
            "1",
            "-t",
            "2s",
        ])
        .args([
            "--csv",
            "real",
            "--json-file",
            "real",
            "--exit-code-on-error",
            "0",
        ])
        .env("NAMES_SCRIPT", script);
    let (code, _, stderr) = run_split(&dir, cmd, Duration::from_secs(60));
    assert_eq!(code, Some(0), "{stderr}");
    let cmd = names_worker(
        &[("NAMES_SCRIPT", script)],
        &[
            "--standalone",
            "-u",
            "1",
            "-t",
            "2s",
            "--only-summary",
            "--csv",
            "ours",
            "--json-file",
            "ours",
        ],
    );
    let (code, _, stderr) = run_split(&dir, cmd, Duration::from_secs(30));
    assert_eq!(code, Some(1), "{stderr}");
    let (real, ours) = (python_csv(&dir, "real"), python_csv(&dir, "ours"));
    let columns = [
        "Type",
        "Name",
        "Request Count",
        "Failure Count",
        "Median Response Time",
        "Average Response Time",
        "Min Response Time",
        "Max Response Time",
        "Average Content Size",
    ];
    let pick = |rows: &[HashMap<String, String>]| -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| columns.iter().map(|c| r[*c].clone()).collect())
            .collect()
    };
    let want = pick(&real["stats"].1);
    assert_eq!(want[0][..2], ["GET", "/a"], "Locust's own order: {want:?}");
    assert_eq!(want[2][4], "101", "Locust's median of /b: {want:?}");
    assert_eq!(pick(&ours["stats"].1), want, "_stats.csv");
    let errors = |rows: &[HashMap<String, String>]| -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| {
                ["Method", "Name", "Error", "Occurrences"]
                    .map(|c| r[c].clone())
                    .to_vec()
            })
            .collect()
    };
    let want = errors(&real["failures"].1);
    assert_eq!(want.len(), 1, "{want:?}");
    assert_eq!(errors(&ours["failures"].1), want, "_failures.csv");

    // The JSON: the same entries with the same numbers (times and per-second keys aside),
    // in order of name, then method (Locust's is the order first seen).
    let json = |name: &str| -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).expect("json");
        let entries: Vec<serde_json::Value> = serde_json::from_str(&text).expect("valid JSON");
        entries
            .into_iter()
            .map(|mut e| {
                for key in ["num_reqs_per_sec", "num_fail_per_sec"] {
                    let sum: u64 = e[key]
                        .as_object()
                        .expect("per second")
                        .values()
                        .map(|v| v.as_u64().expect("count"))
                        .sum();
                    e[key] = sum.into();
                }
                for key in ["last_request_timestamp", "start_time"] {
                    assert!(e[key].is_f64(), "{key}: {e}");
                    e[key] = serde_json::Value::Null;
                }
                e
            })
            .collect()
    };
    let mut real = json("real");
    real.sort_by_key(|e| (e["name"].to_string(), e["method"].to_string()));
    assert_eq!(json("ours"), real, "the JSON");
}

#[test]
fn prometheus_passes_promtool_and_serves_scrapes_at_once() {
    let dir = scratch("standalone-promtool");
    let prom = free_port();
    let addr = format!("127.0.0.1:{prom}");
    let mut run = standalone(
        &dir,
        &[
            "-u",
            "1",
            "-t",
            "30s",
            "--csv",
            "run",
            "--prometheus-listen",
            &addr,
        ],
    );
    // The page follows each report (after the CSV files, on the same thread).
    let want = "boomer_response_time_seconds_count{method=\"GET\",name=\"/rust\"} 1000";
    wait_for("the samples on /metrics", Duration::from_secs(20), || {
        let (status, page) = http(prom, "GET", "/metrics", &[]);
        (status == 200 && page.contains(want)).then_some(())
    });
    // Three clients that connect and say nothing must not delay a scrape.
    let idle: Vec<_> = (0..3)
        .map(|_| std::net::TcpStream::connect(&addr).expect("connect"))
        .collect();
    let asked = Instant::now();
    let (status, page) = http(prom, "GET", "/metrics", &[]);
    let took = asked.elapsed();
    assert_eq!(status, 200);
    assert!(
        took < Duration::from_secs(2),
        "a scrape took {took:?} behind idle clients"
    );
    drop(idle);
    assert_eq!(http(prom, "GET", "/", &[]).0, 404);
    assert_eq!(http(prom, "GET", "/favicon.ico", &[]).0, 404);
    let (clean, said) = promtool_check(&page);
    assert!(
        clean,
        "promtool check metrics:\n{said}\n--- page ---\n{page}"
    );
    for want in [
        "# TYPE boomer_response_time_seconds summary",
        "boomer_response_time_seconds{method=\"GET\",name=\"/rust\",quantile=\"0.5\"} 0.02",
        "boomer_response_time_seconds_count{method=\"GET\",name=\"/rust\"} 1000",
        "boomer_response_time_seconds_sum{method=\"GET\",name=\"/rust\"} 100.5",
        "boomer_response_time_max_seconds{method=\"GET\",name=\"/rust\"} 1.2",
    ] {
        assert!(page.contains(want), "{want} not in\n{page}");
    }
    run.signal("INT");
    run.wait(Duration::from_secs(20));
}

/// A real Pushgateway (Debian's prometheus-pushgateway) takes every push, under a job name
/// that needs escaping (a space and a slash).
#[test]
fn pushes_to_a_real_pushgateway_under_any_job_name() {
    let dir = scratch("standalone-real-push");
    let port = free_port();
    let gateway =
        std::env::var("BOOMER_PUSHGATEWAY").unwrap_or_else(|_| "prometheus-pushgateway".into());
    let mut cmd = Command::new(&gateway);
    cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"));
    let _gateway = Proc::spawn("pushgateway", cmd, &dir);
    wait_for("the pushgateway", Duration::from_secs(20), || {
        (http(port, "GET", "/-/ready", &[]).0 == 200).then_some(())
    });
    let url = format!("http://127.0.0.1:{port}");
    let mut run = standalone(
        &dir,
        &[
            "-u",
            "1",
            "-t",
            "30s",
            "--prometheus-pushgateway",
            &url,
            "--prometheus-job",
            "a b/c",
        ],
    );
    let want =
        "boomer_requests_total{instance=\"\",job=\"a b/c\",method=\"GET\",name=\"/rust\"} 1000";
    let page = wait_for("the push at the gateway", Duration::from_secs(30), || {
        let (status, page) = http(port, "GET", "/metrics", &[]);
        (status == 200 && page.contains(want)).then_some(page)
    });
    assert!(page.contains("boomer_response_time_seconds"), "{page}");
    run.signal("INT");
    run.wait(Duration::from_secs(20));
    let out = run.output();
    assert!(!out.contains("answered 400"), "{out}");
}

/// A gateway whose accept queue is full never completes a connect: the run still ends on
/// time (the connect times out, and pushes pause after a failure).
#[test]
fn a_gateway_that_never_answers_does_not_hold_the_exit() {
    use std::io::BufRead;
    let dir = scratch("standalone-dead-push");
    // listen(0) and one connection of its own: the next connects hang in SYN_SENT.
    let python = locust().with_file_name("python3");
    let mut holder = Command::new(python)
        .args([
            "-c",
            "import socket, sys\n\
             s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)\n\
             c = socket.create_connection(s.getsockname())\n\
             print(s.getsockname()[1], flush=True)\n\
             sys.stdin.read()\n",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    let mut line = String::new();
    std::io::BufReader::new(holder.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("port");
    let url = format!("http://127.0.0.1:{}", line.trim());
    let started = Instant::now();
    let mut cmd = Command::new(example("e2e_recorder"));
    cmd.args(["--standalone", "-u", "1", "-t", "2s", "--only-summary"])
        .args([
            "--prometheus-pushgateway",
            &url,
            "--exit-code-on-error",
            "0",
        ]);
    let (code, _, stderr) = run_split(&dir, cmd, Duration::from_secs(60));
    let took = started.elapsed();
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("cannot push to the Pushgateway"),
        "{stderr}"
    );
    // 2 s of test, then at most two 5 s connect timeouts (the first push, the last).
    assert!(
        took < Duration::from_secs(20),
        "the run took {took:?}:\n{stderr}"
    );
}

#[test]
fn locust_s_command_line_in_standalone() {
    let dir = scratch("standalone-flags");
    // --headless is taken; --html into a folder that does not exist fails at start-up
    // (tests/html_report.rs runs the report itself).
    let cmd = |args: &[&str]| {
        let mut c = Command::new(example("e2e_recorder"));
        c.arg("--standalone").args(args).env("RECORDER_TOTAL", "10");
        c
    };
    let (code, _, err) = run_split(
        &dir,
        cmd(&[
            "--headless",
            "-u",
            "1",
            "-t",
            "1s",
            "--html",
            "no/such/dir/r.html",
        ]),
        Duration::from_secs(20),
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("cannot create no/such/dir/r.html") && !err.contains("Ramping to"),
        "{err}"
    );
    for (args, says) in [
        (&["-L", "inf"][..], "unknown log level \"inf\""),
        (&["-r", "NaN"][..], "the spawn rate must be"),
        (&["-r=-5"][..], "the spawn rate must be"),
        (&["-u", "-1"][..], "the number of users must be"),
        (&["--csv", ""][..], "--csv needs a name"),
    ] {
        let (code, _, err) = run_split(&dir, cmd(args), Duration::from_secs(20));
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // -L WARNING (Locust's spelling) keeps warnings and drops info lines.
    let mut warning = cmd(&["--headless", "-u", "1", "-t", "1s", "-L", "WARNING"]);
    warning.args([
        "--exit-code-on-error",
        "0",
        "--prometheus-pushgateway",
        "http://127.0.0.1:9",
    ]);
    let (code, _, err) = run_split(&dir, warning, Duration::from_secs(30));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("cannot push to the Pushgateway"), "{err}");
    assert!(!err.contains("Ramping to"), "{err}");
    // --json-file into a folder that does not exist: refused at start-up, not after the test.
    let started = Instant::now();
    let (code, _, err) = run_split(
        &dir,
        cmd(&["-u", "1", "-t", "30s", "--json-file", "no/such/folder/run"]),
        Duration::from_secs(20),
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("cannot create no/such/folder/run.json"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// `-t 0` is Locust's "no limit": the run goes on until a signal.
#[test]
fn run_time_zero_is_no_limit() {
    let dir = scratch("standalone-t0");
    let mut run = standalone(&dir, &["-u", "1", "-t", "0", "--csv", "run"]);
    // Three history rows: three seconds in, still running.
    wait_for("three seconds of history", Duration::from_secs(20), || {
        let text = std::fs::read_to_string(dir.join("run_stats_history.csv")).ok()?;
        (text.lines().count() >= 4).then_some(())
    });
    assert!(
        run.output().contains("Ramping to 1 users"),
        "{}",
        run.output()
    );
    assert!(
        !run.output().contains("--run-time limit reached"),
        "{}",
        run.output()
    );
    run.signal("INT");
    assert_eq!(run.wait(Duration::from_secs(20)).code(), Some(1));
}

/// --stop-timeout: users mid-task when the run time ends finish it (and it is counted).
#[test]
fn stop_timeout_lets_users_finish_their_task() {
    let dir = scratch("standalone-stop-timeout");
    let count = |prefix: &str, extra: &[&str]| {
        let mut args = vec![
            "--standalone",
            "-u",
            "2",
            "-r",
            "10",
            "-t",
            "1s",
            "--only-summary",
        ];
        args.extend(["--csv", prefix]);
        args.extend(extra);
        let cmd = names_worker(&[("NAMES_TASK_MS", "2500"), ("NAMES", "1")], &args);
        let (code, _, err) = run_split(&dir, cmd, Duration::from_secs(30));
        assert_eq!(code, Some(0), "{err}");
        let stats = csv_records(&dir.join(format!("{prefix}_stats.csv")));
        let total = stats
            .iter()
            .find(|r| r["Name"] == "Aggregated")
            .expect("row");
        total["Request Count"].clone()
    };
    // Both users are 1 s into their 2.5 s task at the stop: with 10 s to finish, both count.
    assert_eq!(count("waited", &["--stop-timeout", "10"]), "2");
    assert_eq!(count("cut", &[]), "0");
}

/// --reset-stats: what was recorded before every user was spawned is forgotten.
#[test]
fn reset_stats_forgets_the_ramp_up() {
    let dir = scratch("standalone-reset-stats");
    // The recorder's 1000 samples come within ms of the first user; the second user
    // starts 1 s later, and then the stats are reset.
    let mut run = standalone(
        &dir,
        &[
            "-u",
            "2",
            "-r",
            "1",
            "-t",
            "3s",
            "--reset-stats",
            "--csv",
            "run",
        ],
    );
    let status = run.wait(Duration::from_secs(30));
    let out = run.output();
    // No failures left after the reset: exit 0.
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(out.contains("Resetting stats"), "{out}");
    let stats = csv_records(&dir.join("run_stats.csv"));
    let total = stats
        .iter()
        .find(|r| r["Name"] == "Aggregated")
        .expect("row");
    assert_eq!(total["Request Count"], "0", "{stats:?}");
}

/// --csv-full-history: a row per name and the Aggregated row at every history time, under
/// the header of a real Locust run.
#[test]
fn csv_full_history_has_a_row_per_name() {
    let dir = scratch("standalone-full-history");
    let cmd = names_worker(
        &[("NAMES", "3")],
        &[
            "--standalone",
            "-u",
            "2",
            "-r",
            "10",
            "-t",
            "3s",
            "--only-summary",
        ],
    );
    let mut cmd = cmd;
    cmd.args(["--csv", "run", "--csv-full-history"]);
    let (code, _, err) = run_split(&dir, cmd, Duration::from_secs(30));
    assert_eq!(code, Some(0), "{err}");
    let ours = python_csv(&dir, "run");
    let real = locust_headers(&dir);
    assert_eq!(ours["stats_history"].0, real["stats_history"]);
    let rows = &ours["stats_history"].1;
    let names: Vec<&str> = rows.iter().map(|r| r["Name"].as_str()).collect();
    let per_time = ["/name/000", "/name/001", "/name/002", "Aggregated"];
    let full: Vec<&[&str]> = names.chunks(4).filter(|c| c.len() == 4).collect();
    assert!(full.len() >= 2, "{names:?}");
    assert!(full.iter().skip(1).all(|c| *c == per_time), "{names:?}");
    let last = rows.last().expect("a row");
    assert_eq!(last["Name"], "Aggregated");
    assert_ne!(
        last["50%"], "0",
        "current percentiles of the last 10 s: {last:?}"
    );
}

/// A worker started without --standalone refuses what only a standalone run uses.
#[test]
fn a_worker_refuses_standalone_only_flags() {
    let dir = scratch("worker-standalone-flags");
    let mut cmd = Command::new(example("e2e_recorder"));
    cmd.args(["-u", "20", "-t", "3s", "--csv", "x"]);
    let (code, _, err) = run_split(&dir, cmd, Duration::from_secs(20));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("-u/--users, -t/--run-time, --csv only apply to a standalone run"),
        "{err}"
    );
    assert!(!dir.join("x_stats.csv").exists());
}

/// `--print-locustfile` writes a locustfile a real Locust loads, with the worker's classes,
/// weights and tasks; the shipped examples/locustfile.py is the events example's.
#[test]
fn print_locustfile_is_the_master_s_locustfile() {
    let dir = scratch("print-locustfile");
    let out = Command::new(example("users"))
        .arg("--print-locustfile")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    std::fs::write(dir.join("generated.py"), &text).expect("write");
    let ratio = Command::new(locust())
        .args(["-f", "generated.py", "--show-task-ratio-json"])
        .current_dir(&dir)
        .output()
        .expect("locust");
    assert!(
        ratio.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&ratio.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&ratio.stdout).expect("json");
    // examples/users.rs: Shopper and Admin, of weight 1 each (users.py weighs them itself).
    let per_class = &json["per_class"];
    assert_eq!(per_class["Shopper"]["ratio"], 0.5, "{json}\n{text}");
    assert_eq!(per_class["Admin"]["ratio"], 0.5, "{json}\n{text}");
    let tasks = per_class["Shopper"]["tasks"].as_object().expect("tasks");
    assert_eq!(tasks.len(), 3, "{json}");

    let events = Command::new(example("events"))
        .arg("--print-locustfile")
        .output()
        .expect("run");
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/locustfile.py"),
    )
    .expect("examples/locustfile.py");
    assert_eq!(String::from_utf8_lossy(&events.stdout), shipped);
}

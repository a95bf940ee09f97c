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
    let mut cmd = Command::new(example("e2e_recorder"));
    cmd.arg("--standalone")
        .args(args)
        .env("RECORDER_TOTAL", "1000")
        .current_dir(dir);
    Proc::spawn("standalone", cmd, dir)
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
            "6",
            "-r",
            "2",
            "-t",
            "5s",
            "--csv",
            "run",
            "--json-file",
            "run",
            "--prometheus-listen",
            &prom_addr,
        ],
    );
    // Once the recorder's 1000 samples are in the history, Prometheus must show them.
    all_samples_in_history(&dir);
    let (status, page) = http(prom, "GET", "/metrics", &[]);
    assert_eq!(status, 200);
    for want in [
        "boomer_requests_total{method=\"GET\",name=\"/rust\"} 1000",
        "boomer_failures_total{method=\"\",name=\"Aggregated\"} 50",
        "boomer_response_time_ms{method=\"GET\",name=\"/rust\",quantile=\"0.9\"} 150",
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
        took >= Duration::from_secs(5) && took < Duration::from_secs(9),
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

    // The spawn rate: 2 users/s from one user at 0 s, so at most 2t+1 users at t seconds.
    let history = &ours["stats_history"].1;
    let users: Vec<u32> = history
        .iter()
        .map(|r| r["User Count"].parse().expect("count"))
        .collect();
    assert!(users.len() >= 4, "{users:?}");
    for (i, &n) in users.iter().enumerate().take(3) {
        assert!(n <= 2 * (i as u32 + 1) + 1, "ramp too fast: {users:?}");
    }
    assert!(users.contains(&6), "never reached 6 users: {users:?}");
    assert!(users[0] < 6, "all users at once: {users:?}");

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
    let dir = scratch("standalone-exit");
    // With --exit-code-on-error 0, the recorder's failures do not fail the run.
    let mut run = standalone(
        &dir,
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
            "boomer_response_time_ms{method=\"GET\",name=\"/rust\",quantile=\"0.8\"} 150"
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

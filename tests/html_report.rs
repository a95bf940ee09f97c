//! `--html FILE` end to end: a standalone run of the e2e_http worker against a real HTTP
//! server on 127.0.0.1 writes the report, and Debian's Chromium (installed by
//! scripts/install-chromium) loads it headless: its screenshot is a real picture of the
//! page, the charts are drawn with data after the page's script ran, the tables' rows are
//! the run's (the server's counts and the run's JSON), and the page requested nothing
//! (Chromium's net log, checked against a control page that does fetch).

mod common;

use std::collections::HashMap;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::servers::{Server, ServerOpts};
use common::*;

/// Debian's Chromium; a missing one fails the test (CI installs it).
const CHROMIUM: &str = "/usr/bin/chromium";

/// The screenshot's size in CSS pixels.
const WINDOW: (u32, u32) = (1200, 2600);

#[test]
fn the_report_renders_offline_in_chromium_with_the_run_s_numbers() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} not found: run scripts/install-chromium (scripts/test does)"
    );
    let dir = scratch("html-report");
    let server = Server::start(ServerOpts::default());
    let mut cmd = Command::new(example("e2e_http"));
    cmd.args(["--standalone", "-u", "4", "-r", "2", "-t", "5s"])
        .args(["-H", &server.url(), "--max-rps", "300"])
        .args(["--html", "report.html", "--json-file", "run"])
        .args(["--exit-code-on-error", "0"])
        // Requests for the whole run.
        .env("HTTP_TOTAL", "1000000000")
        .current_dir(&dir);
    let mut run = Proc::spawn("standalone", cmd, &dir);
    run.assert_exit(0, Duration::from_secs(60));
    let report = dir.join("report.html");

    let shot = dir.join("report.png");
    let (_, shot_log) = chromium(
        &dir,
        "shot",
        &report,
        &[&format!("--screenshot={}", shot.display())],
    );
    assert_png(&shot);
    let (dom, dom_log) = chromium(
        &dir,
        "dom",
        &report,
        &["--dump-dom", "--virtual-time-budget=3000"],
    );

    assert!(
        dom.contains(
            "content=\"default-src 'none'; script-src 'unsafe-inline'; style-src \
             'unsafe-inline'; img-src data:\""
        ),
        "no CSP in\n{dom}"
    );
    // The script ran: three charts (no open-model class here), each with points.
    assert!(dom.contains("id=\"charts\" data-rendered=\"3\""), "{dom}");
    let points: HashMap<&str, u64> = ["rps", "response-times", "users"]
        .into_iter()
        .map(|chart| (chart, chart_points(&dom, chart)))
        .collect();
    let users = points["users"];
    assert!(users >= 4, "{points:?}");
    // Both series of requests/s at every point; the percentiles wherever requests were.
    assert_eq!(points["rps"], 2 * users, "{points:?}");
    assert!(points["response-times"] >= 3 * (users - 2), "{points:?}");

    check_tables(&dom, &server, &dir.join("run.json"));
    for (key, value) in [
        ("Target Host", server.url()),
        ("Users", "4".into()),
        ("Spawn rate", "2 users/s".into()),
        ("Run time", "5 s".into()),
        ("Script", "e2e_http".into()),
    ] {
        let row = format!("<th>{key}</th><td>{value}</td>");
        assert!(dom.contains(&row), "no {row} in\n{dom}");
    }
    for log in [shot_log, dom_log] {
        let requested = page_requests(&log);
        assert!(
            requested.iter().all(|url| url.starts_with("file:")),
            "the page requested {requested:?}"
        );
    }
}

/// An open-model run charts its arrivals: a pool of 2 users whose requests take 200 ms
/// cannot keep 50/s, so the page has a fourth chart (due and dropped per second, with
/// points) and the arrivals table counts the drops the failure table shows. Its
/// thresholds are in the page with their final verdicts (and the exit code says which
/// failed).
#[test]
fn an_open_model_run_charts_arrivals_and_drops() {
    let dir = scratch("html-arrivals");
    let server = Server::start(ServerOpts::default());
    let mut cmd = Command::new(example("e2e_arrivals"));
    cmd.args(["--standalone", "-u", "2", "-r", "100", "-t", "5s"])
        .args([
            "-H",
            &server.url(),
            "--arrival-rate",
            "50",
            "--arrival-max-lag",
            "1s",
        ])
        .args(["--html", "open.html", "--exit-code-on-error", "0"])
        .args(["--threshold", "hit:p50<100s", "--threshold", "rps>1000"])
        .env("ARRIVAL_PATH", "/sleep?200")
        .current_dir(&dir);
    let mut run = Proc::spawn("standalone", cmd, &dir);
    // The second threshold (index 1) fails: 10 req/s served, not 1000.
    run.assert_exit(11, Duration::from_secs(60));
    let (dom, log) = chromium(
        &dir,
        "dom",
        &dir.join("open.html"),
        &["--dump-dom", "--virtual-time-budget=3000"],
    );
    assert!(dom.contains("id=\"charts\" data-rendered=\"4\""), "{dom}");
    let points = chart_points(&dom, "arrivals-0");
    assert!(
        points >= 2 * 3,
        "due and dropped at 3 seconds or more: {points}"
    );
    let rows = table_rows(&dom, "arrivals");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0], "Arrivals", "{rows:?}");
    let number = |cell: &str| -> u64 {
        cell.replace(',', "")
            .parse()
            .unwrap_or_else(|_| panic!("{cell:?} in {rows:?}"))
    };
    let (due, dropped) = (number(&rows[0][1]), number(&rows[0][2]));
    assert!((200..=251).contains(&due), "5 s at 50/s: {rows:?}");
    assert!(dropped >= 100, "{rows:?}");
    let failures = table_rows(&dom, "failures");
    let drops = failures
        .iter()
        .find(|r| r[1] == "arrival" && r[2] == "Arrivals")
        .unwrap_or_else(|| panic!("{failures:?}"));
    assert_eq!(number(&drops[0]), dropped, "{failures:?}");
    // The thresholds with their final values and verdicts.
    let thresholds = table_rows(&dom, "thresholds");
    assert_eq!(thresholds.len(), 2, "{thresholds:?}");
    assert_eq!(thresholds[0][0], "hit:p50&lt;100s", "{thresholds:?}");
    assert!(thresholds[0][2].contains("pass"), "{thresholds:?}");
    assert_eq!(thresholds[1][0], "rps&gt;1000", "{thresholds:?}");
    assert!(thresholds[1][1].ends_with(" req/s"), "{thresholds:?}");
    assert!(thresholds[1][2].contains("fail"), "{thresholds:?}");
    let requested = page_requests(&log);
    assert!(
        requested.iter().all(|url| url.starts_with("file:")),
        "{requested:?}"
    );
}

/// Request names, methods and error texts are the users': in a real browser none becomes
/// markup, and none ends the data block early (the charts still draw).
#[test]
fn user_strings_stay_text_in_the_browser() {
    let dir = scratch("html-xss");
    let name = "</script><img/src=x/onerror=alert(1)>";
    let script = format!("<i>M</i> {name} 5 <b>bold</b> & \"quoted\";GET /ok 7");
    let mut cmd = Command::new(example("e2e_names"));
    cmd.args(["--standalone", "-u", "1", "-t", "2s", "--html", "xss.html"])
        .args(["--exit-code-on-error", "0"])
        .env("NAMES_SCRIPT", &script)
        .current_dir(&dir);
    let mut run = Proc::spawn("standalone", cmd, &dir);
    run.assert_exit(0, Duration::from_secs(60));
    let (dom, _) = chromium(&dir, "dom", &dir.join("xss.html"), &["--dump-dom"]);
    assert!(dom.contains("id=\"charts\" data-rendered=\"3\""), "{dom}");
    for markup in ["<img", "<b>", "<i>"] {
        assert!(!dom.contains(markup), "{markup} in\n{dom}");
    }
    let rows = table_rows(&dom, "requests");
    assert_eq!(rows[0][..4], ["GET", "/ok", "1", "0"], "{rows:?}");
    let shown = "&lt;/script&gt;&lt;img/src=x/onerror=alert(1)&gt;";
    assert_eq!(
        rows[1][..4],
        ["&lt;i&gt;M&lt;/i&gt;", shown, "1", "1"],
        "{rows:?}"
    );
    let failures = table_rows(&dom, "failures");
    assert_eq!(
        failures[0][3], "&lt;b&gt;bold&lt;/b&gt; &amp; \"quoted\"",
        "{failures:?}"
    );
}

/// The control for [`page_requests`]: a page without a CSP that loads an image and fetches
/// from a server here shows both requests in the net log, so the check above can fail.
#[test]
fn the_net_log_shows_what_a_page_fetches() {
    let dir = scratch("html-control");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = std::io::Write::write_all(
                &mut &stream,
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    let page = dir.join("control.html");
    std::fs::write(
        &page,
        format!(
            "<!DOCTYPE html><img src=\"http://127.0.0.1:{port}/pixel.png\">\
             <script>fetch(\"http://127.0.0.1:{port}/fetched\").catch(() => {{}});</script>"
        ),
    )
    .expect("write the page");
    let (_, net_log) = chromium(
        &dir,
        "control",
        &page,
        &["--dump-dom", "--virtual-time-budget=3000"],
    );
    let mut requested = page_requests(&net_log);
    requested.sort();
    assert_eq!(
        requested,
        [
            format!("http://127.0.0.1:{port}/fetched"),
            format!("http://127.0.0.1:{port}/pixel.png")
        ]
    );
}

/// Runs Chromium headless on `page` with `args`: what it printed (the DOM with
/// `--dump-dom`) and the file of its net log.
fn chromium(dir: &Path, name: &str, page: &Path, args: &[&str]) -> (String, PathBuf) {
    let profile = dir.join(format!("{name}-profile"));
    let net_log = dir.join(format!("{name}-net.json"));
    let (out, err) = (
        dir.join(format!("{name}.out")),
        dir.join(format!("{name}.err")),
    );
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        // Chromium's own update and sign-in checks (initiated by the browser, not the
        // page) are still made: keep them on this machine.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        &format!("--window-size={},{}", WINDOW.0, WINDOW.1),
        &format!("--user-data-dir={}", profile.display()),
        &format!("--log-net-log={}", net_log.display()),
    ])
    .args(args)
    .arg(format!("file://{}", page.display()))
    .stdin(Stdio::null())
    .stdout(File::create(&out).expect("stdout file"))
    .stderr(File::create(&err).expect("stderr file"));
    let mut child = cmd.spawn().expect("start chromium");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let Ok(status) = rx.recv_timeout(Duration::from_secs(120)) else {
        let _ = Command::new("kill").arg(pid.to_string()).status();
        panic!("chromium still running after 120 s:\n{}", read(&err));
    };
    let status = status.expect("wait for chromium");
    assert!(
        status.success(),
        "chromium exited with {status}:\n{}",
        read(&err)
    );
    (read(&out), net_log)
}

/// The URLs the page asked for, from Chromium's net log: every URL request not initiated
/// by the browser itself (Chromium's own have the initiator "not an origin").
fn page_requests(net_log: &Path) -> Vec<String> {
    // The browser finishes the file as it exits.
    let log: serde_json::Value = wait_for("a complete net log", Duration::from_secs(10), || {
        serde_json::from_slice(&std::fs::read(net_log).ok()?).ok()
    });
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    assert!(
        start_job.is_u64(),
        "no URL_REQUEST_START_JOB in the net log's constants"
    );
    let events = log["events"].as_array().expect("events");
    assert!(!events.is_empty(), "an empty net log");
    events
        .iter()
        .filter(|e| e["type"] == start_job)
        .filter_map(|e| {
            let params = &e["params"];
            let url = params["url"].as_str()?;
            (params["initiator"] != "not an origin").then(|| url.to_string())
        })
        .collect()
}

/// A PNG of the window's size, with more than a blank page's bytes.
fn assert_png(path: &Path) {
    let png = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let size = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    assert_eq!((size(16), size(20)), WINDOW);
    // A white page of this size compresses to a few KB; text, tables and charts do not.
    assert!(png.len() > 50_000, "{} bytes only", png.len());
}

/// The `data-points` of the chart `id` in the DOM.
fn chart_points(dom: &str, id: &str) -> u64 {
    let at = dom
        .find(&format!("data-chart=\"{id}\""))
        .unwrap_or_else(|| panic!("no chart {id} in\n{dom}"));
    let tag_start = dom[..at].rfind('<').expect("the tag");
    let tag = &dom[tag_start..tag_start + dom[tag_start..].find('>').expect("the tag's end")];
    let value = tag
        .split("data-points=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no data-points in {tag}"));
    value.parse().expect("a count")
}

/// The cells of the rows of the table `id` in the DOM.
fn table_rows(dom: &str, id: &str) -> Vec<Vec<String>> {
    let start = dom
        .find(&format!("<table id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no table {id}"));
    let table = &dom[start..start + dom[start..].find("</table>").expect("the table's end")];
    let body = table.split("<tbody>").nth(1).expect("a body");
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let text = &cell[cell.find('>').expect("a cell") + 1..];
                    text[..text.find("</td>").expect("the cell's end")].to_string()
                })
                .collect()
        })
        .collect()
}

/// The tables show what the server served and the run's JSON counted: /missing's 404s are
/// its failures and the only failure row, /redirect is recorded once (the server also
/// served its `/`).
fn check_tables(dom: &str, server: &Server, json: &Path) {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json).expect("run.json")).expect("JSON");
    let counted: HashMap<String, (u64, u64)> = json
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            let n = |k: &str| e[k].as_u64().expect("a count");
            let name = e["name"].as_str().expect("a name").to_string();
            (name, (n("num_requests"), n("num_failures")))
        })
        .collect();
    let rows = table_rows(dom, "requests");
    let names: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(
        names,
        [
            "/",
            "/gone [expected]",
            "/missing",
            "/redirect",
            "Aggregated"
        ]
    );
    let mut total = 0;
    for row in &rows[..4] {
        let (requests, fails) = (
            row[2].parse::<u64>().unwrap(),
            row[3].parse::<u64>().unwrap(),
        );
        assert_eq!(row[0], "GET", "{row:?}");
        assert_eq!(counted[&row[1]], (requests, fails), "{row:?}");
        total += requests;
    }
    assert_eq!(rows[4][2].parse::<u64>().unwrap(), total);
    let missing = server.count("/missing");
    assert!(missing > 10, "{:?}", server.counts());
    assert_eq!(counted["/missing"], (missing, missing));
    assert_eq!(counted["/gone [expected]"], (server.count("/gone"), 0));
    assert_eq!(counted["/redirect"].0, server.count("/redirect"));
    assert_eq!(counted["/"].0 + counted["/redirect"].0, server.count("/"));

    let percentiles = table_rows(dom, "response-times");
    assert_eq!(percentiles.len(), 5, "{percentiles:?}");
    assert!(percentiles.iter().all(|r| r.len() == 10), "{percentiles:?}");
    let failures = table_rows(dom, "failures");
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(
        failures[0][..3],
        [missing.to_string(), "GET".into(), "/missing".into()]
    );
    assert!(failures[0][3].contains("404"), "{failures:?}");
}

//! End-to-end: panics in user code other than tasks are recorded as task panics are, and
//! the master's exceptions group by panic site, as Python's group by traceback.

mod common;

use std::time::Duration;

use common::*;

/// `tests/workers/broken_pacing.rs`: its `WaitTime::custom` closure and its rate limiter
/// each panic 3 times, with 3 messages. Each panic is a failure (type `wait_time` or
/// `rate_limiter`, named after the class) and an exception; the master shows one exception
/// row per panic site, with a count of 3; and the user outlives them: it ran more tasks
/// after the last panic (the 15th call) while the master counted it running.
#[test]
fn wait_time_and_rate_limiter_panics_are_recorded_and_the_user_goes_on() {
    let dir = scratch("pacing-panics");
    let port = free_port();
    let mut master = headless_master(
        &dir,
        "examples/locustfile.py",
        port,
        1,
        "5s",
        &["--csv", "run", "--exit-code-on-error", "0"],
    );
    let mut worker = worker(&dir, "e2e_broken_pacing", port, &[], &[]);
    master.assert_exit(0, Duration::from_secs(60));
    worker.assert_exit(0, Duration::from_secs(10));
    let stats = csv_records(&dir.join("run_stats.csv"));
    let ticks: u64 = stats
        .iter()
        .find(|r| r["Name"] == "/tick")
        .map(|r| r["Request Count"].parse().expect("a count"))
        .unwrap_or(0);
    assert!(ticks > 15, "the user stopped after {ticks} tasks");
    let failures = csv_records(&dir.join("run_failures.csv"));
    for (kind, what) in [("wait_time", "wait"), ("rate_limiter", "limiter")] {
        let mut rows: Vec<&str> = failures
            .iter()
            .filter(|f| f["Method"] == kind && f["Name"] == "Pacer" && f["Occurrences"] == "1")
            .map(|f| f["Error"].trim_matches('\''))
            .collect();
        rows.sort_unstable();
        let want: Vec<String> = [5, 10, 15]
            .iter()
            .map(|n| format!("panic: {what} broke at call {n}"))
            .collect();
        let mut want: Vec<&str> = want.iter().map(String::as_str).collect();
        want.sort_unstable();
        assert_eq!(rows, want, "{failures:?}");
    }
    let exceptions = csv_records(&dir.join("run_exceptions.csv"));
    assert_eq!(exceptions.len(), 2, "{exceptions:?}");
    for (what, line) in [("wait_time of Pacer", 15), ("rate limiter of Pacer", 36)] {
        let row = exceptions
            .iter()
            .find(|e| e["Message"].starts_with(what))
            .unwrap_or_else(|| panic!("no exception of {what}: {exceptions:?}"));
        assert_eq!(row["Count"], "3", "{row:?}");
        let site = format!("tests/workers/broken_pacing.rs:{line}");
        assert!(
            row["Message"].contains(&format!("panicked at {site}: ")),
            "{row:?}"
        );
        assert!(row["Traceback"].contains(&site), "{row:?}");
    }
}

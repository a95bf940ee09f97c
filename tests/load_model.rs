//! Locust's load model in Rust, checked at a real master: rate limits.

mod common;

use std::time::Duration;

use common::*;

const RUN: Duration = Duration::from_secs(60);

/// Runs the fast worker with `args` under a headless master for `secs` seconds and returns
/// the master's request count and its Requests/s.
fn fast_run(name: &str, secs: u32, args: &[&str]) -> (u64, f64) {
    fast_run_users(name, 20, secs, args)
}

/// [`fast_run`] with `users` users.
fn fast_run_users(name: &str, users: u32, secs: u32, args: &[&str]) -> (u64, f64) {
    let dir = scratch(name);
    let port = free_port();
    let t = format!("{secs}s");
    let mut master = headless_master(
        &dir,
        "examples/locustfile.py",
        port,
        users,
        &t,
        &["--csv", "run"],
    );
    let mut worker = worker(&dir, "e2e_fast", port, &[], args);
    master.assert_exit(0, RUN);
    worker.assert_exit(0, Duration::from_secs(10));
    let stats = csv_records(&dir.join("run_stats.csv"));
    let row = stats
        .iter()
        .find(|r| r["Name"] == "/fast")
        .expect("a /fast row");
    let count = row["Request Count"].parse().expect("count");
    let rps = row["Requests/s"].parse().expect("rps");
    (count, rps)
}

/// `--max-rps 200` holds the rate at 200/s ±5 % while 20 users would do far more: over the
/// master's 8 s run, 1600 requests. (The master's own Requests/s divides by the time since
/// its stats reset, which starts before the worker's users do, so it reads lower.)
#[test]
fn max_rps_holds_the_rate() {
    let (count, rps) = fast_run("maxrps", 8, &["--max-rps", "200"]);
    assert!(
        (1520..=1680).contains(&count),
        "{count} requests in 8 s ({rps} requests/s at the master)"
    );
}

/// `--request-increase-rate 50/1s` with `--max-rps 200`: 50/s in the first second, 100/s
/// in the second, ... capped at 200/s: about 50+100+150+200+200+200 = 900 in 6 s.
#[test]
fn request_increase_rate_ramps_up() {
    let (count, _) = fast_run(
        "ramp",
        6,
        &["--max-rps", "200", "--request-increase-rate", "50/1s"],
    );
    // The master's -t starts a moment before the worker's users; allow a tenth either way.
    assert!((810..=990).contains(&count), "{count} requests in 6 s");
}

/// The same ramp with 1,000 users, far more than the step: the rate still grows by 50/s
/// every second (50+100+150+200+250+300 = 1050 in 6 s), where slots reserved at the first
/// second's rate held it at 50/s (300 in 6 s).
#[test]
fn request_increase_rate_ramps_up_with_1000_users() {
    let (count, _) = fast_run_users(
        "ramp1000",
        1000,
        6,
        &["--max-rps", "1000", "--request-increase-rate", "50/1s"],
    );
    eprintln!("1,000 users, 50/1s: {count} requests in 6 s");
    // The master's -t starts a moment before the worker's users; allow a tenth either way.
    assert!((945..=1155).contains(&count), "{count} requests in 6 s");
}

/// Runs examples/users.rs under a headless master with examples/users.py (classes Shopper
/// and Admin, weights 3:1) and returns the master's request counts by name.
fn users_run(
    name: &str,
    users: u32,
    extra: &[&str],
) -> (std::collections::HashMap<String, u64>, String) {
    let dir = scratch(name);
    let port = free_port();
    let mut args = vec!["--csv", "run"];
    args.extend_from_slice(extra);
    let mut master = headless_master(&dir, "examples/users.py", port, users, "5s", &args);
    let mut worker = worker(&dir, "users", port, &[], &[]);
    master.assert_exit(0, RUN);
    worker.assert_exit(0, Duration::from_secs(10));
    let counts = csv_records(&dir.join("run_stats.csv"))
        .into_iter()
        .filter(|r| r["Name"] != "Aggregated")
        .map(|r| {
            (
                format!("{} {}", r["Type"], r["Name"]),
                r["Request Count"].parse().unwrap_or(0),
            )
        })
        .collect();
    (counts, worker.output())
}

/// Two classes, weights 3:1 on the master: the worker runs 6 Shoppers and 2 Admins, each
/// user logs in once (on_start) and every Shopper logs out at quit (on_stop); the Admins'
/// constant_throughput(2) gives 2 tasks per second per user.
#[test]
fn user_classes_follow_the_masters_dispatch() {
    let (counts, log) = users_run("classes", 8, &[]);
    assert!(
        log.contains(r#"spawn: {"Admin": 2, "Shopper": 6}"#),
        "{log}"
    );
    assert_eq!(counts.get("POST /login"), Some(&6), "{counts:?}");
    assert_eq!(counts.get("POST /logout"), Some(&6), "{counts:?}");
    assert!(
        counts.get("GET /items").copied().unwrap_or(0) > 0,
        "{counts:?}"
    );
    // 2 admins × 2/s over the ~5 s the users ran (the first task right at start).
    let admin = counts.get("GET /admin/orders").copied().unwrap_or(0)
        + counts
            .get("POST /admin/orders/approve")
            .copied()
            .unwrap_or(0);
    assert!(
        (16..=24).contains(&admin),
        "admin tasks: {admin} ({counts:?})"
    );
}

/// `--tags admin` on the master: only the tasks tagged `admin` run.
#[test]
fn the_masters_tags_select_tasks() {
    let (counts, _) = users_run("tags", 4, &["--tags", "admin"]);
    assert!(
        counts.get("GET /admin/orders").copied().unwrap_or(0) > 0,
        "{counts:?}"
    );
    for shop in ["GET /items", "GET /cart", "POST /checkout"] {
        assert_eq!(counts.get(shop), None, "{counts:?}");
    }
    let (counts, _) = users_run("exclude", 4, &["--exclude-tags", "admin", "checkout"]);
    assert!(
        counts.get("GET /items").copied().unwrap_or(0) > 0,
        "{counts:?}"
    );
    for excluded in ["GET /admin/orders", "POST /checkout"] {
        assert_eq!(counts.get(excluded), None, "{counts:?}");
    }
}

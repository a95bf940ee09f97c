//! The examples a newcomer copies, run as they are, against the embedded target they bring
//! (nothing installed): what the README promises they show.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

/// `examples/shop.rs` on its own: 10 users log in with JSON (a session cookie and a bearer
/// token), browse, view products and fill their carts, then log out. Every request needs the
/// session, so a lost cookie or token would fail with a 401; the only failures are the
/// embedded shop's products without a price, as `resp.failure("no price")` names them.
#[test]
fn the_shop_example_keeps_its_sessions_and_finds_the_missing_prices() {
    let dir = scratch("shop");
    let mut cmd = Command::new(example("shop"));
    cmd.args(["-u", "10", "-r", "100", "-t", "4s", "--csv", "run"])
        .current_dir(&dir);
    let mut shop = Proc::spawn("shop", cmd, &dir);
    // Failures: exit code 1, as Locust's --exit-code-on-error default.
    shop.assert_exit(1, Duration::from_secs(30));
    let stats = csv_records(&dir.join("run_stats.csv"));
    let count = |method: &str, name: &str, column: &str| -> u64 {
        stats
            .iter()
            .find(|r| r["Type"] == method && r["Name"] == name)
            .unwrap_or_else(|| panic!("no {method} {name} in {stats:?}"))[column]
            .parse()
            .expect("a count")
    };
    assert_eq!(count("POST", "/login", "Request Count"), 10, "{stats:?}");
    assert_eq!(count("POST", "/logout", "Request Count"), 10, "{stats:?}");
    for (method, name) in [
        ("GET", "/products"),
        ("GET", "/products/[id]"),
        ("POST", "/cart"),
        ("GET", "/cart"),
    ] {
        assert!(
            count(method, name, "Request Count") > 0,
            "{method} {name}: {stats:?}"
        );
    }
    let failures = csv_records(&dir.join("run_failures.csv"));
    assert_eq!(
        failures.len(),
        1,
        "only the missing prices fail: {failures:?}"
    );
    let row = &failures[0];
    assert_eq!(
        (
            row["Method"].as_str(),
            row["Name"].as_str(),
            row["Error"].as_str()
        ),
        ("GET", "/products/[id]", "CatchResponseError('no price')"),
    );
    let failed = count("GET", "/products/[id]", "Failure Count");
    assert!(failed > 0, "{stats:?}");
    assert_eq!(
        row["Occurrences"].parse::<u64>().ok(),
        Some(failed),
        "{row:?}"
    );
    assert_eq!(
        count("", "Aggregated", "Failure Count"),
        failed,
        "{stats:?}"
    );
}

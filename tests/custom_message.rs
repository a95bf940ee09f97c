//! examples/custom_message.rs against a real Locust master whose messages are not the body
//! the example knows: every `user_defined` is answered (as Go boomer's example answers
//! anything), and dicts nested 31 levels deep (refused as "depth limit exceeded" before)
//! and 1023 deep (the most msgpack-python packs) arrive, in a debug build.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn every_user_defined_message_is_answered_whatever_its_payload() {
    let dir = scratch("custom-any");
    let port = free_port();
    let mut master = headless_master(
        &dir,
        "tests/locustfiles/custom_any_payload.py",
        port,
        1,
        "6s",
        &[],
    );
    let mut worker = worker(&dir, "custom_message", port, &[], &[]);
    let status = master.wait(Duration::from_secs(60));
    let log = master.output();
    assert_eq!(status.code(), Some(0), "master log:\n{log}");
    worker.assert_exit(0, Duration::from_secs(10));
    let wlog = worker.output();
    assert!(log.contains("sent 8 user_defined messages"), "{log}");
    let acks: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("acknowledge_users from"))
        .collect();
    assert_eq!(
        acks.len(),
        8,
        "one answer per message:\n{log}\nworker:\n{wlog}"
    );
    let plain = acks
        .iter()
        .filter(|l| l.ends_with(": Thanks for the message"))
        .count();
    assert_eq!(plain, 7, "{acks:#?}");
    assert!(
        acks.iter()
            .any(|l| l.ends_with(": Thanks for the message: worker 0 got users u0,u1")),
        "the example's own body is read into its struct: {acks:#?}"
    );
    // The worker logged what it got, the other fields included, and dropped nothing.
    assert!(wlog.contains(r#""name": "other""#), "{wlog}");
    assert!(!wlog.contains("dropped a message"), "{wlog}");
}

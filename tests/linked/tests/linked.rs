//! Tasks defined in a library crate run when the binary links it; a binary with no task
//! fails at start-up with a message naming the fix.

use std::process::Command;

#[test]
fn tasks_from_a_linked_library_run() {
    let out = Command::new(env!("CARGO_BIN_EXE_linked_worker"))
        .args(["--run-tasks", "lib_task"])
        .output()
        .expect("run the worker");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("running task lib_task"), "{stdout}");
    assert!(
        stdout.contains("LIB lib_task: 1 requests, 0 failures"),
        "{stdout}"
    );
}

#[test]
fn no_task_is_a_clear_error_at_start_up() {
    let out = Command::new(env!("CARGO_BIN_EXE_no_tasks"))
        .output()
        .expect("run the worker");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no task is registered"), "{stderr}");
    assert!(stderr.contains("use my_tasks as _;"), "{stderr}");
}

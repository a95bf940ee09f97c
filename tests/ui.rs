//! Compile-time tests of `#[boomer::task]`, `#[boomer::on]` and `#[boomer::user]`: the shapes they accept, and
//! the diagnostics for everything else. The `.stderr` snapshots are rustc's output on the
//! toolchain pinned in `rust-toolchain.toml`; regenerate them with `TRYBUILD=overwrite`.

#[test]
fn task() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/task/pass/*.rs");
    t.compile_fail("tests/ui/task/fail/*.rs");
}

#[test]
fn on() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/on/pass/*.rs");
    t.compile_fail("tests/ui/on/fail/*.rs");
}

#[test]
fn user() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/user/pass/*.rs");
    t.compile_fail("tests/ui/user/fail/*.rs");
}

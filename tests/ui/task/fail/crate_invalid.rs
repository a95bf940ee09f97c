// `crate = ...` that is not a path in a string, or a path that does not lead to boomer:
// each is reported on the user's tokens.

#[boomer::task(crate = boomer)]
fn bare_path() {}

#[boomer::task(crate = "not a path")]
fn not_a_path() {}

#[boomer::on(stop, crate = 1)]
fn not_a_string() {}

#[boomer::user(crate = "::boomer::nowhere")]
#[derive(Default)]
struct Lost;

#[boomer::task(crate = "no_such_crate")]
fn unknown() {}

fn main() {}

#[boomer::on(stop = "now")]
fn handler() {}

fn main() {}

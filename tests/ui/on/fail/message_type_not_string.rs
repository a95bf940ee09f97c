#[boomer::on(message = user_defined)]
fn handler() {}

fn main() {}

// An arrival-driven class starts its iterations at a rate: a wait between them means a
// closed loop, so the two keys together are a mistake, reported on `wait_time`.
#[derive(Default)]
#[boomer::user(arrival_rate = 100, wait_time = boomer::constant(1.0))]
struct Both;

#[boomer::task]
fn browse(_user: &mut Both) {}

fn main() {}

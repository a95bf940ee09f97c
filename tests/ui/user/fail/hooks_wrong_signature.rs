// A sync on_start, and an on_stop that takes the state by value.
#[boomer::user(on_start = log_in, on_stop = log_out)]
struct Shopper;

fn log_in(_ctx: &mut boomer::Ctx) -> Shopper {
    Shopper
}

async fn log_out(_user: Shopper, _ctx: &mut boomer::Ctx) {}

fn main() {}

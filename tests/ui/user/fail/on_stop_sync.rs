// A plain (sync) `on_stop`: the error says it must be an `async fn`, on its path.
#[boomer::user(on_stop = log_out)]
#[derive(Default)]
struct Shopper;

fn log_out(_user: &mut Shopper, _ctx: &mut boomer::Ctx) {}

#[boomer::task]
async fn browse(_user: &mut Shopper, _ctx: &mut boomer::Ctx) {}

fn main() {}

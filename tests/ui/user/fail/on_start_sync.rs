// A plain (sync) `on_start`: the error says it must be an `async fn`, on its path.
#[boomer::user(on_start = log_in)]
struct Shopper;

fn log_in(_ctx: &mut boomer::Ctx) -> Shopper {
    Shopper
}

#[boomer::task]
async fn browse(_user: &mut Shopper, _ctx: &mut boomer::Ctx) {}

fn main() {}

struct Shopper;

#[boomer::user(on_start = log_in)]
struct Admin;

async fn log_in(_ctx: &mut boomer::Ctx) -> Shopper {
    Shopper
}

#[derive(Default)]
#[boomer::user(on_start = log_in_or_not)]
struct Visitor;

async fn log_in_or_not(_ctx: &mut boomer::Ctx) -> Option<Visitor> {
    None
}

fn main() {}

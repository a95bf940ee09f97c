use std::rc::Rc;

#[boomer::user(on_start = log_in)]
struct Shopper;

async fn log_in(_ctx: &mut boomer::Ctx) -> Shopper {
    let session = Rc::new(1);
    std::future::ready(()).await;
    let _ = session;
    Shopper
}

fn main() {}

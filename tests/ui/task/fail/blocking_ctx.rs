#[boomer::task(blocking)]
fn task(ctx: &mut boomer::Ctx) {
    let _ = ctx;
}

fn main() {}

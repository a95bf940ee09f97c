#[boomer::task]
fn task(ctx: &boomer::Ctx) {
    let _ = ctx;
}

fn main() {}

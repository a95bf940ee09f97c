#[boomer::task]
async fn task(ctx: &mut boomer::Ctx, count: u32, name: &str) {
    let _ = (ctx, count, name);
}

fn main() {}

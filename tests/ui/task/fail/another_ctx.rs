// A type named `Ctx` that is not boomer's.
struct Ctx;

#[boomer::task]
fn task(ctx: &mut Ctx) {
    let _ = ctx;
}

fn main() {}

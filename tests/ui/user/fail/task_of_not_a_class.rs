// A task whose first parameter is a type without #[boomer::user].
struct Shopper;

#[boomer::task]
fn browse(user: &mut Shopper) {
    let _ = user;
}

#[boomer::task]
async fn count(n: &mut u32, _ctx: &mut boomer::Ctx) {
    *n += 1;
}

fn main() {}

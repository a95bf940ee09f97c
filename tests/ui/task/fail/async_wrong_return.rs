#[boomer::task]
async fn task(_ctx: &mut boomer::Ctx) -> Option<()> {
    None
}

fn main() {}

use boomer::Ctx;

#[boomer::task]
async fn no_param() {}

#[boomer::task]
async fn with_ctx(ctx: &mut Ctx) {
    let _ = ctx;
    std::future::ready(()).await;
}

#[boomer::task]
async fn with_lifetime<'a>(_ctx: &'a mut boomer::Ctx) {}

#[boomer::task]
async fn fallible(_ctx: &mut Ctx) -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {}

//! End-to-end test worker for the open model: one arrival-driven class (50 iterations per
//! second unless the command line or the master says otherwise), each iteration one GET of
//! `ARRIVAL_PATH` (default `/`) on the host, named `hit`.

#[derive(Default)]
#[boomer::user(arrival_rate = 50)]
struct Arrivals;

#[boomer::task]
async fn hit(_user: &mut Arrivals, ctx: &mut boomer::Ctx) {
    let path = std::env::var("ARRIVAL_PATH").unwrap_or_else(|_| "/".into());
    ctx.http().get(&path).name("hit").send().await;
}

boomer::main!();

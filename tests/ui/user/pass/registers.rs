// What the macro registers, and that a user's state flows from `on_start` through its tasks
// to `on_stop`.

use std::any::TypeId;
use std::future::Future;
use std::pin::pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use boomer::__private::{inventory, TaskFn, TaskRegistration, UserClassRegistration};
use boomer::Ctx;

static STOPPED_WITH: Mutex<Vec<u32>> = Mutex::new(Vec::new());

#[boomer::user(
    weight = 3,
    fixed_count = 1,
    host = "http://shop",
    tags = ["shop"],
    wait_time = boomer::constant(0.25),
    on_start = log_in,
    on_stop = log_out
)]
struct Shopper {
    token: String,
    orders: u32,
}

async fn log_in(ctx: &mut Ctx) -> Result<Shopper, String> {
    if ctx.host() == Some("refuse") {
        return Err("login refused".into());
    }
    Ok(Shopper {
        token: "t0k3n".into(),
        orders: 0,
    })
}

async fn log_out(user: &mut Shopper, _ctx: &mut Ctx) {
    STOPPED_WITH.lock().unwrap().push(user.orders);
}

#[derive(Default)]
#[boomer::user(name = "Boss", sequential)]
struct Admin {
    seen: u32,
}

#[boomer::task]
fn order(user: &mut Shopper) -> Result<(), String> {
    if user.token != "t0k3n" {
        return Err("not logged in".into());
    }
    user.orders += 1;
    Ok(())
}

#[boomer::task]
async fn order_twice(user: &mut Shopper, _ctx: &mut Ctx) {
    user.orders += 2;
}

#[boomer::task]
fn audit(admin: &mut Admin) {
    admin.seen += 1;
}

/// Polls a future that never waits.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the future waited"),
    }
}

fn class(name: &str) -> &'static UserClassRegistration {
    inventory::iter::<UserClassRegistration>
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no class {name}"))
}

fn task(name: &str) -> &'static TaskRegistration {
    inventory::iter::<TaskRegistration>
        .into_iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no task {name}"))
}

fn run_task(name: &str, state: &mut (dyn std::any::Any + Send), ctx: &mut Ctx) -> Result<(), String> {
    match task(name).run {
        TaskFn::User(run) => ready(run(state, ctx)),
        _ => panic!("{name} is not a task of a user class"),
    }
}

fn main() {
    let shopper = class("Shopper");
    assert_eq!((shopper.weight, shopper.fixed_count), (3, 1));
    assert_eq!((shopper.host, shopper.tags), (Some("http://shop"), &["shop"][..]));
    assert!(!shopper.sequential);
    assert_eq!(format!("{:?}", (shopper.wait_time)()), "Constant(250ms)");
    assert_eq!((shopper.type_id)(), TypeId::of::<Shopper>());

    let admin = class("Boss");
    assert_eq!((admin.weight, admin.fixed_count, admin.sequential), (1, 0, true));
    assert_eq!(format!("{:?}", (admin.wait_time)()), "None");
    assert!(admin.on_stop.is_none());

    for name in ["order", "order_twice"] {
        assert_eq!(task(name).class.map(|f| f()), Some(TypeId::of::<Shopper>()));
    }
    assert_eq!(task("audit").class.map(|f| f()), Some(TypeId::of::<Admin>()));

    // on_start builds the state, the tasks change it, on_stop sees the change.
    let mut ctx = Ctx::detached(None);
    let mut state = ready((shopper.on_start)(&mut ctx)).expect("on_start");
    assert_eq!(run_task("order", &mut *state, &mut ctx), Ok(()));
    assert_eq!(run_task("order_twice", &mut *state, &mut ctx), Ok(()));
    let stop = shopper.on_stop.expect("on_stop");
    ready(stop(&mut *state, &mut ctx));
    assert_eq!(*STOPPED_WITH.lock().unwrap(), [3]);

    // An `Err` of on_start is its text.
    let mut refused = Ctx::detached(Some("refuse"));
    assert_eq!(
        ready((shopper.on_start)(&mut refused)).err().as_deref(),
        Some("login refused")
    );

    // Without on_start the state is `Default::default()`.
    let mut state = ready((admin.on_start)(&mut ctx)).expect("default state");
    assert_eq!(run_task("audit", &mut *state, &mut ctx), Ok(()));
    assert_eq!(state.downcast_ref::<Admin>().map(|a| a.seen), Some(1));

    // Another class's state is an error, not a panic, and on_stop leaves it alone.
    assert_eq!(
        run_task("order", &mut *state, &mut ctx),
        Err("internal: user state of the wrong type".to_string())
    );
    ready(stop(&mut *state, &mut ctx));
    assert_eq!(STOPPED_WITH.lock().unwrap().len(), 1);
}

// The facade under another name: `crate = "<path>"` on all three attributes makes the
// expansions name it by that path, at the crate root and in a module.

extern crate boomer as renamed;

use renamed::__private::{inventory, HandlerRegistration, TaskRegistration, UserClassRegistration};

#[renamed::user(crate = "renamed", weight = 2)]
#[derive(Default)]
struct Shopper {
    carts: u32,
}

#[renamed::task(crate = "renamed")]
fn browse(user: &mut Shopper) {
    user.carts += 1;
}

#[renamed::task(name = "ping", crate = "renamed")]
async fn ping(_ctx: &mut renamed::Ctx) {}

#[renamed::on(spawn, crate = "renamed")]
fn spawn(users: u32, spawn_rate: f64) {
    let _ = (users, spawn_rate);
}

#[renamed::on(crate = "renamed", message = "greeting")]
fn greeting(message: &renamed::CustomMessage) {
    let _ = message;
}

mod nested {
    #[renamed::task(crate = "::renamed", blocking)]
    fn blocking() {}

    #[renamed::on(stop, crate = "::renamed")]
    async fn stopped() {}
}

fn main() {
    let mut tasks: Vec<_> = inventory::iter::<TaskRegistration>
        .into_iter()
        .map(|t| t.name)
        .collect();
    tasks.sort();
    assert_eq!(tasks, ["blocking", "browse", "ping"]);

    let mut handlers: Vec<_> = inventory::iter::<HandlerRegistration>
        .into_iter()
        .map(|h| format!("{} {:?}", h.name, h.event))
        .collect();
    handlers.sort();
    assert_eq!(
        handlers,
        ["greeting Message(\"greeting\")", "spawn Spawn", "stopped Stop"]
    );

    let classes: Vec<_> = inventory::iter::<UserClassRegistration>
        .into_iter()
        .map(|c| (c.name, c.weight))
        .collect();
    assert_eq!(classes, [("Shopper", 2)]);
}

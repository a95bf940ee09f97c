// `arrival_rate` registers the class's rate as text: a number per second, or stages.

use boomer::__private::{inventory, UserClassRegistration};

#[derive(Default)]
#[boomer::user(arrival_rate = 400)]
struct Steady;

#[derive(Default)]
#[boomer::user(arrival_rate = 12.5, sequential, on_start = Self::start)]
struct Fractional;

impl Fractional {
    async fn start(_ctx: &mut boomer::Ctx) -> Result<Self, String> {
        Ok(Fractional)
    }
}

#[derive(Default)]
#[boomer::user(arrival_rate = "0, 30s:400, 5m:400, 30s:0")]
struct Ramped;

#[derive(Default)]
#[boomer::user]
struct Closed;

#[boomer::task]
fn a(_: &mut Steady) {}
#[boomer::task]
fn b(_: &mut Fractional) {}
#[boomer::task]
fn c(_: &mut Ramped) {}
#[boomer::task]
fn d(_: &mut Closed) {}

fn rate(name: &str) -> Option<&'static str> {
    inventory::iter::<UserClassRegistration>
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no class {name}"))
        .arrival_rate
}

fn main() {
    assert_eq!(rate("Steady"), Some("400"));
    assert_eq!(rate("Fractional"), Some("12.5"));
    assert_eq!(rate("Ramped"), Some("0, 30s:400, 5m:400, 30s:0"));
    assert_eq!(rate("Closed"), None);
}

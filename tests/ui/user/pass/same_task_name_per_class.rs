// Task names are unique per class, not across classes (as Locust's): two user-class
// modules may each have a task `browse`, and the worker accepts them.

mod shop {
    #[derive(Default)]
    #[boomer::user]
    pub struct Shopper;

    #[boomer::task]
    async fn browse(_user: &mut Shopper, _ctx: &mut boomer::Ctx) {}
}

mod admin {
    #[derive(Default)]
    #[boomer::user]
    pub struct Admin;

    #[boomer::task]
    async fn browse(_user: &mut Admin, _ctx: &mut boomer::Ctx) {}
}

fn main() {
    let registry = boomer_core::Registry::from_macros();
    assert_eq!(registry.validate(), Ok(()));
    let names: Vec<&str> = registry.tasks().iter().map(|t| t.name()).collect();
    assert_eq!(names, ["browse", "browse"]);
}

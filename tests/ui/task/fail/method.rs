struct User;

impl User {
    #[boomer::task]
    fn task(&self) {}
}

fn main() {}

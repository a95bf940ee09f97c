struct Worker;

impl Worker {
    #[boomer::on(stop)]
    fn stop(&mut self) {}
}

fn main() {}

// What the macro registers: names, weights, tags, modules and how each task is run.

use boomer::__private::{inventory, TaskFn, TaskRegistration};

#[boomer::task]
fn plain() {}

#[boomer::task(weight = 3, name = "renamed", tags = ["a", "b"])]
async fn asynchronous(_ctx: &mut boomer::Ctx) {}

#[boomer::task(blocking, weight = 2)]
fn blocking() {}

#[boomer::task]
fn r#type() {}

#[boomer::task(blocking)]
fn failing() -> Result<(), String> {
    Err("boom".to_string())
}

fn main() {
    let mut tasks: Vec<_> = inventory::iter::<TaskRegistration>
        .into_iter()
        .map(|t| {
            let run = match t.run {
                TaskFn::Sync(_) => "sync",
                TaskFn::Blocking(_) => "blocking",
                TaskFn::Async(_) => "async",
                TaskFn::User(_) => "user",
            };
            assert_eq!(t.module, module_path!());
            (t.name, t.weight, t.tags, run)
        })
        .collect();
    tasks.sort();
    assert_eq!(
        tasks,
        [
            ("blocking", 2, &[][..], "blocking"),
            ("failing", 1, &[][..], "blocking"),
            ("plain", 1, &[][..], "sync"),
            ("renamed", 3, &["a", "b"][..], "async"),
            ("type", 1, &[][..], "sync"),
        ]
    );
    // The return value becomes the outcome.
    let run = |name: &str| {
        let task = inventory::iter::<TaskRegistration>
            .into_iter()
            .find(|t| t.name == name);
        match task.map(|t| t.run) {
            Some(TaskFn::Blocking(run)) => run(),
            _ => panic!("no blocking task {name}"),
        }
    };
    assert_eq!(run("blocking"), Ok(()));
    assert_eq!(run("failing"), Err("boom".to_string()));
}

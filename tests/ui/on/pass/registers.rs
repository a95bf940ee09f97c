// What the macro registers, and what the registered adapters pass to the user's fns.

use std::future::Future;
use std::pin::pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use boomer::__private::{inventory, HandlerRegistration};
use boomer::{CustomMessage, Event, SpawnEvent};

static CALLS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn called(what: String) {
    CALLS.lock().unwrap().push(what);
}

#[boomer::on(connected)]
fn connected() {
    called("connected".into());
}

#[boomer::on(spawn)]
async fn spawn(users: u32, spawn_rate: f64) {
    called(format!("spawn {users} {spawn_rate}"));
}

#[boomer::on(spawn)]
fn spawn_event(event: &SpawnEvent) {
    called(format!("spawn_event {}", event.users()));
}

#[boomer::on(spawning_complete)]
async fn spawning_complete(user_count: u64) {
    called(format!("spawning_complete {user_count}"));
}

#[boomer::on(message = "greeting")]
fn message(message: &CustomMessage) {
    called(format!("message {}", message.kind()));
}

#[boomer::on(stop)]
#[boomer::on(quit)]
fn r#stop() {
    called("stop".into());
}

/// Polls a future that never waits.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the handler waited"),
    }
}

fn main() {
    let handlers: Vec<&HandlerRegistration> =
        inventory::iter::<HandlerRegistration>.into_iter().collect();
    let mut names: Vec<String> = handlers
        .iter()
        .map(|h| {
            assert_eq!(h.module, module_path!());
            format!("{} {:?}", h.name, h.event)
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "connected Connected",
            "message Message(\"greeting\")",
            "spawn Spawn",
            "spawn_event Spawn",
            "spawning_complete SpawningComplete",
            "stop Quit",
            "stop Stop",
        ]
    );

    let fire = |event: Event| {
        let kind = format!("{:?}", event.kind());
        for handler in &handlers {
            let handler_kind = format!("{:?}", handler.event);
            if handler_kind == kind {
                ready((handler.run)(&event));
            }
        }
    };
    fire(Event::Connected);
    fire(Event::Spawn(SpawnEvent::default()));
    fire(Event::SpawningComplete(7));
    fire(Event::Message(CustomMessage::new(
        "greeting",
        boomer::Value::from("hi"),
    )));
    fire(Event::Quit);

    let mut calls = CALLS.lock().unwrap().clone();
    calls.sort();
    assert_eq!(
        calls,
        [
            "connected",
            "message greeting",
            "spawn 0 0",
            "spawn_event 0",
            "spawning_complete 7",
            "stop",
        ]
    );
}

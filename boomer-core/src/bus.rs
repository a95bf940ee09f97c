//! Runs event handlers on the users' runtime, one event at a time in the order fired, so a
//! slow handler never delays the control plane and handlers see events in order.
//!
//! Custom messages from the master are the one kind of event whose rate the master sets:
//! at most [`MAX_QUEUED_MESSAGES`] of them, or [`MAX_QUEUED_BYTES`], wait for their
//! handlers; beyond that they are dropped with a log line, so that a master flooding a slow
//! handler cannot grow the queue without limit. Lifecycle events (a handful per test) are
//! always queued.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

use crate::events::{Event, EventKind, Value};
use crate::panic::{install_panic_hook, report_panic, CatchUnwind};
use crate::registry::Handler;

/// The most custom messages waiting for their handlers.
pub(crate) const MAX_QUEUED_MESSAGES: usize = 1024;
/// The most bytes (as [`Value`]s in memory, roughly) of custom messages waiting.
pub(crate) const MAX_QUEUED_BYTES: usize = 64 << 20;

/// An event, its completion signal, and the bytes it holds in the queue's budget.
type Job = (Event, Option<oneshot::Sender<()>>, usize);

pub(crate) struct EventBus {
    tx: mpsc::UnboundedSender<Job>,
    kinds: HashSet<EventKind>,
    queue: Arc<Queue>,
}

/// What custom messages hold in the queue, and what was dropped since it last caught up.
#[derive(Default)]
struct Queue {
    messages: AtomicUsize,
    bytes: AtomicUsize,
    dropped: AtomicUsize,
}

impl EventBus {
    pub(crate) fn start(rt: &Handle, handlers: Vec<Handler>) -> Self {
        install_panic_hook();
        let kinds = handlers.iter().map(|h| h.kind.clone()).collect();
        let (tx, rx) = mpsc::unbounded_channel();
        let queue = Arc::new(Queue::default());
        rt.spawn(run(rx, Arc::new(handlers), queue.clone()));
        EventBus { tx, kinds, queue }
    }

    /// Queues an event for its handlers; a custom message is dropped (and logged) when the
    /// queue is full.
    pub(crate) fn fire(&self, event: Event) {
        let mut cost = 0;
        if let Event::Message(m) = &event {
            cost = value_size(m.data());
            if !self.queue.admit(cost) {
                let dropped = self.queue.dropped.fetch_add(1, Ordering::Relaxed);
                if dropped == 0 {
                    tracing::warn!(
                        "the master sends custom messages faster than their handlers take them: \
                         dropping them until the handlers catch up (first dropped: {:?}; \
                         queued: {} messages, {} bytes; limits {MAX_QUEUED_MESSAGES} and \
                         {MAX_QUEUED_BYTES})",
                        m.kind(),
                        self.queue.messages.load(Ordering::Relaxed),
                        self.queue.bytes.load(Ordering::Relaxed),
                    );
                }
                return;
            }
        }
        let _ = self.tx.send((event, None, cost));
    }

    /// Queues an event; the receiver completes once its handlers (and all before) ran.
    pub(crate) fn fire_wait(&self, event: Event) -> oneshot::Receiver<()> {
        let (done, rx) = oneshot::channel();
        let _ = self.tx.send((event, Some(done), 0));
        rx
    }

    /// Whether any handler listens to `kind`.
    pub(crate) fn handles(&self, kind: &EventKind) -> bool {
        self.kinds.contains(kind)
    }
}

impl Queue {
    /// Takes a message of `cost` bytes into the budget, if it fits. The first message is
    /// always taken, however large (the frame limit bounds it).
    fn admit(&self, cost: usize) -> bool {
        let messages = self.messages.load(Ordering::Relaxed);
        let bytes = self.bytes.load(Ordering::Relaxed);
        if messages > 0 && (messages >= MAX_QUEUED_MESSAGES || bytes + cost > MAX_QUEUED_BYTES) {
            return false;
        }
        // Only the control thread fires, so load-then-add does not race with another fire.
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(cost, Ordering::Relaxed);
        true
    }

    /// A message left the queue; logs what was dropped once the handlers caught up.
    fn release(&self, cost: usize) {
        self.bytes.fetch_sub(cost, Ordering::Relaxed);
        if self.messages.fetch_sub(1, Ordering::Relaxed) == 1 {
            let dropped = self.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                tracing::warn!(
                    "custom message handlers caught up; {dropped} messages were dropped"
                );
            }
        }
    }
}

/// Roughly the bytes a value holds in memory, counted without recursion.
fn value_size(v: &Value) -> usize {
    let mut size = 0usize;
    let mut todo = vec![v];
    while let Some(v) = todo.pop() {
        size = size.saturating_add(std::mem::size_of::<Value>());
        match v {
            Value::String(s) => size = size.saturating_add(s.as_bytes().len()),
            Value::Binary(b) | Value::Ext(_, b) => size = size.saturating_add(b.len()),
            Value::Array(items) => todo.extend(items),
            Value::Map(pairs) => todo.extend(pairs.iter().flat_map(|(k, v)| [k, v])),
            _ => {}
        }
    }
    size
}

async fn run(mut rx: mpsc::UnboundedReceiver<Job>, handlers: Arc<Vec<Handler>>, queue: Arc<Queue>) {
    while let Some((event, done, cost)) = rx.recv().await {
        let kind = event.kind();
        for h in handlers.iter().filter(|h| h.kind == kind) {
            if let Err(panic) = CatchUnwind((h.run)(&event)).await {
                // Grouped by where it panicked, as a task's panics.
                report_panic(&format!("event handler {}", h.name), &*panic);
            }
        }
        let message = matches!(event, Event::Message(_));
        drop(event);
        if message {
            queue.release(cost);
        }
        if let Some(done) = done {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Mutex;

    use futures_util::future::BoxFuture;
    use tokio::sync::Semaphore;

    use super::*;
    use crate::CustomMessage;

    static GATE: Semaphore = Semaphore::const_new(0);
    static HANDLED: AtomicUsize = AtomicUsize::new(0);

    /// A handler that takes one permit of GATE per message.
    fn slow(_: &Event) -> BoxFuture<'_, ()> {
        Box::pin(async {
            GATE.acquire().await.expect("open").forget();
            HANDLED.fetch_add(1, Ordering::SeqCst);
        })
    }

    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);

    impl Write for Log {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn message(data: Value) -> Event {
        Event::Message(CustomMessage::new("m", data))
    }

    #[test]
    fn a_flood_of_custom_messages_is_bounded_and_logged() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let kind = EventKind::Message("m".into());
        let bus = EventBus::start(rt.handle(), vec![Handler::new(kind, "slow", slow)]);
        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..10_000 {
                bus.fire(message(Value::from(i)));
            }
        });
        assert_eq!(
            bus.queue.messages.load(Ordering::SeqCst),
            MAX_QUEUED_MESSAGES
        );
        assert_eq!(
            bus.queue.dropped.load(Ordering::SeqCst),
            10_000 - MAX_QUEUED_MESSAGES
        );
        let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.matches("dropping them").count(), 1, "{text}");
        assert!(text.contains("WARN"), "{text}");

        // Once the handler takes them, all the queued ones (and no more) were handled.
        GATE.add_permits(MAX_QUEUED_MESSAGES);
        rt.block_on(bus.fire_wait(Event::Stop)).unwrap();
        assert_eq!(HANDLED.load(Ordering::SeqCst), MAX_QUEUED_MESSAGES);
        assert_eq!(bus.queue.messages.load(Ordering::SeqCst), 0);
        assert_eq!(bus.queue.bytes.load(Ordering::SeqCst), 0);
        assert_eq!(
            bus.queue.dropped.load(Ordering::SeqCst),
            0,
            "reset on catching up"
        );

        // The byte budget: a second 40 MiB message does not fit next to the first, a small
        // one does.
        let big = || message(Value::Binary(vec![0; 40 << 20]));
        bus.fire(big());
        bus.fire(big());
        bus.fire(message(Value::from("small")));
        assert_eq!(bus.queue.messages.load(Ordering::SeqCst), 2);
        assert_eq!(bus.queue.dropped.load(Ordering::SeqCst), 1);
        GATE.add_permits(2);
        rt.block_on(bus.fire_wait(Event::Stop)).unwrap();
        assert_eq!(HANDLED.load(Ordering::SeqCst), MAX_QUEUED_MESSAGES + 2);
    }

    #[test]
    fn value_size_counts_nested_bytes_without_recursion() {
        let mut v = Value::Binary(vec![0; 1000]);
        for _ in 0..100_000 {
            v = Value::Array(vec![v]);
        }
        assert_eq!(
            value_size(&v),
            100_001 * std::mem::size_of::<Value>() + 1000
        );
        // Dropping 100,000 levels would recurse: unwind it by hand.
        while let Value::Array(mut items) = v {
            v = items.pop().unwrap();
        }
    }
}

//! Runs event handlers on the users' runtime, one event at a time in the order fired, so a
//! slow handler never delays the control plane and handlers see events in order.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

use crate::events::{Event, EventKind};
use crate::outbox;
use crate::registry::Handler;
use crate::users::{panic_message, CatchUnwind};

type Job = (Event, Option<oneshot::Sender<()>>);

pub(crate) struct EventBus {
    tx: mpsc::UnboundedSender<Job>,
    kinds: HashSet<EventKind>,
}

impl EventBus {
    pub(crate) fn start(rt: &Handle, handlers: Vec<Handler>) -> Self {
        let kinds = handlers.iter().map(|h| h.kind.clone()).collect();
        let (tx, rx) = mpsc::unbounded_channel();
        rt.spawn(run(rx, Arc::new(handlers)));
        EventBus { tx, kinds }
    }

    /// Queues an event for its handlers.
    pub(crate) fn fire(&self, event: Event) {
        let _ = self.tx.send((event, None));
    }

    /// Queues an event; the receiver completes once its handlers (and all before) ran.
    pub(crate) fn fire_wait(&self, event: Event) -> oneshot::Receiver<()> {
        let (done, rx) = oneshot::channel();
        let _ = self.tx.send((event, Some(done)));
        rx
    }

    /// Whether any handler listens to `kind`.
    pub(crate) fn handles(&self, kind: &EventKind) -> bool {
        self.kinds.contains(kind)
    }
}

async fn run(mut rx: mpsc::UnboundedReceiver<Job>, handlers: Arc<Vec<Handler>>) {
    while let Some((event, done)) = rx.recv().await {
        let kind = event.kind();
        for h in handlers.iter().filter(|h| h.kind == kind) {
            if let Err(panic) = CatchUnwind((h.run)(&event)).await {
                let msg = panic_message(&*panic);
                outbox::exception(
                    format!("event handler {} panicked: {msg}", h.name),
                    format!("panic in handler {} for {kind:?}:\n{msg}", h.name),
                );
            }
        }
        if let Some(done) = done {
            let _ = done.send(());
        }
    }
}

//! The master's Host field, shared by every user and replaced when the master changes it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The current host, with a version number users check once per iteration (one atomic load)
/// so that a change in the web UI reaches running users at their next iteration: a change
/// of the Host field, or of a class by the class picker ([`touch`](Self::touch)).
#[derive(Default)]
pub struct HostCell {
    version: AtomicU64,
    host: RwLock<Option<Arc<str>>>,
}

impl HostCell {
    /// Sets the host; users see it from their next iteration.
    pub fn set(&self, host: Option<String>) {
        let host: Option<Arc<str>> = host.filter(|h| !h.is_empty()).map(Into::into);
        let mut slot = self.host.write().unwrap_or_else(|e| e.into_inner());
        if *slot != host {
            *slot = host;
            self.version.fetch_add(1, Ordering::Release);
        }
    }

    /// The current host.
    pub fn get(&self) -> Option<Arc<str>> {
        self.host.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Bumps the version without changing the host: the web UI's class picker edited a
    /// class, and running users reload it at their next iteration, with the same one load.
    pub(crate) fn touch(&self) {
        self.version.fetch_add(1, Ordering::Release);
    }

    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }
}

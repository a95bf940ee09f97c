//! The runtime of boomer: a Locust worker in Rust. Users depend on the facade (the package
//! `boomer-locust`, whose library is `boomer`), which re-exports what is public here; see
//! its documentation.

#![warn(missing_docs)]

mod builder;
mod bus;
mod cli;
mod clock;
mod config;
mod ctx;
mod events;
mod host;
#[cfg(feature = "http")]
pub mod http;
mod locust;
mod logs;
mod outbox;
pub mod output;
mod panic;
mod process;
pub mod protocol;
mod ratelimit;
pub mod registry;
mod run_tasks;
mod runner;
mod standalone;
pub mod stats;
pub mod threshold;
mod transport;
mod users;
mod wait;
mod worker;

pub use builder::{Boomer, Builder};
pub use cli::{init_logging, run_main};
pub use config::{parse_timespan, Options, OptionsError};
pub use ctx::Ctx;
pub use events::{CustomMessage, Event, EventKind, SpawnEvent, Value};
pub use logs::{master_log_layer, MasterLogLayer};
pub use outbox::send_message;
pub use ratelimit::{parse_duration, parse_ramp, ParseError, RateLimiter, SmoothRateLimiter};
pub use registry::{Handler, Registry, RegistryError, Task, TaskFn, UserClass};
pub use runner::Exit;
pub use stats::{record_failure, record_success};
pub use users::signal::InFlight;
pub use wait::{between, constant, constant_pacing, constant_throughput, WaitTime};

#[doc(hidden)]
pub use inventory;

/// Held by the unit tests that drain the global stats shards, so that they do not take
/// each other's records.
#[cfg(test)]
pub(crate) static STATS_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Hooks for the criterion benches (`benches/`); not API.
#[doc(hidden)]
pub mod __bench {
    /// Runs one task once as a user's loop does (timing, panic catching, failure recording,
    /// the stop signal).
    pub async fn run_task(task: &crate::Task, ctx: &mut crate::Ctx) {
        let signal = crate::users::signal::UserSignal::default();
        let start = std::time::Instant::now();
        crate::users::run_in_loop(task, ctx, &mut (), &signal, start).await;
    }

    /// Takes and discards what was recorded, so long benches do not grow the shards.
    pub fn drain() {
        crate::stats::drain();
    }
}

/// Hooks for the fuzz targets (`fuzz/`); not API.
#[doc(hidden)]
pub mod __fuzz {
    /// The largest message taken from the master.
    pub const MAX_FRAME: usize = crate::protocol::MAX_FRAME;

    /// The messages the worker's ZMTP reader takes from these bytes (what follows the
    /// greeting on the master's connection), or why it refuses them.
    pub fn zmtp_messages(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
        crate::transport::messages_of(bytes)
    }
}

/// Why a worker could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The tasks are unusable.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Bad options.
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// `--run-tasks` named a task that does not exist.
    #[error("no task named {0:?}; the tasks are: {1}")]
    UnknownTask(String, String),
    /// The control plane's thread or runtime could not start.
    #[error("the control plane failed: {0}")]
    ControlPlane(#[source] std::io::Error),
    /// The control plane's thread panicked.
    #[error("the control plane failed: its thread panicked")]
    ControlPlanePanicked,
    /// An output could not start (a CSV path, a Prometheus address, ...): what, and why.
    #[error("{what}: {source}")]
    Output {
        /// What could not start, e.g. `cannot create run_*.csv`.
        what: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The command line did not parse (`--help` and `--version` also end up here, as clap's
/// do): print it with [`ArgsError::exit`], which exits as a command line does (0 for help,
/// 2 for an error).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ArgsError(#[from] clap::Error);

impl ArgsError {
    /// Prints the message (help, version or the error, with usage) and exits the process.
    pub fn exit(&self) -> ! {
        self.0.exit()
    }

    /// Whether this is `--help` or `--version` rather than a mistake.
    pub fn is_help(&self) -> bool {
        matches!(
            self.0.kind(),
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
        )
    }
}

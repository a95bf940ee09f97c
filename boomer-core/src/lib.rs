//! The runtime of boomer: a Locust worker in Rust. Users depend on the `boomer` facade,
//! which re-exports what is public here; see its documentation.

#![warn(missing_docs)]

mod bus;
mod clock;
mod config;
mod ctx;
mod events;
mod host;
#[cfg(feature = "http")]
pub mod http;
mod logs;
mod outbox;
pub mod output;
mod process;
pub mod protocol;
mod ratelimit;
pub mod registry;
mod runner;
mod standalone;
pub mod stats;
mod transport;
mod users;
mod wait;
mod worker;

use std::process::ExitCode;
use std::sync::Arc;

pub use config::{parse_timespan, Options};
pub use ctx::Ctx;
pub use events::{CustomMessage, Event, EventKind, SpawnEvent, Value};
pub use logs::{master_log_layer, MasterLogLayer};
pub use outbox::send_message;
pub use ratelimit::{parse_duration, parse_ramp, RateLimiter, SmoothRateLimiter};
pub use registry::{Handler, Registry, RegistryError, Task, TaskFn, UserClass};
pub use runner::Exit;

/// Held by the unit tests that drain the global stats shards, so that they do not take
/// each other's records.
#[cfg(test)]
pub(crate) static STATS_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
pub use stats::{record_failure, record_success};
pub use users::InFlight;
pub use wait::{between, constant, constant_pacing, constant_throughput, WaitTime};

#[doc(hidden)]
pub use inventory;

use host::HostCell;
use users::Users;

/// Hooks for the criterion benches (`benches/`); not API.
#[doc(hidden)]
pub mod __bench {
    /// Runs one task once as a user's loop does (timing, panic catching, failure recording,
    /// the stop signal).
    pub async fn run_task(task: &crate::Task, ctx: &mut crate::Ctx) {
        let signal = crate::users::UserSignal::default();
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
pub enum Error {
    /// The tasks are unusable.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Bad options.
    #[error("{0}")]
    Options(String),
    /// `--run-tasks` named a task that does not exist.
    #[error("no task named {0:?}; the tasks are: {1}")]
    UnknownTask(String, String),
    /// The control-plane thread could not start or died.
    #[error("the control plane failed: {0}")]
    ControlPlane(String),
    /// An output could not start (a CSV path, a Prometheus address, ...).
    #[error("{0}")]
    Output(String),
}

/// Entry point of the library API, for users who own their tokio runtime.
///
/// ```no_run
/// # async fn run() -> Result<(), boomer_core::Error> {
/// use boomer_core::{Boomer, Task, TaskFn};
/// let exit = Boomer::builder()
///     .task(Task::new("noop", 1, TaskFn::Sync(|_ctx| Ok(()))))
///     .run()
///     .await?;
/// # Ok(()) }
/// ```
pub struct Boomer;

impl Boomer {
    /// A builder with every task and handler registered by the macros in this binary, and
    /// the default options (override them with [`Builder::options`] or [`Builder::args`]).
    pub fn builder() -> Builder {
        Builder::default()
    }
}

/// Configures and runs a worker. See [`Boomer::builder`].
pub struct Builder {
    registry: Registry,
    options: Options,
    limiter: Option<Arc<dyn RateLimiter>>,
    outputs: Vec<Box<dyn output::Output>>,
    standalone_default: bool,
    #[cfg(feature = "http")]
    http: http::HttpConfig,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            registry: Registry::from_macros(),
            options: Options::default(),
            limiter: None,
            outputs: Vec::new(),
            standalone_default: false,
            #[cfg(feature = "http")]
            http: http::HttpConfig::default(),
        }
    }
}

impl Builder {
    /// Adds a task, as Go boomer's `Task{Name, Weight, Fn}`.
    pub fn task(mut self, task: Task) -> Self {
        self.registry.add_task(task);
        self
    }

    /// Adds an event handler.
    pub fn handler(mut self, handler: Handler) -> Self {
        self.registry.add_handler(handler);
        self
    }

    /// Adds a user class (see [`UserClass`]).
    pub fn user_class(mut self, class: UserClass) -> Self {
        self.registry.add_class(class);
        self
    }

    /// Limits how often tasks run, across all users, with a limiter of your own (instead
    /// of `--max-rps` / `--request-increase-rate`).
    pub fn rate_limiter(mut self, limiter: impl RateLimiter) -> Self {
        self.limiter = Some(Arc::new(limiter));
        self
    }

    /// How every user's HTTP client connects (extra CAs, a client certificate, ...), on top
    /// of what the command line says (`--ca-cert`, `--insecure`, ...).
    ///
    /// ```no_run
    /// boomer_core::Boomer::builder()
    ///     .http_config(boomer_core::http::HttpConfig::new().ca_cert_file("internal-ca.pem"))
    ///     .run_main();
    /// ```
    #[cfg(feature = "http")]
    pub fn http_config(mut self, config: http::HttpConfig) -> Self {
        self.http = config;
        self
    }

    /// Sets all options.
    pub fn options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// Parses options from command-line arguments (the first is the program name).
    pub fn args<I, S>(mut self, args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString> + Clone,
    {
        self.options = Options::parse_args(args, self.standalone_default)?;
        Ok(self)
    }

    /// Adds an output: it gets every report window, on a thread of its own (see
    /// [`output::Output`]).
    pub fn output(mut self, output: impl output::Output) -> Self {
        self.outputs.push(Box::new(output));
        self
    }

    /// Runs standalone unless a master is named (`--master-host` or
    /// `LOCUST_MASTER_NODE_HOST`): the quickstart's choice. Call it before
    /// [`Builder::args`]; [`Builder::run_main`] honours it.
    ///
    /// ```
    /// let builder = boomer_core::Boomer::builder()
    ///     .standalone_by_default()
    ///     .args(["load", "-u", "10", "-r", "2", "-t", "1m"])
    ///     .unwrap();
    /// let worker = boomer_core::Boomer::builder()
    ///     .standalone_by_default()
    ///     .args(["load", "--master-host", "10.0.0.1"])
    ///     .unwrap();
    /// // fn main() -> std::process::ExitCode { builder.run_main() }
    /// ```
    pub fn standalone_by_default(mut self) -> Self {
        self.standalone_default = true;
        self
    }

    /// `fn main` for this builder: parses the command line, sets up logging, runs on a new
    /// multi-threaded runtime, and returns the process's exit code.
    pub fn run_main(self) -> ExitCode {
        run_main(self)
    }

    /// Runs the worker on the current tokio runtime (users) and a thread of its own (the
    /// control plane) until the master says quit or the process gets SIGINT/SIGTERM.
    pub async fn run(self) -> Result<Exit, Error> {
        self.registry.validate()?;
        #[cfg(feature = "http")]
        {
            let config = self.options.http.config().merged(self.http.clone());
            let shared = config.build().map_err(|e| Error::Options(e.to_string()))?;
            http::install_config(shared);
        }
        if !self.options.run_tasks.is_empty() {
            run_tasks(&self.registry, &self.options).await?;
            return Ok(Exit::Quit);
        }
        if self.options.print_locustfile {
            let program = std::env::args_os()
                .next()
                .map(std::path::PathBuf::from)
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "worker".into());
            print!("{}", config::master_locustfile(&self.registry, &program));
            return Ok(Exit::Quit);
        }
        let rt = tokio::runtime::Handle::current();
        let host = Arc::new(HostCell::default());
        host.set(self.options.host.clone());
        let limiter = match self.limiter {
            Some(l) => Some(l),
            None => self
                .options
                .rate_limiter()
                .map_err(Error::Options)?
                .map(|l| Arc::new(l) as Arc<dyn RateLimiter>),
        };
        let registry = Arc::new(self.registry);
        let users = Users::new(rt.clone(), registry.clone(), host.clone(), limiter);
        let bus = bus::EventBus::start(&rt, registry.handlers.clone());
        let outputs = start_outputs(&self.options, self.outputs)?;
        let opts = self.options;
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("boomer-control".into())
            .spawn(move || {
                let control = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match control {
                    Ok(control) => {
                        let exit = control.block_on(async move {
                            if opts.standalone {
                                standalone::run(opts, users, bus, outputs).await
                            } else {
                                let worker = worker::Worker::new(opts, users, bus, host);
                                worker.with_outputs(outputs).run().await
                            }
                        });
                        let _ = tx.send(Ok(exit));
                    }
                    Err(e) => {
                        let _ = tx.send(Err(Error::ControlPlane(e.to_string())));
                    }
                }
            })
            .map_err(|e| Error::ControlPlane(e.to_string()))?;
        rx.await
            .map_err(|_| Error::ControlPlane("the control thread panicked".into()))?
    }
}

/// The outputs the options ask for, plus the builder's own: the console, CSV and JSON in
/// standalone, Prometheus in either mode.
fn start_outputs(
    opts: &Options,
    mut custom: Vec<Box<dyn output::Output>>,
) -> Result<output::Outputs, Error> {
    let mut outputs: Vec<Box<dyn output::Output>> = Vec::new();
    if opts.standalone {
        stats::set_high_resolution(true);
        outputs.push(Box::new(output::Console::new(opts.only_summary)));
        if let Some(prefix) = &opts.csv_prefix {
            let files = output::CsvFiles::create(prefix, opts.csv_full_history)
                .map_err(|e| Error::Output(format!("cannot create {prefix}_*.csv: {e}")))?;
            outputs.push(Box::new(files));
        }
        if opts.json || opts.json_file.is_some() {
            let json = output::JsonSummary::new(opts.json, opts.json_file.clone())
                .map_err(|e| Error::Output(e.to_string()))?;
            outputs.push(Box::new(json));
        }
    }
    if let Some(addr) = opts.prometheus_listen {
        let prom = output::Prometheus::bind(addr).map_err(|e| {
            Error::Output(format!("cannot serve Prometheus metrics on {addr}: {e}"))
        })?;
        outputs.push(Box::new(prom));
    }
    if let Some(url) = &opts.prometheus_pushgateway {
        let push = output::Pushgateway::new(url, &opts.prometheus_job).map_err(Error::Output)?;
        outputs.push(Box::new(push));
    }
    outputs.append(&mut custom);
    let info = output::RunInfo {
        start_time: stats::now_epoch(),
        standalone: opts.standalone,
        users: opts.users,
        spawn_rate: opts.spawn_rate,
        run_time: opts.run_time,
    };
    output::Outputs::start(outputs, info)
        .map_err(|e| Error::Output(format!("cannot start the outputs' thread: {e}")))
}

/// `--run-tasks`: runs each named task once, without a master, each on a fresh user, and
/// prints what it recorded.
async fn run_tasks(registry: &Registry, opts: &Options) -> Result<(), Error> {
    let mut out = std::io::stdout();
    users::run_tasks(registry, &opts.run_tasks, opts.host.as_deref(), &mut out)
        .await
        .map_err(|name| {
            let names = registry
                .tasks
                .iter()
                .map(|t| match t.class {
                    Some(_) => format!("{}.{}", registry.class_name(t.class), t.name),
                    None => t.name.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ");
            Error::UnknownTask(name, names)
        })
}

/// `fn main` of `boomer::main!()`: parses the command line, sets up logging, builds a
/// multi-threaded runtime and runs the worker. Exit code 0 on quit, 1 on a start-up error.
pub fn run_main(builder: Builder) -> ExitCode {
    let options = match Options::parse_args(std::env::args_os(), builder.standalone_default) {
        Ok(options) => options,
        Err(e) => e.exit(),
    };
    init_logging(&options.loglevel);
    let failure_code = options.exit_code_on_error;
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(builder.options(options).run()) {
        Ok(Exit::MasterLost) => ExitCode::from(3),
        Ok(Exit::Failures) => ExitCode::from(failure_code),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr through `tracing`, at `level`: a level as `-L` takes it (Locust's DEBUG, INFO,
/// WARNING, ERROR, CRITICAL in any case, or trace, warn, off) or a filter of such levels per
/// module (`info,boomer_core=debug`); anything else logs at info, and says so.
pub fn init_logging(level: &str) {
    use tracing_subscriber::EnvFilter;
    // Locust's level names too (`WARNING`, `CRITICAL`), as `-L` takes them.
    let filter = config::parse_loglevel(level)
        .ok()
        .and_then(|directive| EnvFilter::try_new(directive).ok())
        .unwrap_or_else(|| {
            eprintln!("unknown log level {level:?}; using info");
            EnvFilter::new("info")
        });
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr),
        )
        .with(master_log_layer())
        .try_init();
}

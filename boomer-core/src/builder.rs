//! The library API's entry point: [`Boomer::builder`], a [`Builder`] of tasks, classes,
//! handlers, options and outputs, and how it starts the users and the control plane.

use std::process::ExitCode;
use std::sync::Arc;

use crate::bus::EventBus;
use crate::host::HostCell;
#[cfg(feature = "http")]
use crate::http;
use crate::users::Users;
use crate::{
    config, output, standalone, worker, ArgsError, Error, Exit, Handler, Options, RateLimiter,
    Registry, Task, UserClass,
};

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
    pub(crate) standalone_default: bool,
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
    pub fn args<I, S>(mut self, args: I) -> Result<Self, ArgsError>
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
        crate::cli::run_main(self)
    }

    /// Runs the worker on the current tokio runtime (users) and a thread of its own (the
    /// control plane) until the master says quit or the process gets SIGINT/SIGTERM.
    pub async fn run(self) -> Result<Exit, Error> {
        self.registry.validate()?;
        #[cfg(feature = "http")]
        {
            let config = self.options.http.config().merged(self.http.clone());
            let shared = config.build().map_err(crate::OptionsError::from)?;
            http::install_config(shared);
        }
        if !self.options.run_tasks.is_empty() {
            crate::run_tasks::run(&self.registry, &self.options).await?;
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
        host.set(self.options.load.host.clone());
        let limiter = match self.limiter {
            Some(l) => Some(l),
            None => self
                .options
                .load
                .rate_limiter()?
                .map(|l| Arc::new(l) as Arc<dyn RateLimiter>),
        };
        let registry = Arc::new(self.registry);
        let mut users = Users::new(rt.clone(), registry.clone(), host.clone(), limiter);
        let load = &self.options.load;
        users
            .set_arrival_options(
                &load.arrival_rate,
                load.arrival_max_lag,
                load.latency_from != "sent",
            )
            .map_err(crate::OptionsError::ArrivalRate)?;
        let bus = EventBus::start(&rt, registry.handlers.clone());
        let outputs = output::from_options(&self.options, self.outputs)?;
        spawn_control_plane(self.options, users, bus, host, outputs).await
    }
}

/// Runs the control plane (the worker's talk with the master, or the standalone runner) on
/// a thread and a current-thread runtime of its own, so that no user's task can delay a
/// heartbeat; returns once it ends.
async fn spawn_control_plane(
    opts: Options,
    users: Users,
    bus: EventBus,
    host: Arc<HostCell>,
    outputs: output::Outputs,
) -> Result<Exit, Error> {
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
                        if opts.run.standalone {
                            standalone::run(opts, users, bus, outputs).await
                        } else {
                            let worker = worker::Worker::new(opts, users, bus, host);
                            worker.with_outputs(outputs).run().await
                        }
                    });
                    let _ = tx.send(Ok(exit));
                }
                Err(e) => {
                    let _ = tx.send(Err(Error::ControlPlane(e)));
                }
            }
        })
        .map_err(Error::ControlPlane)?;
    rx.await.map_err(|_| Error::ControlPlanePanicked)?
}

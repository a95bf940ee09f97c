//! `fn main` for a worker binary: the command line, logging to stderr (and to the master's
//! Logs tab), the multi-threaded runtime the users run on, and the exit code.

use std::process::ExitCode;

use crate::{config, master_log_layer, Builder, Options};

/// `fn main` of `boomer::main!()`: parses the command line, sets up logging, builds a
/// multi-threaded runtime and runs the worker. Exit code 0 on quit, 1 on a start-up error, else
/// [`Exit::code`](crate::Exit::code)'s.
pub fn run_main(builder: Builder) -> ExitCode {
    let options = match Options::parse_args(std::env::args_os(), builder.standalone_default) {
        Ok(options) => options,
        Err(e) => e.exit(),
    };
    init_logging(&options.loglevel);
    let failure_code = options.output.exit_code_on_error;
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
        Ok(exit) => ExitCode::from(exit.code(failure_code)),
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

//! Command-line options and environment variables.

use std::time::Duration;

use clap::Parser;

use crate::ratelimit::{parse_ramp, SmoothRateLimiter};

/// The worker's options: the command line of every `boomer::main!()` binary.
#[derive(Parser, Debug, Clone)]
#[command(about = "A Locust worker written in Rust with boomer", long_about = None)]
pub struct Options {
    /// Host or IP of the Locust master.
    #[arg(long, env = "LOCUST_MASTER_NODE_HOST", default_value = "127.0.0.1")]
    pub master_host: String,

    /// Port of the Locust master (its --master-bind-port).
    #[arg(long, env = "LOCUST_MASTER_NODE_PORT", default_value_t = 5557)]
    pub master_port: u16,

    /// Run these tasks once each (comma-separated names) without a master, print what they
    /// recorded, and exit.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub run_tasks: Vec<String>,

    /// Host to test when the master sends none (ctx.host()).
    #[arg(short = 'H', long)]
    pub host: Option<String>,

    /// Log level: error, warn, info, debug or trace (or a tracing filter).
    #[arg(short = 'L', long, env = "BOOMER_LOGLEVEL", default_value = "info")]
    pub loglevel: String,

    /// Seconds without a heartbeat from the master (once one arrived) before the users are
    /// stopped and the worker reconnects. 0 turns the check off.
    #[arg(long, env = "LOCUST_MASTER_HEARTBEAT_TIMEOUT", default_value_t = 60.0)]
    pub master_heartbeat_timeout: f64,

    /// Run only the tasks with any of these tags (the master's --tags win when it sends some).
    #[arg(short = 'T', long, num_args = 1.., value_name = "TAG")]
    pub tags: Vec<String>,

    /// Skip the tasks with any of these tags.
    #[arg(short = 'E', long, num_args = 1.., value_name = "TAG")]
    pub exclude_tags: Vec<String>,

    /// At most this many task runs per second across all users (0: no limit).
    #[arg(long, default_value_t = 0.0)]
    pub max_rps: f64,

    /// Ramp the task rate up: `N` or `N/<duration>` (e.g. `100/1s`, `10/1m`) more per
    /// period, up to --max-rps.
    #[arg(long, value_name = "RATE")]
    pub request_increase_rate: Option<String>,

    /// Exit (code 3) instead of reconnecting when the master is lost, for orchestrators
    /// that restart workers themselves.
    #[arg(long)]
    pub exit_on_master_loss: bool,

    /// Run without a master: a local runner ramps the users up and stops at the run time
    /// or Ctrl-C, printing Locust's console tables.
    #[arg(long, help_heading = "Standalone")]
    pub standalone: bool,

    /// Standalone: the number of users.
    #[arg(
        short = 'u',
        long,
        env = "LOCUST_USERS",
        default_value_t = 1,
        help_heading = "Standalone"
    )]
    pub users: u32,

    /// Standalone: users started per second.
    #[arg(
        short = 'r',
        long,
        env = "LOCUST_SPAWN_RATE",
        default_value_t = 1.0,
        help_heading = "Standalone"
    )]
    pub spawn_rate: f64,

    /// Standalone: stop after this long, e.g. 300s, 20m, 1h30m (default: until Ctrl-C).
    #[arg(short = 't', long, env = "LOCUST_RUN_TIME", value_parser = parse_timespan, help_heading = "Standalone")]
    pub run_time: Option<Duration>,

    /// Standalone: write PREFIX_stats.csv, _failures.csv, _exceptions.csv and
    /// _stats_history.csv, as Locust does.
    #[arg(long = "csv", value_name = "PREFIX", help_heading = "Output")]
    pub csv_prefix: Option<String>,

    /// Standalone: print the final stats as JSON to stdout.
    #[arg(long, help_heading = "Output")]
    pub json: bool,

    /// Standalone: write the final stats as JSON to NAME.json.
    #[arg(long, value_name = "NAME", help_heading = "Output")]
    pub json_file: Option<String>,

    /// Standalone: print only the summary at the end, not the table every 2 s.
    #[arg(long, help_heading = "Output")]
    pub only_summary: bool,

    /// Standalone: the exit code when there were failures.
    #[arg(long, default_value_t = 1, help_heading = "Output")]
    pub exit_code_on_error: u8,

    /// Serve the current stats in the Prometheus text format on this address (e.g.
    /// 127.0.0.1:9646), standalone or worker.
    #[arg(long, value_name = "ADDR", help_heading = "Output")]
    pub prometheus_listen: Option<std::net::SocketAddr>,

    /// Push the current stats to this Prometheus Pushgateway (http://HOST:PORT) at every
    /// report, as Go boomer's PrometheusPusherOutput; standalone or worker.
    #[arg(long, value_name = "URL", help_heading = "Output")]
    pub prometheus_pushgateway: Option<String>,

    /// The job name of the pushes to the Pushgateway.
    #[arg(long, default_value = "boomer", help_heading = "Output")]
    pub prometheus_job: String,

    /// boomer::http: TLS and HTTP/2.
    #[cfg(feature = "http")]
    #[command(flatten)]
    pub http: crate::http::HttpOptions,
}

/// Locust's `parse_timespan`: `20` (seconds), `20s`, `3m`, `2h`, `1h20m`, `3h30m10s`
/// (and Go-style units such as `1.5s` or `500ms`).
///
/// ```
/// use std::time::Duration;
/// use boomer_core::parse_timespan;
/// assert_eq!(parse_timespan("1h30m"), Ok(Duration::from_secs(5400)));
/// assert_eq!(parse_timespan("20"), Ok(Duration::from_secs(20)));
/// assert!(parse_timespan("10 minutes").is_err());
/// ```
pub fn parse_timespan(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    match text.parse::<u64>() {
        Ok(secs) => Ok(Duration::from_secs(secs)),
        // Locust's units (h, m, s) are a subset of the Go-style durations of --max-rps ramps.
        Err(_) => crate::ratelimit::parse_duration(text)
            .map_err(|e| format!("invalid time span ({e}): use e.g. 20, 20s, 3m, 1h30m")),
    }
}

impl Default for Options {
    fn default() -> Self {
        Options::parse_from(["boomer"])
    }
}

impl Options {
    /// Parses a command line (the first item is the program name). With
    /// `standalone_default`, the run is standalone unless a master is named.
    pub(crate) fn parse_args<I, S>(args: I, standalone_default: bool) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Options::command().try_get_matches_from(args)?;
        let mut options = Options::from_arg_matches(&matches)?;
        let master_named =
            matches.value_source("master_host") != Some(clap::parser::ValueSource::DefaultValue);
        if standalone_default && !master_named {
            options.standalone = true;
        }
        Ok(options)
    }

    /// The master's ZeroMQ endpoint.
    pub fn endpoint(&self) -> String {
        let host = if self.master_host.contains(':') && !self.master_host.starts_with('[') {
            format!("[{}]", self.master_host)
        } else {
            self.master_host.clone()
        };
        format!("tcp://{host}:{}", self.master_port)
    }

    /// The rate limiter the flags ask for, if any.
    pub(crate) fn rate_limiter(&self) -> Result<Option<SmoothRateLimiter>, String> {
        let max = if self.max_rps > 0.0 {
            self.max_rps
        } else {
            f64::INFINITY
        };
        match &self.request_increase_rate {
            Some(rate) if rate != "-1" => {
                let (step, period) =
                    parse_ramp(rate).map_err(|e| format!("--request-increase-rate {e}"))?;
                Ok(Some(SmoothRateLimiter::ramp_up(max, step, period)))
            }
            _ if self.max_rps > 0.0 => Ok(Some(SmoothRateLimiter::new(max))),
            _ => Ok(None),
        }
    }

    pub(crate) fn heartbeat_timeout(&self) -> Option<Duration> {
        (self.master_heartbeat_timeout > 0.0)
            .then(|| Duration::try_from_secs_f64(self.master_heartbeat_timeout).ok())
            .flatten()
    }
}

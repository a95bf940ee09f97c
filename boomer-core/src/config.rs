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

    /// Ramp the task rate up: "N" or "N/<duration>" (e.g. "100/1s", "10/1m") more per
    /// period, up to --max-rps.
    #[arg(long, value_name = "RATE")]
    pub request_increase_rate: Option<String>,

    /// Exit (code 3) instead of reconnecting when the master is lost, for orchestrators
    /// that restart workers themselves.
    #[arg(long)]
    pub exit_on_master_loss: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options::parse_from(["boomer"])
    }
}

impl Options {
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

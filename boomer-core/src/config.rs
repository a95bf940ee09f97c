//! Command-line options and environment variables.

use std::time::Duration;

use clap::Parser;

use crate::ratelimit::{parse_ramp, ParseError, SmoothRateLimiter};

/// The worker's options: the command line of every `boomer::main!()` binary.
#[derive(Parser, Debug, Clone)]
#[command(
    about = "A Locust worker written in Rust with boomer",
    long_about = None,
    // `-u -1` is a (refused) number of users, not an unknown flag `-1`.
    allow_negative_numbers = true
)]
pub struct Options {
    /// The master to join, and what to do when it is lost.
    #[command(flatten)]
    pub master: MasterArgs,

    /// What the users run and how fast: the host, the tags, the task rate.
    #[command(flatten)]
    pub load: LoadArgs,

    /// A run without a master: its users, ramp and length.
    #[command(flatten)]
    pub run: StandaloneArgs,

    /// Where results go besides the master: files, the console, Prometheus.
    #[command(flatten)]
    pub output: OutputArgs,

    /// Run these tasks once each (comma-separated names) without a master, print what they
    /// recorded, and exit.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub run_tasks: Vec<String>,

    /// Log level: Locust's DEBUG, INFO, WARNING, ERROR or CRITICAL (any case), or trace,
    /// warn, off, or a filter of such levels per module (`info,boomer_core=debug`).
    #[arg(short = 'L', long, env = "BOOMER_LOGLEVEL", default_value = "info", value_parser = parse_loglevel)]
    pub loglevel: String,

    /// Print the master's locustfile for this worker's user classes (their names, weights,
    /// fixed counts, tags and hosts, each task a no-op there), and exit.
    #[arg(long)]
    pub print_locustfile: bool,

    /// boomer::http: TLS and HTTP/2.
    #[cfg(feature = "http")]
    #[command(flatten)]
    pub http: crate::http::HttpOptions,
}

/// The master to join, and what to do when it is lost.
#[derive(clap::Args, Debug, Clone)]
pub struct MasterArgs {
    /// Host or IP of the Locust master.
    #[arg(long, env = "LOCUST_MASTER_NODE_HOST", default_value = "127.0.0.1")]
    pub master_host: String,

    /// Port of the Locust master (its --master-bind-port).
    #[arg(long, env = "LOCUST_MASTER_NODE_PORT", default_value_t = 5557)]
    pub master_port: u16,

    /// Seconds without a heartbeat from the master (once one arrived) before the users are
    /// stopped and the worker reconnects. 0 turns the check off.
    #[arg(long, env = "LOCUST_MASTER_HEARTBEAT_TIMEOUT", default_value_t = 60.0)]
    pub master_heartbeat_timeout: f64,

    /// Exit (code 3) instead of reconnecting when the master is lost, for orchestrators
    /// that restart workers themselves.
    #[arg(long)]
    pub exit_on_master_loss: bool,
}

/// What the users run and how fast: the host, the tags, the task rate.
#[derive(clap::Args, Debug, Clone)]
pub struct LoadArgs {
    /// Host to test when the master sends none (ctx.host()).
    #[arg(short = 'H', long)]
    pub host: Option<String>,

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

    /// Open model: iterations per second for the whole fleet, or stages that ramp it
    /// (`400`, `600/m`, `0, 30s:400, 5m:400, 30s:0`), for the classes with `arrival_rate`
    /// (for every class when none has it), or `CLASS=RATE` for one class (repeatable, or
    /// `;`-separated). The master's `--arrival-rate` option wins when it sends one.
    #[arg(long, value_name = "[CLASS=]RATE", value_parser = parse_arrival_rate)]
    pub arrival_rate: Vec<String>,

    /// Open model: an iteration not started this long after it came due (every user of
    /// its class busy) is dropped, and counted as such.
    #[arg(long, value_name = "TIME", default_value = "5s", value_parser = parse_timespan)]
    pub arrival_max_lag: Duration,

    /// Open model: response times count from when the iteration was due (`due`, free of
    /// coordinated omission), or from when the request was sent (`sent`).
    #[arg(long, default_value = "due", value_parser = ["due", "sent"])]
    pub latency_from: String,
}

/// `--arrival-rate`: checked here, parsed again where it is used.
fn parse_arrival_rate(text: &str) -> Result<String, String> {
    crate::users::arrival::RateSpecs::parse(text)?;
    Ok(text.to_string())
}

/// A run without a master: its users, ramp and length.
#[derive(clap::Args, Debug, Clone)]
pub struct StandaloneArgs {
    /// Run without a master: a local runner ramps the users up and stops at the run time
    /// or Ctrl-C, printing Locust's console tables.
    #[arg(long, help_heading = "Standalone")]
    pub standalone: bool,

    /// Standalone: accepted for Locust command lines (standalone is headless).
    #[arg(long, help_heading = "Standalone")]
    pub headless: bool,

    /// Standalone: the number of users.
    #[arg(
        short = 'u',
        long,
        env = "LOCUST_USERS",
        default_value_t = 1,
        value_parser = parse_users,
        help_heading = "Standalone"
    )]
    pub users: u32,

    /// Standalone: users started per second.
    #[arg(
        short = 'r',
        long,
        env = "LOCUST_SPAWN_RATE",
        default_value_t = 1.0,
        value_parser = parse_spawn_rate,
        help_heading = "Standalone"
    )]
    pub spawn_rate: f64,

    /// Standalone: stop after this long, e.g. 300s, 20m, 1h30m (default, and 0: until
    /// Ctrl-C, as Locust).
    #[arg(short = 't', long, env = "LOCUST_RUN_TIME", value_parser = parse_timespan, help_heading = "Standalone")]
    pub run_time: Option<Duration>,

    /// Standalone: how long users may finish their current task when the test stops
    /// (e.g. 10, 30s; default 0: stop at once), as Locust's --stop-timeout.
    #[arg(long, env = "LOCUST_STOP_TIMEOUT", value_parser = parse_timespan, value_name = "TIME", help_heading = "Standalone")]
    pub stop_timeout: Option<Duration>,

    /// Reset the statistics once all users are spawned, as Locust's --reset-stats.
    #[arg(long, env = "LOCUST_RESET_STATS", help_heading = "Standalone")]
    pub reset_stats: bool,
}

/// Where results go besides the master: files, the console, Prometheus.
#[derive(clap::Args, Debug, Clone)]
pub struct OutputArgs {
    /// Standalone: write PREFIX_stats.csv, _failures.csv, _exceptions.csv and
    /// _stats_history.csv, as Locust does.
    #[arg(long = "csv", value_name = "PREFIX", value_parser = non_empty("--csv"), help_heading = "Output")]
    pub csv_prefix: Option<String>,

    /// Standalone: a row per request name in PREFIX_stats_history.csv too, as Locust's
    /// --csv-full-history (needs --csv).
    #[arg(long, requires = "csv_prefix", help_heading = "Output")]
    pub csv_full_history: bool,

    /// Standalone: write an HTML report to FILE at the end (self-contained: charts,
    /// Locust's tables, the thresholds and the run's parameters), as Locust's --html.
    #[arg(long, value_name = "FILE", value_parser = non_empty("--html"), help_heading = "Output")]
    pub html: Option<String>,

    /// Standalone: print the final stats as JSON to stdout (the tables go to stderr).
    #[arg(long, help_heading = "Output")]
    pub json: bool,

    /// Standalone: write the final stats as JSON to NAME.json.
    #[arg(long, value_name = "NAME", value_parser = non_empty("--json-file"), help_heading = "Output")]
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

    /// A pass/fail criterion, `[NAME:]METRIC OP VALUE` (`p95<300ms`, `fail_ratio<1%`,
    /// `rps>1000`, `"GET /cart:avg<50ms"`), judged live on the totals since the start and at
    /// the end (exit code 10 + the index of the first that failed); repeatable. A worker
    /// judges its own share and logs a breach (to its master's Logs tab too).
    #[arg(long = "threshold", value_name = "SPEC", value_parser = parse_threshold, help_heading = "Thresholds")]
    pub thresholds: Vec<crate::threshold::Threshold>,

    /// Standalone: stop the test at the first breached threshold (after --threshold-grace).
    #[arg(long, requires = "thresholds", help_heading = "Thresholds")]
    pub threshold_abort: bool,

    /// Standalone: no --threshold-abort before this long into the test (e.g. 30s, 1m;
    /// default 0), while the users ramp up.
    #[arg(long, value_parser = parse_timespan, value_name = "TIME", requires = "threshold_abort", help_heading = "Thresholds")]
    pub threshold_grace: Option<Duration>,
}

fn parse_threshold(text: &str) -> Result<crate::threshold::Threshold, ParseError> {
    text.parse()
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
pub fn parse_timespan(text: &str) -> Result<Duration, ParseError> {
    let text = text.trim();
    match text.parse::<u64>() {
        Ok(secs) => Ok(Duration::from_secs(secs)),
        // Locust's units (h, m, s) are a subset of the Go-style durations of --max-rps ramps.
        Err(_) => crate::ratelimit::parse_duration(text).map_err(|e| {
            ParseError(format!(
                "invalid time span ({e}): use e.g. 20, 20s, 3m, 1h30m"
            ))
        }),
    }
}

/// Why the options cannot run: what the command line (or [`Options`]) asks for is
/// inconsistent or unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// `--request-increase-rate` is not a ramp.
    #[error("--request-increase-rate {0}")]
    IncreaseRate(#[source] ParseError),
    /// `--arrival-rate` is not a rate or a list of stages.
    #[error("{0}")]
    ArrivalRate(String),
    /// The HTTP client cannot be set up as asked (a CA or client certificate, ...).
    #[cfg(feature = "http")]
    #[error(transparent)]
    Http(#[from] crate::http::HttpError),
}

/// `-L`: Locust's level names (DEBUG, INFO, WARNING, ERROR, CRITICAL) in any case, the
/// `tracing` ones (trace, warn, off), or a comma-separated filter of them per module
/// (`info,boomer_core=debug`); the tracing directive it stands for. Anything else is an
/// error, not a filter that silently shows nothing (tracing reads `inf` as a module name).
pub(crate) fn parse_loglevel(text: &str) -> Result<String, String> {
    fn level(name: &str) -> Option<&'static str> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "trace" => "trace",
            "debug" => "debug",
            "info" => "info",
            "warn" | "warning" => "warn",
            "error" | "critical" | "fatal" => "error",
            "off" => "off",
            _ => return None,
        })
    }
    let bad = || {
        format!(
            "unknown log level {text:?}: use DEBUG, INFO, WARNING, ERROR or CRITICAL (any case), \
             or a filter such as info,boomer_core=debug"
        )
    };
    let mut parts = Vec::new();
    for part in text.split(',') {
        let directive = match part.split_once('=') {
            Some((target, lvl)) if !target.trim().is_empty() => {
                format!("{}={}", target.trim(), level(lvl).ok_or_else(bad)?)
            }
            Some(_) => return Err(bad()),
            None => level(part).ok_or_else(bad)?.to_string(),
        };
        parts.push(directive);
    }
    Ok(parts.join(","))
}

fn parse_users(text: &str) -> Result<u32, String> {
    text.trim().parse().map_err(|_| {
        format!(
            "the number of users must be a whole number from 0 to {}, not {text:?}",
            u32::MAX
        )
    })
}

/// `-r`: a finite number of users per second above 0 (NaN, inf and negative rates are
/// refused: they used to start every user at once).
fn parse_spawn_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "the spawn rate must be a number of users per second above 0 (e.g. 10 or 0.5), \
             not {text:?}"
        )),
    }
}

/// A value that must not be empty (`--csv ""` would write `_stats.csv` files named after
/// nothing in the current folder).
fn non_empty(flag: &'static str) -> impl Fn(&str) -> Result<String, String> + Clone {
    move |text: &str| {
        if text.trim().is_empty() {
            Err(format!("{flag} needs a name (e.g. {flag} results/run)"))
        } else {
            Ok(text.to_string())
        }
    }
}

/// The options a worker refuses, with their flags: the master decides these.
const STANDALONE_ONLY: [(&str, &str); 10] = [
    ("users", "-u/--users"),
    ("spawn_rate", "-r/--spawn-rate"),
    ("run_time", "-t/--run-time"),
    ("stop_timeout", "--stop-timeout"),
    ("csv_prefix", "--csv"),
    ("csv_full_history", "--csv-full-history"),
    ("json", "--json"),
    ("json_file", "--json-file"),
    ("only_summary", "--only-summary"),
    ("html", "--html"),
];

/// The options of a command line with no arguments, whatever the environment says
/// (`LOCUST_*` variables apply to a parsed command line, not to `Options::default()`).
///
/// ```
/// std::env::set_var("LOCUST_USERS", "7");
/// assert_eq!(boomer_core::Options::default().run.users, 1);
/// ```
impl Default for Options {
    fn default() -> Self {
        use clap::{CommandFactory, FromArgMatches};
        let command = Options::command().mut_args(|arg| arg.env(None));
        let matches = command.get_matches_from(["boomer"]);
        Options::from_arg_matches(&matches).expect("the defaults parse")
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
            options.run.standalone = true;
        }
        let invalid = |msg: String| {
            let mut cmd = Options::command();
            cmd.error(clap::error::ErrorKind::ArgumentConflict, msg)
        };
        if !options.run.standalone && !options.print_locustfile && options.run_tasks.is_empty() {
            let given: Vec<&str> = STANDALONE_ONLY
                .iter()
                .filter(|(id, _)| {
                    matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
                })
                .map(|(_, flag)| *flag)
                .collect();
            if !given.is_empty() {
                return Err(invalid(format!(
                    "{} only apply to a standalone run: a worker runs the users, run time and \
                     outputs its master asks for. Give them to the master (e.g. `locust -f \
                     locustfile.py --master --headless -u 20 -t 3m --csv run`), or add \
                     --standalone to run without a master",
                    given.join(", ")
                )));
            }
        }
        if options.output.threshold_abort && !options.run.standalone {
            return Err(invalid(
                "--threshold-abort only applies to a standalone run: with a master, the master \
                 ends the test (see the README's fleet-wide thresholds, a locustfile that \
                 judges the master's totals); a worker's --threshold logs each breach of its own \
                 share to the master's Logs tab"
                    .into(),
            ));
        }
        // Locust: a run time of 0 is no limit.
        if options.run.run_time == Some(Duration::ZERO) {
            options.run.run_time = None;
        }
        Ok(options)
    }
}

impl MasterArgs {
    /// The master's ZeroMQ endpoint.
    pub fn endpoint(&self) -> String {
        let host = if self.master_host.contains(':') && !self.master_host.starts_with('[') {
            format!("[{}]", self.master_host)
        } else {
            self.master_host.clone()
        };
        format!("tcp://{host}:{}", self.master_port)
    }

    /// How long the master may be silent before it counts as lost (`None`: never).
    pub(crate) fn heartbeat_timeout(&self) -> Option<Duration> {
        (self.master_heartbeat_timeout > 0.0)
            .then(|| Duration::try_from_secs_f64(self.master_heartbeat_timeout).ok())
            .flatten()
    }
}

impl LoadArgs {
    /// The rate limiter the flags ask for, if any.
    pub(crate) fn rate_limiter(&self) -> Result<Option<SmoothRateLimiter>, OptionsError> {
        let max = if self.max_rps > 0.0 {
            self.max_rps
        } else {
            f64::INFINITY
        };
        match &self.request_increase_rate {
            Some(rate) if rate != "-1" => {
                let (step, period) = parse_ramp(rate).map_err(OptionsError::IncreaseRate)?;
                Ok(Some(SmoothRateLimiter::ramp_up(max, step, period)))
            }
            _ if self.max_rps > 0.0 => Ok(Some(SmoothRateLimiter::new(max))),
            _ => Ok(None),
        }
    }
}

/// The class name the master's locustfile gives the tasks that take no user state (any
/// name reaches them: see `users::Plan::resolve`).
const DEFAULT_CLASS_NAME: &str = "RustUser";

/// `--print-locustfile`: the master's locustfile for `registry`'s user classes, so that the
/// master hands out users by the same names, weights and fixed counts, and filters the
/// same tags (`--tags`/`--exclude-tags` drop a class whose tasks they all filter out, so
/// each Rust task is a no-op task there, with its weight and tags). Every class has a task:
/// the master refuses a class without one ("had no tasks left after filtering").
/// The master's side of the open model: `--arrival-rate` as a custom argument of its
/// locustfile, which its web UI shows and every spawn carries (`parsed_options`).
pub(crate) const ARRIVAL_RATE_ARGUMENT: &str = "\
# boomer's open model: the fleet's arrival rate, set here (web UI or command line) for
# every worker, each of which runs its share (empty: the workers' own rates apply).
@events.init_command_line_parser.add_listener
def _(parser):
    parser.add_argument(\"--arrival-rate\", default=\"\", help=\"iterations per second for the whole fleet, or stages: 0, 30s:400, 5m:400 (CLASS=RATE for one class)\")
";

pub(crate) fn master_locustfile(registry: &crate::Registry, program: &str) -> String {
    use crate::locust::python_repr;
    use std::fmt::Write as _;
    let mut out = format!(
        "# The master's side of the boomer worker {program}: its user classes, as the master\n\
         # must know them (names, weights, fixed counts, tags). Written by\n\
         # `{program} --print-locustfile`; the tasks run in the Rust worker, not here.\n\
         #   locust -f locustfile.py --master\n"
    );
    if registry.classes.iter().any(|c| c.arrival_rate.is_some()) {
        out.push_str(&format!(
            "from locust import User, events, tag, task\n\n\n{ARRIVAL_RATE_ARGUMENT}"
        ));
    } else {
        out.push_str("from locust import User, tag, task\n");
    }
    let mut classes: Vec<(&str, Option<&crate::UserClass>)> = registry
        .classes
        .iter()
        .map(|c| (c.name.as_str(), Some(c)))
        .collect();
    if registry.tasks.iter().any(|t| t.class.is_none()) {
        classes.push((DEFAULT_CLASS_NAME, None));
    }
    for (name, class) in classes {
        let type_id = class.and_then(|c| c.type_id);
        let ident = python_identifier(name);
        let _ = write!(out, "\n\nclass {ident}(User):\n");
        match class {
            Some(_) => {
                let _ = writeln!(
                    out,
                    "    \"\"\"Runs in the Rust worker; the master only counts it.\"\"\"\n"
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "    \"\"\"The worker's tasks that take no user state: any class name the master\n    \
                     sends reaches them.\"\"\"\n"
                );
            }
        }
        let weight = class.map_or(1, |c| c.weight);
        let _ = writeln!(out, "    weight = {weight}");
        if let Some(c) = class {
            if c.fixed_count > 0 {
                let _ = writeln!(out, "    fixed_count = {}", c.fixed_count);
            }
            if let Some(host) = &c.host {
                let _ = writeln!(out, "    host = {}", python_repr(host));
            }
        }
        let class_tags: &[String] = class.map_or(&[], |c| &c.tags);
        let mut seen = std::collections::BTreeSet::new();
        for t in registry.tasks.iter().filter(|t| t.class == type_id) {
            let mut tags: Vec<&str> = t
                .tags
                .iter()
                .chain(class_tags)
                .map(String::as_str)
                .collect();
            tags.sort_unstable();
            tags.dedup();
            let mut fn_name = python_identifier(&t.name.to_lowercase());
            while !seen.insert(fn_name.clone()) {
                fn_name.push('_');
            }
            out.push('\n');
            if !tags.is_empty() {
                let list: Vec<String> = tags.iter().map(|t| python_repr(t)).collect();
                let _ = writeln!(out, "    @tag({})", list.join(", "));
            }
            let _ = writeln!(out, "    @task({})", t.weight);
            let _ = writeln!(out, "    def {fn_name}(self):");
            let _ = writeln!(
                out,
                "        pass  # {}: runs in the Rust worker",
                t.name.replace('\n', " ")
            );
        }
        if ident != name {
            // The master hands out users by the class's __name__: the worker's own name.
            let _ = write!(out, "\n\n{ident}.__name__ = {}\n", python_repr(name));
        }
    }
    out
}

/// `name` as a Python identifier: characters other than ASCII letters, digits and `_` become
/// `_`, a leading digit gets one, and a keyword or a name the locustfile imports (`User`,
/// `tag`, `task`) gets a trailing one.
fn python_identifier(name: &str) -> String {
    const TAKEN: [&str; 38] = [
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
        "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
        "try", "while", "with", "yield", "User", "tag", "task",
    ];
    let mut id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if id.is_empty() || id.starts_with(|c: char| c.is_ascii_digit()) {
        id.insert(0, '_');
    }
    if TAKEN.contains(&id.as_str()) {
        id.push('_');
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, clap::Error> {
        Options::parse_args(std::iter::once("worker").chain(args.iter().copied()), false)
    }

    fn refused(args: &[&str]) -> String {
        let e = parse(args).expect_err("refused");
        assert_eq!(e.exit_code(), 2, "{e}");
        e.to_string()
    }

    #[test]
    fn log_levels_as_locust_spells_them() {
        for (given, want) in [
            ("WARNING", "warn"),
            ("warning", "warn"),
            ("CRITICAL", "error"),
            ("Debug", "debug"),
            ("INFO", "info"),
            ("error", "error"),
            ("trace", "trace"),
            ("info,boomer_core=DEBUG", "info,boomer_core=debug"),
        ] {
            let opts = parse(&["--standalone", "-L", given]).expect(given);
            assert_eq!(opts.loglevel, want, "-L {given}");
            assert!(tracing_subscriber::EnvFilter::try_new(&opts.loglevel).is_ok());
        }
        for bad in ["inf", "verbose", "boomer_core=loud", "=info", ""] {
            let msg = refused(&["--standalone", "-L", bad]);
            assert!(msg.contains("unknown log level"), "{bad}: {msg}");
        }
    }

    #[test]
    fn numbers_are_checked_with_clear_messages() {
        for bad in [["-r", "NaN"], ["-r", "inf"], ["-r", "-5"], ["-r", "0"]] {
            let msg = refused(&["--standalone", bad[0], bad[1]]);
            assert!(msg.contains("the spawn rate must be"), "{bad:?}: {msg}");
        }
        let msg = refused(&["--standalone", "-r=-5"]);
        assert!(msg.contains("the spawn rate must be"), "{msg}");
        let msg = refused(&["--standalone", "-u", "-1"]);
        assert!(msg.contains("the number of users must be"), "{msg}");
        let msg = refused(&["--standalone", "-t", "-5"]);
        assert!(msg.contains("invalid time span"), "{msg}");
        for flag in ["--csv", "--json-file"] {
            let msg = refused(&["--standalone", flag, ""]);
            assert!(msg.contains("needs a name"), "{flag}: {msg}");
        }
        assert_eq!(
            parse(&["--standalone", "-r", "0.5"])
                .unwrap()
                .run
                .spawn_rate,
            0.5
        );
    }

    #[test]
    fn locust_s_standalone_flags_are_taken() {
        let opts = parse(&[
            "--standalone",
            "--headless",
            "--stop-timeout",
            "10",
            "--reset-stats",
            "--csv",
            "run",
            "--csv-full-history",
            "-t",
            "0",
        ])
        .unwrap();
        assert!(opts.run.headless && opts.run.reset_stats && opts.output.csv_full_history);
        assert_eq!(opts.run.stop_timeout, Some(Duration::from_secs(10)));
        // Locust: -t 0 is no limit.
        assert_eq!(opts.run.run_time, None);
        assert_eq!(
            parse(&["--standalone", "-t", "1m30s"])
                .unwrap()
                .run
                .run_time,
            Some(Duration::from_secs(90))
        );
        let msg = refused(&["--standalone", "--csv-full-history"]);
        assert!(msg.contains("--csv"), "{msg}");
        assert!(parse(&["--standalone", "--html", "report.html"]).is_ok());
        let msg = refused(&["--standalone", "--html", ""]);
        assert!(msg.contains("--html needs a name"), "{msg}");
        let msg = refused(&["--html", "report.html"]);
        assert!(
            msg.contains("--html only apply to a standalone run"),
            "{msg}"
        );
    }

    #[test]
    fn a_worker_refuses_standalone_only_flags() {
        let msg = refused(&["-u", "20", "-t", "3s", "--csv", "x"]);
        assert!(
            msg.contains("-u/--users, -t/--run-time, --csv only apply to a standalone run"),
            "{msg}"
        );
        assert!(msg.contains("--standalone"), "{msg}");
        // The same flags are fine standalone, and a worker takes its own flags.
        assert!(parse(&["--standalone", "-u", "20", "-t", "3s", "--csv", "x"]).is_ok());
        assert!(parse(&["--master-host", "10.0.0.1", "--headless", "--reset-stats"]).is_ok());
        // A program that is standalone by default, pointed at a master: a worker.
        let e = Options::parse_args(["w", "--master-host", "10.0.0.1", "-u", "3"], true)
            .expect_err("refused");
        assert!(e.to_string().contains("-u/--users"), "{e}");
    }

    #[test]
    fn thresholds_are_checked_at_start_up() {
        let opts = parse(&[
            "--standalone",
            "--threshold",
            "p95<300ms",
            "--threshold",
            "GET /cart:fail_ratio<1%",
            "--threshold-abort",
            "--threshold-grace",
            "1m",
        ])
        .unwrap();
        let specs: Vec<&str> = opts.output.thresholds.iter().map(|t| t.spec()).collect();
        assert_eq!(specs, ["p95<300ms", "GET /cart:fail_ratio<1%"]);
        assert!(opts.output.threshold_abort);
        assert_eq!(opts.output.threshold_grace, Some(Duration::from_secs(60)));
        let msg = refused(&["--standalone", "--threshold", "p95<300 apples"]);
        assert!(
            msg.contains("invalid threshold \"p95<300 apples\""),
            "{msg}"
        );
        let msg = refused(&["--standalone", "--threshold-abort"]);
        assert!(msg.contains("--threshold <SPEC>"), "{msg}");
        let msg = refused(&[
            "--standalone",
            "--threshold",
            "p95<1",
            "--threshold-grace",
            "5",
        ]);
        assert!(msg.contains("--threshold-abort"), "{msg}");
        let msg = refused(&[
            "--standalone",
            "--threshold",
            "p95<1",
            "--threshold-abort",
            "--threshold-grace",
            "soon",
        ]);
        assert!(msg.contains("invalid time span"), "{msg}");
        // A worker judges its share, but the master ends the test.
        assert_eq!(
            parse(&["--threshold", "p95<1"])
                .unwrap()
                .output
                .thresholds
                .len(),
            1
        );
        let msg = refused(&["--threshold", "p95<1", "--threshold-abort"]);
        assert!(
            msg.contains("--threshold-abort only applies to a standalone run"),
            "{msg}"
        );
    }

    #[test]
    fn the_master_locustfile_matches_the_classes() {
        use crate::{Registry, Task, TaskFn, UserClass};
        struct Shop;
        let mut registry = Registry::default();
        registry.add_class(
            UserClass::new::<Shop>("Shopper", |_| Box::pin(async { Ok(Box::new(()) as _) }))
                .weight(3)
                .fixed_count(2)
                .tags(["web"]),
        );
        registry.add_task(
            Task::new("browse items", 5, TaskFn::Sync(|_| Ok(())))
                .for_class::<Shop>()
                .with_tags(["read"]),
        );
        struct Odd;
        registry.add_class(UserClass::new::<Odd>("Odd one", |_| {
            Box::pin(async { Ok(Box::new(()) as _) })
        }));
        registry.add_task(Task::new("odd", 1, TaskFn::Sync(|_| Ok(()))).for_class::<Odd>());
        registry.add_task(Task::new("ping", 1, TaskFn::Sync(|_| Ok(()))));
        registry.add_task(Task::new("Task", 2, TaskFn::Sync(|_| Ok(()))));
        registry.add_task(Task::new("1st class", 3, TaskFn::Sync(|_| Ok(()))));
        let text = master_locustfile(&registry, "load");
        for want in [
            "from locust import User, tag, task\n",
            "class Shopper(User):\n",
            "    weight = 3\n    fixed_count = 2\n",
            "    @tag('read', 'web')\n    @task(5)\n    def browse_items(self):\n        pass",
            "class RustUser(User):\n",
            "    @task(1)\n    def ping(self):\n",
            "    @task(2)\n    def task_(self):\n",
            "    @task(3)\n    def _1st_class(self):\n",
            "class Odd_one(User):\n",
            "\n\nOdd_one.__name__ = 'Odd one'\n",
        ] {
            assert!(text.contains(want), "{want:?} not in\n{text}");
        }
    }
}

//! The outputs a run's options ask for: how `--csv`, `--json`, `--prometheus-*` and the
//! console become [`Output`]s on the outputs' thread.

use super::{Console, CsvFiles, JsonSummary, Output, Outputs, Prometheus, Pushgateway, RunInfo};
use crate::{stats, Error, Options};

/// The outputs the options ask for, plus the builder's own: the console, CSV and JSON in
/// standalone, Prometheus in either mode.
pub(crate) fn from_options(
    opts: &Options,
    mut custom: Vec<Box<dyn Output>>,
) -> Result<Outputs, Error> {
    let mut outputs: Vec<Box<dyn Output>> = Vec::new();
    if opts.standalone {
        stats::set_high_resolution(true);
        outputs.push(Box::new(Console::new(opts.only_summary)));
        if let Some(prefix) = &opts.csv_prefix {
            let files = CsvFiles::create(prefix, opts.csv_full_history)
                .map_err(|e| output_error(format!("cannot create {prefix}_*.csv"), e))?;
            outputs.push(Box::new(files));
        }
        if opts.json || opts.json_file.is_some() {
            let json = JsonSummary::new(opts.json, opts.json_file.clone())
                .map_err(|e| output_error("cannot write the JSON summary".into(), e))?;
            outputs.push(Box::new(json));
        }
    }
    if let Some(addr) = opts.prometheus_listen {
        let prom = Prometheus::bind(addr)
            .map_err(|e| output_error(format!("cannot serve Prometheus metrics on {addr}"), e))?;
        outputs.push(Box::new(prom));
    }
    if let Some(url) = &opts.prometheus_pushgateway {
        let push = Pushgateway::new(url, &opts.prometheus_job)
            .map_err(|e| output_error(format!("cannot push to {url}"), e))?;
        outputs.push(Box::new(push));
    }
    outputs.append(&mut custom);
    let info = RunInfo {
        start_time: stats::now_epoch(),
        standalone: opts.standalone,
        users: opts.users,
        spawn_rate: opts.spawn_rate,
        run_time: opts.run_time,
    };
    Outputs::start(outputs, info)
        .map_err(|e| output_error("cannot start the outputs' thread".into(), e))
}

fn output_error(
    what: String,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> Error {
    Error::Output {
        what,
        source: source.into(),
    }
}

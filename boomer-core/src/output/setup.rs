//! The outputs a run's options ask for: how `--csv`, `--json`, `--html`, `--prometheus-*`
//! and the console become [`Output`]s on the outputs' thread.

use super::{
    Console, CsvFiles, HtmlReport, JsonSummary, Output, Outputs, Prometheus, Pushgateway, RunInfo,
};
use crate::{clock, stats, Error, Options};

/// The outputs the options ask for, plus the builder's own: the console, CSV, JSON and HTML
/// in standalone, Prometheus in either mode.
pub(crate) fn from_options(
    opts: &Options,
    mut custom: Vec<Box<dyn Output>>,
) -> Result<Outputs, Error> {
    let mut outputs: Vec<Box<dyn Output>> = Vec::new();
    if opts.run.standalone {
        stats::set_high_resolution(true);
        outputs.push(Box::new(Console::new(opts.output.only_summary)));
        if let Some(prefix) = &opts.output.csv_prefix {
            let files = CsvFiles::create(prefix, opts.output.csv_full_history)
                .map_err(|e| output_error(format!("cannot create {prefix}_*.csv"), e))?;
            outputs.push(Box::new(files));
        }
        if opts.output.json || opts.output.json_file.is_some() {
            let json = JsonSummary::new(opts.output.json, opts.output.json_file.clone())
                .map_err(|e| output_error("cannot write the JSON summary".into(), e))?;
            outputs.push(Box::new(json));
        }
        if let Some(path) = &opts.output.html {
            let html = HtmlReport::create(path)
                .map_err(|e| output_error("cannot write the HTML report".into(), e))?;
            outputs.push(Box::new(html));
        }
        if let (Some(name), false) = (&opts.output.json_file, opts.output.thresholds.is_empty()) {
            let file =
                crate::threshold::ThresholdsJson::create(name, opts.output.thresholds.clone())
                    .map_err(|e| output_error("cannot write the thresholds' JSON".into(), e))?;
            outputs.push(Box::new(file));
        }
    }
    if let Some(addr) = opts.output.prometheus_listen {
        let prom = Prometheus::bind(addr)
            .map_err(|e| output_error(format!("cannot serve Prometheus metrics on {addr}"), e))?;
        outputs.push(Box::new(prom));
    }
    if let Some(url) = &opts.output.prometheus_pushgateway {
        let push = Pushgateway::new(url, &opts.output.prometheus_job)
            .map_err(|e| output_error(format!("cannot push to {url}"), e))?;
        outputs.push(Box::new(push));
    }
    outputs.append(&mut custom);
    let info = RunInfo {
        start_time: clock::now_epoch(),
        standalone: opts.run.standalone,
        users: opts.run.users,
        spawn_rate: opts.run.spawn_rate,
        run_time: opts.run.run_time,
        host: opts.load.host.clone(),
        command_line: std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
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

//! `--json` (stdout) and `--json-file NAME` (NAME.json): the final stats as Locust's
//! `print_stats_json`/`save_stats_json` write them: a list of `StatsEntry.serialize()`.

use std::io::Write;

use super::{Output, Snapshot};

/// Writes the final per-entry stats as JSON, to stdout and/or a file.
pub(crate) struct JsonSummary {
    stdout: bool,
    file: Option<String>,
    last: Option<Snapshot>,
}

impl JsonSummary {
    pub(crate) fn new(stdout: bool, file: Option<String>) -> Self {
        JsonSummary {
            stdout,
            file,
            last: None,
        }
    }
}

impl Output for JsonSummary {
    fn on_report(&mut self, snapshot: Snapshot) {
        self.last = Some(snapshot);
    }

    fn on_stop(&mut self) {
        let Some(s) = self.last.take() else { return };
        let (entries, _, _) = s.totals.to_report(s.start_time);
        // Python's json.dumps(..., indent=4).
        let mut text = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut text, fmt);
        if let Err(e) = serde::Serialize::serialize(&entries, &mut ser) {
            tracing::error!("cannot encode the JSON summary: {e}");
            return;
        }
        if self.stdout {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&text);
            let _ = out.write_all(b"\n");
        }
        if let Some(name) = &self.file {
            let path = format!("{name}.json");
            if let Err(e) = std::fs::write(&path, &text) {
                tracing::error!("cannot write {path}: {e}");
            }
        }
    }
}

//! `--json` (stdout) and `--json-file NAME` (NAME.json): the final stats as Locust's
//! `print_stats_json`/`save_stats_json` write them: a list of `StatsEntry.serialize()`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};

use super::{Output, Snapshot};
use crate::protocol::window_report;

/// Per-second counts of one entry over the whole run (requests, failures).
type PerSecond = (BTreeMap<i64, u64>, BTreeMap<i64, u64>);

/// Writes the final per-entry stats as JSON, to stdout and/or a file.
pub(crate) struct JsonSummary {
    stdout: bool,
    file: Option<(String, File)>,
    last: Option<Snapshot>,
    /// The run-long `num_reqs_per_sec` / `num_fail_per_sec` that Locust's JSON carries (the
    /// outputs' totals keep only the last seconds): the one thing that grows with the run,
    /// 16 bytes per second and entry, and only with `--json` or `--json-file`.
    per_second: BTreeMap<(String, String), PerSecond>,
}

impl JsonSummary {
    /// Opens NAME.json now (when asked for), so that a bad path fails at start-up, as
    /// `--csv` does, not after the whole test.
    pub(crate) fn new(stdout: bool, file: Option<String>) -> io::Result<Self> {
        let file = match file {
            Some(name) => {
                let path = format!("{name}.json");
                let f = File::create(&path)
                    .map_err(|e| io::Error::new(e.kind(), format!("cannot create {path}: {e}")))?;
                Some((path, f))
            }
            None => None,
        };
        Ok(JsonSummary {
            stdout,
            file,
            last: None,
            per_second: BTreeMap::new(),
        })
    }
}

impl Output for JsonSummary {
    fn on_report(&mut self, snapshot: Snapshot) {
        for (key, e) in &snapshot.window.entries {
            let (reqs, fails) = self.per_second.entry(key.clone()).or_default();
            for (into, from) in [(reqs, &e.num_reqs_per_sec), (fails, &e.num_fail_per_sec)] {
                for (&t, &n) in from {
                    *into.entry(t).or_insert(0) += n;
                }
            }
        }
        self.last = Some(snapshot);
    }

    fn on_reset(&mut self) {
        self.per_second.clear();
    }

    fn on_stop(&mut self) {
        let Some(s) = self.last.take() else { return };
        let (mut entries, _, _) = window_report(&s.totals, s.start_time);
        // Locust's serialize_stats: entries with neither requests nor failures are left out.
        entries.retain(|e| e.num_requests > 0 || e.num_failures > 0);
        entries.sort_by(|a, b| (&a.name, &a.method).cmp(&(&b.name, &b.method)));
        for e in &mut entries {
            let key = (e.method.clone(), e.name.clone());
            if let Some((reqs, fails)) = self.per_second.remove(&key) {
                e.num_reqs_per_sec = reqs;
                e.num_fail_per_sec = fails;
            }
        }
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
            let _ = out.flush();
        }
        if let Some((path, file)) = &mut self.file {
            if let Err(e) = file.write_all(&text).and_then(|()| file.flush()) {
                tracing::error!("cannot write {path}: {e}");
            }
        }
    }
}

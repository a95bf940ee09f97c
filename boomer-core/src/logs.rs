//! Worker log lines at WARN and above, kept for the master's Logs tab (the `logs` message of
//! Locust 2.29 and later), as Python workers send theirs.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::clock;

/// As many lines as a Python worker keeps.
const MAX_LINES: usize = 500;
/// A kept line's longest message, in bytes (the rest is cut, and its length said): the
/// 500 lines then hold at most ~1 MB, whatever a handler logs.
pub(crate) const MAX_LINE_BYTES: usize = 2_000;
/// Locust's worker stops sending logs after more than this many new lines in one interval.
pub(crate) const MAX_NEW_LINES: u64 = 70;

static LINES: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());
static WRITTEN: AtomicU64 = AtomicU64::new(0);

/// A `tracing` layer that keeps WARN and ERROR events for the master's Logs tab.
/// `boomer::main!()` installs it; programs with their own subscriber add it with
/// `.with(boomer::master_log_layer())`.
pub fn master_log_layer() -> MasterLogLayer {
    MasterLogLayer
}

/// See [`master_log_layer`].
#[derive(Debug, Clone, Copy)]
pub struct MasterLogLayer;

impl<S: Subscriber> Layer<S> for MasterLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() > Level::WARN {
            return;
        }
        let mut message = Message(Capped::default());
        event.record(&mut message);
        let message = Message(message.0.finish());
        let level = if *meta.level() == Level::WARN {
            "WARNING"
        } else {
            "ERROR"
        };
        let line = format!(
            "[{}] {}/{level}/{}: {}",
            timestamp(),
            host(),
            meta.target(),
            message.0
        );
        let mut lines = LINES.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() == MAX_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
        WRITTEN.fetch_add(1, Ordering::Release);
    }
}

/// A `fmt::Write` that keeps the first [`MAX_LINE_BYTES`] bytes and counts the rest, so that
/// a huge message is never held whole.
#[derive(Default)]
struct Capped {
    text: String,
    cut: usize,
}

impl std::fmt::Write for Capped {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let room = MAX_LINE_BYTES.saturating_sub(self.text.len());
        if s.len() <= room && self.cut == 0 {
            self.text.push_str(s);
        } else {
            let mut end = room.min(s.len());
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            if self.cut == 0 {
                self.text.push_str(&s[..end]);
            } else {
                end = 0;
            }
            self.cut = self.cut.saturating_add(s.len() - end);
        }
        Ok(())
    }
}

impl Capped {
    fn push_str(&mut self, s: &str) {
        let _ = std::fmt::Write::write_str(self, s);
    }

    fn finish(self) -> String {
        let mut text = self.text;
        if self.cut > 0 {
            let _ = write!(text, "... ({} more bytes cut)", self.cut);
        }
        text
    }
}

struct Message<T>(T);

impl Visit for Message<Capped> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

/// How many lines were ever kept (a change means there is something new to send).
pub(crate) fn written() -> u64 {
    WRITTEN.load(Ordering::Acquire)
}

/// What a worker sends in its `logs` messages, as Locust's `WorkerRunner.logs_reporter`:
/// call [`LogSender::next`] once per logs interval (Locust's `WORKER_LOG_REPORT_INTERVAL`,
/// 10 s). It returns the lines to send, or `None` when there is nothing new.
///
/// The lines are the whole kept list (at most 500, each at most [`MAX_LINE_BYTES`]), not
/// only the new ones: the master's `update_worker_logs` *replaces* a worker's lines with
/// each message, so a message of only the new lines would erase the others from its Logs
/// tab. What is new decides *whether* to send. After more than [`MAX_NEW_LINES`] new lines
/// in one interval, as Locust's worker does, it logs a warning, sends once more, and then
/// never again.
#[derive(Debug, Default)]
pub(crate) struct LogSender {
    sent: u64,
    disabled: bool,
}

impl LogSender {
    /// The lines to send now, if anything is new since the previous call.
    pub(crate) fn next(&mut self) -> Option<Vec<String>> {
        if self.disabled {
            return None;
        }
        let new = written().saturating_sub(self.sent);
        if new == 0 {
            return None;
        }
        if new > MAX_NEW_LINES {
            self.disabled = true;
            tracing::warn!(
                "The worker attempted to send more than {MAX_NEW_LINES} log lines in one \
                 interval. Further log sending was disabled for this worker."
            );
        }
        self.sent = written();
        Some(lines())
    }
}

/// The lines kept so far, oldest first.
pub(crate) fn lines() -> Vec<String> {
    LINES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .cloned()
        .collect()
}

fn host() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| sysinfo::System::host_name().unwrap_or_else(|| "localhost".into()))
}

/// `YYYY-MM-DD HH:MM:SS,mmm` in UTC, as Locust's log format prints its times.
fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let (y, m, d) = clock::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02},{:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_warnings_and_errors_only() {
        use tracing_subscriber::layer::SubscriberExt;
        let subscriber = tracing_subscriber::registry().with(master_log_layer());
        let before = written();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("not kept");
            tracing::warn!(code = 7, "kept {}", "warning");
            tracing::error!("kept error");
        });
        assert_eq!(written() - before, 2);
        let lines = lines();
        let n = lines.len();
        assert!(
            lines[n - 2].contains("/WARNING/boomer_core::logs::tests: kept warning code=7"),
            "{lines:?}"
        );
        assert!(
            lines[n - 1].contains("/ERROR/boomer_core::logs::tests: kept error"),
            "{lines:?}"
        );

        // (The only test that touches the kept lines, so that nothing else adds to them.)
        // A 20 MB message is kept as its first MAX_LINE_BYTES bytes, and never held whole.
        let huge = "é".repeat(10_000_000);
        let subscriber = tracing_subscriber::registry().with(master_log_layer());
        tracing::subscriber::with_default(subscriber, || tracing::error!("{huge}"));
        let last = super::lines().pop().unwrap();
        assert!(last.len() < MAX_LINE_BYTES + 200, "{}", last.len());
        let tail: String = last.chars().rev().take(40).collect();
        assert!(last.ends_with("é... (19998000 more bytes cut)"), "{tail}");

        // What a worker sends: the whole list when something is new, else nothing.
        let mut sender = LogSender::default();
        assert_eq!(sender.next().map(|l| l.len()), Some(super::lines().len()));
        assert_eq!(sender.next(), None);
        let subscriber = tracing_subscriber::registry().with(master_log_layer());
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..MAX_NEW_LINES {
                tracing::warn!("line {i}");
            }
        });
        let sent = sender.next().expect("new lines");
        assert!(sent.last().unwrap().ends_with("line 69"), "{sent:?}");
        assert!(
            sent.len() > MAX_NEW_LINES as usize,
            "the whole list, not only the new lines"
        );
        // More than 70 new lines in one interval: sent once more, then never again.
        let subscriber = tracing_subscriber::registry().with(master_log_layer());
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..=MAX_NEW_LINES {
                tracing::warn!("flood {i}");
            }
            let last = sender.next().expect("one last send");
            assert!(last
                .last()
                .unwrap()
                .contains("Further log sending was disabled"));
            tracing::warn!("after");
        });
        assert_eq!(sender.next(), None);
        // What is kept is capped: the last 500 lines.
        let subscriber = tracing_subscriber::registry().with(master_log_layer());
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..MAX_LINES + 100 {
                tracing::warn!("many {i}");
            }
        });
        let kept = super::lines();
        assert_eq!(kept.len(), MAX_LINES);
        assert!(kept[0].ends_with("many 100"), "{}", kept[0]);
    }
}

//! The process as a master sees it: its node id, and the CPU and memory its heartbeats
//! report.

use std::time::Duration;

/// `<hostname>_<32 hex>`, as Python workers name themselves: the master spreads users
/// across hosts by the part before the first `_`.
pub(crate) fn node_id() -> String {
    let host = sysinfo::System::host_name()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
        .replace('_', "-");
    let mut rng = fastrand::Rng::new();
    format!("{host}_{:016x}{:016x}", rng.u64(..), rng.u64(..))
}

/// The process's CPU percent since the previous sample and its resident memory, as
/// psutil's `cpu_percent()` and `memory_info().rss` in a Python worker: on Linux a clock
/// read and one small /proc file a heartbeat, no process-table refresh.
///
/// The percent is of the cores this process may run on (its CPU affinity, and a cgroup's
/// CPU quota), not of one core: a Python worker saturates at 100 % of its one thread, so
/// the master's 90 % warning means "saturated" there; this worker runs on every core it
/// may use, and 100 % means the same. Rounded to one decimal, as psutil rounds.
pub(crate) struct ProcessMetrics {
    last: Option<(std::time::Instant, Duration)>,
    /// The cores this process may run on, read once at the start.
    cores: f64,
    #[cfg(not(target_os = "linux"))]
    system: sysinfo::System,
}

impl ProcessMetrics {
    pub(crate) fn new() -> Self {
        ProcessMetrics {
            last: None,
            cores: usable_cores(),
            #[cfg(not(target_os = "linux"))]
            system: sysinfo::System::new(),
        }
    }

    #[cfg(target_os = "linux")]
    pub(crate) fn sample(&mut self) -> (f64, u64) {
        let now = std::time::Instant::now();
        let cpu = process_cpu_time();
        let percent = match (self.last, cpu) {
            (Some((then, was)), Some(cpu)) => {
                let wall = now.duration_since(then).as_secs_f64();
                if wall > 0.0 {
                    cpu.saturating_sub(was).as_secs_f64() / wall * 100.0
                } else {
                    0.0
                }
            }
            _ => 0.0,
        };
        if let Some(cpu) = cpu {
            self.last = Some((now, cpu));
        }
        (
            round_percent(share(percent, self.cores)),
            resident_bytes().unwrap_or(0),
        )
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn sample(&mut self) -> (f64, u64) {
        let Ok(pid) = sysinfo::get_current_pid() else {
            return (0.0, 0);
        };
        self.system.refresh_processes_specifics(
            sysinfo::ProcessesToUpdate::Some(&[pid]),
            true,
            sysinfo::ProcessRefreshKind::nothing()
                .with_cpu()
                .with_memory(),
        );
        match self.system.process(pid) {
            Some(p) => (
                round_percent(share(f64::from(p.cpu_usage()), self.cores)),
                p.memory(),
            ),
            None => (0.0, 0),
        }
    }
}

/// The cores this process may run on: on Linux its sched_getaffinity mask, bounded by a
/// cgroup CPU quota (what `available_parallelism` reads); at least 1.
fn usable_cores() -> f64 {
    std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
}

/// `percent` of one core as a share of `cores`, at most 100: a process cannot use more than
/// the cores it may run on, and what reads above (the CPU clock and the wall clock are read
/// one after the other, so a short, busy interval can come out a little over) is that skew.
fn share(percent: f64, cores: f64) -> f64 {
    (percent / cores).min(100.0)
}

/// One decimal, as Python's `round(x, 1)` in psutil: half to even on the exact value
/// (Rust's formatting rounds the same way), so the master shows `4.1`, not `4.1237…`.
fn round_percent(percent: f64) -> f64 {
    if !percent.is_finite() {
        return 0.0;
    }
    format!("{percent:.1}").parse().unwrap_or(0.0)
}

/// CPU time of every thread of this process so far.
#[cfg(target_os = "linux")]
fn process_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live, aligned, writable timespec owned by this frame, and
    // clock_gettime writes nothing but it; CLOCK_PROCESS_CPUTIME_ID exists since Linux 2.6.12.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u32::try_from(ts.tv_nsec).ok()?;
    (rc == 0).then(|| Duration::new(secs, nanos))
}

/// Resident set size, from /proc/self/statm (pages; the second field).
#[cfg(target_os = "linux")]
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a constant of the system; it takes no pointer.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages.checked_mul(u64::try_from(page).ok().filter(|&p| p > 0)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_metrics_see_cpu_spent_and_memory_held() {
        let mut m = ProcessMetrics::new();
        let (_, rss) = m.sample();
        assert!(rss > 1 << 20, "rss {rss}");
        // Spin ~50 ms of this thread's CPU: the next sample sees a share of a core.
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let (cpu, _) = m.sample();
        let cores = usable_cores();
        assert!(
            cpu > 10.0 / cores && cpu <= 100.0,
            "cpu {cpu} % of {cores} cores"
        );
        assert_eq!(cpu, (cpu * 10.0).round() / 10.0, "one decimal: {cpu}");
    }

    #[test]
    fn the_share_of_the_cores_is_at_most_all_of_them() {
        assert_eq!(share(50.0, 2.0), 25.0);
        assert_eq!(share(200.0, 2.0), 100.0);
        // Both cores busy over a short interval, the two clocks read a little apart.
        assert_eq!(share(203.6, 2.0), 100.0);
    }

    #[test]
    fn percents_round_as_python() {
        // Python: round(4.123711109161377, 1) == 4.1, round(2.25, 1) == 2.2 (2.25 is exact,
        // half to even), round(0.05, 1) == 0.1 (0.05 is a little above).
        assert_eq!(round_percent(4.123711109161377), 4.1);
        assert_eq!(round_percent(2.25), 2.2);
        assert_eq!(round_percent(0.05), 0.1);
        assert_eq!(round_percent(f64::NAN), 0.0);
    }
}

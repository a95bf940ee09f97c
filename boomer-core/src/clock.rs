//! A cheap wall clock for the record path.
//!
//! Every record needs the time only for Locust's per-second request counts and the last
//! request's timestamp, where a millisecond or four do not matter, but `SystemTime::now`
//! reads the TSC through the vDSO: about a quarter of the record-only profile. The coarse
//! clock reads the kernel's last tick instead (resolution 1–4 ms, no TSC read, no syscall).

/// Seconds since the Unix epoch, to the kernel's tick.
#[cfg(target_os = "linux")]
pub(crate) fn coarse_epoch() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live, aligned, writable timespec owned by this frame, and
    // clock_gettime writes nothing but it; CLOCK_REALTIME_COARSE exists since Linux 2.6.32.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    if rc != 0 {
        return crate::stats::now_epoch();
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Seconds since the Unix epoch.
#[cfg(not(target_os = "linux"))]
pub(crate) fn coarse_epoch() -> f64 {
    crate::stats::now_epoch()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_coarse_clock_is_the_wall_clock() {
        let (a, b) = (super::coarse_epoch(), crate::stats::now_epoch());
        assert!((a - b).abs() < 0.1, "coarse {a} vs precise {b}");
    }
}

//! `wait_time`: how long a user waits between two tasks, as Locust's `wait_time` functions.

use std::sync::Arc;
use std::time::Duration;

/// The pause a user takes after each task.
///
/// ```
/// use boomer_core::WaitTime;
/// let think = WaitTime::between(1.0, 2.5);       // uniform in [1 s, 2.5 s]
/// let pace = WaitTime::constant_throughput(2.0); // at most 2 tasks per second per user
/// ```
#[derive(Clone, Default)]
pub enum WaitTime {
    /// No pause (the user only yields to the others): Go boomer's behaviour.
    #[default]
    None,
    /// Always the same pause.
    Constant(Duration),
    /// A pause drawn uniformly between the two bounds.
    Between(Duration, Duration),
    /// Whatever makes each iteration (task + pause) last this long.
    Pacing(Duration),
    /// A function of yours.
    Custom(Arc<dyn Fn() -> Duration + Send + Sync>),
}

impl std::fmt::Debug for WaitTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaitTime::None => write!(f, "None"),
            WaitTime::Constant(d) => write!(f, "Constant({d:?})"),
            WaitTime::Between(a, b) => write!(f, "Between({a:?}, {b:?})"),
            WaitTime::Pacing(d) => write!(f, "Pacing({d:?})"),
            WaitTime::Custom(_) => write!(f, "Custom"),
        }
    }
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::MAX)
}

impl WaitTime {
    /// Locust's `constant(seconds)`.
    pub fn constant(seconds: f64) -> Self {
        WaitTime::Constant(secs(seconds))
    }

    /// Locust's `between(min, max)`, in seconds.
    pub fn between(min: f64, max: f64) -> Self {
        let (a, b) = (secs(min.min(max)), secs(min.max(max)));
        WaitTime::Between(a, b)
    }

    /// Locust's `constant_pacing(seconds)`: each iteration takes at least this long.
    pub fn constant_pacing(seconds: f64) -> Self {
        WaitTime::Pacing(secs(seconds))
    }

    /// Locust's `constant_throughput(per_second)`: at most this many tasks per second for
    /// each user.
    pub fn constant_throughput(per_second: f64) -> Self {
        if per_second <= 0.0 {
            return WaitTime::None;
        }
        WaitTime::Pacing(secs(1.0 / per_second))
    }

    /// A pause computed by `f` after each task.
    pub fn custom(f: impl Fn() -> Duration + Send + Sync + 'static) -> Self {
        WaitTime::Custom(Arc::new(f))
    }

    /// True when [`next`](Self::next) needs how long the task took (only pacing does).
    pub(crate) fn uses_elapsed(&self) -> bool {
        matches!(self, WaitTime::Pacing(_))
    }

    /// The pause after a task that took `took`.
    pub(crate) fn next(&self, took: Duration, rng: &mut fastrand::Rng) -> Duration {
        match self {
            WaitTime::None => Duration::ZERO,
            WaitTime::Constant(d) => *d,
            WaitTime::Between(a, b) => {
                let span = b.saturating_sub(*a).as_nanos() as u64;
                *a + Duration::from_nanos(if span == 0 { 0 } else { rng.u64(0..=span) })
            }
            WaitTime::Pacing(d) => d.saturating_sub(took),
            WaitTime::Custom(f) => f(),
        }
    }
}

/// Locust's `constant(seconds)`.
pub fn constant(seconds: f64) -> WaitTime {
    WaitTime::constant(seconds)
}

/// Locust's `between(min, max)`.
pub fn between(min: f64, max: f64) -> WaitTime {
    WaitTime::between(min, max)
}

/// Locust's `constant_pacing(seconds)`.
pub fn constant_pacing(seconds: f64) -> WaitTime {
    WaitTime::constant_pacing(seconds)
}

/// Locust's `constant_throughput(per_second)`.
pub fn constant_throughput(per_second: f64) -> WaitTime {
    WaitTime::constant_throughput(per_second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_as_locust() {
        let mut rng = fastrand::Rng::with_seed(7);
        let took = Duration::from_millis(300);
        assert_eq!(WaitTime::None.next(took, &mut rng), Duration::ZERO);
        assert_eq!(
            constant(1.5).next(took, &mut rng),
            Duration::from_millis(1500)
        );
        assert_eq!(
            constant_pacing(1.0).next(took, &mut rng),
            Duration::from_millis(700)
        );
        assert_eq!(constant_pacing(0.1).next(took, &mut rng), Duration::ZERO);
        assert_eq!(
            constant_throughput(2.0).next(took, &mut rng),
            Duration::from_millis(200)
        );
        for _ in 0..1000 {
            let w = between(1.0, 2.0).next(took, &mut rng);
            assert!(
                w >= Duration::from_secs(1) && w <= Duration::from_secs(2),
                "{w:?}"
            );
        }
        assert_eq!(
            WaitTime::custom(|| Duration::from_millis(5)).next(took, &mut rng),
            Duration::from_millis(5)
        );
    }
}

//! The open model: user classes driven by arrivals instead of by a loop. Iterations come
//! due at a rate (constant, or along linear stages, as k6's ramping arrival rate); the
//! class's users are the pool that runs them (k6's `maxVUs`). A free user takes the oldest
//! iteration not yet started and starts it at its due time; an iteration still not started
//! [`Lag`] after it came due (every user busy) is dropped and counted, so nothing queues
//! without bound. A worker runs its share of the fleet's rate: the fraction of the class's
//! users the master gave it.
//!
//! The schedule is exact, not paced: iteration `k` is due when the rate's integral reaches
//! `k + 1/2`, so the count of a second is the rate's integral over it, whatever the response
//! times, and a worker whose share changes (workers joining or leaving, the master's user
//! count) goes on from where it stands.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The error text of a dropped iteration, as the failure tables show it (method `arrival`,
/// name: the class).
pub(crate) const DROPPED: &str = "dropped: due while every user of the class was busy";

/// The request type dropped iterations are counted under.
pub(crate) const DROPPED_METHOD: &str = "arrival";

/// How late an iteration may start before it is dropped, by default.
#[cfg(test)]
pub(crate) const DEFAULT_MAX_LAG: Duration = Duration::from_secs(5);

/// The rates of `--arrival-rate` and of the master's `arrival_rate` option: the profile of
/// every class named, and of the others.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RateSpecs {
    /// `CLASS=SPEC`: for that class.
    pub(crate) named: BTreeMap<String, Profile>,
    /// A bare `SPEC`: for every arrival-driven class not named (every class when none is).
    pub(crate) rest: Option<Profile>,
}

impl RateSpecs {
    /// Parses `[CLASS=]SPEC[; [CLASS=]SPEC ...]`.
    pub(crate) fn parse(text: &str) -> Result<RateSpecs, String> {
        let mut specs = RateSpecs::default();
        specs.add(text)?;
        Ok(specs)
    }

    /// Adds the specs of one more `--arrival-rate` (a later one for the same class wins).
    pub(crate) fn add(&mut self, text: &str) -> Result<(), String> {
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some((class, spec)) => {
                    let class = class.trim();
                    if class.is_empty() {
                        return Err(format!("{part:?}: no class name before `=`"));
                    }
                    self.named.insert(class.to_string(), Profile::parse(spec)?);
                }
                None => self.rest = Some(Profile::parse(part)?),
            }
        }
        Ok(())
    }

    /// The profile for class `name`, given whether the class declares `arrival_rate` and
    /// whether any class does: `None` for a class that runs a closed loop.
    pub(crate) fn profile_for(
        &self,
        name: &str,
        declared: Option<&Profile>,
        any_declared: bool,
    ) -> Option<Profile> {
        if let Some(p) = self.named.get(name) {
            return Some(p.clone());
        }
        match (&self.rest, declared) {
            (Some(rest), Some(_)) => Some(rest.clone()),
            (Some(rest), None) if !any_declared => Some(rest.clone()),
            (_, declared) => declared.cloned(),
        }
    }
}

/// A rate over time: `start` per second at 0, then each stage ramps linearly to its
/// target over its duration; after the last stage the rate stays at the last target.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    start: f64,
    /// (duration in seconds, target rate per second)
    stages: Vec<(f64, f64)>,
}

/// The most a rate may be: 10 million iterations per second.
const MAX_RATE: f64 = 1e7;
/// The longest stage: a year.
const MAX_STAGE_SECS: f64 = 365.0 * 86_400.0;

impl Profile {
    /// A constant rate.
    #[cfg(test)]
    pub(crate) fn constant(rate: f64) -> Profile {
        Profile {
            start: rate,
            stages: Vec::new(),
        }
    }

    /// Parses `RATE` or `RATE, DURATION:RATE, ...`: a rate is a number of iterations per
    /// second, or with a unit `/s`, `/m`, `/h` (`600/m`); a duration is Locust's `-t`
    /// syntax (`30s`, `5m`, `1h30m`, or plain seconds).
    pub fn parse(text: &str) -> Result<Profile, String> {
        let usage = "write a rate (`400`, `600/m`) or stages (`0, 30s:400, 5m:400, 30s:0`)";
        let mut parts = text.split(',').map(str::trim);
        let first = parts.next().unwrap_or("");
        let start = parse_rate(first).map_err(|e| format!("{text:?}: {e}; {usage}"))?;
        let mut stages = Vec::new();
        for part in parts {
            let Some((duration, rate)) = part.split_once(':') else {
                return Err(format!(
                    "{text:?}: stage {part:?} is not DURATION:RATE; {usage}"
                ));
            };
            let secs = parse_duration(duration.trim())
                .ok_or_else(|| format!("{text:?}: {duration:?} is not a duration; {usage}"))?;
            let rate = parse_rate(rate.trim()).map_err(|e| format!("{text:?}: {e}; {usage}"))?;
            stages.push((secs, rate));
        }
        Ok(Profile { start, stages })
    }

    /// The rate `t` seconds in.
    pub(crate) fn rate_at(&self, t: f64) -> f64 {
        let mut from = self.start;
        let mut t = t.max(0.0);
        for &(d, to) in &self.stages {
            if t < d {
                return from + (to - from) * t / d;
            }
            t -= d;
            from = to;
        }
        from
    }

    /// Iterations due in the first `t` seconds (the rate's integral).
    pub(crate) fn count_by(&self, t: f64) -> f64 {
        let mut from = self.start;
        let mut t = t.max(0.0);
        let mut sum = 0.0;
        for &(d, to) in &self.stages {
            if t < d {
                let at = from + (to - from) * t / d;
                return sum + (from + at) * t / 2.0;
            }
            sum += (from + to) * d / 2.0;
            t -= d;
            from = to;
        }
        sum + from * t
    }

    /// When the integral reaches `count`: `None` if it never does (the rate ends at 0).
    pub(crate) fn time_of(&self, count: f64) -> Option<f64> {
        let mut left = count.max(0.0);
        let mut from = self.start;
        let mut t0 = 0.0;
        for &(d, to) in &self.stages {
            let area = (from + to) * d / 2.0;
            if left <= area && area > 0.0 {
                // rate(τ) = from + bτ; from·τ + bτ²/2 = left, in the form that is stable
                // for b = 0 and b < 0.
                let b = (to - from) / d;
                let disc = (from * from + 2.0 * b * left).max(0.0);
                let denom = from + disc.sqrt();
                let tau = if denom > 0.0 { 2.0 * left / denom } else { 0.0 };
                return Some(t0 + tau.min(d));
            }
            left -= area;
            t0 += d;
            from = to;
        }
        if left <= 0.0 {
            return Some(t0);
        }
        (from > 0.0).then(|| t0 + left / from)
    }
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let (number, per) = match text.split_once('/') {
        Some((n, unit)) => {
            let per = match unit.trim() {
                "s" | "sec" => 1.0,
                "m" | "min" => 60.0,
                "h" => 3600.0,
                u => return Err(format!("{u:?} is not a unit of time (s, m or h)")),
            };
            (n.trim(), per)
        }
        None => (text, 1.0),
    };
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 && n / per <= MAX_RATE => Ok(n / per),
        Ok(_) => Err(format!(
            "{text:?} is not a rate from 0 to {MAX_RATE} per second"
        )),
        Err(_) => Err(format!("{text:?} is not a rate")),
    }
}

/// A stage's length in Locust's `-t` syntax (`90`, `30s`, `10m`, `1h30m`), in seconds:
/// more than 0, at most a year.
fn parse_duration(text: &str) -> Option<f64> {
    let secs = crate::config::parse_timespan(text).ok()?.as_secs_f64();
    (secs > 0.0 && secs <= MAX_STAGE_SECS).then_some(secs)
}

/// The open model's settings and the schedules of the current test, kept by the spawner.
#[derive(Default)]
pub(crate) struct Arrivals {
    /// `--arrival-rate`.
    pub(crate) cli: RateSpecs,
    /// The master's `arrival_rate` option, when it sends one (it wins).
    pub(crate) master: Option<RateSpecs>,
    /// `--arrival-max-lag`.
    pub(crate) max_lag: Duration,
    /// `--latency-from due`.
    pub(crate) from_due: bool,
    /// The fleet's user count (the master's), which this worker's users are a share of;
    /// `None` in standalone (this process is the fleet).
    pub(crate) fleet_users: Option<u32>,
    /// The schedule of each arrival-driven master class name, made at its first users.
    pub(crate) schedules: BTreeMap<String, std::sync::Arc<Schedule>>,
}

impl Arrivals {
    /// The rates that apply: the master's, else the command line's.
    pub(crate) fn specs(&self) -> &RateSpecs {
        self.master.as_ref().unwrap_or(&self.cli)
    }
}

/// One class's schedule on this worker, shared by its users.
pub(crate) struct Schedule {
    state: Mutex<State>,
    /// Rung when the rate or the share changes (users waiting for a next iteration).
    changed: Notify,
    dropped: AtomicU64,
    /// Dropped but not yet in a report.
    unreported: AtomicU64,
    max_lag: f64,
}

struct State {
    origin: Instant,
    profile: Profile,
    /// The shares this worker ran, oldest first: the last is the current one; earlier ones
    /// are kept while an iteration of theirs is still to be handed out.
    segments: Vec<Segment>,
    /// The next iteration to hand out (every earlier one was started or dropped).
    next: u64,
}

/// From `t` seconds after the origin on, this worker runs `share` of the profile; it had
/// `count` iterations due then, when the profile's own count was `profile_count`.
#[derive(Clone, Copy, Debug)]
struct Segment {
    t: f64,
    count: f64,
    profile_count: f64,
    share: f64,
}

impl State {
    fn current(&self) -> Segment {
        // Never empty: made with one, and pruning keeps the last.
        self.segments.last().copied().unwrap_or(Segment {
            t: 0.0,
            count: 0.0,
            profile_count: 0.0,
            share: 0.0,
        })
    }

    /// This worker's iterations due in the first `t` seconds.
    fn count_by(&self, t: f64) -> f64 {
        let seg = self
            .segments
            .iter()
            .rev()
            .find(|s| s.t <= t)
            .or(self.segments.first())
            .copied()
            .unwrap_or(self.current());
        let t = t.max(seg.t);
        seg.count + seg.share * (self.profile.count_by(t) - seg.profile_count)
    }

    /// When iteration `k` (from 0) is due, in seconds since the origin: when the count
    /// reaches `k + 0.5`, so that a second holds exactly its integral's iterations (at a
    /// constant rate r: at 0.5/r, 1.5/r, ...) and a rate of 0 starts none.
    fn due(&self, k: u64) -> Option<f64> {
        let k = k as f64 + 0.5;
        let seg = self.segments.iter().rev().find(|s| s.count <= k)?;
        if seg.share <= 0.0 {
            return None;
        }
        let count = seg.profile_count + (k - seg.count) / seg.share;
        self.profile.time_of(count).map(|t| t.max(seg.t))
    }

    /// A new share from `t` on.
    fn rebase(&mut self, t: f64, share: f64) {
        let t = t.max(self.current().t);
        let seg = Segment {
            t,
            count: self.count_by(t),
            profile_count: self.profile.count_by(t),
            share,
        };
        self.segments.push(seg);
        self.prune();
    }

    /// Forgets the segments no iteration still to be handed out belongs to.
    fn prune(&mut self) {
        let next = self.next as f64;
        while self.segments.len() > 1 && self.segments[1].count <= next {
            self.segments.remove(0);
        }
    }
}

/// What a free user is to do next.
#[derive(Debug, PartialEq)]
pub(crate) enum Claim {
    /// Start an iteration at this instant (now, if it is already due).
    At(Instant),
    /// Nothing will come due at the current rate and share: wait for a change.
    Idle,
}

impl Schedule {
    pub(crate) fn new(profile: Profile, share: f64, max_lag: Duration, origin: Instant) -> Self {
        Schedule {
            state: Mutex::new(State {
                origin,
                profile,
                segments: vec![Segment {
                    t: 0.0,
                    count: 0.0,
                    profile_count: 0.0,
                    share: sane_share(share),
                }],
                next: 0,
            }),
            changed: Notify::new(),
            dropped: AtomicU64::new(0),
            unreported: AtomicU64::new(0),
            max_lag: max_lag.as_secs_f64(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic never happens under this lock (plain arithmetic); a poisoned lock still
        // holds a consistent state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the next iteration for a free user, at `now`. Iterations more than the lag
    /// limit late are dropped (counted) on the way.
    pub(crate) fn claim(&self, now: Instant) -> Claim {
        let mut s = self.lock();
        let Some(due) = self.drop_late(&mut s, now) else {
            return Claim::Idle;
        };
        s.next += 1;
        s.prune();
        let at = Duration::try_from_secs_f64(due).unwrap_or(Duration::MAX);
        Claim::At(s.origin.checked_add(at).unwrap_or(now))
    }

    /// Drops what is more than the lag limit late at `now`, also when no user is free to
    /// claim (a report counts the drops up to its time).
    pub(crate) fn sweep(&self, now: Instant) {
        let mut s = self.lock();
        self.drop_late(&mut s, now);
    }

    /// Counts every iteration due more than the lag limit before `now` as dropped; the due
    /// time of the next one (seconds since the origin), if one will come.
    fn drop_late(&self, s: &mut State, now: Instant) -> Option<f64> {
        let t_now = now.saturating_duration_since(s.origin).as_secs_f64();
        loop {
            let due = s.due(s.next)?;
            if due + self.max_lag >= t_now {
                return Some(due);
            }
            // Every iteration due before now - lag is dropped.
            let first_kept = (s.count_by(t_now - self.max_lag) - 0.5).ceil();
            let first_kept = if first_kept.is_finite() && first_kept < u64::MAX as f64 {
                (first_kept as u64).max(s.next + 1)
            } else {
                s.next + 1
            };
            let n = first_kept - s.next;
            s.next = first_kept;
            s.prune();
            self.dropped.fetch_add(n, Ordering::Relaxed);
            self.unreported.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Notified when the rate or the share changes.
    pub(crate) fn changes(&self) -> &Notify {
        &self.changed
    }

    /// A new share of the fleet's rate, from `now` on.
    pub(crate) fn set_share(&self, share: f64, now: Instant) {
        let share = sane_share(share);
        let mut s = self.lock();
        if s.current().share == share {
            return;
        }
        let t = now.saturating_duration_since(s.origin).as_secs_f64();
        s.rebase(t, share);
        drop(s);
        self.changed.notify_waiters();
    }

    /// A new profile (the master's `arrival_rate` changed), from `now` on: its stages start
    /// again at now. Iterations already due and not started are due now.
    pub(crate) fn set_profile(&self, profile: Profile, now: Instant) {
        let mut s = self.lock();
        if s.profile == profile {
            return;
        }
        let t = now.saturating_duration_since(s.origin).as_secs_f64();
        let count = s.count_by(t);
        let share = s.current().share;
        s.origin = now;
        s.profile = profile;
        s.segments = vec![Segment {
            t: 0.0,
            count,
            profile_count: 0.0,
            share,
        }];
        drop(s);
        self.changed.notify_waiters();
    }

    /// Iterations due so far (started, running or dropped), dropped ones, and this
    /// worker's current rate.
    pub(crate) fn counts(&self, now: Instant) -> (u64, u64, f64) {
        let s = self.lock();
        let t = now.saturating_duration_since(s.origin).as_secs_f64();
        let due = (s.count_by(t) + 0.5).floor();
        let due = if due.is_finite() && due > 0.0 {
            due as u64
        } else {
            0
        };
        let rate = s.current().share * s.profile.rate_at(t);
        (due, self.dropped.load(Ordering::Relaxed), rate)
    }

    /// Drops counted since the previous call (for the next report's failure table).
    pub(crate) fn take_unreported(&self) -> u64 {
        self.unreported.swap(0, Ordering::Relaxed)
    }
}

fn sane_share(share: f64) -> f64 {
    if share.is_finite() {
        share.clamp(0.0, 1e6)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn profiles_parse_as_documented() {
        assert_eq!(Profile::parse("400").unwrap(), Profile::constant(400.0));
        assert_eq!(Profile::parse(" 600/m ").unwrap(), Profile::constant(10.0));
        let p = Profile::parse("0, 30s:400, 5m:400, 1m30s:0").unwrap();
        assert_eq!(p.stages, vec![(30.0, 400.0), (300.0, 400.0), (90.0, 0.0)]);
        for bad in [
            "", "-1", "fast", "1e9", "NaN", "10/d", "10, 30s", "10, x:5", "10, 0s:5", "10, 5:",
        ] {
            let e = Profile::parse(bad).expect_err(bad);
            assert!(e.contains("write a rate"), "{bad}: {e}");
        }
        let specs = RateSpecs::parse("Shopper=100; 5, 10s:50").unwrap();
        assert_eq!(specs.named["Shopper"], Profile::constant(100.0));
        assert_eq!(specs.rest.as_ref().unwrap().stages, vec![(10.0, 50.0)]);
        assert!(RateSpecs::parse("=5").is_err());
    }

    /// Which classes a rate applies to: a named one to its class; a bare one to the classes
    /// that declare `arrival_rate`, or to every class when none does.
    #[test]
    fn rates_apply_to_the_classes_they_name() {
        let declared = Profile::constant(5.0);
        let specs = RateSpecs::parse("Checkout=100; 7").unwrap();
        let p = |name, declared: Option<&Profile>, any| specs.profile_for(name, declared, any);
        assert_eq!(p("Checkout", None, true), Some(Profile::constant(100.0)));
        assert_eq!(
            p("Browse", Some(&declared), true),
            Some(Profile::constant(7.0))
        );
        assert_eq!(p("Closed", None, true), None, "a closed class stays closed");
        assert_eq!(p("Plain", None, false), Some(Profile::constant(7.0)));
        let none = RateSpecs::default();
        assert_eq!(
            none.profile_for("Browse", Some(&declared), true),
            Some(declared)
        );
        assert_eq!(none.profile_for("Plain", None, false), None);
    }

    /// The integral and its inverse agree over ramps up, holds, ramps down and the tail.
    #[test]
    fn the_schedule_is_the_rates_integral() {
        let p = Profile::parse("100, 2s:300, 3s:300, 2s:0").unwrap();
        assert!(close(p.count_by(1.0), 150.0));
        assert!(close(p.count_by(2.0), 400.0));
        assert!(close(p.count_by(5.0), 1300.0));
        assert!(close(p.count_by(6.0), 1525.0));
        assert!(close(p.count_by(7.0), 1600.0));
        assert!(close(p.count_by(100.0), 1600.0));
        for k in [
            0.0, 1.0, 149.0, 150.0, 399.5, 1000.0, 1525.0, 1599.0, 1600.0,
        ] {
            let t = p.time_of(k).unwrap();
            assert!(
                close(p.count_by(t), k),
                "{k}: t={t} count={}",
                p.count_by(t)
            );
        }
        assert_eq!(p.time_of(1600.5), None, "the rate ends at 0");
        let c = Profile::constant(4.0);
        assert!(close(c.time_of(10.0).unwrap(), 2.5));
        assert_eq!(Profile::constant(0.0).time_of(1.0), None);
        assert!(close(
            Profile::parse("0, 10s:10").unwrap().time_of(0.0).unwrap(),
            0.0
        ));
    }

    #[test]
    fn claims_follow_the_rate_and_drop_what_is_too_late() {
        let origin = Instant::now();
        let s = Schedule::new(Profile::constant(10.0), 1.0, Duration::from_secs(1), origin);
        // On time: 0.05 s, 0.15 s, 0.25 s ...
        for k in 0..5u64 {
            let at = origin + Duration::from_millis(50 + 100 * k);
            assert_eq!(s.claim(origin), Claim::At(at));
        }
        // Three seconds later: what was due before 2 s is dropped (15 iterations: 0.55 s to
        // 1.95 s), the one due at 2.05 s is the next.
        let now = origin + Duration::from_secs(3);
        assert_eq!(
            s.claim(now),
            Claim::At(origin + Duration::from_millis(2050))
        );
        assert_eq!(s.take_unreported(), 15);
        assert_eq!(s.take_unreported(), 0);
        // Half the share from 3 s on: 5 per second.
        s.set_share(0.5, now);
        let mut last = origin;
        for _ in 0..40 {
            if let Claim::At(at) = s.claim(now) {
                last = at;
            }
        }
        // 9 more by 3 s (2.15 .. 2.95), then 31 at 5/s after 3 s: the last at 3 + 30.5/5 s.
        assert_eq!(last, origin + Duration::from_millis(9100));
        s.set_share(0.0, now);
        assert_eq!(s.claim(now), Claim::Idle);
        // Stopped: nothing more comes due, so nothing more is dropped, however long.
        s.sweep(now + Duration::from_secs(3600));
        assert_eq!(s.take_unreported(), 0);
        assert_eq!(s.claim(now + Duration::from_secs(3600)), Claim::Idle);
    }

    #[test]
    fn a_new_profile_starts_its_stages_now() {
        let origin = Instant::now();
        let s = Schedule::new(Profile::constant(0.0), 1.0, DEFAULT_MAX_LAG, origin);
        assert_eq!(s.claim(origin), Claim::Idle);
        let later = origin + Duration::from_secs(10);
        s.set_profile(Profile::constant(2.0), later);
        assert_eq!(
            s.claim(later),
            Claim::At(later + Duration::from_millis(250))
        );
        assert_eq!(
            s.claim(later),
            Claim::At(later + Duration::from_millis(750))
        );
    }
}

//! The backlog of a simulated queue (Cloud Tasks) or subscription (Pub/Sub): how many
//! messages wait and how old the oldest is, moving with the scenario clock as work arrives and
//! is dispatched. Pure arithmetic on simulated seconds.

use std::time::Duration;

/// A backlog at one moment of the scenario clock.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Backlog {
    /// Messages or tasks waiting (including those being delivered).
    pub count: f64,
    /// Simulated seconds the oldest one has waited.
    pub oldest_age: f64,
    /// New work per simulated second.
    pub arrival_rate: f64,
    /// Work taken per simulated second while not paused.
    pub dispatch_rate: f64,
    /// The scenario time `count` and `oldest_age` were computed for.
    pub at: Duration,
}

impl Backlog {
    /// A steady backlog: `count` waiting, arrivals matched by dispatches.
    pub fn steady(count: f64, rate: f64) -> Backlog {
        Backlog {
            count,
            oldest_age: if rate > 0.0 { count / rate } else { 0.0 },
            arrival_rate: rate,
            dispatch_rate: rate,
            at: Duration::ZERO,
        }
    }

    /// Moves the backlog on to `to` on the scenario clock. A paused queue dispatches nothing.
    pub fn advance(&mut self, to: Duration, paused: bool) {
        let Some(dt) = to.checked_sub(self.at).map(|d| d.as_secs_f64()) else {
            return;
        };
        self.at = to;
        if dt <= 0.0 {
            return;
        }
        let out = if paused { 0.0 } else { self.dispatch_rate };
        self.count = (self.count + (self.arrival_rate - out) * dt).max(0.0);
        if self.count < 0.5 {
            self.count = 0.0;
            self.oldest_age = 0.0;
        } else if out > 0.0 {
            self.oldest_age = (self.oldest_age + dt).min(self.count / out);
        } else {
            self.oldest_age += dt;
        }
    }

    /// Everything waiting is dropped (a purge).
    pub fn clear(&mut self) {
        self.count = 0.0;
        self.oldest_age = 0.0;
    }

    /// The count as Google writes an int64: a decimal string.
    pub fn count_text(&self) -> String {
        format!("{}", self.count.round().max(0.0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stalled_queue_grows_and_ages_then_drains() {
        let mut b = Backlog::steady(4.0, 2.0);
        b.advance(Duration::from_secs(10), false);
        assert_eq!(b.count_text(), "4");
        b.dispatch_rate = 0.0;
        b.advance(Duration::from_secs(110), false);
        assert_eq!(b.count_text(), "204");
        assert!(b.oldest_age >= 100.0);
        b.dispatch_rate = 12.0;
        b.advance(Duration::from_secs(120), false);
        assert_eq!(b.count_text(), "104");
        assert!((b.oldest_age - 104.0 / 12.0).abs() < 1e-9);
        b.advance(Duration::from_secs(200), false);
        assert_eq!(b.count_text(), "0");
        assert!(b.oldest_age.abs() < f64::EPSILON);
    }

    #[test]
    fn a_paused_queue_only_fills_and_time_never_runs_backwards() {
        let mut b = Backlog::steady(0.0, 1.0);
        b.advance(Duration::from_secs(30), true);
        assert_eq!(b.count_text(), "30");
        b.advance(Duration::from_secs(5), true);
        assert_eq!(b.count_text(), "30");
        b.clear();
        assert_eq!(b.count_text(), "0");
    }
}

//! How deep a simulated queue is: a depth that grows and drains at rates set by the scenario,
//! on the scenario clock. Shared by Redis lists (Celery, Laravel) and RabbitMQ queues. Pure.

use std::time::Duration;

/// A queue's depth as a line over scenario time: `depth(t) = base + (growth − drain)·(t − since)`,
/// never below zero. Every change of rate starts a new line from the depth at that moment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Backlog {
    base: f64,
    since: Duration,
    /// Messages added per simulated second.
    pub growth: f64,
    /// Messages taken per simulated second (while there are any).
    pub drain: f64,
    /// Messages added before `since` (for publish counters).
    published: f64,
    /// Messages taken before `since`.
    delivered: f64,
}

impl Backlog {
    /// A steady queue: `depth` messages, as many coming in as going out.
    pub fn steady(depth: u64, rate: f64) -> Backlog {
        Backlog {
            base: depth as f64,
            since: Duration::ZERO,
            growth: rate,
            drain: rate,
            published: 0.0,
            delivered: 0.0,
        }
    }

    fn raw(&self, at: Duration) -> f64 {
        let dt = at.saturating_sub(self.since).as_secs_f64();
        (self.base + (self.growth - self.drain) * dt).max(0.0)
    }

    /// Messages waiting at `at`.
    pub fn depth(&self, at: Duration) -> u64 {
        self.raw(at).floor() as u64
    }

    /// Messages published since the simulator started, at `at`.
    pub fn published(&self, at: Duration) -> u64 {
        let dt = at.saturating_sub(self.since).as_secs_f64();
        (self.published + self.growth * dt).floor() as u64
    }

    /// Messages delivered since the simulator started, at `at`.
    pub fn delivered(&self, at: Duration) -> u64 {
        let dt = at.saturating_sub(self.since).as_secs_f64();
        let taken = self.base + self.growth * dt - self.raw(at);
        (self.delivered + taken.max(0.0)).floor() as u64
    }

    /// The rate at which the depth changes now (per simulated second).
    pub fn net_rate(&self, at: Duration) -> f64 {
        if self.raw(at) <= 0.0 && self.drain >= self.growth {
            0.0
        } else {
            self.growth - self.drain
        }
    }

    /// The rate at which messages leave now.
    pub fn out_rate(&self, at: Duration) -> f64 {
        if self.raw(at) <= 0.0 {
            self.drain.min(self.growth)
        } else {
            self.drain
        }
    }

    /// Starts a new line at `at` from the current depth.
    fn rebase(&mut self, at: Duration) {
        let published = self.published(at) as f64;
        let delivered = self.delivered(at) as f64;
        self.base = self.raw(at);
        self.published = published;
        self.delivered = delivered;
        self.since = at;
    }

    pub fn set_depth(&mut self, at: Duration, depth: f64) {
        self.rebase(at);
        self.base = depth.max(0.0);
    }

    /// Adds (or, with a negative count, removes) messages at `at`; returns the new depth.
    pub fn add(&mut self, at: Duration, count: f64) -> u64 {
        self.rebase(at);
        if count >= 0.0 {
            self.published += count;
        } else {
            self.delivered += (-count).min(self.base);
        }
        self.base = (self.base + count).max(0.0);
        self.depth(at)
    }

    pub fn set_growth(&mut self, at: Duration, rate: f64) {
        self.rebase(at);
        self.growth = rate.max(0.0);
    }

    pub fn set_drain(&mut self, at: Duration, rate: f64) {
        self.rebase(at);
        self.drain = rate.max(0.0);
    }
}

/// The scenario knobs of a backlog, named as on the Google side's queues: messages waiting,
/// and messages arriving and dispatched per simulated second.
pub(crate) const KNOBS: &[&str] = &["sim.backlog", "sim.arrival_rate", "sim.dispatch_rate"];

/// Sets one backlog knob from a scenario value. Returns whether the key was one of them.
pub(crate) fn apply(backlog: &mut Backlog, at: Duration, key: &str, value: f64) -> bool {
    match key {
        "sim.backlog" => backlog.set_depth(at, value),
        "sim.arrival_rate" => backlog.set_growth(at, value),
        "sim.dispatch_rate" => backlog.set_drain(at, value),
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn grows_and_drains_and_never_goes_negative() {
        let mut b = Backlog::steady(10, 5.0);
        assert_eq!(b.depth(s(100)), 10);
        b.set_growth(s(100), 25.0);
        assert_eq!(b.depth(s(110)), 210);
        b.set_drain(s(110), 45.0);
        assert_eq!(b.depth(s(115)), 110);
        assert_eq!(b.depth(s(200)), 0, "drained, not negative");
        assert!(b.net_rate(s(200)).abs() < f64::EPSILON);
        assert!((b.out_rate(s(200)) - 25.0).abs() < f64::EPSILON);
    }

    #[test]
    fn counters_follow_the_rates() {
        let mut b = Backlog::steady(0, 2.0);
        assert_eq!(b.published(s(10)), 20);
        assert_eq!(b.delivered(s(10)), 20);
        assert_eq!(b.add(s(10), 5.0), 5);
        assert_eq!(b.published(s(10)), 25);
        assert_eq!(b.add(s(10), -100.0), 0);
        assert_eq!(b.delivered(s(10)), 25);
        assert!(apply(&mut b, s(10), "sim.backlog", 7.0));
        assert!(!apply(&mut b, s(10), "colour", 7.0));
        assert_eq!(b.depth(s(10)), 7);
    }
}

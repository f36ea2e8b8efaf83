//! The SEV level type: SEV 1 is the worst; its ordering is written out, not derived.

use std::cmp::Ordering;
use std::fmt;

/// A severity level from 1 (whole platform down, page now) to 4 (minor).
///
/// `Ord` ranks by severity: `Sev::ONE > Sev::FOUR`, so `max()` picks the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sev(u8);

impl Sev {
    pub const ONE: Sev = Sev(1);
    pub const TWO: Sev = Sev(2);
    pub const THREE: Sev = Sev(3);
    pub const FOUR: Sev = Sev(4);

    /// A SEV from its number, if it is 1 to 4.
    pub fn new(level: u8) -> Option<Sev> {
        (1..=4).contains(&level).then_some(Sev(level))
    }

    /// The number, 1 (worst) to 4.
    pub fn level(self) -> u8 {
        self.0
    }

    /// One step less severe, never past SEV 4 (a degraded service's SEV).
    #[must_use]
    pub fn milder(self) -> Sev {
        Sev((self.0 + 1).min(4))
    }

    /// The less severe of two.
    #[must_use]
    pub fn least(self, other: Sev) -> Sev {
        self.min(other)
    }

    /// SEV 1 or 2: pages, critical for Nagios.
    pub fn is_critical(self) -> bool {
        self.0 <= 2
    }

    fn rank(self) -> u8 {
        // Higher rank = more severe.
        5 - self.0
    }
}

impl Ord for Sev {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl PartialOrd for Sev {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Sev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SEV{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sev_one_is_the_worst() {
        assert!(Sev::ONE > Sev::TWO);
        assert_eq!(
            [Sev::THREE, Sev::ONE, Sev::FOUR].iter().max(),
            Some(&Sev::ONE)
        );
        assert_eq!(Sev::ONE.least(Sev::THREE), Sev::THREE);
    }

    #[test]
    fn milder_stops_at_four() {
        assert_eq!(Sev::ONE.milder(), Sev::TWO);
        assert_eq!(Sev::FOUR.milder(), Sev::FOUR);
        assert_eq!(Sev::new(0), None);
        assert_eq!(Sev::new(5), None);
    }
}

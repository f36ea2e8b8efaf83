//! Watching the whole estate during a drill: one full poll after another against the
//! simulator, each stamped with the scenario clock, recording which services are not healthy
//! (own status not up, or impacted by another). Detection and recovery are read off these
//! samples.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use crate::estate::Estate;
use crate::model::{Outcome, Snapshot, Status};
use crate::once;
use crate::poller::{DEFAULT_CONCURRENCY, Prober};
use crate::probe::{self, ProbeContext};
use crate::sim::SimHandle;

/// One look at the estate.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// On the scenario clock.
    pub at: Duration,
    /// Services not healthy at that moment, root causes and impacted alike.
    pub unhealthy: BTreeSet<String>,
    /// Of those, the ones failing by their own probe (the root causes).
    pub causes: BTreeSet<String>,
}

/// How each service looks with no fault at all: whether its own probe says up, and whether
/// it is impacted. The simulator cannot serve every kind (direct PostgreSQL and MySQL), so
/// some services are unhealthy even then; only a change from this counts.
pub type Baseline = BTreeMap<String, (bool, bool)>;

/// The baseline a healthy snapshot gives.
pub fn baseline(snapshot: &Snapshot) -> Baseline {
    snapshot
        .services
        .iter()
        .map(|s| (s.id.clone(), (s.status == Status::Up, s.is_impacted())))
        .collect()
}

/// The services a snapshot shows worse than the baseline, and the root causes among them
/// (failing by their own probe).
pub fn unhealthy(snapshot: &Snapshot, base: &Baseline) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut all = BTreeSet::new();
    let mut causes = BTreeSet::new();
    for s in &snapshot.services {
        let (was_up, was_impacted) = base.get(&s.id).copied().unwrap_or((true, false));
        if s.status != Status::Up && was_up {
            causes.insert(s.id.clone());
            all.insert(s.id.clone());
        } else if s.is_impacted() && !was_impacted {
            all.insert(s.id.clone());
        }
    }
    (all, causes)
}

/// Probes every service with one set of clients, reading Google lists anew each poll.
struct FreshProber {
    estate: Arc<Estate>,
    ctx: ProbeContext,
}

impl Prober for FreshProber {
    async fn probe(&self, service: usize) -> Outcome {
        match self.estate.services.get(service) {
            Some(s) => probe::run(&self.ctx, s).await,
            None => Outcome::Failed {
                error: "no such service".to_string(),
                retry_after: None,
            },
        }
    }
}

/// Polls the whole estate once, with `ctx`'s clients and fresh Google lists.
pub async fn look(estate: &Arc<Estate>, ctx: &ProbeContext) -> Snapshot {
    let prober = Arc::new(FreshProber {
        estate: Arc::clone(estate),
        ctx: ctx.fresh(),
    });
    let result = once::poll_with(
        Arc::clone(estate),
        prober,
        Duration::from_secs(10),
        DEFAULT_CONCURRENCY,
    )
    .await;
    result.model.snapshot(Utc::now())
}

/// Polls the estate until told to stop, every `every` of wall time, counting only what is
/// worse than `base`.
pub async fn watch_estate(
    estate: Arc<Estate>,
    sim: &SimHandle,
    base: Baseline,
    every: Duration,
    samples: Arc<Mutex<Vec<Sample>>>,
    mut stop: watch::Receiver<bool>,
) {
    let ctx = ProbeContext::new(&estate);
    loop {
        let snapshot = look(&estate, &ctx).await;
        let at = sim.scenario_clock();
        let (all, causes) = unhealthy(&snapshot, &base);
        samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Sample {
                at,
                unhealthy: all,
                causes,
            });
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// What the samples say.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Every service unhealthy at some point.
    pub affected: BTreeSet<String>,
    /// The first sample showing anything unhealthy.
    pub detected_at: Option<Duration>,
    /// The first moment from which no affected service was unhealthy to the end; `None` when
    /// the last sample still shows one.
    pub healthy_from: Option<Duration>,
    /// Unhealthy in the last sample.
    pub still_unhealthy: BTreeSet<String>,
}

/// Reads the samples.
pub fn read(samples: &[Sample]) -> Reading {
    let affected: BTreeSet<String> = samples
        .iter()
        .flat_map(|s| s.unhealthy.iter().cloned())
        .collect();
    let detected_at = samples
        .iter()
        .find(|s| !s.unhealthy.is_empty())
        .map(|s| s.at);
    let still_unhealthy = samples
        .last()
        .map(|s| s.unhealthy.clone())
        .unwrap_or_default();
    let healthy_from = if still_unhealthy.is_empty() {
        let last_bad = samples.iter().rposition(|s| !s.unhealthy.is_empty());
        match last_bad {
            None => samples.first().map(|s| s.at),
            Some(i) => samples.get(i + 1).map(|s| s.at),
        }
    } else {
        None
    };
    Reading {
        affected,
        detected_at,
        healthy_from,
        still_unhealthy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: u64, bad: &[&str]) -> Sample {
        Sample {
            at: Duration::from_secs(at),
            unhealthy: bad.iter().map(|s| (*s).to_string()).collect(),
            causes: BTreeSet::new(),
        }
    }

    #[test]
    fn recovery_is_the_first_sample_of_the_healthy_tail() {
        let r = read(&[
            sample(0, &[]),
            sample(10, &["sql", "api"]),
            sample(20, &["api"]),
            sample(30, &[]),
            sample(40, &["api"]),
            sample(50, &[]),
            sample(60, &[]),
        ]);
        assert_eq!(r.detected_at, Some(Duration::from_secs(10)));
        assert_eq!(r.healthy_from, Some(Duration::from_secs(50)));
        assert_eq!(r.affected.len(), 2);
        let stuck = read(&[sample(0, &["sql"]), sample(10, &["sql"])]);
        assert_eq!(stuck.healthy_from, None);
        assert_eq!(stuck.still_unhealthy.len(), 1);
    }
}

//! The poller: runs every service's probe on its own interval with jitter, one probe in
//! flight per service, bounded total concurrency, a per-probe timeout and exponential
//! backoff (honouring the API's retry delay); sends owned [`ProbeReport`]s over a channel to
//! the one place that applies them to the model. It never touches the model itself.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::estate::Estate;
use crate::model::{Outcome, ProbeReport, Status};
use crate::probe::{self, ProbeContext};

/// Requests the console sends to the poller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Probe every service now (the `r` key), without waiting for its interval.
    RefreshNow,
    /// Probe one service now (by estate index).
    Refresh(usize),
}

/// How many probes may run at once across the whole estate.
pub const DEFAULT_CONCURRENCY: usize = 64;
/// The longest wait between two probes of a failing service.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Something that probes one service: the real probes, or a stand-in in tests.
pub trait Prober: Send + Sync + 'static {
    fn probe(&self, service: usize) -> impl std::future::Future<Output = Outcome> + Send;
}

/// The real probes of an estate.
pub struct EstateProber {
    estate: Arc<Estate>,
    ctx: ProbeContext,
}

impl EstateProber {
    pub fn new(estate: Arc<Estate>) -> Self {
        let ctx = ProbeContext::new(&estate);
        EstateProber { estate, ctx }
    }
}

impl Prober for EstateProber {
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

/// Runs one probe with an outer bound: the probe's own timeout plus a grace second. A probe
/// that ignores its timeout still cannot hold its slot, nor delay anything else.
pub async fn probe_guarded<P: Prober>(prober: &P, service: usize, limit: Duration) -> Outcome {
    let bound = limit + Duration::from_secs(1);
    match tokio::time::timeout(bound, prober.probe(service)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::Failed {
            error: format!(
                "the probe did not finish within {}",
                humantime::format_duration(limit)
            ),
            retry_after: None,
        },
    }
}

/// Per-service schedule: when it is next due and how far it has backed off.
#[derive(Debug, Clone)]
struct Slot {
    interval: Duration,
    due: Instant,
    in_flight: bool,
    failures: u32,
    /// A refresh was asked for while a probe was in flight: run again when it lands.
    again: bool,
}

/// The delay before the next probe after an outcome: the interval when healthy or merely
/// down (the answer is the news), exponential backoff on refresh failures and on services
/// opsdeck cannot ask about, the API's own retry delay when it gave one.
pub fn next_delay(interval: Duration, outcome: &Outcome, failures: u32) -> Duration {
    match outcome {
        Outcome::Observed(o) if o.status != Status::Unknown => interval,
        Outcome::Observed(_) => backoff(interval, failures),
        Outcome::Failed { retry_after, .. } => {
            let b = backoff(interval, failures);
            retry_after.map_or(b, |r| r.max(b.min(r * 2)))
        }
    }
}

fn backoff(interval: Duration, failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(10));
    interval
        .saturating_mul(factor)
        .min(MAX_BACKOFF.max(interval))
}

/// Up to ±10 % of the interval, so services with the same interval spread out.
fn jitter(interval: Duration) -> Duration {
    let tenth = interval / 10;
    if tenth.is_zero() {
        return Duration::ZERO;
    }
    Duration::from_nanos(fastrand::u64(
        0..=u64::try_from(tenth.as_nanos()).unwrap_or(u64::MAX),
    ))
}

/// Runs the poller until the report receiver is dropped. Every service is probed at once on
/// start, then on its own interval.
pub async fn run<P: Prober>(
    estate: Arc<Estate>,
    prober: Arc<P>,
    reports: mpsc::Sender<ProbeReport>,
    mut control: mpsc::Receiver<Control>,
    concurrency: usize,
) {
    let start = Instant::now();
    let mut slots: Vec<Slot> = estate
        .services
        .iter()
        .map(|s| Slot {
            interval: s.interval,
            due: start,
            in_flight: false,
            failures: 0,
            again: false,
        })
        .collect();
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks: JoinSet<(usize, Outcome)> = JoinSet::new();
    let mut control_open = true;

    loop {
        let now = Instant::now();
        for (i, slot) in slots.iter_mut().enumerate() {
            if !slot.in_flight && slot.due <= now {
                slot.in_flight = true;
                let prober = Arc::clone(&prober);
                let permits = Arc::clone(&permits);
                let limit = estate.services[i].timeout;
                tasks.spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    (i, probe_guarded(prober.as_ref(), i, limit).await)
                });
            }
        }
        let next_due = slots
            .iter()
            .filter(|s| !s.in_flight)
            .map(|s| s.due)
            .min()
            .unwrap_or_else(|| now + Duration::from_secs(3600));

        tokio::select! {
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                let Ok((i, outcome)) = done else { continue };
                let slot = &mut slots[i];
                slot.in_flight = false;
                let healthy = matches!(&outcome, crate::model::Outcome::Observed(o) if o.status != Status::Unknown);
                slot.failures = if healthy { 0 } else { slot.failures + 1 };
                let delay = next_delay(slot.interval, &outcome, slot.failures);
                slot.due = if std::mem::take(&mut slot.again) {
                    Instant::now()
                } else {
                    Instant::now() + delay + jitter(slot.interval)
                };
                let report = ProbeReport { service: i, at: Utc::now(), outcome };
                if reports.send(report).await.is_err() {
                    return;
                }
            }
            msg = control.recv(), if control_open => match msg {
                Some(Control::RefreshNow) => {
                    let now = Instant::now();
                    for slot in &mut slots {
                        if slot.in_flight { slot.again = true } else { slot.due = now }
                    }
                }
                Some(Control::Refresh(i)) => {
                    if let Some(slot) = slots.get_mut(i) {
                        if slot.in_flight { slot.again = true } else { slot.due = Instant::now() }
                    }
                }
                None => control_open = false,
            },
            () = tokio::time::sleep_until(next_due) => {}
            () = reports.closed() => return,
        }
    }
}

//! `--once`: probe every service one time, concurrently and bounded, within a deadline for
//! the whole run; whatever has not answered by then is reported as not answering.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::estate::Estate;
use crate::model::{Model, Outcome, ProbeReport};
use crate::poller::{DEFAULT_CONCURRENCY, EstateProber, Prober, probe_guarded};

/// The model after one poll, and whether the deadline cut the run short.
pub struct OnceResult {
    pub model: Model,
    pub timed_out: bool,
}

/// Probes everything once with the real probes.
pub async fn poll(estate: Arc<Estate>, deadline: Duration) -> OnceResult {
    let prober = Arc::new(EstateProber::new(Arc::clone(&estate)));
    poll_with(estate, prober, deadline, DEFAULT_CONCURRENCY).await
}

/// Probes everything once with any prober (tests use stand-ins).
pub async fn poll_with<P: Prober>(
    estate: Arc<Estate>,
    prober: Arc<P>,
    deadline: Duration,
    concurrency: usize,
) -> OnceResult {
    let mut model = Model::new(Arc::clone(&estate));
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for i in 0..estate.services.len() {
        let prober = Arc::clone(&prober);
        let permits = Arc::clone(&permits);
        let limit = estate.services[i].timeout;
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (
                i,
                probe_guarded(prober.as_ref(), i, limit).await,
                Utc::now(),
            )
        });
    }
    let mut answered = vec![false; estate.services.len()];
    let sleep = tokio::time::sleep(deadline);
    tokio::pin!(sleep);
    let mut timed_out = false;
    loop {
        tokio::select! {
            next = tasks.join_next() => match next {
                Some(Ok((i, outcome, at))) => {
                    answered[i] = true;
                    model.apply(ProbeReport { service: i, at, outcome });
                }
                Some(Err(_)) => {}
                None => break,
            },
            () = &mut sleep => {
                timed_out = true;
                break;
            }
        }
    }
    tasks.abort_all();
    let at = Utc::now();
    for (i, done) in answered.iter().enumerate() {
        if !done {
            model.apply(ProbeReport {
                service: i,
                at,
                outcome: Outcome::Failed {
                    error: format!(
                        "no answer before the whole run's {} deadline",
                        humantime::format_duration(deadline)
                    ),
                    retry_after: None,
                },
            });
        }
    }
    OnceResult { model, timed_out }
}

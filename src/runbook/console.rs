//! Runbooks from the console: the same plan, confirmation, lease, engine and audit path as
//! `opsdeck runbook run` ([`headless`](super::headless)), with the operator on the other end
//! of channels. [`plan`] builds the dry-run plan as `--dry-run` does; [`run`] runs the engine
//! with a [`ChannelOperator`] that sends the engine's events to the console and waits for the
//! console's word on each manual step.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot, watch};

use super::confirm::Confirmation;
use super::engine::{self, Ack, Event, Mode, Operator, Outcome, RunSpec};
use super::plan::{self, RunPlan};
use super::view::LiveObserver;
use super::{Runbook, headless, params};
use crate::action::{Clients, Pace};
use crate::estate::Estate;

/// What a run tells the console.
#[derive(Debug)]
pub enum Message {
    Event(Event),
    /// A manual step waits; the console answers through [`Manual::answer`].
    Manual {
        n: usize,
        text: String,
    },
    Finished(Outcome),
}

/// The dry-run plan of `runbook` on `target` with the parameters typed, exactly as
/// `opsdeck runbook run ID --target T --param … --dry-run` builds it. `Err`: why the target
/// or a parameter is refused.
pub async fn plan(
    runbook: &Runbook,
    estate: Arc<Estate>,
    target: &str,
    given: &[(String, String)],
    read_only_flag: bool,
) -> Result<RunPlan, String> {
    let target = headless::pick_target(runbook, &estate, Some(target))?.clone();
    let params = params::resolve(runbook, given)?;
    let observer = LiveObserver::new(Arc::clone(&estate), &target.id);
    let clients = Clients::new(&estate);
    let read_only = estate.read_only || read_only_flag;
    Ok(plan::build(
        runbook, &estate, &target, &params, &clients, &observer, read_only, "dry-run",
    )
    .await)
}

/// Everything a console run needs.
pub struct Start {
    pub runbook: Runbook,
    pub estate: Arc<Estate>,
    pub target: String,
    pub params: Vec<(String, String)>,
    pub confirmation: Confirmation,
    pub read_only_flag: bool,
    pub data_dir: PathBuf,
}

/// The manual step waiting for the console's answer, if any.
#[derive(Clone, Default)]
pub struct Manual(Arc<Mutex<Option<oneshot::Sender<Ack>>>>);

impl Manual {
    /// Gives the operator's word to the manual step that waits; false when none waits.
    pub fn answer(&self, ack: Ack) -> bool {
        let waiting = self.0.lock().ok().and_then(|mut slot| slot.take());
        waiting.is_some_and(|tx| tx.send(ack).is_ok())
    }
}

/// The console's operator: events go to the console; a manual step waits for its answer
/// (the run stops when the console is gone).
pub struct ChannelOperator {
    tx: mpsc::UnboundedSender<Message>,
    manual: Manual,
}

impl Operator for ChannelOperator {
    fn event(&self, event: Event) {
        let _ = self.tx.send(Message::Event(event));
    }

    async fn manual(&self, n: usize, text: &str) -> Ack {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut slot) = self.manual.0.lock() {
            *slot = Some(tx);
        }
        let asked = Message::Manual {
            n,
            text: text.to_string(),
        };
        if self.tx.send(asked).is_err() {
            return Ack::Stop;
        }
        rx.await.unwrap_or(Ack::Stop)
    }
}

/// Runs the runbook through the engine (lease, confirmation check, steps, audit), sending
/// progress on `tx` and, last, [`Message::Finished`]. Parameters are resolved as headless
/// does; a bad one is a refusal before anything runs.
pub async fn run(
    start: Start,
    tx: mpsc::UnboundedSender<Message>,
    manual: Manual,
    cancel: watch::Receiver<Option<String>>,
) -> Outcome {
    let outcome = match params::resolve(&start.runbook, &start.params) {
        Err(e) => Outcome::Refused(e),
        Ok(params) => {
            let spec = RunSpec {
                runbook: start.runbook,
                estate: Arc::clone(&start.estate),
                target: start.target.clone(),
                params,
                confirmation: start.confirmation,
                mode: Mode::Run,
                read_only_flag: start.read_only_flag,
                data_dir: start.data_dir,
                pace: Pace::default(),
                fresh: false,
                speed: 1.0,
            };
            let observer = LiveObserver::new(start.estate, &start.target);
            let operator = ChannelOperator {
                tx: tx.clone(),
                manual,
            };
            engine::run(&spec, &observer, &operator, cancel).await
        }
    };
    let _ = tx.send(Message::Finished(outcome.clone()));
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_step_waits_for_the_console_and_stops_when_it_is_gone() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let manual = Manual::default();
        let operator = ChannelOperator {
            tx,
            manual: manual.clone(),
        };
        let waiting = tokio::spawn(async move { operator.manual(3, "check the app").await });
        match rx.recv().await {
            Some(Message::Manual { n, text }) => {
                assert_eq!((n, text.as_str()), (3, "check the app"));
            }
            other => panic!("expected the manual step, got {other:?}"),
        }
        assert!(manual.answer(Ack::Done));
        assert_eq!(waiting.await.ok(), Some(Ack::Done));
        assert!(!manual.answer(Ack::Done), "nothing waits any more");
    }
}

//! The step engine: runs one runbook on one target. In order: refuse when read-only; read back
//! an interrupted earlier run of the same runbook on the same target and resume it; take the
//! target's lease (refused when someone holds it); check the confirmation; then run each step
//! (`check`, `action`, `wait`, `manual`), recording each in the audit log before and after,
//! with `[[on_failure]]` steps after a failure. A signal stops it between or during steps with
//! the step in flight recorded; the lease is then kept for the resumed run.
//!
//! States of a step: pending → running → ok | skipped | failed; a run ends done, failed, check
//! failed, refused or interrupted.

mod step;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;

use super::audit::{AuditLog, Entry, Event as AuditEvent, Who};
use super::confirm::Confirmation;
use super::dispatch::{Dispatcher, Grant, HeldLease};
use super::lease::{self, LeaseSpot};
use super::params::Params;
use super::resume::{self, Unfinished};
use super::view::Observe;
use super::{Runbook, Step};
use crate::action::{Clients, Pace};
use crate::estate::Estate;

/// Everything a run needs to know before it starts.
#[derive(Clone)]
pub struct RunSpec {
    pub runbook: Runbook,
    pub estate: Arc<Estate>,
    pub target: String,
    pub params: Params,
    pub confirmation: Confirmation,
    pub mode: Mode,
    /// `--read-only`.
    pub read_only_flag: bool,
    /// Where the audit log and the local leases live.
    pub data_dir: PathBuf,
    pub pace: Pace,
    /// Start over even when an earlier run of the same runbook on the target did not finish.
    pub fresh: bool,
    /// Seconds on the target's clock per wall-clock second: 1 for real systems; a drill's
    /// scenario speed, so a `wait` step's timeout holds on the simulator's clock.
    pub speed: f64,
}

/// Why the run is happening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// An operator's run.
    Run,
    /// A drill against the simulator: manual steps are acknowledged by the drill.
    Drill,
}

impl Mode {
    fn word(self) -> &'static str {
        match self {
            Mode::Run => "run",
            Mode::Drill => "drill",
        }
    }
}

/// How one step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepResult {
    Ok,
    Skipped,
    Failed,
    /// A `check` that did not hold.
    CheckFailed,
}

impl StepResult {
    pub fn word(self) -> &'static str {
        match self {
            StepResult::Ok => "ok",
            StepResult::Skipped => "skipped",
            StepResult::Failed => "failed",
            StepResult::CheckFailed => "check_failed",
        }
    }
}

/// What the engine tells the operator as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A line worth showing (the resume report, the lease taken).
    Note(String),
    StepStarted {
        n: usize,
        kind: &'static str,
        label: String,
    },
    /// Operation status, elapsed time.
    Progress { n: usize, text: String },
    StepFinished {
        n: usize,
        result: StepResult,
        detail: String,
        elapsed: Duration,
    },
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    StepFailed {
        step: usize,
        why: String,
    },
    CheckFailed {
        step: usize,
        why: String,
    },
    /// Nothing ran: read-only, lease held, confirmation missing, bad input.
    Refused(String),
    /// A signal stopped it; `step` was in flight.
    Interrupted {
        step: Option<usize>,
        why: String,
    },
}

impl Outcome {
    /// The exit code architecture.md gives: 0 done, 1 a step failed, 2 a check failed, 4
    /// refused. An interrupted run exits 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Done => 0,
            Outcome::StepFailed { .. } | Outcome::Interrupted { .. } => 1,
            Outcome::CheckFailed { .. } => 2,
            Outcome::Refused(_) => 4,
        }
    }

    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::StepFailed { .. } => "failed",
            Outcome::CheckFailed { .. } => "check_failed",
            Outcome::Refused(_) => "refused",
            Outcome::Interrupted { .. } => "interrupted",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Outcome::Done => "done: every step succeeded".to_string(),
            Outcome::StepFailed { step, why } => format!("step {step} failed: {why}"),
            Outcome::CheckFailed { step, why } => {
                format!("precondition (step {step}) failed: {why}")
            }
            Outcome::Refused(why) => format!("refused: {why}"),
            Outcome::Interrupted { step, why } => match step {
                Some(s) => format!("interrupted during step {s}: {why}"),
                None => format!("interrupted: {why}"),
            },
        }
    }
}

/// What the operator said to a manual step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// A person said it is done.
    Done,
    /// Nobody could be asked (no terminal, a drill): the instructions are recorded and the run
    /// goes on.
    Unattended,
    /// Stop the run here.
    Stop,
}

/// The operator side of a run: sees events, carries out manual steps.
pub trait Operator: Send + Sync {
    fn event(&self, event: Event);
    /// Shows a manual step's instructions and waits for the operator's word.
    fn manual(&self, n: usize, text: &str) -> impl std::future::Future<Output = Ack> + Send;
}

/// A run in progress: what every step uses.
pub(crate) struct Run<'a, O: Observe, P: Operator> {
    pub spec: &'a RunSpec,
    pub observer: &'a O,
    pub operator: &'a P,
    pub audit: AuditLog,
    pub clients: Clients,
    pub dispatcher: Dispatcher,
    pub grant: Grant,
    pub id: String,
    pub who: Who,
    pub resumed: Option<Unfinished>,
}

/// A fresh run id: `r-<utc time>-<4 hex>`.
pub fn new_run_id() -> String {
    let now = chrono::Utc::now();
    let salt = (now.timestamp_subsec_nanos() ^ std::process::id().rotate_left(16)) & 0xffff;
    format!("r-{}-{salt:04x}", now.format("%Y%m%d-%H%M%S"))
}

/// Runs the runbook. `cancel` carries the name of the signal that asks the run to stop.
pub async fn run<O: Observe, P: Operator>(
    spec: &RunSpec,
    observer: &O,
    operator: &P,
    cancel: watch::Receiver<Option<String>>,
) -> Outcome {
    let audit = AuditLog::in_dir(&spec.data_dir);
    let clients = Clients::new(&spec.estate);
    let who = Who::find(&spec.estate, &clients.http).await;
    let Some(target) = spec.estate.service(&spec.target) else {
        return Outcome::Refused(format!("'{}' is not a service of the estate", spec.target));
    };
    let dispatcher = Dispatcher::new(&spec.estate, spec.read_only_flag);
    let refuse = |why: String, run: &str| {
        let mut e = base_entry(spec, run, AuditEvent::Refused, &who);
        e.detail = Some(why.clone());
        let _ = audit.append(e);
        Outcome::Refused(why)
    };
    if !spec.runbook.kinds.contains(&target.kind) {
        return Outcome::Refused(format!(
            "runbook {} is for {} services, and '{}' is a {} service",
            spec.runbook.id,
            spec.runbook
                .kinds
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(" or "),
            target.id,
            target.kind
        ));
    }
    if spec.runbook.has_actions()
        && let Some(r) = dispatcher.read_only_refusal(&spec.estate)
    {
        return refuse(r.to_string(), &new_run_id());
    }
    let entries = match audit.read() {
        Ok(e) => e,
        Err(e) => {
            return Outcome::Refused(format!(
                "the audit log cannot be read, so opsdeck will not act: {e}"
            ));
        }
    };
    let unfinished = resume::find(&entries, &spec.estate.name, &spec.runbook.id, &target.id)
        .filter(|_| !spec.fresh);
    if let Some(u) = &unfinished {
        operator.event(Event::Note(format!("{}; resuming it", u.describe())));
        let given = Value::Object(
            spec.params
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        );
        if !u.params.is_null() && u.params != given {
            return refuse(
                format!(
                    "the unfinished run {} used parameters {}, not {given}: run again with the same parameters to resume it, or with --fresh to start over",
                    u.run, u.params
                ),
                &u.run,
            );
        }
    }
    let run_id = unfinished
        .as_ref()
        .map_or_else(new_run_id, |u| u.run.clone());
    let spot = LeaseSpot::of(&spec.estate, &target.id, &spec.data_dir);
    let me = lease::holder_now(&who.short(), &who.host, &run_id, &spec.runbook.id, spot.ttl);
    let held = match HeldLease::taken(spot, me, unfinished.as_ref().map(|u| u.run.as_str())).await {
        Ok(h) => h,
        Err(e) => return refuse(e.to_string(), &run_id),
    };
    let grant = match Grant::new(&spec.runbook, target, &spec.confirmation, &held) {
        Ok(g) => g,
        Err(e) => {
            let _ = held.spot.release(&held.me).await;
            return refuse(e.to_string(), &run_id);
        }
    };
    operator.event(Event::Note(format!("lease taken: {}", held.spot.place())));
    let (lost_tx, lost) = watch::channel(None::<String>);
    let renewer = tokio::spawn(renew(held.clone(), lost_tx));
    let run = Run {
        spec,
        observer,
        operator,
        audit,
        clients,
        dispatcher,
        grant,
        id: run_id,
        who,
        resumed: unfinished,
    };
    let outcome = run.steps(cancel, lost).await;
    renewer.abort();
    if !matches!(outcome, Outcome::Interrupted { .. }) {
        let _ = held.spot.release(&held.me).await;
    }
    outcome
}

/// Renews the lease every third of its TTL; says so on `lost` when it cannot.
async fn renew(held: HeldLease, lost: watch::Sender<Option<String>>) {
    let every = held.spot.ttl / 3;
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = held.spot.renew(&held.me).await {
            let _ = lost.send(Some(e.to_string()));
            return;
        }
    }
}

pub(crate) fn base_entry(spec: &RunSpec, run: &str, event: AuditEvent, who: &Who) -> Entry {
    let mut e = Entry::new(run, event);
    e.runbook = Some(spec.runbook.id.clone());
    e.estate = Some(spec.estate.name.clone());
    e.target = Some(spec.target.clone());
    e.who = Some(who.clone());
    e.mode = Some(spec.mode.word().to_string());
    e
}

impl<O: Observe, P: Operator> Run<'_, O, P> {
    /// Appends an audit entry for this run.
    pub(crate) fn record(
        &self,
        event: AuditEvent,
        fill: impl FnOnce(&mut Entry),
    ) -> Result<(), String> {
        let mut e = base_entry(self.spec, &self.id, event, &self.who);
        fill(&mut e);
        self.audit
            .append(e)
            .map(|_| ())
            .map_err(|e| format!("{e}; opsdeck stops rather than act unrecorded"))
    }

    async fn steps(
        &self,
        mut cancel: watch::Receiver<Option<String>>,
        mut lost: watch::Receiver<Option<String>>,
    ) -> Outcome {
        let started = Instant::now();
        let event = if self.resumed.is_some() {
            AuditEvent::RunResumed
        } else {
            AuditEvent::RunStarted
        };
        let params = Value::Object(
            self.spec
                .params
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        );
        if let Err(e) = self.record(event, |e| e.params = Some(params)) {
            return Outcome::Refused(e);
        }
        let done: Vec<usize> = self
            .resumed
            .as_ref()
            .map(|u| u.done.clone())
            .unwrap_or_default();
        let mut outcome = Outcome::Done;
        let mut acted = false;
        for (i, step) in self.spec.runbook.steps.iter().enumerate() {
            let n = i + 1;
            if done.contains(&n) {
                self.operator.event(Event::Note(format!(
                    "step {n} ({}) finished in the earlier run",
                    step.label()
                )));
                continue;
            }
            if let Some(why) = stop_asked(&cancel, &lost) {
                outcome = self.interrupted(None, &why);
                break;
            }
            acted |= step.action().is_some();
            let result = tokio::select! {
                r = self.step(n, step) => r,
                why = stop_signal(&mut cancel, &mut lost) => {
                    outcome = self.interrupted(Some((n, step)), &why);
                    break;
                }
            };
            match result {
                (StepResult::Ok | StepResult::Skipped, _) => {}
                (StepResult::Failed, why) if step.on_failure == super::OnFailure::Continue => {
                    self.operator.event(Event::Note(format!(
                        "step {n} failed ({why}); its on_failure says continue"
                    )));
                }
                (StepResult::CheckFailed, why) => {
                    outcome = Outcome::CheckFailed { step: n, why };
                    break;
                }
                (StepResult::Failed, why) => {
                    outcome = Outcome::StepFailed { step: n, why };
                    break;
                }
            }
        }
        let failed = matches!(
            outcome,
            Outcome::StepFailed { .. } | Outcome::CheckFailed { .. }
        );
        if failed && (acted || matches!(outcome, Outcome::StepFailed { .. })) {
            self.on_failure(&mut cancel).await;
        }
        if !matches!(outcome, Outcome::Interrupted { .. }) {
            let elapsed = started.elapsed();
            let _ = self.record(AuditEvent::RunFinished, |e| {
                e.result = Some(outcome.word().to_string());
                e.detail = Some(outcome.describe());
                e.duration_ms = Some(millis(elapsed));
            });
        }
        outcome
    }

    /// The `[[on_failure]]` steps, numbered after the main ones; their own failures are noted.
    async fn on_failure(&self, cancel: &mut watch::Receiver<Option<String>>) {
        let base = self.spec.runbook.steps.len();
        for (i, step) in self.spec.runbook.on_failure.iter().enumerate() {
            let n = base + i + 1;
            let never = watch::channel(None::<String>).1;
            if stop_asked(cancel, &never).is_some() {
                return;
            }
            let (result, why) = self.step(n, step).await;
            if result == StepResult::Failed {
                self.operator.event(Event::Note(format!(
                    "on-failure step {n} failed too: {why}"
                )));
            }
        }
    }

    fn interrupted(&self, step: Option<(usize, &Step)>, why: &str) -> Outcome {
        let _ = self.record(AuditEvent::RunInterrupted, |e| {
            e.step = step.map(|(n, _)| n);
            e.label = step.map(|(_, s)| s.label());
            e.detail = Some(why.to_string());
        });
        Outcome::Interrupted {
            step: step.map(|(n, _)| n),
            why: format!(
                "{why}; the lease is kept and the step is recorded in flight: run the same runbook again to resume"
            ),
        }
    }
}

/// Whether a stop was asked for already.
fn stop_asked(
    cancel: &watch::Receiver<Option<String>>,
    lost: &watch::Receiver<Option<String>>,
) -> Option<String> {
    cancel
        .borrow()
        .clone()
        .or_else(|| lost.borrow().clone().map(|l| format!("stopped: {l}")))
}

/// Resolves when a signal arrives or the lease is lost.
async fn stop_signal(
    cancel: &mut watch::Receiver<Option<String>>,
    lost: &mut watch::Receiver<Option<String>>,
) -> String {
    let (mut cancel_open, mut lost_open) = (true, true);
    loop {
        if let Some(why) = stop_asked(cancel, lost) {
            return why;
        }
        if !cancel_open && !lost_open {
            return std::future::pending().await;
        }
        tokio::select! {
            r = cancel.changed(), if cancel_open => cancel_open = r.is_ok(),
            r = lost.changed(), if lost_open => lost_open = r.is_ok(),
        }
    }
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

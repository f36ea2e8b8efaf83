//! One step of a run: `when`, then the step's own work — a check on the live target, an action
//! (prepare, record, dispatch, record, follow its operation), a wait that polls the target, or
//! a manual step the operator confirms — and its audit entries. An action resumed from an
//! interrupted run is never sent twice: a write answered before is followed, and a write whose
//! answer was never recorded is first looked for through the API.

use std::time::Instant;

use chrono::Utc;
use serde_json::Value;

use super::{Event, Operator, Run, StepResult, millis};
use crate::action::{
    ActionError, Cx, Entry as ActionEntry, Operation, Progress, Request, Submitted,
};
use crate::runbook::audit::Event as AuditEvent;
use crate::runbook::dispatch::DispatchError;
use crate::runbook::params;
use crate::runbook::resume::Phase;
use crate::runbook::view::{Observe, document};
use crate::runbook::{Step, StepKind};

impl<O: Observe, P: Operator> Run<'_, O, P> {
    /// The condition document now.
    async fn doc(&self) -> Result<Value, String> {
        self.observer
            .target()
            .await
            .map(|t| document(&t, &self.spec.params))
    }

    /// Runs step `n`; returns how it ended and a sentence on why.
    pub(super) async fn step(&self, n: usize, step: &Step) -> (StepResult, String) {
        let started = Instant::now();
        let phase = self
            .resumed
            .as_ref()
            .and_then(|u| u.in_flight.as_ref())
            .filter(|f| f.step == n)
            .map(|f| f.phase.clone());
        let (result, detail) = self.step_inner(n, step, phase, started).await;
        let elapsed = started.elapsed();
        let record = self.record(AuditEvent::StepFinished, |e| {
            e.step = Some(n);
            e.step_kind = Some(step.word().to_string());
            e.label = Some(step.label());
            e.action = step.action().map(|a| a.name.to_string());
            e.result = Some(result.word().to_string());
            e.detail = Some(detail.clone());
            e.duration_ms = Some(millis(elapsed));
        });
        let (result, detail) = match record {
            Ok(()) => (result, detail),
            Err(e) => (StepResult::Failed, e),
        };
        self.operator.event(Event::StepFinished {
            n,
            result,
            detail: detail.clone(),
            elapsed,
        });
        (result, detail)
    }

    async fn step_inner(
        &self,
        n: usize,
        step: &Step,
        phase: Option<Phase>,
        started: Instant,
    ) -> (StepResult, String) {
        if let Some(when) = &step.when {
            match self.doc().await {
                Ok(doc) if !when.eval(&doc) => {
                    return (
                        StepResult::Skipped,
                        format!(
                            "skipped: {} does not hold ({})",
                            when.source(),
                            when.explain(&doc)
                        ),
                    );
                }
                Ok(_) => {}
                Err(e) => {
                    return (
                        StepResult::Failed,
                        format!("cannot read the target to decide whether to run: {e}"),
                    );
                }
            }
        }
        if phase.is_none()
            && let Err(e) = self.record(AuditEvent::StepStarted, |e| {
                e.step = Some(n);
                e.step_kind = Some(step.word().to_string());
                e.label = Some(step.label());
                e.action = step.action().map(|a| a.name.to_string());
            })
        {
            return (StepResult::Failed, e);
        }
        self.operator.event(Event::StepStarted {
            n,
            kind: step.word(),
            label: step.label(),
        });
        match &step.kind {
            StepKind::Check { condition, explain } => match self.doc().await {
                Ok(doc) if condition.eval(&doc) => (
                    StepResult::Ok,
                    format!("holds: {}", condition.explain(&doc)),
                ),
                Ok(doc) => (
                    StepResult::CheckFailed,
                    format!(
                        "{} does not hold ({}){}",
                        condition.source(),
                        condition.explain(&doc),
                        explain
                            .as_deref()
                            .map(|x| format!(". {x}"))
                            .unwrap_or_default()
                    ),
                ),
                Err(e) => (
                    StepResult::CheckFailed,
                    format!("cannot read the target: {e}"),
                ),
            },
            StepKind::Wait {
                condition,
                timeout,
                every,
                explain,
            } => {
                let speed = self.spec.speed.max(f64::MIN_POSITIVE);
                let every = every.map_or(self.spec.pace.wait, |e| {
                    e.div_f64(speed).min(self.spec.pace.wait)
                });
                let deadline = tokio::time::Instant::now() + timeout.div_f64(speed);
                loop {
                    let seen = self.doc().await;
                    match &seen {
                        Ok(doc) if condition.eval(doc) => {
                            return (
                                StepResult::Ok,
                                format!("{} after {}", condition.source(), clock(started, speed)),
                            );
                        }
                        Ok(doc) => self.operator.event(Event::Progress {
                            n,
                            text: format!(
                                "not yet: {} ({} of {})",
                                condition.explain(doc),
                                clock(started, speed),
                                humantime::format_duration(*timeout)
                            ),
                        }),
                        Err(e) => self.operator.event(Event::Progress {
                            n,
                            text: format!("cannot read the target: {e}"),
                        }),
                    }
                    if tokio::time::Instant::now() + every > deadline {
                        let now = seen.map_or_else(|e| e, |d| condition.explain(&d));
                        return (
                            StepResult::Failed,
                            format!(
                                "{} still did not hold after {} ({now}){}",
                                condition.source(),
                                humantime::format_duration(*timeout),
                                explain
                                    .as_deref()
                                    .map(|x| format!(". {x}"))
                                    .unwrap_or_default()
                            ),
                        );
                    }
                    tokio::time::sleep(every).await;
                }
            }
            StepKind::Manual { text } => match self.operator.manual(n, text).await {
                super::Ack::Done => (StepResult::Ok, "confirmed done by the operator".to_string()),
                super::Ack::Unattended => {
                    let who = match self.spec.mode {
                        super::Mode::Drill => "acknowledged by the drill",
                        super::Mode::Run => {
                            "no terminal to confirm on: instructions recorded, not confirmed by a person"
                        }
                    };
                    (StepResult::Ok, who.to_string())
                }
                super::Ack::Stop => (
                    StepResult::Failed,
                    "the operator stopped the run at this manual step".to_string(),
                ),
            },
            StepKind::Action { action, with } => self.act(n, action, with, phase.as_ref()).await,
        }
    }

    async fn act(
        &self,
        n: usize,
        action: &ActionEntry,
        with: &serde_json::Map<String, Value>,
        phase: Option<&Phase>,
    ) -> (StepResult, String) {
        let target = self.spec.estate.service(&self.spec.target);
        let Some(target) = target else {
            return (StepResult::Failed, "the target left the estate".to_string());
        };
        let args = params::substitute(with, &self.spec.params, target, &self.id);
        let say = |p: Progress| self.operator.event(Event::Progress { n, text: p.text });
        let cx = Cx {
            estate: &self.spec.estate,
            service: target,
            args: &args,
            clients: &self.clients,
            pace: self.spec.pace,
            progress: &say,
        };
        match phase {
            Some(Phase::Sent {
                operation: Some(op),
            }) => {
                self.operator.event(Event::Note(format!(
                    "{} was accepted before the interruption: following operation {} instead of sending it again",
                    action.name,
                    op.short()
                )));
                return self.follow(&cx, op).await;
            }
            Some(Phase::Sent { operation: None }) => {
                return (
                    StepResult::Ok,
                    format!(
                        "{} was answered before the interruption; not sent again",
                        action.name
                    ),
                );
            }
            Some(Phase::Sending { at }) if !action.idempotent => {
                match action.find_started(&cx, *at).await {
                    Ok(Some(found)) => {
                        self.operator.event(Event::Note(format!(
                            "the interrupted run's {} did arrive: {}",
                            action.name, found.summary
                        )));
                        return self.answered(n, &cx, action, found).await;
                    }
                    Ok(None) => self.operator.event(Event::Note(format!(
                        "the interrupted run's {} never took effect; sending it now",
                        action.name
                    ))),
                    Err(e) => {
                        return (
                            StepResult::Failed,
                            format!(
                                "the earlier run stopped while sending {}, and opsdeck cannot tell whether it arrived ({e}); it is not sent again: check the target, then run with --fresh to start over",
                                action.name
                            ),
                        );
                    }
                }
            }
            _ => {}
        }
        let plan = match action.prepare(&cx).await {
            Ok(p) => p,
            Err(e) => {
                return (
                    StepResult::Failed,
                    format!("cannot prepare {}: {e}", action.name),
                );
            }
        };
        let sending_at = Utc::now();
        let shown: Vec<_> = plan.requests.iter().map(Request::shown).collect();
        for r in &shown {
            self.operator.event(Event::Progress {
                n,
                text: format!("sending {}", r.line()),
            });
        }
        let facts = (!plan.facts.is_empty())
            .then(|| Value::Object(plan.facts.clone().into_iter().collect()));
        let shown_args = Value::Object(args.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        if let Err(e) = self.record(AuditEvent::RequestSending, |e| {
            e.step = Some(n);
            e.action = Some(action.name.to_string());
            e.params = Some(crate::action::redact::json(
                &shown_args,
                &secrets_of(&plan.requests),
            ));
            e.request = Some(shown.clone());
            e.facts = facts;
        }) {
            return (StepResult::Failed, e);
        }
        let submitted = match self
            .dispatcher
            .submit(&self.grant, action, &cx, &plan)
            .await
        {
            Ok(s) => s,
            Err(DispatchError::Refused(r)) => {
                return (StepResult::Failed, format!("refused at dispatch: {r}"));
            }
            Err(DispatchError::Action(ActionError::Unknown(why))) if action.idempotent => {
                self.operator.event(Event::Note(format!(
                    "{why}; {} is safe to send again, sending it once more",
                    action.name
                )));
                match self
                    .dispatcher
                    .submit(&self.grant, action, &cx, &plan)
                    .await
                {
                    Ok(s) => s,
                    Err(e) => return (StepResult::Failed, e.to_string()),
                }
            }
            Err(DispatchError::Action(ActionError::Unknown(why))) => {
                match action.find_started(&cx, sending_at).await {
                    Ok(Some(found)) => found,
                    Ok(None) => {
                        return (
                            StepResult::Failed,
                            format!(
                                "{why}; the API shows it was not applied, and it is not sent again by itself: run the runbook again to retry"
                            ),
                        );
                    }
                    Err(e) => {
                        return (
                            StepResult::Failed,
                            format!(
                                "{why}; whether it was applied cannot be told ({e}), so it is not sent again: check the target before running again"
                            ),
                        );
                    }
                }
            }
            Err(DispatchError::Action(e)) => return (StepResult::Failed, e.to_string()),
        };
        self.answered(n, &cx, action, submitted).await
    }

    /// Records the answer, then follows its operation, if any.
    async fn answered(
        &self,
        n: usize,
        cx: &Cx<'_>,
        action: &ActionEntry,
        submitted: Submitted,
    ) -> (StepResult, String) {
        if let Err(e) = self.record(AuditEvent::RequestSent, |e| {
            e.step = Some(n);
            e.action = Some(action.name.to_string());
            e.operation.clone_from(&submitted.operation);
            e.result = Some(submitted.summary.clone());
        }) {
            return (StepResult::Failed, e);
        }
        match &submitted.operation {
            Some(op) => self.follow(cx, op).await,
            None => (StepResult::Ok, submitted.summary),
        }
    }

    async fn follow(&self, cx: &Cx<'_>, op: &Operation) -> (StepResult, String) {
        match crate::action::follow(&self.clients.google, op, cx.pace, cx.progress).await {
            Ok(_) => (StepResult::Ok, format!("operation {} is DONE", op.short())),
            Err(e) => (StepResult::Failed, e.to_string()),
        }
    }
}

fn secrets_of(requests: &[Request]) -> Vec<String> {
    requests.iter().flat_map(|r| r.secrets.clone()).collect()
}

/// Time since `since` on the target's clock.
fn clock(since: Instant, speed: f64) -> String {
    let s = (since.elapsed().as_secs_f64() * speed) as u64;
    format!("{}m{:02}s", s / 60, s % 60)
}

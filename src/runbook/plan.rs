//! The dry-run plan: every step of a run, and for each action the exact requests it will send
//! (method, URL and body, or the RESP command), read fresh from the live systems with secrets
//! masked. It is the first screen of every run in the console and what
//! `opsdeck runbook run ID --dry-run` prints. Building it only reads.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use super::confirm;
use super::params::{self, Params};
use super::view::{Observe, document};
use super::{Runbook, Step, StepKind};
use crate::action::{Clients, Cx, Pace, Shown};
use crate::estate::{Estate, Service};

/// The plan of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunPlan {
    pub schema: &'static str,
    pub runbook: String,
    pub title: String,
    pub estate: String,
    pub target: String,
    pub target_name: String,
    pub target_kind: String,
    pub target_sev: u8,
    /// `typed` (the target's id), `yes`, or `none` (nothing changes).
    pub confirmation: &'static str,
    pub read_only: bool,
    pub params: Params,
    pub steps: Vec<PlannedStep>,
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedStep {
    /// From 1; `[[on_failure]]` steps continue the count.
    pub n: usize,
    pub kind: &'static str,
    pub label: String,
    pub on_failure_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// For a check or `when`: whether it holds now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holds_now: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    pub destructive: bool,
    pub requests: Vec<Shown>,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub facts: Value,
    /// Why the requests could not be prepared now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Builds the plan: reads the target once, and prepares every action.
#[allow(clippy::too_many_arguments)]
pub async fn build<O: Observe>(
    runbook: &Runbook,
    estate: &Estate,
    target: &Service,
    params: &Params,
    clients: &Clients,
    observer: &O,
    read_only: bool,
    run_id: &str,
) -> RunPlan {
    let view = observer.target().await;
    let doc = view.as_ref().ok().map(|v| document(v, params));
    let mut steps = Vec::new();
    let all = runbook
        .steps
        .iter()
        .map(|s| (s, false))
        .chain(runbook.on_failure.iter().map(|s| (s, true)));
    for (i, (step, on_failure_only)) in all.enumerate() {
        steps.push(
            plan_step(
                i + 1,
                step,
                on_failure_only,
                estate,
                target,
                params,
                clients,
                doc.as_ref(),
                run_id,
            )
            .await,
        );
    }
    let confirmation = if !runbook.has_actions() {
        "none"
    } else if confirm::needs_typed(runbook, target) {
        "typed"
    } else {
        "yes"
    };
    RunPlan {
        schema: "opsdeck.plan/v1",
        runbook: runbook.id.clone(),
        title: runbook.title.clone(),
        estate: estate.name.clone(),
        target: target.id.clone(),
        target_name: target.name.clone(),
        target_kind: target.kind.as_str().to_string(),
        target_sev: target.sev.level(),
        confirmation,
        read_only,
        params: params.clone(),
        steps,
    }
}

#[allow(clippy::too_many_arguments)]
async fn plan_step(
    n: usize,
    step: &Step,
    on_failure_only: bool,
    estate: &Estate,
    target: &Service,
    params: &Params,
    clients: &Clients,
    doc: Option<&Value>,
    run_id: &str,
) -> PlannedStep {
    let mut out = PlannedStep {
        n,
        kind: step.word(),
        label: step.label(),
        on_failure_only,
        when: step.when.as_ref().map(|c| c.source().to_string()),
        condition: None,
        holds_now: step.when.as_ref().and_then(|c| doc.map(|d| c.eval(d))),
        action: None,
        destructive: false,
        requests: Vec::new(),
        facts: Value::Null,
        error: None,
        text: None,
    };
    match &step.kind {
        StepKind::Check { condition, explain } => {
            out.condition = Some(condition.source().to_string());
            out.holds_now = doc.map(|d| condition.eval(d));
            out.text.clone_from(explain);
        }
        StepKind::Wait {
            condition, explain, ..
        } => {
            out.condition = Some(condition.source().to_string());
            out.holds_now = doc.map(|d| condition.eval(d));
            out.text.clone_from(explain);
        }
        StepKind::Manual { text } => out.text = Some(text.clone()),
        StepKind::Action { action, with } => {
            out.action = Some(action.name.to_string());
            out.destructive = action.destructive;
            let args = params::substitute(with, params, target, run_id);
            let quiet = |_p: crate::action::Progress| {};
            let cx = Cx {
                estate,
                service: target,
                args: &args,
                clients,
                pace: Pace::default(),
                progress: &quiet,
            };
            match action.prepare(&cx).await {
                Ok(plan) => {
                    out.requests = plan
                        .requests
                        .iter()
                        .map(crate::action::Request::shown)
                        .collect();
                    if !plan.facts.is_empty() {
                        out.facts = Value::Object(plan.facts.into_iter().collect());
                    }
                }
                Err(e) => out.error = Some(e.to_string()),
            }
        }
    }
    out
}

impl RunPlan {
    /// The plan as text: a header, then each step; each request as `METHOD URL` (or the RESP
    /// command) followed by its body.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "Runbook  {} — {}", self.runbook, self.title);
        let _ = writeln!(
            s,
            "Target   {} ({}, {}, SEV{}) in estate {}",
            self.target, self.target_name, self.target_kind, self.target_sev, self.estate
        );
        let confirm = match self.confirmation {
            "typed" => format!("type the target's id: --confirm {}", self.target),
            "yes" => format!("--yes (or --confirm {})", self.target),
            _ => "none: nothing is changed".to_string(),
        };
        let _ = writeln!(s, "Confirm  {confirm}");
        if self.read_only {
            let _ = writeln!(s, "Mode     READ-ONLY: every action would be refused");
        }
        if !self.params.is_empty() {
            let shown: Vec<String> = self
                .params
                .iter()
                .map(|(k, v)| format!("{k}={}", plain(v)))
                .collect();
            let _ = writeln!(s, "Params   {}", shown.join("  "));
        }
        let mut failure_header = false;
        for step in &self.steps {
            if step.on_failure_only && !failure_header {
                let _ = writeln!(s, "\nIf a step fails:");
                failure_header = true;
            }
            let _ = write!(s, "\n{:>2}. {:<7} {}", step.n, step.kind, step.label);
            if step.destructive {
                s.push_str("  [destructive]");
            }
            s.push('\n');
            if let Some(w) = &step.when {
                let now = step.holds_now.map_or(String::new(), |h| {
                    format!(" (now: {})", if h { "runs" } else { "skipped" })
                });
                let _ = writeln!(s, "    only when {w}{now}");
            }
            if (step.kind == "check" || step.kind == "wait")
                && let Some(h) = step.holds_now.filter(|_| step.when.is_none())
            {
                let _ = writeln!(s, "    holds now: {}", if h { "yes" } else { "no" });
            }
            if let Some(t) = &step.text {
                for line in t.lines() {
                    let _ = writeln!(s, "    {line}");
                }
            }
            for r in &step.requests {
                for line in r.to_string().lines() {
                    let _ = writeln!(s, "    {line}");
                }
            }
            if let Value::Object(facts) = &step.facts {
                let shown: Vec<String> = facts
                    .iter()
                    .map(|(k, v)| format!("{k}={}", plain(v)))
                    .collect();
                let _ = writeln!(s, "    read now: {}", shown.join("  "));
            }
            if let Some(e) = &step.error {
                let _ = writeln!(s, "    cannot prepare now: {e}");
            }
        }
        s
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(t) => t.clone(),
        other => other.to_string(),
    }
}

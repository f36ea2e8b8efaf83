//! Runbooks: the procedures opsdeck runs against live infrastructure. Owns the runbook file
//! format (one runbook per `runbooks/*.toml`, the id is the file stem), its validation, and
//! the machinery that runs one safely: the dry-run plan (`plan`), the dispatcher that refuses
//! before anything is sent (`dispatch`: read-only, confirmation, lease), the per-target lease
//! (`lease`), the hash-chained audit log (`audit`), the step engine (`engine`) and the headless
//! command line (`headless`). The writes themselves live in `crate::action`.
//!
//! A run, in order: parameters are checked; the lease on the target is taken (refused: exit 4);
//! the dry-run plan is shown; a destructive runbook on a SEV 1–2 target needs the target's id
//! typed; then each step runs, every one recorded in the audit log before and after.

pub mod audit;
pub mod confirm;
pub mod console;
pub mod dispatch;
pub mod engine;
pub mod headless;
pub mod lease;
mod load;
pub mod params;
pub mod plan;
pub mod recent;
pub mod resume;
pub mod view;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::condition::Condition;
use crate::estate::{Diagnostic, Estate, Kind, Service};

pub use load::{from_str, load_dir};

/// The runbooks shipped with opsdeck, by id (file stem).
const BUILTIN: &[(&str, &str)] = &[
    (
        "cloud-sql-failover",
        include_str!("../runbooks/cloud-sql-failover.toml"),
    ),
    (
        "cloud-sql-restore-backup",
        include_str!("../runbooks/cloud-sql-restore-backup.toml"),
    ),
    (
        "cloud-sql-pitr-clone",
        include_str!("../runbooks/cloud-sql-pitr-clone.toml"),
    ),
    (
        "cloud-run-scale-up",
        include_str!("../runbooks/cloud-run-scale-up.toml"),
    ),
    (
        "cloud-run-rollback",
        include_str!("../runbooks/cloud-run-rollback.toml"),
    ),
    (
        "k8s-rollout-restart",
        include_str!("../runbooks/k8s-rollout-restart.toml"),
    ),
    ("k8s-scale", include_str!("../runbooks/k8s-scale.toml")),
    (
        "redis-sentinel-failover",
        include_str!("../runbooks/redis-sentinel-failover.toml"),
    ),
    (
        "memorystore-failover",
        include_str!("../runbooks/memorystore-failover.toml"),
    ),
    (
        "cloud-tasks-pause-drain-resume",
        include_str!("../runbooks/cloud-tasks-pause-drain-resume.toml"),
    ),
    (
        "rabbitmq-dead-letter-triage",
        include_str!("../runbooks/rabbitmq-dead-letter-triage.toml"),
    ),
];

/// One validated runbook.
#[derive(Debug, Clone)]
pub struct Runbook {
    /// The file stem, kebab-case.
    pub id: String,
    pub title: String,
    /// A paragraph on when to use it.
    pub summary: Option<String>,
    /// The kinds of service it applies to.
    pub kinds: Vec<Kind>,
    /// A condition on the target that must also hold for it to apply (`applies_to.when`).
    pub applies_when: Option<Condition>,
    /// Needs typed confirmation on a SEV 1–2 target: declared, or any action is destructive.
    pub destructive: bool,
    pub params: Vec<Param>,
    pub steps: Vec<Step>,
    /// Run after a step fails and stops the run (an escalation, undoing a pause).
    pub on_failure: Vec<Step>,
    /// How the runbook is drilled.
    pub drill: Option<DrillSpec>,
    /// Where it was read from.
    pub source: String,
}

/// A typed, validated runbook parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    /// Used when the run does not give one; none means the run must.
    pub default: Option<Value>,
    pub help: Option<String>,
}

/// A parameter's type and its bounds.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamKind {
    Integer {
        min: Option<i64>,
        max: Option<i64>,
    },
    /// Text, optionally one of a fixed set.
    Text {
        choices: Vec<String>,
    },
    Bool,
    Duration {
        min: Option<Duration>,
        max: Option<Duration>,
    },
    /// An RFC 3339 time, a time ago ("15m ago"), or "latest".
    Time,
}

impl ParamKind {
    pub fn name(&self) -> &'static str {
        match self {
            ParamKind::Integer { .. } => "integer",
            ParamKind::Text { .. } => "text",
            ParamKind::Bool => "bool",
            ParamKind::Duration { .. } => "duration",
            ParamKind::Time => "time",
        }
    }
}

/// One step.
#[derive(Debug, Clone)]
pub struct Step {
    /// A short label; else one is made from the step.
    pub name: Option<String>,
    pub kind: StepKind,
    /// Run the step only when this holds (on the parameters and the target).
    pub when: Option<Condition>,
    pub on_failure: OnFailure,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum StepKind {
    /// A precondition on the live target; a failed check stops the run (exit 2).
    Check {
        condition: Condition,
        explain: Option<String>,
    },
    /// One action, with its arguments (which may name parameters as `${name}`).
    Action {
        action: &'static crate::action::Entry,
        with: serde_json::Map<String, Value>,
    },
    /// Polls the live target until the condition holds, or fails after `timeout`.
    Wait {
        condition: Condition,
        timeout: Duration,
        every: Option<Duration>,
        explain: Option<String>,
    },
    /// Instructions the operator carries out and confirms.
    Manual { text: String },
}

impl Step {
    /// `check`, `action`, `wait` or `manual`.
    pub fn word(&self) -> &'static str {
        match self.kind {
            StepKind::Check { .. } => "check",
            StepKind::Action { .. } => "action",
            StepKind::Wait { .. } => "wait",
            StepKind::Manual { .. } => "manual",
        }
    }

    /// The step's label: its name, else what it does.
    pub fn label(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        match &self.kind {
            StepKind::Check { condition, .. } => format!("check {}", condition.source()),
            StepKind::Action { action, .. } => action.name.to_string(),
            StepKind::Wait {
                condition, timeout, ..
            } => format!(
                "wait until {} (at most {})",
                condition.source(),
                humantime::format_duration(*timeout)
            ),
            StepKind::Manual { text } => {
                let first = text.split(['.', '\n']).next().unwrap_or("").trim();
                if first.chars().count() > 60 {
                    let cut: String = first.chars().take(59).collect();
                    format!("{cut}…")
                } else {
                    first.to_string()
                }
            }
        }
    }

    /// The action of an action step.
    pub fn action(&self) -> Option<&'static crate::action::Entry> {
        match &self.kind {
            StepKind::Action { action, .. } => Some(action),
            _ => None,
        }
    }
}

/// What a failed step does to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Stop, run the runbook's `[[on_failure]]` steps, exit 1.
    Stop,
    /// Note it and go on with the next step.
    Continue,
}

/// How a runbook is drilled: the scenario that breaks what it repairs.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillSpec {
    pub scenario: String,
    /// The sample estate to drill on (else the scenario's, else the demo estate).
    pub estate: Option<String>,
    /// The service to run it against (else the one the fault hits).
    pub target: Option<String>,
    /// Parameters for the drill run.
    pub params: Vec<(String, String)>,
}

impl Runbook {
    /// Whether it applies to this service (by kind, and `applies_to.when` on `target`).
    pub fn applies_to(&self, service: &Service, target_view: Option<&Value>) -> bool {
        if !self.kinds.contains(&service.kind) {
            return false;
        }
        match (&self.applies_when, target_view) {
            (Some(cond), Some(view)) => cond.eval(view),
            _ => true,
        }
    }

    /// The services of the estate it may run against (by kind only).
    pub fn candidates<'e>(&self, estate: &'e Estate) -> Vec<&'e Service> {
        estate
            .services
            .iter()
            .filter(|s| self.kinds.contains(&s.kind))
            .collect()
    }

    /// Whether any step changes something.
    pub fn has_actions(&self) -> bool {
        self.steps
            .iter()
            .chain(&self.on_failure)
            .any(|s| matches!(s.kind, StepKind::Action { .. }))
    }
}

/// The shipped runbooks, then the user's (`<XDG config>/opsdeck/runbooks/*.toml`, or the
/// directory given), a user file replacing a shipped one of the same id. Problems come back
/// as diagnostics; a runbook with errors is left out.
pub fn load_all(user_dir: Option<&Path>) -> (Vec<Runbook>, Vec<Diagnostic>) {
    let mut runbooks = Vec::new();
    let mut diags = Vec::new();
    for (id, text) in BUILTIN {
        match from_str(text, &format!("runbooks/{id}.toml"), id) {
            Ok(r) => runbooks.push(r),
            Err(mut d) => diags.append(&mut d),
        }
    }
    let dir = user_dir.map(Path::to_path_buf).or_else(default_dir);
    if let Some(dir) = dir.filter(|d| d.is_dir()) {
        let (user, mut d) = load_dir(&dir);
        diags.append(&mut d);
        for r in user {
            runbooks.retain(|b: &Runbook| b.id != r.id);
            runbooks.push(r);
        }
    }
    runbooks.sort_by(|a, b| a.id.cmp(&b.id));
    (runbooks, diags)
}

/// `<XDG config>/opsdeck/runbooks`.
pub fn default_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "opsdeck").map(|d| d.config_dir().join("runbooks"))
}

/// The ids of the shipped runbooks.
pub fn builtin_ids() -> Vec<&'static str> {
    BUILTIN.iter().map(|(id, _)| *id).collect()
}

/// The shipped runbook with this id.
pub fn builtin(id: &str) -> Option<Runbook> {
    let (stem, text) = BUILTIN.iter().find(|(n, _)| *n == id)?;
    from_str(text, &format!("runbooks/{stem}.toml"), stem).ok()
}

/// Where opsdeck keeps its audit log, leases and drill reports: `$OPSDECK_DATA_DIR`, else
/// `<XDG data>/opsdeck`.
pub fn data_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("OPSDECK_DATA_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    directories::ProjectDirs::from("", "", "opsdeck").map(|d| d.data_dir().to_path_buf())
}

//! The dispatcher: the one door every write goes through. Before an action's requests are
//! sent it refuses, whatever the caller checked before, when opsdeck is read-only (the
//! estate's `read_only = true` or `--read-only`), when the action is not for the target the
//! run was granted, and when a destructive action on a SEV 1–2 target lacks the target's
//! typed confirmation. A grant can only be made with the lease on the target in hand.

use super::Runbook;
use super::confirm::{self, Confirmation};
use super::lease::{Holder, LeaseSpot};
use crate::action::{ActionError, Cx, Entry, Plan, Submitted};
use crate::estate::{Estate, Service};

/// Why the dispatcher would not send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    ReadOnly(String),
    #[error("{0}")]
    Confirmation(String),
    #[error("{0}")]
    Lease(String),
    #[error("{0}")]
    WrongTarget(String),
}

/// A lease known to be held by this run (made only by [`HeldLease::taken`]).
#[derive(Debug, Clone)]
pub struct HeldLease {
    pub spot: LeaseSpot,
    pub me: Holder,
}

impl HeldLease {
    /// Takes the lease; on success, the proof that this run holds it.
    pub async fn taken(
        spot: LeaseSpot,
        me: Holder,
        reclaim: Option<&str>,
    ) -> Result<HeldLease, super::lease::LeaseError> {
        spot.acquire(&me, reclaim).await?;
        Ok(HeldLease { spot, me })
    }
}

/// Permission for one run to act on one target: confirmed, with the lease held.
#[derive(Debug, Clone)]
pub struct Grant {
    target: String,
    typed: bool,
    run: String,
}

impl Grant {
    /// Grants a run of `runbook` on `target` when the confirmation fits and `lease` is the
    /// target's.
    pub fn new(
        runbook: &Runbook,
        target: &Service,
        given: &Confirmation,
        lease: &HeldLease,
    ) -> Result<Grant, Refusal> {
        if lease.spot.target != target.id {
            return Err(Refusal::Lease(format!(
                "the lease held is on '{}', not on the target '{}'",
                lease.spot.target, target.id
            )));
        }
        let typed = confirm::check(runbook, target, given).map_err(Refusal::Confirmation)?;
        Ok(Grant {
            target: target.id.clone(),
            typed: typed.0,
            run: lease.me.run.clone(),
        })
    }

    pub fn target(&self) -> &str {
        &self.target
    }

    pub fn run(&self) -> &str {
        &self.run
    }
}

/// Sends actions' requests for one estate.
#[derive(Debug, Clone, Copy)]
pub struct Dispatcher {
    read_only: bool,
}

/// What a dispatch failed with: a refusal (nothing sent) or the action's own error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DispatchError {
    #[error("refused: {0}")]
    Refused(Refusal),
    #[error("{0}")]
    Action(ActionError),
}

impl Dispatcher {
    /// A dispatcher for `estate`; `read_only_flag` is `--read-only`.
    pub fn new(estate: &Estate, read_only_flag: bool) -> Dispatcher {
        Dispatcher {
            read_only: estate.read_only || read_only_flag,
        }
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// The refusal read-only mode gives, if it is on.
    pub fn read_only_refusal(&self, estate: &Estate) -> Option<Refusal> {
        self.read_only.then(|| {
            Refusal::ReadOnly(if estate.read_only {
                format!(
                    "the estate '{}' is read-only (read_only = true): opsdeck changes nothing in it",
                    estate.name
                )
            } else {
                "opsdeck runs with --read-only: it changes nothing".to_string()
            })
        })
    }

    /// Sends the prepared requests of `action` on the target of `cx`, after the checks.
    pub async fn submit(
        &self,
        grant: &Grant,
        action: &Entry,
        cx: &Cx<'_>,
        plan: &Plan,
    ) -> Result<Submitted, DispatchError> {
        if let Some(r) = self.read_only_refusal(cx.estate) {
            return Err(DispatchError::Refused(r));
        }
        if cx.service.id != grant.target {
            return Err(DispatchError::Refused(Refusal::WrongTarget(format!(
                "this run was granted '{}', not '{}'",
                grant.target, cx.service.id
            ))));
        }
        if action.destructive && cx.service.sev.level() <= 2 && !grant.typed {
            return Err(DispatchError::Refused(Refusal::Confirmation(format!(
                "{} is destructive and '{}' is SEV {}: it needs the target's id typed",
                action.name,
                cx.service.id,
                cx.service.sev.level()
            ))));
        }
        action.submit(cx, plan).await.map_err(DispatchError::Action)
    }
}

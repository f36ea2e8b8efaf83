//! The snapshot: everything a renderer shows, derived from the model at one instant, worst
//! first. Serialises to the `opsdeck.health/v1` service, region and queue objects.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::blind::{self, Blindness};
use super::evidence::{self, Change, ChangeView, Evidence};
use super::impact::{self, Own};
use super::silence::{self, Silence, SilenceView};
use super::{Event, ServiceState, Status};
use crate::estate::{Estate, Kind};
use crate::handoff::Handoff;

mod build;

pub(super) use build::build;

/// The whole estate's state, as Nagios reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Overall {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl Overall {
    pub fn exit_code(self) -> u8 {
        match self {
            Overall::Ok => 0,
            Overall::Warning => 1,
            Overall::Critical => 2,
            Overall::Unknown => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Overall::Ok => "ok",
            Overall::Warning => "warning",
            Overall::Critical => "critical",
            Overall::Unknown => "unknown",
        }
    }
}

/// One service as every renderer shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceView {
    pub id: String,
    pub name: String,
    pub kind: Kind,
    pub region: Option<String>,
    /// Its own probe's word.
    pub status: Status,
    pub declared_sev: u8,
    /// Effective SEV; null only when up and impacted by nothing.
    pub sev: Option<u8>,
    /// Root-cause service ids, worst first.
    pub impacted_by: Vec<String>,
    /// The fallback carrying it now, or the one the estate declares for it.
    pub fallback: Option<String>,
    /// Seconds left on a time-limited fallback that is carrying it.
    pub fallback_left_s: Option<u64>,
    pub summary: String,
    pub observed_at: Option<DateTime<Utc>>,
    pub stale: bool,
    /// When the data went stale (last success, or the first failed refresh).
    pub stale_since: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub metrics: BTreeMap<String, Value>,
    /// Ids of the services it takes down with it.
    pub blast_radius: Vec<String>,
    /// Not yet probed even once.
    pub pending: bool,
    /// Cannot serve (down, or cut off without a working fallback).
    pub failing: bool,
    /// When the current status began.
    pub since: Option<DateTime<Utc>>,
    /// Its dependency edges as the estate declares them.
    pub depends_on: Vec<DependencyView>,
    /// Ids of the services that depend on it directly.
    pub dependents: Vec<String>,
    /// Ids of the runbooks the estate links to it.
    pub runbooks: Vec<String>,
    pub owner: Option<String>,
    pub escalation: Option<String>,
    /// Recent errors with their times, newest first.
    pub recent_errors: Vec<ErrorView>,
    /// The facts that explain its state, each with its time.
    pub evidence: Vec<Evidence>,
    /// The most recent change that could explain it: its own, or for an impacted service
    /// its root cause's.
    pub change: Option<ChangeView>,
    /// A command and a console page to look at it with.
    pub handoff: Handoff,
    /// The silence or maintenance window covering it now, if any.
    pub silence: Option<SilenceView>,
    /// Left out of the overall status, the worst SEV and the exit code: silenced itself, or
    /// up and impacted only by silenced services.
    pub silenced: bool,
    #[serde(skip)]
    pub index: usize,
}

/// One dependency edge of a service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DependencyView {
    pub id: String,
    /// What the dependent does while `id` is down; null: it cannot serve.
    pub fallback: Option<String>,
    /// How long that fallback holds, in seconds; null: as long as needed.
    pub fallback_for_s: Option<u64>,
}

/// An error a service's probe reported, with its time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorView {
    pub at: DateTime<Utc>,
    pub error: String,
}

impl ServiceView {
    /// Impacted by another service (shown as impacted, never as a second failure).
    pub fn is_impacted(&self) -> bool {
        !self.impacted_by.is_empty()
    }

    /// Status the data cannot vouch for: unknown, or stale.
    pub fn is_uncertain(&self) -> bool {
        self.status == Status::Unknown || self.stale
    }

    /// The word for the status column: its own status, or "impacted" when only a dependency
    /// is at fault.
    pub fn state_word(&self) -> &'static str {
        if self.pending {
            "loading"
        } else if self.status == Status::Up && self.is_impacted() {
            "impacted"
        } else {
            self.status.as_str()
        }
    }
}

/// Counts per status for a header or a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Counts {
    pub up: usize,
    pub degraded: usize,
    pub down: usize,
    pub unknown: usize,
    pub impacted: usize,
    pub stale: usize,
    /// Services left out of the verdict by a silence or maintenance window.
    pub silenced: usize,
}

impl Counts {
    fn add(&mut self, s: &ServiceView) {
        match s.status {
            Status::Up => self.up += 1,
            Status::Degraded => self.degraded += 1,
            Status::Down => self.down += 1,
            Status::Unknown => self.unknown += 1,
        }
        if s.is_impacted() {
            self.impacted += 1;
        }
        if s.stale {
            self.stale += 1;
        }
        if s.silenced {
            self.silenced += 1;
        }
    }
}

/// One region's roll-up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionView {
    pub id: String,
    pub gcp_region: Option<String>,
    pub services: usize,
    pub counts: Counts,
    pub worst_sev: Option<u8>,
    /// The worst own status in the region.
    pub status: Status,
}

/// One queue's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueView {
    pub service: String,
    pub depth: Option<u64>,
    pub oldest_age_s: Option<f64>,
    pub consumers: Option<u64>,
    /// Messages per second leaving the queue (negative: growing), from recent depth samples.
    pub drain_per_s: Option<f64>,
    /// Seconds until empty at the current drain rate.
    pub eta_s: Option<f64>,
    /// Recent depth samples, oldest first (for a sparkline).
    pub history: Vec<u64>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A status transition as renderers show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventView {
    pub at: DateTime<Utc>,
    pub service: String,
    pub from: Option<Status>,
    pub to: Status,
    pub text: String,
}

/// The estate at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub estate: String,
    pub environment: String,
    pub generated_at: DateTime<Utc>,
    pub status: Overall,
    pub exit_code: u8,
    pub worst_sev: Option<u8>,
    pub counts: Counts,
    /// Worst first.
    pub services: Vec<ServiceView>,
    pub regions: Vec<RegionView>,
    pub queues: Vec<QueueView>,
    /// What opsdeck cannot see, grouped by cause, largest group first.
    pub blind: Vec<Blindness>,
    #[serde(skip)]
    pub events: Vec<EventView>,
    #[serde(skip)]
    pub sev_names: [String; 4],
}

impl Snapshot {
    pub fn service(&self, id: &str) -> Option<&ServiceView> {
        self.services.iter().find(|s| s.id == id)
    }

    /// Display name of a SEV level ("SEV1" unless the estate renames it).
    pub fn sev_name(&self, level: u8) -> &str {
        self.sev_names
            .get(usize::from(level.clamp(1, 4)) - 1)
            .map_or("SEV?", String::as_str)
    }

    /// Still waiting for the first probe of at least one service.
    pub fn loading(&self) -> bool {
        self.services.iter().any(|s| s.pending)
    }
}

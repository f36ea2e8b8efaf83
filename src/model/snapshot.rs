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

pub(super) fn build(
    estate: &Estate,
    states: &[ServiceState],
    events: &VecDeque<Event>,
    silences: &[Silence],
    now: DateTime<Utc>,
) -> Snapshot {
    let own: Vec<Own> = states
        .iter()
        .map(|st| Own {
            status: st
                .observation
                .as_ref()
                .map_or(Status::Unknown, |o| o.status),
            since: st.status_since,
        })
        .collect();
    let impacts = impact::compute(estate, &own, now);
    let changes: Vec<Option<Change>> = states
        .iter()
        .map(|st| {
            Change::latest(
                st.observation.as_ref().and_then(|o| o.change.clone()),
                st.runbook_change.clone(),
            )
        })
        .collect();
    let position: std::collections::HashMap<&str, usize> = estate
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut dependents: Vec<Vec<String>> = vec![Vec::new(); estate.services.len()];
    for svc in &estate.services {
        for dep in &svc.depends_on {
            if let Some(&i) = position.get(dep.id.as_str()) {
                dependents[i].push(svc.id.clone());
            }
        }
    }

    let mut services: Vec<ServiceView> = estate
        .services
        .iter()
        .zip(states)
        .zip(&impacts)
        .enumerate()
        .map(|(i, ((svc, st), imp))| {
            let obs = st.observation.as_ref();
            let status = own[i].status;
            let pending = obs.is_none() && st.failure.is_none();
            let too_old = st
                .observed_at
                .is_some_and(|at| (now - at).to_std().unwrap_or(Duration::ZERO) > svc.interval * 3);
            let stale = st.failure.is_some() || too_old;
            let stale_since = if stale {
                st.observed_at.or(st.failing_since)
            } else {
                None
            };
            let sev = match status {
                Status::Unknown if imp.sev.is_none() => Some(svc.sev),
                _ => imp.sev,
            };
            let (fallback, fallback_left_s) = match imp.fallbacks.first() {
                Some(f) => (Some(f.text.clone()), f.left.map(|d| d.as_secs())),
                None => (svc.fallback.clone(), None),
            };
            let summary = if pending {
                "waiting for the first probe".to_string()
            } else {
                obs.map_or_else(
                    || st.failure.clone().unwrap_or_default(),
                    |o| o.summary.clone(),
                )
            };
            let error = st
                .failure
                .clone()
                .or_else(|| obs.and_then(|o| o.error.clone()));
            ServiceView {
                id: svc.id.clone(),
                name: svc.name.clone(),
                kind: svc.kind,
                region: svc.region.clone(),
                status,
                declared_sev: svc.sev.level(),
                sev: sev.map(crate::estate::Sev::level),
                impacted_by: imp
                    .impacted_by
                    .iter()
                    .map(|&r| estate.services[r].id.clone())
                    .collect(),
                fallback,
                fallback_left_s,
                summary,
                observed_at: st.observed_at,
                stale,
                stale_since,
                error,
                metrics: obs.map(|o| o.metrics.clone()).unwrap_or_default(),
                blast_radius: imp
                    .blast_radius
                    .iter()
                    .map(|&r| estate.services[r].id.clone())
                    .collect(),
                pending,
                failing: imp.failing,
                since: st.status_since,
                depends_on: svc
                    .depends_on
                    .iter()
                    .map(|d| DependencyView {
                        id: d.id.clone(),
                        fallback: d.fallback.clone(),
                        fallback_for_s: d.fallback_for.map(|f| f.as_secs()),
                    })
                    .collect(),
                dependents: std::mem::take(&mut dependents[i]),
                runbooks: svc.runbooks.clone(),
                owner: svc.owner.clone(),
                escalation: svc.escalation.clone(),
                recent_errors: st
                    .errors
                    .iter()
                    .rev()
                    .map(|(at, e)| ErrorView {
                        at: *at,
                        error: e.clone(),
                    })
                    .collect(),
                silence: None,
                silenced: false,
                evidence: evidence::shown(obs, st.observed_at),
                change: evidence::pick(
                    i,
                    &changes,
                    matches!(status, Status::Down | Status::Degraded),
                    &imp.impacted_by,
                )
                .map(|(at, c)| ChangeView::of(&estate.services[at].id, c)),
                handoff: crate::handoff::for_service(svc),
                index: i,
            }
        })
        .collect();
    silence::mark(&mut services, estate, silences, now);
    services.sort_by_key(order_key);
    let blind = blind::group(estate, &services);

    let mut counts = Counts::default();
    for s in &services {
        counts.add(s);
    }
    let status = overall(&services);
    let worst_sev = services
        .iter()
        .filter(|s| !s.silenced)
        .filter(|s| s.status != Status::Up || s.is_impacted())
        .filter_map(|s| s.sev)
        .min();

    let regions = estate
        .regions
        .iter()
        .map(|r| {
            let mut counts = Counts::default();
            let mut worst_sev = None::<u8>;
            let mut worst = Status::Up;
            let mut n = 0;
            for s in services
                .iter()
                .filter(|s| s.region.as_deref() == Some(&r.id))
            {
                n += 1;
                counts.add(s);
                if !s.silenced && (s.status != Status::Up || s.is_impacted()) {
                    worst_sev = match (worst_sev, s.sev) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                if s.status.rank() < worst.rank() {
                    worst = s.status;
                }
            }
            RegionView {
                id: r.id.clone(),
                gcp_region: r.gcp_region.clone(),
                services: n,
                counts,
                worst_sev,
                status: worst,
            }
        })
        .collect();

    let queues = estate
        .services
        .iter()
        .zip(states)
        .filter(|(svc, _)| svc.kind.is_queue())
        .map(|(svc, st)| queue_view(&svc.id, st))
        .collect();

    let events = events
        .iter()
        .rev()
        .map(|e| EventView {
            at: e.at,
            service: estate.services[e.service].id.clone(),
            from: e.from,
            to: e.to,
            text: e.text.clone(),
        })
        .collect();

    Snapshot {
        estate: estate.name.clone(),
        environment: estate.environment.clone(),
        generated_at: now,
        status,
        exit_code: status.exit_code(),
        worst_sev,
        counts,
        services,
        regions,
        queues,
        blind,
        events,
        sev_names: estate.sev_names.clone(),
    }
}

/// Worst first: effective SEV, then root causes before impacted before unknown before up;
/// silenced problems after every live one, before the services that are up.
fn order_key(s: &ServiceView) -> (u8, u8, u8, u8, String) {
    let class = if s.status == Status::Down || s.status == Status::Degraded {
        0
    } else if s.is_impacted() {
        1
    } else if s.is_uncertain() {
        2
    } else {
        3
    };
    let sev = if class == 3 { 9 } else { s.sev.unwrap_or(9) };
    let tier = match (class, s.silenced) {
        (3, _) => 2,
        (_, true) => 1,
        _ => 0,
    };
    (tier, sev, class, s.declared_sev, s.id.clone())
}

/// The Nagios verdict (architecture.md): critical for any known SEV 1–2, unknown for a SEV 1–2
/// service opsdeck cannot vouch for while nothing is critical, warning for anything else amiss.
/// Silenced services count for nothing.
fn overall(services: &[ServiceView]) -> Overall {
    let counted = || services.iter().filter(|s| !s.silenced);
    let known_problem =
        |s: &ServiceView| matches!(s.status, Status::Down | Status::Degraded) || s.is_impacted();
    if counted()
        .filter(|s| known_problem(s))
        .any(|s| s.sev.is_some_and(|v| v <= 2))
    {
        return Overall::Critical;
    }
    if counted().any(|s| s.is_uncertain() && s.declared_sev <= 2) {
        return Overall::Unknown;
    }
    if counted().any(|s| known_problem(s) || s.is_uncertain()) {
        return Overall::Warning;
    }
    Overall::Ok
}

fn queue_view(id: &str, st: &ServiceState) -> QueueView {
    let q = st.observation.as_ref().and_then(|o| o.queue.clone());
    let history: Vec<u64> = st.depth_history.iter().map(|(_, d)| *d).collect();
    let window: Vec<&(DateTime<Utc>, u64)> = st.depth_history.iter().rev().take(10).collect();
    let drain_per_s = match (window.last(), window.first()) {
        (Some((t0, d0)), Some((t1, d1))) if t1 > t0 => {
            let secs = (*t1 - *t0).num_milliseconds() as f64 / 1000.0;
            Some((*d0 as f64 - *d1 as f64) / secs)
        }
        _ => None,
    };
    let depth = q.as_ref().and_then(|q| q.depth);
    let eta_s = match (depth, drain_per_s) {
        (Some(0), _) => Some(0.0),
        (Some(d), Some(r)) if r > 0.0 => Some(d as f64 / r),
        _ => None,
    };
    QueueView {
        service: id.to_string(),
        depth,
        oldest_age_s: q.as_ref().and_then(|q| q.oldest_age_s),
        consumers: q.as_ref().and_then(|q| q.consumers),
        drain_per_s,
        eta_s,
        history,
        extra: q.map(|q| q.extra).unwrap_or_default(),
    }
}

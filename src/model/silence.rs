//! Silences in the model: which services are silenced at an instant (by an operator's
//! silence, or by an estate maintenance window that is open) and the rule that a silenced
//! service, or one impacted only by silenced services, does not count towards the overall
//! status, the worst SEV, the exit code or the bell. It stays on the map, marked. Pure: the
//! operators' silences come in as data; reading and writing them is `crate::silence`'s job.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Status;
use super::snapshot::ServiceView;
use crate::estate::Estate;

/// An operator's silence of one service: who, why, from when until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    pub service: String,
    /// `user@host` of whoever added it.
    pub who: String,
    pub reason: String,
    /// When it begins (later than when it was added, for planned work).
    pub start: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl Silence {
    /// In force at `now` (begun, not yet expired).
    pub fn active_at(&self, now: DateTime<Utc>) -> bool {
        self.start <= now && now < self.until
    }
}

/// The silence covering a service, as renderers and the JSON show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SilenceView {
    /// `user@host` of an operator's silence; null for a maintenance window.
    pub by: Option<String>,
    pub reason: String,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// The estate's maintenance window, when that is what silences it.
    pub window: Option<String>,
}

/// The silence in force on a service at `now`: its operator silences and the estate's open
/// windows, the one lasting longest when several apply.
pub fn covering(
    estate: &Estate,
    service: &str,
    silences: &[Silence],
    now: DateTime<Utc>,
) -> Option<SilenceView> {
    let operator = silences
        .iter()
        .filter(|s| s.service == service && s.active_at(now))
        .map(|s| SilenceView {
            by: Some(s.who.clone()),
            reason: s.reason.clone(),
            since: s.start,
            until: s.until,
            window: None,
        });
    let windows = estate
        .maintenance
        .iter()
        .filter(|m| m.covers(service))
        .filter_map(|m| {
            m.open_at(now).map(|o| SilenceView {
                by: None,
                reason: m.reason.clone().unwrap_or_else(|| m.name.clone()),
                since: o.start,
                until: o.end,
                window: Some(m.name.clone()),
            })
        });
    operator.chain(windows).max_by_key(|v| v.until)
}

/// Sets `silence` and `silenced` on every service: silenced when a silence covers it, or
/// when it is up by its own probe and impacted only by silenced root causes (the planned
/// work's blast radius is planned too). A service with a fault of its own still counts.
pub(super) fn mark(
    services: &mut [ServiceView],
    estate: &Estate,
    silences: &[Silence],
    now: DateTime<Utc>,
) {
    for s in services.iter_mut() {
        s.silence = covering(estate, &s.id, silences, now);
    }
    let own: HashSet<String> = services
        .iter()
        .filter(|s| s.silence.is_some())
        .map(|s| s.id.clone())
        .collect();
    for s in services.iter_mut() {
        s.silenced = s.silence.is_some()
            || (s.status == Status::Up
                && !s.impacted_by.is_empty()
                && s.impacted_by.iter().all(|r| own.contains(r)));
    }
}

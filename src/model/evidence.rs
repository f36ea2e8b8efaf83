//! Evidence and changes: the facts a probe saw that explain a service's state (a condition
//! message, a pod's last exit, a replication link, a queue's oldest message), each with its
//! time, and the most recent change that could explain it (a deploy, a rollout, a Cloud SQL
//! operation, a runbook run). Probes fill them in; the snapshot carries them to the detail
//! view and the JSON alike. Pure: no IO.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Observation;

/// How many evidence lines one service keeps (newest first after sorting).
pub const EVIDENCE_LIMIT: usize = 12;

/// One fact that explains a service's state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// When the fact was true or happened; `None` from a probe means "as observed", and the
    /// snapshot fills in the observation time.
    pub at: Option<DateTime<Utc>>,
    /// Where it comes from, in a few words ("terminalCondition", "event BackOff",
    /// "pod api-7d9c/app", "replication").
    pub source: String,
    pub text: String,
}

impl Evidence {
    pub fn new(source: impl Into<String>, text: impl Into<String>) -> Self {
        Evidence {
            at: None,
            source: source.into(),
            text: text.into(),
        }
    }

    #[must_use]
    pub fn at(mut self, at: Option<DateTime<Utc>>) -> Self {
        self.at = at;
        self
    }
}

/// What kind of change it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A new Cloud Run revision (or any deploy).
    Deploy,
    /// A Kubernetes rollout or rollout restart.
    Rollout,
    /// A Cloud SQL operation (failover, maintenance, restore, update…).
    Operation,
    /// A runbook run from the audit log.
    Runbook,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Deploy => "deploy",
            ChangeKind::Rollout => "rollout",
            ChangeKind::Operation => "operation",
            ChangeKind::Runbook => "runbook",
        }
    }
}

/// The most recent change to one service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub at: Option<DateTime<Utc>>,
    pub kind: ChangeKind,
    /// One line: "revision tappass-00008-bad took 100% of traffic".
    pub text: String,
    /// A few words for the failure map ("tappass-00008-bad").
    pub short: String,
}

impl Change {
    pub fn new(kind: ChangeKind, at: Option<DateTime<Utc>>, text: impl Into<String>) -> Self {
        let text = text.into();
        Change {
            at,
            kind,
            short: text.clone(),
            text,
        }
    }

    #[must_use]
    pub fn short(mut self, short: impl Into<String>) -> Self {
        self.short = short.into();
        self
    }

    /// The newer of two changes (one with a time beats one without).
    pub fn latest(a: Option<Change>, b: Option<Change>) -> Option<Change> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if b.at > a.at { b } else { a }),
            (a, b) => a.or(b),
        }
    }
}

/// The change shown beside a service: its own, or for an impacted service its root cause's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeView {
    /// The service the change happened to (the root cause's id for an impacted service).
    pub service: String,
    pub at: Option<DateTime<Utc>>,
    pub kind: ChangeKind,
    pub text: String,
    #[serde(skip)]
    pub short: String,
}

impl ChangeView {
    pub fn of(service: &str, change: &Change) -> Self {
        ChangeView {
            service: service.to_string(),
            at: change.at,
            kind: change.kind,
            text: change.text.clone(),
            short: change.short.clone(),
        }
    }

    /// "14:02 deploy tappass-00008-bad", with "(via sql)" when it is a root cause's.
    pub fn label(&self, own: &str) -> String {
        let mut out = String::new();
        if let Some(at) = self.at {
            out.push_str(&at.format("%H:%M ").to_string());
        }
        // "rollout to revision 2", not "rollout rollout to revision 2".
        if !self.short.starts_with(self.kind.as_str()) {
            out.push_str(self.kind.as_str());
            out.push(' ');
        }
        out.push_str(&self.short);
        if self.service != own {
            out.push_str(&format!(" (on {})", self.service));
        }
        out
    }
}

/// The evidence a snapshot shows for one service, in the probe's order (most telling first):
/// a fact without a time of its own gets the observation's; a queue's oldest message and
/// consumer count come last.
pub(super) fn shown(
    obs: Option<&Observation>,
    observed_at: Option<DateTime<Utc>>,
) -> Vec<Evidence> {
    let Some(obs) = obs else {
        return Vec::new();
    };
    let mut out: Vec<Evidence> = obs
        .evidence
        .iter()
        .map(|e| Evidence {
            at: e.at.or(observed_at),
            ..e.clone()
        })
        .collect();
    if let Some(q) = &obs.queue {
        if let Some(age) = q.oldest_age_s {
            let age = std::time::Duration::from_secs(age.max(0.0).round() as u64);
            out.push(
                Evidence::new(
                    "queue",
                    format!("oldest message waiting {}", humantime::format_duration(age)),
                )
                .at(observed_at),
            );
        }
        if let Some(n) = q.consumers {
            let noun = if n == 1 { "consumer" } else { "consumers" };
            out.push(Evidence::new("queue", format!("{n} {noun}")).at(observed_at));
        }
    }
    out.truncate(EVIDENCE_LIMIT);
    out
}

/// The change to show beside service `i`: its own when it is itself not up, else (impacted)
/// the first root cause's that has one, else its own. Returns the service it happened to.
pub(super) fn pick<'a>(
    i: usize,
    own: &'a [Option<Change>],
    itself_failing: bool,
    impacted_by: &[usize],
) -> Option<(usize, &'a Change)> {
    let mine = own.get(i).and_then(Option::as_ref).map(|c| (i, c));
    if itself_failing && mine.is_some() {
        return mine;
    }
    impacted_by
        .iter()
        .find_map(|&r| own.get(r).and_then(Option::as_ref).map(|c| (r, c)))
        .or(mine)
}

/// A time from an API (RFC 3339), if it reads as one.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newer_change_wins_and_a_timed_one_beats_an_untimed_one() {
        let t = |s| parse_time(s);
        let old = Change::new(ChangeKind::Deploy, t("2026-01-01T10:00:00Z"), "a");
        let new = Change::new(ChangeKind::Runbook, t("2026-01-01T11:00:00Z"), "b");
        let none = Change::new(ChangeKind::Operation, None, "c");
        assert_eq!(
            Change::latest(Some(old.clone()), Some(new.clone())),
            Some(new.clone())
        );
        assert_eq!(
            Change::latest(Some(new.clone()), Some(old.clone())),
            Some(new)
        );
        assert_eq!(
            Change::latest(Some(none), Some(old.clone())),
            Some(old.clone())
        );
        assert_eq!(Change::latest(None, Some(old.clone())), Some(old));
    }

    #[test]
    fn a_root_cause_change_names_its_service() {
        let c = Change::new(
            ChangeKind::Deploy,
            parse_time("2026-01-01T14:02:00Z"),
            "revision x took 100% of traffic",
        )
        .short("x");
        let v = ChangeView::of("api", &c);
        assert_eq!(v.label("api"), "14:02 deploy x");
        assert_eq!(v.label("edge"), "14:02 deploy x (on api)");
    }
}

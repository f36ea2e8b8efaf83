//! `opsdeck timeline`: the incident timeline for a postmortem. Gathers, for one estate and a
//! span of time, the recorded status transitions ([`record`]), the silences added, lifted and
//! run out and the runbook runs (from the audit log), and the openings of the estate's
//! maintenance windows; then renders them oldest first as Markdown or JSON ([`render`]).
//! Gathering is pure over what was read, so it is tested without files.

pub mod record;
mod render;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::cli::{Cli, TimelineArgs, TimelineFormat};
use crate::estate::Estate;
use crate::runbook::audit::{AuditLog, Entry, Event};
use crate::silence::cli::utc;

pub use record::{Recorder, Transition};
pub use render::{SCHEMA, to_json, to_markdown};

/// What kind of thing happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A service's state changed (from a probe).
    Status,
    /// A silence was added, lifted, or ran out.
    Silence,
    /// A maintenance window of the estate opened or closed.
    Maintenance,
    /// A runbook run began, was refused, failed a step, or ended.
    Runbook,
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub at: DateTime<Utc>,
    /// The service (several for a maintenance window, comma-separated).
    pub service: String,
    pub kind: Kind,
    /// What happened, in one sentence.
    pub what: String,
    /// Who did it: `user@host`, `opsdeck` for what probes saw, `estate` for windows.
    pub who: String,
}

/// The timeline of one estate (every estate when `estate` is `None`) over `[from, to]`,
/// oldest first.
pub fn gather(
    estate: Option<&Estate>,
    transitions: &[Transition],
    audit: &[Entry],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Item> {
    let ours = |name: Option<&str>| match (estate, name) {
        (None, _) => true,
        (Some(e), Some(n)) => e.name == n,
        (Some(_), None) => false,
    };
    let within = |at: DateTime<Utc>| from <= at && at <= to;
    let mut items: Vec<Item> = transitions
        .iter()
        .filter(|t| ours(Some(&t.estate)) && within(t.at))
        .map(status_item)
        .collect();
    items.extend(
        audit
            .iter()
            .filter(|e| ours(e.estate.as_deref()) && e.mode.as_deref() != Some("drill"))
            .filter_map(audit_item)
            .filter(|i| within(i.at)),
    );
    if let Some(e) = estate {
        items.extend(window_items(e, from, to));
    }
    items.sort_by_key(|i| i.at);
    items
}

fn status_item(t: &Transition) -> Item {
    let sev = t.sev.map(|s| format!(" (SEV{s})")).unwrap_or_default();
    let change = match &t.from {
        Some(f) => format!("{f} → {}", t.to),
        None => format!("first seen {}", t.to),
    };
    let cause = if t.impacted_by.is_empty() {
        String::new()
    } else {
        format!(" by {}", t.impacted_by.join(", "))
    };
    let text = if t.text.is_empty() {
        String::new()
    } else {
        format!(": {}", t.text)
    };
    let silenced = if t.silenced { " [silenced]" } else { "" };
    Item {
        at: t.at,
        service: t.service.clone(),
        kind: Kind::Status,
        what: format!("{change}{cause}{sev}{silenced}{text}"),
        who: "opsdeck".to_string(),
    }
}

fn fact_time(e: &Entry, key: &str) -> Option<DateTime<Utc>> {
    e.facts
        .as_ref()
        .and_then(|f| f.get(key))
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn audit_item(e: &Entry) -> Option<Item> {
    let who = e
        .who
        .as_ref()
        .map_or_else(|| "unknown".to_string(), crate::runbook::audit::Who::short);
    let service = e.target.clone().unwrap_or_default();
    let reason = e.detail.clone().unwrap_or_default();
    let runbook = e.runbook.as_deref().unwrap_or("?");
    let detail = e
        .detail
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default();
    let (kind, at, what, who) = match e.event {
        Event::SilenceAdded => {
            let until = fact_time(e, "until").map(utc).unwrap_or_default();
            let what = match fact_time(e, "start") {
                Some(s) if s > e.at => {
                    format!("silence planned from {} until {until}: {reason}", utc(s))
                }
                _ => format!("silenced until {until}: {reason}"),
            };
            (Kind::Silence, e.at, what, who)
        }
        Event::SilenceRemoved => (
            Kind::Silence,
            e.at,
            format!("silence lifted: {reason}"),
            who,
        ),
        Event::SilenceExpired => {
            let by = e
                .facts
                .as_ref()
                .and_then(|f| f.get("silenced_by"))
                .and_then(Value::as_str)
                .map_or(who, str::to_string);
            (
                Kind::Silence,
                fact_time(e, "until").unwrap_or(e.at),
                format!("silence ran out: {reason}"),
                by,
            )
        }
        Event::RunStarted => {
            let mode = e.mode.as_deref().unwrap_or("run");
            (
                Kind::Runbook,
                e.at,
                format!("runbook {runbook} started ({mode})"),
                who,
            )
        }
        Event::RunResumed => (
            Kind::Runbook,
            e.at,
            format!("runbook {runbook} resumed"),
            who,
        ),
        Event::Refused => (
            Kind::Runbook,
            e.at,
            format!("runbook {runbook} refused{detail}"),
            who,
        ),
        Event::StepFinished if e.result.as_deref() == Some("failed") => {
            let step = e.step.map(|n| format!(" step {n}")).unwrap_or_default();
            let label = e
                .label
                .as_deref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default();
            (
                Kind::Runbook,
                e.at,
                format!("runbook {runbook}{step}{label} failed{detail}"),
                who,
            )
        }
        Event::RunInterrupted => (
            Kind::Runbook,
            e.at,
            format!("runbook {runbook} interrupted{detail}"),
            who,
        ),
        Event::RunFinished => {
            let result = e.result.as_deref().unwrap_or("finished");
            (
                Kind::Runbook,
                e.at,
                format!("runbook {runbook} ended: {result}{detail}"),
                who,
            )
        }
        _ => return None,
    };
    Some(Item {
        at,
        service,
        kind,
        what,
        who,
    })
}

fn window_items(estate: &Estate, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Item> {
    let mut out = Vec::new();
    for m in &estate.maintenance {
        let why = m
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        for o in m.openings(from, to) {
            if from <= o.start {
                out.push(Item {
                    at: o.start,
                    service: m.services.join(", "),
                    kind: Kind::Maintenance,
                    what: format!(
                        "maintenance window \"{}\" opened until {}{why}",
                        m.name,
                        utc(o.end)
                    ),
                    who: "estate".to_string(),
                });
            }
            if o.end <= to {
                out.push(Item {
                    at: o.end,
                    service: m.services.join(", "),
                    kind: Kind::Maintenance,
                    what: format!("maintenance window \"{}\" closed", m.name),
                    who: "estate".to_string(),
                });
            }
        }
    }
    out
}

/// Records the transitions of a `--once` snapshot in the state directory; a failure is
/// logged, never fatal (the check's answer matters more than its history).
pub fn record_snapshot(snapshot: &crate::model::Snapshot) {
    if let Some(mut r) = Recorder::default_location(&snapshot.estate)
        && let Err(e) = r.observe(snapshot)
    {
        tracing::warn!(
            "cannot record status transitions in {}: {e}",
            r.path().display()
        );
    }
}

/// Reads `--since`: a duration back from `now`, or a time.
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    humantime::parse_duration(text.trim())
        .ok()
        .and_then(|d| TimeDelta::from_std(d).ok())
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| {
            format!(
                "--since \"{text}\" is neither a duration (like 2h or 1d) nor a time (RFC 3339, like 2025-06-01T14:00:00Z)"
            )
        })
}

/// Runs `opsdeck timeline`; returns the exit code.
pub fn command(cli: &Cli, args: &TimelineArgs) -> u8 {
    let now = Utc::now();
    let from = match parse_since(&args.since, now) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("opsdeck: {e}");
            return 1;
        }
    };
    let estate = match crate::launch::load_estate(cli) {
        Ok((e, _)) => Some(e),
        Err(e) => {
            eprintln!("opsdeck: {e}; the timeline shows every estate's entries");
            None
        }
    };
    let who = crate::runbook::audit::Who::local();
    if let Some(store) = crate::silence::SilenceStore::default_location()
        && let Err(e) = store.expire(now, &who)
    {
        eprintln!("opsdeck: {e}");
    }
    let transitions = crate::state::state_dir()
        .map(|d| record::read(&d.join("transitions.jsonl")))
        .unwrap_or_default();
    let audit = match AuditLog::default_location().map(|l| l.read()) {
        Some(Ok(entries)) => entries,
        Some(Err(e)) => {
            eprintln!("opsdeck: {e}; the timeline leaves runbook runs and silences out");
            Vec::new()
        }
        None => Vec::new(),
    };
    let items = gather(estate.as_ref(), &transitions, &audit, from, now);
    let name = estate
        .as_ref()
        .map(|e| (e.name.as_str(), e.environment.as_str()));
    let text = match args.format {
        TimelineFormat::Markdown => to_markdown(name, &items, from, now),
        TimelineFormat::Json => format!("{}\n", to_json(name.map(|(n, _)| n), &items, from, now)),
    };
    crate::silence::cli::emit(&text);
    0
}

#[cfg(test)]
mod tests;

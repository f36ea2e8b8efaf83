//! The last runbook run against each service, read from the audit log, as the change that may
//! explain its state ("cloudsql-failover by alice@bastion at 14:02, done"). Drills are left
//! out: they act on the simulator, not on the estate.

use std::collections::HashMap;

use super::audit::{AuditLog, Entry, Event};
use crate::model::{Change, ChangeKind, Model};

/// The newest run per target service id of `estate` (by name), from the log's entries.
pub fn last_runs(entries: &[Entry], estate: &str) -> HashMap<String, Change> {
    struct Run<'a> {
        start: &'a Entry,
        result: Option<&'a str>,
    }
    let mut runs: HashMap<&str, Run> = HashMap::new();
    for e in entries {
        match e.event {
            Event::RunStarted | Event::RunResumed => {
                let drill = e.mode.as_deref() == Some("drill");
                let other_estate = e.estate.as_deref().is_some_and(|n| n != estate);
                if !drill && !other_estate && e.target.is_some() {
                    runs.entry(e.run.as_str()).or_insert(Run {
                        start: e,
                        result: None,
                    });
                }
            }
            Event::RunFinished | Event::RunInterrupted => {
                if let Some(r) = runs.get_mut(e.run.as_str()) {
                    r.result = Some(e.result.as_deref().unwrap_or(e.event.as_str()));
                }
            }
            _ => {}
        }
    }
    let mut out: HashMap<String, Change> = HashMap::new();
    for run in runs.values() {
        let Some(target) = run.start.target.clone() else {
            continue;
        };
        let runbook = run.start.runbook.as_deref().unwrap_or("a runbook");
        let who = run
            .start
            .who
            .as_ref()
            .map(|w| format!(" by {}", w.short()))
            .unwrap_or_default();
        let result = run.result.unwrap_or("still running or cut short");
        let change = Change::new(
            ChangeKind::Runbook,
            Some(run.start.at),
            format!("runbook {runbook}{who}: {result}"),
        )
        .short(runbook.to_string());
        let newer = out
            .get(&target)
            .is_none_or(|c| c.at.is_some_and(|at| at < run.start.at));
        if newer {
            out.insert(target, change);
        }
    }
    out
}

/// Notes the last runbook run against each service of the model's estate, from the audit
/// log in its default place. A missing or unreadable log notes nothing.
pub fn note_runbook_runs(model: &mut Model) {
    let Some(log) = AuditLog::default_location() else {
        return;
    };
    let Ok(entries) = log.read() else {
        return;
    };
    let estate = std::sync::Arc::clone(model.estate());
    for (target, change) in last_runs(&entries, &estate.name) {
        if let Some(i) = estate.index_of(&target) {
            model.note_change(i, change);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(run: &str, event: Event, at: &str, target: &str, mode: &str) -> Entry {
        let mut e = Entry::new(run, event);
        e.at = crate::model::evidence_time(at).expect("time");
        e.target = Some(target.to_string());
        e.runbook = Some("cloudsql-failover".to_string());
        e.mode = Some(mode.to_string());
        e.estate = Some("tappass".to_string());
        e
    }

    #[test]
    fn the_newest_real_run_per_target_is_the_change() {
        let mut done = entry(
            "r1",
            Event::RunFinished,
            "2026-01-01T10:05:00Z",
            "sql",
            "run",
        );
        done.result = Some("done".to_string());
        let entries = vec![
            entry(
                "r1",
                Event::RunStarted,
                "2026-01-01T10:00:00Z",
                "sql",
                "run",
            ),
            done,
            entry(
                "r2",
                Event::RunStarted,
                "2026-01-01T11:00:00Z",
                "sql",
                "drill",
            ),
            entry(
                "r3",
                Event::RunStarted,
                "2026-01-01T09:00:00Z",
                "sql",
                "run",
            ),
        ];
        let runs = last_runs(&entries, "tappass");
        let c = runs.get("sql").expect("a run");
        assert_eq!(c.kind, ChangeKind::Runbook);
        assert_eq!(c.at, crate::model::evidence_time("2026-01-01T10:00:00Z"));
        assert_eq!(c.text, "runbook cloudsql-failover: done");
        assert!(last_runs(&entries, "another-estate").is_empty());
    }
}

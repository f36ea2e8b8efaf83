//! What an interrupted run left behind, read back from the audit log: the latest run of a
//! runbook on a target that never finished, which steps it completed, and where the step in
//! flight stood — not yet sending, a write recorded as about to be sent (outcome unknown), or a
//! write answered (with the operation to follow). Pure over the entries.

use serde_json::Value;

use super::audit::{Entry, Event};
use crate::action::Operation;

/// An unfinished run.
#[derive(Debug, Clone, PartialEq)]
pub struct Unfinished {
    pub run: String,
    /// Who started it (`user@host`).
    pub who: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub params: Value,
    /// Steps that finished (ok or skipped), by number.
    pub done: Vec<usize>,
    /// The step that was running, if one was.
    pub in_flight: Option<InFlight>,
    /// How it stopped: a signal it recorded, or nothing (a crash or a kill).
    pub stopped_by: Option<String>,
}

/// The step that was running when the run stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct InFlight {
    pub step: usize,
    pub label: String,
    pub phase: Phase,
}

/// How far the step in flight had got.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Started; nothing was being sent.
    Started,
    /// A write was about to be sent when the run stopped: it may or may not have been.
    Sending { at: chrono::DateTime<chrono::Utc> },
    /// The write was answered; follow the operation (if any) to its end.
    Sent { operation: Option<Operation> },
}

impl Unfinished {
    /// One paragraph for the operator.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "run {} by {} (started {}) did not finish",
            self.run,
            self.who,
            self.started_at.format("%Y-%m-%d %H:%M:%S UTC")
        );
        if let Some(sig) = &self.stopped_by {
            s.push_str(&format!(": stopped by {sig}"));
        } else {
            s.push_str(": it stopped without a word (killed, or the host went down)");
        }
        match &self.in_flight {
            None => s.push_str(&format!(", after {} finished step(s)", self.done.len())),
            Some(f) => {
                let phase = match &f.phase {
                    Phase::Started => "had started; nothing had been sent".to_string(),
                    Phase::Sending { at } => format!(
                        "was sending its request at {}; whether it arrived is not recorded",
                        at.format("%H:%M:%S UTC")
                    ),
                    Phase::Sent {
                        operation: Some(op),
                    } => {
                        format!("had its request accepted: operation {}", op.short())
                    }
                    Phase::Sent { operation: None } => "had its request answered".to_string(),
                };
                s.push_str(&format!(", while step {} ({}) {phase}", f.step, f.label));
            }
        }
        s
    }
}

/// The latest run of `runbook` on `target` in `estate` that did not finish, if the latest run
/// is one.
pub fn find(entries: &[Entry], estate: &str, runbook: &str, target: &str) -> Option<Unfinished> {
    let start = entries.iter().rev().find(|e| {
        e.event == Event::RunStarted
            && e.runbook.as_deref() == Some(runbook)
            && e.target.as_deref() == Some(target)
            && e.estate.as_deref() == Some(estate)
    })?;
    let run = start.run.clone();
    let mine: Vec<&Entry> = entries.iter().filter(|e| e.run == run).collect();
    if mine.iter().any(|e| e.event == Event::RunFinished) {
        return None;
    }
    let mut done = Vec::new();
    let mut in_flight: Option<InFlight> = None;
    let mut stopped_by = None;
    for e in &mine {
        match e.event {
            Event::StepStarted => {
                in_flight = e.step.map(|step| InFlight {
                    step,
                    label: e.label.clone().unwrap_or_default(),
                    phase: Phase::Started,
                });
            }
            Event::RequestSending => {
                if let Some(f) = in_flight.as_mut() {
                    f.phase = Phase::Sending { at: e.at };
                }
            }
            Event::RequestSent => {
                if let Some(f) = in_flight.as_mut() {
                    f.phase = Phase::Sent {
                        operation: e.operation.clone(),
                    };
                }
            }
            Event::StepFinished => {
                let ok = matches!(e.result.as_deref(), Some("ok" | "skipped"));
                if let Some(step) = e.step.filter(|_| ok) {
                    done.push(step);
                }
                in_flight = None;
            }
            Event::RunInterrupted => stopped_by.clone_from(&e.detail),
            _ => {}
        }
    }
    Some(Unfinished {
        run,
        who: start
            .who
            .as_ref()
            .map_or_else(|| "someone".to_string(), super::audit::Who::short),
        started_at: start.at,
        params: start.params.clone().unwrap_or(Value::Null),
        done,
        in_flight,
        stopped_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::OperationApi;

    fn e(run: &str, event: Event, step: Option<usize>) -> Entry {
        let mut x = Entry::new(run, event);
        x.runbook = Some("cloud-sql-failover".into());
        x.target = Some("sql".into());
        x.estate = Some("demo".into());
        x.step = step;
        x
    }

    #[test]
    fn finds_the_step_in_flight_and_its_operation() {
        let mut sent = e("r2", Event::RequestSent, Some(2));
        sent.operation = Some(Operation {
            api: OperationApi::CloudSql,
            name: "op-1".into(),
            url: "http://x/op-1".into(),
            api_name: "Cloud SQL Admin API".into(),
        });
        let mut ok = e("r2", Event::StepFinished, Some(1));
        ok.result = Some("ok".into());
        let mut finished = e("r1", Event::RunFinished, None);
        finished.result = Some("done".into());
        let entries = vec![
            e("r1", Event::RunStarted, None),
            finished,
            e("r2", Event::RunStarted, None),
            e("r2", Event::StepStarted, Some(1)),
            ok,
            e("r2", Event::StepStarted, Some(2)),
            e("r2", Event::RequestSending, Some(2)),
            sent,
        ];
        let u = find(&entries, "demo", "cloud-sql-failover", "sql").expect("unfinished");
        assert_eq!(u.run, "r2");
        assert_eq!(u.done, vec![1]);
        let f = u.in_flight.expect("in flight");
        assert_eq!(f.step, 2);
        assert!(matches!(f.phase, Phase::Sent { operation: Some(ref op) } if op.name == "op-1"));
        assert!(find(&entries[..2], "demo", "cloud-sql-failover", "sql").is_none());
        assert!(find(&entries, "demo", "cloud-sql-failover", "sql-us").is_none());
    }
}

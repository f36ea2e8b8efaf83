//! The `cloud_tasks` probe: Cloud Tasks v2beta3 `queues.list` with `readMask` asking for
//! stats (v2 has none), one call per project and region; the queue state and its backlog
//! against the estate's thresholds decide its status.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::batch::find;
use super::{Google, enum_field, text};
use crate::estate::Thresholds;
use crate::model::{Observation, Outcome, Status};
use crate::probe::queue::{self, Backlog};

const API: &str = "Cloud Tasks API";

/// Queue.state, in enum order.
const STATES: &[&str] = &["STATE_UNSPECIFIED", "RUNNING", "PAUSED", "DISABLED"];

pub async fn probe(
    google: &Google,
    project: &str,
    location: &str,
    name: &str,
    thresholds: &Thresholds,
) -> Outcome {
    let listed = google
        .list(
            "cloudtasks.googleapis.com",
            &format!(
                "v2beta3/projects/{project}/locations/{location}/queues?readMask=name%2Cstate%2Cstats%2CrateLimits"
            ),
            "queues",
        )
        .await;
    match listed {
        Ok(items) => Outcome::Observed(match find(&items, name) {
            Some(doc) => observe(doc, name, thresholds, Utc::now()),
            None => Observation::down(format!(
                "Cloud Tasks queue '{name}' does not exist in {location} (project '{project}')"
            )),
        }),
        Err(e) => e.outcome(API, &format!("Cloud Tasks queue '{name}' in {location}")),
    }
}

/// An int64 field sent as a JSON string (or, leniently, a number).
fn int64(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// The status of one Queue document at `now`.
pub fn observe(
    doc: &Value,
    name: &str,
    thresholds: &Thresholds,
    now: DateTime<Utc>,
) -> Observation {
    let state = doc
        .get("state")
        .and_then(|v| enum_field(v, STATES))
        .unwrap_or("STATE_UNSPECIFIED");
    let stats = doc.get("stats");
    let depth = int64(stats.and_then(|s| s.get("tasksCount"))).unwrap_or(0);
    let oldest_age = stats
        .and_then(|s| text(s, "oldestEstimatedArrivalTime"))
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| {
            (now - t.with_timezone(&Utc))
                .to_std()
                .unwrap_or(Duration::ZERO)
        });
    let backlog = Backlog {
        depth,
        oldest_age,
        consumers: None,
    };
    let what = format!("queue '{name}'");
    let verdict = queue::judge(&what, &backlog, thresholds);
    let (status, reason) = match state {
        "PAUSED" => (
            Status::Degraded.worst(verdict.status),
            Some(match verdict.reason {
                Some(r) => format!("{what} is paused and {r}"),
                None => format!("{what} is paused: tasks wait until it is resumed"),
            }),
        ),
        "DISABLED" => (
            Status::Down,
            Some(format!(
                "{what} is disabled (left out of the last queue.yaml upload)"
            )),
        ),
        "RUNNING" => (verdict.status, verdict.reason),
        other => (
            Status::Unknown,
            Some(format!("{what} reports state \"{other}\"")),
        ),
    };
    let mut extra = BTreeMap::new();
    extra.insert("state".to_string(), Value::from(state));
    if let Some(n) = int64(stats.and_then(|s| s.get("executedLastMinuteCount"))) {
        extra.insert("executed_last_minute".to_string(), Value::from(n));
    }
    if let Some(n) = int64(stats.and_then(|s| s.get("concurrentDispatchesCount"))) {
        extra.insert("concurrent_dispatches".to_string(), Value::from(n));
    }
    if let Some(r) = stats.and_then(|s| s.get("effectiveExecutionRate")).cloned() {
        extra.insert("effective_rate".to_string(), r);
    }
    let mut summary = format!("{state} · {}", queue::summary(&backlog));
    if let Some(n) = extra.get("executed_last_minute") {
        summary.push_str(&format!(" · {n} done last minute"));
    }
    let mut obs = Observation::new(status, summary);
    obs.error = reason;
    obs.metrics = extra.clone();
    obs.metrics.insert("depth".to_string(), Value::from(depth));
    obs.queue = Some(queue::figures(&backlog, extra));
    obs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-05-03T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
    }

    fn thresholds() -> Thresholds {
        Thresholds {
            warn_depth: Some(1000),
            crit_depth: Some(10_000),
            max_oldest_age: Some(Duration::from_secs(600)),
        }
    }

    #[test]
    fn documented_v2beta3_queue_reads_depth_and_age() {
        // The Queue example of the Cloud Tasks v2beta3 discovery document.
        let doc = json!({"name":"projects/demo-proj/locations/us-central1/queues/email-queue","state":"RUNNING","type":"PUSH",
            "stats":{"tasksCount":"1532","oldestEstimatedArrivalTime":"2025-05-03T09:58:12.345Z","executedLastMinuteCount":"417",
                     "concurrentDispatchesCount":"12","effectiveExecutionRate":500}});
        let obs = observe(&doc, "email-queue", &thresholds(), at());
        assert_eq!(obs.status, Status::Degraded);
        let q = obs.queue.expect("queue figures");
        assert_eq!(q.depth, Some(1532));
        assert_eq!(q.oldest_age_s, Some(107.7));
        assert_eq!(q.extra["executed_last_minute"], json!(417));
        assert_eq!(
            obs.error.as_deref(),
            Some("queue 'email-queue' holds 1,532 messages, above warn_depth 1,000")
        );
    }

    #[test]
    fn real_v2_queue_without_stats_is_up_and_empty() {
        let path = format!(
            "{}/fixtures/api/cloudtasks/queue-v2-crud-get.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
        let obs = observe(&doc, "q", &thresholds(), at());
        assert_eq!(obs.status, Status::Up, "{obs:?}");
        assert_eq!(obs.queue.and_then(|q| q.depth), Some(0));
    }

    #[test]
    fn paused_is_degraded_disabled_is_down_int_enums_read() {
        let paused = json!({"state": 2, "stats": {"tasksCount": "3"}});
        assert_eq!(
            observe(&paused, "q", &thresholds(), at()).status,
            Status::Degraded
        );
        let disabled = json!({"state": "DISABLED"});
        assert_eq!(
            observe(&disabled, "q", &thresholds(), at()).status,
            Status::Down
        );
        let flooded = json!({"state": "RUNNING", "stats": {"tasksCount": "20000"}});
        assert_eq!(
            observe(&flooded, "q", &thresholds(), at()).status,
            Status::Down
        );
    }
}

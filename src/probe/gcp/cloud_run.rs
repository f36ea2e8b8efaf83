//! The `cloud_run` probe: Cloud Run Admin API v2 `services.get`; the terminal condition, the
//! reconciling flag and latest ready against latest created revision decide its status.

use serde_json::Value;

use super::batch::find;
use super::{Google, enum_field, text};
use crate::model::evidence_time as parse_time;
use crate::model::{Change, ChangeKind, Evidence, Observation, Outcome, Status};

const API: &str = "Cloud Run Admin API";

/// Condition.state, in enum order.
const CONDITION_STATES: &[&str] = &[
    "STATE_UNSPECIFIED",
    "CONDITION_PENDING",
    "CONDITION_RECONCILING",
    "CONDITION_FAILED",
    "CONDITION_SUCCEEDED",
];

/// Reads the service from the region's v2 `services.list` (v2 cannot list across regions),
/// one call for every service of the project and region.
pub async fn probe(google: &Google, project: &str, location: &str, service: &str) -> Outcome {
    let listed = google
        .list(
            "run.googleapis.com",
            &format!("v2/projects/{project}/locations/{location}/services"),
            "services",
        )
        .await;
    match listed {
        Ok(items) => Outcome::Observed(match find(&items, service) {
            Some(doc) => observe(doc),
            None => Observation::down(format!(
                "Cloud Run service '{service}' does not exist in {location} (project '{project}')"
            )),
        }),
        Err(e) => e.outcome(API, &format!("Cloud Run service '{service}' in {location}")),
    }
}

fn short_revision(full: &str) -> &str {
    full.rsplit('/').next().unwrap_or(full)
}

/// The status of one v2 Service document.
pub fn observe(doc: &Value) -> Observation {
    let terminal = doc.get("terminalCondition").unwrap_or(&Value::Null);
    let state = terminal
        .get("state")
        .and_then(|v| enum_field(v, CONDITION_STATES))
        .unwrap_or("STATE_UNSPECIFIED");
    let reconciling = doc
        .get("reconciling")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let ready = text(doc, "latestReadyRevision").map(short_revision);
    let created = text(doc, "latestCreatedRevision").map(short_revision);
    let message = text(terminal, "message").unwrap_or("");
    let reason = text(terminal, "reason")
        .or_else(|| text(terminal, "revisionReason"))
        .unwrap_or("");
    let detail = [reason, message]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(": ");

    let (status, why) = match state {
        "CONDITION_SUCCEEDED" if !reconciling && ready.is_some() && ready != created => (
            Status::Degraded,
            Some(format!(
                "revision {} is not ready; traffic stays on {}",
                created.unwrap_or("?"),
                ready.unwrap_or("?")
            )),
        ),
        "CONDITION_SUCCEEDED" => (Status::Up, None),
        "CONDITION_FAILED" if ready.is_some() => (
            Status::Degraded,
            Some(format!(
                "latest revision {} failed ({detail}); traffic stays on {}",
                created.unwrap_or("?"),
                ready.unwrap_or("?")
            )),
        ),
        "CONDITION_FAILED" => (
            Status::Down,
            Some(if detail.is_empty() {
                "the service failed and has no ready revision".to_string()
            } else {
                format!("the service failed and has no ready revision: {detail}")
            }),
        ),
        "CONDITION_PENDING" | "CONDITION_RECONCILING" if ready.is_some() => (Status::Up, None),
        "CONDITION_PENDING" | "CONDITION_RECONCILING" => (
            Status::Degraded,
            Some("deploying, with no ready revision yet".to_string()),
        ),
        other => (
            Status::Unknown,
            Some(format!(
                "terminal condition state \"{other}\" says nothing about health"
            )),
        ),
    };
    let containers = doc
        .pointer("/template/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| text(c, "name"))
                .map(Value::from)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut summary = match (reconciling, ready) {
        (true, Some(r)) => format!("rolling out · serving {r}"),
        (_, Some(r)) => format!("serving {r}"),
        (_, None) => "no ready revision".to_string(),
    };
    if containers.len() > 1 {
        summary.push_str(&format!(" · {} containers", containers.len()));
    }
    if let Some(min) = doc
        .pointer("/scaling/minInstanceCount")
        .and_then(Value::as_u64)
    {
        summary.push_str(&format!(" · min {min}"));
    }
    let mut obs = Observation::new(status, summary);
    obs.error = why;
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            obs.metrics.insert(k.to_string(), v);
        }
    };
    put("condition", Some(Value::from(state)));
    put("reconciling", Some(Value::from(reconciling)));
    put("latest_ready_revision", ready.map(Value::from));
    put("latest_created_revision", created.map(Value::from));
    put(
        "containers",
        (!containers.is_empty()).then(|| Value::from(containers)),
    );
    put(
        "min_instances",
        doc.pointer("/scaling/minInstanceCount").cloned(),
    );
    put(
        "max_instances",
        doc.pointer("/template/scaling/maxInstanceCount").cloned(),
    );
    put("uri", text(doc, "uri").map(Value::from));
    put("update_time", text(doc, "updateTime").map(Value::from));
    put("last_modifier", text(doc, "lastModifier").map(Value::from));
    obs.evidence = evidence(doc);
    obs.change = change(doc, ready, created);
    obs
}

/// The terminal condition and every condition that has not succeeded, with their reasons,
/// messages and transition times; all of it is in the `services.list` answer already.
fn evidence(doc: &Value) -> Vec<Evidence> {
    let mut out = Vec::new();
    let mut add = |source: &str, c: &Value| {
        let state = c
            .get("state")
            .and_then(|v| enum_field(v, CONDITION_STATES))
            .unwrap_or("STATE_UNSPECIFIED");
        if state == "CONDITION_SUCCEEDED" {
            return;
        }
        let kind = text(c, "type").unwrap_or("condition");
        let reason = text(c, "reason").or_else(|| text(c, "revisionReason"));
        let mut line = format!("{kind} {state}");
        if let Some(r) = reason {
            line.push_str(&format!(" ({r})"));
        }
        if let Some(m) = text(c, "message").filter(|m| !m.is_empty()) {
            line.push_str(&format!(": {m}"));
        }
        let at = text(c, "lastTransitionTime").and_then(parse_time);
        out.push(Evidence::new(source, line).at(at));
    };
    if let Some(t) = doc.get("terminalCondition") {
        add("terminalCondition", t);
    }
    for c in doc
        .get("conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        add("condition", c);
    }
    out
}

/// The latest revision and when it took traffic: the service's `updateTime` is its last
/// deploy, and a later `RoutesReady` transition is when traffic last moved.
fn change(doc: &Value, ready: Option<&str>, created: Option<&str>) -> Option<Change> {
    let revision = created.or(ready)?;
    let updated = text(doc, "updateTime").and_then(parse_time);
    let routed = doc
        .get("conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| text(c, "type") == Some("RoutesReady")))
        .and_then(|c| text(c, "lastTransitionTime"))
        .and_then(parse_time);
    let at = match (updated, routed) {
        (Some(u), Some(r)) => Some(u.max(r)),
        (u, r) => u.or(r),
    };
    let percent: Option<u64> = doc
        .get("trafficStatuses")
        .and_then(Value::as_array)
        .map(|ts| {
            ts.iter()
                .filter(|t| {
                    text(t, "type") == Some("TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST")
                        || text(t, "revision").map(short_revision) == Some(revision)
                })
                .filter_map(|t| t.get("percent").and_then(Value::as_u64))
                .sum()
        });
    let by = text(doc, "lastModifier")
        .map(|m| format!(" (by {m})"))
        .unwrap_or_default();
    let text = if ready.is_some() && ready != created {
        format!(
            "revision {revision} deployed but not ready; traffic stays on {}{by}",
            ready.unwrap_or("?")
        )
    } else {
        match percent {
            Some(p) if p > 0 => format!("revision {revision} took {p}% of traffic{by}"),
            _ => format!("revision {revision} deployed{by}"),
        }
    };
    Some(Change::new(ChangeKind::Deploy, at, text).short(revision.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/fixtures/api/cloudrun/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
    }

    #[test]
    fn real_function_service_is_up() {
        let obs = observe(&fixture("v2-service-gcf2-function-real.json"));
        assert_eq!(obs.status, Status::Up, "{obs:?}");
        assert!(obs.summary.starts_with("serving "), "{}", obs.summary);
    }

    #[test]
    fn real_multicontainer_service_lists_its_sidecar() {
        let obs = observe(&fixture("v2-service-multicontainer-get.json"));
        assert_eq!(obs.metrics["containers"], json!(["hello-1", "hello-2"]));
    }

    #[test]
    fn a_failed_revision_with_a_ready_one_is_degraded_and_without_is_down() {
        let failed = json!({
            "terminalCondition": {"type": "Ready", "state": "CONDITION_FAILED", "reason": "REVISION_FAILED", "message": "Container failed to start"},
            "latestReadyRevision": "projects/p/locations/l/services/s/revisions/s-00006",
            "latestCreatedRevision": "projects/p/locations/l/services/s/revisions/s-00007"
        });
        let obs = observe(&failed);
        assert_eq!(obs.status, Status::Degraded);
        assert_eq!(
            obs.error.as_deref(),
            Some(
                "latest revision s-00007 failed (REVISION_FAILED: Container failed to start); traffic stays on s-00006"
            )
        );
        let none = json!({"terminalCondition": {"state": 3}});
        assert_eq!(observe(&none).status, Status::Down);
    }

    #[test]
    fn failed_conditions_are_evidence_and_the_revision_is_the_change() {
        let doc = json!({
            "terminalCondition": {"type": "Ready", "state": "CONDITION_FAILED", "reason": "HEALTH_CHECK_CONTAINER_ERROR",
                "message": "Revision 's-00008' is failing its liveness probe.", "lastTransitionTime": "2026-01-01T14:05:00Z"},
            "conditions": [
                {"type": "RoutesReady", "state": "CONDITION_SUCCEEDED", "lastTransitionTime": "2026-01-01T14:02:00Z"},
                {"type": "ConfigurationsReady", "state": "CONDITION_FAILED", "reason": "HEALTH_CHECK_CONTAINER_ERROR", "lastTransitionTime": "2026-01-01T14:05:00Z"}
            ],
            "updateTime": "2026-01-01T14:01:00Z",
            "lastModifier": "deployer@p.iam.gserviceaccount.com",
            "latestReadyRevision": "projects/p/locations/l/services/s/revisions/s-00008",
            "latestCreatedRevision": "projects/p/locations/l/services/s/revisions/s-00008",
            "trafficStatuses": [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}]
        });
        let obs = observe(&doc);
        assert_eq!(obs.evidence.len(), 2, "{:?}", obs.evidence);
        assert_eq!(
            obs.evidence[0].text,
            "Ready CONDITION_FAILED (HEALTH_CHECK_CONTAINER_ERROR): Revision 's-00008' is failing its liveness probe."
        );
        assert_eq!(obs.evidence[0].at, parse_time("2026-01-01T14:05:00Z"));
        let change = obs.change.expect("a change");
        assert_eq!(
            change.text,
            "revision s-00008 took 100% of traffic (by deployer@p.iam.gserviceaccount.com)"
        );
        assert_eq!(change.at, parse_time("2026-01-01T14:02:00Z"));
        assert_eq!(change.short, "s-00008");
    }
}

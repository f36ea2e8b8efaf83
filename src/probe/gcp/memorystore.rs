//! The `memorystore` probe: Memorystore for Redis v1 `instances.get`; the instance state
//! and tier decide its status.

use serde_json::Value;

use super::batch::find;
use super::{Google, enum_field, text};
use crate::model::{Observation, Outcome, Status};

const API: &str = "Memorystore for Redis API";

/// Instance.state by enum number (the numbering has gaps).
fn state_name(v: &Value) -> Option<&str> {
    match v {
        Value::Number(n) => Some(match n.as_u64()? {
            1 => "CREATING",
            2 => "READY",
            3 => "UPDATING",
            4 => "DELETING",
            5 => "REPAIRING",
            6 => "MAINTENANCE",
            8 => "IMPORTING",
            10 => "FAILING_OVER",
            _ => "STATE_UNSPECIFIED",
        }),
        other => other.as_str(),
    }
}

const TIERS: &[&str] = &["TIER_UNSPECIFIED", "BASIC", "", "STANDARD_HA"];

/// Reads the instance from the project's `locations/-` list, one call for every instance of
/// the project in every region.
pub async fn probe(google: &Google, project: &str, location: &str, instance: &str) -> Outcome {
    let listed = google
        .list(
            "redis.googleapis.com",
            &format!("v1/projects/{project}/locations/-/instances"),
            "instances",
        )
        .await;
    match listed {
        Ok(items) => Outcome::Observed(
            match find(
                &items,
                &format!("locations/{location}/instances/{instance}"),
            ) {
                Some(doc) => observe(doc),
                // Left out because Google could not reach the region: not known to be gone.
                None if items.unreachable_region(location) => {
                    return Outcome::Failed {
                        error: format!(
                            "{API} could not reach {location}: Memorystore instance '{instance}' is not listed (project '{project}')"
                        ),
                        retry_after: None,
                    };
                }
                None => Observation::down(format!(
                    "Memorystore instance '{instance}' does not exist in {location} (project '{project}')"
                )),
            },
        ),
        Err(e) => e.outcome(
            API,
            &format!("Memorystore instance '{instance}' in {location}"),
        ),
    }
}

/// The status of one Instance document.
pub fn observe(doc: &Value) -> Observation {
    let state = doc.get("state").and_then(state_name).unwrap_or("missing");
    let tier = doc
        .get("tier")
        .and_then(|v| enum_field(v, TIERS))
        .unwrap_or("?");
    let message = text(doc, "statusMessage").unwrap_or("");
    let with_message = |s: String| {
        if message.is_empty() {
            s
        } else {
            format!("{s}: {message}")
        }
    };
    let (status, why) = match state {
        "READY" => (Status::Up, None),
        "UPDATING" | "MAINTENANCE" | "FAILING_OVER" | "IMPORTING" | "REPAIRING" | "CREATING" => (
            Status::Degraded,
            Some(with_message(format!("state {state}"))),
        ),
        "DELETING" => (
            Status::Down,
            Some(with_message("the instance is being deleted".into())),
        ),
        other => (
            Status::Unknown,
            Some(format!(
                "the instance reports state \"{other}\", which opsdeck does not know"
            )),
        ),
    };
    let current = text(doc, "currentLocationId");
    let mut summary = format!("{state} · {tier}");
    if let Some(z) = current {
        summary.push_str(&format!(" · primary in {z}"));
    }
    let mut obs = Observation::new(status, summary);
    obs.error = why;
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            obs.metrics.insert(k.to_string(), v);
        }
    };
    put("state", Some(Value::from(state)));
    put("tier", Some(Value::from(tier)));
    put("current_location", current.map(Value::from));
    put(
        "alternative_location",
        text(doc, "alternativeLocationId").map(Value::from),
    );
    put("redis_version", text(doc, "redisVersion").map(Value::from));
    put("memory_size_gb", doc.get("memorySizeGb").cloned());
    put("replica_count", doc.get("replicaCount").cloned());
    put("host", text(doc, "host").map(Value::from));
    obs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/fixtures/api/memorystore/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
    }

    #[test]
    fn real_int_enum_instances_read() {
        let obs = observe(&fixture("instance-redis7-int-enums.json"));
        assert_eq!(obs.status, Status::Up);
        let ha = observe(&fixture("instance-standard-ha-2nodes-int-enums.json"));
        assert_eq!(ha.metrics["tier"], json!("STANDARD_HA"));
    }

    #[test]
    fn failing_over_is_degraded() {
        let obs = observe(
            &json!({"state": "FAILING_OVER", "tier": "STANDARD_HA", "statusMessage": "Failover in progress"}),
        );
        assert_eq!(obs.status, Status::Degraded);
        assert_eq!(
            obs.error.as_deref(),
            Some("state FAILING_OVER: Failover in progress")
        );
    }
}

//! The `cloud_sql` probe: Cloud SQL Admin API v1 `instances.get`; the instance state, its
//! availability type and zones decide its status.

use serde_json::Value;

use super::batch::find;
use super::{Google, enum_field, text};
use crate::model::{Observation, Outcome, Status};

const API: &str = "Cloud SQL Admin API";

/// DatabaseInstance.state, in enum order (for `enum-encoding=int` answers).
const STATES: &[&str] = &[
    "SQL_INSTANCE_STATE_UNSPECIFIED",
    "RUNNABLE",
    "SUSPENDED",
    "PENDING_DELETE",
    "PENDING_CREATE",
    "MAINTENANCE",
    "FAILED",
    "ONLINE_MAINTENANCE",
    "REPAIRING",
];

const AVAILABILITY: &[&str] = &["SQL_AVAILABILITY_TYPE_UNSPECIFIED", "ZONAL", "REGIONAL"];

/// Reads the instance from the project's `instances.list`, one call for every instance of
/// the project.
pub async fn probe(google: &Google, project: &str, instance: &str) -> Outcome {
    let listed = google
        .list(
            "sqladmin.googleapis.com",
            &format!("v1/projects/{project}/instances"),
            "items",
        )
        .await;
    match listed {
        Ok(items) => Outcome::Observed(match find(&items, instance) {
            Some(doc) => observe(doc),
            None => Observation::down(format!(
                "Cloud SQL instance '{instance}' is not among the instances of project '{project}'"
            )),
        }),
        Err(e) => e.outcome(API, &format!("Cloud SQL instance '{instance}'")),
    }
}

/// The status of one DatabaseInstance document.
pub fn observe(doc: &Value) -> Observation {
    let state = doc
        .get("state")
        .and_then(|v| enum_field(v, STATES))
        .unwrap_or("missing");
    let settings = doc.get("settings").unwrap_or(&Value::Null);
    let availability = settings
        .get("availabilityType")
        .and_then(|v| enum_field(v, AVAILABILITY))
        .map(str::to_string);
    let activation = text(settings, "activationPolicy");
    let (status, why) = match state {
        "RUNNABLE" if activation == Some("NEVER") => (
            Status::Down,
            Some("the instance is stopped (activationPolicy NEVER)".to_string()),
        ),
        "RUNNABLE" => (Status::Up, None),
        "MAINTENANCE" | "ONLINE_MAINTENANCE" => {
            (Status::Degraded, Some("under maintenance".to_string()))
        }
        "PENDING_CREATE" | "REPAIRING" => (Status::Degraded, Some(format!("state {state}"))),
        "SUSPENDED" => (
            Status::Down,
            Some(format!(
                "the instance is suspended{}",
                doc.get("suspensionReason")
                    .and_then(Value::as_array)
                    .map(|r| {
                        let reasons: Vec<&str> = r.iter().filter_map(Value::as_str).collect();
                        format!(" ({})", reasons.join(", "))
                    })
                    .unwrap_or_default()
            )),
        ),
        "FAILED" | "PENDING_DELETE" => (Status::Down, Some(format!("the instance is {state}"))),
        other => (
            Status::Unknown,
            Some(format!(
                "the instance reports state \"{other}\", which opsdeck does not know"
            )),
        ),
    };
    let version = text(doc, "databaseVersion").unwrap_or("?");
    let zone = text(doc, "gceZone");
    let mut summary = format!("{state} · {version}");
    if let Some(a) = &availability {
        summary.push_str(&format!(" · {a}"));
    }
    if let Some(z) = zone {
        summary.push_str(&format!(" · {z}"));
    }
    let mut obs = Observation::new(status, summary);
    obs.error = why;
    let backup = settings.get("backupConfiguration");
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            obs.metrics.insert(k.to_string(), v);
        }
    };
    put("state", Some(Value::from(state)));
    put("availability", availability.map(Value::from));
    put(
        "database_version",
        text(doc, "databaseVersion").map(Value::from),
    );
    put("zone", zone.map(Value::from));
    put(
        "secondary_zone",
        text(doc, "secondaryGceZone").map(Value::from),
    );
    put("settings_version", settings.get("settingsVersion").cloned());
    put("tier", text(settings, "tier").map(Value::from));
    put("instance_type", text(doc, "instanceType").map(Value::from));
    put("region", text(doc, "region").map(Value::from));
    put(
        "pitr_enabled",
        backup
            .and_then(|b| {
                b.get("pointInTimeRecoveryEnabled")
                    .or_else(|| b.get("binaryLogEnabled"))
            })
            .cloned(),
    );
    put(
        "backups_enabled",
        backup.and_then(|b| b.get("enabled")).cloned(),
    );
    put("replicas", doc.get("replicaNames").cloned());
    put("master", text(doc, "masterInstanceName").map(Value::from));
    obs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/fixtures/api/cloudsql/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("fixture");
        serde_json::from_str(&text).expect("json")
    }

    #[test]
    fn real_regional_postgres_is_up() {
        let obs = observe(&fixture("instance-postgres16-regional-private-ip.json"));
        assert_eq!(obs.status, Status::Up);
        assert_eq!(obs.metrics["availability"], json!("REGIONAL"));
        assert!(
            obs.summary.starts_with("RUNNABLE · POSTGRES_16 · REGIONAL"),
            "{}",
            obs.summary
        );
    }

    #[test]
    fn real_read_replica_names_its_master() {
        let obs = observe(&fixture("instance-read-replica.json"));
        assert_eq!(obs.status, Status::Up);
        assert_eq!(obs.metrics["instance_type"], json!("READ_REPLICA_INSTANCE"));
        assert!(obs.metrics.contains_key("master"));
    }

    #[test]
    fn states_map_to_statuses() {
        let doc = |s: Value| json!({"state": s, "databaseVersion": "POSTGRES_16", "settings": {"availabilityType": "ZONAL"}});
        assert_eq!(observe(&doc(json!("FAILED"))).status, Status::Down);
        assert_eq!(observe(&doc(json!("MAINTENANCE"))).status, Status::Degraded);
        assert_eq!(observe(&doc(json!("SUSPENDED"))).status, Status::Down);
        assert_eq!(observe(&doc(json!(1))).status, Status::Up);
        assert_eq!(
            observe(&doc(json!("UNKNOWN_STATE"))).status,
            Status::Unknown
        );
        let stopped = json!({"state": "RUNNABLE", "settings": {"activationPolicy": "NEVER"}});
        assert_eq!(observe(&stopped).status, Status::Down);
    }
}

//! The `cloud_sql` probe: Cloud SQL Admin API v1 `instances.get`; the instance state, its
//! availability type and zones decide its status.

use serde_json::Value;

use super::batch::find;
use super::{Google, enum_field, text};
use crate::model::evidence_time as parse_time;
use crate::model::{Change, ChangeKind, Evidence, Observation, Outcome, Status};

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
            Some(doc) => {
                let mut obs = observe(doc);
                // The list carries no operations. One more call, `operations.list` for this
                // instance, is made only while it is not up: a healthy estate costs nothing
                // extra, and a failing instance's last failover, maintenance or restore is
                // the likeliest explanation. A failure here only loses that evidence.
                if obs.status != Status::Up {
                    let url = google.client().url(
                        "sqladmin.googleapis.com",
                        &format!(
                            "v1/projects/{project}/operations?instance={instance}&maxResults=5"
                        ),
                    );
                    if let Ok(doc) = google.client().get_json(&url).await {
                        add_operations(&mut obs, &doc);
                    }
                }
                obs
            }
            None => Observation::down(format!(
                "Cloud SQL instance '{instance}' is not among the instances of project '{project}'"
            )),
        }),
        Err(e) => e.outcome(API, &format!("Cloud SQL instance '{instance}'")),
    }
}

/// The instance's recent operations (newest first, as `operations.list` answers) as
/// evidence, and the newest as the change that may explain its state.
pub fn add_operations(obs: &mut Observation, list: &Value) {
    let Some(items) = list.get("items").and_then(Value::as_array) else {
        return;
    };
    for (n, op) in items.iter().take(3).enumerate() {
        let kind = text(op, "operationType").unwrap_or("operation");
        let status = text(op, "status").unwrap_or("?");
        let at = ["endTime", "startTime", "insertTime"]
            .iter()
            .find_map(|k| text(op, k))
            .and_then(parse_time);
        let failed = op
            .pointer("/error/errors/0/message")
            .and_then(Value::as_str)
            .map(|m| format!(", failed: {m}"))
            .unwrap_or_default();
        let by = text(op, "user")
            .map(|u| format!(" by {u}"))
            .unwrap_or_default();
        let line = format!("{kind} {status}{by}{failed}");
        obs.evidence
            .push(Evidence::new("operation", line.clone()).at(at));
        if n == 0 {
            let started = ["startTime", "insertTime"]
                .iter()
                .find_map(|k| text(op, k))
                .and_then(parse_time);
            obs.change = Some(
                Change::new(
                    ChangeKind::Operation,
                    started.or(at),
                    format!("Cloud SQL {line}"),
                )
                .short(kind.to_lowercase()),
            );
        }
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
    if status != Status::Up {
        let mut line = format!("state {state}");
        if let Some(z) = zone {
            line.push_str(&format!(" in {z}"));
        }
        if let Some(w) = &why {
            line.push_str(&format!(": {w}"));
        }
        obs.evidence.push(Evidence::new("instance", line));
    }
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
    fn the_last_operation_is_the_change_and_each_is_evidence() {
        let mut obs = observe(
            &json!({"state": "FAILED", "databaseVersion": "POSTGRES_16", "gceZone": "europe-west1-b"}),
        );
        assert_eq!(
            obs.evidence[0].text,
            "state FAILED in europe-west1-b: the instance is FAILED"
        );
        let list = json!({"kind": "sql#operationsList", "items": [
            {"kind":"sql#operation","name":"a1","operationType":"FAILOVER","status":"DONE",
             "user":"ops@example.com","insertTime":"2025-05-03T10:00:00.000Z","startTime":"2025-05-03T10:00:01.000Z","endTime":"2025-05-03T10:01:30.000Z"},
            {"kind":"sql#operation","name":"a0","operationType":"MAINTENANCE","status":"DONE",
             "insertTime":"2025-05-02T03:00:00.000Z",
             "error":{"kind":"sql#operationErrors","errors":[{"kind":"sql#operationError","code":"X","message":"disk full"}]}}
        ]});
        add_operations(&mut obs, &list);
        let change = obs.change.expect("a change");
        assert_eq!(change.kind, ChangeKind::Operation);
        assert_eq!(change.text, "Cloud SQL FAILOVER DONE by ops@example.com");
        assert_eq!(change.at, parse_time("2025-05-03T10:00:01Z"));
        assert_eq!(obs.evidence.len(), 3);
        assert_eq!(obs.evidence[2].text, "MAINTENANCE DONE, failed: disk full");
        assert_eq!(obs.evidence[1].at, parse_time("2025-05-03T10:01:30Z"));
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

//! The `meta.k8s.io/v1` Table format kubectl asks for (`Accept: …;as=Table;…`): the same
//! columns and cells the real API server prints for each kind, computed from the objects' JSON
//! so lists, single objects and watch events render alike. Pure.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::store::Res;
use crate::sim::cluster::clock::age;

/// (name, type, description, priority); priority 1 columns show only with `-o wide`.
type Column = (&'static str, &'static str, &'static str, u8);

const NAME: Column = (
    "Name",
    "string",
    "Name must be unique within a namespace.",
    0,
);
const AGE: Column = (
    "Age",
    "string",
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
    0,
);

fn columns(res: Res) -> Vec<Column> {
    match res {
        Res::Deployment => vec![
            NAME,
            ("Ready", "string", "Number of the pod with ready state", 0),
            (
                "Up-to-date",
                "string",
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
                0,
            ),
            (
                "Available",
                "string",
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
                0,
            ),
            AGE,
            (
                "Containers",
                "string",
                "Names of each container in the template.",
                1,
            ),
            (
                "Images",
                "string",
                "Images referenced by each container in the template.",
                1,
            ),
            ("Selector", "string", "Label selector for pods.", 1),
        ],
        Res::StatefulSet => vec![
            NAME,
            ("Ready", "string", "Number of the pod with ready state", 0),
            AGE,
            (
                "Containers",
                "string",
                "Names of each container in the template.",
                1,
            ),
            (
                "Images",
                "string",
                "Images referenced by each container in the template.",
                1,
            ),
        ],
        Res::DaemonSet => vec![
            NAME,
            (
                "Desired",
                "integer",
                "The total number of nodes that should be running the daemon pod.",
                0,
            ),
            (
                "Current",
                "integer",
                "The number of nodes that are running at least 1 daemon pod.",
                0,
            ),
            (
                "Ready",
                "integer",
                "The number of nodes that should be running the daemon pod and have one or more running and ready.",
                0,
            ),
            (
                "Up-to-date",
                "integer",
                "The total number of nodes that are running updated daemon pod",
                0,
            ),
            (
                "Available",
                "integer",
                "The number of nodes that should be running the daemon pod and have one or more available.",
                0,
            ),
            (
                "Node Selector",
                "string",
                "NodeSelector is a selector which must be true for the pod to fit on a node.",
                0,
            ),
            AGE,
        ],
        Res::ReplicaSet => vec![
            NAME,
            (
                "Desired",
                "integer",
                "Replicas is the number of desired replicas.",
                0,
            ),
            (
                "Current",
                "integer",
                "Replicas is the most recently observed number of replicas.",
                0,
            ),
            (
                "Ready",
                "integer",
                "The number of ready replicas for this replica set.",
                0,
            ),
            AGE,
        ],
        Res::Pod => vec![
            NAME,
            (
                "Ready",
                "string",
                "The aggregate readiness state of this pod for accepting traffic.",
                0,
            ),
            (
                "Status",
                "string",
                "The aggregate status of the containers in this pod.",
                0,
            ),
            (
                "Restarts",
                "string",
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
                0,
            ),
            AGE,
            (
                "IP",
                "string",
                "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
                1,
            ),
            (
                "Node",
                "string",
                "NodeName is a request to schedule this pod onto a specific node.",
                1,
            ),
            (
                "Nominated Node",
                "string",
                "nominatedNodeName is set only when this pod preempts other pods on the node.",
                1,
            ),
            (
                "Readiness Gates",
                "string",
                "If specified, all readiness gates will be evaluated for pod readiness.",
                1,
            ),
        ],
        Res::Event => vec![
            (
                "Last Seen",
                "string",
                "The time at which the most recent occurrence of this event was recorded.",
                0,
            ),
            (
                "Type",
                "string",
                "Type of this event (Normal, Warning), new types could be added in the future.",
                0,
            ),
            (
                "Reason",
                "string",
                "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
                0,
            ),
            (
                "Object",
                "string",
                "The object that this event is about.",
                0,
            ),
            (
                "Message",
                "string",
                "A human-readable description of the status of this operation.",
                0,
            ),
        ],
        Res::Hpa => vec![
            NAME,
            ("Reference", "string", "reference to scaled resource", 0),
            ("Targets", "string", "the current and target metrics", 0),
            ("MinPods", "string", "lower limit for the number of pods", 0),
            (
                "MaxPods",
                "integer",
                "upper limit for the number of pods",
                0,
            ),
            (
                "Replicas",
                "integer",
                "current number of replicas of pods managed by this autoscaler",
                0,
            ),
            AGE,
        ],
        Res::Lease => vec![
            NAME,
            ("Holder", "string", "The holder of the lease.", 0),
            AGE,
        ],
        Res::Namespace => vec![
            NAME,
            ("Status", "string", "The status of the namespace", 0),
            AGE,
        ],
        Res::Node => vec![
            NAME,
            ("Status", "string", "The status of the node", 0),
            ("Roles", "string", "The roles of the node", 0),
            AGE,
            (
                "Version",
                "string",
                "Kubelet Version reported by the node.",
                0,
            ),
        ],
    }
}

pub(crate) fn column_definitions(res: Res) -> Vec<Value> {
    columns(res)
        .into_iter()
        .map(|(name, kind, description, priority)| {
            let format = if name == "Name" { "name" } else { "" };
            json!({"name": name, "type": kind, "format": format, "description": description, "priority": priority})
        })
        .collect()
}

fn ago(object: &Value, field: &str, now: DateTime<Utc>) -> String {
    object
        .pointer(field)
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or_else(
            || "<unknown>".to_string(),
            |t| age((now - t.with_timezone(&Utc)).num_seconds()),
        )
}

fn num(object: &Value, path: &str) -> u64 {
    object.pointer(path).and_then(Value::as_u64).unwrap_or(0)
}

fn text(object: &Value, path: &str) -> String {
    object
        .pointer(path)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn containers(object: &Value, field: &str) -> String {
    object
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c[field].as_str())
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// The cells of one row, in column order.
fn cells(res: Res, o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let name = json!(text(o, "/metadata/name"));
    let created = json!(ago(o, "/metadata/creationTimestamp", now));
    match res {
        Res::Deployment => vec![
            name,
            json!(format!(
                "{}/{}",
                num(o, "/status/readyReplicas"),
                num(o, "/spec/replicas")
            )),
            json!(num(o, "/status/updatedReplicas")),
            json!(num(o, "/status/availableReplicas")),
            created,
            json!(containers(o, "name")),
            json!(containers(o, "image")),
            json!(format!("app={}", text(o, "/spec/selector/matchLabels/app"))),
        ],
        Res::StatefulSet => vec![
            name,
            json!(format!(
                "{}/{}",
                num(o, "/status/readyReplicas"),
                num(o, "/spec/replicas")
            )),
            created,
            json!(containers(o, "name")),
            json!(containers(o, "image")),
        ],
        Res::DaemonSet => vec![
            name,
            json!(num(o, "/status/desiredNumberScheduled")),
            json!(num(o, "/status/currentNumberScheduled")),
            json!(num(o, "/status/numberReady")),
            json!(num(o, "/status/updatedNumberScheduled")),
            json!(num(o, "/status/numberAvailable")),
            json!("<none>"),
            created,
        ],
        Res::ReplicaSet => vec![
            name,
            json!(num(o, "/spec/replicas")),
            json!(num(o, "/status/replicas")),
            json!(num(o, "/status/readyReplicas")),
            created,
        ],
        Res::Pod => pod_cells(o, now, name, created),
        Res::Event => vec![
            json!(ago(o, "/lastTimestamp", now)),
            json!(text(o, "/type")),
            json!(text(o, "/reason")),
            json!(format!(
                "{}/{}",
                text(o, "/involvedObject/kind").to_lowercase(),
                text(o, "/involvedObject/name")
            )),
            json!(text(o, "/message")),
        ],
        Res::Hpa => vec![
            name,
            json!(format!(
                "{}/{}",
                text(o, "/spec/scaleTargetRef/kind"),
                text(o, "/spec/scaleTargetRef/name")
            )),
            json!(format!(
                "cpu: {}%/{}%",
                num(
                    o,
                    "/status/currentMetrics/0/resource/current/averageUtilization"
                ),
                num(o, "/spec/metrics/0/resource/target/averageUtilization")
            )),
            json!(num(o, "/spec/minReplicas").to_string()),
            json!(num(o, "/spec/maxReplicas")),
            json!(num(o, "/status/currentReplicas")),
            created,
        ],
        Res::Lease => vec![name, json!(text(o, "/spec/holderIdentity")), created],
        Res::Namespace => vec![name, json!(text(o, "/status/phase")), created],
        Res::Node => vec![
            name,
            json!("Ready"),
            json!("<none>"),
            created,
            json!(text(o, "/status/nodeInfo/kubeletVersion")),
        ],
    }
}

/// READY, STATUS and RESTARTS as kubectl's pod printer works them out.
fn pod_cells(o: &Value, now: DateTime<Utc>, name: Value, created: Value) -> Vec<Value> {
    let statuses = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let total = o
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let ready = statuses.iter().filter(|c| c["ready"] == true).count();
    let mut reason = text(o, "/status/reason");
    if reason.is_empty() {
        reason = text(o, "/status/phase");
    }
    let mut restarts = 0;
    let mut last_restart: Option<String> = None;
    for c in statuses.iter().rev() {
        restarts += c["restartCount"].as_u64().unwrap_or(0);
        if let Some(t) = c
            .pointer("/lastState/terminated/finishedAt")
            .and_then(Value::as_str)
        {
            last_restart = Some(t.to_string());
        }
        if let Some(r) = c
            .pointer("/state/waiting/reason")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
        {
            reason = r.to_string();
        } else if let Some(t) = c.pointer("/state/terminated") {
            reason = match t["reason"].as_str() {
                Some(r) if !r.is_empty() => r.to_string(),
                _ => format!("ExitCode:{}", t["exitCode"].as_i64().unwrap_or(0)),
            };
        }
    }
    if o.pointer("/metadata/deletionTimestamp")
        .is_some_and(|d| !d.is_null())
    {
        reason = "Terminating".to_string();
    }
    let restarts = match last_restart.and_then(|t| DateTime::parse_from_rfc3339(&t).ok()) {
        Some(t) if restarts > 0 => format!(
            "{restarts} ({} ago)",
            age((now - t.with_timezone(&Utc)).num_seconds())
        ),
        _ => restarts.to_string(),
    };
    let node = text(o, "/spec/nodeName");
    let ip = text(o, "/status/podIP");
    let or_none = |s: String| {
        if s.is_empty() {
            "<none>".to_string()
        } else {
            s
        }
    };
    vec![
        name,
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts),
        created,
        json!(or_none(ip)),
        json!(or_none(node)),
        json!("<none>"),
        json!("<none>"),
    ]
}

/// What a row carries besides its cells: the object's metadata, or the whole object when
/// `includeObject=Object`.
fn row_object(object: &Value, whole: bool) -> Value {
    if whole {
        return object.clone();
    }
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object["metadata"]})
}

/// One row of a Table.
pub(crate) fn row(res: Res, object: &Value, whole: bool, now: DateTime<Utc>) -> Value {
    json!({"cells": cells(res, object, now), "object": row_object(object, whole)})
}

/// A Table of these objects.
pub(crate) fn table(
    res: Res,
    objects: &[Value],
    rv: &str,
    whole: bool,
    now: DateTime<Utc>,
) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| json!({"cells": cells(res, o, now), "object": row_object(o, whole)}))
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": column_definitions(res),
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_looping_pod_prints_like_kubectl() {
        let now = Utc::now();
        let finished = (now - chrono::Duration::seconds(90)).to_rfc3339();
        let pod = json!({
            "metadata": {"name": "web-1", "creationTimestamp": (now - chrono::Duration::hours(2)).to_rfc3339()},
            "spec": {"containers": [{"name": "web"}], "nodeName": "n1"},
            "status": {"phase": "Running", "podIP": "10.0.0.1", "containerStatuses": [{
                "ready": false, "restartCount": 7,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": finished}}
            }]}
        });
        let t = table(Res::Pod, &[pod], "5", false, now);
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[1], "0/1");
        assert_eq!(cells[2], "CrashLoopBackOff");
        assert_eq!(cells[3], "7 (90s ago)");
        assert_eq!(cells[4], "120m");
        assert_eq!(t["columnDefinitions"].as_array().map(Vec::len), Some(9));
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }
}

//! The Knative (Cloud Run v1) views of the v2 state `cloud_run.rs` stores: a `Service` with
//! its annotations, revision template and Ready conditions, and a `Revision` (api-facts §1.6
//! mapping). Pure.

use serde_json::{Map, Value, json};

use crate::sim::patch::set_key;
use crate::sim::resources::project_number;
use crate::sim::state::{Api, World};

/// "True", "False" or "Unknown" for a v2 condition state.
fn status_word(state: &Value) -> &'static str {
    match state.as_str() {
        Some("CONDITION_SUCCEEDED") => "True",
        Some("CONDITION_FAILED") => "False",
        _ => "Unknown",
    }
}

fn condition(kind: &str, v2: &Value) -> Value {
    let mut c = json!({"type": kind, "status": status_word(&v2["state"])});
    for (from, to) in [
        ("lastTransitionTime", "lastTransitionTime"),
        ("message", "message"),
        ("reason", "reason"),
    ] {
        if let Some(v) = v2.get(from) {
            c[to] = v.clone();
        }
    }
    if v2.get("severity").and_then(Value::as_str) == Some("ERROR") {
        c["severity"] = json!("Error");
    }
    c
}

fn short(full: &Value) -> Value {
    full.as_str()
        .map_or(Value::Null, |s| json!(s.rsplit('/').next().unwrap_or(s)))
}

fn ingress_word(v2: &Value) -> &'static str {
    match v2.as_str() {
        Some("INGRESS_TRAFFIC_INTERNAL_ONLY") => "internal",
        Some("INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER") => "internal-and-cloud-load-balancing",
        _ => "all",
    }
}

/// The Knative `Service` view of service `i`.
pub(crate) fn service(world: &World, i: usize) -> Value {
    let r = &world.resources[i];
    let v2 = &r.body;
    let number = project_number(&r.project).to_string();
    let generation = v2["generation"]
        .as_str()
        .and_then(|g| g.parse::<u64>().ok())
        .unwrap_or(1);
    let observed = v2["observedGeneration"]
        .as_str()
        .and_then(|g| g.parse::<u64>().ok())
        .unwrap_or(generation);
    let mut labels = v2.get("labels").cloned().unwrap_or_else(|| json!({}));
    set_key(
        &mut labels,
        "cloud.googleapis.com/location",
        json!(r.location),
    );
    let mut annotations = v2.get("annotations").cloned().unwrap_or_else(|| json!({}));
    set_key(
        &mut annotations,
        "serving.knative.dev/creator",
        v2["creator"].clone(),
    );
    set_key(
        &mut annotations,
        "serving.knative.dev/lastModifier",
        v2["lastModifier"].clone(),
    );
    set_key(
        &mut annotations,
        "run.googleapis.com/ingress",
        json!(ingress_word(&v2["ingress"])),
    );
    set_key(
        &mut annotations,
        "run.googleapis.com/ingress-status",
        json!(ingress_word(&v2["ingress"])),
    );
    set_key(
        &mut annotations,
        "run.googleapis.com/urls",
        json!(v2["urls"].to_string()),
    );
    if let Some(op) = world
        .ops
        .iter()
        .rev()
        .find(|o| o.api == Api::CloudRun && o.target == i)
    {
        set_key(
            &mut annotations,
            "run.googleapis.com/operation-id",
            json!(op.id),
        );
    }
    let scaling = &v2["scaling"];
    if let Some(n) = scaling.get("minInstanceCount") {
        set_key(
            &mut annotations,
            "run.googleapis.com/minScale",
            json!(n.to_string()),
        );
    }
    if let Some(n) = scaling.get("maxInstanceCount") {
        set_key(
            &mut annotations,
            "run.googleapis.com/maxScale",
            json!(n.to_string()),
        );
    }
    if scaling["scalingMode"] == "MANUAL" {
        set_key(
            &mut annotations,
            "run.googleapis.com/scalingMode",
            json!("manual"),
        );
        set_key(
            &mut annotations,
            "run.googleapis.com/manualInstanceCount",
            json!(scaling["manualInstanceCount"].to_string()),
        );
    }
    let conditions: Vec<Value> = std::iter::once(condition("Ready", &v2["terminalCondition"]))
        .chain(
            v2["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| condition(c["type"].as_str().unwrap_or_default(), c)),
        )
        .collect();
    let uri = v2["uri"].clone();
    json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {
            "name": r.id,
            "namespace": number,
            "selfLink": format!("/apis/serving.knative.dev/v1/namespaces/{number}/services/{}", r.id),
            "uid": v2["uid"],
            "resourceVersion": resource_version(v2),
            "generation": generation,
            "creationTimestamp": v2["createTime"],
            "labels": labels,
            "annotations": annotations
        },
        "spec": {
            "template": template(&v2["template"]),
            "traffic": [{"percent": 100, "latestRevision": true}]
        },
        "status": {
            "observedGeneration": observed,
            "conditions": conditions,
            "latestReadyRevisionName": short(&v2["latestReadyRevision"]),
            "latestCreatedRevisionName": short(&v2["latestCreatedRevision"]),
            "traffic": [{"revisionName": short(&v2["latestReadyRevision"]), "percent": 100, "latestRevision": true}],
            "url": uri,
            "address": {"url": uri}
        }
    })
}

/// The resource version Knative shows: derived from the v2 etag, so it changes with it.
pub(super) fn resource_version(v2: &Value) -> String {
    let etag = v2["etag"].as_str().unwrap_or_default();
    format!(
        "AAY{:x}",
        crate::sim::resources::stable_hash(etag) & 0xffff_ffff_ffff
    )
}

/// A v2 `RevisionTemplate` as a Knative `RevisionTemplateSpec`.
fn template(t: &Value) -> Value {
    let mut annotations = json!({"run.googleapis.com/execution-environment": if t["executionEnvironment"] == "EXECUTION_ENVIRONMENT_GEN1" { "gen1" } else { "gen2" }});
    if let Some(n) = t.pointer("/scaling/minInstanceCount") {
        set_key(
            &mut annotations,
            "autoscaling.knative.dev/minScale",
            json!(n.to_string()),
        );
    }
    if let Some(n) = t.pointer("/scaling/maxInstanceCount") {
        set_key(
            &mut annotations,
            "autoscaling.knative.dev/maxScale",
            json!(n.to_string()),
        );
    }
    let containers: Vec<Value> = t["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(container)
        .collect();
    let deps: Map<String, Value> = t["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c["name"].as_str()?.to_string(), c.get("dependsOn")?.clone())))
        .collect();
    if !deps.is_empty() {
        annotations["run.googleapis.com/container-dependencies"] =
            json!(Value::Object(deps).to_string());
    }
    if t["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c.pointer("/resources/startupCpuBoost") == Some(&json!(true)))
    {
        set_key(
            &mut annotations,
            "run.googleapis.com/startup-cpu-boost",
            json!("true"),
        );
    }
    let timeout = t["timeout"]
        .as_str()
        .and_then(|s| s.strip_suffix('s'))
        .and_then(|s| s.parse::<f64>().ok())
        .map_or(300, |s| s as u64);
    json!({
        "metadata": {"annotations": annotations},
        "spec": {
            "containerConcurrency": t["maxInstanceRequestConcurrency"],
            "timeoutSeconds": timeout,
            "serviceAccountName": t["serviceAccount"],
            "containers": containers
        }
    })
}

fn container(c: &Value) -> Value {
    let mut out = json!({"name": c["name"], "image": c["image"]});
    for key in ["args", "command", "env", "ports", "volumeMounts"] {
        if let Some(v) = c.get(key) {
            out[key] = v.clone();
        }
    }
    if let Some(limits) = c.pointer("/resources/limits") {
        out["resources"] = json!({"limits": limits});
    }
    if let Some(p) = c.get("startupProbe") {
        out["startupProbe"] = p.clone();
    }
    out
}

/// A v2 `Revision` of service `i` as a Knative `Revision`.
pub(super) fn revision(world: &World, i: usize, rev: &Value) -> Value {
    let r = &world.resources[i];
    let number = project_number(&r.project).to_string();
    let name = short(&rev["name"]);
    let serving = rev["name"] == r.body["latestReadyRevision"];
    let conditions: Vec<Value> = rev["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| condition(c["type"].as_str().unwrap_or_default(), c))
        .chain(std::iter::once(
            json!({"type": "Active", "status": if serving { "True" } else { "False" }}),
        ))
        .collect();
    let t = json!({"scaling": rev["scaling"], "containers": rev["containers"], "serviceAccount": rev["serviceAccount"], "timeout": rev["timeout"], "maxInstanceRequestConcurrency": rev["maxInstanceRequestConcurrency"], "executionEnvironment": rev["executionEnvironment"]});
    let spec = template(&t);
    json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Revision",
        "metadata": {
            "name": name,
            "namespace": number,
            "selfLink": format!("/apis/serving.knative.dev/v1/namespaces/{number}/revisions/{}", name.as_str().unwrap_or_default()),
            "uid": rev["uid"],
            "resourceVersion": resource_version(rev),
            "generation": 1,
            "creationTimestamp": rev["createTime"],
            "labels": {
                "serving.knative.dev/service": r.id,
                "serving.knative.dev/configuration": r.id,
                "serving.knative.dev/route": r.id,
                "cloud.googleapis.com/location": r.location
            },
            "annotations": spec["metadata"]["annotations"],
            "ownerReferences": [{"kind": "Configuration", "name": r.id, "apiVersion": "serving.knative.dev/v1", "controller": true, "blockOwnerDeletion": true}]
        },
        "spec": spec["spec"],
        "status": {"observedGeneration": 1, "conditions": conditions, "logUrl": rev["logUri"]}
    })
}

//! The Cloud Run v1 (Knative) surface gcloud speaks: services get, list and replace under
//! `/apis/serving.knative.dev/v1/namespaces/{project id or number}/…` (region from the host
//! prefix) and `/v1/projects/{p}/locations/{region or -}/services`, and revisions get and list
//! by label selector. Every answer is a view of the v2 `Service` that `cloud_run.rs` stores;
//! a replace maps the Knative object back onto it (api-facts §1.6) and commits it there.

use serde_json::{Map, Value, json};

use super::cloud_run::{self, SERVICE};
use super::errors::{self, rpc_error};
use super::{Answer, Call, Reply, guarded, json_body, query_param};
use crate::sim::resources::project_number;
use crate::sim::state::{Api, World};

/// `/apis/serving.knative.dev/v1/namespaces/{namespace}/` + `rest`.
pub(crate) fn route_namespaces(world: &mut World, call: &Call, namespace: &str, rest: &[&str]) -> Answer {
    let project = world.project_of_namespace(namespace);
    let location = call.region.map(str::to_string);
    dispatch(world, call, &project, location.as_deref(), rest)
}

/// `/v1/projects/{p}/locations/{l}/services` + `rest` (`l` may be `-`).
pub(crate) fn route_projects(world: &mut World, call: &Call, project: &str, location: &str, rest: &[&str]) -> Answer {
    let mut full = vec!["services"];
    full.extend_from_slice(rest);
    let location = (location != "-").then_some(location);
    dispatch(world, call, project, location, &full)
}

fn dispatch(world: &mut World, call: &Call, project: &str, location: Option<&str>, rest: &[&str]) -> Answer {
    let get = matches!(call.method, "GET" | "HEAD");
    match rest {
        ["services"] if get => list(world, project, location),
        ["services", name] => {
            let Some(i) = world.find(Api::CloudRun, project, location, name) else {
                return rpc_error(
                    404,
                    "NOT_FOUND",
                    &format!("Resource '{name}' of kind 'SERVICE' in region '{}' in project '{project}' does not exist.", location.unwrap_or("-")),
                )
                .into();
            };
            match call.method {
                "GET" | "HEAD" => guarded(world, &[i], SERVICE, |w| Reply::ok(service(w, i))),
                "PUT" => replace(world, call, i),
                _ => errors::no_method().into(),
            }
        }
        ["revisions"] if get => {
            let selector = query_param(call.query, "labelSelector").unwrap_or_default();
            let wanted = selector
                .split_once('=')
                .filter(|(k, _)| k.trim() == "serving.knative.dev/service")
                .map(|(_, v)| v.trim().to_string());
            let services: Vec<usize> = world
                .list(Api::CloudRun, project, location)
                .into_iter()
                .filter(|i| wanted.as_deref().is_none_or(|w| world.resources[*i].id == w))
                .collect();
            guarded(world, &services, SERVICE, |w| {
                let items: Vec<Value> = services
                    .iter()
                    .flat_map(|i| cloud_run::revisions(w, *i).into_iter().map(move |r| revision(w, *i, &r)))
                    .collect();
                Reply::ok(json!({"apiVersion": "serving.knative.dev/v1", "kind": "RevisionList", "metadata": {}, "items": items}))
            })
        }
        ["revisions", name] if get => {
            let found = world.list(Api::CloudRun, project, location).into_iter().find_map(|i| {
                cloud_run::revisions(world, i)
                    .into_iter()
                    .find(|r| r["name"].as_str().is_some_and(|n| n.ends_with(&format!("/{name}"))))
                    .map(|r| (i, r))
            });
            match found {
                Some((i, r)) => guarded(world, &[i], SERVICE, |w| Reply::ok(revision(w, i, &r))),
                None => rpc_error(
                    404,
                    "NOT_FOUND",
                    &format!("Resource '{name}' of kind 'REVISION' in region '{}' in project '{project}' does not exist.", location.unwrap_or("-")),
                )
                .into(),
            }
        }
        _ => errors::no_method().into(),
    }
}

/// A `ServiceList`; regions whose API is failing go to `unreachable`.
fn list(world: &World, project: &str, location: Option<&str>) -> Answer {
    let all = world.list(Api::CloudRun, project, location);
    let (down, up): (Vec<usize>, Vec<usize>) = all.iter().partition(|i| {
        matches!(world.resources[**i].knobs.fault.error, Some(500 | 503 | 504))
    });
    let unreachable: Vec<String> = {
        let mut regions: Vec<String> = down.iter().map(|i| world.resources[*i].location.clone()).collect();
        regions.dedup();
        regions
    };
    if location.is_some() && !down.is_empty() {
        return guarded(world, &down, SERVICE, |_| Reply::ok(Value::Null));
    }
    guarded(world, &up, SERVICE, |w| {
        let items: Vec<Value> = up.iter().map(|i| service(w, *i)).collect();
        let mut body = json!({"apiVersion": "serving.knative.dev/v1", "kind": "ServiceList", "metadata": {}, "items": items});
        if !unreachable.is_empty() {
            body["unreachable"] = json!(unreachable);
        }
        Reply::ok(body)
    })
}

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
    for (from, to) in [("lastTransitionTime", "lastTransitionTime"), ("message", "message"), ("reason", "reason")] {
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
    full.as_str().map_or(Value::Null, |s| json!(s.rsplit('/').next().unwrap_or(s)))
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
    let generation = v2["generation"].as_str().and_then(|g| g.parse::<u64>().ok()).unwrap_or(1);
    let observed = v2["observedGeneration"].as_str().and_then(|g| g.parse::<u64>().ok()).unwrap_or(generation);
    let mut labels = v2.get("labels").cloned().unwrap_or_else(|| json!({}));
    labels["cloud.googleapis.com/location"] = json!(r.location);
    let mut annotations = v2.get("annotations").cloned().unwrap_or_else(|| json!({}));
    annotations["serving.knative.dev/creator"] = v2["creator"].clone();
    annotations["serving.knative.dev/lastModifier"] = v2["lastModifier"].clone();
    annotations["run.googleapis.com/ingress"] = json!(ingress_word(&v2["ingress"]));
    annotations["run.googleapis.com/ingress-status"] = json!(ingress_word(&v2["ingress"]));
    annotations["run.googleapis.com/urls"] = json!(v2["urls"].to_string());
    if let Some(op) = world.ops.iter().rev().find(|o| o.api == Api::CloudRun && o.target == i) {
        annotations["run.googleapis.com/operation-id"] = json!(op.id);
    }
    let scaling = &v2["scaling"];
    if let Some(n) = scaling.get("minInstanceCount") {
        annotations["run.googleapis.com/minScale"] = json!(n.to_string());
    }
    if let Some(n) = scaling.get("maxInstanceCount") {
        annotations["run.googleapis.com/maxScale"] = json!(n.to_string());
    }
    if scaling["scalingMode"] == "MANUAL" {
        annotations["run.googleapis.com/scalingMode"] = json!("manual");
        annotations["run.googleapis.com/manualInstanceCount"] = json!(scaling["manualInstanceCount"].to_string());
    }
    let conditions: Vec<Value> = std::iter::once(condition("Ready", &v2["terminalCondition"]))
        .chain(v2["conditions"].as_array().into_iter().flatten().map(|c| condition(c["type"].as_str().unwrap_or_default(), c)))
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
fn resource_version(v2: &Value) -> String {
    let etag = v2["etag"].as_str().unwrap_or_default();
    format!("AAY{:x}", crate::sim::resources::stable_hash(etag) & 0xffff_ffff_ffff)
}

/// A v2 `RevisionTemplate` as a Knative `RevisionTemplateSpec`.
fn template(t: &Value) -> Value {
    let mut annotations = json!({"run.googleapis.com/execution-environment": if t["executionEnvironment"] == "EXECUTION_ENVIRONMENT_GEN1" { "gen1" } else { "gen2" }});
    if let Some(n) = t.pointer("/scaling/minInstanceCount") {
        annotations["autoscaling.knative.dev/minScale"] = json!(n.to_string());
    }
    if let Some(n) = t.pointer("/scaling/maxInstanceCount") {
        annotations["autoscaling.knative.dev/maxScale"] = json!(n.to_string());
    }
    let containers: Vec<Value> = t["containers"].as_array().into_iter().flatten().map(container).collect();
    let deps: Map<String, Value> = t["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c["name"].as_str()?.to_string(), c.get("dependsOn")?.clone())))
        .collect();
    if !deps.is_empty() {
        annotations["run.googleapis.com/container-dependencies"] = json!(Value::Object(deps).to_string());
    }
    if t["containers"].as_array().into_iter().flatten().any(|c| c.pointer("/resources/startupCpuBoost") == Some(&json!(true))) {
        annotations["run.googleapis.com/startup-cpu-boost"] = json!("true");
    }
    let timeout = t["timeout"].as_str().and_then(|s| s.strip_suffix('s')).and_then(|s| s.parse::<f64>().ok()).map_or(300, |s| s as u64);
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
fn revision(world: &World, i: usize, rev: &Value) -> Value {
    let r = &world.resources[i];
    let number = project_number(&r.project).to_string();
    let name = short(&rev["name"]);
    let serving = rev["name"] == r.body["latestReadyRevision"];
    let conditions: Vec<Value> = rev["conditions"].as_array().into_iter().flatten().map(|c| condition(c["type"].as_str().unwrap_or_default(), c)).chain(std::iter::once(json!({"type": "Active", "status": if serving { "True" } else { "False" }}))).collect();
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

/// `PUT` of a whole Knative `Service`: its scaling, template and labels mapped onto the v2
/// service and committed.
fn replace(world: &mut World, call: &Call, i: usize) -> Answer {
    let checked = guarded(world, &[i], SERVICE, |_| Reply::ok(Value::Null));
    if checked.reply.status != 200 {
        return checked;
    }
    let body = match json_body(call) {
        Ok(b) => Value::Object(b),
        Err(e) => return e.into(),
    };
    let current = world.resources[i].body.clone();
    if let Some(name) = body.pointer("/metadata/name").and_then(Value::as_str)
        && name != world.resources[i].id
    {
        return rpc_error(400, "INVALID_ARGUMENT", "metadata.name in the body does not match the service in the URL.").into();
    }
    let given = body.pointer("/metadata/resourceVersion").and_then(Value::as_str);
    let now = resource_version(&current);
    if let Some(given) = given.filter(|g| *g != now) {
        return rpc_error(
            409,
            "ABORTED",
            &format!("Conflict for resource '{}': version '{given}' was specified but current version is '{now}'.", world.resources[i].id),
        )
        .into();
    }
    if world.busy(i) {
        return rpc_error(409, "ABORTED", "Conflict for resource: another operation on this service is in progress; try again when it is done.").into();
    }
    let next = mapped(&current, &body);
    cloud_run::commit(world, i, next);
    Answer { reply: Reply::ok(service(world, i)), ..checked }
}

/// `current` with what a Knative `Service` sets: service-level scaling, the revision
/// template's scaling, containers, concurrency, timeout and account, and labels.
fn mapped(current: &Value, k: &Value) -> Value {
    let mut next = current.clone();
    let ann = |key: &str| k.pointer("/metadata/annotations").and_then(|a| a.get(key)).and_then(Value::as_str);
    let count = |s: Option<&str>| s.and_then(|v| v.trim().parse::<u64>().ok()).map(Value::from);
    let mut scaling = current.get("scaling").cloned().unwrap_or_else(|| json!({}));
    for (key, field) in [("run.googleapis.com/minScale", "minInstanceCount"), ("run.googleapis.com/maxScale", "maxInstanceCount")] {
        match count(ann(key)) {
            Some(n) => scaling[field] = n,
            None => {
                if let Value::Object(m) = &mut scaling {
                    m.remove(field);
                }
            }
        }
    }
    match ann("run.googleapis.com/scalingMode") {
        Some("manual") => {
            scaling["scalingMode"] = json!("MANUAL");
            if let Some(n) = count(ann("run.googleapis.com/manualInstanceCount")) {
                scaling["manualInstanceCount"] = n;
            }
        }
        Some("automatic") => scaling["scalingMode"] = json!("AUTOMATIC"),
        _ => {}
    }
    next["scaling"] = scaling;
    if let Some(stage) = ann("run.googleapis.com/launch-stage") {
        next["launchStage"] = json!(stage);
    }
    if let Some(client) = ann("run.googleapis.com/client-name") {
        next["client"] = json!(client);
    }
    if let Some(Value::Object(labels)) = k.pointer("/metadata/labels") {
        let kept: Map<String, Value> = labels.iter().filter(|(l, _)| !l.starts_with("cloud.googleapis.com/")).map(|(l, v)| (l.clone(), v.clone())).collect();
        next["labels"] = Value::Object(kept);
    }
    let t = &mut next["template"];
    let tann = |key: &str| k.pointer("/spec/template/metadata/annotations").and_then(|a| a.get(key)).and_then(Value::as_str);
    for (key, field) in [("autoscaling.knative.dev/minScale", "minInstanceCount"), ("autoscaling.knative.dev/maxScale", "maxInstanceCount")] {
        if let Some(n) = count(tann(key)) {
            t["scaling"][field] = n;
        }
    }
    if let Some(spec) = k.pointer("/spec/template/spec") {
        if let Some(n) = spec.get("containerConcurrency").filter(|n| n.is_u64()) {
            t["maxInstanceRequestConcurrency"] = n.clone();
        }
        if let Some(n) = spec.get("timeoutSeconds").and_then(Value::as_u64) {
            t["timeout"] = json!(format!("{n}s"));
        }
        if let Some(a) = spec.get("serviceAccountName").filter(|a| a.is_string()) {
            t["serviceAccount"] = a.clone();
        }
        for (n, c) in spec["containers"].as_array().into_iter().flatten().enumerate() {
            let Some(target) = t["containers"].get_mut(n) else {
                continue;
            };
            for key in ["image", "args", "command", "env"] {
                if let Some(v) = c.get(key) {
                    target[key] = v.clone();
                }
            }
            if let Some(limits) = c.pointer("/resources/limits") {
                target["resources"]["limits"] = limits.clone();
            }
        }
    }
    next
}

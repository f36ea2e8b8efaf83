//! The Cloud Run v1 (Knative) surface gcloud speaks: services get, list and replace under
//! `/apis/serving.knative.dev/v1/namespaces/{project id or number}/…` (region from the host
//! prefix) and `/v1/projects/{p}/locations/{region or -}/services`, and revisions get and list
//! by label selector. Every answer is a view of the v2 `Service` that `cloud_run.rs` stores;
//! a replace maps the Knative object back onto it (api-facts §1.6) and commits it there.

use serde_json::{Map, Value, json};

use super::cloud_run::{self, SERVICE};
use super::errors::{self, rpc_error};
use super::knative_view::{resource_version, revision, service};
use super::{Answer, Call, Reply, guarded, json_body, query_param};
use crate::sim::patch::set_key;
use crate::sim::state::{Api, World};

/// `/apis/serving.knative.dev/v1/namespaces/{namespace}/` + `rest`.
pub(crate) fn route_namespaces(
    world: &mut World,
    call: &Call,
    namespace: &str,
    rest: &[&str],
) -> Answer {
    let project = world.project_of_namespace(namespace);
    let location = call.region.map(str::to_string);
    dispatch(world, call, &project, location.as_deref(), rest)
}

/// `/v1/projects/{p}/locations/{l}/services` + `rest` (`l` may be `-`).
pub(crate) fn route_projects(
    world: &mut World,
    call: &Call,
    project: &str,
    location: &str,
    rest: &[&str],
) -> Answer {
    let mut full = vec!["services"];
    full.extend_from_slice(rest);
    let location = (location != "-").then_some(location);
    dispatch(world, call, project, location, &full)
}

fn dispatch(
    world: &mut World,
    call: &Call,
    project: &str,
    location: Option<&str>,
    rest: &[&str],
) -> Answer {
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
                .filter(|i| {
                    wanted
                        .as_deref()
                        .is_none_or(|w| world.resources[*i].id == w)
                })
                .collect();
            guarded(world, &services, SERVICE, |w| {
                let items: Vec<Value> = services
                    .iter()
                    .flat_map(|i| {
                        cloud_run::revisions(w, *i)
                            .into_iter()
                            .map(move |r| revision(w, *i, &r))
                    })
                    .collect();
                Reply::ok(
                    json!({"apiVersion": "serving.knative.dev/v1", "kind": "RevisionList", "metadata": {}, "items": items}),
                )
            })
        }
        ["revisions", name] if get => {
            let found = world
                .list(Api::CloudRun, project, location)
                .into_iter()
                .find_map(|i| {
                    cloud_run::revisions(world, i)
                        .into_iter()
                        .find(|r| {
                            r["name"]
                                .as_str()
                                .is_some_and(|n| n.ends_with(&format!("/{name}")))
                        })
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
        matches!(
            world.resources[**i].knobs.fault.error,
            Some(500 | 503 | 504)
        )
    });
    let unreachable: Vec<String> = {
        let mut regions: Vec<String> = down
            .iter()
            .map(|i| world.resources[*i].location.clone())
            .collect();
        regions.sort();
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
        return rpc_error(
            400,
            "INVALID_ARGUMENT",
            "metadata.name in the body does not match the service in the URL.",
        )
        .into();
    }
    let given = body
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str);
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
    Answer {
        reply: Reply::ok(service(world, i)),
        ..checked
    }
}

/// `current` with what a Knative `Service` sets: service-level scaling, the revision
/// template's scaling, containers, concurrency, timeout and account, and labels.
fn mapped(current: &Value, k: &Value) -> Value {
    let mut next = current.clone();
    let ann = |key: &str| {
        k.pointer("/metadata/annotations")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
    };
    let count = |s: Option<&str>| {
        s.and_then(|v| v.trim().parse::<u64>().ok())
            .map(Value::from)
    };
    let mut scaling = current.get("scaling").cloned().unwrap_or_else(|| json!({}));
    for (key, field) in [
        ("run.googleapis.com/minScale", "minInstanceCount"),
        ("run.googleapis.com/maxScale", "maxInstanceCount"),
    ] {
        match count(ann(key)) {
            Some(n) => set_key(&mut scaling, field, n),
            None => {
                if let Value::Object(m) = &mut scaling {
                    m.remove(field);
                }
            }
        }
    }
    match ann("run.googleapis.com/scalingMode") {
        Some("manual") => {
            set_key(&mut scaling, "scalingMode", json!("MANUAL"));
            if let Some(n) = count(ann("run.googleapis.com/manualInstanceCount")) {
                set_key(&mut scaling, "manualInstanceCount", n);
            }
        }
        Some("automatic") => set_key(&mut scaling, "scalingMode", json!("AUTOMATIC")),
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
        let kept: Map<String, Value> = labels
            .iter()
            .filter(|(l, _)| !l.starts_with("cloud.googleapis.com/"))
            .map(|(l, v)| (l.clone(), v.clone()))
            .collect();
        next["labels"] = Value::Object(kept);
    }
    let t = &mut next["template"];
    let tann = |key: &str| {
        k.pointer("/spec/template/metadata/annotations")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
    };
    for (key, field) in [
        ("autoscaling.knative.dev/minScale", "minInstanceCount"),
        ("autoscaling.knative.dev/maxScale", "maxInstanceCount"),
    ] {
        if let Some(n) = count(tann(key)) {
            let mut scaling = t.get("scaling").cloned().unwrap_or_else(|| json!({}));
            set_key(&mut scaling, field, n);
            set_key(t, "scaling", scaling);
        }
    }
    if let Some(spec) = k.pointer("/spec/template/spec") {
        if let Some(n) = spec.get("containerConcurrency").filter(|n| n.is_u64()) {
            set_key(t, "maxInstanceRequestConcurrency", n.clone());
        }
        if let Some(n) = spec.get("timeoutSeconds").and_then(Value::as_u64) {
            set_key(t, "timeout", json!(format!("{n}s")));
        }
        if let Some(a) = spec.get("serviceAccountName").filter(|a| a.is_string()) {
            set_key(t, "serviceAccount", a.clone());
        }
        for (n, c) in spec["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let Some(target) = t.get_mut("containers").and_then(|c| c.get_mut(n)) else {
                continue;
            };
            for key in ["image", "args", "command", "env"] {
                if let Some(v) = c.get(key) {
                    set_key(target, key, v.clone());
                }
            }
            if let Some(limits) = c.pointer("/resources/limits") {
                let mut resources = target
                    .get("resources")
                    .cloned()
                    .unwrap_or_else(|| json!({}));
                set_key(&mut resources, "limits", limits.clone());
                set_key(target, "resources", resources);
            }
        }
    }
    next
}

//! Cloud Run Admin API v2: services get, list and patch, revisions list and get, operations
//! get, list and wait. Owns the one stored shape of a Cloud Run service (the v2 `Service`);
//! the v1 Knative view in `run_knative.rs` is derived from it and changes it through
//! [`commit`], so both surfaces always show the same state.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::errors::{self, rpc_error};
use super::{Answer, Call, Reply, guarded, json_body, list_body, paginate, query_param};
use crate::sim::knobs::Knobs;
use crate::sim::patch::set_key;
use crate::sim::state::{Api, OpKind, Resource, World};

pub(crate) const SERVICE: &str = "run.googleapis.com";

/// The fields of a v2 `Service` a caller may change.
const MUTABLE: &[&str] = &[
    "description",
    "labels",
    "annotations",
    "client",
    "clientVersion",
    "ingress",
    "launchStage",
    "binaryAuthorization",
    "template",
    "traffic",
    "scaling",
    "invokerIamDisabled",
    "defaultUriDisabled",
    "customAudiences",
];

/// `projects/{p}/locations/{l}/` + `rest`.
pub(crate) fn route(
    world: &mut World,
    call: &Call,
    project: &str,
    location: &str,
    rest: &[&str],
    verb: Option<&str>,
) -> Answer {
    let get = matches!(call.method, "GET" | "HEAD");
    match (rest, verb) {
        (["services"], None) if get => {
            if location == "-" {
                return rpc_error(
                    400,
                    "INVALID_ARGUMENT",
                    "Location must be a valid Google Cloud region, and cannot be the \"-\" wildcard.",
                )
                .into();
            }
            let all = world.list(Api::CloudRun, project, Some(location));
            guarded(world, &all, SERVICE, |w| {
                match paginate(all.clone(), call.query, "pageSize", "page_size") {
                    Ok((page, next)) => {
                        let items = page.iter().map(|i| w.resources[*i].body.clone()).collect();
                        Reply::ok(list_body("services", items, next))
                    }
                    Err(e) => e,
                }
            })
        }
        (["services", service, tail @ ..], None) => {
            let Some(i) = world.find(Api::CloudRun, project, Some(location), service) else {
                return not_found(project, location, service).into();
            };
            match tail {
                [] if get => guarded(world, &[i], SERVICE, |w| {
                    Reply::ok(w.resources[i].body.clone())
                }),
                [] if call.method == "PATCH" => patch(world, call, i),
                ["revisions"] if get => guarded(world, &[i], SERVICE, |w| {
                    page("revisions", revisions(w, i), call)
                }),
                ["revisions", name] if get => guarded(world, &[i], SERVICE, |w| {
                    match revisions(w, i).into_iter().find(|r| {
                        r["name"]
                            .as_str()
                            .is_some_and(|n| n.ends_with(&format!("/{name}")))
                    }) {
                        Some(r) => Reply::ok(r),
                        None => rpc_error(
                            404,
                            "NOT_FOUND",
                            &format!(
                                "revision \"projects/{project}/locations/{location}/services/{service}/revisions/{name}\" not found"
                            ),
                        ),
                    }
                }),
                _ => errors::no_method().into(),
            }
        }
        (["operations"], None) if get => {
            let items = (0..world.ops.len())
                .rev()
                .filter(|o| {
                    let op = &world.ops[*o];
                    op.api == Api::CloudRun && op.project == project && op.location == location
                })
                .map(|o| operation(world, o))
                .collect();
            page("operations", items, call).into()
        }
        (["operations", id], verb) => {
            let Some(o) = world
                .find_op(project, id)
                .filter(|o| world.ops[*o].api == Api::CloudRun)
            else {
                return rpc_error(
                    404,
                    "NOT_FOUND",
                    &format!("Operation \"projects/{project}/locations/{location}/operations/{id}\" not found."),
                )
                .into();
            };
            match verb {
                None if get => Reply::ok(operation(world, o)).into(),
                Some("wait") if call.method == "POST" => wait(world, call, o, operation),
                _ => errors::no_method().into(),
            }
        }
        _ => errors::no_method().into(),
    }
}

fn page(key: &str, items: Vec<Value>, call: &Call) -> Reply {
    match paginate(items, call.query, "pageSize", "page_size") {
        Ok((items, next)) => Reply::ok(list_body(key, items, next)),
        Err(e) => e,
    }
}

fn not_found(project: &str, location: &str, service: &str) -> Reply {
    rpc_error(
        404,
        "NOT_FOUND",
        &format!(
            "service \"projects/{project}/locations/{location}/services/{service}\" not found"
        ),
    )
}

/// `operations/{id}:wait` with `{"timeout":"30s"}`: held until the operation is done or the
/// timeout passes, then answered with the operation as it stands.
pub(crate) fn wait(
    world: &World,
    call: &Call,
    o: usize,
    view: fn(&World, usize) -> Value,
) -> Answer {
    let body = match json_body(call) {
        Ok(b) => b,
        Err(e) => return e.into(),
    };
    if let Err(e) = super::known_fields(&body, "", &["timeout"]) {
        return e.into();
    }
    let timeout = match body.get("timeout") {
        None => Duration::from_secs(30),
        Some(v) => match v.as_str().and_then(proto_seconds) {
            Some(d) => d,
            None => {
                return errors::invalid_value(
                    "timeout",
                    "type.googleapis.com/google.protobuf.Duration",
                    v.to_string().trim_matches('"'),
                )
                .into();
            }
        },
    };
    let mut answer: Answer = Reply::ok(view(world, o)).into();
    if !call.waited && !world.ops[o].done() {
        answer.wait = Some((o, timeout));
    }
    answer
}

/// `"30s"`, `"1.5s"` as a duration.
fn proto_seconds(text: &str) -> Option<Duration> {
    let secs: f64 = text.strip_suffix('s')?.parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

/// A v2 `google.longrunning.Operation` for a service change.
pub(crate) fn operation(world: &World, o: usize) -> Value {
    let op = &world.ops[o];
    let mut service = world.resources[op.target].body.clone();
    service["@type"] = json!("type.googleapis.com/google.cloud.run.v2.Service");
    let mut body = json!({
        "name": format!("projects/{}/locations/{}/operations/{}", op.project, op.location, op.id),
        "metadata": service,
        "done": op.done()
    });
    if op.done() {
        body["response"] = body["metadata"].clone();
    }
    body
}

/// `PATCH services/{s}?updateMask=…` with a `Service` body.
fn patch(world: &mut World, call: &Call, i: usize) -> Answer {
    let checked = guarded(world, &[i], SERVICE, |_| Reply::ok(Value::Null));
    if checked.reply.status != 200 {
        return checked;
    }
    let body = match json_body(call) {
        Ok(b) => b,
        Err(e) => return e.into(),
    };
    let current = world.resources[i].body.clone();
    if let Some(name) = body.get("name").and_then(Value::as_str)
        && Some(name) != current["name"].as_str()
    {
        return rpc_error(
            400,
            "INVALID_ARGUMENT",
            "The name in the request body does not match the service being updated.",
        )
        .into();
    }
    if let Some(etag) = body.get("etag").and_then(Value::as_str)
        && Some(etag) != current["etag"].as_str()
    {
        return rpc_error(
            409,
            "ABORTED",
            "The etag in the request does not match the service's current etag; read it again and retry.",
        )
        .into();
    }
    let mut next = current.clone();
    let mask = query_param(call.query, "updateMask").filter(|m| !m.is_empty());
    let paths: Vec<String> = match &mask {
        Some(m) => m.split(',').map(|p| p.trim().to_string()).collect(),
        None => MUTABLE.iter().map(|p| (*p).to_string()).collect(),
    };
    for path in &paths {
        let top = path.split('.').next().unwrap_or_default();
        if !MUTABLE.contains(&top) {
            return rpc_error(
                400,
                "INVALID_ARGUMENT",
                &format!("Invalid field mask: \"{path}\" is not a field that can be updated."),
            )
            .into();
        }
        let pointer = format!("/{}", path.replace('.', "/"));
        match (body_pointer(&body, &pointer), mask.is_some()) {
            (Some(v), _) => crate::sim::patch::set_path(&mut next, path, v.clone()),
            (None, true) => crate::sim::patch::remove_path(&mut next, path),
            (None, false) => {}
        }
    }
    if let Err(e) = check_traffic(world, i, &next) {
        return e.into();
    }
    if query_param(call.query, "validateOnly").as_deref() == Some("true") {
        return Reply::ok(json!({
            "name": format!("projects/{}/locations/{}/operations/{}", world.resources[i].project, world.resources[i].location, "validate-only"),
            "done": true,
            "response": next
        }))
        .into();
    }
    if world.busy(i) {
        return rpc_error(
            409,
            "ABORTED",
            "Conflict for resource: another operation on this service is in progress; try again when it is done.",
        )
        .into();
    }
    let o = commit(world, i, next);
    Answer {
        reply: Reply::ok(operation(world, o)),
        ..checked
    }
}

/// The traffic split of `next` adds up to 100 and names only revisions the service has.
fn check_traffic(world: &World, i: usize, next: &Value) -> Result<(), Reply> {
    let Some(targets) = next.get("traffic").and_then(Value::as_array) else {
        return Ok(());
    };
    if targets.is_empty() {
        return Ok(());
    }
    let total: i64 = targets
        .iter()
        .map(|t| t.get("percent").and_then(Value::as_i64).unwrap_or(0))
        .sum();
    if total != 100 {
        return Err(rpc_error(
            400,
            "INVALID_ARGUMENT",
            &format!("The traffic percentages add up to {total}; they must add up to 100."),
        ));
    }
    let known = revisions(world, i);
    for t in targets {
        let Some(rev) = t.get("revision").and_then(Value::as_str) else {
            continue;
        };
        let short = rev.rsplit('/').next().unwrap_or(rev);
        let found = known.iter().any(|r| {
            r["name"]
                .as_str()
                .is_some_and(|n| n.rsplit('/').next() == Some(short))
        });
        if !found {
            return Err(rpc_error(
                400,
                "INVALID_ARGUMENT",
                &format!("Revision '{short}' named in the traffic split does not exist."),
            ));
        }
    }
    Ok(())
}

fn body_pointer<'a>(body: &'a Map<String, Value>, pointer: &str) -> Option<&'a Value> {
    let mut parts = pointer.trim_start_matches('/').splitn(2, '/');
    let first = body.get(parts.next()?)?;
    match parts.next() {
        Some(rest) => first.pointer(&format!("/{rest}")),
        None => Some(first),
    }
}

/// Makes `next` the service's desired state: a new generation, a new revision when the
/// template changed, and an operation that rolls it out. Returns the operation.
pub(crate) fn commit(world: &mut World, i: usize, mut next: Value) -> usize {
    let current = world.resources[i].body.clone();
    let generation = current["generation"]
        .as_str()
        .and_then(|g| g.parse::<u64>().ok())
        .unwrap_or(1)
        .saturating_add(1);
    let stamp = world.stamp_micros();
    let etag = format!("\"{}\"", world.fresh_hex());
    next["generation"] = json!(generation.to_string());
    next["reconciling"] = json!(true);
    next["updateTime"] = json!(stamp);
    next["etag"] = json!(etag);
    next["lastModifier"] = json!(format!(
        "opsdeck-sim@{}.iam.gserviceaccount.com",
        world.resources[i].project
    ));
    let mut revision = None;
    if next["template"] != current["template"] {
        let service = current["name"].as_str().unwrap_or_default().to_string();
        let short = service.rsplit('/').next().unwrap_or_default().to_string();
        let suffix: String = world
            .fresh_hex()
            .chars()
            .filter(char::is_ascii_lowercase)
            .take(3)
            .collect();
        let name = format!("{service}/revisions/{short}-{generation:05}-{suffix:a<3}");
        next["latestCreatedRevision"] = json!(name);
        next["terminalCondition"] = json!({
            "type": "Ready", "state": "CONDITION_RECONCILING", "lastTransitionTime": stamp
        });
        if let Some(conditions) = next.get_mut("conditions").and_then(Value::as_array_mut) {
            for c in conditions {
                set_key(c, "state", json!("CONDITION_RECONCILING"));
            }
        }
        let body = revision_body(&next, &name, &json!(stamp), false);
        let (project, location) = (
            world.resources[i].project.clone(),
            world.resources[i].location.clone(),
        );
        revision = Some(world.add(Resource {
            api: Api::RunRevision,
            project,
            location,
            id: name.rsplit('/').next().unwrap_or_default().to_string(),
            path: String::new(),
            body,
            knobs: Knobs::default(),
            parent: Some(i),
        }));
    }
    world.resources[i].body = next;
    world.start_op(Api::CloudRun, i, OpKind::RunUpdate { revision })
}

/// The v2 `Revision` `name` of `service`, made from its template.
pub(crate) fn revision_body(service: &Value, name: &str, created: &Value, ready: bool) -> Value {
    let template = &service["template"];
    let state = if ready {
        "CONDITION_SUCCEEDED"
    } else {
        "CONDITION_RECONCILING"
    };
    let condition =
        |kind: &str| json!({"type": kind, "state": state, "lastTransitionTime": created});
    let short = name.rsplit('/').next().unwrap_or(name);
    let parent = service["name"].as_str().unwrap_or_default();
    let mut labels = service.get("labels").cloned().unwrap_or_else(|| json!({}));
    set_key(
        &mut labels,
        "serving.knative.dev/route",
        json!(parent.rsplit('/').next().unwrap_or_default()),
    );
    json!({
        "name": name,
        "uid": format!("{:x}", crate::sim::resources::stable_hash(name)),
        "generation": "1",
        "labels": labels,
        "createTime": created,
        "launchStage": service.get("launchStage").cloned().unwrap_or_else(|| json!("GA")),
        "service": parent,
        "scaling": template.get("scaling").cloned().unwrap_or_else(|| json!({})),
        "containers": template.get("containers").cloned().unwrap_or_else(|| json!([])),
        "serviceAccount": template["serviceAccount"],
        "timeout": template["timeout"],
        "maxInstanceRequestConcurrency": template["maxInstanceRequestConcurrency"],
        "executionEnvironment": template["executionEnvironment"],
        "conditions": [condition("Ready"), condition("ContainerHealthy"), condition("ResourcesAvailable")],
        "observedGeneration": "1",
        "reconciling": !ready,
        "logUri": format!("https://console.cloud.google.com/logs/viewer?advancedFilter=resource.type%3D%22cloud_run_revision%22%0Aresource.labels.revision_name%3D%22{short}%22"),
        "etag": format!("\"{:x}\"", crate::sim::resources::stable_hash(&format!("etag/{name}")))
    })
}

/// The revisions of service `i`, newest first: the stored ones, plus the failed one a
/// scenario named as latest created when it was never stored.
pub(crate) fn revisions(world: &World, i: usize) -> Vec<Value> {
    let service = &world.resources[i].body;
    let mut out: Vec<Value> = world
        .children(Api::RunRevision, i)
        .iter()
        .map(|r| world.resources[*r].body.clone())
        .collect();
    if let Some(created) = service["latestCreatedRevision"].as_str()
        && !out.iter().any(|r| r["name"] == created)
    {
        let mut failed = revision_body(service, created, &service["updateTime"], false);
        let reason = service.pointer("/terminalCondition/message").cloned();
        failed["reconciling"] = json!(false);
        if let Some(conditions) = failed["conditions"].as_array_mut() {
            for c in conditions.iter_mut().take(2) {
                c["state"] = json!("CONDITION_FAILED");
                c["reason"] = json!("HEALTH_CHECK_CONTAINER_ERROR");
                if let Some(m) = &reason {
                    c["message"] = m.clone();
                }
            }
        }
        out.push(failed);
    }
    out.sort_by(|a, b| b["name"].as_str().cmp(&a["name"].as_str()));
    out
}

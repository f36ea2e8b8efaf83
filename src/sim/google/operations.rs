//! The v1 operations path shared by Cloud Run (Knative, `…/operations/{id}:wait` as gcloud
//! polls it) and Memorystore (`…/operations/{operation-…}`): each operation is answered in
//! the shape of the API that started it.

use serde_json::{Value, json};

use super::errors::{self, rpc_error};
use super::{Answer, Call, Reply, guarded, list_body, paginate};
use crate::sim::state::{Api, World};

/// `/v1/projects/{p}/locations/{l}/operations` + `rest`.
pub(crate) fn route_v1(
    world: &mut World,
    call: &Call,
    project: &str,
    location: &str,
    rest: &[&str],
    verb: Option<&str>,
) -> Answer {
    let get = matches!(call.method, "GET" | "HEAD");
    match (rest, verb) {
        ([], None) if get => {
            let items = (0..world.ops.len())
                .rev()
                .filter(|o| {
                    let op = &world.ops[*o];
                    op.project == project
                        && (location == "-" || op.location == location)
                        && matches!(op.api, Api::CloudRun | Api::Memorystore)
                })
                .map(|o| view(world, o))
                .collect();
            match paginate(items, call.query, "pageSize", "page_size") {
                Ok((items, next)) => Reply::ok(list_body("operations", items, next)).into(),
                Err(e) => e.into(),
            }
        }
        ([id], verb) => {
            let Some(o) = world
                .find_op(project, id)
                .filter(|o| world.ops[*o].location == location)
            else {
                return rpc_error(
                    404,
                    "NOT_FOUND",
                    &format!("Operation 'projects/{project}/locations/{location}/operations/{id}' not found."),
                )
                .into();
            };
            let service = match world.ops[o].api {
                Api::Memorystore => "redis.googleapis.com",
                _ => "run.googleapis.com",
            };
            match verb {
                None if get => {
                    let target = world.ops[o].target;
                    guarded(world, &[target], service, |w| Reply::ok(view(w, o)))
                }
                Some("wait") if call.method == "POST" => {
                    super::cloud_run::wait(world, call, o, view)
                }
                _ => errors::no_method().into(),
            }
        }
        _ => errors::no_method().into(),
    }
}

/// The operation as its own API shows it on the v1 path.
fn view(world: &World, o: usize) -> Value {
    match world.ops[o].api {
        Api::Memorystore => redis_operation(world, o),
        _ => run_v1_operation(world, o),
    }
}

/// A Cloud Run v1 operation: done, its `response` is the Knative service.
fn run_v1_operation(world: &World, o: usize) -> Value {
    let op = &world.ops[o];
    let mut body = json!({
        "name": format!("projects/{}/locations/{}/operations/{}", op.project, op.location, op.id),
        "done": op.done()
    });
    if op.done() {
        let mut service = super::knative_view::service(world, op.target);
        service["@type"] = json!("type.googleapis.com/google.cloud.run.v1.Service");
        body["response"] = service;
    }
    body
}

/// A Memorystore `google.longrunning.Operation` with its `OperationMetadata`.
pub(crate) fn redis_operation(world: &World, o: usize) -> Value {
    let op = &world.ops[o];
    let instance = &world.resources[op.target].body;
    let mut metadata = json!({
        "@type": "type.googleapis.com/google.cloud.redis.v1.OperationMetadata",
        "createTime": op.insert_time,
        "target": instance["name"],
        "verb": "failover",
        "requestedCancellation": false,
        "apiVersion": "v1"
    });
    if let Some(t) = &op.end_time {
        metadata["endTime"] = json!(t);
    }
    let mut body = json!({
        "name": format!("projects/{}/locations/{}/operations/{}", op.project, op.location, op.id),
        "metadata": metadata,
        "done": op.done()
    });
    if op.done() {
        let mut response = instance.clone();
        response["@type"] = json!("type.googleapis.com/google.cloud.redis.v1.Instance");
        body["response"] = response;
    }
    body
}

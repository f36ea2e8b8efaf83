//! Memorystore for Redis v1: instances get and list (`locations/-` aggregates every region,
//! naming failing ones in `unreachable`) and failover, which runs as a long-running operation
//! with the instance FAILING_OVER until the replica in the other zone is primary.

use serde_json::{Value, json};

use super::errors::{self, rpc_error};
use super::{Answer, Call, Reply, guarded, json_body, known_fields, list_body, paginate};
use crate::sim::state::{Api, OpKind, World};

const SERVICE: &str = "redis.googleapis.com";

const PROTECTION: &[&str] = &[
    "DATA_PROTECTION_MODE_UNSPECIFIED",
    "LIMITED_DATA_LOSS",
    "FORCE_DATA_LOSS",
];

/// `projects/{p}/locations/{l}/instances/` + `rest`.
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
        ([], None) if get => list(world, call, project, location),
        ([instance], verb) => {
            let Some(i) = world.find(Api::Memorystore, project, Some(location), instance) else {
                return rpc_error(
                    404,
                    "NOT_FOUND",
                    &format!("Resource 'projects/{project}/locations/{location}/instances/{instance}' was not found"),
                )
                .into();
            };
            match verb {
                None if get => guarded(world, &[i], SERVICE, |w| {
                    Reply::ok(w.resources[i].body.clone())
                }),
                Some("failover") if call.method == "POST" => failover(world, call, i),
                _ => errors::no_method().into(),
            }
        }
        _ => errors::no_method().into(),
    }
}

fn list(world: &World, call: &Call, project: &str, location: &str) -> Answer {
    let all = world.list(Api::Memorystore, project, Some(location));
    let (down, up): (Vec<usize>, Vec<usize>) = all.iter().partition(|i| {
        matches!(
            world.resources[**i].knobs.fault.error,
            Some(500 | 503 | 504)
        )
    });
    if location != "-" && !down.is_empty() {
        return guarded(world, &down, SERVICE, |_| Reply::ok(Value::Null));
    }
    let mut unreachable: Vec<String> = down
        .iter()
        .map(|i| world.resources[*i].location.clone())
        .collect();
    unreachable.sort();
    unreachable.dedup();
    guarded(world, &up, SERVICE, |w| {
        // Instances, then a placeholder per unreachable region (Err).
        let entries: Vec<Result<usize, &String>> = up
            .iter()
            .map(|i| Ok(*i))
            .chain(unreachable.iter().map(Err))
            .collect();
        match paginate(entries, call.query, "pageSize", "page_size") {
            Ok((page, next)) => {
                let items = page
                    .into_iter()
                    .map(|e| match e {
                        Ok(i) => w.resources[i].body.clone(),
                        Err(region) => json!({
                            "name": format!("projects/{project}/locations/{region}/instances/-"),
                            "statusMessage": "location not available for ListInstances"
                        }),
                    })
                    .collect();
                let mut body = list_body("instances", items, next);
                if !unreachable.is_empty() {
                    body["unreachable"] = json!(unreachable);
                }
                Reply::ok(body)
            }
            Err(e) => e,
        }
    })
}

/// `:failover` with `{"dataProtectionMode":"LIMITED_DATA_LOSS"}`.
fn failover(world: &mut World, call: &Call, i: usize) -> Answer {
    let checked = guarded(world, &[i], SERVICE, |_| Reply::ok(Value::Null));
    if checked.reply.status != 200 {
        return checked;
    }
    let body = match json_body(call) {
        Ok(b) => b,
        Err(e) => return e.into(),
    };
    if let Err(e) = known_fields(&body, "", &["dataProtectionMode"]) {
        return e.into();
    }
    if let Some(mode) = body.get("dataProtectionMode")
        && !mode.as_str().is_some_and(|m| PROTECTION.contains(&m))
    {
        return errors::invalid_value(
            "data_protection_mode",
            "type.googleapis.com/google.cloud.redis.v1.FailoverInstanceRequest.DataProtectionMode",
            mode.as_str()
                .map_or_else(|| mode.to_string(), str::to_string)
                .as_str(),
        )
        .into();
    }
    let instance = &world.resources[i].body;
    if instance["tier"] != "STANDARD_HA" {
        return rpc_error(
            400,
            "FAILED_PRECONDITION",
            "Failover is only supported for Standard Tier instances; this instance is Basic Tier and has no replica.",
        )
        .into();
    }
    if instance["state"] != "READY" || world.busy(i) {
        return rpc_error(
            400,
            "FAILED_PRECONDITION",
            &format!(
                "The instance is not ready for a failover (state {}); wait for the current operation to finish.",
                instance["state"].as_str().unwrap_or("unknown")
            ),
        )
        .into();
    }
    let r = &mut world.resources[i].body;
    r["state"] = json!("FAILING_OVER");
    r["statusMessage"] = json!("Failover in progress");
    let o = world.start_op(Api::Memorystore, i, OpKind::RedisFailover);
    Answer {
        reply: Reply::ok(super::operations::redis_operation(world, o)),
        ..checked
    }
}

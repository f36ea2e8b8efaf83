//! Cloud Tasks v2, v2beta3 and v2beta2: queues list and get, pause, resume and purge (all
//! synchronous). Only v2beta3 carries `type` and, when the read mask asks, `stats` (tasksCount
//! an int64 string, oldestEstimatedArrivalTime); the backlog behind them moves with the
//! scenario clock (`backlog.rs`).

use chrono::SecondsFormat;
use serde_json::{Map, Value, json};

use super::errors::{self, rpc_error};
use super::{
    Answer, Call, Reply, guarded, json_body, known_fields, list_body, paginate, query_param,
};
use crate::sim::state::{Api, World};

const SERVICE: &str = "cloudtasks.googleapis.com";

/// `{version}/projects/{p}/locations/{l}/queues/` + `rest`.
pub(crate) fn route(
    world: &mut World,
    call: &Call,
    version: &str,
    project: &str,
    location: &str,
    rest: &[&str],
    verb: Option<&str>,
) -> Answer {
    let beta3 = version == "v2beta3";
    let mask = beta3.then(|| query_param(call.query, "readMask")).flatten();
    let get = matches!(call.method, "GET" | "HEAD");
    match (rest, verb) {
        ([], None) if get => {
            let all = world.list(Api::CloudTasks, project, Some(location));
            for i in &all {
                world.refresh(*i);
            }
            let wanted = match state_filter(call) {
                Ok(w) => w,
                Err(e) => return e.into(),
            };
            guarded(world, &all, SERVICE, |w| {
                let kept: Vec<usize> = all
                    .iter()
                    .copied()
                    .filter(|i| {
                        wanted
                            .as_deref()
                            .is_none_or(|s| w.resources[*i].body["state"] == s)
                    })
                    .collect();
                match paginate(kept, call.query, "pageSize", "page_size") {
                    Ok((page, next)) => {
                        let items = page
                            .iter()
                            .map(|i| shape(&w.resources[*i].body, beta3, mask.as_deref()))
                            .collect();
                        Reply::ok(list_body("queues", items, next))
                    }
                    Err(e) => e,
                }
            })
        }
        ([queue], verb) => {
            let Some(i) = world.find(Api::CloudTasks, project, Some(location), queue) else {
                let message = format!(
                    "queue \"projects/{project}/locations/{location}/queues/{queue}\" not found"
                );
                return Reply {
                    status: 404,
                    body: json!({"error": {
                        "code": 404,
                        "errors": [{"domain": "global", "message": message, "reason": "notFound"}],
                        "message": message,
                        "status": "NOT_FOUND"
                    }}),
                }
                .into();
            };
            world.refresh(i);
            match verb {
                None if get => guarded(world, &[i], SERVICE, |w| {
                    Reply::ok(shape(&w.resources[i].body, beta3, mask.as_deref()))
                }),
                Some(action @ ("pause" | "resume" | "purge")) if call.method == "POST" => {
                    let checked = guarded(world, &[i], SERVICE, |_| Reply::ok(Value::Null));
                    if checked.reply.status != 200 {
                        return checked;
                    }
                    let reply = match act(world, call, i, action) {
                        Ok(()) => Reply::ok(shape(&world.resources[i].body, beta3, None)),
                        Err(e) => e,
                    };
                    Answer { reply, ..checked }
                }
                _ => errors::no_method().into(),
            }
        }
        _ => errors::no_method().into(),
    }
}

fn act(world: &mut World, call: &Call, i: usize, action: &str) -> Result<(), Reply> {
    let body: Map<String, Value> = json_body(call)?;
    known_fields(&body, "", &[])?;
    let stamp = world.wall.to_rfc3339_opts(SecondsFormat::Micros, true);
    let r = &mut world.resources[i];
    if r.body["state"] == "DISABLED" {
        return Err(rpc_error(
            400,
            "FAILED_PRECONDITION",
            "The queue is disabled; it was left out of the last queue.yaml upload.",
        ));
    }
    match action {
        "pause" => r.body["state"] = json!("PAUSED"),
        "resume" => r.body["state"] = json!("RUNNING"),
        _ => {
            r.body["purgeTime"] = json!(stamp);
            if let Some(b) = r.knobs.backlog.as_mut() {
                b.clear();
            }
        }
    }
    world.refresh(i);
    Ok(())
}

/// `filter=state: PAUSED` (the one filter Cloud Tasks documents); none when absent.
fn state_filter(call: &Call) -> Result<Option<String>, Reply> {
    let Some(filter) = query_param(call.query, "filter").filter(|f| !f.trim().is_empty()) else {
        return Ok(None);
    };
    let value = filter
        .split_once(':')
        .or_else(|| filter.split_once('='))
        .filter(|(k, _)| k.trim() == "state")
        .map(|(_, v)| v.trim().trim_matches('"').to_string());
    match value {
        Some(v) if matches!(v.as_str(), "RUNNING" | "PAUSED" | "DISABLED") => Ok(Some(v)),
        _ => Err(rpc_error(
            400,
            "INVALID_ARGUMENT",
            &format!(
                "Invalid filter \"{filter}\"; only filtering on state is supported, like \"state: PAUSED\"."
            ),
        )),
    }
}

/// The queue as this version shows it: v2 has neither `type` nor `stats`; v2beta3 has
/// `stats` only when the read mask names it, and only the masked fields when there is one.
fn shape(body: &Value, beta3: bool, mask: Option<&str>) -> Value {
    let Value::Object(map) = body else {
        return body.clone();
    };
    let kept: Map<String, Value> = map
        .iter()
        .filter(|(k, _)| match (beta3, mask) {
            (true, Some(mask)) => mask
                .split(',')
                .any(|m| m.trim().split('.').next() == Some(k.as_str())),
            (true, None) => k.as_str() != "stats",
            (false, _) => k.as_str() != "stats" && k.as_str() != "type",
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(kept)
}

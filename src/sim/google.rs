//! Google REST routing: Cloud SQL Admin (v1 and sql/v1beta4), Cloud Run Admin v2, Memorystore
//! v1, Cloud Tasks (v2, v2beta3) and `gcp_rest` resources by path, with google.rpc.Status
//! errors shaped like the real ones (real-samples/google-rpc-errors). Pure: reads the world,
//! returns a status and a JSON body; the server owns the wire.

use serde_json::{Map, Value, json};

use super::state::{Api, Resource, World};

/// An answer before it is put on the wire.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    fn ok(body: Value) -> Reply {
        Reply { status: 200, body }
    }
}

/// A google.rpc.Status error: `{"error":{"code":…,"message":…,"status":…}}`.
pub(crate) fn rpc_error(code: u16, status: &str, message: &str) -> Reply {
    Reply {
        status: code,
        body: json!({"error": {"code": code, "message": message, "status": status}}),
    }
}

/// The error for a body larger than the simulator accepts, as Google words it.
pub(crate) fn too_large(limit: usize) -> Reply {
    rpc_error(
        400,
        "INVALID_ARGUMENT",
        &format!("Request payload size exceeds the limit: {limit} bytes."),
    )
}

/// Answers one Google API request. `read_only` is false for methods other than GET and HEAD,
/// which the simulator does not implement yet.
pub(crate) fn answer(
    world: &World,
    read_only: bool,
    method: &str,
    path: &str,
    query: Option<&str>,
) -> Reply {
    if !read_only {
        return rpc_error(
            501,
            "UNIMPLEMENTED",
            &format!("The opsdeck simulator does not implement {method} {path}."),
        );
    }
    if let Some(r) = world.rest(path) {
        return Reply::ok(r.body.clone());
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.last().is_some_and(|s| s.contains(':')) {
        return rpc_error(404, "NOT_FOUND", "Method not found.");
    }
    match segments.as_slice() {
        ["sql", "v1beta4", rest @ ..] | ["v1", rest @ ..] if rest.get(2) == Some(&"instances") => {
            cloud_sql(world, rest)
        }
        ["v1", rest @ ..] if rest.get(4) == Some(&"instances") => memorystore(world, rest),
        ["v2", rest @ ..] if rest.get(4) == Some(&"services") => cloud_run(world, rest),
        [version @ ("v2" | "v2beta3" | "v2beta2"), rest @ ..] if rest.get(4) == Some(&"queues") => {
            let beta3 = *version == "v2beta3";
            let mask = beta3.then(|| query_param(query, "readMask")).flatten();
            cloud_tasks(world, rest, beta3, mask.as_deref())
        }
        _ => {
            tracing::debug!(path, "no simulated resource at this path");
            rpc_error(404, "NOT_FOUND", "Requested entity was not found.")
        }
    }
}

/// `projects/{p}/instances[/{i}]`.
fn cloud_sql(world: &World, rest: &[&str]) -> Reply {
    match rest {
        ["projects", project, "instances"] => {
            let items: Vec<Value> = world
                .list(Api::CloudSql, project, None)
                .map(|r| r.body.clone())
                .collect();
            let mut body = json!({"kind": "sql#instancesList"});
            if !items.is_empty() {
                body["items"] = Value::Array(items);
            }
            Reply::ok(body)
        }
        ["projects", project, "instances", instance] => {
            match world.find(Api::CloudSql, project, None, instance) {
                Some(r) => Reply::ok(r.body.clone()),
                None => cloud_sql_not_found(),
            }
        }
        _ => rpc_error(404, "NOT_FOUND", "Requested entity was not found."),
    }
}

/// Cloud SQL's own 404: no `status`, a legacy `errors` array (real-samples).
fn cloud_sql_not_found() -> Reply {
    let message = "The Cloud SQL instance does not exist.";
    Reply {
        status: 404,
        body: json!({"error": {
            "code": 404,
            "errors": [{"domain": "global", "message": message, "reason": "instanceDoesNotExist"}],
            "message": message
        }}),
    }
}

/// `projects/{p}/locations/{l}/instances[/{i}]`; `locations/-` lists every location.
fn memorystore(world: &World, rest: &[&str]) -> Reply {
    match rest {
        ["projects", project, "locations", location, "instances"] => list_reply(
            "instances",
            world.list(Api::Memorystore, project, Some(location)),
            |r| r.body.clone(),
        ),
        [
            "projects",
            project,
            "locations",
            location,
            "instances",
            instance,
        ] => match world.find(Api::Memorystore, project, Some(location), instance) {
            Some(r) => Reply::ok(r.body.clone()),
            None => rpc_error(
                404,
                "NOT_FOUND",
                &format!(
                    "Resource 'projects/{project}/locations/{location}/instances/{instance}' was not found"
                ),
            ),
        },
        _ => rpc_error(404, "NOT_FOUND", "Requested entity was not found."),
    }
}

/// `projects/{p}/locations/{l}/services[/{s}]`; v2 refuses the `-` wildcard.
fn cloud_run(world: &World, rest: &[&str]) -> Reply {
    match rest {
        ["projects", _, "locations", "-", "services"] => rpc_error(
            400,
            "INVALID_ARGUMENT",
            "Location must be a valid Google Cloud region, and cannot be the \"-\" wildcard.",
        ),
        ["projects", project, "locations", location, "services"] => list_reply(
            "services",
            world.list(Api::CloudRun, project, Some(location)),
            |r| r.body.clone(),
        ),
        [
            "projects",
            project,
            "locations",
            location,
            "services",
            service,
        ] => match world.find(Api::CloudRun, project, Some(location), service) {
            Some(r) => Reply::ok(r.body.clone()),
            None => rpc_error(
                404,
                "NOT_FOUND",
                &format!(
                    "service \"projects/{project}/locations/{location}/services/{service}\" not found"
                ),
            ),
        },
        _ => rpc_error(404, "NOT_FOUND", "Requested entity was not found."),
    }
}

/// `projects/{p}/locations/{l}/queues[/{q}]`. Only v2beta3 carries `stats`, and only when the
/// read mask asks for it; v2 has neither `stats` nor `type`.
fn cloud_tasks(world: &World, rest: &[&str], beta3: bool, mask: Option<&str>) -> Reply {
    let shape = |r: &Resource| -> Value {
        let Value::Object(map) = &r.body else {
            return r.body.clone();
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
    };
    match rest {
        ["projects", project, "locations", location, "queues"] => list_reply(
            "queues",
            world.list(Api::CloudTasks, project, Some(location)),
            shape,
        ),
        ["projects", project, "locations", location, "queues", queue] => {
            if let Some(r) = world.find(Api::CloudTasks, project, Some(location), queue) {
                return Reply::ok(shape(r));
            }
            let message = format!(
                "queue \"projects/{project}/locations/{location}/queues/{queue}\" not found"
            );
            Reply {
                status: 404,
                body: json!({"error": {
                    "code": 404,
                    "errors": [{"domain": "global", "message": message, "reason": "notFound"}],
                    "message": message,
                    "status": "NOT_FOUND"
                }}),
            }
        }
        _ => rpc_error(404, "NOT_FOUND", "Requested entity was not found."),
    }
}

/// `{"<key>":[…]}`, or `{}` when there is nothing (proto3 JSON leaves empty lists out).
fn list_reply<'w>(
    key: &str,
    items: impl Iterator<Item = &'w Resource>,
    shape: impl Fn(&Resource) -> Value,
) -> Reply {
    let items: Vec<Value> = items.map(shape).collect();
    let mut body = json!({});
    if !items.is_empty() {
        body[key] = Value::Array(items);
    }
    Reply::ok(body)
}

/// One query parameter, percent-decoded (`readMask=name%2Cstats`).
pub(crate) fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| percent_decode(v))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let decoded = std::str::from_utf8(&bytes[i + 1..=i + 2])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(b) = decoded {
                    out.push(b);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::resources::Clock;

    fn world() -> World {
        let estate = crate::estate::from_str(crate::estate::DEMO_ESTATE, "demo")
            .expect("demo")
            .0;
        World::new(
            &estate,
            None,
            &Clock {
                now: chrono::Utc::now(),
            },
        )
    }

    #[test]
    fn routes_each_api() {
        let w = world();
        let get = |p: &str| answer(&w, true, "GET", p, None);
        let sql = get("/v1/projects/tappass-prod/instances/tappass-db");
        assert_eq!(sql.status, 200);
        assert_eq!(sql.body["state"], "RUNNABLE");
        assert_eq!(
            get("/sql/v1beta4/projects/tappass-prod/instances/tappass-db"),
            sql
        );
        let list = get("/sql/v1beta4/projects/tappass-prod/instances");
        assert_eq!(list.body["items"].as_array().map(Vec::len), Some(2));
        assert_eq!(get("/v1/projects/tappass-prod/instances/nope").status, 404);
        let run = get("/v2/projects/tappass-prod/locations/europe-west1/services/tappass");
        assert_eq!(
            run.body["terminalCondition"]["state"],
            "CONDITION_SUCCEEDED"
        );
        assert_eq!(
            get("/v2/projects/tappass-prod/locations/-/services").status,
            400
        );
        let redis = get("/v1/projects/tappass-prod/locations/-/instances");
        assert_eq!(redis.body["instances"][0]["state"], "READY");
        let kms = get(
            "/v1/projects/tappass-prod/locations/europe-west1/keyRings/tappass-vault/cryptoKeys/vault-dek",
        );
        assert_eq!(kms.body["primary"]["state"], "ENABLED");
        assert_eq!(get("/v1/projects/x/instances/y:failover").status, 404);
        assert_eq!(
            answer(
                &w,
                false,
                "POST",
                "/v1/projects/p/instances/i/failover",
                None
            )
            .status,
            501
        );
    }

    #[test]
    fn decodes_query_parameters() {
        assert_eq!(
            query_param(Some("alt=json&readMask=name%2Cstats"), "readMask").as_deref(),
            Some("name,stats")
        );
        assert_eq!(query_param(Some("a=%zz%4"), "a").as_deref(), Some("%zz%4"));
        assert_eq!(query_param(None, "a"), None);
        assert_eq!(query_param(Some("&&flag"), "flag").as_deref(), Some(""));
    }
}

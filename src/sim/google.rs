//! Google REST routing: one request in, one answer out. Routes by path to the API modules in
//! `google/` (Cloud SQL Admin under v1/ and sql/v1beta4/, Cloud Run Admin v2 and the v1
//! Knative surface, Cloud Tasks, Memorystore, Cloud Monitoring v3 and PromQL, long-running
//! operations), serves `gcp_rest` resources at their own paths, and turns a resource's
//! injected fault into the error, delay, hang or reset the server must produce. Pure: the
//! server owns the wire and the waiting.

pub(crate) mod cloud_run;
pub(crate) mod cloud_sql;
mod errors;
mod knative_view;
mod memorystore;
mod monitoring;
mod monitoring_filter;
mod operations;
mod promql;
mod promql_parse;
mod run_knative;
pub(crate) mod sql_backups;
mod tasks;

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::knobs::Fault;
use super::state::{Api, World};

pub(crate) use errors::{rpc_code_of, rpc_error};

/// An answer before it is put on the wire.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn ok(body: Value) -> Reply {
        Reply { status: 200, body }
    }
}

/// One request, as the router sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub body: &'a [u8],
    /// The region of a regional host (`us-central1-run.googleapis.com`), as gcloud reaches
    /// Cloud Run through a proxy.
    pub region: Option<&'a str>,
    /// The server already held this request for an operation (`:wait`); answer now.
    pub waited: bool,
}

/// What the server must do with a request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answer {
    pub reply: Reply,
    /// Latency, hang or reset injected on the resource the request is about.
    pub fault: Fault,
    /// Hold the request until operation `.0` is done, for at most `.1` of wall time, then
    /// ask again with `waited` set.
    pub wait: Option<(usize, Duration)>,
}

impl From<Reply> for Answer {
    fn from(reply: Reply) -> Answer {
        Answer {
            reply,
            fault: Fault::default(),
            wait: None,
        }
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

/// Answers one Google API request.
pub(crate) fn answer(world: &mut World, call: &Call) -> Answer {
    let get = matches!(call.method, "GET" | "HEAD");
    if let Some(i) = world.rest(call.path) {
        if !get {
            return errors::no_method().into();
        }
        let api = call_api_host(&world.resources[i].path);
        return guarded(world, &[i], &api, |w| {
            Reply::ok(w.resources[i].body.clone())
        });
    }
    let all: Vec<&str> = call.path.split('/').filter(|s| !s.is_empty()).collect();
    let (segments, verb) = split_verb(&all);
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segments.as_slice() {
        ["sql", "v1beta4", "projects", project, rest @ ..] => {
            cloud_sql::route(world, call, "sql/v1beta4", project, rest, verb.as_deref())
        }
        [
            "v1",
            "projects",
            project,
            "instances" | "operations" | "backups",
            ..,
        ] => cloud_sql::route(world, call, "v1", project, &segments[3..], verb.as_deref()),
        [
            "v1",
            "projects",
            project,
            "locations",
            location,
            "instances",
            rest @ ..,
        ] => memorystore::route(world, call, project, location, rest, verb.as_deref()),
        [
            "v1",
            "projects",
            project,
            "locations",
            location,
            "operations",
            rest @ ..,
        ] => operations::route_v1(world, call, project, location, rest, verb.as_deref()),
        [
            "v1",
            "projects",
            project,
            "locations",
            location,
            "services",
            rest @ ..,
        ] => run_knative::route_projects(world, call, project, location, rest),
        [
            "apis",
            "serving.knative.dev",
            "v1",
            "namespaces",
            namespace,
            rest @ ..,
        ] => run_knative::route_namespaces(world, call, namespace, rest),
        [
            "v2",
            "projects",
            project,
            "locations",
            location,
            "services" | "operations",
            ..,
        ] => cloud_run::route(
            world,
            call,
            project,
            location,
            &segments[5..],
            verb.as_deref(),
        ),
        [
            version @ ("v2" | "v2beta3" | "v2beta2"),
            "projects",
            project,
            "locations",
            location,
            "queues",
            rest @ ..,
        ] => tasks::route(
            world,
            call,
            version,
            project,
            location,
            rest,
            verb.as_deref(),
        ),
        ["v3", "projects", project, "timeSeries"] if get && verb.is_none() => {
            monitoring::time_series(world, call, project)
        }
        [
            "v1",
            "projects",
            project,
            "location",
            "global",
            "prometheus",
            "api",
            "v1",
            endpoint,
        ] if verb.is_none() => promql::answer(world, call, project, endpoint),
        ["v1", "projects", project, "subscriptions", subscription] if get && verb.is_none() => {
            match world.find(Api::Pubsub, project, None, subscription) {
                Some(i) => guarded(world, &[i], "pubsub.googleapis.com", |w| {
                    Reply::ok(w.resources[i].body.clone())
                }),
                None => rpc_error(
                    404,
                    "NOT_FOUND",
                    &format!("Resource not found (resource={subscription})."),
                )
                .into(),
            }
        }
        _ => {
            tracing::debug!(path = call.path, "no simulated resource at this path");
            errors::not_found().into()
        }
    }
}

/// The API host of a REST path's resource, for error details.
fn call_api_host(path: &str) -> String {
    let name = super::state::resource_name(path);
    let first = name.split('/').nth(2).unwrap_or("googleapis");
    format!("{first}.googleapis.com")
}

/// `name:verb` in the last segment split off; segments percent-decoded.
fn split_verb(segments: &[&str]) -> (Vec<String>, Option<String>) {
    let mut out: Vec<String> = segments.iter().map(|s| percent_decode(s)).collect();
    let verb = out.last_mut().and_then(|last| {
        let (name, verb) = last.split_once(':')?;
        let verb = verb.to_string();
        *last = name.to_string();
        Some(verb)
    });
    (out, verb)
}

/// Runs `ok` unless one of `resources` carries an injected error; either way the answer
/// carries the strongest latency, hang or reset among them.
pub(crate) fn guarded(
    world: &World,
    resources: &[usize],
    service: &str,
    ok: impl FnOnce(&World) -> Reply,
) -> Answer {
    let mut fault = Fault::default();
    for i in resources {
        let Some(r) = world.resources.get(*i) else {
            continue;
        };
        let f = &r.knobs.fault;
        fault.latency = fault.latency.max(f.latency);
        fault.hang |= f.hang;
        fault.reset |= f.reset;
        if fault.error.is_none() {
            fault.error = f.error;
            fault.retry_delay = f.retry_delay;
        }
    }
    let project = resources
        .first()
        .and_then(|i| world.resources.get(*i))
        .map_or(world.project.as_str(), |r| r.project.as_str());
    let reply = match fault.error {
        Some(code) => errors::injected(code, fault.retry_delay, service, project),
        None => ok(world),
    };
    fault.error = None;
    fault.retry_delay = None;
    Answer {
        reply,
        fault,
        wait: None,
    }
}

/// The JSON body of a POST, PUT or PATCH: an object, `{}` when empty, or Google's 400.
pub(crate) fn json_body(call: &Call) -> Result<Map<String, Value>, Reply> {
    let text = std::str::from_utf8(call.body)
        .map_err(|_| errors::bad_json("Request body is not UTF-8."))?;
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(errors::bad_json(&format!(
            "Expected an object, got {}.",
            match other {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "null",
            }
        ))),
        Err(e) => Err(errors::bad_json(&format!(
            "Unexpected token at line {} column {}.",
            e.line(),
            e.column()
        ))),
    }
}

/// Refuses fields a request message does not have (`at` names the message in the path).
pub(crate) fn known_fields(
    map: &Map<String, Value>,
    at: &str,
    known: &[&str],
) -> Result<(), Reply> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(errors::unknown_field(at, k)),
        None => Ok(()),
    }
}

/// One query parameter, percent-decoded (`readMask=name%2Cstats`).
pub(crate) fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query_params(query, key).into_iter().next()
}

/// Every value of a repeated query parameter.
pub(crate) fn query_params(query: Option<&str>, key: &str) -> Vec<String> {
    query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .filter(|(k, _)| percent_decode(k) == key)
        .map(|(_, v)| percent_decode(v))
        .collect()
}

/// A page of `items` from `pageSize`/`maxResults` and `pageToken`, with the next token. The
/// token is the offset, written the way Google's tokens look (opaque text).
pub(crate) fn paginate<T>(
    items: Vec<T>,
    query: Option<&str>,
    size_key: &str,
    size_field: &str,
) -> Result<(Vec<T>, Option<String>), Reply> {
    let size = match query_param(query, size_key) {
        None => None,
        Some(s) if s.is_empty() => None,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n < 0 => {
                return Err(rpc_error(
                    400,
                    "INVALID_ARGUMENT",
                    &format!("{size_key} must not be negative."),
                ));
            }
            Ok(0) => None,
            Ok(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            Err(_) => return Err(errors::invalid_value(size_field, "TYPE_INT32", &s)),
        },
    };
    let start = match query_param(query, "pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => decode_token(&token)
            .filter(|o| *o <= items.len())
            .ok_or_else(|| rpc_error(400, "INVALID_ARGUMENT", "The page token is invalid."))?,
    };
    let end = size.map_or(items.len(), |s| start.saturating_add(s).min(items.len()));
    let next = (end < items.len()).then(|| encode_token(end));
    let page = items.into_iter().skip(start).take(end - start).collect();
    Ok((page, next))
}

fn encode_token(offset: usize) -> String {
    format!("CgZvZmZzZXQ{offset:x}")
}

fn decode_token(token: &str) -> Option<usize> {
    usize::from_str_radix(token.strip_prefix("CgZvZmZzZXQ")?, 16).ok()
}

/// `{"<key>":[…], "nextPageToken": …}`, leaving out what is empty (proto3 JSON).
pub(crate) fn list_body(key: &str, items: Vec<Value>, next: Option<String>) -> Value {
    let mut body = json!({});
    if !items.is_empty() {
        body[key] = Value::Array(items);
    }
    if let Some(n) = next {
        body["nextPageToken"] = Value::String(n);
    }
    body
}

pub(crate) fn percent_decode(text: &str) -> String {
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
mod tests;

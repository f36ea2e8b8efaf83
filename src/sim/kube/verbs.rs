//! The writing verbs of the simulated API server: the scale subresource, patches and
//! updates of workloads (kubectl's scale and rollout restart), pod deletion, and leases with
//! their resource-version conflicts. Every refusal is a `Status`.

use http::{HeaderMap, Method, header};
use serde_json::{Value, json};

use super::discovery::ApiResource;
use super::store::{KubeCluster, Res};
use super::{
    KubeServer, Target, json_response, no_route, not_allowed, not_found, objects, patch,
    status_response, store,
};
use crate::sim::cluster::clock::uid;
use axum::response::Response;

fn parse_body(body: &[u8]) -> Result<Value, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(status_response(
            400,
            "BadRequest",
            &format!("the request body is not JSON: {e}"),
            None,
        ))
    })
}

fn patch_of(
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
    current: Value,
) -> Result<Value, Box<Response>> {
    let patch = parse_body(body)?;
    if method == Method::PUT {
        return Ok(patch);
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(kind) = patch::PatchType::from_content_type(ct) else {
        return Err(Box::new(status_response(
            415,
            "UnsupportedMediaType",
            &format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {ct:?})"
            ),
            None,
        )));
    };
    patch::apply(kind, current, &patch)
        .map_err(|e| Box::new(status_response(422, "Invalid", &e, None)))
}

fn invalid(kind: &ApiResource, name: &str, field: &str, value: &Value, why: &str) -> Response {
    status_response(
        422,
        "Invalid",
        &format!(
            "{}.{} \"{name}\" is invalid: {field}: Invalid value: {value}: {why}",
            kind.kind, kind.group
        ),
        Some(
            json!({"name": name, "group": kind.group, "kind": kind.kind, "causes": [{"reason": "FieldValueInvalid", "message": format!("Invalid value: {value}: {why}"), "field": field}]}),
        ),
    )
}

fn replicas_of(object: &Value) -> Result<Option<u32>, Value> {
    match object.pointer("/spec/replicas") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| v.clone()),
    }
}

pub(super) fn scale(
    server: &KubeServer,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
    t: &Target,
    name: &str,
) -> Response {
    if !matches!(t.kind.res, Res::Deployment | Res::StatefulSet) {
        return no_route();
    }
    let mut world = server.shared.world_now();
    let at = server.shared.clock.elapsed();
    let Some(c) = world.kube.get_mut(server.cluster) else {
        return no_route();
    };
    let Some(i) = c.workload(t.kind.res, t.namespace.as_deref().unwrap_or_default(), name) else {
        return not_found(t.kind, name);
    };
    if method != Method::GET {
        let patched = match patch_of(method, headers, body, objects::scale(c, i)) {
            Ok(p) => p,
            Err(r) => return *r,
        };
        match replicas_of(&patched) {
            Ok(Some(n)) => c.scale(i, n, at),
            Ok(None) => {}
            Err(v) => {
                return invalid(
                    t.kind,
                    name,
                    "spec.replicas",
                    &v,
                    "must be greater than or equal to 0",
                );
            }
        }
        c.flush();
    }
    json_response(200, &objects::scale(c, i))
}

pub(super) fn update(
    server: &KubeServer,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
    t: &Target,
    name: &str,
) -> Response {
    let ns = t.namespace.clone().unwrap_or_default();
    let mut world = server.shared.world_now();
    let at = server.shared.clock.elapsed();
    let Some(c) = world.kube.get_mut(server.cluster) else {
        return no_route();
    };
    if t.kind.res == Res::Lease {
        let Some(current) = c.leases.get(&(ns.clone(), name.to_string())).cloned() else {
            return not_found(t.kind, name);
        };
        let next = match patch_of(method, headers, body, current.clone()) {
            Ok(p) => p,
            Err(r) => return *r,
        };
        return save_lease(c, t.kind, &ns, name, &current, next, method == Method::PUT);
    }
    if !matches!(
        t.kind.res,
        Res::Deployment | Res::StatefulSet | Res::DaemonSet
    ) {
        return not_allowed(method);
    }
    let Some(i) = c.workload(t.kind.res, &ns, name) else {
        return not_found(t.kind, name);
    };
    let before = objects::workload(c, i);
    let after = match patch_of(method, headers, body, before.clone()) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let replicas = match replicas_of(&after) {
        Ok(r) => r,
        Err(v) => {
            return invalid(
                t.kind,
                name,
                "spec.replicas",
                &v,
                "must be greater than or equal to 0",
            );
        }
    };
    let template = after
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(Value::Null);
    if !template.is_object() {
        return invalid(
            t.kind,
            name,
            "spec.template",
            &template,
            "the pod template is required",
        );
    }
    if template != before["spec"]["template"] {
        c.start_rollout(i, at, None, Some(template));
    }
    if let Some(n) = replicas {
        c.scale(i, n, at);
    }
    c.flush();
    json_response(200, &objects::workload(c, i))
}

pub(super) fn create_lease(server: &KubeServer, body: &[u8], t: &Target) -> Response {
    let mut lease = match parse_body(body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let ns = t.namespace.clone().unwrap_or_else(|| "default".to_string());
    let name = lease
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if name.is_empty() {
        return invalid(
            t.kind,
            "",
            "metadata.name",
            &json!(""),
            "name or generateName is required",
        );
    }
    let mut world = server.shared.world_now();
    let Some(c) = world.kube.get_mut(server.cluster) else {
        return no_route();
    };
    let key = (ns.clone(), name.clone());
    if c.leases.contains_key(&key) {
        return status_response(
            409,
            "AlreadyExists",
            &format!("leases.coordination.k8s.io \"{name}\" already exists"),
            Some(json!({"name": name, "group": "coordination.k8s.io", "kind": "leases"})),
        );
    }
    lease["kind"] = "Lease".into();
    lease["apiVersion"] = "coordination.k8s.io/v1".into();
    let serial = c.next_serial();
    if let Some(meta) = lease.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("namespace".into(), ns.clone().into());
        meta.insert(
            "uid".into(),
            uid(&format!("{}/lease/{ns}/{name}/{serial}", c.context)).into(),
        );
        meta.insert("creationTimestamp".into(), c.clock.stamp(c.now).into());
    }
    c.leases.insert(key.clone(), lease);
    c.touch(Res::Lease, &ns, &name);
    c.flush();
    let stored = c.leases.get(&key).cloned().unwrap_or_default();
    json_response(201, &stored)
}

/// Stores an updated lease, refusing a stale resource version the way the API server does.
fn save_lease(
    c: &mut KubeCluster,
    kind: &ApiResource,
    ns: &str,
    name: &str,
    current: &Value,
    mut next: Value,
    replace: bool,
) -> Response {
    let have = current
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match next
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
    {
        Some(rv) if rv != have => {
            return status_response(
                409,
                "Conflict",
                &format!(
                    "Operation cannot be fulfilled on leases.coordination.k8s.io \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
                ),
                Some(json!({"name": name, "group": "coordination.k8s.io", "kind": "leases"})),
            );
        }
        None if replace => {
            return invalid(
                kind,
                name,
                "metadata.resourceVersion",
                &json!("0x0"),
                "must be specified for an update",
            );
        }
        _ => {}
    }
    if next
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .is_some_and(|n| n != name)
    {
        return status_response(
            400,
            "BadRequest",
            "the name of the object does not match the name on the URL",
            None,
        );
    }
    for keep in ["uid", "creationTimestamp", "namespace", "name"] {
        if let (Some(v), Some(meta)) = (
            current["metadata"].get(keep).cloned(),
            next.get_mut("metadata").and_then(Value::as_object_mut),
        ) {
            meta.insert(keep.into(), v);
        }
    }
    next["kind"] = "Lease".into();
    next["apiVersion"] = "coordination.k8s.io/v1".into();
    let key = (ns.to_string(), name.to_string());
    c.leases.insert(key.clone(), next);
    c.touch(Res::Lease, ns, name);
    c.flush();
    json_response(200, &c.leases.get(&key).cloned().unwrap_or_default())
}

pub(super) fn delete(server: &KubeServer, t: &Target, name: &str) -> Response {
    let ns = t.namespace.clone().unwrap_or_default();
    let mut world = server.shared.world_now();
    let at = server.shared.clock.elapsed();
    let Some(c) = world.kube.get_mut(server.cluster) else {
        return no_route();
    };
    match t.kind.res {
        Res::Pod => {
            let Some(object) = c
                .pods
                .get(&(ns.clone(), name.to_string()))
                .map(|p| objects::pod(c, p))
            else {
                return not_found(t.kind, name);
            };
            c.delete_pod(&ns, name, at);
            c.flush();
            json_response(200, &object)
        }
        Res::Lease => {
            let Some(lease) = c.leases.remove(&(ns.clone(), name.to_string())) else {
                return not_found(t.kind, name);
            };
            let rv = c.next_rv();
            let mut gone = lease.clone();
            objects::set_rv(&mut gone, rv);
            c.push(rv, Res::Lease, store::ChangeKind::Deleted, &ns, &gone);
            json_response(
                200,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": {"name": name, "group": "coordination.k8s.io", "kind": "leases", "uid": lease["metadata"]["uid"]}}),
            )
        }
        _ => not_allowed(&Method::DELETE),
    }
}

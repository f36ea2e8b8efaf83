//! The simulated Kubernetes API server, one per estate cluster (kubeconfig context), over plain
//! HTTP on loopback: discovery, lists (JSON or kubectl's Table, with selectors and paging),
//! gets, watches, the scale subresource, patches (kubectl's scale and rollout restart), pod
//! deletion and leases, with every error a `Status` object. Owns the routing and the verbs;
//! the objects live in `kube/store.rs`, their shapes in `kube/objects.rs`.

pub(crate) mod control;
mod discovery;
mod hpa;
mod kinds;
mod lookup;
pub(crate) mod objects;
mod patch;
mod select;
pub(crate) mod store;
mod table;
mod verbs;
mod watch;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, header};
use serde_json::{Value, json};

use crate::sim::cluster::ClusterShared;
use crate::sim::cluster::clock::query_param;
use discovery::ApiResource;
use store::Res;

/// The largest request body accepted.
const MAX_BODY: usize = 1024 * 1024;
/// The most items one list page holds.
const MAX_PAGE: usize = 10_000;

/// One API server: which cluster it serves, and the address it answers on.
pub(crate) struct KubeServer {
    pub shared: Arc<ClusterShared>,
    pub cluster: usize,
    pub addr: String,
}

/// A `Status` failure.
pub(crate) fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> Value {
    let mut s = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code});
    if let Some(d) = details {
        s["details"] = d;
    }
    s
}

pub(crate) fn status_response(
    code: u16,
    reason: &str,
    message: &str,
    details: Option<Value>,
) -> Response {
    json_response(code, &status(code, reason, message, details))
}

fn json_response(code: u16, body: &Value) -> Response {
    let mut bytes = Vec::with_capacity(1024);
    let _ = serde_json::to_writer(&mut bytes, body);
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::OK);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn not_found(kind: &ApiResource, name: &str) -> Response {
    status_response(
        404,
        "NotFound",
        &format!("{} \"{name}\" not found", discovery::qualified(kind)),
        Some(json!({"name": name, "group": kind.group, "kind": kind.plural})),
    )
}

fn no_route() -> Response {
    status_response(
        404,
        "NotFound",
        "the server could not find the requested resource",
        Some(json!({})),
    )
}

fn not_allowed(method: &Method) -> Response {
    status_response(
        405,
        "MethodNotAllowed",
        &format!("the server does not allow this method on the requested resource ({method})"),
        Some(json!({})),
    )
}

/// What a resource path names.
struct Target {
    kind: &'static ApiResource,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

/// Resolves `/api/v1/…` and `/apis/GROUP/VERSION/…` (after the group version).
fn resolve(group: &str, version: &str, rest: &[&str]) -> Option<Target> {
    let (namespace, rest) = match rest {
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => (Some((*ns).to_string()), tail),
        _ => (None, rest),
    };
    let (plural, name, sub) = match rest {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some((*name).to_string()), None),
        [plural, name, sub] => (*plural, Some((*name).to_string()), Some((*sub).to_string())),
        _ => return None,
    };
    let kind = discovery::lookup(group, version, plural)?;
    if namespace.is_some() && !kind.namespaced {
        return None;
    }
    Some(Target {
        kind,
        namespace,
        name,
        sub,
    })
}

/// The one handler of an API server.
pub(crate) async fn serve(State(server): State<Arc<KubeServer>>, request: Request) -> Response {
    server.shared.count_request();
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return status_response(
            413,
            "RequestEntityTooLarge",
            &format!("the request body is larger than {MAX_BODY} bytes"),
            None,
        );
    };
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let get = parts.method == Method::GET;
    match segments.as_slice() {
        ["version"] if get => json_response(200, &discovery::version()),
        ["healthz" | "livez" | "readyz"] if get => {
            let mut r = Response::new(Body::from("ok"));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            r
        }
        ["api"] if get => json_response(200, &discovery::core_versions(&server.addr)),
        ["apis"] if get => json_response(200, &discovery::group_list()),
        ["api", "v1"] if get => {
            discovery::resource_list("", "v1").map_or_else(no_route, |d| json_response(200, &d))
        }
        ["apis", group] if get => {
            discovery::api_group(group).map_or_else(no_route, |d| json_response(200, &d))
        }
        ["apis", group, version] if get => discovery::resource_list(group, version)
            .map_or_else(no_route, |d| json_response(200, &d)),
        ["api", "v1", rest @ ..] => match resolve("", "v1", rest) {
            Some(t) => resource(
                &server,
                &parts.method,
                &parts.headers,
                query.as_deref(),
                &body,
                &t,
            ),
            None => no_route(),
        },
        ["apis", group, version, rest @ ..] => match resolve(group, version, rest) {
            Some(t) => resource(
                &server,
                &parts.method,
                &parts.headers,
                query.as_deref(),
                &body,
                &t,
            ),
            None => no_route(),
        },
        _ => no_route(),
    }
}

/// Whether the client asked for a Table.
fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("as=Table"))
}

fn resource(
    server: &Arc<KubeServer>,
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
    t: &Target,
) -> Response {
    let q = |k: &str| query_param(query, k);
    let table = wants_table(headers);
    let whole = q("includeObject").as_deref() == Some("Object");
    let ns = t.namespace.clone();
    match (method.as_str(), t.name.as_deref(), t.sub.as_deref()) {
        ("GET", None, None) => {
            let selector = match select::Selector::parse(
                q("labelSelector").as_deref(),
                q("fieldSelector").as_deref(),
            ) {
                Ok(s) => s,
                Err(e) => return status_response(400, "BadRequest", &e, None),
            };
            if matches!(q("watch").as_deref(), Some("true" | "1")) {
                let from = q("resourceVersion")
                    .and_then(|v| v.parse::<u64>().ok())
                    .filter(|v| *v > 0);
                let params = watch::Params {
                    res: t.kind.res,
                    namespace: ns,
                    selector,
                    from,
                    send_initial: q("sendInitialEvents").as_deref() == Some("true"),
                    bookmarks: q("allowWatchBookmarks").as_deref() == Some("true"),
                    timeout: q("timeoutSeconds")
                        .and_then(|s| s.parse().ok())
                        .map(Duration::from_secs),
                    table,
                    whole,
                };
                return watch::open(Arc::clone(&server.shared), server.cluster, params);
            }
            list(
                server,
                t.kind,
                ns.as_deref(),
                &selector,
                query,
                table,
                whole,
            )
        }
        ("GET", Some(name), None | Some("status")) => {
            let world = server.shared.world_now();
            let Some(c) = world.kube.get(server.cluster) else {
                return no_route();
            };
            match lookup::one(c, t.kind.res, ns.as_deref().unwrap_or_default(), name) {
                Some(o) if table => json_response(
                    200,
                    &table::table(
                        t.kind.res,
                        &[o],
                        &c.rv.to_string(),
                        whole,
                        c.clock.wall(c.now),
                    ),
                ),
                Some(o) => json_response(200, &o),
                None => not_found(t.kind, name),
            }
        }
        ("GET" | "PATCH" | "PUT", Some(name), Some("scale")) => {
            verbs::scale(server, method, headers, body, t, name)
        }
        ("PATCH" | "PUT", Some(name), None) => {
            verbs::update(server, method, headers, body, t, name)
        }
        ("POST", None, None) if t.kind.res == Res::Lease => verbs::create_lease(server, body, t),
        ("DELETE", Some(name), None) => verbs::delete(server, t, name),
        _ => not_allowed(method),
    }
}

fn list(
    server: &KubeServer,
    kind: &'static ApiResource,
    ns: Option<&str>,
    selector: &select::Selector,
    query: Option<&str>,
    table: bool,
    whole: bool,
) -> Response {
    let world = server.shared.world_now();
    let Some(c) = world.kube.get(server.cluster) else {
        return no_route();
    };
    let limit = query_param(query, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(MAX_PAGE)
        .min(MAX_PAGE);
    let offset = query_param(query, "continue")
        .and_then(|c| {
            c.rsplit_once('-')
                .and_then(|(_, o)| o.parse::<usize>().ok())
        })
        .unwrap_or(0);
    // Only the page is rendered when there is no selector to test every object against, and
    // each item is written as soon as it is rendered: a large list never sits in memory twice.
    let now = c.clock.wall(c.now);
    let res = kind.res;
    let mut items = Vec::new();
    let mut written = 0;
    let mut total = 0;
    for (namespace, name) in lookup::keys(c, res, ns) {
        let in_page = total >= offset && total < offset + limit;
        if selector.is_empty() && !in_page {
            total += 1;
            continue;
        }
        let Some(object) = lookup::one(c, res, &namespace, &name) else {
            continue;
        };
        if !selector.matches(&object) {
            continue;
        }
        if in_page {
            let item = if table {
                table::row(res, &object, whole, now)
            } else {
                object
            };
            write_item(&mut items, written, &item);
            written += 1;
        }
        total += 1;
    }
    let rv = c.rv.to_string();
    drop(world);
    let mut meta = json!({"resourceVersion": rv});
    if offset + limit < total {
        meta["continue"] = format!("c{rv}-{}", offset + limit).into();
        meta["remainingItemCount"] = (total - offset - limit).into();
    }
    let mut out = Vec::with_capacity(items.len() + 1024);
    if table {
        let head = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": table::column_definitions(res)});
        write_open(&mut out, &head, "rows");
    } else {
        let head = json!({"kind": format!("{}List", kind.kind), "apiVersion": discovery::api_version(kind), "metadata": meta});
        write_open(&mut out, &head, "items");
    }
    out.extend_from_slice(&items);
    drop(items);
    out.extend_from_slice(b"]}");
    let mut response = Response::new(Body::from(out));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `{…head fields…,"field":[` — a JSON object left open at its list.
fn write_open(out: &mut Vec<u8>, head: &Value, field: &str) {
    let _ = serde_json::to_writer(&mut *out, head);
    out.pop();
    if head.as_object().is_some_and(|m| !m.is_empty()) {
        out.push(b',');
    }
    out.extend_from_slice(format!("\"{field}\":[").as_bytes());
}

fn write_item(out: &mut Vec<u8>, index: usize, item: &Value) {
    if index > 0 {
        out.push(b',');
    }
    let _ = serde_json::to_writer(&mut *out, item);
}

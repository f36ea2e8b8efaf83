//! Watches: `?watch=true` streams of newline-delimited `{"type":…,"object":…}` events, resumed
//! from a resource version (or starting with every object), with BOOKMARK events when asked,
//! `410 Expired` for a version older than the cluster keeps, and an end at `timeoutSeconds`.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, header};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::discovery::{api_version, kind_of};
use super::select::Selector;
use super::store::{Change, Res};
use super::table::table;
use crate::sim::cluster::ClusterShared;

/// How often an idle watch that asked for bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(5);
/// How long a watch lasts when the client names no timeout (the server picks 30–60 min).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// What one watch asked for.
pub(crate) struct Params {
    pub res: Res,
    pub namespace: Option<String>,
    pub selector: Selector,
    /// `None` (or "0"): start with every current object as ADDED.
    pub from: Option<u64>,
    pub send_initial: bool,
    pub bookmarks: bool,
    pub timeout: Option<Duration>,
    pub table: bool,
    pub whole: bool,
}

struct Stream {
    rx: broadcast::Receiver<Arc<Change>>,
    pending: Vec<Vec<u8>>,
    last_seen: u64,
    params: Params,
    shared: Arc<ClusterShared>,
    deadline: tokio::time::Instant,
    done: bool,
}

fn line(kind: &str, object: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let _ = write!(out, "{{\"type\":\"{kind}\",\"object\":");
    let _ = serde_json::to_writer(&mut out, object);
    out.extend_from_slice(b"}\n");
    out
}

fn expired(rv: u64) -> Vec<u8> {
    line(
        "ERROR",
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("too old resource version: {rv}"), "reason": "Expired", "code": 410}),
    )
}

fn bookmark(res: Res, rv: u64, initial_end: bool) -> Vec<u8> {
    let k = kind_of(res);
    let mut meta = json!({"resourceVersion": rv.to_string(), "creationTimestamp": null});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line(
        "BOOKMARK",
        &json!({"kind": k.kind, "apiVersion": api_version(k), "metadata": meta}),
    )
}

impl Params {
    fn wants(&self, change: &Change) -> bool {
        change.res == self.res
            && self
                .namespace
                .as_deref()
                .is_none_or(|ns| ns == change.namespace)
            && if self.selector.metadata_only() {
                self.selector.matches(&change.meta)
            } else {
                self.selector.matches(&change.object())
            }
    }

    /// One change as a watch line: its JSON as stored, or a Table row.
    fn encode_change(&self, change: &Change, shared: &ClusterShared) -> Vec<u8> {
        if self.table {
            return self.encode(change.kind.as_str(), &change.object(), shared);
        }
        let kind = change.kind.as_str();
        let mut out = Vec::with_capacity(change.json.len() + 40);
        let _ = write!(out, "{{\"type\":\"{kind}\",\"object\":");
        out.extend_from_slice(&change.json);
        out.extend_from_slice(b"}\n");
        out
    }

    fn encode(&self, kind: &str, object: &Value, shared: &ClusterShared) -> Vec<u8> {
        if self.table {
            let rv = object["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let now = shared.clock.wall(shared.clock.elapsed());
            line(
                kind,
                &table(self.res, std::slice::from_ref(object), &rv, self.whole, now),
            )
        } else {
            line(kind, object)
        }
    }
}

/// Opens a watch on one cluster.
pub(crate) fn open(shared: Arc<ClusterShared>, cluster: usize, params: Params) -> Response {
    let timeout = params.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let mut pending = Vec::new();
    let (rx, last_seen, done) = {
        let world = shared.world_now();
        let Some(c) = world.kube.get(cluster) else {
            return super::status_response(404, "NotFound", "no such cluster", None);
        };
        let rx = c.tx.subscribe();
        match params.from {
            Some(rv) if !params.send_initial && rv < c.floor => {
                pending.push(expired(rv));
                (rx, c.rv, true)
            }
            Some(rv) if !params.send_initial => {
                for change in c.history.iter().filter(|ch| ch.rv > rv && params.wants(ch)) {
                    pending.push(params.encode_change(change, &shared));
                }
                (rx, c.rv, false)
            }
            _ => {
                let ns = params.namespace.as_deref();
                for (namespace, name) in super::lookup::keys(c, params.res, ns) {
                    let Some(object) = super::lookup::one(c, params.res, &namespace, &name) else {
                        continue;
                    };
                    if params.selector.matches(&object) {
                        pending.push(params.encode("ADDED", &object, &shared));
                    }
                }
                if params.send_initial && params.bookmarks {
                    pending.push(bookmark(params.res, c.rv, true));
                }
                (rx, c.rv, false)
            }
        }
    };
    pending.reverse();
    let stream = Stream {
        rx,
        pending,
        last_seen,
        deadline: tokio::time::Instant::now() + timeout,
        shared,
        params,
        done,
    };
    let body = futures::stream::unfold(stream, next);
    let mut response = Response::new(Body::from_stream(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The next chunk of the stream, or its end.
async fn next(mut s: Stream) -> Option<(Result<Vec<u8>, std::io::Error>, Stream)> {
    loop {
        if let Some(chunk) = s.pending.pop() {
            return Some((Ok(chunk), s));
        }
        if s.done || *s.shared.stopping.borrow() {
            return None;
        }
        let mut stopping = s.shared.stopping.clone();
        let bookmark_at = tokio::time::Instant::now() + BOOKMARK_EVERY;
        tokio::select! {
            received = s.rx.recv() => match received {
                Ok(change) => {
                    if change.rv <= s.last_seen {
                        continue;
                    }
                    s.last_seen = change.rv;
                    if s.params.wants(&change) {
                        let chunk = s.params.encode_change(&change, &s.shared);
                        return Some((Ok(chunk), s));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    s.done = true;
                    let chunk = expired(s.last_seen);
                    return Some((Ok(chunk), s));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            },
            () = tokio::time::sleep_until(bookmark_at), if s.params.bookmarks => {
                let chunk = bookmark(s.params.res, s.last_seen, false);
                return Some((Ok(chunk), s));
            }
            () = tokio::time::sleep_until(s.deadline) => return None,
            _ = stopping.wait_for(|stop| *stop) => return None,
        }
    }
}

//! The simulated RabbitMQ management HTTP API, one loopback listener per broker the estate
//! names: basic auth, /api/overview, /api/queues[/{vhost}[/{name}]] with depths, consumers,
//! message_stats rates and dead-letter arguments, /api/whoami, /api/vhosts, /api/aliveness-test
//! and purge (DELETE …/contents). Also the brokers' state and what a scenario may set on a
//! `rabbitmq_queue`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};

use crate::sim::cluster::ClusterShared;
use crate::sim::cluster::backlog::{self, Backlog};
use crate::sim::cluster::clock::{percent_decode, query_param};

/// The version every simulated broker reports.
const VERSION: &str = "3.13.7";
/// Average message size, bytes.
const MESSAGE_BYTES: u64 = 1_850;

#[derive(Debug, Clone)]
pub(crate) struct Queue {
    pub vhost: String,
    pub name: String,
    pub backlog: Backlog,
    pub consumers: u32,
    pub unacked: Option<u64>,
    pub state: String,
    /// The dead-letter queue this one routes rejected messages to.
    pub dead_letter: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Broker {
    /// The estate's `host:port` it stands for.
    pub authority: String,
    pub port: u16,
    pub up: bool,
    /// Users and their passwords (`None`: any password is accepted).
    pub users: Vec<(String, Option<String>)>,
    pub queues: Vec<Queue>,
}

/// The keys a scenario may set on a `rabbitmq_queue`.
pub(crate) const KEYS: &[&str] = &[
    "sim.backlog",
    "sim.arrival_rate",
    "sim.dispatch_rate",
    "dead_letter_rate",
    "dead_letters",
    "consumers",
    "messages_unacknowledged",
    "state",
    "up",
];

pub(crate) fn set_problem(key: &str, value: &Value) -> Option<String> {
    let ok = match key {
        "sim.backlog" | "sim.arrival_rate" | "sim.dispatch_rate" | "dead_letter_rate"
        | "dead_letters" => value.as_f64().is_some_and(|n| n >= 0.0),
        "consumers" | "messages_unacknowledged" => value.as_u64().is_some(),
        "state" => matches!(
            value.as_str(),
            Some("running" | "idle" | "flow" | "down" | "crashed" | "stopped" | "minority")
        ),
        "up" => value.is_boolean(),
        _ => {
            return Some(format!(
                "set key '{key}' means nothing to a rabbitmq_queue; use one of {}",
                KEYS.join(", ")
            ));
        }
    };
    (!ok).then(|| format!("set key '{key}' is {value}, which is not a valid {key}"))
}

impl Broker {
    pub fn new(authority: &str) -> Broker {
        Broker {
            authority: authority.to_string(),
            port: 0,
            up: true,
            users: vec![("guest".into(), Some("guest".into()))],
            queues: Vec::new(),
        }
    }

    /// Adds a queue (once); returns its index.
    pub fn add_queue(&mut self, vhost: &str, name: &str) -> usize {
        if let Some(i) = self
            .queues
            .iter()
            .position(|q| q.vhost == vhost && q.name == name)
        {
            return i;
        }
        let dead = is_dead_letter(name);
        self.queues.push(Queue {
            vhost: vhost.to_string(),
            name: name.to_string(),
            backlog: if dead {
                Backlog::steady(0, 0.0)
            } else {
                Backlog::steady(3 + name.len() as u64 % 7, 12.0)
            },
            consumers: if dead { 0 } else { 2 },
            unacked: None,
            state: "running".into(),
            dead_letter: None,
        });
        self.queues.len() - 1
    }

    /// Links every queue to a dead-letter queue on the same vhost named after it.
    pub fn link_dead_letters(&mut self) {
        let names: Vec<(String, String)> = self
            .queues
            .iter()
            .map(|q| (q.vhost.clone(), q.name.clone()))
            .collect();
        for q in &mut self.queues {
            q.dead_letter = names
                .iter()
                .find(|(v, n)| {
                    *v == q.vhost && n != &q.name && dead_letter_of(n) == Some(q.name.as_str())
                })
                .map(|(_, n)| n.clone());
        }
    }

    /// Applies one scenario setting to a queue. A dead-letter queue's backlog changes only
    /// when the event names it, or through `sim.dead_letter_rate` on the queue it serves: a
    /// setting for every queue of a kind is about the work queues.
    pub fn set(&mut self, queue: usize, key: &str, value: &Value, at: Duration, named: bool) {
        if key == "up" {
            self.up = value.as_bool().unwrap_or(true);
            return;
        }
        if key == "dead_letter_rate" || key == "dead_letters" {
            let target = self.queues.get(queue).and_then(|q| q.dead_letter.clone());
            let vhost = self.queues.get(queue).map(|q| q.vhost.clone());
            if let Some(dl) = self
                .queues
                .iter_mut()
                .find(|q| Some(&q.vhost) == vhost.as_ref() && Some(&q.name) == target.as_ref())
            {
                let n = value.as_f64().unwrap_or(0.0);
                if key == "dead_letters" {
                    dl.backlog.set_depth(at, n);
                } else {
                    dl.backlog.set_growth(at, n);
                }
            }
            return;
        }
        let dead = self
            .queues
            .get(queue)
            .is_some_and(|q| is_dead_letter(&q.name));
        if dead && !named && key.starts_with("sim.") {
            return;
        }
        let Some(q) = self.queues.get_mut(queue) else {
            return;
        };
        match key {
            "consumers" => q.consumers = value.as_u64().unwrap_or(0) as u32,
            "messages_unacknowledged" => q.unacked = value.as_u64(),
            "state" => q.state = value.as_str().unwrap_or("running").to_string(),
            other => {
                backlog::apply(&mut q.backlog, at, other, value.as_f64().unwrap_or(0.0));
            }
        }
    }
}

fn is_dead_letter(name: &str) -> bool {
    dead_letter_of(name).is_some()
}

/// The queue a dead-letter queue serves, by the usual naming conventions.
fn dead_letter_of(name: &str) -> Option<&str> {
    for suffix in [
        ".dead-letter",
        ".dead_letter",
        ".dlq",
        "-dlq",
        "_dlq",
        ".dlx",
        ".dead",
    ] {
        if let Some(base) = name.strip_suffix(suffix) {
            return Some(base);
        }
    }
    name.strip_prefix("dlq.")
}

fn rate(r: f64) -> Value {
    json!({"rate": (r * 10.0).round() / 10.0})
}

fn queue_json(q: &Queue, at: Duration) -> Value {
    let ready = q.backlog.depth(at);
    let unacked = q.unacked.unwrap_or(if q.consumers > 0 {
        ready.min(u64::from(q.consumers) * 10)
    } else {
        0
    });
    let published = q.backlog.published(at);
    let delivered = q.backlog.delivered(at);
    let deliver_rate = if q.consumers > 0 {
        q.backlog.out_rate(at)
    } else {
        0.0
    };
    let mut args = json!({"x-queue-type": "classic"});
    if let Some(dl) = &q.dead_letter {
        args["x-dead-letter-exchange"] = "".into();
        args["x-dead-letter-routing-key"] = dl.clone().into();
    }
    let idle = q.consumers == 0 && q.backlog.growth == 0.0;
    let stats = json!({
        "ack": delivered, "ack_details": rate(deliver_rate),
        "deliver": delivered, "deliver_details": rate(deliver_rate),
        "deliver_get": delivered, "deliver_get_details": rate(deliver_rate),
        "deliver_no_ack": 0, "deliver_no_ack_details": rate(0.0),
        "get": 0, "get_details": rate(0.0), "get_empty": 0, "get_empty_details": rate(0.0),
        "get_no_ack": 0, "get_no_ack_details": rate(0.0),
        "publish": published, "publish_details": rate(q.backlog.growth),
        "redeliver": 0, "redeliver_details": rate(0.0),
    });
    let total = ready + unacked;
    let bytes = json!({
        "message_bytes": total * MESSAGE_BYTES, "message_bytes_paged_out": 0,
        "message_bytes_persistent": total * MESSAGE_BYTES, "message_bytes_ram": total * MESSAGE_BYTES,
        "message_bytes_ready": ready * MESSAGE_BYTES, "message_bytes_unacknowledged": unacked * MESSAGE_BYTES,
        "messages": total, "messages_details": rate(q.backlog.net_rate(at)),
        "messages_paged_out": 0, "messages_persistent": total, "messages_ram": total,
        "messages_ready": ready, "messages_ready_details": rate(q.backlog.net_rate(at)),
        "messages_ready_ram": ready, "messages_unacknowledged": unacked,
        "messages_unacknowledged_details": rate(0.0), "messages_unacknowledged_ram": unacked,
    });
    let mut out = json!({
        "arguments": args, "auto_delete": false,
        "consumer_capacity": if q.consumers > 0 { 1.0 } else { 0.0 },
        "consumer_utilisation": if q.consumers > 0 { 1.0 } else { 0.0 },
        "consumers": q.consumers, "durable": true, "effective_policy_definition": {}, "exclusive": false,
        "exclusive_consumer_tag": null,
        "garbage_collection": {"fullsweep_after": 65535, "max_heap_size": 0, "min_bin_vheap_size": 46422, "min_heap_size": 233, "minor_gcs": 812},
        "head_message_timestamp": null, "memory": 55_000 + ready * 96,
        "message_stats": stats, "name": q.name, "node": "rabbit@rabbitmq-0",
        "operator_policy": null, "policy": null, "recoverable_slaves": null,
        "reductions": 9_000_000 + published * 40, "reductions_details": rate(3_400.0),
        "single_active_consumer_tag": null, "state": q.state, "storage_version": 2, "type": "classic", "vhost": q.vhost,
    });
    if let (Some(o), Value::Object(b)) = (out.as_object_mut(), bytes) {
        o.extend(b);
    }
    if idle {
        out["idle_since"] = "2026-11-20T03:12:00.000+00:00".into();
    }
    out
}

fn overview(b: &Broker, at: Duration) -> Value {
    let qs: Vec<Value> = b.queues.iter().map(|q| queue_json(q, at)).collect();
    let sum = |k: &str| qs.iter().map(|q| q[k].as_u64().unwrap_or(0)).sum::<u64>();
    let sum_stat = |k: &str| {
        qs.iter()
            .map(|q| q["message_stats"][k].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    let sum_rate = |k: &str| {
        qs.iter()
            .map(|q| {
                q["message_stats"][format!("{k}_details")]["rate"]
                    .as_f64()
                    .unwrap_or(0.0)
            })
            .sum::<f64>()
    };
    let consumers: u64 = b.queues.iter().map(|q| u64::from(q.consumers)).sum();
    json!({
        "management_version": VERSION, "rates_mode": "basic",
        "sample_retention_policies": {"global": [600, 3600, 28800, 86400], "basic": [600, 3600], "detailed": [600]},
        "exchange_types": [
            {"name": "direct", "description": "AMQP direct exchange, as per the AMQP specification", "enabled": true},
            {"name": "fanout", "description": "AMQP fanout exchange, as per the AMQP specification", "enabled": true},
            {"name": "headers", "description": "AMQP headers exchange, as per the AMQP specification", "enabled": true},
            {"name": "topic", "description": "AMQP topic exchange, as per the AMQP specification", "enabled": true},
        ],
        "product_version": VERSION, "product_name": "RabbitMQ", "rabbitmq_version": VERSION,
        "cluster_name": "rabbit@rabbitmq-0", "erlang_version": "26.2.5.4",
        "erlang_full_version": "Erlang/OTP 26 [erts-14.2.5.4] [source] [64-bit] [smp:2:2] [ds:2:2:10] [async-threads:1] [jit]",
        "release_series_support_status": "supported", "disable_stats": false, "is_op_policy_updating_enabled": true, "enable_queue_totals": false,
        "message_stats": {
            "ack": sum_stat("ack"), "ack_details": rate(sum_rate("ack")),
            "deliver": sum_stat("deliver"), "deliver_details": rate(sum_rate("deliver")),
            "deliver_get": sum_stat("deliver_get"), "deliver_get_details": rate(sum_rate("deliver_get")),
            "publish": sum_stat("publish"), "publish_details": rate(sum_rate("publish")),
            "redeliver": 0, "redeliver_details": rate(0.0),
        },
        "queue_totals": {
            "messages": sum("messages"), "messages_details": rate(0.0),
            "messages_ready": sum("messages_ready"), "messages_ready_details": rate(0.0),
            "messages_unacknowledged": sum("messages_unacknowledged"), "messages_unacknowledged_details": rate(0.0),
        },
        "object_totals": {"channels": consumers + 2, "connections": consumers + 1, "consumers": consumers, "exchanges": 8 + b.queues.len(), "queues": b.queues.len()},
        "statistics_db_event_queue": 0, "node": "rabbit@rabbitmq-0",
        "listeners": [
            {"node": "rabbit@rabbitmq-0", "protocol": "amqp", "ip_address": "::", "port": 5672, "socket_opts": {"backlog": 128, "nodelay": true, "linger": [true, 0], "exit_on_close": false}},
            {"node": "rabbit@rabbitmq-0", "protocol": "http", "ip_address": "::", "port": 15672, "socket_opts": {"cowboy_opts": {"sendfile": false}, "port": 15672}},
        ],
        "contexts": [{"ssl_opts": [], "node": "rabbit@rabbitmq-0", "description": "RabbitMQ Management", "path": "/", "cowboy_opts": "[{sendfile,false}]", "port": "15672"}],
    })
}

/// One broker's HTTP server.
pub(crate) struct RabbitServer {
    pub shared: Arc<ClusterShared>,
    pub broker: usize,
}

fn reply(status: StatusCode, body: &Value) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut().insert(
        header::VARY,
        HeaderValue::from_static("accept, accept-encoding, origin"),
    );
    r
}

fn not_found() -> Response {
    reply(
        StatusCode::NOT_FOUND,
        &json!({"error": "Object Not Found", "reason": "Not Found"}),
    )
}

fn unauthorized() -> Response {
    let mut r = reply(
        StatusCode::UNAUTHORIZED,
        &json!({"error": "not_authorized", "reason": "Not_Authorized"}),
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"RabbitMQ Management\""),
    );
    r
}

/// The user a request authenticates as, if its credentials are right.
fn authenticate(b: &Broker, headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(base64_decode(encoded.trim())?).ok()?;
    let (user, pass) = decoded.split_once(':')?;
    b.users
        .iter()
        .find(|(u, p)| u == user && p.as_deref().is_none_or(|p| p == pass))
        .map(|(u, _)| u.clone())
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

pub(crate) async fn serve(State(server): State<Arc<RabbitServer>>, request: Request) -> Response {
    server.shared.count_request();
    let (parts, _) = request.into_parts();
    let mut world = server.shared.world_now();
    let at = server.shared.clock.elapsed();
    let Some(b) = world.rabbit.get_mut(server.broker) else {
        return not_found();
    };
    if !b.up {
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"error": "service_unavailable", "reason": "the management plugin is not running"}),
        );
    }
    let Some(user) = authenticate(b, &parts.headers) else {
        return unauthorized();
    };
    let segments: Vec<String> = parts
        .uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = parts.method.clone();
    let get = method == Method::GET;
    match segs.as_slice() {
        ["api", "overview"] if get => reply(StatusCode::OK, &overview(b, at)),
        ["api", "whoami"] if get => reply(
            StatusCode::OK,
            &json!({"name": user, "tags": ["monitoring"]}),
        ),
        ["api", "vhosts"] if get => {
            let mut vhosts: Vec<&str> = b.queues.iter().map(|q| q.vhost.as_str()).collect();
            vhosts.push("/");
            vhosts.sort_unstable();
            vhosts.dedup();
            let list: Vec<Value> = vhosts.into_iter().map(|v| json!({"name": v, "description": "", "tags": [], "default_queue_type": "classic", "tracing": false, "cluster_state": {"rabbit@rabbitmq-0": "running"}})).collect();
            reply(StatusCode::OK, &Value::Array(list))
        }
        ["api", "aliveness-test", _] if get => reply(StatusCode::OK, &json!({"status": "ok"})),
        ["api", "health", "checks", "alarms"] if get => {
            reply(StatusCode::OK, &json!({"status": "ok"}))
        }
        ["api", "queues"] if get => queues(b, None, parts.uri.query(), at),
        ["api", "queues", vhost] if get => queues(b, Some(vhost), parts.uri.query(), at),
        ["api", "queues", vhost, name] if get => match b
            .queues
            .iter()
            .find(|q| q.vhost == *vhost && q.name == *name)
        {
            Some(q) => reply(StatusCode::OK, &queue_json(q, at)),
            None => not_found(),
        },
        ["api", "queues", vhost, name, "contents"] if method == Method::DELETE => {
            match b
                .queues
                .iter_mut()
                .find(|q| q.vhost == *vhost && q.name == *name)
            {
                Some(q) => {
                    q.backlog.set_depth(at, 0.0);
                    let mut r = Response::new(Body::empty());
                    *r.status_mut() = StatusCode::NO_CONTENT;
                    r
                }
                None => not_found(),
            }
        }
        ["api", ..] if !get => reply(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"error": "Method Not Allowed", "reason": "Method Not Allowed"}),
        ),
        _ => not_found(),
    }
}

fn queues(b: &Broker, vhost: Option<&str>, query: Option<&str>, at: Duration) -> Response {
    let mut list: Vec<&Queue> = b
        .queues
        .iter()
        .filter(|q| vhost.is_none_or(|v| v == q.vhost))
        .collect();
    list.sort_by(|a, b| (&a.vhost, &a.name).cmp(&(&b.vhost, &b.name)));
    let items: Vec<Value> = list.into_iter().map(|q| queue_json(q, at)).collect();
    let Some(page) = query_param(query, "page")
        .and_then(|p| p.parse::<usize>().ok())
        .filter(|p| *p > 0)
    else {
        return reply(StatusCode::OK, &Value::Array(items));
    };
    let size = query_param(query, "page_size")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 500);
    let total = items.len();
    let pages = total.div_ceil(size).max(1);
    let chunk: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .collect();
    reply(
        StatusCode::OK,
        &json!({"filtered_count": total, "item_count": chunk.len(), "items": chunk, "page": page, "page_count": pages, "page_size": size, "total_count": total}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letter_queues_are_linked_by_name() {
        let mut b = Broker::new("10.0.0.1:15672");
        b.add_queue("/", "notifications");
        b.add_queue("/", "notifications.dead-letter");
        b.add_queue("/", "events");
        b.link_dead_letters();
        assert_eq!(
            b.queues[0].dead_letter.as_deref(),
            Some("notifications.dead-letter")
        );
        assert_eq!(b.queues[2].dead_letter, None);
        let q = queue_json(&b.queues[0], Duration::from_secs(60));
        assert_eq!(
            q["arguments"]["x-dead-letter-routing-key"],
            "notifications.dead-letter"
        );
        assert_eq!(q["consumers"], 2);
        assert!(
            q["message_stats"]["publish_details"]["rate"]
                .as_f64()
                .is_some()
        );
        assert_eq!(b.queues[1].consumers, 0);
    }

    #[test]
    fn basic_auth_decodes() {
        assert_eq!(
            base64_decode("b3BzZGVjazpzM2NyZXQ=").as_deref(),
            Some(&b"opsdeck:s3cret"[..])
        );
        assert!(base64_decode("!!").is_none());
        assert!(set_problem("sim.backlog", &json!(-1)).is_some());
        assert!(set_problem("state", &json!("down")).is_none());
    }
}

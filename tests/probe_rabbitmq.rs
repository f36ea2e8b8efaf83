//! The `rabbitmq_queue` probe against the shared RabbitMQ's management API (127.0.0.1:15672).
//! Each test creates its own queues with unique names (with `x-expires`, so they vanish even
//! if a test dies half-way), publishes real messages through the API's publish endpoint,
//! dead-letters some by rejecting them, and deletes everything at the end.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{free_port, live, observed, poll, port_open};
use opsdeck::estate::Thresholds;
use opsdeck::model::{Observation, Outcome, Status};
use opsdeck::probe::rabbitmq::{self, QueueRef};
use serde_json::{Value, json};

const API: &str = "http://127.0.0.1:15672";
/// The guest account, written into the URL (the probe also reads credentials from there).
const API_AS_GUEST: &str = "http://guest:guest@127.0.0.1:15672";

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    format!("opsdeck-test-{prefix}-{}-{nanos}", std::process::id())
}

/// The management API as the guest user, for setting up and tearing down.
struct Admin {
    http: reqwest::Client,
}

impl Admin {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method.clone(), format!("{API}/api/{path}"))
            .basic_auth("guest", Some("guest"));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("management API");
        let code = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(code.is_success(), "{method} {path}: {code} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn put(&self, path: &str, body: Value) {
        self.call(reqwest::Method::PUT, path, Some(body)).await;
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn delete(&self, path: &str) {
        let _ = self
            .http
            .delete(format!("{API}/api/{path}"))
            .basic_auth("guest", Some("guest"))
            .send()
            .await;
    }

    /// Publishes through the default exchange, stamped `age_s` seconds in the past.
    async fn publish(&self, queue: &str, body: &str, age_s: u64) {
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs()
            - age_s;
        let answer = self
            .post(
                "exchanges/%2F/amq.default/publish",
                json!({"properties": {"timestamp": stamp, "delivery_mode": 2},
                       "routing_key": queue, "payload": body, "payload_encoding": "string"}),
            )
            .await;
        assert_eq!(answer["routed"], true, "{answer}");
    }
}

fn api_up() -> bool {
    live(
        "the RabbitMQ management API at 127.0.0.1:15672",
        port_open(15672),
    )
}

/// Probes one queue, waiting (at most 15 s) while the management API has no figures for it
/// yet (a queue just created).
async fn look(url: &str, queue: &str, user: Option<&str>, t: &Thresholds) -> Observation {
    let http = reqwest::Client::new();
    let target = QueueRef {
        url,
        vhost: "/",
        queue,
        user,
        password_env: None,
    };
    let outcome = poll(
        Duration::from_secs(15),
        || rabbitmq::probe(&http, target, t),
        |o| matches!(o, Outcome::Observed(_)),
    )
    .await;
    observed(outcome)
}

#[tokio::test]
async fn a_backlog_with_dead_letters_and_no_consumers() {
    if !api_up() {
        return;
    }
    let admin = Admin {
        http: reqwest::Client::new(),
    };
    let jobs = unique("jobs");
    let dlq = format!("{jobs}.dlq");
    let dlx = format!("{jobs}.dlx");
    let expires = json!(600_000);
    admin
        .put(
            &format!("exchanges/%2F/{dlx}"),
            json!({"type": "direct", "auto_delete": true, "durable": false}),
        )
        .await;
    admin
        .put(
            &format!("queues/%2F/{dlq}"),
            json!({"durable": false, "arguments": {"x-expires": expires}}),
        )
        .await;
    admin
        .post(
            &format!("bindings/%2F/e/{dlx}/q/{dlq}"),
            json!({"routing_key": "dead"}),
        )
        .await;
    admin
        .put(
            &format!("queues/%2F/{jobs}"),
            json!({"durable": false, "arguments": {"x-expires": expires,
                "x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": "dead"}}),
        )
        .await;
    for i in 0..5 {
        admin.publish(&jobs, &format!("job {i}"), 900).await;
    }
    // Two messages are rejected without requeue: RabbitMQ dead-letters them to the DLQ.
    let rejected = admin
        .post(
            &format!("queues/%2F/{jobs}/get"),
            json!({"count": 2, "ackmode": "reject_requeue_false", "encoding": "auto"}),
        )
        .await;
    assert_eq!(rejected.as_array().map(Vec::len), Some(2));

    let warn = Thresholds {
        warn_depth: Some(2),
        crit_depth: Some(50),
        max_oldest_age: Some(Duration::from_secs(300)),
    };
    // The management API refreshes queue figures every few seconds.
    let obs = poll(
        Duration::from_secs(30),
        || look(API_AS_GUEST, &jobs, None, &warn),
        |o| {
            o.queue.as_ref().and_then(|q| q.depth) == Some(3)
                && o.queue.as_ref().and_then(|q| q.consumers).is_some()
                && o.metrics.get("dead_letter_depth") == Some(&json!(2))
        },
    )
    .await;
    assert_eq!(obs.status, Status::Degraded, "{obs:?}");
    let figures = obs.queue.clone().expect("queue figures");
    assert_eq!(figures.depth, Some(3), "{obs:?}");
    assert_eq!(figures.consumers, Some(0));
    assert_eq!(figures.extra["unacked"], 0);
    assert_eq!(figures.extra["dead_letter_depth"], 2);
    assert_eq!(
        figures.extra["dead_letter_queues"],
        json!({ dlq.clone(): 2 })
    );
    let error = obs.error.clone().expect("a reason");
    assert!(
        error.starts_with(&format!(
            "queue '{jobs}' holds 3 messages, above warn_depth 2"
        )),
        "{error}"
    );
    assert!(error.contains("has no consumers while 3 wait"), "{error}");
    // The messages were stamped 15 minutes ago; RabbitMQ reports the head's timestamp.
    let age = figures.oldest_age_s.expect("the age of the head message");
    assert!(age >= 890.0, "{age}");
    assert!(error.contains("longer than max_oldest_age 5m"), "{error}");
    assert!(obs.summary.starts_with("3 waiting · "), "{}", obs.summary);
    assert!(
        obs.summary.ends_with(" · 2 dead-lettered"),
        "{}",
        obs.summary
    );

    let crit = Thresholds {
        crit_depth: Some(2),
        ..Thresholds::default()
    };
    let obs = look(API_AS_GUEST, &jobs, None, &crit).await;
    assert_eq!(obs.status, Status::Down, "{obs:?}");
    assert_eq!(
        obs.error.as_deref(),
        Some(format!("queue '{jobs}' holds 3 messages, above crit_depth 2").as_str())
    );

    admin.delete(&format!("queues/%2F/{jobs}")).await;
    admin.delete(&format!("queues/%2F/{dlq}")).await;
    admin.delete(&format!("exchanges/%2F/{dlx}")).await;
}

#[tokio::test]
async fn missing_queues_bad_credentials_and_a_closed_port() {
    if !api_up() {
        return;
    }
    let none = Thresholds::default();
    let ghost = unique("ghost");
    let obs = look(API_AS_GUEST, &ghost, None, &none).await;
    assert_eq!(obs.status, Status::Down);
    assert_eq!(
        obs.error.as_deref(),
        Some(format!("queue '{ghost}' does not exist in vhost '/' on {API}").as_str())
    );

    let secret = "opsdeck-wrong-Hq4tZ9";
    let obs = look(
        &format!("http://guest:{secret}@127.0.0.1:15672"),
        &ghost,
        None,
        &none,
    )
    .await;
    assert_eq!(obs.status, Status::Unknown, "{obs:?}");
    let error = obs.error.clone().expect("a reason");
    assert!(
        error.starts_with(&format!(
            "RabbitMQ management API at {API} rejected the credentials (HTTP 401)"
        )),
        "{error}"
    );
    assert!(!format!("{obs:?}").contains(secret));

    let obs = look(API, &ghost, Some("opsdeck-no-such-user"), &none).await;
    assert_eq!(obs.status, Status::Unknown, "{obs:?}");

    let port = free_port();
    let obs = look(
        &format!("http://127.0.0.1:{port}"),
        "q",
        Some("guest"),
        &none,
    )
    .await;
    assert_eq!(obs.status, Status::Down);
    assert_eq!(
        obs.error.as_deref(),
        Some(
            format!("RabbitMQ management API at http://127.0.0.1:{port}: connection refused")
                .as_str()
        )
    );
}

#[tokio::test]
async fn a_consumed_queue_within_thresholds_is_up() {
    if !api_up() {
        return;
    }
    let admin = Admin {
        http: reqwest::Client::new(),
    };
    let quiet = unique("quiet");
    admin
        .put(
            &format!("queues/%2F/{quiet}"),
            json!({"durable": false, "arguments": {"x-expires": 600_000}}),
        )
        .await;
    let t = Thresholds {
        warn_depth: Some(100),
        ..Thresholds::default()
    };
    // A new queue's consumer count appears with the management API's next stats refresh.
    let api = format!("{API_AS_GUEST}/api/");
    let obs = poll(
        Duration::from_secs(30),
        || look(&api, &quiet, None, &t),
        |o| o.queue.as_ref().and_then(|q| q.consumers).is_some(),
    )
    .await;
    assert_eq!(obs.status, Status::Up, "{obs:?}");
    assert!(
        obs.summary.starts_with("0 waiting · 0 consumers"),
        "{}",
        obs.summary
    );
    assert_eq!(obs.metrics["api"], API);
    admin.delete(&format!("queues/%2F/{quiet}")).await;
}

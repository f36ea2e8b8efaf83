//! The `rabbitmq_queue` probe: one queue through the RabbitMQ management HTTP API
//! (`GET /api/queues/{vhost}/{name}`): ready and unacknowledged messages, consumers, publish and
//! deliver rates, the age of the head message, and the depth of its dead-letter queues (found
//! from `x-dead-letter-exchange` or a policy's `dead-letter-exchange` and that exchange's
//! bindings). Depth, age and consumers are judged by [`super::queue`].
//!
//! Status rules: the queue's own state `flow` → degraded; `down`, `crashed`, `stopped`,
//! `terminated`, `minority` → down; a queue or vhost that does not exist → down; the API
//! refusing the connection → down; credentials rejected (401/403) or `password_env` unset →
//! unknown; 429 and 5xx → the last value stays, marked stale.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::credentials;
use super::queue::{self, Backlog};
use crate::estate::Thresholds;
use crate::model::{Observation, Outcome, Status};

/// At most this many dead-letter queues are looked up per probe.
const MAX_DEAD_LETTER_QUEUES: usize = 4;

/// One RabbitMQ queue as the estate names it.
#[derive(Debug, Clone, Copy)]
pub struct QueueRef<'a> {
    /// The management API root (`http://host:15672`, with or without `/api`).
    pub url: &'a str,
    pub vhost: &'a str,
    pub queue: &'a str,
    pub user: Option<&'a str>,
    pub password_env: Option<&'a str>,
}

/// Probes one queue.
pub async fn probe(
    http: &reqwest::Client,
    target: QueueRef<'_>,
    thresholds: &Thresholds,
) -> Outcome {
    let password = match credentials::password(target.password_env) {
        Ok(p) => p,
        Err(unset) => return Outcome::Observed(unset.observation()),
    };
    let api = Api::new(http, target, password);
    let doc = match api.get(&["queues", target.vhost, target.queue]).await {
        Ok(doc) => doc,
        Err(Failure::NotFound) => {
            return Outcome::Observed(Observation::down(format!(
                "queue '{}' does not exist in vhost '{}' on {}",
                target.queue,
                target.vhost,
                api.shown()
            )));
        }
        Err(f) => return f.outcome(&api.subject()),
    };
    if doc.get("messages_ready").is_none() {
        // A queue the statistics collector has not reported on yet (just created, or the
        // node is busy): no figures is not the same as zero.
        return Outcome::Failed {
            error: format!(
                "{} has no figures for queue '{}' yet",
                api.subject(),
                target.queue
            ),
            retry_after: None,
        };
    }
    let mut dead_letters = Vec::new();
    if let Some((exchange, key)) = dead_letter_route(&doc) {
        let names = if exchange.is_empty() {
            key.into_iter().collect()
        } else {
            match api
                .get(&["exchanges", target.vhost, &exchange, "bindings", "source"])
                .await
            {
                Ok(bindings) => bound_queues(&bindings, key.as_deref()),
                Err(_) => Vec::new(),
            }
        };
        for name in names.into_iter().take(MAX_DEAD_LETTER_QUEUES) {
            let depth = match api.get(&["queues", target.vhost, &name]).await {
                Ok(d) => d.get("messages").and_then(Value::as_u64),
                Err(_) => None,
            };
            dead_letters.push((name, depth));
        }
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut obs = observe(&doc, &dead_letters, thresholds, now);
    obs.metrics.insert("api".to_string(), api.shown().into());
    Outcome::Observed(obs)
}

/// The status of one queue document of `/api/queues`, with the depth of its dead-letter
/// queues, at `now` (time since the Unix epoch).
pub fn observe(
    doc: &Value,
    dead_letters: &[(String, Option<u64>)],
    thresholds: &Thresholds,
    now: Duration,
) -> Observation {
    let name = doc.get("name").and_then(Value::as_str).unwrap_or("?");
    let num = |k: &str| doc.get(k).and_then(Value::as_u64);
    let depth = num("messages_ready").unwrap_or(0);
    let unacked = num("messages_unacknowledged");
    let oldest_age = doc
        .get("head_message_timestamp")
        .and_then(Value::as_f64)
        .filter(|t| *t > 0.0)
        .map(|t| now.saturating_sub(Duration::from_secs_f64(t)));
    let backlog = Backlog {
        depth,
        oldest_age,
        consumers: num("consumers"),
    };
    let what = format!("queue '{name}'");
    let verdict = queue::judge(&what, &backlog, thresholds);
    let state = doc.get("state").and_then(Value::as_str);
    let (status, reason) = match state {
        Some("down" | "crashed" | "stopped" | "terminated" | "minority") => (
            Status::Down,
            Some(format!("{what} is {}", state.unwrap_or_default())),
        ),
        Some("flow") if verdict.status == Status::Up => (
            Status::Degraded,
            Some(format!(
                "{what} is in flow control (publishers are being slowed)"
            )),
        ),
        _ => (verdict.status, verdict.reason),
    };

    let rate = |stat: &str| {
        doc.get("message_stats")
            .and_then(|m| m.get(format!("{stat}_details")))
            .and_then(|d| d.get("rate"))
            .and_then(Value::as_f64)
    };
    let mut extra = BTreeMap::new();
    let mut summary = queue::summary(&backlog);
    if let Some(u) = unacked {
        extra.insert("unacked".to_string(), u.into());
        summary.push_str(&format!(" · {} unacked", queue::count(u)));
    }
    let publish = rate("publish");
    let deliver = rate("deliver_get").or_else(|| rate("deliver"));
    if let Some(p) = publish {
        extra.insert("publish_rate".to_string(), round2(p).into());
    }
    if let Some(d) = deliver {
        extra.insert("deliver_rate".to_string(), round2(d).into());
    }
    if let Some(a) = rate("ack") {
        extra.insert("ack_rate".to_string(), round2(a).into());
    }
    if publish.is_some() || deliver.is_some() {
        summary.push_str(&format!(
            " · in {:.1}/s · out {:.1}/s",
            publish.unwrap_or(0.0),
            deliver.unwrap_or(0.0)
        ));
    }
    for key in ["state", "type", "node"] {
        if let Some(v) = doc
            .get(key)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
        {
            extra.insert(key.to_string(), v.into());
        }
    }
    if let Some(total) = num("messages") {
        extra.insert("messages_total".to_string(), total.into());
    }
    if !dead_letters.is_empty() {
        let known: Vec<u64> = dead_letters.iter().filter_map(|(_, d)| *d).collect();
        let per_queue: serde_json::Map<String, Value> = dead_letters
            .iter()
            .map(|(n, d)| (n.clone(), d.map_or(Value::Null, Value::from)))
            .collect();
        extra.insert("dead_letter_queues".to_string(), Value::Object(per_queue));
        if !known.is_empty() {
            let sum: u64 = known.iter().sum();
            extra.insert("dead_letter_depth".to_string(), sum.into());
            summary.push_str(&format!(" · {} dead-lettered", queue::count(sum)));
        }
    }
    let figures = queue::figures(&backlog, extra);
    let mut obs = Observation::new(status, summary);
    obs.error = reason;
    obs.metrics.insert("depth".to_string(), depth.into());
    if let Some(c) = backlog.consumers {
        obs.metrics.insert("consumers".to_string(), c.into());
    }
    if let Some(age) = figures.oldest_age_s {
        obs.metrics.insert("oldest_age_s".to_string(), age.into());
    }
    for (k, v) in &figures.extra {
        obs.metrics.insert(k.clone(), v.clone());
    }
    obs.queue = Some(figures);
    obs
}

/// Where the queue dead-letters to: the exchange (`""` is the default exchange) and the
/// routing key, from its arguments or, failing those, its effective policy.
pub fn dead_letter_route(doc: &Value) -> Option<(String, Option<String>)> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let args = doc.get("arguments");
    let policy = doc.get("effective_policy_definition");
    let exchange = text(args.and_then(|a| a.get("x-dead-letter-exchange")))
        .or_else(|| text(policy.and_then(|p| p.get("dead-letter-exchange"))))?;
    let key = text(args.and_then(|a| a.get("x-dead-letter-routing-key")))
        .or_else(|| text(policy.and_then(|p| p.get("dead-letter-routing-key"))));
    Some((exchange, key))
}

/// The queues an exchange's bindings lead to for a routing key (all bound queues when the key
/// is unknown or no binding names it exactly).
pub fn bound_queues(bindings: &Value, key: Option<&str>) -> Vec<String> {
    let to_queues: Vec<(&str, &str)> = bindings
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|b| b.get("destination_type").and_then(Value::as_str) == Some("queue"))
        .filter_map(|b| {
            Some((
                b.get("destination")?.as_str()?,
                b.get("routing_key").and_then(Value::as_str).unwrap_or(""),
            ))
        })
        .collect();
    let exact: Vec<String> = to_queues
        .iter()
        .filter(|(_, rk)| key.is_some_and(|k| k == *rk))
        .map(|(q, _)| (*q).to_string())
        .collect();
    let mut names = if exact.is_empty() {
        to_queues.iter().map(|(q, _)| (*q).to_string()).collect()
    } else {
        exact
    };
    names.dedup();
    names
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The management API of one broker, with its credentials.
struct Api<'a> {
    http: &'a reqwest::Client,
    root: String,
    user: Option<String>,
    password: Option<String>,
}

/// Why a management API call gave no document.
enum Failure {
    NotFound,
    Rejected(u16, String),
    Busy(u16, String),
    Other(String),
    Down(String),
}

impl<'a> Api<'a> {
    fn new(http: &'a reqwest::Client, target: QueueRef<'_>, password: Option<String>) -> Self {
        let trimmed = target.url.trim_end_matches('/');
        let root = trimmed.strip_suffix("/api").unwrap_or(trimmed);
        let (root, url_user, url_password) = match reqwest::Url::parse(root) {
            Ok(mut u) => {
                let user = (!u.username().is_empty()).then(|| u.username().to_string());
                let pass = u.password().map(str::to_string);
                let _ = u.set_username("");
                let _ = u.set_password(None);
                (u.as_str().trim_end_matches('/').to_string(), user, pass)
            }
            Err(_) => (root.to_string(), None, None),
        };
        Api {
            http,
            root,
            user: target.user.map(str::to_string).or(url_user),
            password: password.or(url_password),
        }
    }

    fn shown(&self) -> String {
        self.root.clone()
    }

    fn subject(&self) -> String {
        format!("RabbitMQ management API at {}", self.root)
    }

    async fn get(&self, segments: &[&str]) -> Result<Value, Failure> {
        let mut url = reqwest::Url::parse(&format!("{}/api", self.root))
            .map_err(|e| Failure::Other(format!("the URL does not parse: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| Failure::Other("the URL cannot have a path".to_string()))?
            .extend(segments);
        let mut request = self.http.get(url);
        if let Some(user) = &self.user {
            request = request.basic_auth(user, self.password.as_deref());
        }
        let response = request.send().await.map_err(|e| {
            Failure::Down(credentials::scrub(
                &super::http::describe_error(&e),
                self.password.as_deref(),
            ))
        })?;
        let code = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        let reason = || {
            serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|d| d.get("reason").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| body.chars().take(200).collect())
        };
        match code {
            200 => serde_json::from_str(&body)
                .map_err(|e| Failure::Other(format!("the answer is not JSON: {e}"))),
            404 => Err(Failure::NotFound),
            401 | 403 => Err(Failure::Rejected(code, reason())),
            429 | 500..=599 => Err(Failure::Busy(code, reason())),
            _ => Err(Failure::Other(format!(
                "answered HTTP {code}: {}",
                reason()
            ))),
        }
    }
}

impl Failure {
    fn outcome(self, subject: &str) -> Outcome {
        match self {
            Failure::Down(why) => Outcome::Observed(Observation::down(format!("{subject}: {why}"))),
            Failure::Rejected(code, why) => Outcome::Observed(Observation::unknown(format!(
                "{subject} rejected the credentials (HTTP {code}): {why}"
            ))),
            Failure::Busy(code, why) => Outcome::Failed {
                error: format!("{subject} answered HTTP {code}: {why}"),
                retry_after: None,
            },
            Failure::Other(why) => {
                Outcome::Observed(Observation::unknown(format!("{subject} {why}")))
            }
            Failure::NotFound => {
                Outcome::Observed(Observation::down(format!("{subject} has no such resource")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn queues(name: &str) -> Vec<Value> {
        let path = format!(
            "{}/fixtures/api/rabbitmq/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("fixture");
        serde_json::from_str(&text).expect("json")
    }

    const NOW: Duration = Duration::from_secs(1_700_000_000);

    #[test]
    fn real_3_6_queue_with_a_message_and_no_consumer_is_degraded() {
        let q = &queues("queues-3.6.8.json")[0];
        let obs = observe(q, &[], &Thresholds::default(), NOW);
        assert_eq!(obs.status, Status::Degraded);
        assert_eq!(
            obs.error.as_deref(),
            Some("queue 'amq.gen---WBD642a0yMDq25x3DpvQ' has no consumers while 1 wait")
        );
        assert!(
            obs.summary
                .starts_with("1 waiting · 0 consumers · 0 unacked"),
            "{}",
            obs.summary
        );
        let f = obs.queue.expect("queue");
        assert_eq!(f.depth, Some(1));
        assert_eq!(f.extra["state"], json!("running"));
    }

    #[test]
    fn real_3_8_queue_with_a_consumer_reports_rates() {
        let q = &queues("queues-3.8.x-with-type-edgecases.json")[0];
        let obs = observe(q, &[], &Thresholds::default(), NOW);
        assert_eq!(obs.status, Status::Up, "{:?}", obs.error);
        assert_eq!(
            obs.summary,
            "0 waiting · 1 consumer · 0 unacked · in 0.0/s · out 0.0/s"
        );
        let f = obs.queue.expect("queue");
        assert_eq!(f.consumers, Some(1));
        assert_eq!(f.extra["publish_rate"], json!(0.0));
        assert_eq!(f.extra["type"], json!("classic"));
    }

    #[test]
    fn every_real_queue_document_parses() {
        for file in [
            "queues-3.6.8.json",
            "queues-3.7.0-milestone.json",
            "queues-3.8.x-with-type-edgecases.json",
            "queues-with-x-max-length-bytes.json",
        ] {
            for q in queues(file) {
                let obs = observe(&q, &[], &Thresholds::default(), NOW);
                assert!(obs.queue.and_then(|f| f.depth).is_some(), "{file}");
            }
        }
    }

    #[test]
    fn thresholds_state_and_head_age_decide() {
        let doc = json!({"name": "jobs", "state": "running", "messages_ready": 1200,
            "messages_unacknowledged": 3, "consumers": 2,
            "head_message_timestamp": 1_699_999_100});
        let t = Thresholds {
            warn_depth: Some(1000),
            crit_depth: Some(5000),
            max_oldest_age: Some(Duration::from_secs(600)),
        };
        let obs = observe(&doc, &[], &t, NOW);
        assert_eq!(obs.status, Status::Degraded);
        assert_eq!(obs.queue.as_ref().and_then(|f| f.oldest_age_s), Some(900.0));
        assert!(
            obs.error
                .expect("error")
                .contains("longer than max_oldest_age 10m")
        );
        let crashed =
            json!({"name": "jobs", "state": "crashed", "messages_ready": 0, "consumers": 1});
        assert_eq!(observe(&crashed, &[], &t, NOW).status, Status::Down);
        let flow = json!({"name": "jobs", "state": "flow", "messages_ready": 0, "consumers": 1});
        assert_eq!(observe(&flow, &[], &t, NOW).status, Status::Degraded);
    }

    #[test]
    fn dead_letters_are_found_and_counted() {
        let doc = json!({"name": "jobs", "messages_ready": 0, "consumers": 1,
            "arguments": {"x-dead-letter-exchange": "dlx", "x-dead-letter-routing-key": "jobs.dead"}});
        assert_eq!(
            dead_letter_route(&doc),
            Some(("dlx".to_string(), Some("jobs.dead".to_string())))
        );
        let by_policy = json!({"effective_policy_definition": {"dead-letter-exchange": ""}});
        assert_eq!(dead_letter_route(&by_policy), Some((String::new(), None)));
        assert_eq!(dead_letter_route(&json!({"arguments": {}})), None);
        let bindings = json!([
            {"source": "dlx", "destination": "jobs.dlq", "destination_type": "queue", "routing_key": "jobs.dead"},
            {"source": "dlx", "destination": "other.dlq", "destination_type": "queue", "routing_key": "other"},
            {"source": "dlx", "destination": "audit", "destination_type": "exchange", "routing_key": "#"}
        ]);
        assert_eq!(bound_queues(&bindings, Some("jobs.dead")), ["jobs.dlq"]);
        assert_eq!(bound_queues(&bindings, None), ["jobs.dlq", "other.dlq"]);
        let obs = observe(
            &doc,
            &[("jobs.dlq".to_string(), Some(7))],
            &Thresholds::default(),
            NOW,
        );
        assert!(
            obs.summary.ends_with(" · 7 dead-lettered"),
            "{}",
            obs.summary
        );
        assert_eq!(obs.metrics["dead_letter_depth"], json!(7));
    }
}

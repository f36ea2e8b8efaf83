//! The `redis_queue` probe: a Celery or Laravel queue kept in Redis lists, measured with
//! `LLEN` and judged against the estate's thresholds by [`super::queue`].
//!
//! Key layouts:
//! - Celery (kombu's Redis transport): the list named after the queue, plus one list per
//!   priority level `name\x06\x16N` (N = 1…9) when priorities are used; depth is their sum.
//!   kombu's `unacked` hash holds what workers have taken but not acknowledged, for all queues
//!   together. Messages carry no enqueue time, so the oldest age is not knowable.
//! - Laravel: the list `queues:NAME` (ready jobs, oldest first) with the sorted sets
//!   `queues:NAME:delayed` and `queues:NAME:reserved`; the oldest age comes from the head
//!   job's `createdAt` (or Horizon's `pushedAt`). A connection prefix (Laravel's
//!   `laravel_database_`) is written into `queue` as the full key: `queue =
//!   "laravel_database_queues:default"`.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::queue::{self, Backlog};
use super::redis::Connect;
use crate::estate::{QueueFormat, Thresholds};
use crate::model::{Observation, Outcome};

/// kombu's separator between a queue name and its priority level.
const CELERY_PRIORITY_SEP: &str = "\x06\x16";
/// kombu's hash of delivered, unacknowledged messages (all queues).
const CELERY_UNACKED: &str = "unacked";

/// What the lists hold right now.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reading {
    /// Each list and its length (the main list first).
    pub lists: Vec<(String, u64)>,
    /// Laravel: jobs waiting for their delay to pass.
    pub delayed: Option<u64>,
    /// Laravel: jobs a worker holds; Celery: unacknowledged messages of every queue.
    pub reserved: Option<u64>,
    /// The oldest waiting payload, when the layout lets opsdeck find it.
    pub head: Option<String>,
}

/// Probes the queue of an estate service.
pub async fn probe(
    url: &str,
    password_env: Option<&str>,
    name: &str,
    format: QueueFormat,
    thresholds: &Thresholds,
) -> Outcome {
    match Connect::from_estate(url, password_env) {
        Ok(connect) => probe_with(&connect, name, format, thresholds).await,
        Err(unset) => Outcome::Observed(unset.observation()),
    }
}

/// Probes through an explicit connection.
pub async fn probe_with(
    connect: &Connect,
    name: &str,
    format: QueueFormat,
    thresholds: &Thresholds,
) -> Outcome {
    let reading = match read(connect, name, format).await {
        Ok(r) => r,
        Err(obs) => return Outcome::Observed(obs),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut obs = observe(name, format, &reading, thresholds, now);
    obs.metrics
        .insert("redis".to_string(), connect.shown().into());
    Outcome::Observed(obs)
}

async fn read(connect: &Connect, name: &str, format: QueueFormat) -> Result<Reading, Observation> {
    let mut conn = connect.open().await?;
    let main = list_key(name, format);
    let fail = |e: redis::RedisError| {
        if e.code() == Some("WRONGTYPE") || e.to_string().contains("WRONGTYPE") {
            Observation::unknown(format!(
                "{}: key '{}' is not a list, so it is not a {} queue",
                connect.subject(),
                printable(&main),
                format_name(format)
            ))
        } else {
            connect.failure(&e)
        }
    };
    match format {
        QueueFormat::Celery => {
            let keys: Vec<String> = std::iter::once(main.clone())
                .chain((1..=9).map(|p| format!("{main}{CELERY_PRIORITY_SEP}{p}")))
                .collect();
            let mut pipe = redis::pipe();
            for k in &keys {
                pipe.cmd("LLEN").arg(k);
            }
            pipe.cmd("HLEN").arg(CELERY_UNACKED);
            let mut lens: Vec<u64> = pipe.query_async(&mut conn).await.map_err(fail)?;
            let unacked = lens.pop();
            Ok(Reading {
                lists: keys.into_iter().zip(lens).collect(),
                delayed: None,
                reserved: unacked,
                head: None,
            })
        }
        QueueFormat::Laravel => {
            let (len, delayed, reserved, head): (u64, u64, u64, Option<String>) = redis::pipe()
                .cmd("LLEN")
                .arg(&main)
                .cmd("ZCARD")
                .arg(format!("{main}:delayed"))
                .cmd("ZCARD")
                .arg(format!("{main}:reserved"))
                .cmd("LINDEX")
                .arg(&main)
                .arg(0)
                .query_async(&mut conn)
                .await
                .map_err(fail)?;
            Ok(Reading {
                lists: vec![(main, len)],
                delayed: Some(delayed),
                reserved: Some(reserved),
                head,
            })
        }
    }
}

/// The Redis key of a queue's main list.
pub fn list_key(name: &str, format: QueueFormat) -> String {
    match format {
        QueueFormat::Celery => name.to_string(),
        QueueFormat::Laravel if name.contains("queues:") => name.to_string(),
        QueueFormat::Laravel => format!("queues:{name}"),
    }
}

/// The status of a queue from what its lists hold, at `now` (time since the Unix epoch).
pub fn observe(
    name: &str,
    format: QueueFormat,
    reading: &Reading,
    thresholds: &Thresholds,
    now: Duration,
) -> Observation {
    let depth: u64 = reading.lists.iter().map(|(_, n)| n).sum();
    let oldest_age = reading
        .head
        .as_deref()
        .and_then(enqueued_at)
        .map(|at| now.saturating_sub(at));
    let backlog = Backlog {
        depth,
        oldest_age,
        consumers: None,
    };
    let what = format!("{} queue '{name}'", format_name(format));
    let verdict = queue::judge(&what, &backlog, thresholds);

    let mut extra = BTreeMap::new();
    extra.insert("format".to_string(), Value::from(format_name(format)));
    let mut summary = queue::summary(&backlog);
    match format {
        QueueFormat::Laravel => {
            if let Some(d) = reading.delayed {
                extra.insert("delayed".to_string(), d.into());
                summary.push_str(&format!(" · {} delayed", queue::count(d)));
            }
            if let Some(r) = reading.reserved {
                extra.insert("reserved".to_string(), r.into());
                summary.push_str(&format!(" · {} reserved", queue::count(r)));
            }
        }
        QueueFormat::Celery => {
            let by_priority: serde_json::Map<String, Value> = reading
                .lists
                .iter()
                .enumerate()
                .filter(|(i, (_, n))| *i > 0 && *n > 0)
                .map(|(i, (_, n))| (i.to_string(), json!(n)))
                .collect();
            if !by_priority.is_empty() {
                let mut all = by_priority.clone();
                all.insert("0".to_string(), json!(reading.lists[0].1));
                extra.insert("priority_depths".to_string(), Value::Object(all));
            }
            if let Some(u) = reading.reserved {
                extra.insert("unacked_all_queues".to_string(), u.into());
            }
        }
    }
    let figures = queue::figures(&backlog, extra);

    let mut obs = Observation::new(verdict.status, summary);
    obs.error = verdict.reason;
    obs.metrics.insert("depth".to_string(), depth.into());
    if let Some(age) = figures.oldest_age_s {
        obs.metrics.insert("oldest_age_s".to_string(), age.into());
    }
    for (k, v) in &figures.extra {
        obs.metrics.insert(k.clone(), v.clone());
    }
    obs.metrics.insert(
        "keys".to_string(),
        reading
            .lists
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, _)| printable(k))
            .collect::<Vec<_>>()
            .into(),
    );
    obs.queue = Some(figures);
    obs
}

/// When a Laravel job was queued: `createdAt` (seconds), or Horizon's `pushedAt`
/// (`"1700000000.1234"`).
fn enqueued_at(payload: &str) -> Option<Duration> {
    let doc: Value = serde_json::from_str(payload).ok()?;
    let field = doc.get("createdAt").or_else(|| doc.get("pushedAt"))?;
    let secs = match field {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.parse().ok()?,
        _ => return None,
    };
    (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs))
}

fn format_name(format: QueueFormat) -> &'static str {
    match format {
        QueueFormat::Celery => "Celery",
        QueueFormat::Laravel => "Laravel",
    }
}

/// A key as it may be shown: control characters (kombu's priority separator) escaped.
fn printable(key: &str) -> String {
    key.chars().flat_map(char::escape_default).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    const NOW: Duration = Duration::from_secs(1_700_000_000);

    fn celery(lens: &[u64]) -> Reading {
        Reading {
            lists: lens
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let key = if i == 0 {
                        "fal".to_string()
                    } else {
                        format!("fal{CELERY_PRIORITY_SEP}{i}")
                    };
                    (key, *n)
                })
                .collect(),
            delayed: None,
            reserved: Some(4),
            head: None,
        }
    }

    #[test]
    fn celery_depth_sums_the_priority_lists() {
        let reading = celery(&[10, 0, 0, 2, 0, 0, 0, 0, 0, 0]);
        let t = Thresholds {
            warn_depth: Some(500),
            ..Thresholds::default()
        };
        let obs = observe("fal", QueueFormat::Celery, &reading, &t, NOW);
        assert_eq!(obs.status, Status::Up);
        assert_eq!(obs.summary, "12 waiting");
        let q = obs.queue.expect("queue");
        assert_eq!(q.depth, Some(12));
        assert_eq!(q.oldest_age_s, None);
        assert_eq!(q.extra["priority_depths"], json!({"0": 10, "3": 2}));
        assert_eq!(q.extra["unacked_all_queues"], json!(4));
        assert_eq!(obs.metrics["keys"], json!(["fal", "fal\\u{6}\\u{16}3"]));
    }

    #[test]
    fn celery_above_warn_depth_is_degraded() {
        let t = Thresholds {
            warn_depth: Some(500),
            crit_depth: Some(5000),
            ..Thresholds::default()
        };
        let obs = observe("fal", QueueFormat::Celery, &celery(&[501]), &t, NOW);
        assert_eq!(obs.status, Status::Degraded);
        assert_eq!(
            obs.error.as_deref(),
            Some("Celery queue 'fal' holds 501 messages, above warn_depth 500")
        );
        let obs = observe("fal", QueueFormat::Celery, &celery(&[5001]), &t, NOW);
        assert_eq!(obs.status, Status::Down);
    }

    #[test]
    fn laravel_age_comes_from_the_head_jobs_created_at() {
        let head = r#"{"uuid":"0b5c","displayName":"App\\Jobs\\SendMail","job":"Illuminate\\Queue\\CallQueuedHandler@call","maxTries":null,"data":{"commandName":"App\\Jobs\\SendMail"},"createdAt":1699999400,"id":"x","attempts":0}"#;
        let reading = Reading {
            lists: vec![("queues:default".to_string(), 3)],
            delayed: Some(2),
            reserved: Some(1),
            head: Some(head.to_string()),
        };
        let t = Thresholds {
            max_oldest_age: Some(Duration::from_secs(300)),
            ..Thresholds::default()
        };
        let obs = observe("default", QueueFormat::Laravel, &reading, &t, NOW);
        assert_eq!(obs.status, Status::Degraded);
        assert_eq!(
            obs.summary,
            "3 waiting · oldest 10m · 2 delayed · 1 reserved"
        );
        let q = obs.queue.expect("queue");
        assert_eq!(q.oldest_age_s, Some(600.0));
        assert_eq!(q.extra["delayed"], json!(2));
    }

    #[test]
    fn horizon_pushed_at_is_understood_and_junk_is_not() {
        assert_eq!(
            enqueued_at(r#"{"pushedAt":"1699999999.5"}"#),
            Some(Duration::from_secs_f64(1_699_999_999.5))
        );
        assert_eq!(enqueued_at("not json"), None);
        assert_eq!(enqueued_at(r#"{"createdAt":null}"#), None);
    }

    #[test]
    fn laravel_keys_accept_a_connection_prefix() {
        assert_eq!(list_key("default", QueueFormat::Laravel), "queues:default");
        assert_eq!(
            list_key("laravel_database_queues:default", QueueFormat::Laravel),
            "laravel_database_queues:default"
        );
        assert_eq!(list_key("celery", QueueFormat::Celery), "celery");
    }
}

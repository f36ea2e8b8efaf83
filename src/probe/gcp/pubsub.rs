//! The `pubsub_subscription` probe: the backlog of a Pub/Sub subscription from Cloud
//! Monitoring v3 `timeSeries.list` — one call per (project, metric) for every subscription of
//! the project (`num_undelivered_messages` and `oldest_unacked_message_age`), judged against
//! the estate's queue thresholds.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Utc};
use serde_json::Value;

use super::Google;
use crate::estate::Thresholds;
use crate::model::{Observation, Outcome};
use crate::probe::queue::{self, Backlog};

const API: &str = "Cloud Monitoring API";
const DEPTH: &str = "pubsub.googleapis.com/subscription/num_undelivered_messages";
const AGE: &str = "pubsub.googleapis.com/subscription/oldest_unacked_message_age";

/// The list path of one metric over the last five whole minutes, so every probe of a poll
/// cycle asks the very same URL (and shares one call).
fn path(project: &str, metric: &str, now: DateTime<Utc>) -> String {
    let end = now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now);
    let start = end - TimeDelta::minutes(5);
    let ts = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let filter = format!("metric.type=\"{metric}\" AND resource.type=\"pubsub_subscription\"");
    format!(
        "v3/projects/{project}/timeSeries?filter={}&interval.startTime={}&interval.endTime={}&aggregation.alignmentPeriod=60s&aggregation.perSeriesAligner=ALIGN_MAX&view=FULL",
        encode(&filter),
        encode(&ts(start)),
        encode(&ts(end))
    )
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The newest point of the series for `subscription`, as a number.
fn latest(series: &[Value], subscription: &str) -> Option<f64> {
    let s = series.iter().find(|s| {
        s.pointer("/resource/labels/subscription_id")
            .and_then(Value::as_str)
            == Some(subscription)
    })?;
    let value = s.pointer("/points/0/value")?;
    value
        .get("int64Value")
        .and_then(|v| {
            v.as_str()
                .and_then(|t| t.parse().ok())
                .or_else(|| v.as_f64())
        })
        .or_else(|| value.get("doubleValue").and_then(Value::as_f64))
}

pub async fn probe(
    google: &Google,
    project: &str,
    subscription: &str,
    thresholds: &Thresholds,
) -> Outcome {
    let short = subscription.rsplit('/').next().unwrap_or(subscription);
    let now = Utc::now();
    let depth = google
        .list(
            "monitoring.googleapis.com",
            &path(project, DEPTH, now),
            "timeSeries",
        )
        .await;
    let age = google
        .list(
            "monitoring.googleapis.com",
            &path(project, AGE, now),
            "timeSeries",
        )
        .await;
    let what = format!("Pub/Sub subscription '{short}'");
    match (depth, age) {
        (Ok(depth), Ok(age)) => match latest(&depth, short) {
            Some(d) => Outcome::Observed(observe(short, d, latest(&age, short), thresholds)),
            None => Outcome::Observed(Observation::unknown(format!(
                "Cloud Monitoring has no recent backlog figures for {what} in project '{project}' (no messages published for five minutes, or the subscription does not exist)"
            ))),
        },
        (Err(e), _) | (_, Err(e)) => e.outcome(API, &what),
    }
}

/// The status of a subscription's backlog.
pub fn observe(
    name: &str,
    depth: f64,
    oldest_s: Option<f64>,
    thresholds: &Thresholds,
) -> Observation {
    let backlog = Backlog {
        depth: depth.max(0.0) as u64,
        oldest_age: oldest_s
            .filter(|a| a.is_finite() && *a >= 0.0)
            .map(Duration::from_secs_f64),
        consumers: None,
    };
    let verdict = queue::judge(&format!("subscription '{name}'"), &backlog, thresholds);
    let mut obs = Observation::new(verdict.status, queue::summary(&backlog));
    obs.error = verdict.reason;
    obs.metrics
        .insert("depth".to_string(), Value::from(backlog.depth));
    obs.queue = Some(queue::figures(&backlog, BTreeMap::new()));
    obs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_newest_point_of_the_right_series() {
        let series = vec![
            json!({"resource": {"labels": {"subscription_id": "other"}}, "points": [{"value": {"int64Value": "9"}}]}),
            json!({"resource": {"labels": {"subscription_id": "chat"}}, "points": [{"value": {"int64Value": "1532"}}, {"value": {"int64Value": "10"}}]}),
        ];
        assert_eq!(latest(&series, "chat"), Some(1532.0));
        assert_eq!(latest(&series, "none"), None);
    }

    #[test]
    fn a_backlog_above_threshold_is_degraded() {
        let th = Thresholds {
            warn_depth: Some(1000),
            crit_depth: None,
            max_oldest_age: Some(Duration::from_secs(600)),
        };
        let obs = observe("chat", 1532.0, Some(30.0), &th);
        assert_eq!(obs.status, crate::model::Status::Degraded);
        assert_eq!(obs.queue.and_then(|q| q.depth), Some(1532));
        let calm = observe("chat", 3.0, Some(2.0), &th);
        assert_eq!(calm.status, crate::model::Status::Up);
    }

    #[test]
    fn one_url_per_minute() {
        let t = DateTime::parse_from_rfc3339("2026-11-23T01:02:33Z")
            .expect("t")
            .with_timezone(&Utc);
        let t2 = DateTime::parse_from_rfc3339("2026-11-23T01:02:59Z")
            .expect("t")
            .with_timezone(&Utc);
        assert_eq!(path("p", DEPTH, t), path("p", DEPTH, t2));
        assert!(path("p", DEPTH, t).contains("interval.endTime=2026-11-23T01%3A02%3A00Z"));
    }
}

//! Queue judgement shared by every queue probe (Redis lists, RabbitMQ, and later Cloud Tasks
//! and Pub/Sub): a backlog (depth, age of the oldest message, consumers) against the estate's
//! thresholds gives a status and one sentence. Pure: no IO.
//!
//! Rules, worst first:
//! - depth above `crit_depth` → down (the queue is not being worked off);
//! - depth above `warn_depth` → degraded;
//! - oldest message older than `max_oldest_age` → degraded;
//! - messages waiting while the backend reports zero consumers → degraded.
//!
//! "Above" is strict: a depth equal to the threshold is still within it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::estate::Thresholds;
use crate::model::{QueueFigures, Status};

/// What a queue probe measured.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Backlog {
    /// Messages waiting to be handed out.
    pub depth: u64,
    /// Age of the oldest waiting message, when the backend lets opsdeck know it.
    pub oldest_age: Option<Duration>,
    /// Consumers attached, when the backend knows.
    pub consumers: Option<u64>,
}

/// The status of a backlog and, unless up, why.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub status: Status,
    pub reason: Option<String>,
}

/// Judges a backlog of the queue named `what` (`queue 'emails'`) against its thresholds.
pub fn judge(what: &str, backlog: &Backlog, thresholds: &Thresholds) -> Verdict {
    let depth = backlog.depth;
    let mut degraded: Vec<String> = Vec::new();
    if let Some(crit) = thresholds.crit_depth
        && depth > crit
    {
        return Verdict {
            status: Status::Down,
            reason: Some(format!(
                "{what} holds {} messages, above crit_depth {}",
                count(depth),
                count(crit)
            )),
        };
    }
    if let Some(warn) = thresholds.warn_depth
        && depth > warn
    {
        degraded.push(format!(
            "holds {} messages, above warn_depth {}",
            count(depth),
            count(warn)
        ));
    }
    if let (Some(limit), Some(age)) = (thresholds.max_oldest_age, backlog.oldest_age)
        && depth > 0
        && age > limit
    {
        degraded.push(format!(
            "has a message waiting for {}, longer than max_oldest_age {}",
            age_text(age),
            humantime::format_duration(limit)
        ));
    }
    if backlog.consumers == Some(0) && depth > 0 {
        degraded.push(format!("has no consumers while {} wait", count(depth)));
    }
    if degraded.is_empty() {
        Verdict {
            status: Status::Up,
            reason: None,
        }
    } else {
        Verdict {
            status: Status::Degraded,
            reason: Some(format!("{what} {}", degraded.join(" and "))),
        }
    }
}

/// The figures of a backlog for the queues view and the JSON, plus backend extras.
pub fn figures(backlog: &Backlog, extra: BTreeMap<String, Value>) -> QueueFigures {
    QueueFigures {
        depth: Some(backlog.depth),
        oldest_age_s: backlog
            .oldest_age
            .map(|a| (a.as_secs_f64() * 10.0).round() / 10.0),
        consumers: backlog.consumers,
        extra,
    }
}

/// The summary line of a backlog: "1,204 waiting · oldest 4m 10s · 3 consumers".
pub fn summary(backlog: &Backlog) -> String {
    let mut line = format!("{} waiting", count(backlog.depth));
    if let Some(age) = backlog.oldest_age
        && backlog.depth > 0
    {
        line.push_str(&format!(" · oldest {}", age_text(age)));
    }
    if let Some(c) = backlog.consumers {
        let noun = if c == 1 { "consumer" } else { "consumers" };
        line.push_str(&format!(" · {c} {noun}"));
    }
    line
}

/// A count with thousands separators: `12,345`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An age to the second: `4m 10s`.
fn age_text(age: Duration) -> String {
    humantime::format_duration(Duration::from_secs(age.as_secs())).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn th(warn: Option<u64>, crit: Option<u64>, age: Option<u64>) -> Thresholds {
        Thresholds {
            warn_depth: warn,
            crit_depth: crit,
            max_oldest_age: age.map(Duration::from_secs),
        }
    }

    fn backlog(depth: u64, age: Option<u64>, consumers: Option<u64>) -> Backlog {
        Backlog {
            depth,
            oldest_age: age.map(Duration::from_secs),
            consumers,
        }
    }

    #[test]
    fn depth_thresholds_are_strict() {
        let t = th(Some(100), Some(1000), None);
        assert_eq!(judge("q", &backlog(100, None, None), &t).status, Status::Up);
        assert_eq!(
            judge("q", &backlog(101, None, None), &t).status,
            Status::Degraded
        );
        assert_eq!(
            judge("q", &backlog(1000, None, None), &t).status,
            Status::Degraded
        );
        let down = judge("queue 'emails'", &backlog(1001, None, None), &t);
        assert_eq!(down.status, Status::Down);
        assert_eq!(
            down.reason.as_deref(),
            Some("queue 'emails' holds 1,001 messages, above crit_depth 1,000")
        );
    }

    #[test]
    fn an_old_head_message_degrades_only_when_something_waits() {
        let t = th(None, None, Some(600));
        let old = judge("queue 'q'", &backlog(3, Some(601), None), &t);
        assert_eq!(old.status, Status::Degraded);
        assert_eq!(
            old.reason.as_deref(),
            Some("queue 'q' has a message waiting for 10m 1s, longer than max_oldest_age 10m")
        );
        assert_eq!(
            judge("q", &backlog(3, Some(600), None), &t).status,
            Status::Up
        );
        assert_eq!(
            judge("q", &backlog(0, Some(9999), None), &t).status,
            Status::Up
        );
    }

    #[test]
    fn waiting_messages_without_consumers_degrade() {
        let none = Thresholds::default();
        assert_eq!(
            judge("q", &backlog(5, None, Some(0)), &none).status,
            Status::Degraded
        );
        assert_eq!(
            judge("q", &backlog(0, None, Some(0)), &none).status,
            Status::Up
        );
        assert_eq!(
            judge("q", &backlog(5, None, Some(2)), &none).status,
            Status::Up
        );
    }

    #[test]
    fn several_degradations_are_one_sentence() {
        let t = th(Some(1), None, Some(60));
        let v = judge("queue 'q'", &backlog(2, Some(120), Some(0)), &t);
        assert_eq!(v.status, Status::Degraded);
        let reason = v.reason.expect("reason");
        assert!(reason.starts_with("queue 'q' holds 2 messages, above warn_depth 1 and "));
        assert!(
            reason.ends_with("has no consumers while 2 wait"),
            "{reason}"
        );
    }

    #[test]
    fn summaries_and_figures() {
        assert_eq!(
            summary(&backlog(1204, Some(250), Some(3))),
            "1,204 waiting · oldest 4m 10s · 3 consumers"
        );
        assert_eq!(
            summary(&backlog(0, Some(250), Some(1))),
            "0 waiting · 1 consumer"
        );
        let f = figures(&backlog(7, Some(2), None), BTreeMap::new());
        assert_eq!(f.depth, Some(7));
        assert_eq!(f.oldest_age_s, Some(2.0));
        assert_eq!(f.consumers, None);
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000_000), "1,000,000");
    }
}

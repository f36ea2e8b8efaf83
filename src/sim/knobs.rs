//! The simulator's own per-resource knobs, set by scenario events under `sim.` and never
//! served: the error, latency, hang or reset the resource's API answers with, which action
//! repairs a failed resource, and the backlog rates of a queue or subscription. Pure.

use std::time::Duration;

use serde_json::Value;

use super::backlog::Backlog;

/// What a request about a resource meets before (or instead of) its answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Fault {
    /// The HTTP code the API answers with (a google.rpc.Status), if any.
    pub error: Option<u16>,
    /// A google.rpc.RetryInfo detail on that error.
    pub retry_delay: Option<Duration>,
    /// Wall-clock delay before answering.
    pub latency: Duration,
    /// Never answer (until the simulator stops).
    pub hang: bool,
    /// Drop the connection without an answer.
    pub reset: bool,
}

/// Which action repairs a failed resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum FixedBy {
    /// A failover to the standby (the primary's zone is lost, the standby is fine).
    Failover,
    /// Only a restore (the data or the instance itself is lost).
    #[default]
    Restore,
    /// A Cloud Run service failing on its latest revision: sending all traffic to an earlier
    /// revision clears it.
    Rollback,
}

/// Every knob of one resource.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Knobs {
    pub fault: Fault,
    pub fixed_by: FixedBy,
    /// For queues and subscriptions.
    pub backlog: Option<Backlog>,
}

impl Knobs {
    /// Applies one `sim.` knob (the key without `sim.`). Values were checked when the
    /// scenario was read; anything else is ignored.
    pub fn set(&mut self, knob: &str, value: &Value) {
        let duration = || {
            value
                .as_str()
                .and_then(|s| humantime::parse_duration(s).ok())
        };
        match knob {
            "error" => {
                self.fault.error = match value {
                    Value::Number(n) => n.as_u64().and_then(|c| u16::try_from(c).ok()),
                    Value::String(s) => super::google::rpc_code_of(s),
                    _ => None,
                }
                .filter(|c| *c != 0);
            }
            "retry_delay" => self.fault.retry_delay = duration().filter(|d| !d.is_zero()),
            "latency" => self.fault.latency = duration().unwrap_or_default(),
            "hang" => self.fault.hang = value.as_bool().unwrap_or(false),
            "reset" => self.fault.reset = value.as_bool().unwrap_or(false),
            "fixed_by" => {
                self.fixed_by = match value.as_str() {
                    Some("failover") => FixedBy::Failover,
                    Some("rollback") => FixedBy::Rollback,
                    _ => FixedBy::Restore,
                };
            }
            "arrival_rate" | "dispatch_rate" | "backlog" | "oldest_age" => {
                let Some(b) = self.backlog.as_mut() else {
                    return;
                };
                match knob {
                    "arrival_rate" => b.arrival_rate = value.as_f64().unwrap_or(b.arrival_rate),
                    "dispatch_rate" => b.dispatch_rate = value.as_f64().unwrap_or(b.dispatch_rate),
                    "backlog" => b.count = value.as_f64().unwrap_or(b.count),
                    _ => b.oldest_age = duration().map_or(b.oldest_age, |d| d.as_secs_f64()),
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn knobs_take_codes_names_and_durations() {
        let mut k = Knobs::default();
        k.set("error", &json!("RESOURCE_EXHAUSTED"));
        k.set("retry_delay", &json!("30s"));
        assert_eq!(k.fault.error, Some(429));
        assert_eq!(k.fault.retry_delay, Some(Duration::from_secs(30)));
        k.set("error", &json!(0));
        assert_eq!(k.fault.error, None);
        k.set("fixed_by", &json!("failover"));
        assert_eq!(k.fixed_by, FixedBy::Failover);
        k.set("backlog", &json!(10));
        assert!(k.backlog.is_none(), "only queues have a backlog");
        k.backlog = Some(Backlog::steady(0.0, 1.0));
        k.set("backlog", &json!(10));
        k.set("oldest_age", &json!("20m"));
        let b = k.backlog.as_ref().expect("backlog");
        assert!((b.count - 10.0).abs() < f64::EPSILON);
        assert!((b.oldest_age - 1200.0).abs() < f64::EPSILON);
    }
}

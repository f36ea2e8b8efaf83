//! `cloud_sql.pitr_clone`: point-in-time recovery. Clones the Cloud SQL instance, as it was at
//! a moment within its recovery window, into a new instance (`instances.clone`); the source is
//! left alone. The moment is an RFC 3339 time, a time ago ("15m ago"), or "latest" (the
//! latest recovery time the API reports).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::support::{
    SQL_API, google_get, google_send, need_str, sql_find_started, sql_instance_url, sql_operation,
    sql_target,
};
use super::{Action, ActionError, ArgKind, ArgSpec, Cx, Plan, Request, Submitted, text_arg};
use crate::estate::Kind;

pub struct PitrClone;

impl Action for PitrClone {
    const NAME: &'static str = "cloud_sql.pitr_clone";
    const SUMMARY: &'static str = "Clone a Cloud SQL instance as it was at a point in time into a new instance (POST …/clone)";
    const DESTRUCTIVE: bool = false;
    const IDEMPOTENT: bool = false;
    const KINDS: &'static [Kind] = &[Kind::CloudSql];
    const ARGS: &'static [ArgSpec] = &[
        ArgSpec {
            name: "point_in_time",
            kind: ArgKind::Text,
            required: false,
            help: "RFC 3339 time, a time ago (\"15m ago\"), or \"latest\" (the default)",
        },
        ArgSpec {
            name: "destination",
            kind: ArgKind::Text,
            required: false,
            help: "the new instance's name (default: <instance>-pitr-<yyyymmdd-hhmm>)",
        },
    ];

    async fn prepare(cx: &Cx<'_>) -> Result<Plan, ActionError> {
        let (_, instance) = sql_target(cx)?;
        let base = sql_instance_url(cx)?;
        let asked = text_arg(cx.args, "point_in_time")?.unwrap_or("latest");
        let at = match asked {
            "latest" => {
                let doc = google_get(cx, SQL_API, &format!("{base}/getLatestRecoveryTime")).await?;
                let latest = need_str(&doc, "/latestRecoveryTime", "latest recovery time")?;
                parse_time(latest).ok_or_else(|| {
                    ActionError::Failed(format!(
                        "the latest recovery time \"{latest}\" is not a time"
                    ))
                })?
            }
            other => point_in_time(other, Utc::now())?,
        };
        let destination = match text_arg(cx.args, "destination")? {
            Some(d) => d.to_string(),
            None => format!("{instance}-pitr-{}", at.format("%Y%m%d-%H%M")),
        };
        check_name(&destination)?;
        let stamp = at.to_rfc3339_opts(SecondsFormat::Millis, true);
        let body = json!({"cloneContext": {
            "kind": "sql#cloneContext",
            "destinationInstanceName": destination,
            "pointInTime": stamp,
        }});
        let mut plan = Plan {
            requests: vec![Request::http("POST", format!("{base}/clone"), Some(body))],
            ..Plan::default()
        };
        plan.facts.insert("point_in_time".into(), json!(stamp));
        plan.facts.insert("destination".into(), json!(destination));
        Ok(plan)
    }

    async fn submit(cx: &Cx<'_>, plan: &Plan) -> Result<Submitted, ActionError> {
        let answer = google_send(cx, SQL_API, &plan.requests[0]).await?;
        let op = sql_operation(cx, &answer)?;
        let dest = plan
            .facts
            .get("destination")
            .and_then(Value::as_str)
            .unwrap_or("the new instance");
        Ok(Submitted {
            summary: format!("clone into {dest} accepted: operation {}", op.short()),
            operation: Some(op),
        })
    }

    async fn find_started(
        cx: &Cx<'_>,
        since: DateTime<Utc>,
    ) -> Result<Option<Submitted>, ActionError> {
        sql_find_started(cx, "CLONE", since).await
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// An RFC 3339 time or a time ago ("15m ago"), relative to `now`.
pub fn point_in_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ActionError> {
    if let Some(t) = parse_time(text) {
        if t > now {
            return Err(ActionError::Invalid(format!(
                "point_in_time \"{text}\" is in the future"
            )));
        }
        return Ok(t);
    }
    if let Some(ago) = text.trim().strip_suffix("ago") {
        let d = humantime::parse_duration(ago.trim()).map_err(|_| {
            ActionError::Invalid(format!(
                "point_in_time \"{text}\": \"{}\" is not a duration",
                ago.trim()
            ))
        })?;
        let d = chrono::Duration::from_std(d).map_err(|_| {
            ActionError::Invalid(format!("point_in_time \"{text}\" is too far back"))
        })?;
        return Ok(now - d);
    }
    Err(ActionError::Invalid(format!(
        "point_in_time \"{text}\" is not an RFC 3339 time (2026-05-03T09:00:00Z), a time ago (\"15m ago\") or \"latest\""
    )))
}

/// Cloud SQL instance names: a lower-case letter, then lower-case letters, digits and
/// hyphens, at most 98 characters.
fn check_name(name: &str) -> Result<(), ActionError> {
    let ok = name.len() <= 98
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ActionError::Invalid(format!(
            "destination \"{name}\" is not a Cloud SQL instance name (lower-case letters, digits and hyphens, starting with a letter)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_times_and_times_ago() {
        let now = parse_time("2026-05-03T10:00:00Z").expect("time");
        assert_eq!(
            point_in_time("15m ago", now).expect("ago"),
            parse_time("2026-05-03T09:45:00Z").expect("time")
        );
        assert_eq!(
            point_in_time("2026-05-03T09:00:00Z", now).expect("rfc3339"),
            parse_time("2026-05-03T09:00:00Z").expect("time")
        );
        assert!(point_in_time("2026-05-04T00:00:00Z", now).is_err());
        assert!(point_in_time("yesterday", now).is_err());
        assert!(check_name("tappass-db-pitr-20260503-0900").is_ok());
        assert!(check_name("Tappass").is_err());
    }
}

//! `memorystore.failover`: fails a Standard Tier Memorystore for Redis instance over to its
//! replica in the other zone (`instances.failover`). The data protection mode decides whether
//! the API may lose writes not yet replicated: `LIMITED_DATA_LOSS` (the default) only fails
//! over when the replica is nearly caught up; `FORCE_DATA_LOSS` fails over regardless.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::support::{REDIS_API, REDIS_HOST, google_get, google_send, long_running};
use super::{
    Action, ActionError, ArgKind, ArgSpec, Cx, Operation, Plan, Request, Submitted, text_arg,
};
use crate::estate::{Kind, Target};

pub struct Failover;

const MODES: &[&str] = &["LIMITED_DATA_LOSS", "FORCE_DATA_LOSS"];

impl Action for Failover {
    const NAME: &'static str = "memorystore.failover";
    const SUMMARY: &'static str =
        "Fail a Standard Tier Memorystore instance over to its replica (POST …:failover)";
    const DESTRUCTIVE: bool = true;
    const IDEMPOTENT: bool = false;
    const KINDS: &'static [Kind] = &[Kind::Memorystore];
    const ARGS: &'static [ArgSpec] = &[ArgSpec {
        name: "data_protection_mode",
        kind: ArgKind::Text,
        required: false,
        help: "LIMITED_DATA_LOSS (default) or FORCE_DATA_LOSS",
    }];

    async fn prepare(cx: &Cx<'_>) -> Result<Plan, ActionError> {
        let url = instance_url(cx)?;
        let mode = text_arg(cx.args, "data_protection_mode")?.unwrap_or(MODES[0]);
        if !MODES.contains(&mode) {
            return Err(ActionError::Invalid(format!(
                "data_protection_mode is \"{mode}\"; use LIMITED_DATA_LOSS or FORCE_DATA_LOSS"
            )));
        }
        let doc = google_get(cx, REDIS_API, &url).await?;
        let tier = doc.get("tier").and_then(Value::as_str).unwrap_or("unknown");
        if tier != "STANDARD_HA" {
            return Err(ActionError::Invalid(format!(
                "the instance is {tier} tier: only a STANDARD_HA instance has a replica to fail over to"
            )));
        }
        let mut plan = Plan {
            requests: vec![Request::http(
                "POST",
                format!("{url}:failover"),
                Some(json!({"dataProtectionMode": mode})),
            )],
            ..Plan::default()
        };
        if let Some(z) = doc.get("currentLocationId") {
            plan.facts.insert("primary_zone".into(), z.clone());
        }
        Ok(plan)
    }

    async fn submit(cx: &Cx<'_>, plan: &Plan) -> Result<Submitted, ActionError> {
        let answer = google_send(cx, REDIS_API, &plan.requests[0]).await?;
        let op = long_running(cx, (REDIS_HOST, "v1", REDIS_API), &answer)?;
        Ok(Submitted {
            summary: format!("failover accepted: operation {}", op.short()),
            operation: Some(op),
        })
    }

    async fn find_started(
        cx: &Cx<'_>,
        since: DateTime<Utc>,
    ) -> Result<Option<Submitted>, ActionError> {
        let Target::Memorystore {
            project,
            location,
            instance,
        } = &cx.service.target
        else {
            return Ok(None);
        };
        let url = cx.clients.google.url(
            REDIS_HOST,
            &format!("v1/projects/{project}/locations/{location}/operations"),
        );
        let list = google_get(cx, REDIS_API, &url).await?;
        let since = since - chrono::Duration::seconds(30);
        let suffix = format!("/instances/{instance}");
        let found = list
            .get("operations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|op| {
                op.pointer("/metadata/verb").and_then(Value::as_str) == Some("failover")
                    && op
                        .pointer("/metadata/target")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t.ends_with(&suffix))
                    && op
                        .pointer("/metadata/createTime")
                        .and_then(Value::as_str)
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                        .is_some_and(|t| t.with_timezone(&Utc) >= since)
            })
            .find_map(|op| {
                Operation::long_running(&cx.clients.google, (REDIS_HOST, "v1", REDIS_API), op)
            });
        Ok(found.map(|op| Submitted {
            summary: format!(
                "an earlier failover request was accepted: operation {}",
                op.short()
            ),
            operation: Some(op),
        }))
    }
}

fn instance_url(cx: &Cx<'_>) -> Result<String, ActionError> {
    match &cx.service.target {
        Target::Memorystore {
            project,
            location,
            instance,
        } => Ok(cx.clients.google.url(
            REDIS_HOST,
            &format!("v1/projects/{project}/locations/{location}/instances/{instance}"),
        )),
        _ => Err(ActionError::Invalid(format!(
            "'{}' is not a memorystore service",
            cx.service.id
        ))),
    }
}

//! `cloud_sql.failover`: fails a regional (high-availability) Cloud SQL instance over to its
//! standby. The `settingsVersion` the API requires comes from a fresh read of the instance,
//! so a failover prepared against stale settings is refused rather than applied.

use serde_json::{Value, json};

use super::support::{
    SQL_API, google_get, google_send, sql_find_started, sql_instance_url, sql_operation,
};
use super::{Action, ActionError, ArgSpec, Cx, Plan, Request, Submitted};
use crate::estate::Kind;

pub struct Failover;

impl Action for Failover {
    const NAME: &'static str = "cloud_sql.failover";
    const SUMMARY: &'static str =
        "Fail a regional Cloud SQL instance over to its standby (POST …/failover)";
    const DESTRUCTIVE: bool = true;
    const IDEMPOTENT: bool = false;
    const KINDS: &'static [Kind] = &[Kind::CloudSql];
    const ARGS: &'static [ArgSpec] = &[];

    async fn prepare(cx: &Cx<'_>) -> Result<Plan, ActionError> {
        let url = sql_instance_url(cx)?;
        let doc = google_get(cx, SQL_API, &url).await?;
        let availability = doc
            .pointer("/settings/availabilityType")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        if availability != "REGIONAL" {
            return Err(ActionError::Invalid(format!(
                "the instance's availabilityType is {availability}: only a REGIONAL instance has a standby to fail over to"
            )));
        }
        let version = doc
            .pointer("/settings/settingsVersion")
            .cloned()
            .map(|v| match v {
                Value::Number(n) => Value::from(n.to_string()),
                other => other,
            })
            .ok_or_else(|| {
                ActionError::Failed("the instance has no settings.settingsVersion".to_string())
            })?;
        let body =
            json!({"failoverContext": {"kind": "sql#failoverContext", "settingsVersion": version}});
        let mut plan = Plan {
            requests: vec![Request::http("POST", format!("{url}/failover"), Some(body))],
            ..Plan::default()
        };
        plan.facts.insert("settings_version".into(), version);
        for (fact, key) in [("zone", "gceZone"), ("standby_zone", "secondaryGceZone")] {
            if let Some(v) = doc.get(key) {
                plan.facts.insert(fact.into(), v.clone());
            }
        }
        Ok(plan)
    }

    async fn submit(cx: &Cx<'_>, plan: &Plan) -> Result<Submitted, ActionError> {
        let answer = google_send(cx, SQL_API, &plan.requests[0]).await?;
        let op = sql_operation(cx, &answer)?;
        Ok(Submitted {
            summary: format!("failover accepted: operation {}", op.short()),
            operation: Some(op),
        })
    }

    async fn find_started(
        cx: &Cx<'_>,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Submitted>, ActionError> {
        sql_find_started(cx, "FAILOVER", since).await
    }
}

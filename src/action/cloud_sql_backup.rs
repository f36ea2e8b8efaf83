//! `cloud_sql.backup`: takes an on-demand backup of a Cloud SQL instance (`backupRuns.insert`),
//! as gcloud does, and follows the backup operation to DONE.

use serde_json::json;

use super::support::{
    SQL_API, google_send, sql_find_started, sql_instance_url, sql_operation, sql_target,
};
use super::{Action, ActionError, ArgKind, ArgSpec, Cx, Plan, Request, Submitted, text_arg};
use crate::estate::Kind;

pub struct Backup;

impl Action for Backup {
    const NAME: &'static str = "cloud_sql.backup";
    const SUMMARY: &'static str =
        "Take an on-demand backup of a Cloud SQL instance (POST …/backupRuns)";
    const DESTRUCTIVE: bool = false;
    const IDEMPOTENT: bool = false;
    const KINDS: &'static [Kind] = &[Kind::CloudSql];
    const ARGS: &'static [ArgSpec] = &[ArgSpec {
        name: "description",
        kind: ArgKind::Text,
        required: false,
        help: "a note stored with the backup",
    }];

    async fn prepare(cx: &Cx<'_>) -> Result<Plan, ActionError> {
        let (_, instance) = sql_target(cx)?;
        let url = format!("{}/backupRuns", sql_instance_url(cx)?);
        let mut body = json!({"instance": instance, "kind": "sql#backupRun"});
        if let Some(d) = text_arg(cx.args, "description")? {
            body["description"] = json!(d);
        }
        Ok(Plan {
            requests: vec![Request::http("POST", url, Some(body))],
            ..Plan::default()
        })
    }

    async fn submit(cx: &Cx<'_>, plan: &Plan) -> Result<Submitted, ActionError> {
        let answer = google_send(cx, SQL_API, &plan.requests[0]).await?;
        let op = sql_operation(cx, &answer)?;
        Ok(Submitted {
            summary: format!("backup started: operation {}", op.short()),
            operation: Some(op),
        })
    }

    async fn find_started(
        cx: &Cx<'_>,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Submitted>, ActionError> {
        sql_find_started(cx, "BACKUP_VOLUME", since).await
    }
}

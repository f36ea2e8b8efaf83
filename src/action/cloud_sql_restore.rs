//! `cloud_sql.restore`: restores a backup into the Cloud SQL instance (`restoreBackup`): the
//! backup run named by `backup_id`, or else the latest successful one, read fresh from the
//! instance's backup runs. Everything written since that backup is lost; the plan says when
//! the backup was taken.

use serde_json::{Value, json};

use super::support::{
    SQL_API, google_get, google_send, sql_find_started, sql_instance_url, sql_operation, sql_target,
};
use super::{Action, ActionError, ArgKind, ArgSpec, Cx, Plan, Request, Submitted, text_arg};
use crate::estate::Kind;

pub struct Restore;

impl Action for Restore {
    const NAME: &'static str = "cloud_sql.restore";
    const SUMMARY: &'static str = "Restore a backup into a Cloud SQL instance: the one named, else the latest successful (POST …/restoreBackup)";
    const DESTRUCTIVE: bool = true;
    const IDEMPOTENT: bool = false;
    const KINDS: &'static [Kind] = &[Kind::CloudSql];
    const ARGS: &'static [ArgSpec] = &[ArgSpec {
        name: "backup_id",
        kind: ArgKind::Text,
        required: false,
        help: "the backup run id to restore; empty or absent: the latest successful backup",
    }];

    async fn prepare(cx: &Cx<'_>) -> Result<Plan, ActionError> {
        let (project, instance) = sql_target(cx)?;
        let base = sql_instance_url(cx)?;
        let list = google_get(cx, SQL_API, &format!("{base}/backupRuns?maxResults=100")).await?;
        let runs: Vec<&Value> = list
            .get("items")
            .and_then(Value::as_array)
            .map(|items| items.iter().collect())
            .unwrap_or_default();
        let wanted = text_arg(cx.args, "backup_id")?;
        let run = match wanted {
            Some(id) => runs
                .iter()
                .find(|r| id_of(r).as_deref() == Some(id))
                .copied()
                .ok_or_else(|| {
                    ActionError::Invalid(format!("instance '{instance}' has no backup run {id}"))
                })?,
            None => runs
                .iter()
                .filter(|r| r.get("status").and_then(Value::as_str) == Some("SUCCESSFUL"))
                .max_by_key(|r| {
                    taken_at(r).and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                })
                .copied()
                .ok_or_else(|| {
                    ActionError::Invalid(format!(
                        "instance '{instance}' has no successful backup to restore"
                    ))
                })?,
        };
        if run.get("status").and_then(Value::as_str) != Some("SUCCESSFUL") {
            return Err(ActionError::Invalid(format!(
                "backup run {} did not succeed (status {}) and cannot be restored",
                id_of(run).unwrap_or_default(),
                run.get("status")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown")
            )));
        }
        let id = id_of(run).unwrap_or_default();
        let body = json!({"restoreBackupContext": {
            "kind": "sql#restoreBackupContext",
            "backupRunId": id,
            "instanceId": instance,
            "project": project,
        }});
        let mut plan = Plan {
            requests: vec![Request::http(
                "POST",
                format!("{base}/restoreBackup"),
                Some(body),
            )],
            ..Plan::default()
        };
        plan.facts.insert("backup_run_id".into(), json!(id));
        if let Some(t) = taken_at(run) {
            plan.facts.insert("backup_taken_at".into(), json!(t));
        }
        Ok(plan)
    }

    async fn submit(cx: &Cx<'_>, plan: &Plan) -> Result<Submitted, ActionError> {
        let answer = google_send(cx, SQL_API, &plan.requests[0]).await?;
        let op = sql_operation(cx, &answer)?;
        Ok(Submitted {
            summary: format!("restore accepted: operation {}", op.short()),
            operation: Some(op),
        })
    }

    async fn find_started(
        cx: &Cx<'_>,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Submitted>, ActionError> {
        sql_find_started(cx, "RESTORE_VOLUME", since).await
    }
}

/// A backup run's id (an int64, sent as a string).
fn id_of(run: &Value) -> Option<String> {
    match run.get("id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// When the backup's data was taken: the start of its window, else of the run.
fn taken_at(run: &Value) -> Option<String> {
    ["windowStartTime", "startTime", "enqueuedTime"]
        .iter()
        .find_map(|k| run.get(*k).and_then(Value::as_str))
        .map(str::to_string)
}

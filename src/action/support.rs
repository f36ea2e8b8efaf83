//! What several verbs share: the locator of the target read from the estate, Google reads and
//! writes turned into action errors, and finding the Cloud SQL operation an interrupted write
//! started. No verb lives here.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{ActionError, Cx, Operation, Request, Submitted};
use crate::estate::Target;

pub(crate) const SQL_API: &str = "Cloud SQL Admin API";
pub(crate) const SQL_HOST: &str = "sqladmin.googleapis.com";
pub(crate) const RUN_API: &str = "Cloud Run Admin API";
pub(crate) const RUN_HOST: &str = "run.googleapis.com";
pub(crate) const TASKS_API: &str = "Cloud Tasks API";
pub(crate) const TASKS_HOST: &str = "cloudtasks.googleapis.com";
pub(crate) const REDIS_API: &str = "Memorystore for Redis API";
pub(crate) const REDIS_HOST: &str = "redis.googleapis.com";

/// The project and instance of a Cloud SQL target.
pub(crate) fn sql_target<'a>(cx: &'a Cx<'_>) -> Result<(&'a str, &'a str), ActionError> {
    match &cx.service.target {
        Target::CloudSql { project, instance } => Ok((project, instance)),
        _ => Err(not_kind(cx, "cloud_sql")),
    }
}

/// The instance URL of a Cloud SQL target (v1).
pub(crate) fn sql_instance_url(cx: &Cx<'_>) -> Result<String, ActionError> {
    let (project, instance) = sql_target(cx)?;
    Ok(cx.clients.google.url(
        SQL_HOST,
        &format!("v1/projects/{project}/instances/{instance}"),
    ))
}

/// The project, location and name of a Cloud Run target.
pub(crate) fn run_target<'a>(cx: &'a Cx<'_>) -> Result<(&'a str, &'a str, &'a str), ActionError> {
    match &cx.service.target {
        Target::CloudRun {
            project,
            location,
            service,
        } => Ok((project, location, service)),
        _ => Err(not_kind(cx, "cloud_run")),
    }
}

/// The v2 URL of a Cloud Run target.
pub(crate) fn run_service_url(cx: &Cx<'_>) -> Result<String, ActionError> {
    let (project, location, service) = run_target(cx)?;
    Ok(cx.clients.google.url(
        RUN_HOST,
        &format!("v2/projects/{project}/locations/{location}/services/{service}"),
    ))
}

/// The v2 URL of a Cloud Tasks queue target.
pub(crate) fn queue_url(cx: &Cx<'_>) -> Result<String, ActionError> {
    match &cx.service.target {
        Target::CloudTasks {
            project,
            location,
            queue,
            ..
        } => Ok(cx.clients.google.url(
            TASKS_HOST,
            &format!("v2/projects/{project}/locations/{location}/queues/{queue}"),
        )),
        _ => Err(not_kind(cx, "cloud_tasks")),
    }
}

fn not_kind(cx: &Cx<'_>, kind: &str) -> ActionError {
    ActionError::Invalid(format!(
        "'{}' is a {} service, not {kind}",
        cx.service.id, cx.service.kind
    ))
}

/// A Google read.
pub(crate) async fn google_get(cx: &Cx<'_>, api: &str, url: &str) -> Result<Value, ActionError> {
    cx.clients
        .google
        .get_json(url)
        .await
        .map_err(|e| ActionError::Failed(e.sentence(api)))
}

/// Sends one Google write. An answer lost on the way back (transport error, 502/503/504) is
/// "unknown": the write may have been applied, and it is not sent again here.
pub(crate) async fn google_send(
    cx: &Cx<'_>,
    api: &str,
    request: &Request,
) -> Result<Value, ActionError> {
    let method = http::Method::from_bytes(request.method.as_bytes())
        .map_err(|_| ActionError::Invalid(format!("'{}' is not an HTTP method", request.method)))?;
    cx.clients
        .google
        .send_json(method, &request.url, request.body.as_ref())
        .await
        .map_err(|e| {
            let sentence = e.sentence(api);
            match e {
                crate::probe::gcp::GoogleError::Transport(_) => {
                    ActionError::Unknown(format!("{sentence}; the request may have been applied"))
                }
                crate::probe::gcp::GoogleError::Api {
                    code: 502..=504, ..
                } => ActionError::Unknown(format!("{sentence}; the request may have been applied")),
                _ => ActionError::Failed(sentence),
            }
        })
}

/// The Cloud SQL operation of type `kind` (`FAILOVER`, `RESTORE_VOLUME`…) started on the
/// target since `since`, from the project's operation list.
pub(crate) async fn sql_find_started(
    cx: &Cx<'_>,
    kind: &str,
    since: DateTime<Utc>,
) -> Result<Option<Submitted>, ActionError> {
    let (project, instance) = sql_target(cx)?;
    let url = cx.clients.google.url(
        SQL_HOST,
        &format!("v1/projects/{project}/operations?instance={instance}&maxResults=20"),
    );
    let list = google_get(cx, SQL_API, &url).await?;
    // Allow for clocks a little apart between this host and Google.
    let since = since - chrono::Duration::seconds(30);
    let found = list
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|op| op.get("operationType").and_then(Value::as_str) == Some(kind))
        .filter(|op| {
            op.get("insertTime")
                .and_then(Value::as_str)
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .is_some_and(|t| t.with_timezone(&Utc) >= since)
        })
        .find_map(|op| Operation::cloud_sql(&cx.clients.google, project, op));
    Ok(found.map(|op| Submitted {
        summary: format!(
            "an earlier {kind} request was accepted: operation {}",
            op.short()
        ),
        operation: Some(op),
    }))
}

/// The Cloud SQL operation a write answered with, or an error saying the answer had none.
pub(crate) fn sql_operation(cx: &Cx<'_>, answer: &Value) -> Result<Operation, ActionError> {
    let (project, _) = sql_target(cx)?;
    Operation::cloud_sql(&cx.clients.google, project, answer).ok_or_else(|| {
        ActionError::Unknown(
            "the Cloud SQL Admin API accepted the request but named no operation to follow"
                .to_string(),
        )
    })
}

/// The long-running operation a Cloud Run or Memorystore write answered with; `api` is
/// (host, version, API name).
pub(crate) fn long_running(
    cx: &Cx<'_>,
    api: (&str, &str, &str),
    answer: &Value,
) -> Result<Operation, ActionError> {
    Operation::long_running(&cx.clients.google, api, answer).ok_or_else(|| {
        ActionError::Unknown(
            "the API accepted the request but named no operation to follow".to_string(),
        )
    })
}

/// A string field, or an error naming what is missing.
pub(crate) fn need_str<'a>(
    doc: &'a Value,
    pointer: &str,
    what: &str,
) -> Result<&'a str, ActionError> {
    doc.pointer(pointer)
        .and_then(|v| v.as_str())
        .ok_or_else(|| ActionError::Failed(format!("the answer has no {what} ('{pointer}')")))
}

/// The one request of a Cloud Tasks queue verb (`pause`, `resume`, `purge`): `POST …:verb`
/// with an empty body, as gcloud sends it.
pub(crate) fn queue_verb_plan(cx: &Cx<'_>, verb: &str) -> Result<super::Plan, ActionError> {
    let url = queue_url(cx)?;
    Ok(super::Plan {
        requests: vec![Request::http(
            "POST",
            format!("{url}:{verb}"),
            Some(Value::Object(serde_json::Map::new())),
        )],
        ..super::Plan::default()
    })
}

/// Sends a Cloud Tasks queue verb; the answer is the queue itself (no operation).
pub(crate) async fn queue_verb_submit(
    cx: &Cx<'_>,
    plan: &super::Plan,
) -> Result<super::Submitted, ActionError> {
    let answer = google_send(cx, TASKS_API, &plan.requests[0]).await?;
    let state = answer
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    Ok(super::Submitted {
        operation: None,
        summary: format!("the queue is now {state}"),
    })
}

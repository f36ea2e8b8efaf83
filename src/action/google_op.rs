//! Following a Google long-running operation to DONE: Cloud SQL's own `sql#operation`
//! (`status` PENDING → RUNNING → DONE, with `error.errors[]` when it failed) and
//! `google.longrunning.Operation` (Cloud Run, Memorystore: `done`, then `response` or a
//! google.rpc.Status `error`). Progress is reported at every read; the error comes back in
//! words. Reads are retried; nothing here writes.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ActionError, Pace, Progress};
use crate::probe::gcp::GoogleClient;

/// Reads of an operation that may fail in a row before opsdeck gives up following it.
const MAX_READ_FAILURES: u32 = 8;

/// Which shape of operation it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationApi {
    /// Cloud SQL Admin's `sql#operation`.
    CloudSql,
    /// `google.longrunning.Operation` (Cloud Run, Memorystore).
    LongRunning,
}

/// An operation a write started: enough to follow it, from this run or a resumed one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    pub api: OperationApi,
    /// The operation's name as the API gives it (a UUID for Cloud SQL, a full
    /// `projects/…/operations/…` path otherwise).
    pub name: String,
    /// Where it is read.
    pub url: String,
    /// The API that runs it, for messages ("Cloud SQL Admin API").
    pub api_name: String,
}

impl Operation {
    /// The operation a Cloud SQL write answered with.
    pub fn cloud_sql(google: &GoogleClient, project: &str, answer: &Value) -> Option<Operation> {
        let name = answer.get("name").and_then(Value::as_str)?;
        Some(Operation {
            api: OperationApi::CloudSql,
            name: name.to_string(),
            url: google.url(
                "sqladmin.googleapis.com",
                &format!("v1/projects/{project}/operations/{name}"),
            ),
            api_name: "Cloud SQL Admin API".to_string(),
        })
    }

    /// The `google.longrunning.Operation` a write answered with, read at `{version}/{name}`
    /// on `host`, run by the API called `api_name`.
    pub fn long_running(
        google: &GoogleClient,
        (host, version, api_name): (&str, &str, &str),
        answer: &Value,
    ) -> Option<Operation> {
        let name = answer.get("name").and_then(Value::as_str)?;
        Some(Operation {
            api: OperationApi::LongRunning,
            name: name.to_string(),
            url: google.url(host, &format!("{version}/{name}")),
            api_name: api_name.to_string(),
        })
    }

    /// The short id for messages: the last path segment.
    pub fn short(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or(&self.name)
    }
}

/// Where an operation stands after one read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    Working(String),
    Succeeded,
    Failed(String),
}

fn stage(op: &Operation, doc: &Value) -> Stage {
    match op.api {
        OperationApi::CloudSql => {
            let status = doc
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("UNKNOWN");
            let kind = doc
                .get("operationType")
                .and_then(Value::as_str)
                .unwrap_or("operation");
            if status != "DONE" {
                return Stage::Working(format!("{kind} {status}"));
            }
            let errors: Vec<String> = doc
                .pointer("/error/errors")
                .and_then(Value::as_array)
                .map(|errs| {
                    errs.iter()
                        .map(|e| {
                            let message = e.get("message").and_then(Value::as_str).unwrap_or("");
                            match e.get("code").and_then(Value::as_str) {
                                Some(code) if !message.is_empty() => format!("{message} ({code})"),
                                Some(code) => code.to_string(),
                                None => message.to_string(),
                            }
                        })
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            if errors.is_empty() {
                Stage::Succeeded
            } else {
                Stage::Failed(format!("{kind} failed: {}", errors.join("; ")))
            }
        }
        OperationApi::LongRunning => {
            let done = doc.get("done").and_then(Value::as_bool).unwrap_or(false);
            if !done {
                let note = doc
                    .pointer("/metadata/statusMessage")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .or_else(|| doc.pointer("/metadata/verb").and_then(Value::as_str))
                    .unwrap_or("running");
                return Stage::Working(note.to_string());
            }
            match doc.get("error") {
                Some(err) if !err.is_null() => {
                    let message = err
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("no message");
                    let status = err
                        .get("status")
                        .and_then(Value::as_str)
                        .or_else(|| err.get("code").and_then(Value::as_i64).map(rpc_code_name))
                        .unwrap_or("error");
                    Stage::Failed(format!("{message} ({status})"))
                }
                _ => Stage::Succeeded,
            }
        }
    }
}

/// The google.rpc.Code name of a numeric code.
fn rpc_code_name(code: i64) -> &'static str {
    match code {
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        16 => "UNAUTHENTICATED",
        _ => "error",
    }
}

/// Reads the operation until it is done, reporting progress at every read; returns its last
/// document, or its error in words.
pub async fn follow(
    google: &GoogleClient,
    op: &Operation,
    pace: Pace,
    say: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Value, ActionError> {
    let started = Instant::now();
    let mut failures = 0;
    loop {
        match google.get_json(&op.url).await {
            Ok(doc) => {
                failures = 0;
                match stage(op, &doc) {
                    Stage::Succeeded => {
                        say(Progress {
                            text: format!(
                                "operation {} DONE after {}",
                                op.short(),
                                elapsed(started)
                            ),
                        });
                        return Ok(doc);
                    }
                    Stage::Failed(why) => {
                        return Err(ActionError::Operation(format!(
                            "operation {} ended in an error: {why}",
                            op.short()
                        )));
                    }
                    Stage::Working(note) => say(Progress {
                        text: format!("operation {}: {note}, {}", op.short(), elapsed(started)),
                    }),
                }
            }
            Err(e) if e.is_retryable() && failures < MAX_READ_FAILURES => {
                failures += 1;
                say(Progress {
                    text: format!(
                        "cannot read operation {} ({}); trying again",
                        op.short(),
                        e.sentence(&op.api_name)
                    ),
                });
            }
            Err(e) => {
                return Err(ActionError::Unknown(format!(
                    "lost track of operation {}: {}; it may still be running",
                    op.short(),
                    e.sentence(&op.api_name)
                )));
            }
        }
        tokio::time::sleep(pace.operation.max(Duration::from_millis(10))).await;
    }
}

fn elapsed(since: Instant) -> String {
    let secs = since.elapsed().as_secs();
    format!("{}m{:02}s elapsed", secs / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(api: OperationApi) -> Operation {
        Operation {
            api,
            name: "projects/p/locations/l/operations/operation-1".into(),
            url: "http://x".into(),
            api_name: "API".into(),
        }
    }

    #[test]
    fn cloud_sql_done_with_errors_is_a_failure_in_words() {
        let doc = json!({"status": "DONE", "operationType": "RESTORE_VOLUME",
            "error": {"kind": "sql#operationErrors", "errors": [{"kind": "sql#operationError", "code": "INTERNAL_ERROR", "message": "The backup could not be read."}]}});
        assert_eq!(
            stage(&op(OperationApi::CloudSql), &doc),
            Stage::Failed(
                "RESTORE_VOLUME failed: The backup could not be read. (INTERNAL_ERROR)".into()
            )
        );
        let running = json!({"status": "RUNNING", "operationType": "FAILOVER"});
        assert_eq!(
            stage(&op(OperationApi::CloudSql), &running),
            Stage::Working("FAILOVER RUNNING".into())
        );
        assert_eq!(
            stage(&op(OperationApi::CloudSql), &json!({"status": "DONE"})),
            Stage::Succeeded
        );
    }

    #[test]
    fn long_running_error_uses_the_rpc_status() {
        let doc = json!({"done": true, "error": {"code": 9, "message": "Instance is not ready"}});
        assert_eq!(
            stage(&op(OperationApi::LongRunning), &doc),
            Stage::Failed("Instance is not ready (FAILED_PRECONDITION)".into())
        );
        let working = json!({"done": false, "metadata": {"verb": "failover"}});
        assert_eq!(
            stage(&op(OperationApi::LongRunning), &working),
            Stage::Working("failover".into())
        );
        assert_eq!(op(OperationApi::LongRunning).short(), "operation-1");
    }
}

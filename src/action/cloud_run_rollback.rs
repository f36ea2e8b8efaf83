//! `cloud_run.rollback`: sends all of a Cloud Run service's traffic to the previous ready
//! revision (or the one named): a PATCH of `traffic` alone, with the `etag` just read. The
//! revision serving now is found from the service's traffic status; the previous ready one is
//! the newest revision whose Ready condition succeeded, other than that one.

use serde_json::{Value, json};

use super::support::{
    RUN_API, RUN_HOST, google_get, google_send, long_running, need_str, run_service_url,
};
use super::{Action, ActionError, ArgKind, ArgSpec, Cx, Plan, Request, Submitted, text_arg};
use crate::estate::Kind;

pub struct Rollback;

impl Action for Rollback {
    const NAME: &'static str = "cloud_run.rollback";
    const SUMMARY: &'static str = "Send 100% of a Cloud Run service's traffic to the previous ready revision (PATCH …?updateMask=traffic)";
    const DESTRUCTIVE: bool = true;
    const IDEMPOTENT: bool = true;
    const KINDS: &'static [Kind] = &[Kind::CloudRun];
    const ARGS: &'static [ArgSpec] = &[ArgSpec {
        name: "revision",
        kind: ArgKind::Text,
        required: false,
        help: "the revision to send traffic to (short name); default: the previous ready one",
    }];

    async fn prepare(cx: &Cx<'_>) -> Result<Plan, ActionError> {
        let url = run_service_url(cx)?;
        let service = google_get(cx, RUN_API, &url).await?;
        let etag = need_str(&service, "/etag", "etag")?;
        let list = google_get(cx, RUN_API, &format!("{url}/revisions")).await?;
        let revisions: Vec<&Value> = list
            .get("revisions")
            .and_then(Value::as_array)
            .map(|r| r.iter().collect())
            .unwrap_or_default();
        let serving = serving_revisions(&service);
        let chosen = match text_arg(cx.args, "revision")? {
            Some(name) => {
                let rev = revisions.iter().find(|r| short(r) == name).ok_or_else(|| {
                    ActionError::Invalid(format!("the service has no revision '{name}'"))
                })?;
                if !is_ready(rev) {
                    return Err(ActionError::Invalid(format!(
                        "revision '{name}' is not ready and cannot take traffic"
                    )));
                }
                name.to_string()
            }
            None => previous_ready(&revisions, &serving).ok_or_else(|| {
                ActionError::Invalid(format!(
                    "no ready revision other than {} to roll back to",
                    if serving.is_empty() {
                        "the current one".to_string()
                    } else {
                        serving.join(", ")
                    }
                ))
            })?,
        };
        let body = json!({
            "traffic": [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": chosen, "percent": 100}],
            "etag": etag,
        });
        let mut plan = Plan {
            requests: vec![Request::http(
                "PATCH",
                format!("{url}?updateMask=traffic"),
                Some(body),
            )],
            ..Plan::default()
        };
        plan.facts.insert("rollback_to".into(), json!(chosen));
        plan.facts.insert("serving_before".into(), json!(serving));
        Ok(plan)
    }

    async fn submit(cx: &Cx<'_>, plan: &Plan) -> Result<Submitted, ActionError> {
        let answer = google_send(cx, RUN_API, &plan.requests[0]).await?;
        let op = long_running(cx, (RUN_HOST, "v2", RUN_API), &answer)?;
        Ok(Submitted {
            summary: format!("traffic change accepted: operation {}", op.short()),
            operation: Some(op),
        })
    }
}

fn short(rev: &Value) -> &str {
    let name = rev.get("name").and_then(Value::as_str).unwrap_or("");
    name.rsplit('/').next().unwrap_or(name)
}

fn is_ready(rev: &Value) -> bool {
    rev.get("conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| {
            c.get("type").and_then(Value::as_str) == Some("Ready")
                && c.get("state").and_then(Value::as_str) == Some("CONDITION_SUCCEEDED")
        })
}

/// The revisions taking traffic now (short names): the traffic status, where a
/// LATEST entry stands for the latest created revision.
fn serving_revisions(service: &Value) -> Vec<String> {
    let latest = service
        .get("latestCreatedRevision")
        .and_then(Value::as_str)
        .map(|n| n.rsplit('/').next().unwrap_or(n).to_string());
    let statuses = service
        .get("trafficStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out: Vec<String> = statuses
        .iter()
        .filter(|t| t.get("percent").and_then(Value::as_i64).unwrap_or(0) > 0)
        .filter_map(|t| match t.get("revision").and_then(Value::as_str) {
            Some(r) if !r.is_empty() => Some(r.rsplit('/').next().unwrap_or(r).to_string()),
            _ => latest.clone(),
        })
        .collect();
    if out.is_empty() {
        out.extend(latest);
    }
    out.sort();
    out.dedup();
    out
}

/// The newest ready revision that is not serving now.
fn previous_ready(revisions: &[&Value], serving: &[String]) -> Option<String> {
    let mut ready: Vec<&&Value> = revisions
        .iter()
        .filter(|r| is_ready(r) && !serving.iter().any(|s| s == short(r)))
        .collect();
    ready.sort_by_key(|r| {
        (
            r.get("createTime")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            short(r).to_string(),
        )
    });
    ready.last().map(|r| short(r).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(name: &str, created: &str, ready: bool) -> Value {
        let state = if ready {
            "CONDITION_SUCCEEDED"
        } else {
            "CONDITION_FAILED"
        };
        json!({"name": format!("projects/p/locations/l/services/s/revisions/{name}"),
               "createTime": created, "conditions": [{"type": "Ready", "state": state}]})
    }

    #[test]
    fn picks_the_newest_ready_revision_that_is_not_serving() {
        let service = json!({
            "latestCreatedRevision": "projects/p/locations/l/services/s/revisions/s-00008-bad",
            "trafficStatuses": [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}]
        });
        let serving = serving_revisions(&service);
        assert_eq!(serving, vec!["s-00008-bad".to_string()]);
        let revs = [
            rev("s-00008-bad", "2026-05-03T10:00:00Z", true),
            rev("s-00007-ok", "2026-05-02T10:00:00Z", true),
            rev("s-00006-old", "2026-05-01T10:00:00Z", true),
            rev("s-00005-broken", "2026-04-30T10:00:00Z", false),
        ];
        let refs: Vec<&Value> = revs.iter().collect();
        assert_eq!(
            previous_ready(&refs, &serving).as_deref(),
            Some("s-00007-ok")
        );
        assert_eq!(previous_ready(&refs[..1], &serving), None);
    }
}

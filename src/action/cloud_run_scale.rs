//! `cloud_run.scale`: sets a Cloud Run service's service-level scaling (`scaling.minInstanceCount`,
//! `scaling.maxInstanceCount`), which changes without deploying a new revision. A PATCH with an
//! `updateMask` naming only those fields, and the `etag` just read, so a change made by someone
//! else in between is refused rather than overwritten.

use serde_json::{Value, json};

use super::support::{
    RUN_API, RUN_HOST, google_get, google_send, long_running, need_str, run_service_url,
};
use super::{Action, ActionError, ArgKind, ArgSpec, Cx, Plan, Request, Submitted, int_arg};
use crate::estate::Kind;

pub struct Scale;

/// The most instances one Cloud Run service may be given here.
const MAX_INSTANCES: i64 = 1000;

impl Action for Scale {
    const NAME: &'static str = "cloud_run.scale";
    const SUMMARY: &'static str = "Set a Cloud Run service's minimum and maximum instances (PATCH …?updateMask=scaling…, with the etag)";
    const DESTRUCTIVE: bool = false;
    const IDEMPOTENT: bool = true;
    const KINDS: &'static [Kind] = &[Kind::CloudRun];
    const ARGS: &'static [ArgSpec] = &[
        ArgSpec {
            name: "min",
            kind: ArgKind::Integer,
            required: false,
            help: "instances kept warm across all revisions (scaling.minInstanceCount)",
        },
        ArgSpec {
            name: "max",
            kind: ArgKind::Integer,
            required: false,
            help: "the most instances the service may run (scaling.maxInstanceCount)",
        },
    ];

    async fn prepare(cx: &Cx<'_>) -> Result<Plan, ActionError> {
        let min = int_arg(cx.args, "min", 0..=MAX_INSTANCES)?;
        let max = int_arg(cx.args, "max", 1..=MAX_INSTANCES)?;
        if min.is_none() && max.is_none() {
            return Err(ActionError::Invalid(
                "cloud_run.scale needs 'min', 'max' or both".to_string(),
            ));
        }
        let url = run_service_url(cx)?;
        let doc = google_get(cx, RUN_API, &url).await?;
        let etag = need_str(&doc, "/etag", "etag")?;
        let current = |key: &str| {
            doc.pointer(&format!("/scaling/{key}"))
                .and_then(Value::as_i64)
        };
        let (lo, hi) = (
            min.or_else(|| current("minInstanceCount")).unwrap_or(0),
            max.or_else(|| current("maxInstanceCount")),
        );
        if let Some(hi) = hi
            && lo > hi
        {
            return Err(ActionError::Invalid(format!(
                "minimum {lo} would be above maximum {hi}"
            )));
        }
        let mut scaling = serde_json::Map::new();
        let mut mask = Vec::new();
        if let Some(n) = min {
            scaling.insert("minInstanceCount".into(), json!(n));
            mask.push("scaling.minInstanceCount");
        }
        if let Some(n) = max {
            scaling.insert("maxInstanceCount".into(), json!(n));
            mask.push("scaling.maxInstanceCount");
        }
        let body = json!({"scaling": scaling, "etag": etag});
        let mut plan = Plan {
            requests: vec![Request::http(
                "PATCH",
                format!("{url}?updateMask={}", mask.join(",")),
                Some(body),
            )],
            ..Plan::default()
        };
        plan.facts.insert(
            "scaling_before".into(),
            doc.get("scaling").cloned().unwrap_or(Value::Null),
        );
        Ok(plan)
    }

    async fn submit(cx: &Cx<'_>, plan: &Plan) -> Result<Submitted, ActionError> {
        let answer = google_send(cx, RUN_API, &plan.requests[0]).await?;
        let op = long_running(cx, (RUN_HOST, "v2", RUN_API), &answer)?;
        Ok(Submitted {
            summary: format!("scaling change accepted: operation {}", op.short()),
            operation: Some(op),
        })
    }
}

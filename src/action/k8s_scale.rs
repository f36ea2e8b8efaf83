//! `k8s.scale`: sets a Deployment's or StatefulSet's replicas through the scale subresource,
//! exactly as `kubectl scale` does (a merge patch of `spec.replicas` on `…/scale`). An HPA on
//! the workload may move it again; the plan says how many replicas it has now.

use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::{Action, ActionError, ArgKind, ArgSpec, Cx, Plan, Request, Submitted, int_arg};
use crate::estate::{Kind, Target, WorkloadKind};

pub struct Scale;

/// The most replicas this action sets.
const MAX_REPLICAS: i64 = 10_000;

impl Action for Scale {
    const NAME: &'static str = "k8s.scale";
    const SUMMARY: &'static str =
        "Set a Deployment's or StatefulSet's replicas (PATCH …/scale, as kubectl scale)";
    const DESTRUCTIVE: bool = false;
    const IDEMPOTENT: bool = true;
    const KINDS: &'static [Kind] = &[Kind::K8sWorkload];
    const ARGS: &'static [ArgSpec] = &[ArgSpec {
        name: "replicas",
        kind: ArgKind::Integer,
        required: true,
        help: "how many pods the workload should run",
    }];

    async fn prepare(cx: &Cx<'_>) -> Result<Plan, ActionError> {
        let (context, namespace, kind, name) = workload(cx)?;
        let replicas = int_arg(cx.args, "replicas", 0..=MAX_REPLICAS)?
            .ok_or_else(|| ActionError::Invalid("k8s.scale needs 'replicas'".to_string()))?;
        let plural = plural(kind)?;
        let (client, server) = cx.clients.kube(context).await?;
        let before = match kind {
            WorkloadKind::Deployment => {
                let api: Api<k8s_openapi::api::apps::v1::Deployment> =
                    Api::namespaced(client, namespace);
                api.get_scale(name).await
            }
            _ => {
                let api: Api<k8s_openapi::api::apps::v1::StatefulSet> =
                    Api::namespaced(client, namespace);
                api.get_scale(name).await
            }
        }
        .map_err(|e| kube_error(&e, "read the scale of", kind, name))?;
        let mut plan = Plan {
            requests: vec![
                Request::http(
                    "PATCH",
                    format!("{server}/apis/apps/v1/namespaces/{namespace}/{plural}/{name}/scale"),
                    Some(json!({"spec": {"replicas": replicas}})),
                )
                .content_type("application/merge-patch+json"),
            ],
            ..Plan::default()
        };
        plan.facts.insert(
            "replicas_before".into(),
            json!(before.spec.and_then(|s| s.replicas)),
        );
        Ok(plan)
    }

    async fn submit(cx: &Cx<'_>, plan: &Plan) -> Result<Submitted, ActionError> {
        let (context, namespace, kind, name) = workload(cx)?;
        let (client, _) = cx.clients.kube(context).await?;
        let body = plan.requests[0].body.clone().unwrap_or_default();
        let patch = Patch::Merge(body);
        let params = PatchParams::default();
        let scale = match kind {
            WorkloadKind::Deployment => {
                let api: Api<k8s_openapi::api::apps::v1::Deployment> =
                    Api::namespaced(client, namespace);
                api.patch_scale(name, &params, &patch).await
            }
            _ => {
                let api: Api<k8s_openapi::api::apps::v1::StatefulSet> =
                    Api::namespaced(client, namespace);
                api.patch_scale(name, &params, &patch).await
            }
        }
        .map_err(|e| kube_error(&e, "scale", kind, name))?;
        Ok(Submitted {
            operation: None,
            summary: format!(
                "{}/{name} now wants {} replicas",
                kind.as_str(),
                scale.spec.and_then(|s| s.replicas).unwrap_or_default()
            ),
        })
    }
}

/// The context, namespace, kind and name of a workload target.
pub(crate) fn workload<'a>(
    cx: &'a Cx<'_>,
) -> Result<(Option<&'a str>, &'a str, WorkloadKind, &'a str), ActionError> {
    match &cx.service.target {
        Target::K8sWorkload {
            context,
            namespace,
            workload,
            name,
        } => Ok((context.as_deref(), namespace, *workload, name)),
        _ => Err(ActionError::Invalid(format!(
            "'{}' is not a k8s_workload service",
            cx.service.id
        ))),
    }
}

fn plural(kind: WorkloadKind) -> Result<&'static str, ActionError> {
    match kind {
        WorkloadKind::Deployment => Ok("deployments"),
        WorkloadKind::StatefulSet => Ok("statefulsets"),
        WorkloadKind::DaemonSet => Err(ActionError::Invalid(
            "a DaemonSet runs one pod per node and cannot be scaled".to_string(),
        )),
    }
}

/// A Kubernetes API error in one sentence; an answer lost in transit is "unknown".
pub(crate) fn kube_error(
    e: &kube::Error,
    doing: &str,
    kind: WorkloadKind,
    name: &str,
) -> ActionError {
    match e {
        kube::Error::Api(status) => ActionError::Failed(format!(
            "the Kubernetes API refused to {doing} {}/{name}: {} ({} {})",
            kind.as_str(),
            status.message,
            status.code,
            status.reason
        )),
        other => ActionError::Unknown(format!(
            "no answer from the Kubernetes API while trying to {doing} {}/{name}: {other}",
            kind.as_str()
        )),
    }
}

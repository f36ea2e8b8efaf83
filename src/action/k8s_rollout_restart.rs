//! `k8s.rollout_restart`: restarts every pod of a Deployment, StatefulSet or DaemonSet the way
//! `kubectl rollout restart` does: a strategic merge patch setting the pod template's
//! `kubectl.kubernetes.io/restartedAt` annotation (second precision), field manager
//! `kubectl-rollout`. The rollout itself is waited for by the runbook's next `wait` step.

use chrono::{DateTime, SecondsFormat, Utc};
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use super::k8s_scale::{kube_error, workload};
use super::{Action, ActionError, ArgSpec, Cx, Plan, Request, Submitted};
use crate::estate::{Kind, WorkloadKind};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};

pub struct RolloutRestart;

/// kubectl's annotation key.
const ANNOTATION: &str = "kubectl.kubernetes.io/restartedAt";

impl Action for RolloutRestart {
    const NAME: &'static str = "k8s.rollout_restart";
    const SUMMARY: &'static str = "Restart a workload's pods with a rolling update (PATCH with kubectl's restartedAt annotation)";
    const DESTRUCTIVE: bool = false;
    const IDEMPOTENT: bool = false;
    const KINDS: &'static [Kind] = &[Kind::K8sWorkload];
    const ARGS: &'static [ArgSpec] = &[];

    async fn prepare(cx: &Cx<'_>) -> Result<Plan, ActionError> {
        let (context, namespace, kind, name) = workload(cx)?;
        let (_, server) = cx.clients.kube(context).await?;
        let now = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
        let body = json!({"spec": {"template": {"metadata": {"annotations": {ANNOTATION: now}}}}});
        Ok(Plan {
            requests: vec![
                Request::http(
                    "PATCH",
                    format!(
                        "{server}/apis/apps/v1/namespaces/{namespace}/{}s/{name}?fieldManager=kubectl-rollout",
                        kind.as_str()
                    ),
                    Some(body),
                )
                .content_type("application/strategic-merge-patch+json"),
            ],
            ..Plan::default()
        })
    }

    async fn submit(cx: &Cx<'_>, plan: &Plan) -> Result<Submitted, ActionError> {
        let (context, namespace, kind, name) = workload(cx)?;
        let (client, _) = cx.clients.kube(context).await?;
        let patch = Patch::Strategic(plan.requests[0].body.clone().unwrap_or_default());
        let params = PatchParams {
            field_manager: Some("kubectl-rollout".to_string()),
            ..PatchParams::default()
        };
        let generation = match kind {
            WorkloadKind::Deployment => Api::<Deployment>::namespaced(client, namespace)
                .patch(name, &params, &patch)
                .await
                .map(|d| d.metadata.generation),
            WorkloadKind::StatefulSet => Api::<StatefulSet>::namespaced(client, namespace)
                .patch(name, &params, &patch)
                .await
                .map(|d| d.metadata.generation),
            WorkloadKind::DaemonSet => Api::<DaemonSet>::namespaced(client, namespace)
                .patch(name, &params, &patch)
                .await
                .map(|d| d.metadata.generation),
        }
        .map_err(|e| kube_error(&e, "restart", kind, name))?;
        Ok(Submitted {
            operation: None,
            summary: format!(
                "{}/{name} restarted (generation {})",
                kind.as_str(),
                generation.unwrap_or_default()
            ),
        })
    }

    async fn find_started(
        cx: &Cx<'_>,
        since: DateTime<Utc>,
    ) -> Result<Option<Submitted>, ActionError> {
        let (context, namespace, kind, name) = workload(cx)?;
        let (client, _) = cx.clients.kube(context).await?;
        let value = match kind {
            WorkloadKind::Deployment => Api::<Deployment>::namespaced(client, namespace)
                .get(name)
                .await
                .map(|d| serde_json::to_value(d).unwrap_or_default()),
            WorkloadKind::StatefulSet => Api::<StatefulSet>::namespaced(client, namespace)
                .get(name)
                .await
                .map(|d| serde_json::to_value(d).unwrap_or_default()),
            WorkloadKind::DaemonSet => Api::<DaemonSet>::namespaced(client, namespace)
                .get(name)
                .await
                .map(|d| serde_json::to_value(d).unwrap_or_default()),
        }
        .map_err(|e| kube_error(&e, "read", kind, name))?;
        let restarted = value
            .pointer("/spec/template/metadata/annotations")
            .and_then(|a| a.get(ANNOTATION))
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        Ok(restarted
            .filter(|t| *t >= since - chrono::Duration::seconds(30))
            .map(|t| Submitted {
                operation: None,
                summary: format!("the restart was already applied at {}", t.to_rfc3339()),
            }))
    }
}

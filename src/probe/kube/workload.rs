//! Judging a Kubernetes workload from its objects: a Deployment, StatefulSet or DaemonSet,
//! the pods it selects and the HPA that scales it. Pure: the watchers hand the objects in.
//!
//! - No pod ready while some are wanted → down, with the pods' own reason
//!   (CrashLoopBackOff, ImagePullBackOff, OOMKilled, Unschedulable, Evicted…).
//! - Fewer ready than wanted, a rollout past its progress deadline, an HPA at its maximum,
//!   a crash-looping pod, or a workload scaled to zero → degraded.
//! - Otherwise up; a rollout in progress is said in the summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use crate::model::{Observation, Status};

/// The workload object being judged.
#[derive(Debug, Clone, Copy)]
pub enum Workload<'a> {
    Deployment(&'a Deployment),
    StatefulSet(&'a StatefulSet),
    DaemonSet(&'a DaemonSet),
}

/// Replica counts common to the three kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub desired: i32,
    pub ready: i32,
    pub updated: i32,
    /// The controller has not yet seen the latest spec, or not all replicas run it.
    pub rolling: bool,
}

/// A condition of the workload, as the API reports it.
struct Cond<'a> {
    kind: &'a str,
    status: &'a str,
    reason: Option<&'a str>,
    message: Option<&'a str>,
}

impl Workload<'_> {
    pub fn counts(&self) -> Counts {
        match self {
            Workload::Deployment(d) => {
                let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                let st = d.status.clone().unwrap_or_default();
                let updated = st.updated_replicas.unwrap_or(0);
                let lag = st.observed_generation < d.metadata.generation;
                Counts {
                    desired,
                    ready: st.ready_replicas.unwrap_or(0),
                    updated,
                    rolling: lag || updated < desired || st.replicas.unwrap_or(0) > desired,
                }
            }
            Workload::StatefulSet(s) => {
                let desired = s.spec.as_ref().and_then(|x| x.replicas).unwrap_or(1);
                let st = s.status.clone().unwrap_or_default();
                let lag = st.observed_generation < s.metadata.generation;
                let revisions_differ = st.update_revision.is_some()
                    && st.current_revision.is_some()
                    && st.update_revision != st.current_revision;
                Counts {
                    desired,
                    ready: st.ready_replicas.unwrap_or(0),
                    updated: st.updated_replicas.unwrap_or(0),
                    rolling: lag || revisions_differ,
                }
            }
            Workload::DaemonSet(d) => {
                let st = d.status.clone().unwrap_or_default();
                let lag = st.observed_generation < d.metadata.generation;
                let updated = st.updated_number_scheduled.unwrap_or(0);
                Counts {
                    desired: st.desired_number_scheduled,
                    ready: st.number_ready,
                    updated,
                    rolling: lag || updated < st.desired_number_scheduled,
                }
            }
        }
    }

    fn conditions(&self) -> Vec<Cond<'_>> {
        match self {
            Workload::Deployment(d) => d
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .map(|cs| {
                    cs.iter()
                        .map(|c| Cond {
                            kind: &c.type_,
                            status: &c.status,
                            reason: c.reason.as_deref(),
                            message: c.message.as_deref(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            Workload::StatefulSet(_) | Workload::DaemonSet(_) => Vec::new(),
        }
    }
}

/// What is wrong with one pod, in a few words, or `None` when nothing is.
pub fn pod_problem(pod: &Pod) -> Option<String> {
    let name = pod.metadata.name.as_deref().unwrap_or("?");
    let status = pod.status.as_ref()?;
    if status.phase.as_deref() == Some("Failed") {
        let reason = status.reason.as_deref().unwrap_or("Failed");
        let message = status.message.as_deref().unwrap_or("");
        return Some(join(name, reason, message));
    }
    for cs in status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
    {
        if let Some(w) = cs.state.as_ref().and_then(|s| s.waiting.as_ref()) {
            let reason = w.reason.as_deref().unwrap_or("Waiting");
            if reason != "ContainerCreating" && reason != "PodInitializing" {
                let last = cs
                    .last_state
                    .as_ref()
                    .and_then(|l| l.terminated.as_ref())
                    .map(|t| {
                        format!(
                            "last exit {} ({})",
                            t.exit_code,
                            t.reason.as_deref().unwrap_or("terminated")
                        )
                    })
                    .unwrap_or_default();
                return Some(join(&format!("{name}/{}", cs.name), reason, &last));
            }
        }
        if let Some(t) = cs.last_state.as_ref().and_then(|l| l.terminated.as_ref())
            && t.reason.as_deref() == Some("OOMKilled")
            && !cs.ready
        {
            return Some(join(&format!("{name}/{}", cs.name), "OOMKilled", ""));
        }
    }
    if status.phase.as_deref() == Some("Pending") {
        let unschedulable = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False");
        if let Some(c) = unschedulable {
            return Some(join(
                name,
                c.reason.as_deref().unwrap_or("Unschedulable"),
                c.message.as_deref().unwrap_or(""),
            ));
        }
        return Some(join(name, "Pending", ""));
    }
    None
}

fn join(who: &str, reason: &str, detail: &str) -> String {
    if detail.is_empty() {
        format!("{who} {reason}")
    } else {
        format!("{who} {reason}: {detail}")
    }
}

fn restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map_or(0, |cs| cs.iter().map(|c| c.restart_count).sum())
}

/// The status of a workload with its pods and HPA.
pub fn observe(
    workload: Workload<'_>,
    pods: &[&Pod],
    hpa: Option<&HorizontalPodAutoscaler>,
) -> Observation {
    let c = workload.counts();
    let problems: Vec<String> = pods.iter().filter_map(|p| pod_problem(p)).collect();
    let restarts: i32 = pods.iter().map(|p| restarts(p)).sum();
    let crash_looping = problems.iter().any(|p| p.contains("CrashLoopBackOff"));
    let stuck = workload.conditions().into_iter().find(|x| {
        x.kind == "Progressing"
            && x.status == "False"
            && x.reason == Some("ProgressDeadlineExceeded")
    });
    let hpa_figures = hpa.and_then(|h| {
        let max = h.spec.as_ref()?.max_replicas;
        let st = h.status.as_ref()?;
        Some((st.current_replicas.unwrap_or(0), st.desired_replicas, max))
    });
    let at_max =
        hpa_figures.is_some_and(|(current, desired, max)| current >= max && desired >= max);
    let first_problem = problems.first().cloned();

    let (status, why) = if c.desired == 0 {
        (
            Status::Degraded,
            Some("scaled to 0 replicas: nothing runs".to_string()),
        )
    } else if c.ready == 0 {
        let reason = first_problem.clone().map_or_else(
            || "no pod is ready".to_string(),
            |p| format!("no pod is ready: {p}"),
        );
        (Status::Down, Some(reason))
    } else if c.ready < c.desired {
        let mut reason = format!("{} of {} ready", c.ready, c.desired);
        if let Some(p) = &first_problem {
            let _ = write!(reason, ": {p}");
        }
        (Status::Degraded, Some(reason))
    } else if let Some(s) = stuck {
        (
            Status::Degraded,
            Some(format!(
                "rollout stuck (ProgressDeadlineExceeded){}",
                s.message.map(|m| format!(": {m}")).unwrap_or_default()
            )),
        )
    } else if at_max {
        let max = hpa_figures.map_or(0, |f| f.2);
        (
            Status::Degraded,
            Some(format!(
                "at its HPA maximum of {max} replicas: no headroom left"
            )),
        )
    } else if crash_looping {
        (Status::Degraded, first_problem.clone())
    } else {
        (Status::Up, None)
    };

    let mut summary = format!("{}/{} ready", c.ready, c.desired);
    if c.rolling {
        let _ = write!(summary, " · rolling out ({} updated)", c.updated);
    }
    if restarts > 0 {
        let _ = write!(summary, " · {restarts} restarts");
    }
    if let Some((current, _, max)) = hpa_figures {
        let _ = write!(summary, " · HPA {current}/{max}");
    }
    if problems.len() > 1 {
        let _ = write!(summary, " · {} pods with problems", problems.len());
    }
    let mut obs = Observation::new(status, summary);
    obs.error = why;
    let mut m = BTreeMap::new();
    m.insert("desired".to_string(), Value::from(c.desired));
    m.insert("ready".to_string(), Value::from(c.ready));
    m.insert("updated".to_string(), Value::from(c.updated));
    m.insert("rolling_out".to_string(), Value::from(c.rolling));
    m.insert("restarts".to_string(), Value::from(restarts));
    m.insert("pods".to_string(), Value::from(pods.len()));
    if let Some((current, desired, max)) = hpa_figures {
        m.insert("hpa_current".to_string(), Value::from(current));
        m.insert("hpa_desired".to_string(), Value::from(desired));
        m.insert("hpa_max".to_string(), Value::from(max));
    }
    if !problems.is_empty() {
        m.insert("pod_problems".to_string(), Value::from(problems));
    }
    obs.metrics = m;
    obs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
        let path = format!(
            "{}/fixtures/api/kubernetes/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("parses")
    }

    #[test]
    fn real_healthy_deployment_is_up() {
        let d: Deployment = fixture("deployment-healthy-available-progressing.json");
        let obs = observe(Workload::Deployment(&d), &[], None);
        assert_eq!(obs.status, Status::Up, "{obs:?}");
        assert_eq!(obs.summary, "1/1 ready");
    }

    #[test]
    fn real_statefulset_counts() {
        let s: StatefulSet = fixture("statefulset-nginx-sts.json");
        let c = Workload::StatefulSet(&s).counts();
        assert!(c.desired >= 1);
    }

    #[test]
    fn a_crash_looping_pod_is_named_with_its_last_exit() {
        let pod: Pod = fixture("pod-multicontainer-one-CrashLoopBackOff-compact.json");
        let problem = pod_problem(&pod).expect("a problem");
        assert!(
            problem.contains("multi-container2 CrashLoopBackOff"),
            "{problem}"
        );
        assert!(problem.contains("last exit 1 (Error)"), "{problem}");
        let mut d: Deployment = fixture("deployment-healthy-available-progressing.json");
        if let Some(st) = d.status.as_mut() {
            st.ready_replicas = Some(0);
            st.available_replicas = Some(0);
        }
        let obs = observe(Workload::Deployment(&d), &[&pod], None);
        assert_eq!(obs.status, Status::Down);
        assert!(
            obs.error.as_deref().is_some_and(
                |e| e.starts_with("no pod is ready: ") && e.contains("CrashLoopBackOff")
            )
        );
    }

    #[test]
    fn real_unschedulable_and_evicted_pods_are_explained() {
        // This capture's spec and metadata were hand-edited by its authors (a numeric
        // resourceVersion, a boolean env value), so only its name and status are read.
        let raw: Value = fixture("podlist-pending-unschedulable-insufficient-memory.json");
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": raw.pointer("/items/0/metadata/name")},
            "status": raw.pointer("/items/0/status"),
        }))
        .expect("pod");
        let problem = pod_problem(&pod).expect("pending");
        assert!(
            problem.contains("Unschedulable: 0/5 nodes are available: 5 Insufficient memory."),
            "{problem}"
        );
        let evicted: Pod = fixture("pod-evicted-ephemeral-storage.json");
        assert!(pod_problem(&evicted).is_some_and(|p| p.contains("Evicted")));
    }

    #[test]
    fn partial_readiness_stuck_rollouts_and_hpa_at_max_are_degraded() {
        let mut d: Deployment = fixture("deployment-healthy-available-progressing.json");
        if let Some(spec) = d.spec.as_mut() {
            spec.replicas = Some(3);
        }
        if let Some(st) = d.status.as_mut() {
            st.replicas = Some(3);
            st.updated_replicas = Some(3);
        }
        let obs = observe(Workload::Deployment(&d), &[], None);
        assert_eq!(obs.status, Status::Degraded);
        assert_eq!(obs.error.as_deref(), Some("1 of 3 ready"));

        // An autoscaling/v1 capture read as v2: the replica figures are the same fields.
        let mut raw: Value = fixture("hpa-autoscaling-v1.json");
        if let Some(obj) = raw.as_object_mut() {
            obj.remove("apiVersion");
            obj.remove("kind");
        }
        let mut hpa: HorizontalPodAutoscaler = serde_json::from_value(raw).expect("hpa");
        let healthy: Deployment = fixture("deployment-healthy-available-progressing.json");
        if let Some(spec) = hpa.spec.as_mut() {
            spec.max_replicas = 1;
        }
        if let Some(st) = hpa.status.as_mut() {
            st.current_replicas = Some(1);
            st.desired_replicas = 1;
        }
        let obs = observe(Workload::Deployment(&healthy), &[], Some(&hpa));
        assert_eq!(obs.status, Status::Degraded);
        assert_eq!(
            obs.error.as_deref(),
            Some("at its HPA maximum of 1 replicas: no headroom left")
        );

        let mut stuck = healthy.clone();
        if let Some(cs) = stuck.status.as_mut().and_then(|s| s.conditions.as_mut()) {
            cs[1].status = "False".into();
            cs[1].reason = Some("ProgressDeadlineExceeded".into());
            cs[1].message = Some("ReplicaSet \"web-1\" has timed out progressing.".into());
        }
        let obs = observe(Workload::Deployment(&stuck), &[], None);
        assert_eq!(obs.status, Status::Degraded);
        assert!(
            obs.error
                .as_deref()
                .is_some_and(|e| e.starts_with("rollout stuck"))
        );
    }
}

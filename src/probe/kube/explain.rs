//! What explains a workload's state, from the objects the watchers already hold: each pod's
//! last termination (reason, exit code, when) and what it waits on, the Kubernetes Events
//! about the workload, its ReplicaSets and pods, and the last rollout (the Deployment's
//! revision, a `kubectl rollout restart` annotation, the Progressing condition's time).
//! Pure: no API calls beyond the watches.

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Event, Pod};

use super::workload::Workload;
use crate::model::{Change, ChangeKind, Evidence};

/// Pods whose containers are reported at most.
const PODS: usize = 3;
/// Events reported at most, newest first.
const EVENTS: usize = 5;
const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
const REVISION: &str = "deployment.kubernetes.io/revision";

fn time(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> DateTime<Utc> {
    from_jiff(t.0)
}

fn from_jiff(t: k8s_openapi::jiff::Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.as_microsecond()).unwrap_or_default()
}

/// Each unhealthy pod's containers: what they wait on, and how they last terminated.
pub fn pod_evidence(pods: &[&Pod]) -> Vec<Evidence> {
    let mut out = Vec::new();
    let mut shown = 0;
    for pod in pods {
        if shown == PODS {
            break;
        }
        let name = pod.metadata.name.as_deref().unwrap_or("?");
        let Some(status) = pod.status.as_ref() else {
            continue;
        };
        let mut any = false;
        for cs in status
            .init_container_statuses
            .iter()
            .flatten()
            .chain(status.container_statuses.iter().flatten())
        {
            let source = format!("pod {name}/{}", cs.name);
            let waiting = cs
                .state
                .as_ref()
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.reason.as_deref().map(|r| (r, w.message.as_deref())))
                .filter(|(r, _)| *r != "ContainerCreating" && *r != "PodInitializing");
            if let Some((reason, message)) = waiting {
                let mut line = format!("waiting: {reason}");
                if let Some(m) = message.filter(|m| !m.is_empty()) {
                    line.push_str(&format!(": {m}"));
                }
                if cs.restart_count > 0 {
                    line.push_str(&format!(" ({} restarts)", cs.restart_count));
                }
                out.push(Evidence::new(source.clone(), line));
                any = true;
            }
            let terminated = cs
                .last_state
                .as_ref()
                .and_then(|l| l.terminated.as_ref())
                .or_else(|| cs.state.as_ref().and_then(|s| s.terminated.as_ref()));
            if let Some(t) = terminated
                && (!cs.ready || waiting.is_some())
            {
                let mut line = format!(
                    "last terminated: {} (exit code {})",
                    t.reason.as_deref().unwrap_or("terminated"),
                    t.exit_code
                );
                if let Some(m) = t.message.as_deref().filter(|m| !m.is_empty()) {
                    line.push_str(&format!(": {m}"));
                }
                let at = t.finished_at.as_ref().or(t.started_at.as_ref()).map(time);
                out.push(Evidence::new(source, line).at(at));
                any = true;
            }
        }
        if !any
            && status.phase.as_deref() == Some("Pending")
            && let Some(c) = status
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")
        {
            out.push(
                Evidence::new(
                    format!("pod {name}"),
                    format!(
                        "not scheduled: {}{}",
                        c.reason.as_deref().unwrap_or("Unschedulable"),
                        c.message
                            .as_deref()
                            .map(|m| format!(": {m}"))
                            .unwrap_or_default()
                    ),
                )
                .at(c.last_transition_time.as_ref().map(time)),
            );
            any = true;
        }
        if any {
            shown += 1;
        }
    }
    out
}

/// Whether an event is about the workload `name` in `namespace`, its ReplicaSets or one of
/// `pods`.
pub fn concerns(event: &Event, namespace: &str, name: &str, pods: &[&Pod]) -> bool {
    let o = &event.involved_object;
    if o.namespace.as_deref() != Some(namespace) {
        return false;
    }
    let Some(object) = o.name.as_deref() else {
        return false;
    };
    match o.kind.as_deref() {
        Some("Pod") => pods
            .iter()
            .any(|p| p.metadata.name.as_deref() == Some(object)),
        Some("ReplicaSet") => object
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('-')),
        _ => object == name,
    }
}

fn event_time(e: &Event) -> Option<DateTime<Utc>> {
    e.last_timestamp
        .as_ref()
        .map(time)
        .or_else(|| e.event_time.as_ref().map(|t| from_jiff(t.0)))
        .or_else(|| e.first_timestamp.as_ref().map(time))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(time))
}

/// The newest events, warnings before normal ones of the same time.
pub fn event_evidence(events: &[&Event]) -> Vec<Evidence> {
    let mut sorted: Vec<&&Event> = events.iter().collect();
    sorted.sort_by_key(|e| {
        (
            std::cmp::Reverse(event_time(e)),
            e.type_.as_deref() != Some("Warning"),
        )
    });
    sorted
        .into_iter()
        .take(EVENTS)
        .map(|e| {
            let o = &e.involved_object;
            let source = format!(
                "event {} {}/{}",
                e.reason.as_deref().unwrap_or("?"),
                o.kind.as_deref().unwrap_or("?").to_lowercase(),
                o.name.as_deref().unwrap_or("?")
            );
            let count = e
                .count
                .filter(|c| *c > 1)
                .map(|c| format!(" (×{c})"))
                .unwrap_or_default();
            let line = format!(
                "{}: {}{count}",
                e.type_.as_deref().unwrap_or("Normal"),
                e.message.as_deref().unwrap_or("")
            );
            Evidence::new(source, line).at(event_time(e))
        })
        .collect()
}

/// The workload's last rollout: a Deployment's revision with its Progressing condition's
/// time, or a `kubectl rollout restart` if that is newer; a StatefulSet's update revision.
pub fn rollout_change(workload: Workload<'_>) -> Option<Change> {
    match workload {
        Workload::Deployment(d) => {
            let revision = d
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REVISION))
                .cloned();
            let restarted = d
                .spec
                .as_ref()
                .and_then(|s| s.template.metadata.as_ref())
                .and_then(|m| m.annotations.as_ref())
                .and_then(|a| a.get(RESTARTED_AT))
                .and_then(|t| crate::model::evidence_time(t));
            let progressing = d
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|cs| cs.iter().find(|c| c.type_ == "Progressing"));
            let progressed_at = progressing.and_then(|c| {
                c.last_update_time
                    .as_ref()
                    .or(c.last_transition_time.as_ref())
                    .map(time)
            });
            let rev = revision
                .as_deref()
                .map_or_else(String::new, |r| format!(" revision {r}"));
            if let Some(r) = restarted
                && progressed_at.is_none_or(|p| r >= p - chrono::Duration::seconds(5))
            {
                return Some(
                    Change::new(
                        ChangeKind::Rollout,
                        Some(r),
                        format!("rollout restart{rev}"),
                    )
                    .short(format!("restart{rev}")),
                );
            }
            let what = progressing
                .map(|c| {
                    format!(
                        "{}{}",
                        c.reason.as_deref().unwrap_or(&c.status),
                        c.message
                            .as_deref()
                            .map(|m| format!(": {m}"))
                            .unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            if revision.is_none() && progressing.is_none() {
                return None;
            }
            let text = if what.is_empty() {
                format!("rollout to{rev}")
            } else {
                format!("rollout to{rev} ({what})")
            };
            Some(
                Change::new(ChangeKind::Rollout, progressed_at.or(restarted), text)
                    .short(format!("rollout{rev}")),
            )
        }
        Workload::StatefulSet(s) => {
            let st = s.status.as_ref()?;
            let update = st.update_revision.as_deref()?;
            let text = if st.current_revision.as_deref() == Some(update) {
                format!("running revision {update}")
            } else {
                format!(
                    "rolling out revision {update} (from {})",
                    st.current_revision.as_deref().unwrap_or("?")
                )
            };
            Some(Change::new(ChangeKind::Rollout, None, text).short(update.to_string()))
        }
        Workload::DaemonSet(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;

    fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
        let path = format!(
            "{}/fixtures/api/kubernetes/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("parses")
    }

    #[test]
    fn a_crash_looping_pod_gives_its_last_exit_with_its_time() {
        let pod: Pod = fixture("pod-multicontainer-one-CrashLoopBackOff-compact.json");
        let ev = pod_evidence(&[&pod]);
        let last = ev
            .iter()
            .find(|e| e.text.starts_with("last terminated"))
            .expect("a termination");
        assert!(last.text.contains("(exit code 1)"), "{last:?}");
        assert!(last.at.is_some(), "{last:?}");
        assert!(
            ev.iter()
                .any(|e| e.text.starts_with("waiting: CrashLoopBackOff")),
            "{ev:?}"
        );
    }

    #[test]
    fn a_restart_annotation_newer_than_progress_is_the_change() {
        let mut d: Deployment = fixture("deployment-healthy-available-progressing.json");
        let change = rollout_change(Workload::Deployment(&d)).expect("a rollout");
        assert_eq!(change.kind, ChangeKind::Rollout);
        assert!(change.text.starts_with("rollout to"), "{change:?}");
        let later = "2099-01-01T00:00:00Z";
        if let Some(spec) = d.spec.as_mut() {
            spec.template
                .metadata
                .get_or_insert_with(Default::default)
                .annotations
                .get_or_insert_with(Default::default)
                .insert(RESTARTED_AT.to_string(), later.to_string());
        }
        let change = rollout_change(Workload::Deployment(&d)).expect("a restart");
        assert!(change.text.starts_with("rollout restart"), "{change:?}");
        assert_eq!(change.at, crate::model::evidence_time(later));
    }

    #[test]
    fn events_are_matched_to_the_workload_and_newest_first() {
        let pod: Pod = fixture("pod-multicontainer-one-CrashLoopBackOff-compact.json");
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let event = |kind: &str, name: &str, reason: &str, at: &str| -> Event {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": format!("{name}.1"), "namespace": ns},
                "involvedObject": {"kind": kind, "name": name, "namespace": ns},
                "reason": reason, "message": format!("{reason} happened"), "type": "Warning",
                "lastTimestamp": at, "count": 3
            }))
            .expect("event")
        };
        let a = event("Pod", &pod_name, "BackOff", "2026-01-01T10:00:00Z");
        let b = event(
            "ReplicaSet",
            "web-5d4f",
            "FailedCreate",
            "2026-01-01T11:00:00Z",
        );
        let c = event("Pod", "someone-else", "BackOff", "2026-01-01T12:00:00Z");
        assert!(concerns(&a, &ns, "web", &[&pod]));
        assert!(concerns(&b, &ns, "web", &[&pod]));
        assert!(!concerns(&c, &ns, "web", &[&pod]));
        assert!(!concerns(&b, &ns, "webhooks", &[&pod]));
        let ev = event_evidence(&[&a, &b]);
        assert_eq!(ev[0].source, "event FailedCreate replicaset/web-5d4f");
        assert_eq!(ev[0].text, "Warning: FailedCreate happened (×3)");
        assert_eq!(
            ev[1].at,
            crate::model::evidence_time("2026-01-01T10:00:00Z")
        );
    }
}

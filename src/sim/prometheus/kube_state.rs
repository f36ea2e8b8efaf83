//! kube-state-metrics as the simulated exporter shows it: deployments, statefulsets,
//! daemonsets, pods (phase, readiness, restarts, waiting and last-terminated reasons) and HPAs
//! of every simulated cluster. Pure.

use std::time::Duration;

use super::families::{Family, Type};
use crate::sim::cluster::world::ClusterWorld;
use crate::sim::kube::store::Fault;

pub(super) fn kube_state(world: &ClusterWorld, at: Duration) -> Vec<Family> {
    use Type::{Counter, Gauge};
    let mut spec = Family::new(
        "kube_deployment_spec_replicas",
        "Number of desired pods for a deployment.",
        Gauge,
    );
    let mut avail = Family::new(
        "kube_deployment_status_replicas_available",
        "The number of available replicas per deployment.",
        Gauge,
    );
    let mut unavail = Family::new(
        "kube_deployment_status_replicas_unavailable",
        "The number of unavailable replicas per deployment.",
        Gauge,
    );
    let mut updated = Family::new(
        "kube_deployment_status_replicas_updated",
        "The number of updated replicas per deployment.",
        Gauge,
    );
    let mut cond = Family::new(
        "kube_deployment_status_condition",
        "The current status conditions of a deployment.",
        Gauge,
    );
    let mut sts = Family::new(
        "kube_statefulset_status_replicas_ready",
        "The number of ready replicas per StatefulSet.",
        Gauge,
    );
    let mut sts_spec = Family::new(
        "kube_statefulset_replicas",
        "Number of desired pods for a StatefulSet.",
        Gauge,
    );
    let mut ds = Family::new(
        "kube_daemonset_status_number_ready",
        "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.",
        Gauge,
    );
    let mut ds_want = Family::new(
        "kube_daemonset_status_desired_number_scheduled",
        "The number of nodes that should be running the daemon pod.",
        Gauge,
    );
    let mut phase = Family::new("kube_pod_status_phase", "The pods current phase.", Gauge);
    let mut ready = Family::new(
        "kube_pod_status_ready",
        "Describes whether the pod is ready to serve requests.",
        Gauge,
    );
    let mut restarts = Family::new(
        "kube_pod_container_status_restarts",
        "The number of container restarts per container.",
        Counter,
    );
    let mut waiting = Family::new(
        "kube_pod_container_status_waiting_reason",
        "Describes the reason the container is currently in waiting state.",
        Gauge,
    );
    let mut terminated = Family::new(
        "kube_pod_container_status_last_terminated_reason",
        "Describes the last reason the container was in terminated state.",
        Gauge,
    );
    let mut hpa_max = Family::new(
        "kube_horizontalpodautoscaler_spec_max_replicas",
        "Upper limit for the number of pods that can be set by the autoscaler; cannot be smaller than MinReplicas.",
        Gauge,
    );
    let mut hpa_min = Family::new(
        "kube_horizontalpodautoscaler_spec_min_replicas",
        "Lower limit for the number of pods that can be set by the autoscaler, default 1.",
        Gauge,
    );
    let mut hpa_cur = Family::new(
        "kube_horizontalpodautoscaler_status_current_replicas",
        "Current number of replicas of pods managed by this autoscaler.",
        Gauge,
    );
    let mut hpa_want = Family::new(
        "kube_horizontalpodautoscaler_status_desired_replicas",
        "Desired number of replicas of pods managed by this autoscaler.",
        Gauge,
    );
    for c in &world.kube {
        for (i, w) in c.workloads.iter().enumerate() {
            let n = c.counts(i, at);
            let ns = w.namespace.as_str();
            let name = w.name.as_str();
            match w.kind {
                crate::estate::WorkloadKind::Deployment => {
                    let l = [("namespace", ns), ("deployment", name)];
                    spec.add(&l, f64::from(w.replicas));
                    avail.add(&l, f64::from(n.ready));
                    unavail.add(&l, f64::from(w.replicas.saturating_sub(n.ready)));
                    updated.add(&l, f64::from(n.updated));
                    for (kind, cnd) in
                        [("Available", &w.available), ("Progressing", &w.progressing)]
                    {
                        for status in ["true", "false", "unknown"] {
                            let on = (status == "true") == cnd.status && status != "unknown";
                            cond.add(
                                &[
                                    ("namespace", ns),
                                    ("deployment", name),
                                    ("condition", kind),
                                    ("status", status),
                                ],
                                f64::from(u8::from(on)),
                            );
                        }
                    }
                }
                crate::estate::WorkloadKind::StatefulSet => {
                    sts.add(
                        &[("namespace", ns), ("statefulset", name)],
                        f64::from(n.ready),
                    );
                    sts_spec.add(
                        &[("namespace", ns), ("statefulset", name)],
                        f64::from(w.replicas),
                    );
                }
                crate::estate::WorkloadKind::DaemonSet => {
                    ds.add(
                        &[("namespace", ns), ("daemonset", name)],
                        f64::from(n.ready),
                    );
                    ds_want.add(
                        &[("namespace", ns), ("daemonset", name)],
                        f64::from(w.replicas),
                    );
                }
            }
            if let Some(h) = &w.hpa {
                let l = [("namespace", ns), ("horizontalpodautoscaler", name)];
                hpa_max.add(&l, f64::from(h.max));
                hpa_min.add(&l, f64::from(h.min));
                hpa_cur.add(&l, f64::from(w.replicas));
                hpa_want.add(&l, f64::from(h.desired));
            }
            for p in c.pods_of(i) {
                let pl = [
                    ("namespace", ns),
                    ("pod", p.name.as_str()),
                    ("uid", p.uid.as_str()),
                ];
                let current = match p.fault {
                    Some(Fault::Unschedulable | Fault::ImagePull) => "Pending",
                    None if !p.ready(at) => "Pending",
                    _ => "Running",
                };
                for ph in ["Pending", "Running", "Succeeded", "Failed", "Unknown"] {
                    phase.add(
                        &[pl[0], pl[1], pl[2], ("phase", ph)],
                        f64::from(u8::from(ph == current)),
                    );
                }
                let r = p.ready(at);
                for s in ["true", "false", "unknown"] {
                    ready.add(
                        &[pl[0], pl[1], pl[2], ("condition", s)],
                        f64::from(u8::from((s == "true") == r && s != "unknown")),
                    );
                }
                let cl = [pl[0], pl[1], pl[2], ("container", name)];
                restarts.add(&cl, f64::from(p.restarts));
                let reason = match p.fault {
                    Some(Fault::CrashLoop) => Some("CrashLoopBackOff"),
                    Some(Fault::ImagePull) => Some("ImagePullBackOff"),
                    None if !r => Some("ContainerCreating"),
                    _ => None,
                };
                if let Some(reason) = reason {
                    waiting.add(&[cl[0], cl[1], cl[2], cl[3], ("reason", reason)], 1.0);
                }
                match p.fault {
                    Some(Fault::CrashLoop) if p.restarts > 0 => {
                        terminated.add(&[cl[0], cl[1], cl[2], cl[3], ("reason", "Error")], 1.0);
                    }
                    Some(Fault::OomKilled) => {
                        terminated.add(&[cl[0], cl[1], cl[2], cl[3], ("reason", "OOMKilled")], 1.0);
                    }
                    _ => {}
                }
            }
        }
    }
    vec![
        spec, avail, unavail, updated, cond, sts_spec, sts, ds_want, ds, phase, ready, restarts,
        waiting, terminated, hpa_min, hpa_max, hpa_cur, hpa_want,
    ]
}

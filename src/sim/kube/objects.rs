//! The JSON of every simulated Kubernetes object, shaped as the real API server writes it:
//! Deployments / StatefulSets / DaemonSets with status and conditions, Pods with container
//! states, HPAs (autoscaling/v2), Events, Namespaces, Nodes, ReplicaSets, Scale. Pure.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::store::{Cond, EventRec, Fault, KubeCluster, Pod};
use crate::estate::WorkloadKind;
use crate::sim::cluster::clock::stamp;

/// How long before the simulator started the cluster's objects were created.
const CLUSTER_AGE_DAYS: i64 = 41;

pub(crate) fn set_rv(object: &mut Value, rv: u64) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
}

/// When the long-lived objects were created.
fn born(c: &KubeCluster, days: i64) -> String {
    stamp(c.clock.start_wall - chrono::Duration::days(days))
}

fn meta(
    name: &str,
    namespace: Option<&str>,
    uid: &str,
    rv: u64,
    created: &str,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), name.into());
    if let Some(ns) = namespace {
        m.insert("namespace".into(), ns.into());
    }
    m.insert("uid".into(), uid.into());
    m.insert("resourceVersion".into(), rv.to_string().into());
    m.insert("creationTimestamp".into(), created.into());
    m
}

fn cond_json(c: &KubeCluster, kind: &str, cond: &Cond) -> Value {
    let at = |d: Duration| {
        if d.is_zero() {
            born(c, CLUSTER_AGE_DAYS)
        } else {
            c.clock.stamp(d)
        }
    };
    json!({
        "type": kind,
        "status": if cond.status { "True" } else { "False" },
        "lastUpdateTime": at(cond.updated),
        "lastTransitionTime": at(cond.transition),
        "reason": cond.reason,
        "message": cond.message,
    })
}

/// A Deployment, StatefulSet or DaemonSet.
pub(crate) fn workload(c: &KubeCluster, index: usize) -> Value {
    let Some(w) = c.workloads.get(index) else {
        return Value::Null;
    };
    let at = c.now;
    let n = c.counts(index, at);
    let mut m = meta(
        &w.name,
        Some(&w.namespace),
        &w.uid,
        w.rv,
        &born(c, CLUSTER_AGE_DAYS),
    );
    m.insert("generation".into(), w.generation.into());
    m.insert("labels".into(), json!({"app": w.name}));
    let mut spec = json!({
        "selector": {"matchLabels": {"app": w.name}},
        "template": w.template,
        "revisionHistoryLimit": 10,
    });
    let (api_kind, status) = match w.kind {
        WorkloadKind::Deployment => {
            m.insert(
                "annotations".into(),
                json!({"deployment.kubernetes.io/revision": w.revision.to_string()}),
            );
            spec["replicas"] = w.replicas.into();
            spec["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}});
            spec["progressDeadlineSeconds"] = w.progress_deadline.as_secs().into();
            let mut status = json!({
                "observedGeneration": w.generation,
                "replicas": n.total,
                "updatedReplicas": n.updated,
                "readyReplicas": n.ready,
                "availableReplicas": n.ready,
                "conditions": [
                    cond_json(c, "Available", &w.available),
                    cond_json(c, "Progressing", &w.progressing),
                ],
            });
            let unavailable = w.replicas.saturating_sub(n.ready);
            if unavailable > 0 {
                status["unavailableReplicas"] = unavailable.into();
            }
            ("Deployment", status)
        }
        WorkloadKind::StatefulSet => {
            spec["replicas"] = w.replicas.into();
            spec["serviceName"] = w.name.clone().into();
            spec["podManagementPolicy"] = "OrderedReady".into();
            spec["updateStrategy"] =
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}});
            let current = if w.rollout.is_some() {
                c.pods_of(index)
                    .iter()
                    .find(|p| p.hash != w.hash)
                    .map_or_else(|| w.hash.clone(), |p| p.hash.clone())
            } else {
                w.hash.clone()
            };
            let status = json!({
                "observedGeneration": w.generation,
                "replicas": n.total,
                "readyReplicas": n.ready,
                "currentReplicas": n.total - n.updated.min(n.total) + if current == w.hash { n.updated } else { 0 },
                "updatedReplicas": n.updated,
                "availableReplicas": n.ready,
                "currentRevision": format!("{}-{current}", w.name),
                "updateRevision": format!("{}-{}", w.name, w.hash),
                "collisionCount": 0,
            });
            ("StatefulSet", status)
        }
        WorkloadKind::DaemonSet => {
            spec["updateStrategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}});
            let status = json!({
                "observedGeneration": w.generation,
                "currentNumberScheduled": n.total,
                "desiredNumberScheduled": w.replicas,
                "numberMisscheduled": 0,
                "numberReady": n.ready,
                "updatedNumberScheduled": n.updated,
                "numberAvailable": n.ready,
            });
            ("DaemonSet", status)
        }
    };
    json!({
        "kind": api_kind,
        "apiVersion": "apps/v1",
        "metadata": m,
        "spec": spec,
        "status": status,
    })
}

/// The autoscaling/v1 Scale of a deployment or statefulset.
pub(crate) fn scale(c: &KubeCluster, index: usize) -> Value {
    let Some(w) = c.workloads.get(index) else {
        return Value::Null;
    };
    let n = c.counts(index, c.now);
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": meta(&w.name, Some(&w.namespace), &w.uid, w.rv, &born(c, CLUSTER_AGE_DAYS)),
        "spec": {"replicas": w.replicas},
        "status": {"replicas": n.total, "selector": format!("app={}", w.name)},
    })
}

/// The ReplicaSets of a deployment: one per template revision that still has pods, and the
/// current one.
pub(crate) fn replica_sets(c: &KubeCluster, index: usize) -> Vec<Value> {
    let Some(w) = c.workloads.get(index) else {
        return Vec::new();
    };
    if w.kind != WorkloadKind::Deployment {
        return Vec::new();
    }
    let pods = c.pods_of(index);
    let mut hashes: Vec<&str> = pods.iter().map(|p| p.hash.as_str()).collect();
    hashes.push(&w.hash);
    hashes.sort_unstable();
    hashes.dedup();
    hashes
        .into_iter()
        .map(|hash| {
            let mine: Vec<&&Pod> = pods.iter().filter(|p| p.hash == hash).collect();
            let ready = mine.iter().filter(|p| p.ready(c.now)).count();
            let current = hash == w.hash;
            let replicas = if current { w.replicas as usize } else { mine.len() };
            let name = format!("{}-{hash}", w.name);
            let mut m = meta(&name, Some(&w.namespace), &crate::sim::cluster::clock::uid(&name), w.rv, &born(c, 1));
            m.insert("labels".into(), json!({"app": w.name, "pod-template-hash": hash}));
            m.insert("ownerReferences".into(), json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": w.name, "uid": w.uid, "controller": true, "blockOwnerDeletion": true}]));
            json!({
                "kind": "ReplicaSet",
                "apiVersion": "apps/v1",
                "metadata": m,
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": w.name, "pod-template-hash": hash}}, "template": w.template},
                "status": {"replicas": mine.len(), "fullyLabeledReplicas": mine.len(), "readyReplicas": ready, "availableReplicas": ready, "observedGeneration": 1},
            })
        })
        .collect()
}

/// A Pod, its container state following its fault.
pub(crate) fn pod(c: &KubeCluster, p: &Pod) -> Value {
    let Some(w) = c.workloads.get(p.owner) else {
        return Value::Null;
    };
    let at = c.now;
    let created = if p.created.is_zero() {
        born(c, 2)
    } else {
        c.clock.stamp(p.created)
    };
    let container = w.template["spec"]["containers"][0].clone();
    let cname = container["name"].as_str().unwrap_or("app").to_string();
    let image = container["image"].as_str().unwrap_or_default().to_string();
    let mut m = meta(&p.name, Some(&p.namespace), &p.uid, p.rv, &created);
    let (hash_label, owner_kind, owner_name) = match w.kind {
        WorkloadKind::Deployment => (
            "pod-template-hash",
            "ReplicaSet",
            format!("{}-{}", w.name, p.hash),
        ),
        WorkloadKind::StatefulSet => ("controller-revision-hash", "StatefulSet", w.name.clone()),
        WorkloadKind::DaemonSet => ("controller-revision-hash", "DaemonSet", w.name.clone()),
    };
    m.insert("generateName".into(), format!("{owner_name}-").into());
    m.insert("labels".into(), json!({"app": w.name, hash_label: p.hash}));
    m.insert("ownerReferences".into(), json!([{"apiVersion": "apps/v1", "kind": owner_kind, "name": owner_name, "uid": w.uid, "controller": true, "blockOwnerDeletion": true}]));
    let node = c.nodes.get(p.node).cloned().unwrap_or_default();
    let mut spec = w.template["spec"].clone();
    let unscheduled = p.fault == Some(Fault::Unschedulable);
    if !unscheduled {
        spec["nodeName"] = node.clone().into();
    }
    let since = |d: Duration| c.clock.stamp(d);
    let started_at = since(p.starts.max(p.created));
    let ready = p.ready(at);
    let container_id = |n: u32| {
        format!(
            "containerd://{:064x}",
            u128::from(crate::sim::resources::stable_hash(&format!("{}{n}", p.uid)))
        )
    };
    let mut status = json!({
        "phase": "Running",
        "qosClass": "Burstable",
        "startTime": created,
    });
    let cond = |kind: &str, ok: bool| {
        let mut c = json!({"type": kind, "status": if ok { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": created});
        if !ok && kind == "Ready" {
            c["reason"] = "ContainersNotReady".into();
            c["message"] = format!("containers with unready status: [{cname}]").into();
        }
        c
    };
    if unscheduled {
        status["phase"] = "Pending".into();
        status["conditions"] = json!([{
            "type": "PodScheduled", "status": "False", "lastProbeTime": null, "lastTransitionTime": created,
            "reason": "Unschedulable",
            "message": format!("0/{n} nodes are available: {n} Insufficient memory. preemption: 0/{n} nodes are available: {n} No preemption victims found for incoming pod.", n = c.nodes.len()),
        }]);
        if let Some(s) = status.as_object_mut() {
            s.remove("startTime");
        }
    } else {
        let (state, last_state, phase) = match p.fault {
            Some(Fault::CrashLoop) => (
                json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off {} restarting failed container={cname} pod={}_{}({})", backoff_text(p.restarts), p.name, p.namespace, p.uid)}}),
                p.last_restart.map_or_else(|| json!({}), |t| json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": since(t.saturating_sub(Duration::from_secs(5))), "finishedAt": since(t), "containerID": container_id(p.restarts)}})),
                "Running",
            ),
            Some(Fault::OomKilled) => {
                let t = p.last_restart.unwrap_or(p.fault_since);
                let term = json!({"exitCode": 137, "reason": "OOMKilled", "startedAt": since(t.saturating_sub(Duration::from_secs(5))), "finishedAt": since(t), "containerID": container_id(p.restarts)});
                (json!({"terminated": term}), json!({"terminated": term}), "Running")
            }
            Some(Fault::ImagePull) => (
                json!({"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{image}\"")}}),
                json!({}),
                "Pending",
            ),
            _ if !ready => (json!({"waiting": {"reason": "ContainerCreating"}}), json!({}), "Pending"),
            _ => (json!({"running": {"startedAt": started_at}}), json!({}), "Running"),
        };
        status["phase"] = phase.into();
        status["hostIP"] = format!("10.0.0.{}", 10 + p.node).into();
        status["hostIPs"] = json!([{"ip": format!("10.0.0.{}", 10 + p.node)}]);
        if phase == "Running" || p.fault == Some(Fault::ImagePull) {
            status["podIP"] = p.ip.clone().into();
            status["podIPs"] = json!([{"ip": p.ip}]);
        }
        status["conditions"] = json!([
            cond("PodReadyToStartContainers", phase == "Running"),
            cond("Initialized", true),
            cond("Ready", ready),
            cond("ContainersReady", ready),
            cond("PodScheduled", true),
        ]);
        let mut cs = json!({
            "name": cname,
            "state": state,
            "lastState": last_state,
            "ready": ready,
            "restartCount": p.restarts,
            "image": image,
            "imageID": "",
            "started": ready,
        });
        if p.fault != Some(Fault::ImagePull) && (ready || p.fault.is_some()) {
            cs["containerID"] = container_id(p.restarts).into();
            cs["imageID"] = format!(
                "{}@sha256:{:064x}",
                image.split(':').next().unwrap_or_default(),
                u128::from(crate::sim::resources::stable_hash(&image))
            )
            .into();
        }
        status["containerStatuses"] = json!([cs]);
    }
    json!({"kind": "Pod", "apiVersion": "v1", "metadata": m, "spec": spec, "status": status})
}

fn backoff_text(restarts: u32) -> &'static str {
    match restarts {
        0 | 1 => "10s",
        2 => "20s",
        3 => "40s",
        4 => "1m20s",
        5 => "2m40s",
        _ => "5m0s",
    }
}

/// The autoscaling/v2 HorizontalPodAutoscaler of a deployment.
pub(crate) fn hpa(c: &KubeCluster, index: usize) -> Option<Value> {
    let w = c.workloads.get(index)?;
    let h = w.hpa.as_ref()?;
    let ratio = f64::from(h.cpu) / f64::from(h.target.max(1));
    let raw = (f64::from(w.replicas.max(1)) * ratio).ceil() as u32;
    let (limited, reason, message) = if raw > h.max {
        (
            true,
            "TooManyReplicas",
            "the desired replica count is more than the maximum replica count",
        )
    } else if raw < h.min {
        (
            true,
            "TooFewReplicas",
            "the desired replica count is less than the minimum replica count",
        )
    } else {
        (
            false,
            "DesiredWithinRange",
            "the desired count is within the acceptable range",
        )
    };
    let created = born(c, CLUSTER_AGE_DAYS);
    let cond = |kind: &str, ok: bool, reason: &str, message: &str| json!({"type": kind, "status": if ok { "True" } else { "False" }, "lastTransitionTime": created, "reason": reason, "message": message});
    let mut status = json!({
        "currentReplicas": w.replicas,
        "desiredReplicas": h.desired,
        "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": h.cpu, "averageValue": format!("{}m", h.cpu)}}}],
        "conditions": [
            cond("AbleToScale", true, "ReadyForNewScale", "recommended size matches current size"),
            cond("ScalingActive", true, "ValidMetricFound", "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"),
            cond("ScalingLimited", limited, reason, message),
        ],
    });
    if let Some(t) = h.last_scale {
        status["lastScaleTime"] = c.clock.stamp(t).into();
    }
    Some(json!({
        "kind": "HorizontalPodAutoscaler",
        "apiVersion": "autoscaling/v2",
        "metadata": meta(&w.name, Some(&w.namespace), &h.uid, h.rv, &created),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": w.name},
            "minReplicas": h.min,
            "maxReplicas": h.max,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": h.target}}}],
        },
        "status": status,
    }))
}

pub(crate) fn event(c: &KubeCluster, e: &EventRec) -> Value {
    let first = c.clock.stamp(e.first);
    let mut source = json!({"component": e.component});
    if let Some(h) = &e.host {
        source["host"] = h.clone().into();
    }
    let api_version = match e.object_kind {
        "Pod" => "v1",
        "HorizontalPodAutoscaler" => "autoscaling/v2",
        _ => "apps/v1",
    };
    json!({
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": meta(&e.name, Some(&e.namespace), &e.uid, e.rv, &first),
        "involvedObject": {"kind": e.object_kind, "namespace": e.namespace, "name": e.object_name, "uid": e.object_uid, "apiVersion": api_version},
        "reason": e.reason,
        "message": e.message,
        "source": source,
        "firstTimestamp": first,
        "lastTimestamp": c.clock.stamp(e.last),
        "count": e.count,
        "type": if e.warning { "Warning" } else { "Normal" },
        "eventTime": null,
        "reportingComponent": e.component,
        "reportingInstance": e.host.clone().unwrap_or_default(),
    })
}

pub(crate) fn namespace(c: &KubeCluster, name: &str) -> Value {
    let (uid, rv) = c.namespaces.get(name).cloned().unwrap_or_default();
    let mut m = meta(name, None, &uid, rv, &born(c, CLUSTER_AGE_DAYS + 30));
    m.insert(
        "labels".into(),
        json!({"kubernetes.io/metadata.name": name}),
    );
    json!({"kind": "Namespace", "apiVersion": "v1", "metadata": m, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
}

pub(crate) fn node(c: &KubeCluster, index: usize) -> Value {
    let name = c.nodes.get(index).cloned().unwrap_or_default();
    let created = born(c, CLUSTER_AGE_DAYS + 30);
    let mut m = meta(
        &name,
        None,
        &crate::sim::cluster::clock::uid(&name),
        c.rv,
        &created,
    );
    m.insert("labels".into(), json!({"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "node.kubernetes.io/instance-type": "e2-standard-4"}));
    json!({
        "kind": "Node", "apiVersion": "v1", "metadata": m,
        "spec": {"podCIDR": format!("10.244.{index}.0/24")},
        "status": {
            "capacity": {"cpu": "4", "memory": "16365772Ki", "pods": "110"},
            "allocatable": {"cpu": "3920m", "memory": "13242572Ki", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": stamp(c.clock.wall(c.now)), "lastTransitionTime": created, "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
            "addresses": [{"type": "InternalIP", "address": format!("10.0.0.{}", 10 + index)}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": "v1.33.1", "containerRuntimeVersion": "containerd://1.7.27", "osImage": "Ubuntu 24.04.2 LTS", "kernelVersion": "6.8.0-1027-gke", "operatingSystem": "linux", "architecture": "amd64"},
        },
    })
}

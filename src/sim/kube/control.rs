//! The controllers of a simulated cluster, run on the scenario clock: the deployment /
//! statefulset / daemonset controllers (scale, rolling update, progress deadline), the kubelet
//! (containers starting, crash loops counting restarts) and the HPA controller. Also what a
//! scenario may set on a `k8s_workload`. Pure.

use std::time::Duration;

use serde_json::Value;

use super::store::{Cond, Fault, KubeCluster, Res, Rollout, template_hash};
use crate::estate::WorkloadKind;
use crate::sim::cluster::clock::seconds;

/// How long a container takes to start and pass its readiness probe.
pub(crate) const POD_START: Duration = Duration::from_secs(5);
/// How often a rolling update takes its next step.
pub(crate) const ROLLOUT_STEP: Duration = Duration::from_secs(5);
/// The longest stretch the controllers cover in one go: beyond it they catch up in chunks.
const MAX_TICK: Duration = Duration::from_secs(5);
/// The most strides the controllers take to catch up in one go.
const MAX_STRIDES: u32 = 20;

/// The keys a scenario may set on a `k8s_workload`.
pub(crate) const KEYS: &[&str] = &[
    "replicas",
    "fault",
    "faulty_pods",
    "bad_rollout",
    "rollout_restart",
    "progress_deadline",
    "fixed_by",
    "hpa.min",
    "hpa.max",
    "hpa.cpu",
    "hpa.target",
];

/// What is wrong with setting `key` to `value` on a workload, if anything.
pub(crate) fn set_problem(key: &str, value: &Value) -> Option<String> {
    let shown = value.to_string();
    let count = || value.as_u64().is_some_and(|n| n <= 100_000);
    let ok = match key {
        "replicas" | "faulty_pods" | "hpa.min" | "hpa.max" => count(),
        "hpa.cpu" | "hpa.target" => value.as_u64().is_some_and(|n| (1..=10_000).contains(&n)),
        "fault" | "bad_rollout" => value.as_str().is_some_and(|t| Fault::parse(t).is_ok()),
        "rollout_restart" => value.is_boolean(),
        "progress_deadline" => seconds(value).is_some(),
        "fixed_by" => matches!(value.as_str(), Some("restart" | "none")),
        _ => {
            return Some(format!(
                "set key '{key}' means nothing to a k8s_workload; use one of {}",
                KEYS.join(", ")
            ));
        }
    };
    (!ok).then(|| match key {
        "fault" | "bad_rollout" => format!(
            "set key '{key}' is {shown}, which is not a pod fault; use \"CrashLoopBackOff\", \"ImagePullBackOff\", \"OOMKilled\", \"Unschedulable\" or \"none\""
        ),
        "progress_deadline" => format!("set key '{key}' is {shown}, which is not a duration"),
        "fixed_by" => format!("set key '{key}' is {shown}; use \"restart\" or \"none\""),
        _ => format!("set key '{key}' is {shown}, which is not a count"),
    })
}

impl KubeCluster {
    /// Applies one scenario setting to a workload at `at`.
    pub fn set(&mut self, index: usize, key: &str, value: &Value, at: Duration) {
        if self.workloads.get(index).is_none() || set_problem(key, value).is_some() {
            tracing::debug!(key, %value, "workload setting ignored");
            return;
        }
        let n = value.as_u64().map_or(0, |n| n as u32);
        match key {
            "replicas" => self.scale(index, n, at),
            "fault" => {
                let fault = value.as_str().and_then(|t| Fault::parse(t).ok()).flatten();
                self.set_fault(index, fault, at);
            }
            "faulty_pods" => {
                self.workloads[index].faulty_pods = Some(n);
                let fault = self.workloads[index].fault;
                self.set_fault(index, fault, at);
            }
            "bad_rollout" => {
                let fault = value.as_str().and_then(|t| Fault::parse(t).ok()).flatten();
                self.start_rollout(index, at, fault, None);
            }
            "rollout_restart" => {
                if value.as_bool() == Some(true) {
                    self.start_rollout(index, at, None, None);
                }
            }
            "progress_deadline" => {
                self.workloads[index].progress_deadline =
                    Duration::from_secs_f64(seconds(value).unwrap_or(600.0));
            }
            "fixed_by" => {
                self.workloads[index].fixed_by_restart = value.as_str() == Some("restart");
            }
            hpa_key => {
                let w = &mut self.workloads[index];
                if let Some(hpa) = w.hpa.as_mut() {
                    match hpa_key {
                        "hpa.min" => hpa.min = n.max(1),
                        "hpa.max" => hpa.max = n.max(1),
                        "hpa.cpu" => hpa.cpu = n,
                        _ => hpa.target = n.max(1),
                    }
                    hpa.next_sync = at;
                    let (ns, name) = (w.namespace.clone(), w.name.clone());
                    self.touch(Res::Hpa, &ns, &name);
                }
            }
        }
        self.reconcile(index, at);
    }

    /// Sets spec.replicas (`kubectl scale`, the scale subresource, the HPA).
    pub fn scale(&mut self, index: usize, replicas: u32, at: Duration) {
        let Some(w) = self.workloads.get_mut(index) else {
            return;
        };
        if w.kind == WorkloadKind::DaemonSet || w.replicas == replicas {
            return;
        }
        let from = w.replicas;
        w.replicas = replicas;
        w.generation += 1;
        let (ns, name, kind, uid) = (w.namespace.clone(), w.name.clone(), w.kind, w.uid.clone());
        let rs = format!("{name}-{}", w.hash);
        self.touch(Res::of_workload(kind), &ns, &name);
        if kind == WorkloadKind::Deployment {
            let word = if replicas > from { "up" } else { "down" };
            self.record(
                at,
                &ns,
                ("Deployment", &name, &uid),
                "ScalingReplicaSet",
                format!("Scaled {word} replica set {rs} from {from} to {replicas}"),
                false,
                "deployment-controller",
                None,
            );
        }
        self.reconcile(index, at);
    }

    /// Starts a rolling update to a new revision of the template (`rollout restart`, a patch
    /// of the template, a bad deploy).
    pub fn start_rollout(
        &mut self,
        index: usize,
        at: Duration,
        fault: Option<Fault>,
        template: Option<Value>,
    ) {
        let Some(w) = self.workloads.get_mut(index) else {
            return;
        };
        if let Some(t) = template {
            w.template = t;
        }
        // A fault only the running pods carry (a stale secret, a wedged connection pool): the
        // new revision's pods start clean.
        if w.fixed_by_restart && fault.is_none() {
            w.fault = None;
            w.fixed_by_restart = false;
        }
        w.revision += 1;
        w.generation += 1;
        w.hash = template_hash(&w.name, &w.template, w.revision);
        w.rollout = Some(Rollout {
            next_step: at,
            last_progress: at,
            fault,
        });
        let (res, ns, name) = (w.res(), w.namespace.clone(), w.name.clone());
        self.touch(res, &ns, &name);
        self.reconcile(index, at);
    }

    fn set_fault(&mut self, index: usize, fault: Option<Fault>, at: Duration) {
        let Some(w) = self.workloads.get_mut(index) else {
            return;
        };
        w.fault = fault;
        let limit = w.faulty_pods.unwrap_or(u32::MAX);
        let (ns, hash) = (w.namespace.clone(), w.hash.clone());
        let names: Vec<String> = w.pods.iter().cloned().collect();
        let mut hit = 0;
        for name in names {
            let Some(pod) = self.pods.get_mut(&(ns.clone(), name.clone())) else {
                continue;
            };
            let want = if pod.hash == hash && hit < limit {
                fault
            } else {
                None
            };
            if want.is_some() {
                hit += 1;
            }
            if pod.fault != want {
                if want.is_none() {
                    pod.starts = at + POD_START;
                }
                pod.fault = want;
                pod.fault_since = at;
                self.touch(Res::Pod, &ns, &name);
            }
        }
    }

    /// Deletes a pod the way `kubectl delete pod` does: its controller replaces it.
    pub fn delete_pod(&mut self, namespace: &str, name: &str, at: Duration) -> bool {
        let Some(owner) = self
            .pods
            .get(&(namespace.to_string(), name.to_string()))
            .map(|p| p.owner)
        else {
            return false;
        };
        self.remove_pod(namespace, name);
        self.reconcile(owner, at);
        true
    }

    /// Runs every controller up to `at`.
    pub fn tick(&mut self, at: Duration) {
        let from = self.now;
        // Far behind (a fast clock on a busy machine), the controllers take longer strides
        // rather than fall further behind.
        let stride = MAX_TICK.max(at.saturating_sub(from) / MAX_STRIDES);
        while self.now < at {
            self.now += at.saturating_sub(self.now).min(stride);
            let now = self.now;
            for i in 0..self.workloads.len() {
                self.hpa_sync(i, now);
                self.reconcile(i, now);
            }
        }
        // Readiness and restarts are functions of time: one pass covers the whole stretch.
        if at > from {
            self.kubelet(from, at);
        }
        self.flush();
    }

    /// Containers that start, and containers that crash again.
    fn kubelet(&mut self, from: Duration, at: Duration) {
        let mut restarted = Vec::new();
        let mut started = Vec::new();
        let mut owners = std::collections::BTreeSet::new();
        for (key, pod) in &mut self.pods {
            if pod.fault.is_none() && pod.starts > from && pod.starts <= at {
                started.push(key.clone());
                owners.insert(pod.owner);
            }
            if let Some(f) = pod.fault.filter(|f| f.restarts()) {
                let (count, last) = restarts_by(at.saturating_sub(pod.fault_since));
                if count != pod.restarts {
                    pod.restarts = count;
                    pod.last_restart = last.map(|d| pod.fault_since + d);
                    restarted.push((key.clone(), pod.uid.clone(), pod.node, f));
                }
            }
        }
        for (ns, name) in started {
            self.touch(Res::Pod, &ns, &name);
        }
        for owner in owners {
            if let Some(w) = self.workloads.get(owner) {
                let (res, ns, name) = (w.res(), w.namespace.clone(), w.name.clone());
                self.touch(res, &ns, &name);
            }
        }
        for ((ns, name), uid, node, fault) in restarted {
            self.touch(Res::Pod, &ns, &name);
            let container = self
                .pods
                .get(&(ns.clone(), name.clone()))
                .and_then(|p| self.workloads.get(p.owner))
                .map_or_else(|| "app".to_string(), |w| w.name.clone());
            let reason = if fault == Fault::OomKilled {
                "OOMKilling"
            } else {
                "BackOff"
            };
            let message = if fault == Fault::OomKilled {
                format!("Memory cgroup out of memory: Killed process in container {container}")
            } else {
                format!(
                    "Back-off restarting failed container {container} in pod {name}_{ns}({uid})"
                )
            };
            let host = self.nodes.get(node).cloned();
            self.record(
                at,
                &ns,
                ("Pod", &name, &uid),
                reason,
                message,
                true,
                "kubelet",
                host,
            );
        }
    }

    /// Brings a workload's pods towards its spec: scale, and the steps of a rolling update.
    pub fn reconcile(&mut self, index: usize, at: Duration) {
        let Some(w) = self.workloads.get(index) else {
            return;
        };
        let (replicas, kind, ns) = (w.replicas, w.kind, w.namespace.clone());
        let due = w.rollout.as_ref().is_none_or(|r| r.next_step <= at);
        let before = self.counts(index, at);
        let old = before.total - before.updated;
        let mut changed = false;
        if (w.rollout.is_some() || old > 0) && due {
            self.rollout_step(index, at, replicas, kind, before);
            changed = true;
        } else if w.rollout.is_none() && old == 0 && before.updated != replicas {
            if before.updated < replicas {
                for _ in before.updated..replicas {
                    self.create_pod(index, at, false);
                }
            } else {
                let extra: Vec<String> = self
                    .pods_of(index)
                    .iter()
                    .rev()
                    .take((before.updated - replicas) as usize)
                    .map(|p| p.name.clone())
                    .collect();
                for name in extra {
                    self.remove_pod(&ns, &name);
                }
            }
            changed = true;
        }
        let c = if changed {
            self.counts(index, at)
        } else {
            before
        };
        let w = &mut self.workloads[index];
        if w.rollout.is_some() && c.total == replicas && c.updated_ready == replicas {
            w.rollout = None;
            changed = true;
        }
        if self.conditions(index, at, c) || changed {
            let w = &self.workloads[index];
            let (res, name) = (w.res(), w.name.clone());
            self.touch(res, &ns, &name);
        }
    }

    /// One step of a rolling update: remove what the availability budget allows of the old
    /// revision's pods (unready ones first), then surge new ones.
    fn rollout_step(
        &mut self,
        index: usize,
        at: Duration,
        replicas: u32,
        kind: WorkloadKind,
        c: super::store::Counts,
    ) {
        let Some(hash) = self.workloads.get(index).map(|w| w.hash.clone()) else {
            return;
        };
        let ns = self.workloads[index].namespace.clone();
        let old: Vec<(String, bool)> = self
            .pods_of(index)
            .iter()
            .filter(|p| p.hash != hash)
            .map(|p| (p.name.clone(), p.ready(at)))
            .collect();
        let (surge, unavailable) = budget(kind, replicas);
        let new_ready = c.updated_ready;
        let floor = replicas.saturating_sub(unavailable);
        let mut removable = c.ready.saturating_sub(floor);
        let mut removed = 0u32;
        for (name, ready) in old
            .iter()
            .filter(|p| !p.1)
            .chain(old.iter().filter(|p| p.1))
        {
            if *ready {
                if removable == 0 {
                    break;
                }
                removable -= 1;
            }
            self.remove_pod(&ns, name);
            removed += 1;
        }
        let remaining = old.len() as u32 - removed + c.updated;
        let room = (replicas + surge).saturating_sub(remaining);
        let want = replicas.saturating_sub(c.updated);
        for _ in 0..room.min(want) {
            self.create_pod(index, at, false);
        }
        let progressed = removed > 0 || new_ready > 0 && room.min(want) > 0;
        if let Some(r) = self.workloads[index].rollout.as_mut() {
            r.next_step = at + ROLLOUT_STEP;
            if progressed {
                r.last_progress = at;
            }
        }
    }

    /// Updates Available and Progressing; returns whether either changed.
    fn conditions(&mut self, index: usize, at: Duration, c: super::store::Counts) -> bool {
        let w = &mut self.workloads[index];
        let (_, unavailable) = budget(w.kind, w.replicas);
        let rs = format!("{}-{}", w.name, w.hash);
        let available = if c.ready >= w.replicas.saturating_sub(unavailable) {
            (
                true,
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.".to_string(),
            )
        } else {
            (
                false,
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".to_string(),
            )
        };
        let progressing = match &w.rollout {
            Some(r) if at.saturating_sub(r.last_progress) > w.progress_deadline => (
                false,
                "ProgressDeadlineExceeded",
                format!("ReplicaSet \"{rs}\" has timed out progressing."),
            ),
            Some(_) => (
                true,
                "ReplicaSetUpdated",
                format!("ReplicaSet \"{rs}\" is progressing."),
            ),
            None => (
                true,
                "NewReplicaSetAvailable",
                format!("ReplicaSet \"{rs}\" has successfully progressed."),
            ),
        };
        let a = update(&mut w.available, available, at);
        let p = update(&mut w.progressing, progressing, at);
        a || p
    }
}

fn update(
    cond: &mut Cond,
    (status, reason, message): (bool, &'static str, String),
    at: Duration,
) -> bool {
    if cond.status == status && cond.reason == reason && cond.message == message {
        return false;
    }
    // A zero time reads as "since the cluster was created" (objects.rs); a change at the
    // scenario's first instant is a change all the same.
    let at = at.max(Duration::from_micros(1));
    if cond.status != status {
        cond.transition = at;
    }
    cond.status = status;
    cond.reason = reason;
    cond.message = message;
    cond.updated = at;
    true
}

/// maxSurge and maxUnavailable: 25% each for deployments (surge rounded up, unavailable
/// down), one pod at a time for statefulsets and daemonsets.
pub(crate) fn budget(kind: WorkloadKind, replicas: u32) -> (u32, u32) {
    match kind {
        WorkloadKind::Deployment => (replicas.div_ceil(4).max(1), replicas / 4),
        _ => (0, 1),
    }
}

/// How many times a crash-looping container has terminated `elapsed` after its fault began,
/// and when it last did: it exits at once (a crash loop is what you find, not what you wait
/// for), then kubelet restarts it after a back-off that doubles from 10 s to five minutes, and
/// each new run lasts about five seconds.
pub(crate) fn restarts_by(elapsed: Duration) -> (u32, Option<Duration>) {
    let mut t = Duration::ZERO;
    let mut backoff = Duration::from_secs(10);
    let mut count = 0;
    let mut last = None;
    while t <= elapsed && count < 100_000 {
        count += 1;
        last = Some(t);
        t += backoff + Duration::from_secs(5);
        backoff = (backoff * 2).min(Duration::from_secs(300));
    }
    (count, last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::kube::store::KubeCluster;
    use std::time::Instant;

    fn cluster() -> KubeCluster {
        let clock = crate::sim::cluster::clock::SimClock::new(Instant::now(), 1.0);
        let mut c = KubeCluster::new("test", clock);
        c.add_workload(WorkloadKind::Deployment, "app", "web");
        c.flush();
        c
    }

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn crash_loops_back_off_like_kubelet() {
        assert_eq!(restarts_by(s(0)), (1, Some(s(0))));
        assert_eq!(restarts_by(s(14)), (1, Some(s(0))));
        assert_eq!(restarts_by(s(15)), (2, Some(s(15))));
        assert_eq!(restarts_by(s(40)).0, 3);
        assert_eq!(restarts_by(s(3600)).0, 16);
    }

    #[test]
    fn scale_creates_pods_that_become_ready() {
        let mut c = cluster();
        c.scale(0, 4, s(1));
        assert_eq!(c.counts(0, s(1)).total, 4);
        assert_eq!(c.counts(0, s(1)).ready, 2);
        c.tick(s(10));
        assert_eq!(c.counts(0, s(10)).ready, 4);
        c.scale(0, 1, s(11));
        assert_eq!(c.counts(0, s(11)).total, 1);
    }

    #[test]
    fn a_restart_rolls_every_pod_and_finishes() {
        let mut c = cluster();
        let before: Vec<String> = c.workloads[0].pods.iter().cloned().collect();
        c.start_rollout(0, s(1), None, None);
        assert!(c.workloads[0].rollout.is_some());
        c.tick(s(60));
        assert!(c.workloads[0].rollout.is_none(), "the rollout completes");
        let after: Vec<String> = c.workloads[0].pods.iter().cloned().collect();
        assert_eq!(after.len(), 2);
        assert!(
            after.iter().all(|p| !before.contains(p)),
            "all pods replaced"
        );
        assert!(c.workloads[0].progressing.status);
    }

    #[test]
    fn a_bad_rollout_stalls_then_exceeds_its_deadline() {
        let mut c = cluster();
        c.set(
            0,
            "bad_rollout",
            &serde_json::json!("CrashLoopBackOff"),
            s(1),
        );
        c.tick(s(120));
        let counts = c.counts(0, s(120));
        assert_eq!(counts.ready, 2, "the old pods keep serving");
        assert!(c.workloads[0].progressing.status);
        c.tick(s(700));
        assert_eq!(
            c.workloads[0].progressing.reason,
            "ProgressDeadlineExceeded"
        );
        assert!(!c.workloads[0].progressing.status);
        assert!(c.pods.values().any(|p| p.restarts > 3));
    }

    #[test]
    fn the_hpa_climbs_to_its_max_and_stays() {
        let mut c = cluster();
        c.set(0, "hpa.cpu", &serde_json::json!(190), s(0));
        c.tick(s(120));
        assert_eq!(c.workloads[0].replicas, 10);
        assert!(set_problem("hpa.cpu", &serde_json::json!(-1)).is_some());
        assert!(set_problem("colour", &serde_json::json!(1)).is_some());
        assert!(set_problem("fault", &serde_json::json!("Broken")).is_some());
        assert!(set_problem("fault", &serde_json::json!("OOMKilled")).is_none());
    }
}

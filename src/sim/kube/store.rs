//! One simulated Kubernetes cluster's objects: workloads, their pods, HPAs, events, leases,
//! namespaces and nodes; the resource-version counter and the change log that lists and
//! watches read. The controllers that move it on the scenario clock live in `kube/control.rs`;
//! the JSON shapes in `kube/objects.rs`. Pure apart from the broadcast of changes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::estate::WorkloadKind;
use crate::sim::cluster::clock::{SimClock, suffix, token, uid};

pub(crate) use super::kinds::{
    Change, ChangeKind, Cond, EventRec, Fault, Hpa, Pod, Res, Rollout, Workload,
};

/// How many changes a cluster keeps for watches that resume from a resource version.
pub(crate) const HISTORY: usize = 4096;
/// How many Event objects a cluster keeps.
const MAX_EVENTS: usize = 1000;
/// Nodes in every simulated cluster.
pub(crate) const NODES: usize = 3;

/// One cluster (one kubeconfig context).
pub(crate) struct KubeCluster {
    pub context: String,
    pub clock: SimClock,
    pub rv: u64,
    /// Changes older than this resource version are gone: a watch from before it gets 410.
    pub floor: u64,
    pub namespaces: BTreeMap<String, (String, u64)>,
    pub nodes: Vec<String>,
    pub workloads: Vec<Workload>,
    pub pods: BTreeMap<(String, String), Pod>,
    pub hpa_names: BTreeMap<(String, String), usize>,
    pub leases: BTreeMap<(String, String), Value>,
    pub events: BTreeMap<(String, String), EventRec>,
    event_order: VecDeque<(String, String)>,
    pub history: VecDeque<Arc<Change>>,
    pub tx: broadcast::Sender<Arc<Change>>,
    dirty: BTreeSet<(Res, String, String)>,
    added: BTreeSet<(Res, String, String)>,
    serial: u64,
    /// The last moment the controllers ran.
    pub now: Duration,
}

impl KubeCluster {
    pub fn new(context: &str, clock: SimClock) -> KubeCluster {
        let (tx, _) = broadcast::channel(HISTORY);
        let mut cluster = KubeCluster {
            context: context.to_string(),
            clock,
            rv: 1000 + crate::sim::resources::stable_hash(context) % 9000,
            floor: 0,
            namespaces: BTreeMap::new(),
            nodes: (1..=NODES)
                .map(|n| format!("{context}-pool-{}-{n}", token(context, 4)))
                .collect(),
            workloads: Vec::new(),
            pods: BTreeMap::new(),
            hpa_names: BTreeMap::new(),
            leases: BTreeMap::new(),
            events: BTreeMap::new(),
            event_order: VecDeque::new(),
            history: VecDeque::new(),
            tx,
            dirty: BTreeSet::new(),
            added: BTreeSet::new(),
            serial: 0,
            now: Duration::ZERO,
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            cluster.ensure_namespace(ns);
        }
        cluster
    }

    pub fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    pub fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    pub fn ensure_namespace(&mut self, ns: &str) {
        if !self.namespaces.contains_key(ns) {
            let rv = self.next_rv();
            let id = uid(&format!("{}/ns/{ns}", self.context));
            self.namespaces.insert(ns.to_string(), (id, rv));
            self.added
                .insert((Res::Namespace, String::new(), ns.to_string()));
        }
    }

    /// Adds a workload as the estate describes it (before the simulator starts serving).
    pub fn add_workload(&mut self, kind: WorkloadKind, namespace: &str, name: &str) -> usize {
        if let Some(i) = self.workload(Res::of_workload(kind), namespace, name) {
            return i;
        }
        self.ensure_namespace(namespace);
        let replicas = match kind {
            WorkloadKind::Deployment => 2,
            WorkloadKind::StatefulSet => 3,
            WorkloadKind::DaemonSet => NODES as u32,
        };
        let template = default_template(name, namespace);
        let hash = template_hash(name, &template, 1);
        let ok = |reason, message: String| Cond {
            status: true,
            reason,
            message,
            updated: Duration::ZERO,
            transition: Duration::ZERO,
        };
        let rs = format!("{name}-{hash}");
        let index = self.workloads.len();
        let rv = self.next_rv();
        let hpa = (kind == WorkloadKind::Deployment).then(|| Hpa {
            uid: uid(&format!("{}/hpa/{namespace}/{name}", self.context)),
            rv,
            min: replicas,
            max: 10,
            target: 70,
            cpu: 35,
            desired: replicas,
            below_since: None,
            last_scale: None,
            next_sync: Duration::from_secs(15),
        });
        if hpa.is_some() {
            self.hpa_names
                .insert((namespace.to_string(), name.to_string()), index);
        }
        self.workloads.push(Workload {
            kind,
            name: name.to_string(),
            namespace: namespace.to_string(),
            uid: uid(&format!("{}/{kind:?}/{namespace}/{name}", self.context)),
            rv,
            generation: 1,
            replicas,
            template,
            revision: 1,
            hash,
            pods: BTreeSet::new(),
            rollout: None,
            fault: None,
            faulty_pods: None,
            fixed_by_restart: false,
            progress_deadline: Duration::from_secs(600),
            available: ok(
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.".to_string(),
            ),
            progressing: ok(
                "NewReplicaSetAvailable",
                format!("ReplicaSet \"{rs}\" has successfully progressed."),
            ),
            hpa,
        });
        for _ in 0..replicas {
            self.create_pod(index, Duration::ZERO, true);
        }
        index
    }

    pub fn workload(&self, res: Res, namespace: &str, name: &str) -> Option<usize> {
        self.workloads
            .iter()
            .position(|w| w.res() == res && w.namespace == namespace && w.name == name)
    }

    /// Creates one pod of the workload's current revision. `running` makes it ready at once
    /// (the pods that exist when the simulator starts).
    pub fn create_pod(&mut self, index: usize, at: Duration, running: bool) -> Option<String> {
        let serial = self.next_serial();
        let w = self.workloads.get(index)?;
        let name = match w.kind {
            WorkloadKind::Deployment => format!("{}-{}-{}", w.name, w.hash, suffix(serial)),
            WorkloadKind::DaemonSet => format!("{}-{}", w.name, suffix(serial)),
            WorkloadKind::StatefulSet => {
                let ordinal =
                    (0..=w.pods.len()).find(|n| !w.pods.contains(&format!("{}-{n}", w.name)))?;
                format!("{}-{ordinal}", w.name)
            }
        };
        let node = match w.kind {
            WorkloadKind::DaemonSet => (0..NODES)
                .find(|n| {
                    !w.pods.iter().any(|p| {
                        self.pods
                            .get(&(w.namespace.clone(), p.clone()))
                            .is_some_and(|pod| pod.node == *n)
                    })
                })
                .unwrap_or(0),
            _ => (stable(&name) % NODES as u64) as usize,
        };
        // Counting the faulty pods costs a pass over the workload's pods: only when limited.
        let room_for_fault = || {
            w.faulty_pods.is_none_or(|limit| {
                let faulty = w
                    .pods
                    .iter()
                    .filter_map(|p| self.pods.get(&(w.namespace.clone(), p.clone())))
                    .filter(|p| p.fault.is_some() && p.hash == w.hash)
                    .count() as u32;
                faulty < limit
            })
        };
        let fault = match &w.rollout {
            Some(r) if r.fault.is_some() => r.fault,
            _ => w.fault.filter(|_| room_for_fault()),
        };
        let pod = Pod {
            name: name.clone(),
            namespace: w.namespace.clone(),
            uid: uid(&format!(
                "{}/pod/{}/{name}/{serial}",
                self.context, w.namespace
            )),
            rv: 0,
            owner: index,
            hash: w.hash.clone(),
            node,
            ip: format!("10.244.{}.{}", node, 2 + serial % 250),
            created: at,
            starts: if running {
                at
            } else {
                at + super::control::POD_START
            },
            fault,
            fault_since: at,
            restarts: 0,
            last_restart: None,
        };
        let ns = w.namespace.clone();
        self.added.insert((Res::Pod, ns.clone(), name.clone()));
        self.pods.insert((ns.clone(), name.clone()), pod);
        if let Some(w) = self.workloads.get_mut(index) {
            w.pods.insert(name.clone());
            let res = w.res();
            let wname = w.name.clone();
            self.touch(res, &ns, &wname);
        }
        Some(name)
    }

    /// Removes a pod; its deletion is streamed at once.
    pub fn remove_pod(&mut self, namespace: &str, name: &str) {
        let key = (namespace.to_string(), name.to_string());
        let Some(pod) = self.pods.remove(&key) else {
            return;
        };
        self.added.remove(&(Res::Pod, key.0.clone(), key.1.clone()));
        self.dirty.remove(&(Res::Pod, key.0.clone(), key.1.clone()));
        if let Some(w) = self.workloads.get_mut(pod.owner) {
            w.pods.remove(name);
            let (res, wname) = (w.res(), w.name.clone());
            self.touch(res, namespace, &wname);
        }
        let rv = self.next_rv();
        let mut object = super::objects::pod(self, &pod);
        super::objects::set_rv(&mut object, rv);
        self.push(rv, Res::Pod, ChangeKind::Deleted, namespace, &object);
    }

    /// Marks an object changed; `flush` streams it.
    pub fn touch(&mut self, res: Res, namespace: &str, name: &str) {
        self.dirty
            .insert((res, namespace.to_string(), name.to_string()));
    }

    /// Gives every changed object a new resource version and streams it to watches.
    pub fn flush(&mut self) {
        let added = std::mem::take(&mut self.added);
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.extend(added.iter().cloned());
        for key in dirty {
            let rv = self.next_rv();
            let (res, ns, name) = &key;
            let Some(object) = self.set_rv_and_render(*res, ns, name, rv) else {
                continue;
            };
            let kind = if added.contains(&key) {
                ChangeKind::Added
            } else {
                ChangeKind::Modified
            };
            self.push(rv, *res, kind, ns, &object);
        }
    }

    fn set_rv_and_render(&mut self, res: Res, ns: &str, name: &str, rv: u64) -> Option<Value> {
        let key = (ns.to_string(), name.to_string());
        match res {
            Res::Pod => {
                let pod = self.pods.get_mut(&key)?;
                pod.rv = rv;
                let pod = pod.clone();
                Some(super::objects::pod(self, &pod))
            }
            Res::Deployment | Res::StatefulSet | Res::DaemonSet => {
                let i = self.workload(res, ns, name)?;
                self.workloads[i].rv = rv;
                Some(super::objects::workload(self, i))
            }
            Res::Hpa => {
                let i = *self.hpa_names.get(&key)?;
                self.workloads.get_mut(i)?.hpa.as_mut()?.rv = rv;
                super::objects::hpa(self, i)
            }
            Res::Event => {
                self.events.get_mut(&key)?.rv = rv;
                self.events
                    .get(&key)
                    .map(|e| super::objects::event(self, e))
            }
            Res::Namespace => {
                self.namespaces.get_mut(name)?.1 = rv;
                Some(super::objects::namespace(self, name))
            }
            Res::Lease => {
                let lease = self.leases.get_mut(&key)?;
                super::objects::set_rv(lease, rv);
                Some(lease.clone())
            }
            Res::Node | Res::ReplicaSet => None,
        }
    }

    pub fn push(&mut self, rv: u64, res: Res, kind: ChangeKind, ns: &str, object: &Value) {
        let m = &object["metadata"];
        let meta = json!({"metadata": {"name": m["name"], "namespace": m["namespace"], "labels": m["labels"]}});
        let change = Arc::new(Change {
            rv,
            res,
            kind,
            namespace: ns.to_string(),
            meta,
            json: serde_json::to_vec(object).unwrap_or_default().into(),
        });
        // No receivers is fine: nobody watches.
        let _ = self.tx.send(Arc::clone(&change));
        self.history.push_back(change);
        while self.history.len() > HISTORY {
            if let Some(old) = self.history.pop_front() {
                self.floor = old.rv;
            }
        }
    }

    /// Records (or counts again) an event about an object.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &mut self,
        at: Duration,
        namespace: &str,
        object: (&'static str, &str, &str),
        reason: &'static str,
        message: String,
        warning: bool,
        component: &'static str,
        host: Option<String>,
    ) {
        let (object_kind, object_name, object_uid) = object;
        let existing = self.events.iter_mut().find(|(_, e)| {
            e.namespace == namespace
                && e.object_uid == object_uid
                && e.reason == reason
                && e.message == message
        });
        if let Some((key, e)) = existing {
            e.count += 1;
            e.last = at;
            let key = key.clone();
            self.touch(Res::Event, &key.0, &key.1);
            return;
        }
        let serial = self.next_serial();
        let name = format!(
            "{object_name}.{:016x}",
            stable(&format!("{object_uid}{serial}"))
        );
        let rec = EventRec {
            name: name.clone(),
            namespace: namespace.to_string(),
            uid: uid(&format!("{}/event/{name}", self.context)),
            rv: 0,
            object_kind,
            object_name: object_name.to_string(),
            object_uid: object_uid.to_string(),
            reason,
            message,
            warning,
            component,
            host,
            first: at,
            last: at,
            count: 1,
        };
        let key = (namespace.to_string(), name);
        self.events.insert(key.clone(), rec);
        self.added
            .insert((Res::Event, key.0.clone(), key.1.clone()));
        self.event_order.push_back(key);
        while self.event_order.len() > MAX_EVENTS {
            if let Some((ns, name)) = self.event_order.pop_front()
                && let Some(e) = self.events.remove(&(ns.clone(), name.clone()))
            {
                self.added.remove(&(Res::Event, ns.clone(), name.clone()));
                self.dirty.remove(&(Res::Event, ns.clone(), name.clone()));
                let rv = self.next_rv();
                let mut object = super::objects::event(self, &e);
                super::objects::set_rv(&mut object, rv);
                self.push(rv, Res::Event, ChangeKind::Deleted, &ns, &object);
            }
        }
    }

    /// The pods of a workload, in name order.
    pub fn pods_of(&self, index: usize) -> Vec<&Pod> {
        let Some(w) = self.workloads.get(index) else {
            return Vec::new();
        };
        let ns = &w.namespace;
        self.pods
            .range((ns.clone(), String::new())..)
            .take_while(|((n, _), _)| n == ns)
            .map(|(_, p)| p)
            .filter(|p| p.owner == index)
            .collect()
    }

    /// Replicas, ready, updated and available pod counts of a workload at `at`.
    pub fn counts(&self, index: usize, at: Duration) -> Counts {
        let Some(w) = self.workloads.get(index) else {
            return Counts::default();
        };
        let mut c = Counts::default();
        for pod in self.pods_of(index) {
            c.total += 1;
            let ready = pod.ready(at);
            if ready {
                c.ready += 1;
            }
            if pod.hash == w.hash {
                c.updated += 1;
                if ready {
                    c.updated_ready += 1;
                }
            }
        }
        c
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub total: u32,
    pub ready: u32,
    pub updated: u32,
    pub updated_ready: u32,
}

fn stable(text: &str) -> u64 {
    crate::sim::resources::stable_hash(text)
}

/// The pod template a workload starts with.
fn default_template(name: &str, namespace: &str) -> Value {
    let image = match name {
        "ingress-nginx-controller" => "registry.k8s.io/ingress-nginx/controller:v1.11.2".into(),
        "traefik" => "docker.io/traefik:v3.1.4".into(),
        "grafana" => "docker.io/grafana/grafana:11.2.2".into(),
        "rabbitmq" => "docker.io/rabbitmq:3.13.7-management".into(),
        "cert-manager" => "quay.io/jetstack/cert-manager-controller:v1.15.3".into(),
        "prometheus" => "quay.io/prometheus/prometheus:v2.54.1".into(),
        "redis" => "docker.io/redis:7.2.4".into(),
        _ => format!("registry.example.com/{namespace}/{name}:1.0.0"),
    };
    json!({
        "metadata": {"labels": {"app": name}},
        "spec": {
            "containers": [{
                "name": name,
                "image": image,
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent"
            }],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "securityContext": {},
            "schedulerName": "default-scheduler"
        }
    })
}

/// The ten-character hash that names a template revision's ReplicaSet and pods.
pub(crate) fn template_hash(name: &str, template: &Value, revision: u32) -> String {
    token(&format!("{name}/{revision}/{template}"), 10)
}

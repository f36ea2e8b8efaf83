//! The kinds of object a simulated cluster holds, and the change records watches stream:
//! resources, pod faults, pods, workloads with their rollout and conditions, HPAs, events.
//! Plain data.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::estate::WorkloadKind;

/// The kinds of object the simulated API server serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Res {
    Namespace,
    Node,
    Pod,
    Event,
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    Hpa,
    Lease,
}

impl Res {
    pub fn of_workload(kind: WorkloadKind) -> Res {
        match kind {
            WorkloadKind::Deployment => Res::Deployment,
            WorkloadKind::StatefulSet => Res::StatefulSet,
            WorkloadKind::DaemonSet => Res::DaemonSet,
        }
    }
}

/// What is wrong with a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    CrashLoop,
    ImagePull,
    OomKilled,
    Unschedulable,
}

impl Fault {
    /// A fault by the reason kubectl shows for it; `Ok(None)` for "none" (the fault clears).
    pub fn parse(text: &str) -> Result<Option<Fault>, String> {
        Ok(Some(match text {
            "none" | "" => return Ok(None),
            "CrashLoopBackOff" => Fault::CrashLoop,
            "ImagePullBackOff" | "ErrImagePull" => Fault::ImagePull,
            "OOMKilled" => Fault::OomKilled,
            "Unschedulable" | "Pending" => Fault::Unschedulable,
            other => return Err(format!("{other:?} is not a pod fault")),
        }))
    }

    /// Whether the container restarts over and over.
    pub fn restarts(self) -> bool {
        matches!(self, Fault::CrashLoop | Fault::OomKilled)
    }
}

/// Added, modified or deleted: the watch event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "ADDED",
            ChangeKind::Modified => "MODIFIED",
            ChangeKind::Deleted => "DELETED",
        }
    }
}

/// One change to one object, as watches stream it.
#[derive(Debug)]
pub(crate) struct Change {
    pub rv: u64,
    pub res: Res,
    pub kind: ChangeKind,
    pub namespace: String,
    /// `{"metadata": {name, namespace, labels}}`: enough for most selectors.
    pub meta: Value,
    /// The object's JSON, as watches send it.
    pub json: Arc<[u8]>,
}

impl Change {
    /// The whole object (parsed again from its JSON).
    pub fn object(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Pod {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub rv: u64,
    /// The workload it belongs to (index into `workloads`).
    pub owner: usize,
    /// The template revision it runs (`pod-template-hash` / `controller-revision-hash`).
    pub hash: String,
    pub node: usize,
    pub ip: String,
    pub created: Duration,
    /// When its container starts (and, without a fault, becomes ready).
    pub starts: Duration,
    pub fault: Option<Fault>,
    pub fault_since: Duration,
    pub restarts: u32,
    pub last_restart: Option<Duration>,
}

impl Pod {
    pub fn ready(&self, at: Duration) -> bool {
        self.fault.is_none() && at >= self.starts
    }
}

/// A rollout in progress: pods of the new revision replace the old ones step by step.
#[derive(Debug, Clone)]
pub(crate) struct Rollout {
    pub next_step: Duration,
    pub last_progress: Duration,
    /// The fault every new pod of this revision has (a bad deploy).
    pub fault: Option<Fault>,
}

/// A condition as the controllers keep it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cond {
    pub status: bool,
    pub reason: &'static str,
    pub message: String,
    pub updated: Duration,
    pub transition: Duration,
}

#[derive(Debug, Clone)]
pub(crate) struct Hpa {
    pub uid: String,
    pub rv: u64,
    pub min: u32,
    pub max: u32,
    /// Target average CPU utilisation, percent.
    pub target: u32,
    /// Current average CPU utilisation, percent.
    pub cpu: u32,
    pub desired: u32,
    pub below_since: Option<Duration>,
    pub last_scale: Option<Duration>,
    pub next_sync: Duration,
}

#[derive(Debug, Clone)]
pub(crate) struct Workload {
    pub kind: WorkloadKind,
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub rv: u64,
    pub generation: i64,
    pub replicas: u32,
    /// `spec.template` (metadata and pod spec).
    pub template: Value,
    pub revision: u32,
    pub hash: String,
    pub pods: BTreeSet<String>,
    pub rollout: Option<Rollout>,
    pub fault: Option<Fault>,
    /// How many pods the fault hits; all when `None`.
    pub faulty_pods: Option<u32>,
    /// The fault belongs to the running pods only: the next rollout (a restart) clears it.
    pub fixed_by_restart: bool,
    pub progress_deadline: Duration,
    pub available: Cond,
    pub progressing: Cond,
    pub hpa: Option<Hpa>,
}

impl Workload {
    pub fn res(&self) -> Res {
        Res::of_workload(self.kind)
    }
}

/// A core/v1 Event, counted when it repeats.
#[derive(Debug, Clone)]
pub(crate) struct EventRec {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub rv: u64,
    pub object_kind: &'static str,
    pub object_name: String,
    pub object_uid: String,
    pub reason: &'static str,
    pub message: String,
    pub warning: bool,
    pub component: &'static str,
    pub host: Option<String>,
    pub first: Duration,
    pub last: Duration,
    pub count: u32,
}

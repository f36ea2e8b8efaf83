//! Long-running operations on the scenario clock: PENDING, then RUNNING, then DONE, each
//! phase as long as the real service takes (scaled by the scenario's speed), with the
//! resource changing the way the real one does when the operation starts and when it ends.
//!
//! Simulated durations (from the request to DONE):
//!   Cloud SQL failover        75 s (5 s pending); the zones swap at DONE
//!   Cloud SQL restoreBackup   6 min 10 s (10 s pending); MAINTENANCE while running
//!   Cloud SQL clone (PITR)    12 min (15 s pending); the clone is PENDING_CREATE until DONE
//!   Cloud SQL backupRuns      2 min (5 s pending); the run ENQUEUED → RUNNING → SUCCESSFUL
//!   Cloud Run update          40 s with a new revision, 12 s without; reconciling until DONE
//!   Memorystore failover      2 min; FAILING_OVER until DONE, then the primary moves zone

use std::time::Duration;

use serde_json::{Value, json};

use super::{Api, World};
use crate::sim::knobs::FixedBy;

/// Where an operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpStatus {
    Pending,
    Running,
    Done,
}

/// What an operation does.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OpKind {
    SqlFailover,
    SqlRestore,
    /// The target is the new instance; the source is where it was cloned from.
    SqlClone {
        source: usize,
    },
    /// The backup run it is making.
    SqlBackup {
        run: usize,
    },
    /// A Cloud Run service change; the revision it created, if any.
    RunUpdate {
        revision: Option<usize>,
    },
    RedisFailover,
}

impl OpKind {
    /// (pending, total) simulated time.
    fn durations(&self) -> (Duration, Duration) {
        let s = Duration::from_secs;
        match self {
            OpKind::SqlFailover => (s(5), s(75)),
            OpKind::SqlRestore => (s(10), s(370)),
            OpKind::SqlClone { .. } => (s(15), s(720)),
            OpKind::SqlBackup { .. } => (s(5), s(120)),
            OpKind::RunUpdate { revision: Some(_) } => (s(0), s(40)),
            OpKind::RunUpdate { revision: None } => (s(0), s(12)),
            OpKind::RedisFailover => (s(0), s(120)),
        }
    }

    /// Cloud SQL's `operationType`.
    pub fn sql_type(&self) -> &'static str {
        match self {
            OpKind::SqlFailover => "FAILOVER",
            OpKind::SqlRestore => "RESTORE_VOLUME",
            OpKind::SqlClone { .. } => "CLONE",
            OpKind::SqlBackup { .. } => "BACKUP_VOLUME",
            _ => "UPDATE",
        }
    }
}

/// One long-running operation.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    /// The id in its URL: a UUID (Cloud SQL, Cloud Run) or `operation-…` (Memorystore).
    pub id: String,
    pub api: Api,
    pub project: String,
    pub location: String,
    /// The resource it works on.
    pub target: usize,
    pub kind: OpKind,
    pub status: OpStatus,
    /// Scenario time it moves to RUNNING, and to DONE.
    pub starts: Duration,
    pub ends: Duration,
    pub insert_time: String,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub user: String,
}

impl Operation {
    /// When it next changes phase, on the scenario clock.
    pub fn next_transition(&self) -> Option<Duration> {
        match self.status {
            OpStatus::Pending => Some(self.starts),
            OpStatus::Running => Some(self.ends),
            OpStatus::Done => None,
        }
    }

    pub fn done(&self) -> bool {
        self.status == OpStatus::Done
    }
}

impl World {
    /// Starts an operation of `kind` on `target` now; returns its index.
    pub fn start_op(&mut self, api: Api, target: usize, kind: OpKind) -> usize {
        let (pending, total) = kind.durations();
        let id = match api {
            Api::Memorystore => {
                let h = self.fresh_hex();
                format!(
                    "operation-{}-{}-{}-{}",
                    self.wall.timestamp_millis(),
                    &h[0..13],
                    &h[13..21],
                    &h[21..29]
                )
            }
            _ => self.fresh_uuid(),
        };
        let (project, location) = self
            .resources
            .get(target)
            .map(|r| (r.project.clone(), r.location.clone()))
            .unwrap_or_default();
        let op = Operation {
            user: format!("opsdeck-sim@{project}.iam.gserviceaccount.com"),
            id,
            api,
            project,
            location,
            target,
            kind,
            status: OpStatus::Pending,
            starts: self.clock + pending,
            ends: self.clock + total,
            insert_time: self.stamp_millis(),
            start_time: None,
            end_time: None,
        };
        self.ops.push(op);
        let i = self.ops.len() - 1;
        // An operation with no pending phase is running from the start.
        if pending.is_zero() {
            self.transition(i);
        }
        i
    }

    /// Whether an operation that is not done holds this resource.
    pub fn busy(&self, target: usize) -> bool {
        self.ops.iter().any(|o| o.target == target && !o.done())
    }

    /// The operation with this id in this project.
    pub fn find_op(&self, project: &str, id: &str) -> Option<usize> {
        self.ops
            .iter()
            .position(|o| o.project == project && o.id == id)
    }

    /// Moves operation `i` to its next phase and applies what that phase changes.
    pub(super) fn transition(&mut self, i: usize) {
        let stamp = self.stamp_millis();
        let micros = self.stamp_micros();
        let Some(op) = self.ops.get_mut(i) else {
            return;
        };
        let starting = match op.status {
            OpStatus::Pending => {
                op.status = OpStatus::Running;
                op.start_time = Some(stamp.clone());
                true
            }
            OpStatus::Running => {
                op.status = OpStatus::Done;
                op.end_time = Some(stamp.clone());
                false
            }
            OpStatus::Done => return,
        };
        let (target, kind) = (op.target, op.kind.clone());
        if starting {
            self.on_start(target, &kind, &stamp);
        } else {
            self.on_done(target, &kind, &stamp, &micros);
        }
    }

    fn on_start(&mut self, target: usize, kind: &OpKind, stamp: &str) {
        match kind {
            OpKind::SqlRestore => self.set(target, "state", json!("MAINTENANCE")),
            OpKind::SqlBackup { run } => {
                self.set(*run, "status", json!("RUNNING"));
                self.set(*run, "startTime", json!(stamp));
            }
            _ => {}
        }
    }

    fn on_done(&mut self, target: usize, kind: &OpKind, stamp: &str, micros: &str) {
        match kind {
            OpKind::SqlFailover => {
                let Some(r) = self.resources.get_mut(target) else {
                    return;
                };
                let primary = r.body.get("gceZone").cloned();
                let standby = r.body.get("secondaryGceZone").cloned();
                if let (Some(p), Some(s)) = (primary, standby) {
                    r.body["gceZone"] = s;
                    r.body["secondaryGceZone"] = p;
                }
                if r.knobs.fixed_by == FixedBy::Failover
                    && r.body.get("state").and_then(Value::as_str) == Some("FAILED")
                {
                    r.body["state"] = json!("RUNNABLE");
                    r.knobs.fixed_by = FixedBy::Restore;
                }
            }
            OpKind::SqlRestore | OpKind::SqlClone { .. } => {
                self.set(target, "state", json!("RUNNABLE"));
                if let Some(r) = self.resources.get_mut(target) {
                    r.knobs.fixed_by = FixedBy::Restore;
                }
            }
            OpKind::SqlBackup { run } => {
                self.set(*run, "status", json!("SUCCESSFUL"));
                self.set(*run, "endTime", json!(stamp));
            }
            OpKind::RunUpdate { revision } => self.run_settled(target, *revision, micros),
            OpKind::RedisFailover => {
                let Some(r) = self.resources.get_mut(target) else {
                    return;
                };
                let current = r.body.get("currentLocationId").cloned();
                let home = r.body.get("locationId").cloned();
                let other = r.body.get("alternativeLocationId").cloned();
                let next = if current == home { other } else { home };
                if let Some(next) = next {
                    r.body["currentLocationId"] = next;
                }
                r.body["state"] = json!("READY");
                if let Value::Object(map) = &mut r.body {
                    map.remove("statusMessage");
                }
            }
        }
    }

    /// A Cloud Run service once its change has rolled out: the new revision (if any) serves.
    fn run_settled(&mut self, target: usize, revision: Option<usize>, micros: &str) {
        if let Some(rev) = revision.and_then(|i| self.resources.get_mut(i)) {
            if let Some(conditions) = rev.body.get_mut("conditions").and_then(Value::as_array_mut) {
                for c in conditions {
                    c["state"] = json!("CONDITION_SUCCEEDED");
                    c["lastTransitionTime"] = json!(micros);
                }
            }
            rev.body["reconciling"] = json!(false);
        }
        let Some(r) = self.resources.get_mut(target) else {
            return;
        };
        let b = &mut r.body;
        b["reconciling"] = json!(false);
        b["observedGeneration"] = b.get("generation").cloned().unwrap_or(json!("1"));
        if revision.is_some() {
            b["latestReadyRevision"] = b.get("latestCreatedRevision").cloned().unwrap_or_default();
            b["terminalCondition"] = json!({
                "type": "Ready", "state": "CONDITION_SUCCEEDED", "lastTransitionTime": micros
            });
            b["conditions"] = json!([
                {"type": "RoutesReady", "state": "CONDITION_SUCCEEDED", "lastTransitionTime": micros},
                {"type": "ConfigurationsReady", "state": "CONDITION_SUCCEEDED", "lastTransitionTime": micros}
            ]);
            b["trafficStatuses"] =
                json!([{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}]);
        } else {
            self.traffic_settled(target, micros);
        }
    }

    /// A change that made no new revision has rolled out: the traffic split serves as asked,
    /// and a service failing on its latest revision (`sim.fixed_by = "rollback"`) is healthy
    /// again once all traffic goes to an earlier revision.
    fn traffic_settled(&mut self, target: usize, micros: &str) {
        let Some(r) = self.resources.get_mut(target) else {
            return;
        };
        let b = &mut r.body;
        let Some(traffic) = b.get("traffic").and_then(Value::as_array).cloned() else {
            return;
        };
        b["trafficStatuses"] = Value::Array(traffic.clone());
        let latest = b
            .get("latestCreatedRevision")
            .and_then(Value::as_str)
            .map(|n| n.rsplit('/').next().unwrap_or(n).to_string());
        let pinned_elsewhere = traffic.iter().any(|t| {
            t.get("percent").and_then(Value::as_i64) == Some(100)
                && t.get("type").and_then(Value::as_str)
                    == Some("TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION")
                && t.get("revision")
                    .and_then(Value::as_str)
                    .is_some_and(|rev| {
                        latest.as_deref() != Some(rev.rsplit('/').next().unwrap_or(rev))
                    })
        });
        if r.knobs.fixed_by == FixedBy::Rollback && pinned_elsewhere {
            r.knobs.fixed_by = FixedBy::Restore;
            r.body["terminalCondition"] = json!({
                "type": "Ready", "state": "CONDITION_SUCCEEDED", "lastTransitionTime": micros
            });
            r.body["conditions"] = json!([
                {"type": "RoutesReady", "state": "CONDITION_SUCCEEDED", "lastTransitionTime": micros},
                {"type": "ConfigurationsReady", "state": "CONDITION_SUCCEEDED", "lastTransitionTime": micros}
            ]);
        }
    }

    fn set(&mut self, i: usize, key: &str, value: Value) {
        if let Some(r) = self.resources.get_mut(i) {
            r.body[key] = value;
        }
    }
}

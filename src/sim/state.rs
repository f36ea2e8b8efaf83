//! The simulator's world: every simulated Google resource and `http` endpoint, materialised
//! from the estate (`state/materialise.rs`), the scenario timeline and the long-running
//! operations (`state/lro.rs`) applied to them as the scenario clock passes, and the indexes
//! that keep a lookup cheap in an estate of thousands. Pure: no IO, no async; the server locks
//! it for the length of one request.

mod lro;
mod materialise;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::knobs::Knobs;
use super::patch::{Vars, expand, remove_path, set_path};
use super::resources::{project_number, stable_hash};

pub(crate) use lro::{OpKind, OpStatus, Operation};
pub(crate) use materialise::resource_name;

/// Which Google API serves a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Api {
    CloudSql,
    /// A Cloud SQL backup run; its parent is the instance.
    SqlBackupRun,
    CloudRun,
    /// A Cloud Run revision; its parent is the service.
    RunRevision,
    Memorystore,
    CloudTasks,
    /// A Pub/Sub subscription (its backlog is what Cloud Monitoring reports).
    Pubsub,
    /// A `gcp_rest` resource, served at its URL's path.
    Rest,
}

/// One simulated Google resource.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    pub api: Api,
    pub project: String,
    pub location: String,
    /// The short id: instance, service, queue or revision name, backup run id, or the last
    /// segment of a REST path.
    pub id: String,
    /// For `Rest`: the URL path it is served at.
    pub path: String,
    /// Exactly what the API answers.
    pub body: Value,
    /// The simulator's own state, never served.
    pub knobs: Knobs,
    /// The instance of a backup run, the service of a revision.
    pub parent: Option<usize>,
}

/// How the simulator answers an `http` service.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HttpEndpoint {
    pub status: u16,
    /// Never answer (until the simulator stops).
    pub hang: bool,
    /// Drop the connection without answering.
    pub reset: bool,
    /// Wall-clock delay before answering.
    pub latency: Duration,
    /// What a healthy endpoint answers.
    pub body: Value,
    /// What the scenario set as the answer, whatever the status.
    pub custom_body: Option<Value>,
}

impl HttpEndpoint {
    /// The body to answer with: the scenario's, else the healthy one for a success status,
    /// else a short error.
    pub fn answer_body(&self) -> Value {
        match &self.custom_body {
            Some(body) => body.clone(),
            None if self.status < 400 => self.body.clone(),
            None => json!({"status": "error", "code": self.status}),
        }
    }
}

/// What an event changes.
#[derive(Debug, Clone)]
enum Slot {
    Resource(usize),
    Http(String),
}

/// One scenario event, resolved against the estate.
#[derive(Debug, Clone)]
struct Step {
    at: Duration,
    /// Each with the estate id of the service it came from (for `${service}`).
    slots: Vec<(Slot, String)>,
    set: Vec<(String, Value)>,
    unset: Vec<String>,
}

/// All simulated state.
#[derive(Debug, Default)]
pub(crate) struct World {
    pub resources: Vec<Resource>,
    /// (api, project, id) → resources (one per location).
    by_id: HashMap<(Api, String, String), Vec<usize>>,
    /// (api, project) → resources, in materialisation order.
    by_project: HashMap<(Api, String), Vec<usize>>,
    /// URL path → `gcp_rest` resource.
    by_path: HashMap<String, usize>,
    /// By estate service id.
    pub http: BTreeMap<String, HttpEndpoint>,
    /// The project the metadata server reports.
    pub project: String,
    /// Project numbers → ids, for Knative namespaces.
    numbers: HashMap<String, String>,
    pub scenario: Option<String>,
    steps: Vec<Step>,
    applied: usize,
    pub ops: Vec<Operation>,
    /// The scenario clock as of the last `advance`.
    pub clock: Duration,
    /// The wall time as of the last `advance`.
    pub wall: DateTime<Utc>,
    /// Numbers operations and generated ids.
    serial: u64,
}

impl World {
    /// Applies every scenario event and operation transition due by `elapsed` on the scenario
    /// clock, in time order; `wall` is the time stamped on what changes.
    pub fn advance(&mut self, elapsed: Duration, wall: DateTime<Utc>) {
        self.wall = wall;
        loop {
            let step = self
                .steps
                .get(self.applied)
                .map(|s| s.at)
                .filter(|at| *at <= elapsed);
            let op = self
                .ops
                .iter()
                .enumerate()
                .filter_map(|(i, o)| o.next_transition().map(|t| (t, i)))
                .filter(|(t, _)| *t <= elapsed)
                .min();
            match (step, op) {
                (Some(at), Some((t, _))) if at <= t => self.apply_step(at),
                (Some(at), None) => self.apply_step(at),
                (_, Some((t, i))) => {
                    self.clock = self.clock.max(t);
                    self.transition(i);
                }
                (None, None) => break,
            }
        }
        self.clock = self.clock.max(elapsed);
    }

    fn apply_step(&mut self, at: Duration) {
        self.clock = self.clock.max(at);
        let Some(step) = self.steps.get(self.applied).cloned() else {
            return;
        };
        self.applied += 1;
        let now = self.wall;
        for (slot, service) in &step.slots {
            match slot {
                Slot::Resource(i) => {
                    self.refresh(*i);
                    let Some(r) = self.resources.get_mut(*i) else {
                        continue;
                    };
                    let before = r.body.clone();
                    let vars = Vars {
                        id: &r.id,
                        project: &r.project,
                        location: &r.location,
                        service,
                        now,
                    };
                    let mut count_set = false;
                    for (path, value) in &step.set {
                        if let Some(knob) = path.strip_prefix("sim.") {
                            r.knobs.set(knob, value);
                        } else {
                            set_path(&mut r.body, path, expand(value, &before, &vars));
                            count_set |= path.starts_with("stats.tasksCount");
                        }
                    }
                    for path in &step.unset {
                        remove_path(&mut r.body, path);
                    }
                    if count_set {
                        let count = r.body.pointer("/stats/tasksCount").and_then(as_number);
                        if let (Some(b), Some(c)) = (r.knobs.backlog.as_mut(), count) {
                            b.count = c;
                        }
                    }
                    self.refresh(*i);
                }
                Slot::Http(id) => {
                    if let Some(endpoint) = self.http.get_mut(id) {
                        for (key, value) in &step.set {
                            apply_http(endpoint, key, value);
                        }
                    }
                }
            }
        }
    }

    /// Brings a queue's or subscription's backlog up to the clock and writes what the API
    /// shows of it (a Cloud Tasks queue's `stats`).
    pub fn refresh(&mut self, i: usize) {
        let clock = self.clock;
        let wall = self.wall;
        let Some(r) = self.resources.get_mut(i) else {
            return;
        };
        let paused = r.body.get("state").and_then(Value::as_str) != Some("RUNNING");
        let Some(b) = r.knobs.backlog.as_mut() else {
            return;
        };
        b.advance(clock, r.api == Api::CloudTasks && paused);
        if r.api != Api::CloudTasks {
            return;
        }
        let mut stats = json!({
            "tasksCount": b.count_text(),
            "executedLastMinuteCount": format!("{}", if paused { 0 } else { (b.dispatch_rate * 60.0).round() as u64 }),
            "concurrentDispatchesCount": format!("{}", if paused { 0 } else { b.dispatch_rate.ceil() as u64 }),
            "effectiveExecutionRate": if paused { 0.0 } else { 500.0 }
        });
        if b.count > 0.0 {
            let oldest = chrono::TimeDelta::try_milliseconds((b.oldest_age * 1000.0) as i64)
                .and_then(|age| wall.checked_sub_signed(age))
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            stats["oldestEstimatedArrivalTime"] =
                Value::String(oldest.to_rfc3339_opts(SecondsFormat::Millis, true));
        }
        r.body["stats"] = stats;
    }

    /// How many scenario events have happened, and how many there are.
    pub fn progress(&self) -> (usize, usize) {
        (self.applied, self.steps.len())
    }

    /// Adds a resource and indexes it; returns its index.
    pub fn add(&mut self, resource: Resource) -> usize {
        let i = self.resources.len();
        if resource.api == Api::Rest {
            self.by_path
                .insert(resource.path.trim_end_matches('/').to_string(), i);
        }
        self.by_id
            .entry((resource.api, resource.project.clone(), resource.id.clone()))
            .or_default()
            .push(i);
        self.by_project
            .entry((resource.api, resource.project.clone()))
            .or_default()
            .push(i);
        self.numbers
            .entry(project_number(&resource.project).to_string())
            .or_insert_with(|| resource.project.clone());
        self.resources.push(resource);
        i
    }

    /// The resource of `api` in `project` named `id`, in `location` unless it is `None`.
    pub fn find(&self, api: Api, project: &str, location: Option<&str>, id: &str) -> Option<usize> {
        self.by_id
            .get(&(api, project.to_string(), id.to_string()))?
            .iter()
            .copied()
            .find(|i| {
                location.is_none_or(|l| self.resources.get(*i).is_some_and(|r| r.location == l))
            })
    }

    /// Every resource of one API in a project, in one location unless `location` is `-` or
    /// `None`.
    pub fn list(&self, api: Api, project: &str, location: Option<&str>) -> Vec<usize> {
        self.by_project
            .get(&(api, project.to_string()))
            .map(|all| {
                all.iter()
                    .copied()
                    .filter(|i| {
                        location.is_none_or(|l| {
                            l == "-" || self.resources.get(*i).is_some_and(|r| r.location == l)
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The children of `parent` served by `api` (revisions of a service, backup runs of an
    /// instance).
    pub fn children(&self, api: Api, parent: usize) -> Vec<usize> {
        let Some(project) = self.resources.get(parent).map(|r| r.project.clone()) else {
            return Vec::new();
        };
        self.list(api, &project, None)
            .into_iter()
            .filter(|i| {
                self.resources
                    .get(*i)
                    .is_some_and(|r| r.parent == Some(parent))
            })
            .collect()
    }

    /// The `gcp_rest` resource served at this path.
    pub fn rest(&self, path: &str) -> Option<usize> {
        self.by_path.get(path.trim_end_matches('/')).copied()
    }

    /// The project a Knative namespace names: its id or its number.
    pub fn project_of_namespace(&self, namespace: &str) -> String {
        self.numbers
            .get(namespace)
            .cloned()
            .unwrap_or_else(|| namespace.to_string())
    }

    /// A fresh, stable-looking 32-hex-digit id, different on every call.
    pub fn fresh_hex(&mut self) -> String {
        self.serial += 1;
        let seed = format!("{}/{}/{}", self.serial, self.clock.as_nanos(), self.project);
        format!(
            "{:016x}{:016x}",
            stable_hash(&seed),
            stable_hash(&format!("{seed}/2"))
        )
    }

    /// A fresh UUID (version 4 layout).
    pub fn fresh_uuid(&mut self) -> String {
        let h = self.fresh_hex();
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }

    /// The wall time as Cloud SQL writes it (milliseconds).
    pub fn stamp_millis(&self) -> String {
        self.wall.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// The wall time as Cloud Run and most newer APIs write it (microseconds).
    pub fn stamp_micros(&self) -> String {
        self.wall.to_rfc3339_opts(SecondsFormat::Micros, true)
    }
}

/// A JSON number, or a decimal string as Google writes int64.
pub(crate) fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn apply_http(endpoint: &mut HttpEndpoint, key: &str, value: &Value) {
    match key {
        "status" => {
            if let Some(s) = value.as_u64().and_then(|s| u16::try_from(s).ok()) {
                endpoint.status = s;
            }
        }
        "hang" => endpoint.hang = value.as_bool().unwrap_or(endpoint.hang),
        "reset" => endpoint.reset = value.as_bool().unwrap_or(endpoint.reset),
        "latency" => {
            if let Some(Ok(d)) = value.as_str().map(humantime::parse_duration) {
                endpoint.latency = d;
            }
        }
        "body" => endpoint.custom_body = Some(value.clone()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::resources::Clock;
    use crate::sim::scenario;

    fn demo(s: Option<&scenario::Scenario>) -> World {
        let estate = crate::estate::from_str(crate::estate::DEMO_ESTATE, "demo")
            .expect("demo")
            .0;
        World::new(&estate, s, &Clock { now: Utc::now() })
    }

    #[test]
    fn lookups_use_the_indexes() {
        let w = demo(None);
        let sql = w
            .find(Api::CloudSql, "tappass-prod", None, "tappass-db")
            .expect("sql");
        assert_eq!(w.resources[sql].location, "europe-west1");
        assert!(
            w.find(
                Api::CloudSql,
                "tappass-prod",
                Some("us-central1"),
                "tappass-db"
            )
            .is_none()
        );
        assert_eq!(w.list(Api::CloudSql, "tappass-prod", Some("-")).len(), 2);
        assert_eq!(w.children(Api::SqlBackupRun, sql).len(), 7);
        let number = project_number("tappass-prod").to_string();
        assert_eq!(w.project_of_namespace(&number), "tappass-prod");
        assert_eq!(w.project_of_namespace("tappass-prod"), "tappass-prod");
    }

    #[test]
    fn events_and_knobs_apply_in_time_order() {
        let s = scenario::parse(
            "name = \"x\"\n\
             [[event]]\nat = \"2m\"\nkind = \"cloud_sql\"\nset = { state = \"RUNNABLE\", \"sim.error\" = 0 }\n\
             [[event]]\nat = \"1m\"\nkind = \"cloud_sql\"\nset = { state = \"FAILED\", \"sim.error\" = 503 }\nunset = [\"secondaryGceZone\"]\n",
            "x.toml",
        )
        .expect("parses");
        let mut w = demo(Some(&s));
        let sql = w
            .find(Api::CloudSql, "tappass-prod", None, "tappass-db")
            .expect("sql");
        w.advance(Duration::from_secs(90), Utc::now());
        assert_eq!(w.resources[sql].body["state"], "FAILED");
        assert_eq!(w.resources[sql].knobs.fault.error, Some(503));
        assert!(w.resources[sql].body.get("secondaryGceZone").is_none());
        w.advance(Duration::from_secs(150), Utc::now());
        assert_eq!(w.resources[sql].body["state"], "RUNNABLE");
        assert_eq!(
            w.resources[sql].knobs.fault,
            crate::sim::knobs::Fault::default()
        );
        assert_eq!(w.progress(), (2, 2));
    }

    #[test]
    fn fresh_ids_differ() {
        let mut w = demo(None);
        let a = w.fresh_uuid();
        let b = w.fresh_uuid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
    }
}

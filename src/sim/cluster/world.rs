//! The cluster side's world, materialised from the estate: a Kubernetes cluster per region
//! with workloads (each `k8s_workload` a Deployment / StatefulSet / DaemonSet with pods and,
//! for deployments, an HPA), a Redis per distinct `host:port` of the redis URLs (master, with a
//! replica and a Sentinel when `sentinel_master` is set), the queues on them, a RabbitMQ broker
//! per management URL, and the Prometheus servers and exporters. Plays the scenario's events
//! for these kinds on the scenario clock. Pure.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::clock::{SimClock, url_parts};
use crate::estate::{Estate, Kind, QueueFormat, Target};
use crate::sim::kube::store::KubeCluster;
use crate::sim::prometheus::{self, Endpoint};
use crate::sim::rabbitmq::{self, Broker};
use crate::sim::redis_model::{self, RedisWorld, Role};
use crate::sim::scenario::Scenario;

/// A Redis list an estate queue lives on.
#[derive(Debug, Clone)]
pub(crate) struct QueueRef {
    pub group: usize,
    pub db: u32,
    pub key: String,
}

/// What one scenario event changes.
#[derive(Debug, Clone)]
enum Slot {
    Workload(usize, usize),
    Redis(usize),
    Queue(usize),
    Rabbit(usize, usize),
    Prom(usize),
}

#[derive(Debug, Clone)]
struct Step {
    at: Duration,
    /// Whether the event names its service (rather than a kind, URL or region).
    named: bool,
    slots: Vec<Slot>,
    set: Vec<(String, Value)>,
}

pub(crate) struct ClusterWorld {
    pub kube: Vec<KubeCluster>,
    pub redis: RedisWorld,
    /// Redis nodes by the estate `host:port` they stand for.
    pub redis_by_authority: BTreeMap<String, usize>,
    pub queues: Vec<QueueRef>,
    pub rabbit: Vec<Broker>,
    pub prom: Vec<Endpoint>,
    /// Estate `postgres` services (id, url), for postgres_exporter shapes.
    pub postgres: Vec<(String, String)>,
    steps: Vec<Step>,
    applied: usize,
    pub now: Duration,
}

/// The kubeconfig context of a workload: its region's `kube_context`, else the region id, else
/// "default".
pub(crate) fn context_of(estate: &Estate, region: Option<&str>, context: Option<&str>) -> String {
    context
        .map(str::to_string)
        .or_else(|| {
            region
                .and_then(|r| estate.region(r))
                .and_then(|r| r.kube_context.clone())
        })
        .or_else(|| region.map(str::to_string))
        .unwrap_or_else(|| "default".to_string())
}

/// The password an estate names through `password_env`, if that variable is set.
fn password(env: Option<&String>) -> Option<String> {
    env.and_then(|name| std::env::var(name).ok())
        .filter(|p| !p.is_empty())
}

impl ClusterWorld {
    pub fn new(estate: &Estate, scenario: Option<&Scenario>, clock: SimClock) -> ClusterWorld {
        let mut w = ClusterWorld {
            kube: Vec::new(),
            redis: RedisWorld::default(),
            redis_by_authority: BTreeMap::new(),
            queues: Vec::new(),
            rabbit: Vec::new(),
            prom: Vec::new(),
            postgres: Vec::new(),
            steps: Vec::new(),
            applied: 0,
            now: Duration::ZERO,
        };
        for region in &estate.regions {
            if region.kube_context.is_some() {
                let ctx = context_of(estate, Some(&region.id), None);
                w.cluster(&ctx, clock);
            }
        }
        w.add_redis(estate);
        let mut slots: BTreeMap<String, Slot> = BTreeMap::new();
        for s in &estate.services {
            let slot = match &s.target {
                Target::K8sWorkload {
                    context,
                    namespace,
                    workload,
                    name,
                } => {
                    let ctx = context_of(estate, s.region.as_deref(), context.as_deref());
                    let c = w.cluster(&ctx, clock);
                    let i = w.kube[c].add_workload(*workload, namespace, name);
                    Some(Slot::Workload(c, i))
                }
                Target::Redis { url, .. } => {
                    let a = url_parts(url, 6379).authority;
                    w.redis_by_authority
                        .get(&a)
                        .map(|n| Slot::Redis(w.redis.nodes[*n].group))
                }
                Target::RedisQueue {
                    url, queue, format, ..
                } => {
                    let p = url_parts(url, 6379);
                    w.redis_by_authority.get(&p.authority).map(|n| {
                        let group = w.redis.nodes[*n].group;
                        let db = p
                            .rest
                            .trim_start_matches('/')
                            .split(['/', '?'])
                            .next()
                            .and_then(|d| d.parse().ok())
                            .unwrap_or(0);
                        let key = match format {
                            QueueFormat::Celery => queue.clone(),
                            QueueFormat::Laravel => format!("queues:{queue}"),
                        };
                        let seed = 5 + queue.len() as u64 % 11;
                        w.redis.groups[group]
                            .lists
                            .entry((db, key.clone()))
                            .or_insert_with(|| {
                                crate::sim::cluster::backlog::Backlog::steady(seed, 8.0)
                            });
                        w.queues.push(QueueRef { group, db, key });
                        Slot::Queue(w.queues.len() - 1)
                    })
                }
                Target::RabbitmqQueue {
                    url,
                    vhost,
                    queue,
                    user,
                    password_env,
                    ..
                } => {
                    let a = url_parts(url, 15672).authority;
                    let b = match w.rabbit.iter().position(|b| b.authority == a) {
                        Some(b) => b,
                        None => {
                            w.rabbit.push(Broker::new(&a));
                            w.rabbit.len() - 1
                        }
                    };
                    if let Some(u) = user
                        .as_ref()
                        .filter(|u| !w.rabbit[b].users.iter().any(|(x, _)| x == *u))
                    {
                        w.rabbit[b]
                            .users
                            .push((u.clone(), password(password_env.as_ref())));
                    }
                    let q = w.rabbit[b].add_queue(vhost, queue);
                    Some(Slot::Rabbit(b, q))
                }
                Target::Prometheus { url, .. } | Target::Promql { url, .. } => {
                    let p = url_parts(url, 80);
                    w.prom
                        .push(Endpoint::new(&s.id, &p.authority, p.port, &s.target));
                    Some(Slot::Prom(w.prom.len() - 1))
                }
                Target::Postgres { url, .. } => {
                    w.postgres.push((s.id.clone(), url.clone()));
                    None
                }
                _ => None,
            };
            if let Some(slot) = slot {
                slots.insert(s.id.clone(), slot);
            }
        }
        for b in &mut w.rabbit {
            b.link_dead_letters();
        }
        for c in &mut w.kube {
            c.flush();
            c.history.clear();
            c.floor = c.rv;
        }
        if let Some(scenario) = scenario {
            let mut events: Vec<_> = scenario.events.iter().collect();
            events.sort_by_key(|e| e.at);
            for e in events {
                let targets: Vec<Slot> = estate
                    .services
                    .iter()
                    .filter(|s| e.matches(s))
                    .filter_map(|s| slots.get(&s.id).cloned())
                    .collect();
                if !targets.is_empty() {
                    w.steps.push(Step {
                        at: e.at,
                        named: e.service.is_some(),
                        slots: targets,
                        set: e.set.clone(),
                    });
                }
            }
        }
        w
    }

    fn cluster(&mut self, context: &str, clock: SimClock) -> usize {
        if let Some(i) = self.kube.iter().position(|c| c.context == context) {
            return i;
        }
        self.kube.push(KubeCluster::new(context, clock));
        self.kube.len() - 1
    }

    /// One group per Sentinel master (Sentinel, master, replica) and per other Redis address.
    fn add_redis(&mut self, estate: &Estate) {
        let mut sentinels: Vec<(String, String, Option<String>)> = Vec::new();
        let mut plain: Vec<(String, Option<String>)> = Vec::new();
        for s in &estate.services {
            match &s.target {
                Target::Redis {
                    url,
                    password_env,
                    sentinel_master: Some(name),
                } => {
                    let a = url_parts(url, 26379).authority;
                    if !sentinels.iter().any(|(x, _, _)| *x == a) {
                        sentinels.push((a, name.clone(), password(password_env.as_ref())));
                    }
                }
                Target::Redis {
                    url, password_env, ..
                }
                | Target::RedisQueue {
                    url, password_env, ..
                } => {
                    let a = url_parts(url, 6379).authority;
                    match plain.iter_mut().find(|(x, _)| *x == a) {
                        Some(entry) => {
                            if entry.1.is_none() {
                                entry.1 = password(password_env.as_ref());
                            }
                        }
                        None => plain.push((a, password(password_env.as_ref()))),
                    }
                }
                _ => {}
            }
        }
        for (authority, name, pass) in sentinels {
            let host = authority
                .rsplit_once(':')
                .map_or(authority.as_str(), |(h, _)| h)
                .to_string();
            let master_at = plain
                .iter()
                .position(|(a, _)| a.starts_with(&format!("{host}:")));
            let (master_authority, master_pass) = match master_at {
                Some(i) => {
                    let (a, p) = plain.remove(i);
                    (Some(a), p)
                }
                None => (None, None),
            };
            let g = self.redis.add_group(Some(name), master_pass.or(pass));
            let m = self
                .redis
                .add_node(g, Role::Master, master_authority.clone());
            self.redis.add_node(g, Role::Replica, None);
            let s = self
                .redis
                .add_node(g, Role::Sentinel, Some(authority.clone()));
            self.redis.groups[g].master = m;
            self.redis.groups[g].sentinel = Some(s);
            self.redis_by_authority.insert(authority, s);
            if let Some(a) = master_authority {
                self.redis_by_authority.insert(a, m);
            }
        }
        for (authority, pass) in plain {
            let g = self.redis.add_group(None, pass);
            let m = self
                .redis
                .add_node(g, Role::Master, Some(authority.clone()));
            self.redis.groups[g].master = m;
            self.redis_by_authority.insert(authority, m);
        }
    }

    /// Plays every event due by `at` and runs the controllers up to it.
    pub fn advance(&mut self, at: Duration) {
        while let Some(step) = self.steps.get(self.applied).filter(|s| s.at <= at).cloned() {
            self.applied += 1;
            self.tick(step.at);
            for slot in &step.slots {
                for (key, value) in &step.set {
                    self.apply(slot, key, value, step.at, step.named);
                }
            }
        }
        self.tick(at);
    }

    fn tick(&mut self, at: Duration) {
        if at < self.now {
            return;
        }
        self.now = at;
        for c in &mut self.kube {
            c.tick(at);
        }
        self.redis.tick(at);
    }

    fn apply(&mut self, slot: &Slot, key: &str, value: &Value, at: Duration, named: bool) {
        match *slot {
            Slot::Workload(c, i) => {
                if let Some(c) = self.kube.get_mut(c) {
                    c.set(i, key, value, at);
                    c.flush();
                }
            }
            Slot::Redis(g) => self.redis.set(g, key, value, at),
            Slot::Queue(q) => {
                if let (Some(q), Some(v)) = (self.queues.get(q), value.as_f64()) {
                    let (g, db, k) = (q.group, q.db, q.key.clone());
                    self.redis.set_queue(g, db, &k, key, v, at);
                }
            }
            Slot::Rabbit(b, q) => {
                if let Some(b) = self.rabbit.get_mut(b) {
                    b.set(q, key, value, at, named);
                }
            }
            Slot::Prom(p) => {
                if let Some(e) = self.prom.get_mut(p) {
                    match key {
                        "value" => e.value = value.as_f64(),
                        "up" => e.up = value.as_bool().unwrap_or(true),
                        _ => {}
                    }
                }
            }
        }
    }
}

/// What is wrong with a scenario setting `key` to `value` on a service of this kind, if anything
/// (`None` too for kinds the cluster side does not simulate).
pub(crate) fn set_problem(kind: Kind, key: &str, value: &Value) -> Option<String> {
    // The Google side's knobs (sim.error, sim.latency…) mean nothing here; an event that sets
    // them on every service of a region passes over these kinds.
    if key.starts_with("sim.") && !crate::sim::cluster::backlog::KNOBS.contains(&key) {
        return None;
    }
    match kind {
        Kind::K8sWorkload => crate::sim::kube::control::set_problem(key, value),
        Kind::Redis => redis_model::set_problem(key, value, false),
        Kind::RedisQueue => redis_model::set_problem(key, value, true),
        Kind::RabbitmqQueue => rabbitmq::set_problem(key, value),
        Kind::Prometheus | Kind::Promql => prometheus::set_problem(key, value),
        _ => None,
    }
}

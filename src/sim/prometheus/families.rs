//! The metric families the simulated exporters expose, computed from the simulated world at a
//! moment of the scenario clock: kube-state-metrics, redis_exporter (servers and Sentinels),
//! celery-exporter, RabbitMQ's Prometheus plugin, postgres_exporter and mysqld_exporter shapes,
//! and the `up` series of every scrape target. Pure.

use std::time::Duration;

use crate::sim::cluster::world::ClusterWorld;
use crate::sim::kube::store::Fault;
use crate::sim::redis_model::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    Gauge,
    Counter,
}

/// One sample: labels (without `__name__`) and a value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// A metric family. Counters are named without `_total`; their samples carry it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Family {
    pub name: String,
    pub help: String,
    pub kind: Type,
    pub samples: Vec<Sample>,
}

impl Family {
    fn new(name: &str, help: &str, kind: Type) -> Family {
        Family {
            name: name.into(),
            help: help.into(),
            kind,
            samples: Vec::new(),
        }
    }

    fn add(&mut self, labels: &[(&str, &str)], value: f64) {
        self.samples.push(Sample {
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            value,
        });
    }

    /// The name samples carry (`x_total` for a counter).
    pub fn sample_name(&self) -> String {
        match self.kind {
            Type::Counter => format!("{}_total", self.name),
            Type::Gauge => self.name.clone(),
        }
    }
}

/// Which exporter an endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    KubeState,
    Redis,
    Celery,
    Rabbit,
    Postgres,
    Mysql,
    /// Only the service's own metric.
    Plain,
}

impl Shape {
    /// The shape an exporter has, from the metric the estate reads and its port.
    pub fn guess(metric: &str, port: u16) -> Shape {
        let by_prefix = [
            ("kube_", Shape::KubeState),
            ("redis_", Shape::Redis),
            ("celery_", Shape::Celery),
            ("rabbitmq_", Shape::Rabbit),
            ("pg_", Shape::Postgres),
            ("mysql_", Shape::Mysql),
        ];
        if let Some((_, s)) = by_prefix.iter().find(|(p, _)| metric.starts_with(p)) {
            return *s;
        }
        match port {
            8080 | 8081 => Shape::KubeState,
            9121 => Shape::Redis,
            9808 => Shape::Celery,
            15692 => Shape::Rabbit,
            9187 => Shape::Postgres,
            9104 => Shape::Mysql,
            _ => Shape::Plain,
        }
    }
}

pub(crate) fn families(world: &ClusterWorld, shape: Shape, at: Duration) -> Vec<Family> {
    match shape {
        Shape::KubeState => kube_state(world, at),
        Shape::Redis => redis(world, at),
        Shape::Celery => celery(world, at),
        Shape::Rabbit => rabbit(world, at),
        Shape::Postgres => postgres(world),
        Shape::Mysql => mysql(),
        Shape::Plain => Vec::new(),
    }
}

fn kube_state(world: &ClusterWorld, at: Duration) -> Vec<Family> {
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

fn redis(world: &ClusterWorld, at: Duration) -> Vec<Family> {
    use Type::{Counter, Gauge};
    let r = &world.redis;
    let mut up = Family::new("redis_up", "Information about the Redis instance", Gauge);
    let mut info = Family::new(
        "redis_instance_info",
        "Information about the Redis instance",
        Gauge,
    );
    let mut clients = Family::new("redis_connected_clients", "connected_clients metric", Gauge);
    let mut slaves = Family::new("redis_connected_slaves", "connected_slaves metric", Gauge);
    let mut link = Family::new("redis_master_link_up", "master_link_up metric", Gauge);
    let mut lag = Family::new(
        "redis_connected_slave_lag_seconds",
        "Lag of connected slave",
        Gauge,
    );
    let mut used = Family::new("redis_memory_used_bytes", "memory_used_bytes metric", Gauge);
    let mut max = Family::new("redis_memory_max_bytes", "memory_max_bytes metric", Gauge);
    let mut evicted = Family::new("redis_evicted_keys", "evicted_keys_total metric", Counter);
    let mut keys = Family::new("redis_db_keys", "Total number of keys by DB", Gauge);
    let mut sentinel = Family::new(
        "redis_sentinel_master_status",
        "Master status on Sentinel",
        Gauge,
    );
    for (i, n) in r.nodes.iter().enumerate() {
        let Some(g) = r.groups.get(n.group) else {
            continue;
        };
        let instance = format!("127.0.0.1:{}", n.port);
        let il = [("instance", instance.as_str())];
        up.add(&il, f64::from(u8::from(n.up)));
        if !n.up {
            continue;
        }
        if n.role == Role::Sentinel {
            let name = g.master_name.clone().unwrap_or_default();
            let addr = format!("127.0.0.1:{}", r.nodes.get(g.master).map_or(0, |m| m.port));
            let status = if r.node_up(g.master) { "ok" } else { "odown" };
            sentinel.add(
                &[
                    il[0],
                    ("master_name", &name),
                    ("master_address", &addr),
                    ("master_status", status),
                ],
                f64::from(u8::from(status == "ok")),
            );
            continue;
        }
        let role = if n.role == Role::Master {
            "master"
        } else {
            "slave"
        };
        info.add(
            &[
                il[0],
                ("role", role),
                ("redis_version", crate::sim::redis_info::VERSION),
                ("redis_mode", "standalone"),
            ],
            1.0,
        );
        let live: Vec<usize> = g
            .replicas()
            .filter(|x| r.node_up(*x) && r.link_ok(*x))
            .collect();
        clients.add(
            &il,
            (if n.role == Role::Master { g.clients } else { 1 } + n.open) as f64,
        );
        used.add(&il, g.used_memory as f64);
        max.add(&il, g.maxmemory as f64);
        evicted.add(&il, g.evicted_keys(at) as f64);
        keys.add(&[il[0], ("db", "db0")], g.base_keys() as f64);
        if n.role == Role::Master {
            slaves.add(&il, live.len() as f64);
            for x in live {
                let rn = &r.nodes[x];
                lag.add(
                    &[
                        il[0],
                        ("slave_ip", "127.0.0.1"),
                        ("slave_port", &rn.port.to_string()),
                        ("slave_state", "online"),
                    ],
                    rn.lag as f64,
                );
            }
        } else {
            slaves.add(&il, 0.0);
            link.add(&il, f64::from(u8::from(r.link_ok(i))));
        }
    }
    vec![
        up, info, clients, slaves, link, lag, used, max, evicted, keys, sentinel,
    ]
}

fn celery(world: &ClusterWorld, at: Duration) -> Vec<Family> {
    let mut len = Family::new(
        "celery_queue_length",
        "The number of message in broker queue.",
        Type::Gauge,
    );
    let mut consumers = Family::new(
        "celery_active_consumer_count",
        "The number of active consumer in broker queue.",
        Type::Gauge,
    );
    for q in &world.queues {
        let Some(g) = world.redis.groups.get(q.group) else {
            continue;
        };
        let Some(list) = g.lists.get(&(q.db, q.key.clone())) else {
            continue;
        };
        if q.key.starts_with("queues:") {
            continue;
        }
        len.add(&[("queue_name", q.key.as_str())], list.depth(at) as f64);
        consumers.add(
            &[("queue_name", q.key.as_str())],
            if list.drain > 0.0 { 2.0 } else { 0.0 },
        );
    }
    vec![len, consumers]
}

fn rabbit(world: &ClusterWorld, at: Duration) -> Vec<Family> {
    let mut ready = Family::new(
        "rabbitmq_queue_messages_ready",
        "Messages ready to be delivered to consumers",
        Type::Gauge,
    );
    let mut unacked = Family::new(
        "rabbitmq_queue_messages_unacked",
        "Messages delivered to consumers but not yet acknowledged",
        Type::Gauge,
    );
    let mut consumers = Family::new(
        "rabbitmq_queue_consumers",
        "Consumers on a queue",
        Type::Gauge,
    );
    for b in &world.rabbit {
        for q in &b.queues {
            let l = [("vhost", q.vhost.as_str()), ("queue", q.name.as_str())];
            let depth = q.backlog.depth(at);
            ready.add(&l, depth as f64);
            unacked.add(
                &l,
                q.unacked.unwrap_or(depth.min(u64::from(q.consumers) * 10)) as f64,
            );
            consumers.add(&l, f64::from(q.consumers));
        }
    }
    vec![ready, unacked, consumers]
}

fn postgres(world: &ClusterWorld) -> Vec<Family> {
    let mut up = Family::new(
        "pg_up",
        "Whether the last scrape of metrics from PostgreSQL was able to connect to the server (1 for yes, 0 for no).",
        Type::Gauge,
    );
    let mut lag = Family::new(
        "pg_replication_lag_seconds",
        "Replication lag behind master in seconds",
        Type::Gauge,
    );
    let mut backends = Family::new(
        "pg_stat_database_numbackends",
        "Number of backends currently connected to this database.",
        Type::Gauge,
    );
    for (id, url) in &world.postgres {
        let db = url.rsplit('/').next().unwrap_or("postgres");
        up.add(&[("server", id.as_str())], 1.0);
        lag.add(&[("server", id.as_str())], 0.0);
        backends.add(&[("server", id.as_str()), ("datname", db)], 12.0);
    }
    if up.samples.is_empty() {
        up.add(&[], 1.0);
        lag.add(&[], 0.0);
    }
    vec![up, lag, backends]
}

fn mysql() -> Vec<Family> {
    let mut up = Family::new("mysql_up", "Whether the MySQL server is up.", Type::Gauge);
    up.add(&[], 1.0);
    let mut behind = Family::new(
        "mysql_slave_status_seconds_behind_master",
        "Generic metric from SHOW SLAVE STATUS.",
        Type::Gauge,
    );
    behind.add(
        &[
            ("channel_name", ""),
            ("connection_name", ""),
            ("master_host", "10.0.0.20"),
            ("master_uuid", ""),
        ],
        0.0,
    );
    let mut io = Family::new(
        "mysql_slave_status_slave_io_running",
        "Generic metric from SHOW SLAVE STATUS.",
        Type::Gauge,
    );
    io.add(
        &[
            ("channel_name", ""),
            ("connection_name", ""),
            ("master_host", "10.0.0.20"),
            ("master_uuid", ""),
        ],
        1.0,
    );
    let mut uptime = Family::new(
        "mysql_global_status_uptime",
        "Generic metric from SHOW GLOBAL STATUS.",
        Type::Gauge,
    );
    uptime.add(&[], 3_456_000.0);
    vec![up, behind, io, uptime]
}

/// Every series the simulated Prometheus server has scraped, with the job and instance labels
/// a scrape adds, and the `up` of each target.
pub(crate) fn scraped(world: &ClusterWorld, at: Duration) -> Vec<Family> {
    let mut up = Family::new("up", "", Type::Gauge);
    up.add(
        &[("instance", "localhost:9090"), ("job", "prometheus")],
        1.0,
    );
    for c in &world.kube {
        for (i, w) in c.workloads.iter().enumerate() {
            for p in c.pods_of(i) {
                let instance = format!("{}:8080", p.ip);
                up.add(
                    &[
                        ("instance", &instance),
                        ("job", &w.name),
                        ("namespace", &w.namespace),
                        ("pod", &p.name),
                    ],
                    f64::from(u8::from(p.ready(at))),
                );
            }
        }
    }
    let mut out = vec![up];
    let jobs = [
        (
            Shape::KubeState,
            "kube-state-metrics",
            "kube-state-metrics:8080",
        ),
        (Shape::Redis, "redis", "redis-exporter:9121"),
        (Shape::Celery, "celery", "celery-exporter:9808"),
        (Shape::Rabbit, "rabbitmq", "rabbitmq:15692"),
    ];
    for (shape, job, instance) in jobs {
        for mut f in families(world, shape, at) {
            for s in &mut f.samples {
                if !s.labels.iter().any(|(k, _)| k == "instance") {
                    s.labels.push(("instance".into(), instance.into()));
                }
                s.labels.push(("job".into(), job.into()));
            }
            out.push(f);
        }
        out[0].add(&[("instance", instance), ("job", job)], 1.0);
    }
    for e in world.prom.iter().filter(|e| e.exporter().is_some()) {
        for mut f in super::exporter_families(world, e, at) {
            for s in &mut f.samples {
                s.labels.push(("instance".into(), e.authority.clone()));
                s.labels.push(("job".into(), e.service.clone()));
            }
            out.push(f);
        }
        out[0].add(
            &[("instance", &e.authority), ("job", &e.service)],
            f64::from(u8::from(e.up)),
        );
    }
    out
}

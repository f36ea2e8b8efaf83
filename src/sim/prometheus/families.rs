//! The metric families the simulated exporters expose, computed from the simulated world at a
//! moment of the scenario clock: kube-state-metrics, redis_exporter (servers and Sentinels),
//! celery-exporter, RabbitMQ's Prometheus plugin, postgres_exporter and mysqld_exporter shapes,
//! and the `up` series of every scrape target. Pure.

use std::time::Duration;

use crate::sim::cluster::world::ClusterWorld;
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
    pub(super) fn new(name: &str, help: &str, kind: Type) -> Family {
        Family {
            name: name.into(),
            help: help.into(),
            kind,
            samples: Vec::new(),
        }
    }

    pub(super) fn add(&mut self, labels: &[(&str, &str)], value: f64) {
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
        Shape::KubeState => super::kube_state::kube_state(world, at),
        Shape::Redis => redis(world, at),
        Shape::Celery => celery(world, at),
        Shape::Rabbit => rabbit(world, at),
        Shape::Postgres => postgres(world),
        Shape::Mysql => mysql(),
        Shape::Plain => Vec::new(),
    }
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

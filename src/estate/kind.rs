//! The kinds of service (architecture.md's table) and the locator keys each one takes.

use std::fmt;

/// What a service is, which decides how it is probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    CloudRun,
    CloudSql,
    CloudTasks,
    Memorystore,
    GcpRest,
    PubsubSubscription,
    K8sWorkload,
    Redis,
    RedisQueue,
    RabbitmqQueue,
    Postgres,
    Mysql,
    Http,
    Prometheus,
    Promql,
}

/// Keys every service may carry, whatever its kind.
pub const COMMON_KEYS: &[&str] = &[
    "id",
    "name",
    "kind",
    "region",
    "sev",
    "fallback",
    "depends_on",
    "owner",
    "escalation",
    "runbooks",
    "interval",
    "timeout",
];

const THRESHOLDS: [&str; 3] = ["warn_depth", "crit_depth", "max_oldest_age"];

impl Kind {
    pub const ALL: [Kind; 15] = [
        Kind::CloudRun,
        Kind::CloudSql,
        Kind::CloudTasks,
        Kind::Memorystore,
        Kind::GcpRest,
        Kind::PubsubSubscription,
        Kind::K8sWorkload,
        Kind::Redis,
        Kind::RedisQueue,
        Kind::RabbitmqQueue,
        Kind::Postgres,
        Kind::Mysql,
        Kind::Http,
        Kind::Prometheus,
        Kind::Promql,
    ];

    /// The name written in estate files and the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::CloudRun => "cloud_run",
            Kind::CloudSql => "cloud_sql",
            Kind::CloudTasks => "cloud_tasks",
            Kind::Memorystore => "memorystore",
            Kind::GcpRest => "gcp_rest",
            Kind::PubsubSubscription => "pubsub_subscription",
            Kind::K8sWorkload => "k8s_workload",
            Kind::Redis => "redis",
            Kind::RedisQueue => "redis_queue",
            Kind::RabbitmqQueue => "rabbitmq_queue",
            Kind::Postgres => "postgres",
            Kind::Mysql => "mysql",
            Kind::Http => "http",
            Kind::Prometheus => "prometheus",
            Kind::Promql => "promql",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Keys this kind must have.
    pub fn required_keys(self) -> &'static [&'static str] {
        match self {
            Kind::CloudRun => &["region", "service"],
            Kind::CloudSql => &["instance"],
            Kind::CloudTasks => &["region", "queue"],
            Kind::Memorystore => &["region", "instance"],
            Kind::GcpRest => &["url", "up_when"],
            Kind::PubsubSubscription => &["subscription"],
            Kind::K8sWorkload => &["namespace", "workload"],
            Kind::Redis | Kind::Postgres | Kind::Mysql | Kind::Http => &["url"],
            Kind::RedisQueue => &["url", "queue"],
            Kind::RabbitmqQueue => &["url", "queue"],
            Kind::Prometheus => &["url", "metric", "up_when"],
            Kind::Promql => &["url", "query", "up_when"],
        }
    }

    /// Keys this kind may have beyond the required and common ones.
    pub fn optional_keys(self) -> &'static [&'static str] {
        match self {
            Kind::CloudRun | Kind::CloudSql | Kind::Memorystore => &["project"],
            Kind::CloudTasks | Kind::PubsubSubscription => {
                &["project", THRESHOLDS[0], THRESHOLDS[1], THRESHOLDS[2]]
            }
            Kind::GcpRest => &["degraded_when"],
            Kind::K8sWorkload => &[],
            Kind::Redis => &["password_env", "sentinel_master"],
            Kind::RedisQueue => &[
                "password_env",
                "format",
                THRESHOLDS[0],
                THRESHOLDS[1],
                THRESHOLDS[2],
            ],
            Kind::RabbitmqQueue => &[
                "vhost",
                "user",
                "password_env",
                THRESHOLDS[0],
                THRESHOLDS[1],
                THRESHOLDS[2],
            ],
            Kind::Postgres | Kind::Mysql => &["password_env"],
            Kind::Http => &["expect_status", "max_latency", "up_when"],
            Kind::Prometheus | Kind::Promql => &[],
        }
    }

    /// Whether a key is allowed on a service of this kind.
    pub fn allows(self, key: &str) -> bool {
        COMMON_KEYS.contains(&key)
            || self.required_keys().contains(&key)
            || self.optional_keys().contains(&key)
    }

    /// A queue: shown on the queues view, with depth thresholds.
    pub fn is_queue(self) -> bool {
        matches!(
            self,
            Kind::CloudTasks | Kind::PubsubSubscription | Kind::RedisQueue | Kind::RabbitmqQueue
        )
    }

    /// Served by a Google API (needs `[gcp]` credentials).
    pub fn is_google(self) -> bool {
        matches!(
            self,
            Kind::CloudRun
                | Kind::CloudSql
                | Kind::CloudTasks
                | Kind::Memorystore
                | Kind::GcpRest
                | Kind::PubsubSubscription
        )
    }

    /// The role the topology view groups it under.
    pub fn role(self) -> &'static str {
        match self {
            Kind::CloudRun | Kind::K8sWorkload => "compute",
            Kind::CloudSql | Kind::Memorystore | Kind::Redis | Kind::Postgres | Kind::Mysql => {
                "data"
            }
            Kind::CloudTasks
            | Kind::PubsubSubscription
            | Kind::RedisQueue
            | Kind::RabbitmqQueue => "queues",
            Kind::Http => "edge",
            Kind::GcpRest | Kind::Prometheus | Kind::Promql => "platform",
        }
    }
}

impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_its_name() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("cloudsql"), None);
    }

    #[test]
    fn locator_keys_are_kind_specific() {
        assert!(Kind::CloudSql.allows("instance"));
        assert!(!Kind::CloudSql.allows("queue"));
        assert!(Kind::RedisQueue.allows("warn_depth"));
        assert!(!Kind::Http.allows("warn_depth"));
    }
}

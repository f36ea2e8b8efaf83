//! Every shipped cluster-side scenario (Kubernetes, Redis, RabbitMQ, Celery and Laravel queues,
//! Prometheus) through the real binary: `opsdeck --demo --scenario NAME --once --json` (on the
//! estate the scenario was written for, else the demo, which holds every kind the simulator
//! serves) gives the expected status, exit code and per-service verdicts.

mod scenario_table;

use opsdeck::estate::Kind;
use opsdeck::sim::scenario;
use scenario_table::{Case, Expect, failures, svc, touches};

/// A service whose `error` says why.
const fn because(id: &'static str, status: &'static str, error: &'static str) -> Expect {
    Expect {
        id,
        status,
        stale: None,
        error: Some(error),
    }
}

const CASES: &[Case] = &[
    Case {
        scenario: "healthy",
        status: "ok",
        exit: 0,
        worst_sev: None,
        services: &[
            svc("workers", "up"),
            svc("broker", "up"),
            svc("celery", "up"),
            svc("webhooks", "up"),
            svc("webhooks-dead-letter", "up"),
            svc("broker-memory", "up"),
            svc("prometheus", "up"),
        ],
        impacted: &[],
    },
    Case {
        scenario: "queue-backlog",
        status: "warning",
        exit: 1,
        worst_sev: Some(4),
        services: &[
            because("celery", "degraded", "warn_depth"),
            because("webhooks", "degraded", "warn_depth"),
            svc("workers", "up"),
        ],
        impacted: &[],
    },
    Case {
        scenario: "redis-replica-link-down",
        status: "warning",
        exit: 1,
        worst_sev: Some(3),
        services: &[because("broker", "degraded", "link err")],
        impacted: &[],
    },
    Case {
        scenario: "redis-master-down",
        status: "critical",
        exit: 2,
        worst_sev: Some(2),
        services: &[because("broker", "down", "objectively down")],
        impacted: &[("workers", "broker"), ("celery", "broker")],
    },
    Case {
        scenario: "crashloop",
        status: "warning",
        exit: 1,
        worst_sev: Some(4),
        services: &[because("workers", "degraded", "CrashLoopBackOff")],
        impacted: &[],
    },
    Case {
        scenario: "hpa-at-max",
        status: "warning",
        exit: 1,
        worst_sev: Some(4),
        services: &[svc("workers", "degraded")],
        impacted: &[],
    },
    Case {
        scenario: "rabbitmq-dlq-growing",
        status: "warning",
        exit: 1,
        worst_sev: Some(4),
        services: &[
            because("webhooks-dead-letter", "degraded", "warn_depth"),
            svc("webhooks", "up"),
        ],
        impacted: &[],
    },
    // Seed 004 (deplate). Its MariaDB is not simulated: without the password it stays unknown.
    Case {
        scenario: "deplate-poison-messages",
        status: "unknown",
        exit: 3,
        worst_sev: Some(1),
        services: &[
            because("notifications-dead-letter", "degraded", "warn_depth"),
            svc("notifications", "up"),
            svc("events-dead-letter", "up"),
            because("mariadb", "unknown", "DEPLATE_DB_PASSWORD"),
        ],
        impacted: &[],
    },
    Case {
        scenario: "deplate-rabbitmq-scaled-to-zero",
        status: "unknown",
        exit: 3,
        worst_sev: Some(1),
        services: &[because("rabbitmq", "degraded", "scaled to 0")],
        impacted: &[],
    },
    Case {
        scenario: "deplate-redis-master-down",
        status: "critical",
        exit: 2,
        worst_sev: Some(1),
        services: &[
            because("redis", "down", "objectively down"),
            because("jobs", "down", "refused"),
        ],
        impacted: &[("backend", "redis"), ("www", "redis")],
    },
    Case {
        scenario: "deplate-redis-master-stuck",
        status: "critical",
        exit: 2,
        worst_sev: Some(1),
        services: &[because("redis", "down", "objectively down")],
        impacted: &[("app", "redis"), ("scheduler", "redis")],
    },
    // Seed 003 (EPFL on Kubernetes).
    Case {
        scenario: "epfl-backend-crashloop",
        status: "critical",
        exit: 2,
        worst_sev: Some(1),
        services: &[
            because("backend", "down", "CrashLoopBackOff"),
            because("prometheus", "down", "value is 2"),
        ],
        impacted: &[
            ("site", "backend"),
            ("api", "backend"),
            ("grafana", "prometheus"),
        ],
    },
    Case {
        scenario: "epfl-backend-stale-credentials",
        status: "critical",
        exit: 2,
        worst_sev: Some(1),
        services: &[because("backend", "down", "CrashLoopBackOff")],
        impacted: &[("frontend", "backend")],
    },
    // Seed 001 (sartiq).
    Case {
        scenario: "sartiq-backend-redis-down",
        status: "critical",
        exit: 2,
        worst_sev: Some(1),
        services: &[
            because("backend-redis", "down", "refused"),
            because("backend-celery", "down", "refused"),
        ],
        impacted: &[("caddy", "backend-redis"), ("webapp", "backend-redis")],
    },
];

#[test]
fn every_cluster_scenario_gives_its_status_and_exit_code() {
    let failures = failures(CASES);
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn touches_cluster(s: &scenario::Scenario) -> bool {
    touches(s, |k| !k.is_google() && k != Kind::Http)
}

#[test]
fn the_table_covers_every_shipped_cluster_scenario() {
    for name in scenario::builtin_names() {
        let s = scenario::builtin(name).expect("parses");
        if touches_cluster(&s) {
            assert!(
                CASES.iter().any(|c| c.scenario == name),
                "the cluster-side scenario {name} has no row in the table"
            );
        }
    }
}

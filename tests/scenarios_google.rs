//! Every shipped Google-side scenario through the real binary: `opsdeck --demo --scenario NAME
//! --once --json` (on the estate the scenario was written for) gives the expected status, exit
//! code and per-service verdicts.

mod scenario_table;

use opsdeck::estate::Kind;
use opsdeck::sim::scenario;
use scenario_table::{Case, Expect, failing, failures, svc, touches};

const CASES: &[Case] = &[
    Case {
        scenario: "healthy",
        status: "ok",
        exit: 0,
        worst_sev: None,
        services: &[
            svc("api", "up"),
            svc("sql", "up"),
            svc("cache", "up"),
            svc("kms", "up"),
        ],
        impacted: &[],
    },
    Case {
        scenario: "cloudsql-down",
        status: "critical",
        exit: 2,
        worst_sev: Some(1),
        services: &[svc("sql", "down"), svc("sql-us", "down"), svc("api", "up")],
        impacted: &[("api", "sql"), ("api-us", "sql-us")],
    },
    Case {
        scenario: "cloudsql-zone-failover-needed",
        status: "critical",
        exit: 2,
        worst_sev: Some(1),
        services: &[Expect {
            id: "sql",
            status: "down",
            stale: Some(false),
            error: Some("FAILED"),
        }],
        impacted: &[("api", "sql")],
    },
    Case {
        scenario: "region-outage",
        status: "critical",
        exit: 2,
        worst_sev: Some(1),
        services: &[
            svc("sql", "down"),
            failing("api", "unknown", "503 UNAVAILABLE"),
            failing("kms", "unknown", "503 UNAVAILABLE"),
            failing("vpc", "unknown", "503 UNAVAILABLE"),
            // Memorystore's `locations/-` list names the region unreachable: not known gone.
            failing("cache", "unknown", "could not reach europe-west1"),
            svc("sql-us", "up"),
            svc("api-us", "up"),
        ],
        impacted: &[("api", "sql")],
    },
    Case {
        scenario: "rate-limited",
        status: "unknown",
        exit: 3,
        worst_sev: Some(1),
        services: &[
            failing("api", "unknown", "429 RESOURCE_EXHAUSTED"),
            failing("sql", "unknown", "429 RESOURCE_EXHAUSTED"),
            failing("cache", "unknown", "429 RESOURCE_EXHAUSTED"),
            failing("kms", "unknown", "429 RESOURCE_EXHAUSTED"),
            svc("edge", "up"),
        ],
        impacted: &[],
    },
    Case {
        scenario: "google-credentials-expired",
        status: "unknown",
        exit: 3,
        worst_sev: Some(1),
        services: &[
            Expect {
                id: "api",
                status: "unknown",
                stale: Some(false),
                error: Some("401 UNAUTHENTICATED"),
            },
            Expect {
                id: "sql",
                status: "unknown",
                stale: Some(false),
                error: Some("401 UNAUTHENTICATED"),
            },
            Expect {
                id: "cache",
                status: "unknown",
                stale: Some(false),
                error: Some("401 UNAUTHENTICATED"),
            },
            svc("edge", "up"),
            svc("workers", "up"),
        ],
        impacted: &[],
    },
    Case {
        scenario: "cloudrun-failed-revision",
        status: "critical",
        exit: 2,
        worst_sev: Some(2),
        services: &[svc("api", "degraded"), svc("api-us", "degraded")],
        impacted: &[],
    },
    Case {
        scenario: "kms-key-disabled",
        status: "critical",
        exit: 2,
        worst_sev: Some(1),
        services: &[svc("kms", "down"), svc("api", "up")],
        impacted: &[("api", "kms")],
    },
    Case {
        scenario: "memorystore-failing-over",
        status: "warning",
        exit: 1,
        worst_sev: Some(4),
        services: &[svc("cache", "degraded"), svc("api", "up")],
        impacted: &[],
    },
    Case {
        scenario: "vpc-connector-down",
        status: "critical",
        exit: 2,
        worst_sev: Some(1),
        services: &[svc("vpc", "down"), svc("sql", "up")],
        impacted: &[("api", "vpc"), ("sql", "vpc")],
    },
    Case {
        scenario: "lumieos-za-region-down",
        status: "critical",
        exit: 2,
        worst_sev: Some(1),
        services: &[
            svc("sql-za", "down"),
            failing("run-za", "unknown", "503 UNAVAILABLE"),
            failing("scheduler-za", "unknown", "503 UNAVAILABLE"),
            svc("edge-za", "down"),
            svc("run-us", "up"),
            svc("sql-us", "up"),
            svc("edge-us", "up"),
        ],
        impacted: &[],
    },
    Case {
        scenario: "tappass-sql-lost",
        status: "critical",
        exit: 2,
        worst_sev: Some(1),
        services: &[
            Expect {
                id: "sql",
                status: "down",
                stale: Some(false),
                error: Some("FAILED"),
            },
            svc("kms", "up"),
            svc("cache", "up"),
        ],
        impacted: &[("api", "sql")],
    },
    Case {
        scenario: "cloudrun-bad-revision-serving",
        status: "critical",
        exit: 2,
        worst_sev: Some(2),
        services: &[Expect {
            id: "api",
            status: "degraded",
            stale: Some(false),
            error: Some("HEALTH_CHECK_CONTAINER_ERROR"),
        }],
        impacted: &[],
    },
    Case {
        scenario: "cloudsql-failover-slow",
        status: "critical",
        exit: 2,
        worst_sev: Some(1),
        services: &[svc("sql", "down")],
        impacted: &[("api", "sql")],
    },
    // Rehearsals: something is announced, nothing a probe can see is broken yet.
    Case {
        scenario: "cloudrun-burst-expected",
        status: "ok",
        exit: 0,
        worst_sev: None,
        services: &[svc("api", "up")],
        impacted: &[],
    },
    Case {
        scenario: "memorystore-zone-degraded",
        status: "ok",
        exit: 0,
        worst_sev: None,
        services: &[svc("cache", "up")],
        impacted: &[],
    },
    Case {
        scenario: "tappass-data-deleted",
        status: "ok",
        exit: 0,
        worst_sev: None,
        services: &[svc("sql", "up")],
        impacted: &[],
    },
];

/// Google-side scenarios whose fault builds up on the scenario clock, so a single `--once`
/// right after the start sees a moment of it that depends on how fast the machine is; the
/// drills follow them over time instead.
const BUILT_OVER_TIME: &[&str] = &["lumieos-tasks-handler-failing"];

#[test]
fn every_google_scenario_gives_its_status_and_exit_code() {
    let failures = failures(CASES);
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn touches_google(s: &scenario::Scenario) -> bool {
    touches(s, Kind::is_google)
}

#[test]
fn the_table_covers_every_shipped_google_scenario() {
    for name in scenario::builtin_names() {
        let s = scenario::builtin(name).expect("parses");
        if (touches_google(&s) || name == "healthy") && !BUILT_OVER_TIME.contains(&name) {
            assert!(
                CASES.iter().any(|c| c.scenario == name),
                "the Google-side scenario {name} has no row in the table"
            );
        }
    }
    for name in [
        "cloudsql-down",
        "cloudsql-zone-failover-needed",
        "region-outage",
        "rate-limited",
        "lumieos-za-region-down",
        "tappass-sql-lost",
    ] {
        assert!(
            scenario::builtin(name).is_some_and(|s| touches_google(&s)),
            "{name}"
        );
    }
}

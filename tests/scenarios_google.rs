//! Every shipped Google-side scenario through the real binary: `opsdeck --demo --scenario NAME
//! --once --json` (on the estate the scenario was written for) gives the expected status, exit
//! code and per-service verdicts.

use std::process::Command;

use opsdeck::estate::{self, Kind};
use opsdeck::sim::scenario;
use serde_json::Value;

/// What one service must show.
struct Expect {
    id: &'static str,
    status: &'static str,
    /// Stale (the last refresh failed with a retryable error), when it matters.
    stale: Option<bool>,
    /// Text the service's `error` contains, when it matters.
    error: Option<&'static str>,
}

const fn svc(id: &'static str, status: &'static str) -> Expect {
    Expect {
        id,
        status,
        stale: None,
        error: None,
    }
}

const fn failing(id: &'static str, status: &'static str, error: &'static str) -> Expect {
    Expect {
        id,
        status,
        stale: Some(true),
        error: Some(error),
    }
}

struct Case {
    scenario: &'static str,
    status: &'static str,
    exit: i32,
    worst_sev: Option<u64>,
    services: &'static [Expect],
    /// Services impacted by a root cause: (service, root cause).
    impacted: &'static [(&'static str, &'static str)],
}

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

/// The estate file a scenario was written for, when it is not the demo.
fn estate_file(s: &scenario::Scenario) -> Option<String> {
    s.estate
        .as_deref()
        .filter(|e| *e != "demo")
        .map(|e| format!("{}/fixtures/estates/{e}.toml", env!("CARGO_MANIFEST_DIR")))
}

fn run(case: &Case) -> (Value, i32) {
    let s =
        scenario::builtin(case.scenario).unwrap_or_else(|| panic!("{} is shipped", case.scenario));
    let mut args = vec!["--demo".to_string()];
    if let Some(file) = estate_file(&s) {
        args.extend(["--estate".to_string(), file]);
    }
    args.extend(
        [
            "--scenario",
            case.scenario,
            "--once",
            "--json",
            "--timeout",
            "20s",
        ]
        .map(String::from),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(&args)
        .env_remove("OPSDECK_ESTATE")
        .env("XDG_CONFIG_HOME", env!("CARGO_TARGET_TMPDIR"))
        .output()
        .expect("run opsdeck");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: stdout is not JSON ({e}): {}\nstderr: {}",
            case.scenario,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (doc, out.status.code().expect("exit code"))
}

#[test]
fn every_google_scenario_gives_its_status_and_exit_code() {
    let mut failures = Vec::new();
    for case in CASES {
        let (doc, code) = run(case);
        let name = case.scenario;
        let mut check = |ok: bool, what: String| {
            if !ok {
                failures.push(format!("{name}: {what}"));
            }
        };
        check(
            code == case.exit,
            format!("exit {code}, want {}", case.exit),
        );
        check(
            doc["status"] == case.status,
            format!("status {}, want {}", doc["status"], case.status),
        );
        check(
            doc["exit_code"] == case.exit,
            format!("exit_code {}", doc["exit_code"]),
        );
        check(
            doc["worst_sev"].as_u64() == case.worst_sev,
            format!("worst_sev {}, want {:?}", doc["worst_sev"], case.worst_sev),
        );
        let find = |id: &str| {
            doc["services"]
                .as_array()
                .and_then(|s| s.iter().find(|x| x["id"] == id))
                .cloned()
                .unwrap_or(Value::Null)
        };
        for e in case.services {
            let s = find(e.id);
            check(
                s["status"] == e.status,
                format!("{} is {}, want {}: {s}", e.id, s["status"], e.status),
            );
            if let Some(stale) = e.stale {
                check(
                    s["stale"] == stale,
                    format!("{} stale is {}, want {stale}", e.id, s["stale"]),
                );
            }
            if let Some(text) = e.error {
                check(
                    s["error"].as_str().is_some_and(|m| m.contains(text)),
                    format!("{} error {} lacks \"{text}\"", e.id, s["error"]),
                );
            }
        }
        for (id, cause) in case.impacted {
            let s = find(id);
            check(
                s["impacted_by"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|x| x == cause)),
                format!("{id} is not impacted by {cause}: {}", s["impacted_by"]),
            );
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Whether a scenario touches Google resources: an event selecting a Google kind, or naming a
/// service of a Google kind in the scenario's estate.
fn touches_google(s: &scenario::Scenario) -> bool {
    let source = s.estate.as_deref().and_then(|name| {
        estate::SAMPLE_ESTATES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| *text)
    });
    let estate = estate::from_str(source.unwrap_or(estate::DEMO_ESTATE), "estate")
        .expect("estate loads")
        .0;
    s.events.iter().any(|e| {
        e.kind.is_some_and(Kind::is_google)
            || e.service
                .as_deref()
                .and_then(|id| estate.service(id))
                .is_some_and(|svc| svc.kind.is_google())
    })
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

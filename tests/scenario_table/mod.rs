//! The table that scenario tests share: run `opsdeck --demo --scenario NAME --once --json` (on
//! the estate the scenario was written for) and compare status, exit code and per-service
//! verdicts with what a row expects.

// Each test binary that includes this module uses part of it.
#![allow(dead_code)]

use std::process::Command;

use opsdeck::estate::{self, Kind};
use opsdeck::sim::scenario;
use serde_json::Value;

/// What one service must show.
pub struct Expect {
    pub id: &'static str,
    pub status: &'static str,
    /// Stale (the last refresh failed with a retryable error), when it matters.
    pub stale: Option<bool>,
    /// Text the service's `error` contains, when it matters.
    pub error: Option<&'static str>,
}

pub const fn svc(id: &'static str, status: &'static str) -> Expect {
    Expect {
        id,
        status,
        stale: None,
        error: None,
    }
}

pub const fn failing(id: &'static str, status: &'static str, error: &'static str) -> Expect {
    Expect {
        id,
        status,
        stale: Some(true),
        error: Some(error),
    }
}

pub struct Case {
    pub scenario: &'static str,
    pub status: &'static str,
    pub exit: i32,
    pub worst_sev: Option<u64>,
    pub services: &'static [Expect],
    /// Services impacted by a root cause: (service, root cause).
    pub impacted: &'static [(&'static str, &'static str)],
}

/// The estate file a scenario was written for, when it is not the demo.
fn estate_file(s: &scenario::Scenario) -> Option<String> {
    s.estate
        .as_deref()
        .filter(|e| *e != "demo")
        .map(|e| format!("{}/fixtures/estates/{e}.toml", env!("CARGO_MANIFEST_DIR")))
}

pub fn run(case: &Case) -> (Value, i32) {
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

/// Every way the rows' expectations are not met, one line each (empty when all hold).
pub fn failures(cases: &[Case]) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases {
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
    failures
}

/// Whether a scenario touches a service of a kind: an event selecting that kind, or naming a
/// service of it in the scenario's estate.
pub fn touches(s: &scenario::Scenario, of_kind: fn(Kind) -> bool) -> bool {
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
        e.kind.is_some_and(of_kind)
            || e.service
                .as_deref()
                .and_then(|id| estate.service(id))
                .is_some_and(|svc| of_kind(svc.kind))
    })
}

//! The one-shot contract through the real binary: `--once` JSON, table and exit codes against
//! the built-in simulator, and `opsdeck check` on every sample and invalid estate.

mod cli;

use cli::{json_of, service};

use std::process::{Command, Output};

use serde_json::Value;

fn opsdeck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(args)
        .env_remove("OPSDECK_ESTATE")
        .env("XDG_CONFIG_HOME", env!("CARGO_TARGET_TMPDIR"))
        // Private silences and transitions: an engineer's own silences must not change these.
        .env(
            "OPSDECK_STATE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/cli-once-state"),
        )
        .output()
        .expect("run opsdeck")
}

fn json(args: &[&str]) -> (Value, i32) {
    let out = opsdeck(args);
    json_of(&out)
}

#[test]
fn the_healthy_demo_is_all_up_in_two_regions() {
    let (doc, code) = json(&["--demo", "--once", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(doc["schema"], "opsdeck.health/v1");
    assert_eq!(doc["status"], "ok");
    assert_eq!(doc["exit_code"], 0);
    assert_eq!(doc["worst_sev"], Value::Null);
    assert_eq!(doc["regions"].as_array().map(Vec::len), Some(2));
    let services = doc["services"].as_array().expect("services");
    assert!(services.len() >= 10);
    for s in services {
        assert_eq!(s["status"], "up", "{s}");
        assert_eq!(s["sev"], Value::Null, "{s}");
        for key in [
            "id",
            "name",
            "kind",
            "region",
            "status",
            "declared_sev",
            "sev",
            "impacted_by",
            "fallback",
            "summary",
            "observed_at",
            "stale",
            "error",
            "metrics",
        ] {
            assert!(s.get(key).is_some(), "service lacks '{key}': {s}");
        }
    }
    for key in ["estate", "generated_at", "queues"] {
        assert!(doc.get(key).is_some(), "document lacks '{key}'");
    }
}

#[test]
fn cloudsql_down_is_critical_with_its_dependents_impacted_not_down() {
    let (doc, code) = json(&["--demo", "--scenario", "cloudsql-down", "--once", "--json"]);
    assert_eq!(code, 2);
    assert_eq!(doc["status"], "critical");
    assert_eq!(doc["worst_sev"], 1);
    let sql = service(&doc, "sql");
    assert_eq!(sql["status"], "down");
    assert_eq!(sql["sev"], 1);
    assert_eq!(
        doc["services"][0]["id"], "sql",
        "the root cause is at the top"
    );
    let api = service(&doc, "api");
    assert_eq!(api["status"], "up", "impacted, not a second failure");
    assert_eq!(api["impacted_by"], serde_json::json!(["sql"]));
    assert_eq!(api["sev"], 1);
    let edge = service(&doc, "edge");
    assert_eq!(
        edge["impacted_by"],
        serde_json::json!(["sql"]),
        "through api, to the root cause"
    );
    assert!(
        sql["blast_radius"]
            .as_array()
            .is_some_and(|b| b.iter().any(|x| x == "api"))
    );
}

#[test]
fn the_table_shows_the_same_as_the_json() {
    let out = opsdeck(&[
        "--demo",
        "--scenario",
        "cloudsql-down",
        "--once",
        "--format",
        "table",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    assert!(header.contains("CRITICAL (exit 2)"), "{header}");
    assert!(header.contains("worst SEV1"), "{header}");
    let columns = lines.next().expect("column line");
    assert!(columns.starts_with("SEV"), "{columns}");
    let first = lines.next().expect("first row");
    let cells: Vec<&str> = first.split_whitespace().collect();
    assert_eq!(&cells[..3], ["SEV1", "down", "sql"], "{first}");
    let api = text
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some("api"))
        .expect("api row");
    assert!(api.contains("impacted") && api.contains("sql"), "{api}");
}

#[test]
fn an_unknown_scenario_is_one_sentence_and_unknown() {
    let out = opsdeck(&["--demo", "--scenario", "no-such-thing", "--once"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown scenario \"no-such-thing\""), "{err}");
    assert!(out.stdout.is_empty(), "stdout stays parseable (empty)");
}

#[test]
fn a_missing_estate_points_at_the_demo() {
    let out = opsdeck(&["--once"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no estate file") && err.contains("opsdeck --demo"),
        "{err}"
    );
}

#[test]
fn check_passes_every_sample_estate() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/estates");
    for entry in std::fs::read_dir(dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        let out = opsdeck(&["check", "--estate", path.to_str().expect("utf-8 path")]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("is valid"));
    }
}

#[test]
fn check_fails_precisely_on_every_invalid_estate() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/invalid-estates");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        n += 1;
        let out = opsdeck(&["check", "--estate", path.to_str().expect("utf-8 path")]);
        assert_eq!(out.status.code(), Some(1), "{}", path.display());
        let expected =
            std::fs::read_to_string(path.with_extension("expected")).expect("expected file");
        let err = String::from_utf8_lossy(&out.stderr);
        for line in expected.lines() {
            let tail = line.split_once(".toml").map_or(line, |(_, t)| t);
            assert!(
                err.contains(tail),
                "{}: missing {line}\n{err}",
                path.display()
            );
        }
    }
    assert!(n >= 14);
}

#[test]
fn check_with_demo_validates_the_built_in_estate() {
    let out = opsdeck(&["--demo", "check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

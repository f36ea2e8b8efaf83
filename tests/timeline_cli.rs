//! `opsdeck timeline` through the real binary: a `--once` run against the simulator records
//! the transitions it saw (once: a second run that sees the same adds nothing), a silence is
//! added and lifted, a runbook run is refused, and the timeline shows all of it in order, as
//! Markdown for a postmortem and as JSON. State and audit files live in a temporary directory.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn opsdeck(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(args)
        .env_remove("OPSDECK_ESTATE")
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_STATE_HOME", dir.join("xdg-state"))
        .env("OPSDECK_STATE_DIR", dir.join("state"))
        .env("OPSDECK_DATA_DIR", dir.join("data"))
        .env("USER", "bob")
        .output()
        .expect("run opsdeck")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_timeline_tells_what_happened_who_did_what_and_when() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let once = ["--demo", "--scenario", "cloudsql-down", "--once", "--json"];
    assert_eq!(opsdeck(dir, &once).status.code(), Some(2));
    let recorded = std::fs::read_to_string(dir.join("state/transitions.jsonl")).expect("recorded");
    assert!(recorded.contains("\"service\":\"sql\""), "{recorded}");
    assert_eq!(opsdeck(dir, &once).status.code(), Some(2));
    let again = std::fs::read_to_string(dir.join("state/transitions.jsonl")).expect("recorded");
    assert_eq!(recorded, again, "the same states are not recorded twice");

    let add = opsdeck(
        dir,
        &[
            "--demo",
            "silence",
            "add",
            "sql",
            "--for",
            "1h",
            "--reason",
            "failing over",
        ],
    );
    assert_eq!(add.status.code(), Some(0));
    let refused = opsdeck(
        dir,
        &[
            "--demo",
            "--read-only",
            "runbook",
            "run",
            "cloud-sql-failover",
            "--target",
            "sql",
            "--confirm",
            "sql",
        ],
    );
    assert_eq!(refused.status.code(), Some(4), "read-only refuses");
    assert_eq!(
        opsdeck(dir, &["--demo", "silence", "remove", "sql"])
            .status
            .code(),
        Some(0)
    );

    let md = opsdeck(dir, &["--demo", "timeline", "--since", "1h"]);
    assert_eq!(md.status.code(), Some(0));
    let md = stdout(&md);
    assert!(md.starts_with("# Timeline: tappass-demo"), "{md}");
    assert!(
        md.contains("| Time (UTC) | Service | What happened | Who |"),
        "{md}"
    );
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).skip(1).collect();
    let sql_down = rows
        .iter()
        .position(|r| r.contains("| sql | first seen down (SEV1)"))
        .unwrap_or_else(|| panic!("sql down: {md}"));
    let silenced = rows
        .iter()
        .position(|r| r.contains("| sql | silenced until") && r.contains("failing over | bob@"))
        .unwrap_or_else(|| panic!("silence: {md}"));
    let runbook = rows
        .iter()
        .position(|r| r.contains("runbook cloud-sql-failover refused"))
        .unwrap_or_else(|| panic!("runbook: {md}"));
    let lifted = rows
        .iter()
        .position(|r| r.contains("| sql | silence lifted: failing over | bob@"))
        .unwrap_or_else(|| panic!("lifted: {md}"));
    assert!(
        sql_down < silenced && silenced < runbook && runbook < lifted,
        "{md}"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains("| api | first seen impacted by sql (SEV1)")),
        "{md}"
    );

    let json = opsdeck(
        dir,
        &["--demo", "timeline", "--since", "1h", "--format", "json"],
    );
    let doc: Value = serde_json::from_slice(&json.stdout).expect("timeline JSON");
    assert_eq!(doc["schema"], "opsdeck.timeline/v1");
    assert_eq!(doc["estate"], "tappass-demo");
    let entries = doc["entries"].as_array().expect("entries");
    let kinds: Vec<&str> = entries.iter().filter_map(|e| e["kind"].as_str()).collect();
    for kind in ["status", "silence", "runbook"] {
        assert!(kinds.contains(&kind), "{kind}: {kinds:?}");
    }
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> = entries
        .iter()
        .filter_map(|e| e["at"].as_str())
        .filter_map(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .collect();
    assert_eq!(times.len(), entries.len());
    let mut sorted = times.clone();
    sorted.sort_unstable();
    assert_eq!(times, sorted, "oldest first");

    let other = opsdeck(
        dir,
        &["--demo", "--scenario", "x", "timeline", "--since", "soon"],
    );
    assert_eq!(other.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("--since \"soon\""),
        "one sentence on a bad --since"
    );
}

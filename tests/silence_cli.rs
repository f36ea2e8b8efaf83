//! Silences and maintenance windows through the real binary against the simulator: a
//! silenced root cause (and the services it impacts) no longer raises the exit code of
//! `--once`, the JSON shows who silenced it, why and until when, lifting it brings the
//! verdict back, every change is in the audit log, and an estate's open maintenance window
//! silences its services the same way. State and audit files live in a temporary directory.

mod cli;

use cli::{json_of, service};

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
        .env("USER", "alice")
        .output()
        .expect("run opsdeck")
}

fn once(dir: &Path, extra: &[&str]) -> (Value, i32) {
    let mut args = vec!["--demo", "--scenario", "cloudsql-down", "--once", "--json"];
    args.extend_from_slice(extra);
    let out = opsdeck(dir, &args);
    json_of(&out)
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_silenced_root_cause_stops_paging_until_it_is_lifted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();

    let (doc, code) = once(dir, &[]);
    assert_eq!(code, 2, "cloud SQL down is critical");
    assert_eq!(service(&doc, "sql")["silence"], Value::Null);
    assert_eq!(service(&doc, "sql")["silenced"], false);

    let out = opsdeck(
        dir,
        &[
            "--demo",
            "silence",
            "add",
            "sql",
            "sql-us",
            "--for",
            "2h",
            "--reason",
            "planned failover test",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("silenced sql until"), "{stdout}");
    assert!(stdout.contains("silenced sql-us until"), "{stdout}");

    let (doc, code) = once(dir, &[]);
    assert!(code < 2, "silenced: exit {code}, {}", doc["status"]);
    assert_ne!(doc["status"], "critical");
    assert_ne!(
        doc["worst_sev"], 1,
        "the silenced SEV1 is not the worst SEV"
    );
    let sql = service(&doc, "sql");
    assert_eq!(sql["status"], "down", "still shown as it is");
    assert_eq!(sql["sev"], 1, "its own SEV is kept");
    assert_eq!(sql["silenced"], true);
    assert_eq!(sql["silence"]["reason"], "planned failover test");
    assert!(
        sql["silence"]["by"]
            .as_str()
            .is_some_and(|b| b.starts_with("alice@")),
        "{sql}"
    );
    assert!(sql["silence"]["until"].is_string(), "{sql}");
    assert_eq!(sql["silence"]["window"], Value::Null);
    let api = service(&doc, "api");
    assert_eq!(api["impacted_by"], serde_json::json!(["sql"]));
    assert_eq!(api["silenced"], true, "impacted only by a silenced service");
    assert_eq!(api["silence"], Value::Null, "it has no silence of its own");
    assert!(doc["counts"]["silenced"].as_u64().is_some_and(|n| n >= 2));

    // The Nagios plugin lists it with its silence; the table marks it.
    let out = opsdeck(
        dir,
        &[
            "--demo",
            "--scenario",
            "cloudsql-down",
            "--once",
            "--format",
            "nagios",
        ],
    );
    let (stdout, _) = text(&out);
    assert!(out.status.code().is_some_and(|c| c < 2), "{stdout}");
    assert!(
        stdout.lines().any(
            |l| l.contains(" sql down (silenced until ") && l.contains("planned failover test")
        ),
        "{stdout}"
    );
    let out = opsdeck(
        dir,
        &[
            "--demo",
            "--scenario",
            "cloudsql-down",
            "--once",
            "--format",
            "table",
        ],
    );
    let (stdout, _) = text(&out);
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("down (silenced)") && l.contains(" sql ")),
        "{stdout}"
    );

    let out = opsdeck(dir, &["--demo", "silence", "list", "--json"]);
    let list: Value = serde_json::from_slice(&out.stdout).expect("list JSON");
    assert_eq!(list["silences"][0]["service"], "sql");
    assert_eq!(list["silences"][0]["active"], true);
    assert_eq!(list["silences"].as_array().map(Vec::len), Some(2));

    let out = opsdeck(dir, &["--demo", "silence", "remove", "sql", "sql-us"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let (_, code) = once(dir, &[]);
    assert_eq!(code, 2, "lifted: critical again");

    let out = opsdeck(dir, &["--demo", "audit", "show", "--json"]);
    let events: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|e| e["event"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        events,
        [
            "silence_added",
            "silence_added",
            "silence_removed",
            "silence_removed"
        ]
    );
    let verify = opsdeck(dir, &["audit", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify).0);
}

#[test]
fn bad_silences_are_refused_in_one_sentence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    let out = opsdeck(
        dir,
        &[
            "--demo", "silence", "add", "sqll", "--for", "1h", "--reason", "x",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let (_, err) = text(&out);
    assert!(
        err.contains("no service \"sqll\"") && err.contains("did you mean \"sql\""),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let out = opsdeck(
        dir,
        &[
            "--demo", "silence", "add", "sql", "--until", "tomorrow", "--reason", "x",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("RFC 3339"), "{}", text(&out).1);

    let out = opsdeck(dir, &["--demo", "silence", "add", "sql", "--for", "1h"]);
    assert_eq!(out.status.code(), Some(2), "clap: --reason is required");

    let out = opsdeck(dir, &["--demo", "silence", "remove", "sql"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("no silence to lift"),
        "{}",
        text(&out).1
    );
}

#[test]
fn an_open_maintenance_window_silences_its_services() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = dir.path();
    // A daily window in Tokyo time that opened an hour ago and lasts three.
    let tokyo = chrono::FixedOffset::east_opt(9 * 3600).expect("offset");
    let start = (chrono::Utc::now() - chrono::TimeDelta::hours(1)).with_timezone(&tokyo);
    let estate = format!(
        "{}\n[[maintenance]]\nname = \"database patching\"\nservices = [\"sql\", \"sql-us\"]\nstart = \"{}\"\nduration = \"3h\"\ntime_zone = \"Asia/Tokyo\"\nreason = \"minor version upgrade\"\n",
        opsdeck::estate::DEMO_ESTATE,
        start.format("%H:%M")
    );
    let path = dir.join("estate.toml");
    std::fs::write(&path, estate).expect("write estate");
    let path = path.to_str().expect("utf-8 path");

    let out = opsdeck(dir, &["--estate", path, "check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);

    let (doc, code) = once(dir, &["--estate", path]);
    assert!(code < 2, "inside the window: exit {code}");
    let sql = service(&doc, "sql");
    assert_eq!(sql["silenced"], true);
    assert_eq!(sql["silence"]["window"], "database patching");
    assert_eq!(sql["silence"]["reason"], "minor version upgrade");
    assert_eq!(sql["silence"]["by"], Value::Null);

    let out = opsdeck(dir, &["--estate", path, "--demo", "silence", "list"]);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("maintenance \"database patching\"") && stdout.contains("open until"),
        "{stdout}"
    );
}

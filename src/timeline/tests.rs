//! The timeline gathered from recorded transitions, audit entries and maintenance windows,
//! and rendered as Markdown and JSON.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::runbook::audit::Who;

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, h, m, 0)
        .single()
        .expect("time")
}

fn estate() -> Estate {
    let src = r#"
name = "prod"
[[service]]
id = "sql"
kind = "http"
url = "http://x/sql"
sev = 1
[[service]]
id = "api"
kind = "http"
url = "http://x/api"
sev = 1
depends_on = ["sql"]
[[maintenance]]
name = "patching"
services = ["sql"]
start = "03:00"
duration = "30m"
"#;
    crate::estate::from_str_with_env(src, "e.toml", &|_| None)
        .expect("estate")
        .0
}

fn transition(
    estate: &str,
    at: DateTime<Utc>,
    service: &str,
    from: Option<&str>,
    to: &str,
) -> Transition {
    Transition {
        at,
        estate: estate.into(),
        service: service.into(),
        from: from.map(str::to_string),
        to: to.into(),
        sev: (to != "up").then_some(1),
        impacted_by: if to == "impacted" {
            vec!["sql".into()]
        } else {
            Vec::new()
        },
        silenced: false,
        text: if to == "down" {
            "instance FAILED | state".into()
        } else {
            String::new()
        },
    }
}

fn entry(estate: &str, at: DateTime<Utc>, event: Event) -> Entry {
    let mut e = Entry::new("r1", event);
    e.at = at;
    e.estate = Some(estate.into());
    e.target = Some("sql".into());
    e.runbook = Some("cloud-sql-failover".into());
    e.who = Some(Who {
        os_user: "alice".into(),
        host: "bastion".into(),
        google: None,
    });
    e
}

fn sample() -> Vec<Item> {
    let transitions = vec![
        transition("prod", at(2, 0), "sql", Some("up"), "down"),
        transition("prod", at(2, 0), "api", Some("up"), "impacted"),
        transition("staging", at(2, 1), "sql", Some("up"), "down"),
        transition("prod", at(2, 40), "sql", Some("down"), "up"),
        transition("prod", at(0, 10), "sql", None, "down"),
    ];
    let mut silenced = entry("prod", at(2, 5), Event::SilenceAdded);
    silenced.detail = Some("failing over".into());
    silenced.facts =
        Some(json!({"start": at(2, 5), "until": at(4, 5), "silenced_by": "alice@bastion"}));
    let started = {
        let mut e = entry("prod", at(2, 10), Event::RunStarted);
        e.mode = Some("run".into());
        e
    };
    let mut finished = entry("prod", at(2, 38), Event::RunFinished);
    finished.result = Some("done".into());
    let mut drill = entry("prod", at(2, 20), Event::RunStarted);
    drill.mode = Some("drill".into());
    let step = entry("prod", at(2, 11), Event::StepStarted);
    let audit = vec![silenced, started, step, drill, finished];
    gather(Some(&estate()), &transitions, &audit, at(1, 0), at(4, 0))
}

#[test]
fn one_estate_in_the_span_in_order_without_drills_or_step_noise() {
    let items = sample();
    let lines: Vec<(String, &str, Kind)> = items
        .iter()
        .map(|i| (i.at.format("%H:%M").to_string(), i.service.as_str(), i.kind))
        .collect();
    assert_eq!(
        lines,
        [
            ("02:00".to_string(), "sql", Kind::Status),
            ("02:00".to_string(), "api", Kind::Status),
            ("02:05".to_string(), "sql", Kind::Silence),
            ("02:10".to_string(), "sql", Kind::Runbook),
            ("02:38".to_string(), "sql", Kind::Runbook),
            ("02:40".to_string(), "sql", Kind::Status),
            ("03:00".to_string(), "sql", Kind::Maintenance),
            ("03:30".to_string(), "sql", Kind::Maintenance),
        ]
    );
    assert_eq!(items[1].what, "up → impacted by sql (SEV1)");
    assert_eq!(
        items[2].what,
        "silenced until 2026-11-22 04:05 UTC: failing over"
    );
    assert_eq!(items[2].who, "alice@bastion");
    assert_eq!(items[3].what, "runbook cloud-sql-failover started (run)");
    assert_eq!(items[4].what, "runbook cloud-sql-failover ended: done");
    assert!(
        items[6]
            .what
            .contains("\"patching\" opened until 2026-11-22 03:30 UTC")
    );
    assert_eq!(items[0].who, "opsdeck");
}

#[test]
fn markdown_reads_like_a_postmortem_timeline() {
    let md = to_markdown(Some(("prod", "prod")), &sample(), at(1, 0), at(4, 0));
    assert!(md.starts_with("# Timeline: prod (prod)\n"), "{md}");
    assert!(
        md.contains("| Time (UTC) | Service | What happened | Who |"),
        "{md}"
    );
    assert!(
        md.contains(
            "| 2026-11-22 02:00:00 | sql | up → down (SEV1): instance FAILED \\| state | opsdeck |"
        ),
        "the date once, pipes escaped: {md}"
    );
    assert!(md.contains("| 02:05:00 | sql | silenced until"), "{md}");
    assert!(md.contains("8 entries"), "{md}");
    let empty = to_markdown(None, &[], at(1, 0), at(4, 0));
    assert!(empty.contains("Nothing was recorded"), "{empty}");
}

#[test]
fn json_carries_every_entry_with_its_kind() {
    let doc: serde_json::Value =
        serde_json::from_str(&to_json(Some("prod"), &sample(), at(1, 0), at(4, 0))).expect("JSON");
    assert_eq!(doc["schema"], SCHEMA);
    assert_eq!(doc["estate"], "prod");
    assert_eq!(doc["entries"].as_array().map(Vec::len), Some(8));
    assert_eq!(doc["entries"][2]["kind"], "silence");
    assert_eq!(doc["entries"][3]["who"], "alice@bastion");
}

#[test]
fn since_takes_a_duration_or_a_time() {
    let now = at(4, 0);
    assert_eq!(parse_since("2h", now), Ok(at(2, 0)));
    assert_eq!(parse_since("2026-11-22T01:30:00Z", now), Ok(at(1, 30)));
    assert!(parse_since("yesterday", now).is_err_and(|e| e.contains("--since \"yesterday\"")));
}

#[test]
fn the_recorder_writes_changes_once_and_survives_a_restart() {
    use crate::model::{Model, Observation, Outcome, ProbeReport};
    let dir = tempfile::tempdir().expect("tempdir");
    let e = std::sync::Arc::new(estate());
    let mut model = Model::new(std::sync::Arc::clone(&e));
    let report = |service, obs| ProbeReport {
        service,
        at: at(2, 0),
        outcome: Outcome::Observed(obs),
    };
    model.apply(report(0, Observation::down("FAILED")));
    model.apply(report(1, Observation::new(crate::model::Status::Up, "ok")));
    let snap = model.snapshot(at(2, 0));
    let mut r = Recorder::open(dir.path(), "prod");
    let written = r.observe(&snap).expect("observe");
    let words: Vec<(&str, &str)> = written
        .iter()
        .map(|t| (t.service.as_str(), t.to.as_str()))
        .collect();
    assert_eq!(words, [("sql", "down"), ("api", "impacted")]);
    assert!(r.observe(&snap).expect("again").is_empty(), "nothing new");
    let mut restarted = Recorder::open(dir.path(), "prod");
    assert!(
        restarted
            .observe(&snap)
            .expect("after a restart")
            .is_empty()
    );
    model.apply(report(
        0,
        Observation::new(crate::model::Status::Up, "RUNNABLE"),
    ));
    let recovered = restarted
        .observe(&model.snapshot(at(2, 30)))
        .expect("recovered");
    assert_eq!(recovered.len(), 2);
    let sql = recovered
        .iter()
        .find(|t| t.service == "sql")
        .expect("sql recovered");
    assert_eq!((sql.from.as_deref(), sql.to.as_str()), (Some("down"), "up"));
    assert_eq!(record::read(&r.path()).len(), 4);
}

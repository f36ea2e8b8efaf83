//! Investigating an incident through the real binary against the simulator: the evidence and
//! the last change on each service, the root cause's change on the services it takes down,
//! the hand-off commands, and one blind banner when opsdeck cannot see.

mod cli;

use cli::{json_of, service};

use std::process::{Command, Output};

use serde_json::Value;

fn opsdeck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(args)
        .env_remove("OPSDECK_ESTATE")
        .env("XDG_CONFIG_HOME", env!("CARGO_TARGET_TMPDIR"))
        .env("OPSDECK_DATA_DIR", env!("CARGO_TARGET_TMPDIR"))
        .output()
        .expect("run opsdeck")
}

fn json(args: &[&str]) -> (Value, i32) {
    let out = opsdeck(args);
    json_of(&out)
}

fn evidence_texts(s: &Value) -> Vec<String> {
    s["evidence"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|x| {
                    assert!(x["at"].is_string(), "every fact has its time: {x}");
                    format!(
                        "{}: {}",
                        x["source"].as_str().unwrap_or(""),
                        x["text"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn estate(name: &str) -> String {
    format!(
        "{}/fixtures/estates/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn a_bad_revision_shows_its_condition_and_the_deploy() {
    let (doc, _) = json(&[
        "--demo",
        "--scenario",
        "cloudrun-bad-revision-serving",
        "--once",
        "--json",
    ]);
    let api = service(&doc, "api");
    assert_ne!(api["status"], "up");
    let evidence = evidence_texts(api);
    assert!(
        evidence.iter().any(|e| e.starts_with("terminalCondition: Ready CONDITION_FAILED (HEALTH_CHECK_CONTAINER_ERROR): Revision 'tappass-00008-bad' is failing its liveness probe")),
        "{evidence:#?}"
    );
    let change = &api["change"];
    assert_eq!(change["kind"], "deploy", "{change}");
    assert_eq!(change["service"], "api");
    assert!(
        change["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("revision tappass-00008-bad took 100% of traffic")),
        "{change}"
    );
    assert!(change["at"].is_string(), "{change}");
    assert_eq!(
        api["handoff"]["command"],
        "gcloud run services describe tappass --region europe-west1 --project tappass-prod"
    );
    assert_eq!(doc["blind"], serde_json::json!([]));

    let out = opsdeck(&[
        "--demo",
        "--scenario",
        "cloudrun-bad-revision-serving",
        "--once",
        "--format",
        "table",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let row = text
        .lines()
        .find(|l| l.contains(" api "))
        .unwrap_or_else(|| panic!("no api row:\n{text}"));
    assert!(
        row.contains("changed ") && row.contains("deploy tappass-00008-bad"),
        "{row}"
    );
}

#[test]
fn a_crash_looping_rollout_shows_the_pods_and_the_rollout() {
    let (doc, _) = json(&["--demo", "--scenario", "crashloop", "--once", "--json"]);
    let workers = service(&doc, "workers");
    assert_ne!(workers["status"], "up");
    let evidence = evidence_texts(workers);
    assert!(
        evidence
            .iter()
            .any(|e| e.contains("waiting: CrashLoopBackOff")),
        "{evidence:#?}"
    );
    let change = &workers["change"];
    assert_eq!(change["kind"], "rollout", "{change}");
    assert!(
        change["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("rollout to revision 2")),
        "{change}"
    );
    assert!(
        change["at"]
            .as_str()
            .zip(doc["generated_at"].as_str())
            .is_some_and(|(at, now)| at[..10] == now[..10]),
        "the rollout happened just now, not when the cluster was made: {change}"
    );
    assert_eq!(
        workers["handoff"]["command"],
        "kubectl --context gke-eu-workers -n jobs describe deployment/celery-worker"
    );
}

#[test]
fn services_taken_down_show_the_root_cause_and_its_change() {
    let path = estate("epfl-k8s");
    let (doc, _) = json(&[
        "--demo",
        "--estate",
        &path,
        "--scenario",
        "epfl-backend-crashloop",
        "--once",
        "--json",
    ]);
    let backend = service(&doc, "backend");
    assert_eq!(backend["status"], "down");
    let evidence = evidence_texts(backend);
    assert!(
        evidence
            .iter()
            .any(|e| e.contains("last terminated: Error (exit code 1)")),
        "{evidence:#?}"
    );
    assert!(
        evidence
            .iter()
            .any(|e| e.starts_with("event BackOff pod/backend-")),
        "Kubernetes Events are evidence: {evidence:#?}"
    );
    let api = service(&doc, "api");
    assert_eq!(api["impacted_by"], serde_json::json!(["backend"]));
    assert_eq!(api["change"]["service"], "backend", "{}", api["change"]);
    assert_eq!(api["change"], backend["change"]);
}

#[test]
fn expired_google_credentials_are_one_banner_with_the_fix() {
    let (doc, code) = json(&[
        "--demo",
        "--scenario",
        "google-credentials-expired",
        "--once",
        "--json",
    ]);
    assert_eq!(code, 3, "opsdeck cannot vouch for SEV1 services: UNKNOWN");
    let blind = doc["blind"].as_array().expect("blind");
    assert_eq!(blind.len(), 1, "one cause, one banner: {blind:#?}");
    let b = &blind[0];
    assert_eq!(b["cause"], "google_credentials");
    assert_eq!(b["message"], "Google credentials expired or missing");
    assert_eq!(b["fix"], "run `gcloud auth application-default login`");
    let ids: Vec<&str> = b["services"]
        .as_array()
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for id in ["api", "sql", "cache", "email-tasks", "kms"] {
        assert!(ids.contains(&id), "{id} not in {ids:?}");
    }
    for id in ["workers", "broker", "celery"] {
        assert!(!ids.contains(&id), "{id} is seen: {ids:?}");
    }

    let out = opsdeck(&[
        "--demo",
        "--scenario",
        "google-credentials-expired",
        "--once",
        "--format",
        "table",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let banners: Vec<&str> = text.lines().filter(|l| l.starts_with("BLIND: ")).collect();
    assert_eq!(banners.len(), 1, "{text}");
    assert!(
        banners[0].starts_with("BLIND: Google credentials expired or missing (9 services: api, ")
            && banners[0].ends_with("): run `gcloud auth application-default login`"),
        "{}",
        banners[0]
    );

    // The Nagios plugin says it once too, in its long output under the status line.
    let out = opsdeck(&[
        "--demo",
        "--scenario",
        "google-credentials-expired",
        "--once",
        "--format",
        "nagios",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert!(
        lines.next().is_some_and(|l| l.starts_with("OPSDECK ")),
        "{text}"
    );
    let banners: Vec<&str> = lines.filter(|l| l.starts_with("BLIND: ")).collect();
    assert_eq!(banners.len(), 1, "{text}");
    assert!(
        banners[0].contains("gcloud auth application-default login"),
        "{text}"
    );
}

#[test]
fn a_healthy_estate_is_not_blind_and_every_service_can_be_handed_off() {
    let (doc, code) = json(&["--demo", "--once", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(doc["blind"], serde_json::json!([]));
    for s in doc["services"].as_array().expect("services") {
        assert!(s["handoff"]["command"].is_string(), "{s}");
        for key in ["owner", "escalation", "evidence", "change"] {
            assert!(s.get(key).is_some(), "service lacks '{key}': {s}");
        }
    }
}

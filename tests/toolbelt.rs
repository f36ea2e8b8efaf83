//! Fitting the on-call toolbelt: completions, man page, JSON Schemas checked against the
//! shipped files, `opsdeck init` against the simulator, and `opsdeck doctor`.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;

use opsdeck::estate::{self, Target};
use serde_json::Value;

fn opsdeck(args: &[&str]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(args)
        .env_remove("OPSDECK_ESTATE")
        .env("XDG_STATE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .output()
        .expect("run opsdeck");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().expect("exit code"),
    )
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    for (shell, marker) in [
        ("bash", "_opsdeck()"),
        ("zsh", "#compdef opsdeck"),
        ("fish", "complete -c opsdeck"),
    ] {
        let (out, _, code) = opsdeck(&["completions", shell]);
        assert_eq!(code, 0);
        assert!(
            out.contains(marker),
            "{shell}: {}",
            &out[..out.len().min(200)]
        );
        assert!(
            out.contains("--once") || out.contains("once"),
            "{shell} completes --once"
        );
    }
    let (man, _, code) = opsdeck(&["man"]);
    assert_eq!(code, 0);
    assert!(man.contains(".TH opsdeck 1"));
    assert!(man.contains("once"), "documents --once");
}

fn validator(which: &str) -> jsonschema::Validator {
    let (text, _, code) = opsdeck(&["schema", which]);
    assert_eq!(code, 0);
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

#[test]
fn every_shipped_estate_and_theme_passes_its_schema() {
    let estate = validator("estate");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/estates");
    for entry in std::fs::read_dir(dir).expect("estates") {
        let path = entry.expect("entry").path();
        let doc = opsdeck::schema::toml_to_json(&std::fs::read_to_string(&path).expect("read"))
            .expect("toml");
        let errors: Vec<String> = estate.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
    let bad = opsdeck::schema::toml_to_json(
        "name = \"x\"\n[[service]]\nid = \"a\"\nkind = \"cloud_sql\"\nsev = 1\nqueue = \"q\"\n",
    )
    .expect("toml");
    assert!(
        !estate.is_valid(&bad),
        "cloud_sql without instance and with a queue key is rejected"
    );

    let theme = validator("theme");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/themes");
    for entry in std::fs::read_dir(dir).expect("themes") {
        let path = entry.expect("entry").path();
        let doc = opsdeck::schema::toml_to_json(&std::fs::read_to_string(&path).expect("read"))
            .expect("toml");
        let errors: Vec<String> = theme.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
}

#[test]
fn every_shipped_runbook_passes_its_schema() {
    let runbook = validator("runbook");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/runbooks");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let doc = opsdeck::schema::toml_to_json(&std::fs::read_to_string(&path).expect("read"))
            .expect("toml");
        let errors: Vec<String> = runbook.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
}

/// The Google services of an estate as (kind, name) pairs.
fn google_services(e: &estate::Estate) -> BTreeSet<(String, String)> {
    e.services
        .iter()
        .filter_map(|s| match &s.target {
            Target::CloudRun { service, .. } => Some(("cloud_run".to_string(), service.clone())),
            Target::CloudSql { instance, .. } => Some(("cloud_sql".to_string(), instance.clone())),
            Target::CloudTasks {
                queue, location, ..
            } => Some(("cloud_tasks".to_string(), format!("{queue}@{location}"))),
            Target::Memorystore { instance, .. } => {
                Some(("memorystore".to_string(), instance.clone()))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_against_the_simulator_reproduces_the_sample_estate() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/estates/lumieos.toml");
    let text = std::fs::read_to_string(path).expect("sample");
    let (sample, _) = estate::from_str_with_env(&text, path, &|_| None).expect("valid");
    let sim = opsdeck::sim::start(&sample, None, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("simulator");
    let base = sim.base_url();
    let project = sample
        .gcp
        .as_ref()
        .and_then(|g| g.project.clone())
        .expect("project");
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("estate.toml");
    let out_s = out.to_str().expect("utf-8").to_string();
    let mut args: Vec<String> = [
        "init",
        "--project",
        &project,
        "--endpoint",
        &base,
        "--out",
        &out_s,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    for r in sample.regions.iter().filter_map(|r| r.gcp_region.clone()) {
        args.push("--region".to_string());
        args.push(r);
    }
    let (_, err, code) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        opsdeck(&args)
    })
    .await
    .expect("join");
    assert_eq!(code, 0, "{err}");
    let written = std::fs::read_to_string(&out).expect("written");
    let (found, _) = estate::from_str_with_env(&written, "estate.toml", &|_| None)
        .unwrap_or_else(|e| panic!("the written estate validates: {e}\n{written}"));
    assert_eq!(google_services(&found), google_services(&sample));
    assert!(
        written.contains("depends_on"),
        "it shows how to add dependencies"
    );

    // It never overwrites without --force.
    let (_, err, code) = opsdeck(&[
        "init",
        "--project",
        &project,
        "--endpoint",
        &base,
        "--out",
        &out_s,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("--force"), "{err}");
    sim.shutdown().await;
}

/// The Kubernetes workloads of an estate as (namespace, kind/name) pairs.
fn workloads(e: &estate::Estate) -> BTreeSet<(String, String)> {
    e.services
        .iter()
        .filter_map(|s| match &s.target {
            Target::K8sWorkload {
                namespace,
                workload,
                name,
                ..
            } => Some((namespace.clone(), format!("{}/{name}", workload.as_str()))),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_lists_the_workloads_of_a_kube_context_on_the_simulator() {
    // Seed 004: Deployments and a StatefulSet (RabbitMQ) in one cluster.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/estates/deplate.toml");
    let text = std::fs::read_to_string(path).expect("sample");
    let (sample, _) = estate::from_str_with_env(&text, path, &|_| None).expect("valid");
    let sim = opsdeck::sim::start(&sample, None, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("simulator");
    let kubeconfig = sim
        .kubeconfig_path()
        .expect("the simulator writes a kubeconfig")
        .to_str()
        .expect("utf-8")
        .to_string();
    // One context per region, named after its kube_context, else its id.
    let context = sample
        .regions
        .first()
        .map(|r| r.kube_context.clone().unwrap_or_else(|| r.id.clone()))
        .expect("the sample has a region");
    let (written, err, code) = tokio::task::spawn_blocking(move || {
        opsdeck(&[
            "init",
            "--kube-context",
            &context,
            "--kubeconfig",
            &kubeconfig,
            "--out",
            "-",
        ])
    })
    .await
    .expect("join");
    assert_eq!(code, 0, "{err}");
    let (found, _) = estate::from_str_with_env(&written, "estate.toml", &|_| None)
        .unwrap_or_else(|e| panic!("the written estate validates: {e}\n{written}"));
    let want = workloads(&sample);
    assert!(!want.is_empty());
    assert_eq!(workloads(&found), want, "{written}");
    sim.shutdown().await;
}

#[test]
fn doctor_passes_on_the_demo_and_names_the_fix_for_a_missing_secret() {
    let (out, _, code) = opsdeck(&["--demo", "doctor"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Cloud SQL Admin API"), "{out}");
    assert!(out.contains("logs"), "{out}");

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("e.toml");
    std::fs::write(
        &file,
        "name = \"t\"\n[[service]]\nid = \"cache\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:6379\"\npassword_env = \"OPSDECK_DOCTOR_TEST_UNSET\"\nsev = 2\n",
    )
    .expect("write");
    let (out, _, code) = opsdeck(&["doctor", "--estate", file.to_str().expect("utf-8")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL  Redis"), "{out}");
    assert!(
        out.contains("fix: export OPSDECK_DOCTOR_TEST_UNSET="),
        "{out}"
    );
}

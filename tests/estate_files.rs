//! The estate files shipped in fixtures/: every sample estate (one per seed, plus the demo)
//! loads without errors and has the shape its seed describes, and every broken estate in
//! fixtures/invalid-estates/ produces exactly the diagnostics written in its `.expected` file.
//!
//! To regenerate the `.expected` files after a deliberate change to the loader's messages, run
//! `OPSDECK_BLESS=1 cargo test --test estate_files`, then read every changed line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use opsdeck::estate::{
    self, Diagnostic, Estate, Kind, Level, LoadError, QueueFormat, SAMPLE_ESTATES, Target,
    WorkloadKind,
};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// Loads estate text with an empty environment, so every `password_env` is unset.
fn load(source: &str, file: &str) -> Result<(Estate, Vec<Diagnostic>), LoadError> {
    estate::from_str_with_env(source, file, &|_| None)
}

/// Loads a sample estate, failing the test with every diagnostic if it does not load.
fn load_sample(stem: &str) -> Estate {
    let (_, source) = SAMPLE_ESTATES
        .iter()
        .find(|(s, _)| *s == stem)
        .unwrap_or_else(|| panic!("no sample estate named {stem}"));
    match load(source, &format!("fixtures/estates/{stem}.toml")) {
        Ok((estate, _)) => estate,
        Err(e) => panic!("sample estate {stem} does not load:\n{e}"),
    }
}

fn files_with_extension(dir: &Path, ext: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .map(|p| {
            p.file_stem()
                .expect("file stem")
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

fn count_kind(estate: &Estate, kind: Kind) -> usize {
    estate.services.iter().filter(|s| s.kind == kind).count()
}

fn kinds(estate: &Estate) -> BTreeSet<Kind> {
    estate.services.iter().map(|s| s.kind).collect()
}

/// The URL of a service whose locator is one.
fn url_of(target: &Target) -> Option<&str> {
    match target {
        Target::Redis { url, .. }
        | Target::RedisQueue { url, .. }
        | Target::RabbitmqQueue { url, .. }
        | Target::Postgres { url, .. }
        | Target::Mysql { url, .. }
        | Target::Http { url, .. }
        | Target::GcpRest { url, .. }
        | Target::Prometheus { url, .. }
        | Target::Promql { url, .. } => Some(url),
        _ => None,
    }
}

// ── Sample estates ───────────────────────────────────────────────────────────

#[test]
fn every_embedded_sample_estate_loads_without_errors() {
    assert!(SAMPLE_ESTATES.len() >= 6, "the demo plus one per seed");
    for (stem, source) in SAMPLE_ESTATES {
        assert!(!source.trim().is_empty(), "sample estate {stem} is empty");
        let file = format!("fixtures/estates/{stem}.toml");
        match load(source, &file) {
            Ok((estate, diagnostics)) => {
                let errors: Vec<String> = diagnostics
                    .iter()
                    .filter(|d| d.level == Level::Error)
                    .map(ToString::to_string)
                    .collect();
                assert!(errors.is_empty(), "{file}: {errors:#?}");
                // The only warnings allowed: secrets not in this test's (empty) environment.
                for w in &diagnostics {
                    assert!(
                        w.message.contains("(password_env) is not set"),
                        "{file}: unexpected warning: {w}"
                    );
                }
                assert!(!estate.services.is_empty(), "{file} has no services");
            }
            Err(e) => panic!("{file} does not load:\n{e}"),
        }
    }
}

#[test]
fn every_sample_estate_on_disk_loads_and_is_embedded() {
    let dir = Path::new(MANIFEST_DIR).join("fixtures/estates");
    let on_disk = files_with_extension(&dir, "toml");
    let embedded: BTreeSet<String> = SAMPLE_ESTATES.iter().map(|(s, _)| s.to_string()).collect();
    assert_eq!(
        on_disk, embedded,
        "fixtures/estates/*.toml and SAMPLE_ESTATES list different estates"
    );
    for stem in &on_disk {
        let path = dir.join(format!("{stem}.toml"));
        let source = std::fs::read_to_string(&path).expect("readable estate");
        let file = format!("fixtures/estates/{stem}.toml");
        if let Err(e) = load(&source, &file) {
            panic!("{file} does not load:\n{e}");
        }
        let (_, embedded) = SAMPLE_ESTATES
            .iter()
            .find(|(s, _)| s == stem)
            .expect("embedded");
        assert_eq!(&source, embedded, "{file} differs from its embedded copy");
    }
}

#[test]
fn sample_estates_keep_secrets_out_of_the_file() {
    for (stem, source) in SAMPLE_ESTATES {
        let (estate, _) = load(source, stem).expect("loads");
        for s in &estate.services {
            let Some(url) = url_of(&s.target) else {
                continue;
            };
            let authority = url
                .split_once("://")
                .map_or("", |(_, rest)| rest.split('/').next().unwrap_or(""));
            if let Some((userinfo, _)) = authority.rsplit_once('@') {
                assert!(
                    !userinfo.contains(':'),
                    "{stem}: service {} has a password in its url; use password_env",
                    s.id
                );
            }
        }
    }
}

#[test]
fn every_dependency_with_a_time_limit_names_its_fallback() {
    for (stem, source) in SAMPLE_ESTATES {
        let (estate, _) = load(source, stem).expect("loads");
        for s in &estate.services {
            for d in &s.depends_on {
                if d.fallback_for.is_some() {
                    assert!(d.fallback.is_some(), "{stem}: {} → {}", s.id, d.id);
                }
            }
        }
    }
}

#[test]
fn the_demo_spans_two_regions() {
    let demo = load_sample("demo");
    assert!(demo.regions.len() >= 2, "{:?}", demo.regions);
    let used: BTreeSet<&str> = demo
        .services
        .iter()
        .filter_map(|s| s.region.as_deref())
        .collect();
    assert!(used.len() >= 2, "services in regions {used:?}");
}

#[test]
fn lumieos_runs_the_same_stack_in_two_regions() {
    let e = load_sample("lumieos");
    let gcp_regions: BTreeSet<&str> = e
        .regions
        .iter()
        .filter_map(|r| r.gcp_region.as_deref())
        .collect();
    assert_eq!(
        gcp_regions,
        BTreeSet::from(["us-central1", "africa-south1"])
    );
    for region in &e.regions {
        let here: Vec<_> = e
            .services
            .iter()
            .filter(|s| s.region.as_deref() == Some(region.id.as_str()))
            .collect();
        let count = |k: Kind| here.iter().filter(|s| s.kind == k).count();
        assert_eq!(count(Kind::CloudRun), 1, "region {}", region.id);
        assert_eq!(count(Kind::CloudSql), 1, "region {}", region.id);
        let mut queues: Vec<&str> = here
            .iter()
            .filter_map(|s| match &s.target {
                Target::CloudTasks {
                    queue, location, ..
                } => {
                    assert_eq!(Some(location.as_str()), region.gcp_region.as_deref());
                    Some(queue.as_str())
                }
                _ => None,
            })
            .collect();
        queues.sort_unstable();
        assert_eq!(
            queues,
            ["background", "default", "event"],
            "region {}",
            region.id
        );
        let scheduler_jobs = here
            .iter()
            .filter(|s| {
                matches!(&s.target, Target::GcpRest { url, .. }
                    if url.starts_with("https://cloudscheduler.googleapis.com/v1/projects/"))
            })
            .count();
        assert!(
            scheduler_jobs >= 1,
            "region {} has no Cloud Scheduler job",
            region.id
        );
        assert!(
            here.iter().any(|s| s.kind == Kind::PubsubSubscription),
            "region {} has no Pub/Sub subscription",
            region.id
        );
    }
    // Every Cloud Tasks queue has depth thresholds.
    for s in e.services.iter().filter(|s| s.kind == Kind::CloudTasks) {
        let t = s.thresholds().expect("queue thresholds");
        assert!(t.warn_depth.is_some() && t.crit_depth.is_some(), "{}", s.id);
    }
}

#[test]
fn sartiq_has_two_vms_with_celery_on_redis() {
    let e = load_sample("sartiq");
    assert_eq!(
        count_kind(&e, Kind::Postgres),
        2,
        "backend and compute databases"
    );
    assert_eq!(count_kind(&e, Kind::Redis), 2, "backend and compute Redis");
    let celery: BTreeSet<&str> = e
        .services
        .iter()
        .filter_map(|s| match &s.target {
            Target::RedisQueue {
                queue,
                format: QueueFormat::Celery,
                ..
            } => Some(queue.as_str()),
            _ => None,
        })
        .collect();
    for q in ["fal", "llm", "cpu", "workflow", "inference"] {
        assert!(celery.contains(q), "no Celery queue {q}: {celery:?}");
    }
    // Every queue hangs off a Redis broker.
    for s in e.services.iter().filter(|s| s.kind == Kind::RedisQueue) {
        assert!(
            s.depends_on
                .iter()
                .any(|d| e.service(&d.id).is_some_and(|b| b.kind == Kind::Redis)),
            "{} does not depend on its broker",
            s.id
        );
    }
}

#[test]
fn tappass_follows_the_seeds_failure_map() {
    let e = load_sample("tappass");
    let sev = |id: &str| e.service(id).expect(id).sev.level();
    assert_eq!(sev("sql"), 1);
    assert_eq!(sev("api"), 1);
    assert_eq!(sev("kms"), 1);
    assert_eq!(sev("secrets"), 2);
    assert_eq!(sev("vpc"), 1);
    assert_eq!(sev("cache"), 3);
    assert_eq!(sev("edge"), 2);
    assert_eq!(sev("telemetry"), 4);
    assert_eq!(sev("email"), 4);

    let api = e.service("api").expect("api");
    let edge = |id: &str| api.depends_on.iter().find(|d| d.id == id).expect(id);
    assert_eq!(edge("sql").fallback, None);
    assert_eq!(edge("vpc").fallback, None);
    assert!(edge("kms").fallback.is_some());
    assert_eq!(edge("kms").fallback_for, Some(Duration::from_mins(10)));
    assert!(edge("secrets").fallback.is_some());
    assert_eq!(edge("secrets").fallback_for, None);
    assert!(edge("cache").fallback.is_some());
    assert!(matches!(
        &e.service("kms").expect("kms").target,
        Target::GcpRest { url, up_when, .. }
            if url.starts_with("https://cloudkms.googleapis.com/v1/projects/tappass-prod/")
                && up_when == "primary.state == \"ENABLED\""
    ));
}

#[test]
fn epfl_runs_on_kubernetes_behind_pgbouncer() {
    let e = load_sample("epfl-k8s");
    let namespaces: BTreeSet<&str> = e
        .services
        .iter()
        .filter_map(|s| match &s.target {
            Target::K8sWorkload { namespace, .. } => Some(namespace.as_str()),
            _ => None,
        })
        .collect();
    for ns in ["frontend", "backend", "worker"] {
        assert!(namespaces.contains(ns), "no workload in namespace {ns}");
    }
    for s in e.services.iter().filter(|s| s.kind == Kind::K8sWorkload) {
        let Target::K8sWorkload { context, .. } = &s.target else {
            unreachable!()
        };
        assert!(context.is_some(), "{} has no kube context", s.id);
    }
    assert!(
        count_kind(&e, Kind::Postgres) >= 3,
        "primary, replica, PgBouncer"
    );
    let backend = e.service("backend").expect("backend");
    assert!(backend.depends_on.iter().any(|d| d.id == "pgbouncer"));
    assert!(kinds(&e).contains(&Kind::Promql));
}

#[test]
fn deplate_has_its_recovery_objectives_and_dead_letter_queues() {
    let e = load_sample("deplate");
    assert_eq!(e.rto, Some(Duration::from_mins(15)));
    assert_eq!(e.rpo, Some(Duration::from_hours(1)));
    let rabbit: Vec<&str> = e
        .services
        .iter()
        .filter_map(|s| match &s.target {
            Target::RabbitmqQueue { queue, .. } => Some(queue.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        rabbit.iter().any(|q| q.contains("dead-letter")),
        "no dead-letter queue in {rabbit:?}"
    );
    assert!(e.services.iter().any(|s| matches!(
        &s.target,
        Target::RedisQueue {
            format: QueueFormat::Laravel,
            ..
        }
    )));
    assert!(e.services.iter().any(|s| matches!(
        &s.target,
        Target::Redis {
            sentinel_master: Some(_),
            ..
        }
    )));
    assert_eq!(
        count_kind(&e, Kind::Mysql),
        2,
        "MariaDB primary and replica"
    );
    assert!(e.services.iter().any(|s| matches!(
        &s.target,
        Target::K8sWorkload {
            workload: WorkloadKind::Deployment,
            name,
            ..
        } if name == "traefik"
    )));
}

#[test]
fn the_samples_together_use_every_kind() {
    let mut used = BTreeSet::new();
    for (stem, source) in SAMPLE_ESTATES {
        let (estate, _) = load(source, stem).expect("loads");
        used.extend(kinds(&estate));
    }
    let missing: Vec<&str> = Kind::ALL
        .iter()
        .filter(|k| !used.contains(k))
        .map(|k| k.as_str())
        .collect();
    assert!(missing.is_empty(), "no sample estate uses {missing:?}");
}

// ── Invalid estates ──────────────────────────────────────────────────────────

fn invalid_dir() -> PathBuf {
    Path::new(MANIFEST_DIR).join("fixtures/invalid-estates")
}

/// The diagnostics an estate file produces, one rendered line each.
fn rendered_diagnostics(source: &str, file: &str) -> Vec<String> {
    match load(source, file) {
        Ok((_, warnings)) => panic!(
            "{file} loaded, but it is meant to be invalid (warnings: {:?})",
            warnings.iter().map(ToString::to_string).collect::<Vec<_>>()
        ),
        Err(LoadError::Invalid { diagnostics }) => {
            diagnostics.iter().map(ToString::to_string).collect()
        }
        Err(e) => panic!("{file}: unexpected error: {e}"),
    }
}

#[test]
fn every_invalid_estate_has_an_expected_file_and_vice_versa() {
    let dir = invalid_dir();
    let tomls = files_with_extension(&dir, "toml");
    let expected = files_with_extension(&dir, "expected");
    let without_expected: Vec<_> = tomls.difference(&expected).collect();
    let without_toml: Vec<_> = expected.difference(&tomls).collect();
    assert!(
        without_expected.is_empty(),
        "no .expected file for {without_expected:?}"
    );
    assert!(
        without_toml.is_empty(),
        "no .toml file for {without_toml:?}"
    );
    assert!(tomls.len() >= 14, "only {} invalid estates", tomls.len());
}

#[test]
fn every_invalid_estate_reports_exactly_its_expected_diagnostics() {
    let dir = invalid_dir();
    let bless = std::env::var_os("OPSDECK_BLESS").is_some();
    let mut failures = Vec::new();
    for stem in files_with_extension(&dir, "toml") {
        let file = format!("fixtures/invalid-estates/{stem}.toml");
        let source = std::fs::read_to_string(dir.join(format!("{stem}.toml"))).expect("readable");
        let actual = rendered_diagnostics(&source, &file);
        assert!(
            actual.iter().any(|line| line.contains(": error: ")),
            "{file}: no error among {actual:#?}"
        );
        let expected_path = dir.join(format!("{stem}.expected"));
        if bless {
            std::fs::write(&expected_path, actual.join("\n") + "\n").expect("writable");
            continue;
        }
        let expected: Vec<String> = std::fs::read_to_string(&expected_path)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect();
        if actual != expected {
            failures.push(format!(
                "{file}\n  expected:\n    {}\n  actual:\n    {}",
                expected.join("\n    "),
                actual.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

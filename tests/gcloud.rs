//! Faithfulness: the official Google client, gcloud 528, against the simulator. Cloud SQL,
//! Cloud Tasks and Memorystore through endpoint overrides; Cloud Run through the proxy
//! arrangement gcloud needs for regional hosts (api-facts §0.4), with the environment the
//! simulator itself hands out (`SimHandle::gcloud_env`, what `opsdeck sim` prints). Each test
//! checks what gcloud prints. Without gcloud the tests say so and skip, unless
//! OPSDECK_REQUIRE_LIVE=1.

mod common;

use std::net::SocketAddr;
use std::process::Command;

use opsdeck::estate;
use opsdeck::sim::{self, SimHandle, scenario};
use serde_json::Value;

const ESTATE: &str = r#"
name = "gcloud-proof"
[gcp]
project = "demo-proj"
[[region]]
id = "us"
gcp_region = "us-central1"
[[service]]
id = "db"
kind = "cloud_sql"
region = "us"
instance = "db-1"
sev = 1
[[service]]
id = "svc"
kind = "cloud_run"
region = "us"
service = "svc-a"
sev = 1
[[service]]
id = "email"
kind = "cloud_tasks"
region = "us"
queue = "email-queue"
sev = 3
[[service]]
id = "cache"
kind = "memorystore"
region = "us"
instance = "cache-1"
sev = 3
"#;

/// A simulator and a throwaway gcloud configuration pointed at it.
struct Rig {
    sim: SimHandle,
    config: tempfile::TempDir,
}

/// The rig, or `None` (skipped) when gcloud is not installed.
async fn rig() -> Option<Rig> {
    if !common::live("gcloud", common::have("gcloud")) {
        return None;
    }
    let estate = estate::from_str(ESTATE, "gcloud.toml").expect("estate").0;
    // Fast enough that a 75-second failover is over in well under a second.
    let clock =
        scenario::parse("name = \"gcloud\"\nspeed = 300\n", "gcloud.toml").expect("scenario");
    let listen: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let sim = sim::start(&estate, Some(clock), listen)
        .await
        .expect("the simulator starts");
    let config = tempfile::tempdir().expect("a config dir");
    Some(Rig { sim, config })
}

/// What one gcloud command printed.
struct Printed {
    stdout: String,
    stderr: String,
}

impl Printed {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "gcloud did not print JSON ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs gcloud with the simulator's environment; fails the test when gcloud fails.
async fn gcloud(rig: &Rig, args: &[&str]) -> Printed {
    let mut cmd = Command::new("gcloud");
    cmd.args(args)
        .env("CLOUDSDK_CONFIG", rig.config.path())
        .env("CLOUDSDK_CORE_DISABLE_COLOR", "true")
        .env_remove("CLOUDSDK_CORE_ACCOUNT")
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS");
    for (key, value) in rig.sim.gcloud_env("demo-proj") {
        cmd.env(key, value);
    }
    let shown = args.join(" ");
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("joins")
        .expect("gcloud runs");
    let printed = Printed {
        stdout: plain(&String::from_utf8_lossy(&out.stdout)),
        stderr: plain(&String::from_utf8_lossy(&out.stderr)),
    };
    assert!(
        out.status.success(),
        "gcloud {shown} failed ({}):\n{}\n{}",
        out.status,
        printed.stdout,
        printed.stderr
    );
    printed
}

/// Text without the ANSI styling gcloud's Cloud Run commands print even to a pipe.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_describe_backups_and_a_failover_until_done() {
    let Some(rig) = rig().await else { return };
    let db = gcloud(
        &rig,
        &["sql", "instances", "describe", "db-1", "--format=json"],
    )
    .await
    .json();
    assert_eq!(db["name"], "db-1");
    assert_eq!(db["state"], "RUNNABLE");
    assert_eq!(db["connectionName"], "demo-proj:us-central1:db-1");
    assert_eq!(db["settings"]["availabilityType"], "REGIONAL");
    assert_eq!(db["gceZone"], "us-central1-b");
    assert_eq!(db["secondaryGceZone"], "us-central1-c");

    let table = gcloud(&rig, &["sql", "backups", "list", "--instance", "db-1"])
        .await
        .stdout;
    let header = table.lines().next().unwrap_or_default();
    for column in ["ID", "WINDOW_START_TIME", "STATUS", "INSTANCE"] {
        assert!(header.contains(column), "{table}");
    }
    assert_eq!(
        table
            .lines()
            .filter(|l| l.contains("SUCCESSFUL") && l.contains("db-1"))
            .count(),
        7,
        "{table}"
    );
    let runs = gcloud(
        &rig,
        &[
            "sql",
            "backups",
            "list",
            "--instance",
            "db-1",
            "--format=json",
        ],
    )
    .await
    .json();
    let runs = runs.as_array().expect("a list");
    assert_eq!(runs.len(), 7);
    assert!(
        runs.iter()
            .all(|r| r["type"] == "AUTOMATED" && r["instance"] == "db-1")
    );
    assert!(
        runs[0]["id"].as_str() > runs[6]["id"].as_str(),
        "newest first"
    );

    let failover = gcloud(&rig, &["sql", "instances", "failover", "db-1"]).await;
    assert!(
        failover.stderr.contains("Failing over Cloud SQL instance"),
        "{}",
        failover.stderr
    );
    assert!(
        failover.stderr.trim_end().ends_with("done."),
        "gcloud waited until DONE: {}",
        failover.stderr
    );
    let after = gcloud(
        &rig,
        &["sql", "instances", "describe", "db-1", "--format=json"],
    )
    .await
    .json();
    assert_eq!(
        after["gceZone"], "us-central1-c",
        "serving from the former standby"
    );
    assert_eq!(after["secondaryGceZone"], "us-central1-b");
    assert_eq!(after["state"], "RUNNABLE");
    let ops = gcloud(
        &rig,
        &[
            "sql",
            "operations",
            "list",
            "--instance",
            "db-1",
            "--limit",
            "1",
            "--format=json",
        ],
    )
    .await
    .json();
    assert_eq!(ops[0]["operationType"], "FAILOVER");
    assert_eq!(ops[0]["status"], "DONE");
    rig.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tasks_queue_describe_and_pause() {
    let Some(rig) = rig().await else { return };
    let queue = gcloud(
        &rig,
        &[
            "tasks",
            "queues",
            "describe",
            "email-queue",
            "--location",
            "us-central1",
            "--format=json",
        ],
    )
    .await
    .json();
    assert_eq!(
        queue["name"],
        "projects/demo-proj/locations/us-central1/queues/email-queue"
    );
    assert_eq!(queue["state"], "RUNNING");
    assert_eq!(queue["retryConfig"]["maxAttempts"], 100);
    assert!(queue.get("stats").is_none(), "v2 has no stats");
    let beta = gcloud(
        &rig,
        &[
            "beta",
            "tasks",
            "queues",
            "describe",
            "email-queue",
            "--location",
            "us-central1",
            "--format=json",
        ],
    )
    .await
    .json();
    assert_eq!(beta["type"], "PUSH", "v2beta3 has the queue type");

    let paused = gcloud(
        &rig,
        &[
            "tasks",
            "queues",
            "pause",
            "email-queue",
            "--location",
            "us-central1",
        ],
    )
    .await;
    let said = format!("{}{}", paused.stdout, paused.stderr);
    assert!(
        said.contains("Paused queue [us-central1/email-queue]."),
        "{said}"
    );
    let described = gcloud(
        &rig,
        &[
            "tasks",
            "queues",
            "describe",
            "email-queue",
            "--location",
            "us-central1",
        ],
    )
    .await
    .stdout;
    assert!(
        described.lines().any(|l| l == "state: PAUSED"),
        "{described}"
    );
    rig.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_instance_describe_and_list() {
    let Some(rig) = rig().await else { return };
    let cache = gcloud(
        &rig,
        &[
            "redis",
            "instances",
            "describe",
            "cache-1",
            "--region",
            "us-central1",
            "--format=json",
        ],
    )
    .await
    .json();
    assert_eq!(
        cache["name"],
        "projects/demo-proj/locations/us-central1/instances/cache-1"
    );
    assert_eq!(cache["state"], "READY");
    assert_eq!(cache["tier"], "STANDARD_HA");
    assert_eq!(cache["memorySizeGb"], 1);
    assert_eq!(cache["currentLocationId"], cache["locationId"]);
    let table = gcloud(&rig, &["redis", "instances", "list", "--region", "-"])
        .await
        .stdout;
    let row = table
        .lines()
        .find(|l| l.starts_with("cache-1"))
        .unwrap_or_else(|| panic!("{table}"));
    for cell in ["REDIS_7_2", "us-central1", "STANDARD_HA", "READY"] {
        assert!(row.contains(cell), "{row}");
    }
    rig.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn run_services_list_describe_and_update_through_the_proxy() {
    let Some(rig) = rig().await else { return };
    let services = gcloud(&rig, &["run", "services", "list", "--format=json"])
        .await
        .json();
    let services = services.as_array().expect("a list");
    assert_eq!(services.len(), 1);
    assert_eq!(services[0]["metadata"]["name"], "svc-a");
    assert_eq!(
        services[0]["metadata"]["labels"]["cloud.googleapis.com/location"],
        "us-central1"
    );
    let table = gcloud(&rig, &["run", "services", "list"]).await.stdout;
    let row = table
        .lines()
        .find(|l| l.contains("svc-a"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains("us-central1") && row.contains("https://svc-a-"),
        "{row}"
    );

    let svc = gcloud(
        &rig,
        &[
            "run",
            "services",
            "describe",
            "svc-a",
            "--region",
            "us-central1",
            "--format=json",
        ],
    )
    .await
    .json();
    assert_eq!(svc["kind"], "Service");
    assert_eq!(svc["status"]["conditions"][0]["type"], "Ready");
    assert_eq!(svc["status"]["conditions"][0]["status"], "True");
    let revision = svc["status"]["latestReadyRevisionName"]
        .as_str()
        .expect("revision")
        .to_string();
    assert!(revision.starts_with("svc-a-00007-"), "{revision}");
    let text = gcloud(
        &rig,
        &[
            "run",
            "services",
            "describe",
            "svc-a",
            "--region",
            "us-central1",
        ],
    )
    .await
    .stdout;
    assert!(
        text.contains("Service svc-a in region us-central1"),
        "{text}"
    );
    assert!(text.contains(&format!("Revision {revision}")), "{text}");
    assert!(text.contains("Container Dependencies: opa"), "{text}");

    let update = gcloud(
        &rig,
        &[
            "run",
            "services",
            "update",
            "svc-a",
            "--min",
            "3",
            "--region",
            "us-central1",
        ],
    )
    .await;
    assert!(
        update.stderr.contains("Service [svc-a] has been updated."),
        "{}",
        update.stderr
    );
    let after = gcloud(
        &rig,
        &[
            "run",
            "services",
            "describe",
            "svc-a",
            "--region",
            "us-central1",
            "--format=json",
        ],
    )
    .await
    .json();
    assert_eq!(
        after["metadata"]["annotations"]["run.googleapis.com/minScale"],
        "3"
    );
    assert_eq!(after["metadata"]["generation"], 8);
    assert_eq!(after["status"]["observedGeneration"], 8);
    assert_eq!(
        after["status"]["latestReadyRevisionName"],
        revision.as_str(),
        "a service-level change keeps the revision"
    );
    let v2 = reqwest::get(format!(
        "{}/v2/projects/demo-proj/locations/us-central1/services/svc-a",
        rig.sim.base_url()
    ))
    .await
    .expect("answers")
    .json::<Value>()
    .await
    .expect("JSON");
    assert_eq!(
        v2["scaling"]["minInstanceCount"], 3,
        "the v2 view shows the change gcloud made through v1"
    );
    rig.sim.shutdown().await;
}

//! The simulator against real clients: reqwest for the Google REST shapes, errors and http
//! endpoints, google-cloud-auth for the metadata server.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use opsdeck::estate::{self, Estate, GcpAuth, Target};
use opsdeck::sim::{self, SimHandle, scenario};
use serde_json::Value;

const LOOPBACK: &str = "127.0.0.1:0";

fn demo() -> Estate {
    estate::from_str(estate::DEMO_ESTATE, "demo")
        .expect("the demo estate loads")
        .0
}

async fn start(scenario: Option<scenario::Scenario>) -> SimHandle {
    let listen: SocketAddr = LOOPBACK.parse().expect("address");
    sim::start(&demo(), scenario, listen)
        .await
        .expect("the simulator starts")
}

async fn get(sim: &SimHandle, path: &str) -> (u16, Value) {
    let response = reqwest::get(format!("{}{path}", sim.base_url()))
        .await
        .expect("the simulator answers");
    let status = response.status().as_u16();
    let body = response.json().await.expect("a JSON body");
    (status, body)
}

const SQL: &str = "/v1/projects/tappass-prod/instances/tappass-db";
const RUN: &str = "/v2/projects/tappass-prod/locations/europe-west1/services/tappass";
const REDIS: &str = "/v1/projects/tappass-prod/locations/europe-west1/instances/tappass-cache";
const KMS: &str =
    "/v1/projects/tappass-prod/locations/europe-west1/keyRings/tappass-vault/cryptoKeys/vault-dek";

#[tokio::test]
async fn cloud_sql_instance_has_the_real_shape() {
    let sim = start(None).await;
    let (status, db) = get(&sim, SQL).await;
    assert_eq!(status, 200);
    assert_eq!(db["kind"], "sql#instance");
    assert_eq!(db["name"], "tappass-db");
    assert_eq!(db["project"], "tappass-prod");
    assert_eq!(db["state"], "RUNNABLE");
    assert_eq!(db["region"], "europe-west1");
    assert_eq!(db["databaseVersion"], "POSTGRES_16");
    assert_eq!(db["gceZone"], "europe-west1-b");
    assert_eq!(db["secondaryGceZone"], "europe-west1-c");
    assert_eq!(db["connectionName"], "tappass-prod:europe-west1:tappass-db");
    assert_eq!(db["settings"]["availabilityType"], "REGIONAL");
    assert!(
        db["settings"]["settingsVersion"].is_string(),
        "int64 as a string"
    );
    assert_eq!(
        db["settings"]["backupConfiguration"]["pointInTimeRecoveryEnabled"],
        true
    );

    let (_, beta) = get(
        &sim,
        "/sql/v1beta4/projects/tappass-prod/instances/tappass-db?alt=json",
    )
    .await;
    assert_eq!(beta, db, "v1beta4 serves the same instance");
    let (_, us) = get(&sim, "/v1/projects/tappass-prod/instances/tappass-db-us").await;
    assert_eq!(us["region"], "us-central1");

    let (status, list) = get(
        &sim,
        "/sql/v1beta4/projects/tappass-prod/instances?maxResults=1000",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["kind"], "sql#instancesList");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
    sim.shutdown().await;
}

#[tokio::test]
async fn cloud_run_memorystore_and_rest_resources_have_the_real_shape() {
    let sim = start(None).await;
    let (status, run) = get(&sim, RUN).await;
    assert_eq!(status, 200);
    assert_eq!(
        run["name"],
        "projects/tappass-prod/locations/europe-west1/services/tappass"
    );
    assert!(run.get("reconciling").is_none_or(|r| r == false));
    assert_eq!(run["generation"], "7");
    assert_eq!(run["observedGeneration"], "7");
    assert_eq!(run["terminalCondition"]["type"], "Ready");
    assert_eq!(run["terminalCondition"]["state"], "CONDITION_SUCCEEDED");
    assert_eq!(run["conditions"][0]["type"], "RoutesReady");
    assert_eq!(run["conditions"][1]["type"], "ConfigurationsReady");
    assert_eq!(run["latestReadyRevision"], run["latestCreatedRevision"]);
    assert!(
        run["latestReadyRevision"]
            .as_str()
            .is_some_and(|r| r.starts_with("projects/tappass-prod/locations/europe-west1/services/tappass/revisions/tappass-00007-"))
    );
    let containers = run["template"]["containers"]
        .as_array()
        .expect("containers");
    assert_eq!(containers.len(), 2);
    assert_eq!(containers[1]["name"], "opa");
    assert_eq!(run["scaling"]["minInstanceCount"], 1);
    assert_eq!(run["template"]["scaling"]["maxInstanceCount"], 20);
    assert!(run["etag"].is_string() && run["uri"].is_string());
    assert_eq!(run["trafficStatuses"][0]["percent"], 100);
    let (_, list) = get(
        &sim,
        "/v2/projects/tappass-prod/locations/europe-west1/services",
    )
    .await;
    assert_eq!(list["services"].as_array().map(Vec::len), Some(1));

    let (_, redis) = get(&sim, REDIS).await;
    assert_eq!(redis["state"], "READY");
    assert_eq!(redis["tier"], "STANDARD_HA");
    assert_eq!(redis["replicaCount"], 1);
    assert_eq!(redis["redisVersion"], "REDIS_7_2");
    assert!(redis["memorySizeGb"].is_u64(), "int32 stays a number");
    assert_eq!(redis["currentLocationId"], redis["locationId"]);
    assert_ne!(redis["alternativeLocationId"], redis["locationId"]);
    let (_, all) = get(&sim, "/v1/projects/tappass-prod/locations/-/instances").await;
    assert_eq!(all["instances"].as_array().map(Vec::len), Some(1));

    let (_, kms) = get(&sim, KMS).await;
    assert_eq!(kms["primary"]["state"], "ENABLED");
    assert_eq!(kms["purpose"], "ENCRYPT_DECRYPT");
    let (_, secret) = get(
        &sim,
        "/v1/projects/tappass-prod/secrets/tappass-db-password/versions/latest",
    )
    .await;
    assert_eq!(secret["state"], "ENABLED");
    let (_, vpc) = get(
        &sim,
        "/v1/projects/tappass-prod/locations/europe-west1/connectors/tappass-conn",
    )
    .await;
    assert_eq!(vpc["state"], "READY");
    assert_eq!(vpc["minInstances"], 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn cloudsql_down_fails_every_instance_from_the_start() {
    let sim = start(scenario::builtin("healthy")).await;
    assert_eq!(get(&sim, SQL).await.1["state"], "RUNNABLE");
    sim.shutdown().await;

    let sim = start(scenario::builtin("cloudsql-down")).await;
    assert_eq!(get(&sim, SQL).await.1["state"], "FAILED");
    let (_, us) = get(&sim, "/v1/projects/tappass-prod/instances/tappass-db-us").await;
    assert_eq!(us["state"], "FAILED");
    assert_eq!(
        get(&sim, RUN).await.1["terminalCondition"]["state"],
        "CONDITION_SUCCEEDED"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn other_builtin_scenarios_change_what_they_say() {
    let sim = start(scenario::builtin("cloudrun-failed-revision")).await;
    let (_, run) = get(&sim, RUN).await;
    assert_eq!(run["terminalCondition"]["state"], "CONDITION_FAILED");
    assert_eq!(run["terminalCondition"]["reason"], "REVISION_FAILED");
    assert!(
        run["terminalCondition"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("tappass-00008-bad"))
    );
    assert_eq!(
        run["latestCreatedRevision"],
        "projects/tappass-prod/locations/europe-west1/services/tappass/revisions/tappass-00008-bad"
    );
    assert_ne!(run["latestReadyRevision"], run["latestCreatedRevision"]);
    assert_eq!(run["generation"], run["observedGeneration"]);
    sim.shutdown().await;

    let sim = start(scenario::builtin("kms-key-disabled")).await;
    assert_eq!(get(&sim, KMS).await.1["primary"]["state"], "DISABLED");
    let (_, secret) = get(
        &sim,
        "/v1/projects/tappass-prod/secrets/tappass-db-password/versions/latest",
    )
    .await;
    assert_eq!(secret["state"], "ENABLED", "only the KMS key changes");
    sim.shutdown().await;
}

#[tokio::test]
async fn events_wait_for_the_scenario_clock() {
    let s = scenario::parse(
        "name = \"later\"\nspeed = 600\n[[event]]\nat = \"10m\"\nkind = \"cloud_sql\"\nset = { state = \"MAINTENANCE\" }\n",
        "later.toml",
    )
    .expect("parses");
    let sim = start(Some(s)).await;
    assert_eq!(get(&sim, SQL).await.1["state"], "RUNNABLE");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(get(&sim, SQL).await.1["state"], "MAINTENANCE");
    let (_, stats) = get(&sim, "/_sim/stats").await;
    assert_eq!(stats["events_applied"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_resources_answer_a_google_rpc_status() {
    let sim = start(None).await;
    let (status, body) = get(
        &sim,
        "/v2/projects/tappass-prod/locations/europe-west1/services/nope",
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], 404);
    assert_eq!(body["error"]["status"], "NOT_FOUND");
    assert_eq!(
        body["error"]["message"],
        "service \"projects/tappass-prod/locations/europe-west1/services/nope\" not found"
    );

    let (status, body) = get(&sim, "/v1/projects/tappass-prod/instances/nope").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], 404);
    assert_eq!(
        body["error"]["message"],
        "The Cloud SQL instance does not exist."
    );
    assert_eq!(body["error"]["errors"][0]["reason"], "instanceDoesNotExist");

    let (status, body) = get(
        &sim,
        "/v1/projects/tappass-prod/locations/europe-west1/instances/nope",
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["status"], "NOT_FOUND");

    let (status, body) = get(
        &sim,
        "/v1/projects/x/locations/y/keyRings/z/cryptoKeys/none",
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["status"], "NOT_FOUND");
    sim.shutdown().await;
}

#[tokio::test]
async fn refuses_non_loopback_addresses() {
    for addr in ["0.0.0.0:80", "10.1.2.3:0", "[::]:8080"] {
        let listen: SocketAddr = addr.parse().expect("address");
        let err = sim::start(&demo(), None, listen)
            .await
            .err()
            .expect("refused");
        assert_eq!(
            err.to_string(),
            format!("refusing to listen on {listen}: the simulator binds loopback addresses only")
        );
    }
    let v6: SocketAddr = "[::1]:0".parse().expect("address");
    if let Ok(sim) = sim::start(&demo(), None, v6).await {
        assert!(sim.base_url().starts_with("http://[::1]:"));
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn a_scenario_naming_a_missing_service_is_refused() {
    let s = scenario::parse(
        "name = \"x\"\n[[event]]\nservice = \"ghost\"\nset = { state = \"FAILED\" }\n",
        "x.toml",
    )
    .expect("parses");
    let listen: SocketAddr = LOOPBACK.parse().expect("address");
    let err = sim::start(&demo(), Some(s), listen)
        .await
        .err()
        .expect("refused");
    assert!(
        err.to_string()
            .contains("\"ghost\", which is not a service"),
        "{err}"
    );
}

#[tokio::test]
async fn metadata_token_needs_the_flavor_header() {
    let sim = start(None).await;
    let url = format!(
        "{}/computeMetadata/v1/instance/service-accounts/default/token",
        sim.base_url()
    );
    let client = reqwest::Client::new();
    let bare = client.get(&url).send().await.expect("answers");
    assert_eq!(bare.status().as_u16(), 403);
    let token: Value = client
        .get(format!(
            "{url}?scopes=https://www.googleapis.com/auth/cloud-platform"
        ))
        .header("Metadata-Flavor", "Google")
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert!(
        token["access_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("sim-token-"))
    );
    assert_eq!(token["expires_in"], 3599);
    assert_eq!(token["token_type"], "Bearer");
    let domain = client
        .get(format!(
            "{}/computeMetadata/v1/universe/universe-domain",
            sim.base_url()
        ))
        .header("Metadata-Flavor", "Google")
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("text");
    assert_eq!(domain, "googleapis.com");
    sim.shutdown().await;
}

#[tokio::test]
async fn google_cloud_auth_takes_its_token_from_the_simulator() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let sim = start(None).await;
    let redirected = sim::redirect(&demo(), &sim);
    let Some(GcpAuth::Metadata(endpoint)) = redirected.gcp.as_ref().map(|g| g.auth.clone()) else {
        panic!("redirect points auth at the metadata server");
    };
    let token = google_cloud_auth::credentials::mds::Builder::default()
        .with_endpoint(endpoint)
        .with_scopes(["https://www.googleapis.com/auth/cloud-platform"])
        .build_access_token_credentials()
        .expect("builds")
        .access_token()
        .await
        .expect("a token");
    assert!(token.token.starts_with("sim-token-"), "{}", token.token);
    sim.shutdown().await;
}

#[tokio::test]
async fn counts_every_request() {
    let sim = start(None).await;
    assert_eq!(sim.requests(), 0);
    get(&sim, SQL).await;
    get(&sim, "/v1/nothing/here").await;
    let client = reqwest::Client::new();
    let _ = client
        .get(format!(
            "{}/computeMetadata/v1/project/project-id",
            sim.base_url()
        ))
        .send()
        .await;
    assert_eq!(sim.requests(), 3);
    let (_, stats) = get(&sim, "/_sim/stats").await;
    assert_eq!(stats["requests"], 4, "the stats request counts itself");
    assert_eq!(sim.requests(), 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn redirect_points_every_endpoint_at_the_simulator() {
    let sim = start(None).await;
    let base = sim.base_url();
    let estate = sim::redirect(&demo(), &sim);
    let gcp = estate.gcp.as_ref().expect("gcp");
    assert_eq!(gcp.endpoint.as_deref(), Some(base.as_str()));
    assert_eq!(gcp.auth, GcpAuth::Metadata(base.clone()));
    assert_eq!(gcp.project.as_deref(), Some("tappass-prod"));
    let Some(Target::Http { url, .. }) = estate.service("edge").map(|s| &s.target) else {
        panic!("edge is http");
    };
    assert_eq!(*url, format!("{base}/http/edge/healthz"));
    let body: Value = reqwest::get(url)
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(body, serde_json::json!({"status": "ok"}));
    sim.shutdown().await;
}

#[tokio::test]
async fn http_services_answer_what_the_scenario_sets() {
    let s = scenario::parse(
        "name = \"edge-down\"\n[[event]]\nservice = \"edge\"\nset = { status = 503 }\n\
         [[event]]\nservice = \"telemetry\"\nset = { latency = \"300ms\", body = { status = \"slow\" } }\n",
        "edge-down.toml",
    )
    .expect("parses");
    let sim = start(Some(s)).await;
    let estate = sim::redirect(&demo(), &sim);
    let url = |id: &str| match estate.service(id).map(|s| &s.target) {
        Some(Target::Http { url, .. }) => url.clone(),
        _ => panic!("{id} is http"),
    };
    let edge = reqwest::get(url("edge")).await.expect("answers");
    assert_eq!(edge.status().as_u16(), 503);

    let started = Instant::now();
    let telemetry = reqwest::get(url("telemetry")).await.expect("answers");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(telemetry.status().as_u16(), 200);
    let body: Value = telemetry.json().await.expect("JSON");
    assert_eq!(body["status"], "slow");

    let (status, _) = get(&sim, "/http/no-such-service/").await;
    assert_eq!(status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_hanging_endpoint_never_answers_but_shutdown_still_returns() {
    let s = scenario::parse(
        "name = \"hang\"\n[[event]]\nkind = \"http\"\nset = { hang = true }\n",
        "hang.toml",
    )
    .expect("parses");
    let sim = start(Some(s)).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let err = client
        .get(format!("{}/http/edge/healthz", sim.base_url()))
        .send()
        .await
        .expect_err("times out");
    assert!(err.is_timeout(), "{err}");

    let background = reqwest::Client::new();
    let url = format!("{}/http/telemetry/", sim.base_url());
    let pending = tokio::spawn(async move {
        background
            .get(url)
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    sim.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "shutdown releases hanging requests"
    );
    let released = pending.await.expect("joins");
    assert!(matches!(released, Ok(503) | Err(_)), "{released:?}");
}

#[tokio::test]
async fn oversized_bodies_and_unimplemented_methods_are_refused() {
    let sim = start(None).await;
    let client = reqwest::Client::new();
    let big = vec![b'x'; 2 * 1024 * 1024];
    let response = client
        .post(format!("{}{SQL}/failover", sim.base_url()))
        .body(big)
        .send()
        .await;
    // The server may close the connection before the client has sent everything; when the
    // answer does arrive, it is Google's 400.
    if let Ok(response) = response {
        assert_eq!(response.status().as_u16(), 400);
    }
    let response = client
        .post(format!("{}{SQL}/failover", sim.base_url()))
        .body("{}")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 501);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["status"], "UNIMPLEMENTED");
    sim.shutdown().await;
}

/// Where the simulator serves a Google service's resource, for kinds it materialises.
fn resource_path(target: &Target) -> Option<String> {
    Some(match target {
        Target::CloudSql { project, instance } => {
            format!("/v1/projects/{project}/instances/{instance}")
        }
        Target::CloudRun {
            project,
            location,
            service,
        } => {
            format!("/v2/projects/{project}/locations/{location}/services/{service}")
        }
        Target::Memorystore {
            project,
            location,
            instance,
        } => {
            format!("/v1/projects/{project}/locations/{location}/instances/{instance}")
        }
        Target::CloudTasks {
            project,
            location,
            queue,
            ..
        } => format!(
            "/v2beta3/projects/{project}/locations/{location}/queues/{queue}?readMask=name,state,stats"
        ),
        Target::GcpRest { url, .. } => {
            let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
            rest.find('/')
                .map_or_else(|| "/".to_string(), |i| rest[i..].to_string())
        }
        _ => return None,
    })
}

#[tokio::test]
async fn every_sample_estate_is_served_healthy() {
    for (name, source) in estate::SAMPLE_ESTATES {
        let estate = estate::from_str(source, name)
            .expect("sample estate loads")
            .0;
        let listen: SocketAddr = LOOPBACK.parse().expect("address");
        let sim = sim::start(&estate, None, listen).await.expect("starts");
        let redirected = sim::redirect(&estate, &sim);
        for service in &redirected.services {
            if let Some(path) = resource_path(&service.target) {
                let (status, body) = get(&sim, &path).await;
                assert_eq!(status, 200, "{name}/{}: {path}: {body}", service.id);
                match &service.target {
                    Target::GcpRest { up_when, .. } => {
                        let condition =
                            opsdeck::condition::Condition::parse(up_when).expect("parses");
                        assert!(
                            condition.eval(&body),
                            "{name}/{}: {up_when} on {body}",
                            service.id
                        );
                    }
                    Target::CloudTasks { .. } => {
                        assert!(
                            body["stats"]["tasksCount"].is_string(),
                            "{name}/{}: {body}",
                            service.id
                        );
                    }
                    _ => {}
                }
            }
            if let Target::Http { url, up_when, .. } = &service.target {
                let response = reqwest::get(url).await.expect("answers");
                assert_eq!(response.status().as_u16(), 200, "{name}/{}", service.id);
                let body: Value = response.json().await.expect("JSON");
                if let Some(up_when) = up_when {
                    let condition = opsdeck::condition::Condition::parse(up_when).expect("parses");
                    assert!(
                        condition.eval(&body),
                        "{name}/{}: {up_when} on {body}",
                        service.id
                    );
                }
            }
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn odd_requests_get_answers_not_panics() {
    let sim = start(scenario::builtin("cloudrun-failed-revision")).await;
    let client = reqwest::Client::new();
    let paths = [
        "/",
        "/v1",
        "/v1/projects",
        "/v1//projects//instances",
        "/v2/projects/p/locations",
        "/v2beta3/projects/p/locations/l/queues?readMask=%",
        "/sql/v1beta4",
        "/%zz/%/é/${x}/[1]",
        "/http",
        "/http/",
        "/http//x",
        "/computeMetadata",
        "/computeMetadata/v1",
        "/computeMetadata/v1/instance/service-accounts/someone-else/token",
        "/_sim/stats/more",
        "/v1/projects/tappass-prod/instances/tappass-db:failover",
        "/v1/projects/tappass-prod/instances/tappass-db/backupRuns",
    ];
    for path in paths {
        for method in [
            reqwest::Method::GET,
            reqwest::Method::HEAD,
            reqwest::Method::DELETE,
        ] {
            let response = client
                .request(method.clone(), format!("{}{path}", sim.base_url()))
                .header("Metadata-Flavor", "Google")
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            assert!(response.status().as_u16() >= 200, "{method} {path}");
        }
    }
    // Still serving afterwards.
    assert_eq!(get(&sim, SQL).await.0, 200);
    sim.shutdown().await;
}

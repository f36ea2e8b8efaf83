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
async fn oversized_and_malformed_bodies_and_unknown_methods_are_refused() {
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
        .body("{\"failoverContext\": ")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    let response = client
        .delete(format!("{}{SQL}", sim.base_url()))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 404);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["message"], "Method not found.");
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

async fn post(sim: &SimHandle, path: &str, body: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", sim.base_url()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("the simulator answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// A scenario with no events whose clock runs `speed` times faster than the wall.
fn fast(speed: u32) -> scenario::Scenario {
    scenario::parse(&format!("name = \"fast\"\nspeed = {speed}\n"), "fast.toml").expect("parses")
}

/// Polls `path` until `done` says so, a bounded number of times.
async fn poll_until(sim: &SimHandle, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let (_, body) = get(sim, path).await;
        if done(&body) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{path} never got there");
}

#[tokio::test]
async fn a_failover_over_http_reaches_done_and_moves_the_primary() {
    let sim = start(Some(fast(600))).await;
    let (_, before) = get(&sim, SQL).await;
    let (status, op) = post(
        &sim,
        &format!("{SQL}/failover"),
        r#"{"failoverContext":{"kind":"sql#failoverContext","settingsVersion":"42"}}"#,
    )
    .await;
    assert_eq!(status, 200, "{op}");
    assert_eq!(op["operationType"], "FAILOVER");
    let name = op["name"].as_str().expect("name");
    let done = poll_until(
        &sim,
        &format!("/v1/projects/tappass-prod/operations/{name}"),
        |o| o["status"] == "DONE",
    )
    .await;
    assert!(done["startTime"].is_string() && done["endTime"].is_string());
    let (_, after) = get(&sim, SQL).await;
    assert_eq!(after["gceZone"], before["secondaryGceZone"]);
    let (_, stats) = get(&sim, "/_sim/stats").await;
    assert_eq!(stats["operations"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_run_wait_is_held_until_the_rollout_is_done() {
    let sim = start(Some(fast(60))).await;
    let response = reqwest::Client::new()
        .patch(format!("{}{RUN}?updateMask=template.containers", sim.base_url()))
        .body(r#"{"template":{"containers":[{"name":"tappass","image":"europe-west1-docker.pkg.dev/tappass-prod/tappass/tappass:v2"}]}}"#)
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 200);
    let op: Value = response.json().await.expect("JSON");
    assert_eq!(
        op["done"], false,
        "the answer to the change is the operation just started"
    );
    let name = op["name"].as_str().expect("name");
    let (status, waited) = post(&sim, &format!("/v2/{name}:wait"), r#"{"timeout":"30s"}"#).await;
    assert_eq!(status, 200);
    assert_eq!(
        waited["done"], true,
        "the wait returns once the operation is done"
    );
    let (_, service) = get(&sim, RUN).await;
    assert_eq!(
        service["latestCreatedRevision"],
        service["latestReadyRevision"]
    );
    assert_eq!(
        service["template"]["containers"][0]["image"],
        "europe-west1-docker.pkg.dev/tappass-prod/tappass/tappass:v2"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn proxied_requests_route_by_path_and_take_the_region_from_the_host() {
    let sim = start(None).await;
    let client = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(sim.base_url()).expect("proxy"))
        .build()
        .expect("client");
    let port = sim.addr().port();
    let url = |region: &str| {
        format!(
            "http://{region}-sim.local:{port}/apis/serving.knative.dev/v1/namespaces/tappass-prod/services/tappass?alt=json"
        )
    };
    let found = client
        .get(url("europe-west1"))
        .send()
        .await
        .expect("answers");
    assert_eq!(found.status().as_u16(), 200);
    let body: Value = found.json().await.expect("JSON");
    assert_eq!(
        body["metadata"]["labels"]["cloud.googleapis.com/location"],
        "europe-west1"
    );
    let elsewhere = client
        .get(url("us-central1"))
        .send()
        .await
        .expect("answers");
    assert_eq!(
        elsewhere.status().as_u16(),
        404,
        "tappass runs in europe-west1 only"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn injected_resets_and_hangs_reach_the_client() {
    let s = scenario::parse(
        "name = \"f\"\n[[event]]\nservice = \"sql\"\nset = { \"sim.reset\" = true }\n[[event]]\nservice = \"cache\"\nset = { \"sim.hang\" = true }\n",
        "f.toml",
    )
    .expect("parses");
    let sim = start(Some(s)).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let reset = client
        .get(format!("{}{SQL}", sim.base_url()))
        .send()
        .await
        .expect_err("the connection is dropped");
    assert!(!reset.is_timeout(), "reset, not timed out: {reset}");
    let hung = client
        .get(format!("{}{REDIS}", sim.base_url()))
        .send()
        .await
        .expect_err("never answers");
    assert!(hung.is_timeout(), "{hung}");
    assert_eq!(get(&sim, RUN).await.0, 200, "other resources still answer");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_oauth_token_endpoint_serves_google_cloud_auth_and_jwt_bearer_grants() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let sim = start(None).await;
    let adc = serde_json::json!({
        "type": "authorized_user",
        "client_id": "x.apps.googleusercontent.com",
        "client_secret": "s",
        "refresh_token": "1//r",
        "quota_project_id": "tappass-prod",
        "token_uri": format!("{}/token", sim.base_url())
    });
    let token = google_cloud_auth::credentials::user_account::Builder::new(adc)
        .build_access_token_credentials()
        .expect("builds")
        .access_token()
        .await
        .expect("a token from the simulator");
    assert!(
        token.token.starts_with("ya29.sim-oauth-"),
        "{}",
        token.token
    );

    let b64 = |text: &str| {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let bytes = text.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..=chunk.len() {
                out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
            }
        }
        out
    };
    let now = chrono::Utc::now().timestamp();
    let claims = serde_json::json!({"iss": "sa@tappass-prod.iam.gserviceaccount.com", "scope": "https://www.googleapis.com/auth/cloud-platform", "aud": "https://oauth2.googleapis.com/token", "iat": now, "exp": now + 3600});
    let assertion = format!(
        "{}.{}.c2ln",
        b64(r#"{"alg":"RS256","typ":"JWT"}"#),
        b64(&claims.to_string())
    );
    let response = reqwest::Client::new()
        .post(format!("{}/token", sim.base_url()))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion.as_str()),
        ])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    let refused = reqwest::Client::new()
        .post(format!("{}/token", sim.base_url()))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .expect("answers");
    assert_eq!(refused.status().as_u16(), 400);
    let body: Value = refused.json().await.expect("JSON");
    assert_eq!(body["error"], "unsupported_grant_type");
    sim.shutdown().await;
}

/// An estate of `n` services across three regions of one project, of every Google kind.
fn generated(n: usize) -> Estate {
    use std::fmt::Write as _;
    let mut text = String::from("name = \"generated\"\n[gcp]\nproject = \"gen\"\n");
    for (i, r) in ["europe-west1", "us-central1", "africa-south1"]
        .iter()
        .enumerate()
    {
        let _ = write!(text, "[[region]]\nid = \"r{i}\"\ngcp_region = \"{r}\"\n");
    }
    for i in 0..n {
        let kind = match i % 5 {
            0 => format!("kind = \"cloud_run\"\nservice = \"run-{i}\""),
            1 => format!("kind = \"cloud_sql\"\ninstance = \"sql-{i}\""),
            2 => format!("kind = \"cloud_tasks\"\nqueue = \"q-{i}\""),
            3 => format!("kind = \"memorystore\"\ninstance = \"redis-{i}\""),
            _ => format!("kind = \"pubsub_subscription\"\nsubscription = \"sub-{i}\""),
        };
        let _ = write!(
            text,
            "[[service]]\nid = \"s{i}\"\nregion = \"r{}\"\nsev = 3\n{kind}\n",
            i % 3
        );
    }
    estate::from_str_with_env(&text, "generated.toml", &|_| None)
        .expect("valid")
        .0
}

#[tokio::test]
async fn a_generated_estate_of_thousands_is_materialised_once_per_resource() {
    let estate = generated(3000);
    let listen: SocketAddr = LOOPBACK.parse().expect("address");
    let sim = sim::start(&estate, None, listen).await.expect("starts");
    let (_, stats) = get(&sim, "/_sim/stats").await;
    // 600 services, 600 instances with 7 backup runs each, 600 revisions alongside, 600 queues,
    // 600 Redis instances, 600 subscriptions.
    assert_eq!(stats["resources"], 600 * 6 + 600 * 7);
    let (_, run) = get(
        &sim,
        "/v2/projects/gen/locations/europe-west1/services/run-0",
    )
    .await;
    assert_eq!(
        run["name"],
        "projects/gen/locations/europe-west1/services/run-0"
    );
    let (_, sql) = get(&sim, "/sql/v1beta4/projects/gen/instances?maxResults=250").await;
    assert_eq!(sql["items"].as_array().map(Vec::len), Some(250));
    assert!(sql["nextPageToken"].is_string());
    let (_, all) = get(&sim, "/v1/projects/gen/locations/-/services").await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(600));
    let (_, page) = get(
        &sim,
        "/v2/projects/gen/locations/us-central1/queues?pageSize=1000",
    )
    .await;
    assert_eq!(page["queues"].as_array().map(Vec::len), Some(200));
    sim.shutdown().await;
}

/// `opsdeck sim` standalone: it prints its endpoints and the gcloud environment, writes a
/// ready estate file, and `opsdeck --once` on that file sees the simulator's estate healthy.
#[test]
fn opsdeck_sim_prints_its_endpoints_and_writes_a_ready_estate() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("estate.toml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(["sim", "--demo", "--listen", "127.0.0.1:0", "--write-estate"])
        .arg(&file)
        .env_remove("OPSDECK_ESTATE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("opsdeck sim starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut printed = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a line");
        let last = line.starts_with("Ctrl-C stops it.");
        printed.push(line);
        if last {
            break;
        }
    }
    let text = printed.join("\n");
    let base = printed
        .first()
        .and_then(|l| l.rsplit_once(" on "))
        .map_or_else(|| panic!("no address in: {text}"), |(_, b)| b.to_string());
    assert!(base.starts_with("http://127.0.0.1:"), "{text}");
    for needle in [
        "/token",
        "/computeMetadata/v1/",
        "/_sim/stats",
        "export CLOUDSDK_API_ENDPOINT_OVERRIDES_SQL=",
        "export CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN=http://sim.local:",
        "export CLOUDSDK_PROXY_PORT=",
        "export CLOUDSDK_CORE_PROJECT=tappass-prod",
    ] {
        assert!(text.contains(needle), "lacks {needle}: {text}");
    }
    let written = std::fs::read_to_string(&file).expect("the estate was written");
    assert!(
        written.contains(&format!("endpoint = \"{base}\"")),
        "{written}"
    );
    let once = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(["--once", "--json", "--estate"])
        .arg(&file)
        .env_remove("OPSDECK_ESTATE")
        .output()
        .expect("opsdeck --once runs");
    let _ = child.kill();
    let _ = child.wait();
    let doc: Value = serde_json::from_slice(&once.stdout).expect("JSON");
    assert_eq!(once.status.code(), Some(0), "{doc}");
    assert_eq!(doc["status"], "ok");
    let edge = doc["services"]
        .as_array()
        .and_then(|s| s.iter().find(|x| x["id"] == "edge"))
        .expect("edge");
    assert_eq!(
        edge["status"], "up",
        "the http service answers from the simulator"
    );
}

/// A captured real response (fixtures/api, see SOURCES.md there).
fn real(file: &str) -> Value {
    let path = format!("{}/fixtures/api/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("JSON")
}

/// Where `simulated` lacks a field the real answer has, or has it with another JSON type.
/// Maps keyed by user data (labels, annotations) and the paths in `optional` are not compared;
/// arrays compare their first items.
fn missing(real: &Value, simulated: &Value, at: &str, optional: &[&str], out: &mut Vec<String>) {
    if optional.contains(&at) || at.ends_with(".labels") || at.ends_with(".annotations") {
        return;
    }
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if kind(real) != kind(simulated) {
        out.push(format!(
            "{at}: real is {}, simulated is {}",
            kind(real),
            kind(simulated)
        ));
        return;
    }
    match (real, simulated) {
        (Value::Object(r), Value::Object(s)) => {
            for (key, value) in r {
                let here = format!("{at}.{key}");
                match s.get(key) {
                    Some(v) => missing(value, v, &here, optional, out),
                    None if optional.contains(&here.as_str()) => {}
                    None => out.push(format!("{here}: missing")),
                }
            }
        }
        (Value::Array(r), Value::Array(s)) => {
            if let (Some(a), Some(b)) = (r.first(), s.first()) {
                missing(a, b, &format!("{at}[0]"), optional, out);
            }
        }
        _ => {}
    }
}

fn assert_shaped_like(file: &str, simulated: &Value, optional: &[&str]) {
    let mut out = Vec::new();
    missing(&real(file), simulated, "", optional, &mut out);
    assert!(
        out.is_empty(),
        "{file}:\n{}\nsimulated: {simulated}",
        out.join("\n")
    );
}

#[tokio::test]
async fn operations_have_the_shape_of_captured_real_ones() {
    let sim = start(Some(fast(600))).await;
    let (_, pending) = post(&sim, &format!("{SQL}/failover"), "{}").await;
    assert_eq!(pending["status"], "PENDING");
    assert_shaped_like("cloudsql/operation-create-pending.json", &pending, &[]);
    assert_shaped_like("cloudsql/operation-switchover-pending.json", &pending, &[]);
    let name = pending["name"].as_str().expect("name");
    let done = poll_until(
        &sim,
        &format!("/sql/v1beta4/projects/tappass-prod/operations/{name}"),
        |o| o["status"] == "DONE",
    )
    .await;
    assert_shaped_like("cloudsql/operation-create-done.json", &done, &[]);

    let response = reqwest::Client::new()
        .patch(format!(
            "{}{RUN}?updateMask=scaling.minInstanceCount",
            sim.base_url()
        ))
        .body(r#"{"scaling":{"minInstanceCount":2}}"#)
        .send()
        .await
        .expect("answers");
    let op: Value = response.json().await.expect("JSON");
    let run_done = poll_until(
        &sim,
        &format!("/v2/{}", op["name"].as_str().expect("name")),
        |o| o["done"] == true,
    )
    .await;
    let volumes = [
        ".metadata.template.containers[0].volumeMounts",
        ".metadata.template.volumes",
        ".response.template.containers[0].volumeMounts",
        ".response.template.volumes",
    ];
    assert_shaped_like(
        "cloudrun/v2-operation-done-service-response.json",
        &run_done,
        &volumes,
    );

    let (status, op) = post(
        &sim,
        &format!("{REDIS}:failover"),
        r#"{"dataProtectionMode":"LIMITED_DATA_LOSS"}"#,
    )
    .await;
    assert_eq!(status, 200, "{op}");
    let redis_done = poll_until(
        &sim,
        &format!("/v1/{}", op["name"].as_str().expect("name")),
        |o| o["done"] == true,
    )
    .await;
    assert_shaped_like(
        "memorystore/operation-create-done-with-instance.json",
        &redis_done,
        &[],
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn queues_series_and_promql_answers_have_the_shape_of_captured_real_ones() {
    let lumieos = estate::SAMPLE_ESTATES
        .iter()
        .find(|(n, _)| *n == "lumieos")
        .map(|(_, t)| *t)
        .expect("lumieos");
    let estate = estate::from_str(lumieos, "lumieos").expect("loads").0;
    let listen: SocketAddr = LOOPBACK.parse().expect("address");
    let sim = sim::start(&estate, None, listen).await.expect("starts");
    let (_, queue) = get(
        &sim,
        "/v2/projects/lumieos-prod/locations/us-central1/queues/default",
    )
    .await;
    assert_shaped_like("cloudtasks/queue-v2-crud-get.json", &queue, &[]);

    let end = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (status, series) = get(
        &sim,
        &format!("/v3/projects/lumieos-prod/timeSeries?filter=metric.type%3D%22cloudsql.googleapis.com%2Fdatabase%2Fcpu%2Futilization%22&interval.endTime={end}&aggregation.alignmentPeriod=60s&aggregation.perSeriesAligner=ALIGN_MEAN&aggregation.crossSeriesReducer=REDUCE_MEAN"),
    )
    .await;
    assert_eq!(status, 200, "{series}");
    assert_shaped_like(
        "cloud-monitoring/timeseries-list-aggregated-one-series.json",
        &series,
        &[],
    );
    let (_, backlog) = get(
        &sim,
        &format!("/v3/projects/lumieos-prod/timeSeries?filter=metric.type%3D%22pubsub.googleapis.com%2Fsubscription%2Fnum_undelivered_messages%22%20AND%20resource.labels.subscription_id%3D%22lumieos-events-za%22&interval.endTime={end}"),
    )
    .await;
    assert_eq!(backlog["timeSeries"].as_array().map(Vec::len), Some(1));
    assert!(
        backlog["timeSeries"][0]["points"][0]["value"]["int64Value"].is_string(),
        "int64 as a string"
    );

    let (_, vector) = get(
        &sim,
        "/v1/projects/lumieos-prod/location/global/prometheus/api/v1/query?query=pubsub_googleapis_com%3Asubscription_oldest_unacked_message_age",
    )
    .await;
    assert_shaped_like(
        "prometheus/query-vector-up-docs-example.json",
        &vector,
        &[
            ".data.result[0].metric.job",
            ".data.result[0].metric.instance",
        ],
    );
    assert_eq!(vector["data"]["result"].as_array().map(Vec::len), Some(2));
    sim.shutdown().await;
}

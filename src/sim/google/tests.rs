//! The Google router against a world on an explicit scenario clock: every API's shapes, the
//! actions and their operations phase by phase, malformed requests and injected faults.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};

use super::{Answer, Call, answer};
use crate::sim::resources::Clock;
use crate::sim::scenario;
use crate::sim::state::World;

const ESTATE: &str = r#"
name = "unit"
[gcp]
project = "p"
[[region]]
id = "us"
gcp_region = "us-central1"
[[region]]
id = "za"
gcp_region = "africa-south1"
[[service]]
id = "db"
kind = "cloud_sql"
region = "us"
instance = "db-1"
sev = 1
[[service]]
id = "db-za"
kind = "cloud_sql"
region = "za"
instance = "db-za"
sev = 1
[[service]]
id = "run"
kind = "cloud_run"
region = "us"
service = "svc-a"
sev = 1
[[service]]
id = "run-za"
kind = "cloud_run"
region = "za"
service = "svc-z"
sev = 1
[[service]]
id = "queue"
kind = "cloud_tasks"
region = "us"
queue = "q"
sev = 3
[[service]]
id = "cache"
kind = "memorystore"
region = "us"
instance = "cache-1"
sev = 3
[[service]]
id = "events"
kind = "pubsub_subscription"
region = "us"
subscription = "events-sub"
sev = 3
"#;

fn world(scenario: Option<&str>) -> World {
    let estate = crate::estate::from_str(ESTATE, "unit.toml")
        .expect("estate")
        .0;
    let s = scenario.map(|text| scenario::parse(text, "s.toml").expect("scenario"));
    let mut w = World::new(&estate, s.as_ref(), &Clock { now: Utc::now() });
    w.advance(Duration::ZERO, Utc::now());
    w
}

fn call<'a>(method: &'a str, path: &'a str, query: Option<&'a str>, body: &'a str) -> Call<'a> {
    Call {
        method,
        path,
        query,
        body: body.as_bytes(),
        region: None,
        waited: false,
    }
}

fn get(w: &mut World, path: &str) -> Answer {
    let (path, query) = path
        .split_once('?')
        .map_or((path, None), |(p, q)| (p, Some(q)));
    answer(w, &call("GET", path, query, ""))
}

fn post(w: &mut World, path: &str, body: &str) -> Answer {
    answer(w, &call("POST", path, None, body))
}

fn at(w: &mut World, secs: u64) {
    w.advance(Duration::from_secs(secs), Utc::now());
}

const SQL: &str = "/sql/v1beta4/projects/p/instances/db-1";

/// Cloud Monitoring's `database/up` for db-1 now.
fn database_up(w: &mut World) -> Value {
    let end = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let query = format!(
        "filter=metric.type%3D%22cloudsql.googleapis.com%2Fdatabase%2Fup%22%20AND%20resource.labels.database_id%3D%22p%3Adb-1%22&interval.endTime={end}"
    );
    let list = answer(
        w,
        &call("GET", "/v3/projects/p/timeSeries", Some(&query), ""),
    )
    .reply
    .body;
    list["timeSeries"][0]["points"][0]["value"]["int64Value"].clone()
}

#[test]
fn routes_each_api_under_every_prefix() {
    let mut w = world(None);
    let sql = get(&mut w, "/v1/projects/p/instances/db-1");
    assert_eq!(sql.reply.status, 200);
    assert_eq!(
        get(&mut w, SQL).reply,
        sql.reply,
        "v1 and v1beta4 are one state"
    );
    assert_eq!(
        get(&mut w, "/v1/projects/p/instances/nope").reply.status,
        404
    );
    let run = get(
        &mut w,
        "/v2/projects/p/locations/us-central1/services/svc-a",
    )
    .reply;
    assert_eq!(run.body["generation"], "7", "int64 as a string");
    assert_eq!(
        get(&mut w, "/v2/projects/p/locations/-/services")
            .reply
            .status,
        400
    );
    let knative = get(
        &mut w,
        "/apis/serving.knative.dev/v1/namespaces/p/services/svc-a",
    )
    .reply;
    assert_eq!(
        knative.body["metadata"]["generation"], 7,
        "int32 stays a number"
    );
    let number = crate::sim::resources::project_number("p").to_string();
    let by_number = get(
        &mut w,
        &format!("/apis/serving.knative.dev/v1/namespaces/{number}/services/svc-a"),
    );
    assert_eq!(by_number.reply, knative);
    let all = get(&mut w, "/v1/projects/p/locations/-/services").reply;
    assert_eq!(all.body["kind"], "ServiceList");
    assert_eq!(all.body["items"].as_array().map(Vec::len), Some(2));
    let queue = get(
        &mut w,
        "/v2beta3/projects/p/locations/us-central1/queues/q?readMask=name,state,stats",
    )
    .reply;
    assert!(queue.body["stats"]["tasksCount"].is_string());
    let v2 = get(&mut w, "/v2/projects/p/locations/us-central1/queues/q").reply;
    assert!(v2.body.get("stats").is_none() && v2.body.get("type").is_none());
    assert_eq!(
        get(&mut w, "/v1/projects/p/locations/-/instances")
            .reply
            .body["instances"][0]["state"],
        "READY"
    );
    assert_eq!(
        get(&mut w, "/v1/projects/p/subscriptions/events-sub")
            .reply
            .body["name"],
        "projects/p/subscriptions/events-sub"
    );
    assert_eq!(
        get(&mut w, "/v1/projects/x/instances/y:failover")
            .reply
            .status,
        404
    );
    assert_eq!(get(&mut w, "/nothing/here").reply.status, 404);
}

#[test]
fn a_cloud_sql_failover_runs_pending_running_done_and_swaps_the_zones() {
    let mut w = world(None);
    let before = get(&mut w, SQL).reply.body;
    let version = before["settings"]["settingsVersion"]
        .as_str()
        .expect("string")
        .to_string();
    let body = format!(
        r#"{{"failoverContext":{{"kind":"sql#failoverContext","settingsVersion":"{version}"}}}}"#
    );
    let op = post(&mut w, &format!("{SQL}/failover"), &body).reply;
    assert_eq!(op.status, 200, "{}", op.body);
    assert_eq!(op.body["kind"], "sql#operation");
    assert_eq!(op.body["operationType"], "FAILOVER");
    assert_eq!(op.body["status"], "PENDING");
    assert!(op.body.get("startTime").is_none());
    let name = op.body["name"].as_str().expect("name").to_string();
    let op_path = format!("/sql/v1beta4/projects/p/operations/{name}");
    assert_eq!(
        post(&mut w, &format!("{SQL}/failover"), &body).reply.status,
        409,
        "one operation at a time"
    );
    assert_eq!(database_up(&mut w), "1");
    at(&mut w, 10);
    assert_eq!(get(&mut w, &op_path).reply.body["status"], "RUNNING");
    assert_eq!(
        database_up(&mut w),
        "0",
        "unavailable while the primary moves"
    );
    assert_eq!(get(&mut w, SQL).reply.body["state"], "RUNNABLE");
    assert_eq!(
        get(&mut w, SQL).reply.body["gceZone"],
        before["gceZone"],
        "zones swap only at DONE"
    );
    at(&mut w, 80);
    let done = get(&mut w, &op_path).reply.body;
    assert_eq!(done["status"], "DONE");
    assert!(done["endTime"].is_string() && done.get("error").is_none());
    assert_eq!(database_up(&mut w), "1");
    let after = get(&mut w, SQL).reply.body;
    assert_eq!(after["gceZone"], before["secondaryGceZone"]);
    assert_eq!(after["secondaryGceZone"], before["gceZone"]);
    let list = get(
        &mut w,
        "/sql/v1beta4/projects/p/operations?instance=db-1&maxResults=5",
    )
    .reply
    .body;
    assert_eq!(list["items"][0]["name"], name.as_str());
}

#[test]
fn a_failover_is_refused_for_a_stale_settings_version_a_zonal_instance_and_bad_bodies() {
    let mut w = world(Some(
        "name = \"z\"\n[[event]]\nservice = \"db-za\"\nset = { \"settings.availabilityType\" = \"ZONAL\" }\nunset = [\"secondaryGceZone\"]\n",
    ));
    let stale = post(
        &mut w,
        &format!("{SQL}/failover"),
        r#"{"failoverContext":{"settingsVersion":"41"}}"#,
    )
    .reply;
    assert_eq!(stale.status, 412);
    assert_eq!(
        stale.body["error"]["errors"][0]["reason"],
        "conditionNotMet"
    );
    let zonal = post(&mut w, "/v1/projects/p/instances/db-za/failover", "{}").reply;
    assert_eq!(zonal.status, 400);
    assert!(
        zonal.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Invalid request: "))
    );
    let garbage = post(&mut w, &format!("{SQL}/failover"), "{not json").reply;
    assert_eq!(garbage.status, 400);
    assert_eq!(garbage.body["error"]["status"], "INVALID_ARGUMENT");
    assert!(
        garbage.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Invalid JSON payload received."))
    );
    let unknown = post(
        &mut w,
        &format!("{SQL}/failover"),
        r#"{"failoverContext":{"settingsVersoin":"42"}}"#,
    )
    .reply;
    assert_eq!(
        unknown.body["error"]["message"],
        "Invalid JSON payload received. Unknown name \"settingsVersoin\" at 'failover_context': Cannot find field."
    );
    assert_eq!(
        unknown.body["error"]["details"][0]["@type"],
        "type.googleapis.com/google.rpc.BadRequest"
    );
    let typed = post(
        &mut w,
        &format!("{SQL}/failover"),
        r#"{"failoverContext":{"settingsVersion":"forty"}}"#,
    )
    .reply;
    assert_eq!(
        typed.body["error"]["message"],
        "Invalid value at 'failover_context.settings_version' (TYPE_INT64), \"forty\""
    );
    assert_eq!(
        post(&mut w, "/v1/projects/p/instances/ghost/failover", "{}")
            .reply
            .status,
        404
    );
}

#[test]
fn a_failover_repairs_a_lost_zone_only_when_the_scenario_says_so() {
    for (fixed_by, after) in [("failover", "RUNNABLE"), ("restore", "FAILED")] {
        let mut w = world(Some(&format!(
            "name = \"z\"\n[[event]]\nservice = \"db\"\nset = {{ state = \"FAILED\", \"sim.fixed_by\" = \"{fixed_by}\" }}\n"
        )));
        assert_eq!(get(&mut w, SQL).reply.body["state"], "FAILED");
        assert_eq!(
            post(&mut w, &format!("{SQL}/failover"), "{}").reply.status,
            200
        );
        at(&mut w, 100);
        assert_eq!(
            get(&mut w, SQL).reply.body["state"],
            after,
            "fixed by {fixed_by}"
        );
    }
}

#[test]
fn a_restore_holds_the_instance_in_maintenance_then_brings_it_back() {
    let mut w = world(Some(
        "name = \"down\"\n[[event]]\nkind = \"cloud_sql\"\nset = { state = \"FAILED\" }\n",
    ));
    let runs = get(&mut w, &format!("{SQL}/backupRuns?maxResults=100"))
        .reply
        .body;
    assert_eq!(runs["kind"], "sql#backupRunsList");
    let items = runs["items"].as_array().expect("items");
    assert_eq!(items.len(), 7);
    assert!(
        items[0]["id"].as_str() > items[1]["id"].as_str(),
        "newest first"
    );
    assert_eq!(items[0]["status"], "SUCCESSFUL");
    let id = items[0]["id"].as_str().expect("id").to_string();
    let missing = post(
        &mut w,
        &format!("{SQL}/restoreBackup"),
        r#"{"restoreBackupContext":{"backupRunId":"1","instanceId":"db-1"}}"#,
    )
    .reply;
    assert_eq!(missing.status, 404);
    let body = format!(
        r#"{{"restoreBackupContext":{{"backupRunId":"{id}","instanceId":"db-1","project":"p"}}}}"#
    );
    let op = post(&mut w, &format!("{SQL}/restoreBackup"), &body)
        .reply
        .body;
    assert_eq!(op["operationType"], "RESTORE_VOLUME");
    at(&mut w, 60);
    assert_eq!(get(&mut w, SQL).reply.body["state"], "MAINTENANCE");
    at(&mut w, 400);
    assert_eq!(get(&mut w, SQL).reply.body["state"], "RUNNABLE");
}

#[test]
fn a_clone_at_a_point_in_time_creates_the_instance_and_backup_runs_complete() {
    let mut w = world(None);
    let window = get(&mut w, &format!("{SQL}/getLatestRecoveryTime"))
        .reply
        .body;
    assert_eq!(window["kind"], "sql#getLatestRecoveryTime");
    let point = (Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let body = format!(
        r#"{{"cloneContext":{{"kind":"sql#cloneContext","destinationInstanceName":"db-1-pitr","pointInTime":"{point}"}}}}"#
    );
    let op = post(&mut w, &format!("{SQL}/clone"), &body).reply;
    assert_eq!(op.body["operationType"], "CLONE", "{}", op.body);
    assert_eq!(
        post(&mut w, &format!("{SQL}/clone"), &body).reply.status,
        409,
        "the clone exists"
    );
    assert_eq!(
        get(&mut w, "/v1/projects/p/instances/db-1-pitr").reply.body["state"],
        "PENDING_CREATE"
    );
    let too_old = r#"{"cloneContext":{"destinationInstanceName":"old","pointInTime":"2001-01-01T00:00:00Z"}}"#;
    assert_eq!(
        post(&mut w, &format!("{SQL}/clone"), too_old).reply.status,
        400
    );
    at(&mut w, 800);
    let clone = get(&mut w, "/v1/projects/p/instances/db-1-pitr").reply.body;
    assert_eq!(clone["state"], "RUNNABLE");
    assert_eq!(clone["connectionName"], "p:us-central1:db-1-pitr");

    let op = post(
        &mut w,
        &format!("{SQL}/backupRuns"),
        r#"{"instance":"db-1","kind":"sql#backupRun"}"#,
    )
    .reply
    .body;
    assert_eq!(op["operationType"], "BACKUP_VOLUME");
    let id = op["backupContext"]["backupId"]
        .as_str()
        .expect("id")
        .to_string();
    let run =
        |w: &mut World| get(w, &format!("{SQL}/backupRuns/{id}")).reply.body["status"].clone();
    assert_eq!(run(&mut w), "ENQUEUED");
    at(&mut w, 830);
    assert_eq!(run(&mut w), "RUNNING");
    at(&mut w, 1000);
    assert_eq!(run(&mut w), "SUCCESSFUL");
    assert_eq!(
        get(&mut w, &format!("{SQL}/backupRuns")).reply.body["items"][0]["type"],
        "ON_DEMAND"
    );
}

const RUN: &str = "/v2/projects/p/locations/us-central1/services/svc-a";

#[test]
fn a_v2_scaling_patch_reconciles_without_a_new_revision() {
    let mut w = world(None);
    let call = call(
        "PATCH",
        RUN,
        Some("updateMask=scaling.minInstanceCount"),
        r#"{"scaling":{"minInstanceCount":3}}"#,
    );
    let op = answer(&mut w, &call).reply.body;
    assert_eq!(op["done"], false);
    assert_eq!(
        op["metadata"]["@type"],
        "type.googleapis.com/google.cloud.run.v2.Service"
    );
    let service = get(&mut w, RUN).reply.body;
    assert_eq!(service["scaling"]["minInstanceCount"], 3);
    assert_eq!(service["generation"], "8");
    assert_eq!(service["reconciling"], true);
    assert_eq!(
        service["latestCreatedRevision"],
        service["latestReadyRevision"]
    );
    let id = op["name"]
        .as_str()
        .and_then(|n| n.rsplit('/').next())
        .expect("id")
        .to_string();
    at(&mut w, 30);
    let done = get(
        &mut w,
        &format!("/v2/projects/p/locations/us-central1/operations/{id}"),
    )
    .reply
    .body;
    assert_eq!(done["done"], true);
    assert_eq!(done["response"]["observedGeneration"], "8");
    assert_eq!(get(&mut w, RUN).reply.body["reconciling"], false);
}

#[test]
fn a_rollback_pins_traffic_to_an_earlier_revision_and_repairs_the_service() {
    let mut w = world(Some(
        "name = \"bad\"\n[[event]]\nservice = \"run\"\nset = { latestCreatedRevision = \"${name}/revisions/${id}-00008-bad\", latestReadyRevision = \"${name}/revisions/${id}-00008-bad\", \"terminalCondition.state\" = \"CONDITION_FAILED\", \"sim.fixed_by\" = \"rollback\" }\n",
    ));
    let good = get(&mut w, &format!("{RUN}/revisions")).reply.body["revisions"][1]["name"]
        .as_str()
        .and_then(|n| n.rsplit('/').next())
        .expect("the earlier revision")
        .to_string();
    let patch = |w: &mut World, body: &str| {
        answer(w, &call("PATCH", RUN, Some("updateMask=traffic"), body)).reply
    };
    let missing = patch(
        &mut w,
        r#"{"traffic":[{"type":"TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION","revision":"svc-a-00001-zzz","percent":100}]}"#,
    );
    assert_eq!(missing.status, 400);
    let half = patch(
        &mut w,
        &format!(
            r#"{{"traffic":[{{"type":"TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION","revision":"{good}","percent":50}}]}}"#
        ),
    );
    assert_eq!(half.status, 400);
    let pinned = patch(
        &mut w,
        &format!(
            r#"{{"traffic":[{{"type":"TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION","revision":"{good}","percent":100}}]}}"#
        ),
    );
    assert_eq!(pinned.status, 200, "{}", pinned.body);
    assert_eq!(
        get(&mut w, RUN).reply.body["terminalCondition"]["state"],
        "CONDITION_FAILED"
    );
    at(&mut w, 30);
    let after = get(&mut w, RUN).reply.body;
    assert_eq!(after["terminalCondition"]["state"], "CONDITION_SUCCEEDED");
    assert_eq!(after["trafficStatuses"][0]["revision"], good.as_str());
}

#[test]
fn a_knative_replace_deploys_a_revision_that_both_views_show() {
    let mut w = world(None);
    let path = "/apis/serving.knative.dev/v1/namespaces/p/services/svc-a";
    let mut svc = get(&mut w, path).reply.body;
    svc["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/minScale"] =
        json!("2");
    svc["metadata"]["annotations"]["run.googleapis.com/minScale"] = json!("4");
    let put = |w: &mut World, body: &Value, region| {
        let text = body.to_string();
        answer(
            w,
            &Call {
                method: "PUT",
                path,
                query: None,
                body: text.as_bytes(),
                region,
                waited: false,
            },
        )
    };
    assert_eq!(
        put(&mut w, &svc, Some("africa-south1")).reply.status,
        404,
        "svc-a is not in africa-south1"
    );
    let replaced = put(&mut w, &svc, Some("us-central1")).reply;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    assert_eq!(replaced.body["metadata"]["generation"], 8);
    assert_eq!(
        replaced.body["status"]["conditions"][0]["status"],
        "Unknown"
    );
    let op = replaced.body["metadata"]["annotations"]["run.googleapis.com/operation-id"]
        .as_str()
        .expect("op")
        .to_string();
    assert_eq!(
        put(&mut w, &svc, None).reply.status,
        409,
        "the resource version moved on"
    );
    let v2 = get(&mut w, RUN).reply.body;
    assert_eq!(v2["scaling"]["minInstanceCount"], 4);
    assert_eq!(v2["template"]["scaling"]["minInstanceCount"], 2);
    assert_ne!(v2["latestCreatedRevision"], v2["latestReadyRevision"]);
    let wait = format!("/v1/projects/p/locations/us-central1/operations/{op}:wait");
    let pending = post(&mut w, &wait, r#"{"timeout":"30s"}"#);
    assert_eq!(pending.reply.body["done"], false);
    assert!(pending.wait.is_some(), "held until done");
    at(&mut w, 60);
    let done = post(&mut w, &wait, r#"{"timeout":"30s"}"#);
    assert_eq!(done.reply.body["done"], true);
    assert_eq!(
        done.reply.body["response"]["@type"],
        "type.googleapis.com/google.cloud.run.v1.Service"
    );
    assert_eq!(
        done.reply.body["response"]["status"]["conditions"][0]["status"],
        "True"
    );
    let revisions = get(&mut w, "/apis/serving.knative.dev/v1/namespaces/p/revisions?labelSelector=serving.knative.dev%2Fservice+%3D+svc-a").reply.body;
    assert_eq!(revisions["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        revisions["items"][0]["metadata"]["name"],
        get(&mut w, path).reply.body["status"]["latestReadyRevisionName"]
    );
    assert_eq!(
        get(&mut w, &format!("{RUN}/revisions")).reply.body["revisions"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

#[test]
fn queues_pause_resume_purge_and_their_backlog_moves_with_the_clock() {
    let mut w = world(None);
    let q = "/v2/projects/p/locations/us-central1/queues/q";
    let stats = |w: &mut World| {
        get(
            w,
            "/v2beta3/projects/p/locations/us-central1/queues/q?readMask=stats",
        )
        .reply
        .body["stats"]
            .clone()
    };
    let paused = post(&mut w, &format!("{q}:pause"), "{}").reply.body;
    assert_eq!(paused["state"], "PAUSED");
    at(&mut w, 100);
    let s = stats(&mut w);
    assert_eq!(
        s["tasksCount"], "354",
        "3.5 tasks a second arrive and none leave"
    );
    assert!(s["oldestEstimatedArrivalTime"].is_string());
    assert_eq!(s["executedLastMinuteCount"], "0");
    assert_eq!(
        post(&mut w, &format!("{q}:resume"), "{}").reply.body["state"],
        "RUNNING"
    );
    let purged = post(&mut w, &format!("{q}:purge"), "{}").reply.body;
    assert!(purged["purgeTime"].is_string());
    assert_eq!(stats(&mut w)["tasksCount"], "0");
    assert_eq!(
        post(&mut w, &format!("{q}:pause"), r#"{"force":true}"#)
            .reply
            .status,
        400
    );
    let filtered = get(
        &mut w,
        "/v2/projects/p/locations/us-central1/queues?filter=state%3A%20PAUSED",
    )
    .reply
    .body;
    assert_eq!(filtered, json!({}));
}

#[test]
fn a_memorystore_failover_moves_the_primary_to_the_other_zone() {
    let mut w = world(None);
    let path = "/v1/projects/p/locations/us-central1/instances/cache-1";
    let before = get(&mut w, path).reply.body;
    let bad = post(
        &mut w,
        &format!("{path}:failover"),
        r#"{"dataProtectionMode":"SOME_LOSS"}"#,
    )
    .reply;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Invalid value at 'data_protection_mode'"))
    );
    let op = post(
        &mut w,
        &format!("{path}:failover"),
        r#"{"dataProtectionMode":"LIMITED_DATA_LOSS"}"#,
    )
    .reply
    .body;
    assert_eq!(op["metadata"]["verb"], "failover");
    assert_eq!(op["done"], false);
    assert_eq!(get(&mut w, path).reply.body["state"], "FAILING_OVER");
    at(&mut w, 200);
    let op = get(
        &mut w,
        &format!("/v1/{}", op["name"].as_str().expect("name")),
    )
    .reply
    .body;
    assert_eq!(op["done"], true);
    assert_eq!(
        op["response"]["@type"],
        "type.googleapis.com/google.cloud.redis.v1.Instance"
    );
    let after = get(&mut w, path).reply.body;
    assert_eq!(after["state"], "READY");
    assert_eq!(after["currentLocationId"], before["alternativeLocationId"]);
}

#[test]
fn monitoring_reports_the_pubsub_backlog_the_scenario_builds() {
    let mut w = world(Some(
        "name = \"b\"\n[[event]]\nservice = \"events\"\nset = { \"sim.dispatch_rate\" = 0, \"sim.backlog\" = 5000 }\n",
    ));
    at(&mut w, 60);
    let end = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let query = format!(
        "filter=metric.type%3D%22pubsub.googleapis.com%2Fsubscription%2Fnum_undelivered_messages%22&interval.endTime={end}"
    );
    let list = answer(
        &mut w,
        &call("GET", "/v3/projects/p/timeSeries", Some(&query), ""),
    )
    .reply
    .body;
    let series = &list["timeSeries"][0];
    assert_eq!(
        series["resource"]["labels"]["subscription_id"],
        "events-sub"
    );
    assert_eq!(
        series["points"][0]["value"]["int64Value"], "6200",
        "5000 + 20 a second for 60 s"
    );
    let age = format!(
        "filter=metric.type%3D%22pubsub.googleapis.com%2Fsubscription%2Foldest_unacked_message_age%22&interval.endTime={end}"
    );
    let oldest = answer(
        &mut w,
        &call("GET", "/v3/projects/p/timeSeries", Some(&age), ""),
    )
    .reply
    .body;
    assert!(
        oldest["timeSeries"][0]["points"][0]["value"]["int64Value"]
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|v| v >= 60)
    );
    let missing = answer(&mut w, &call("GET", "/v3/projects/p/timeSeries", None, "")).reply;
    assert_eq!(missing.status, 400);
    let unknown = format!("filter=metric.type%3D%22x.googleapis.com%2Fy%22&interval.endTime={end}");
    assert_eq!(
        answer(
            &mut w,
            &call("GET", "/v3/projects/p/timeSeries", Some(&unknown), "")
        )
        .reply
        .status,
        404
    );
    let reduced = format!(
        "filter=metric.type%3D%22run.googleapis.com%2Frequest_count%22&interval.startTime={end}&interval.endTime={end}&aggregation.alignmentPeriod=60s&aggregation.perSeriesAligner=ALIGN_RATE&aggregation.crossSeriesReducer=REDUCE_SUM&aggregation.groupByFields=resource.label.location"
    );
    let by_region = answer(
        &mut w,
        &call("GET", "/v3/projects/p/timeSeries", Some(&reduced), ""),
    )
    .reply
    .body;
    let series = by_region["timeSeries"].as_array().expect("series");
    assert_eq!(series.len(), 2);
    assert_eq!(series[0]["valueType"], "DOUBLE");
    assert_eq!(
        series[0]["resource"]["labels"]
            .as_object()
            .map(serde_json::Map::len),
        Some(1)
    );

    let promql = "query=sum%20by%20(subscription_id)%20(pubsub_googleapis_com%3Asubscription_num_undelivered_messages)";
    let prom = answer(
        &mut w,
        &call(
            "GET",
            "/v1/projects/p/location/global/prometheus/api/v1/query",
            Some(promql),
            "",
        ),
    )
    .reply
    .body;
    assert_eq!(prom["status"], "success");
    assert_eq!(
        prom["data"]["result"][0]["metric"]["subscription_id"],
        "events-sub"
    );
    assert_eq!(prom["data"]["result"][0]["value"][1], "6200");
    let broken = answer(
        &mut w,
        &call(
            "POST",
            "/v1/projects/p/location/global/prometheus/api/v1/query",
            None,
            "query=sum(",
        ),
    )
    .reply;
    assert_eq!(broken.status, 400);
    assert_eq!(broken.body["errorType"], "bad_data");
}

#[test]
fn injected_faults_become_google_errors_and_regions_go_unreachable() {
    let mut w = world(Some(
        "name = \"f\"\n\
         [[event]]\nservice = \"db\"\nset = { \"sim.error\" = \"RESOURCE_EXHAUSTED\", \"sim.retry_delay\" = \"30s\", \"sim.latency\" = \"1s\" }\n\
         [[event]]\nregion = \"za\"\nkind = \"cloud_run\"\nset = { \"sim.error\" = 503 }\n\
         [[event]]\nat = \"5m\"\nservice = \"db\"\nset = { \"sim.error\" = 0, \"sim.latency\" = \"0s\" }\n",
    ));
    let limited = get(&mut w, SQL);
    assert_eq!(limited.reply.status, 429);
    assert_eq!(limited.reply.body["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(
        limited.reply.body["error"]["details"][2]["retryDelay"],
        "30s"
    );
    assert_eq!(limited.fault.latency, Duration::from_secs(1));
    assert_eq!(
        post(&mut w, &format!("{SQL}/failover"), "{}").reply.status,
        429,
        "actions meet the fault too"
    );
    let all = get(&mut w, "/v1/projects/p/locations/-/services")
        .reply
        .body;
    assert_eq!(all["unreachable"], json!(["africa-south1"]));
    assert_eq!(all["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        get(
            &mut w,
            "/v2/projects/p/locations/africa-south1/services/svc-z"
        )
        .reply
        .status,
        503
    );
    assert_eq!(
        get(&mut w, "/v2/projects/p/locations/africa-south1/services")
            .reply
            .status,
        503
    );
    at(&mut w, 301);
    assert_eq!(get(&mut w, SQL).reply.status, 200);
}

//! The JSON bodies of simulated Google resources, in the shapes the real APIs return
//! (api-facts.md; int64 fields as strings, enums as names). Owns only how a healthy resource
//! looks when the simulator starts; what changes later is the scenario's business.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// Times and names shared by every resource of one simulator run.
pub(crate) struct Clock {
    pub now: DateTime<Utc>,
}

impl Clock {
    /// RFC 3339 with microseconds, as Cloud Run and most newer APIs write it.
    fn micros(&self, days_ago: i64, seconds: i64) -> String {
        (self.now - chrono::Duration::days(days_ago) + chrono::Duration::seconds(seconds))
            .to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    /// RFC 3339 with milliseconds, as Cloud SQL writes it.
    fn millis(&self, days_ago: i64) -> String {
        (self.now - chrono::Duration::days(days_ago)).to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// RFC 3339 with nanoseconds, as Memorystore writes it.
    fn nanos(&self, days_ago: i64) -> String {
        (self.now - chrono::Duration::days(days_ago)).to_rfc3339_opts(SecondsFormat::Nanos, true)
    }
}

/// FNV-1a: stable across runs, so generated names and addresses do not change.
pub(crate) fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `len` lowercase letters and digits derived from `seed`.
fn token(seed: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut h = stable_hash(seed);
    (0..len)
        .map(|i| {
            if i % 12 == 11 {
                h = stable_hash(&format!("{seed}{i}"));
            }
            let c = ALPHABET[(h % 36) as usize];
            h /= 36;
            char::from(c)
        })
        .collect()
}

fn hex(seed: &str, len: usize) -> String {
    let mut out = String::new();
    let mut i = 0u32;
    while out.len() < len {
        let _ = write!(out, "{:016x}", stable_hash(&format!("{seed}/{i}")));
        i += 1;
    }
    out.truncate(len);
    out
}

fn uuid(seed: &str) -> String {
    let h = hex(seed, 32);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// A private address in `10.x.y.z`, stable for `seed`.
fn private_ip(seed: &str) -> String {
    let h = stable_hash(seed);
    format!(
        "10.{}.{}.{}",
        (h >> 8) % 250 + 1,
        (h >> 16) % 250,
        (h >> 24) % 250 + 2
    )
}

/// The project number Google would show for a project id.
pub(crate) fn project_number(project: &str) -> u64 {
    100_000_000_000 + stable_hash(project) % 900_000_000_000
}

/// The zones the simulator places primaries and standbys in (they exist in every region opsdeck
/// is likely to see: europe-west1 has no zone `a`).
fn zones(region: &str) -> (String, String) {
    (format!("{region}-b"), format!("{region}-c"))
}

/// Cloud SQL Admin `DatabaseInstance` (v1 and v1beta4 share it): a regional Postgres 16 primary.
pub(crate) fn cloud_sql_instance(
    clock: &Clock,
    project: &str,
    region: &str,
    instance: &str,
) -> Value {
    let (zone, standby) = zones(region);
    let settings = json!({
        "kind": "sql#settings",
        "tier": "db-custom-2-7680",
        "edition": "ENTERPRISE",
        "availabilityType": "REGIONAL",
        "settingsVersion": "42",
        "activationPolicy": "ALWAYS",
        "pricingPlan": "PER_USE",
        "replicationType": "SYNCHRONOUS",
        "dataDiskType": "PD_SSD",
        "dataDiskSizeGb": "100",
        "storageAutoResize": true,
        "storageAutoResizeLimit": "0",
        "deletionProtectionEnabled": true,
        "connectorEnforcement": "NOT_REQUIRED",
        "locationPreference": {"kind": "sql#locationPreference", "zone": zone, "secondaryZone": standby},
        "ipConfiguration": {
            "ipv4Enabled": false,
            "privateNetwork": format!("projects/{project}/global/networks/default"),
            "requireSsl": true,
            "sslMode": "ENCRYPTED_ONLY",
            "authorizedNetworks": []
        },
        "backupConfiguration": {
            "kind": "sql#backupConfiguration",
            "enabled": true,
            "startTime": "03:00",
            "location": region,
            "pointInTimeRecoveryEnabled": true,
            "transactionLogRetentionDays": 7,
            "replicationLogArchivingEnabled": false,
            "transactionalLogStorageState": "CLOUD_STORAGE",
            "backupRetentionSettings": {"retentionUnit": "COUNT", "retainedBackups": 7}
        },
        "maintenanceWindow": {"kind": "sql#maintenanceWindow", "day": 7, "hour": 2, "updateTrack": "stable"}
    });
    json!({
        "kind": "sql#instance",
        "name": instance,
        "project": project,
        "region": region,
        "state": "RUNNABLE",
        "databaseVersion": "POSTGRES_16",
        "databaseInstalledVersion": "POSTGRES_16_4",
        "maintenanceVersion": "POSTGRES_16_4.R20240910.01_02",
        "instanceType": "CLOUD_SQL_INSTANCE",
        "backendType": "SECOND_GEN",
        "connectionName": format!("{project}:{region}:{instance}"),
        "gceZone": zone,
        "secondaryGceZone": standby,
        "ipAddresses": [{"type": "PRIVATE", "ipAddress": private_ip(&format!("sql/{project}/{instance}"))}],
        "etag": format!("{}=", &hex(&format!("etag/{instance}"), 12)),
        "serviceAccountEmailAddress": format!("p{}-{}@gcp-sa-cloud-sql.iam.gserviceaccount.com", project_number(project), token(instance, 6)),
        "sqlNetworkArchitecture": "NEW_NETWORK_ARCHITECTURE",
        "settings": settings,
        "selfLink": format!("https://sqladmin.googleapis.com/sql/v1beta4/projects/{project}/instances/{instance}"),
        "createTime": clock.millis(400)
    })
}

/// The two-letter region code in `*.a.run.app` hosts (`europe-west1` → `ew`).
fn region_code(region: &str) -> String {
    region
        .split('-')
        .filter_map(|part| part.chars().next())
        .take(2)
        .collect()
}

/// Cloud Run Admin v2 `Service`: the app container plus an OPA sidecar on localhost:8181, one
/// warm instance, ready on generation 7.
pub(crate) fn cloud_run_service(
    clock: &Clock,
    project: &str,
    location: &str,
    service: &str,
) -> Value {
    let name = format!("projects/{project}/locations/{location}/services/{service}");
    let revision = format!("{name}/revisions/{service}-00007-{}", token(&name, 3));
    let uri = format!(
        "https://{service}-{}-{}.a.run.app",
        token(&format!("uri/{name}"), 10),
        region_code(location)
    );
    let account = format!("{service}@{project}.iam.gserviceaccount.com");
    let ready_at = clock.micros(3, 5);
    json!({
        "name": name,
        "uid": uuid(&name),
        "generation": "7",
        "observedGeneration": "7",
        "labels": {"app": service},
        "createTime": clock.micros(200, 0),
        "updateTime": clock.micros(3, 0),
        "creator": format!("deployer@{project}.iam.gserviceaccount.com"),
        "lastModifier": format!("deployer@{project}.iam.gserviceaccount.com"),
        "ingress": "INGRESS_TRAFFIC_ALL",
        "launchStage": "GA",
        "scaling": {"minInstanceCount": 1},
        "template": {
            "scaling": {"minInstanceCount": 1, "maxInstanceCount": 20},
            "timeout": "300s",
            "serviceAccount": account,
            "maxInstanceRequestConcurrency": 40,
            "executionEnvironment": "EXECUTION_ENVIRONMENT_GEN2",
            "containers": [
                {
                    "name": service,
                    "image": format!("{location}-docker.pkg.dev/{project}/{service}/{service}@sha256:{}", hex(&format!("image/{name}"), 64)),
                    "ports": [{"name": "http1", "containerPort": 8080}],
                    "resources": {"limits": {"cpu": "2", "memory": "4Gi"}, "startupCpuBoost": true},
                    "dependsOn": ["opa"],
                    "startupProbe": {"timeoutSeconds": 240, "periodSeconds": 240, "failureThreshold": 1, "tcpSocket": {"port": 8080}}
                },
                {
                    "name": "opa",
                    "image": "docker.io/openpolicyagent/opa:1.4.2-static",
                    "args": ["run", "--server", "--addr=localhost:8181"],
                    "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                    "startupProbe": {"timeoutSeconds": 1, "periodSeconds": 10, "failureThreshold": 3, "httpGet": {"path": "/health", "port": 8181}}
                }
            ]
        },
        "traffic": [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}],
        "trafficStatuses": [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}],
        "terminalCondition": {"type": "Ready", "state": "CONDITION_SUCCEEDED", "lastTransitionTime": ready_at},
        "conditions": [
            {"type": "RoutesReady", "state": "CONDITION_SUCCEEDED", "lastTransitionTime": ready_at},
            {"type": "ConfigurationsReady", "state": "CONDITION_SUCCEEDED", "lastTransitionTime": clock.micros(3, 2)}
        ],
        "latestReadyRevision": revision,
        "latestCreatedRevision": revision,
        "uri": uri,
        "urls": [format!("https://{service}-{}.{location}.run.app", project_number(project)), uri],
        "etag": format!("\"C{}/{}\"", token(&format!("etag/{name}"), 14).to_uppercase(), token(&name, 24))
    })
}

/// Memorystore for Redis v1 `Instance`: standard tier with one replica in a second zone.
pub(crate) fn memorystore_instance(
    clock: &Clock,
    project: &str,
    location: &str,
    instance: &str,
) -> Value {
    let (zone, alternative) = zones(location);
    let name = format!("projects/{project}/locations/{location}/instances/{instance}");
    json!({
        "name": name,
        "displayName": instance,
        "tier": "STANDARD_HA",
        "state": "READY",
        "locationId": zone,
        "alternativeLocationId": alternative,
        "currentLocationId": zone,
        "redisVersion": "REDIS_7_2",
        "memorySizeGb": 1,
        "replicaCount": 1,
        "readReplicasMode": "READ_REPLICAS_DISABLED",
        "host": private_ip(&format!("redis/{name}")),
        "port": 6378,
        "reservedIpRange": "10.30.0.0/29",
        "authorizedNetwork": format!("projects/{project}/global/networks/default"),
        "connectMode": "PRIVATE_SERVICE_ACCESS",
        "authEnabled": true,
        "transitEncryptionMode": "SERVER_AUTHENTICATION",
        "nodes": [{"id": "node-0", "zone": zone}, {"id": "node-1", "zone": alternative}],
        "persistenceConfig": {"persistenceMode": "DISABLED"},
        "maintenanceVersion": "20250603_00_00",
        "persistenceIamIdentity": format!("serviceAccount:service-{}@cloud-redis.iam.gserviceaccount.com", project_number(project)),
        "createTime": clock.nanos(300)
    })
}

/// Cloud Tasks `Queue` with its v2beta3 `stats` (the caller drops what a version lacks).
pub(crate) fn cloud_tasks_queue(project: &str, location: &str, queue: &str) -> Value {
    json!({
        "name": format!("projects/{project}/locations/{location}/queues/{queue}"),
        "state": "RUNNING",
        "type": "PUSH",
        "rateLimits": {"maxDispatchesPerSecond": 500, "maxBurstSize": 100, "maxConcurrentDispatches": 1000},
        "retryConfig": {"maxAttempts": 100, "minBackoff": "0.100s", "maxBackoff": "3600s", "maxDoublings": 16},
        "stats": {"tasksCount": "4", "executedLastMinuteCount": "212", "concurrentDispatchesCount": "3", "effectiveExecutionRate": 500}
    })
}

/// The body of a `gcp_rest` resource, chosen by the API host and the path's collections.
/// `name` is the resource name (the path without its version prefix); `region` is where the
/// estate puts it, for resources whose path names no location.
pub(crate) fn rest_resource(
    clock: &Clock,
    host: &str,
    path: &str,
    name: &str,
    region: &str,
) -> Value {
    let segments: Vec<&str> = name.split('/').filter(|s| !s.is_empty()).collect();
    let last_collection = segments
        .len()
        .checked_sub(2)
        .and_then(|i| segments.get(i))
        .copied();
    let api = host.split('.').next().unwrap_or_default();
    let project = segment_after(&segments, "projects").unwrap_or("sim-project");
    let location = segment_after(&segments, "locations").unwrap_or(region);
    let id = segments.last().copied().unwrap_or_default();

    match (api, last_collection) {
        (_, Some("cryptoKeys")) => kms_crypto_key(clock, name),
        (_, Some("cryptoKeyVersions")) => kms_key_version(clock, name),
        (_, Some("keyRings")) => json!({"name": name, "createTime": clock.micros(500, 0)}),
        (_, Some("versions")) if segments.contains(&"secrets") => secret_version(clock, &segments),
        (_, Some("secrets")) => json!({
            "name": format!("projects/{}/secrets/{id}", project_number(project)),
            "replication": {"automatic": {}},
            "createTime": clock.micros(500, 0),
            "etag": format!("\"{}\"", hex(name, 13)),
            "versionAliases": {}
        }),
        (_, Some("connectors")) => json!({
            "name": name,
            "network": "default",
            "ipCidrRange": "10.8.0.0/28",
            "state": "READY",
            "minThroughput": 200,
            "maxThroughput": 1000,
            "minInstances": 2,
            "maxInstances": 10,
            "machineType": "e2-micro",
            "connectedProjects": [project]
        }),
        (_, Some("jobs")) if segments.contains(&"locations") => json!({
            "name": name,
            "schedule": "*/5 * * * *",
            "timeZone": "Etc/UTC",
            "state": "ENABLED",
            "httpTarget": {"uri": format!("https://{id}.example.com/run"), "httpMethod": "POST"},
            "userUpdateTime": clock.micros(30, 0),
            "scheduleTime": clock.micros(-1, 0),
            "lastAttemptTime": clock.micros(0, -300),
            "status": {},
            "attemptDeadline": "180s",
            "retryConfig": {"maxRetryDuration": "0s", "minBackoffDuration": "5s", "maxBackoffDuration": "3600s", "maxDoublings": 5}
        }),
        ("storage", Some("b")) => json!({
            "kind": "storage#bucket",
            "selfLink": format!("https://www.googleapis.com/storage/v1/b/{id}"),
            "id": id,
            "name": id,
            "projectNumber": project_number(id).to_string(),
            "metageneration": "1",
            "location": location.to_uppercase(),
            "storageClass": "STANDARD",
            "etag": "CAE=",
            "timeCreated": clock.millis(500),
            "updated": clock.millis(500),
            "locationType": "region",
            "iamConfiguration": {"uniformBucketLevelAccess": {"enabled": true}, "publicAccessPrevention": "enforced"},
            "rpo": "DEFAULT"
        }),
        ("pubsub", Some("subscriptions")) => json!({
            "name": name,
            "topic": format!("projects/{project}/topics/{id}"),
            "pushConfig": {},
            "ackDeadlineSeconds": 10,
            "messageRetentionDuration": "604800s",
            "expirationPolicy": {},
            "state": "ACTIVE"
        }),
        ("pubsub", Some("topics")) => {
            json!({"name": name, "messageStoragePolicy": {"allowedPersistenceRegions": [location]}})
        }
        ("sqladmin", Some("instances")) => cloud_sql_instance(clock, project, location, id),
        ("run", Some("services")) => cloud_run_service(clock, project, location, id),
        ("redis", Some("instances")) => memorystore_instance(clock, project, location, id),
        _ => {
            tracing::debug!(
                host,
                path,
                "no specific shape for this resource; answering with its name"
            );
            json!({"name": name})
        }
    }
}

fn segment_after<'a>(segments: &[&'a str], collection: &str) -> Option<&'a str> {
    let i = segments.iter().position(|s| *s == collection)?;
    segments.get(i + 1).copied()
}

fn kms_crypto_key(clock: &Clock, name: &str) -> Value {
    json!({
        "name": name,
        "primary": kms_key_version(clock, &format!("{name}/cryptoKeyVersions/1")),
        "purpose": "ENCRYPT_DECRYPT",
        "createTime": clock.micros(500, 0),
        "nextRotationTime": clock.micros(-60, 0),
        "rotationPeriod": "7776000s",
        "versionTemplate": {"protectionLevel": "SOFTWARE", "algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION"},
        "destroyScheduledDuration": "2592000s"
    })
}

fn kms_key_version(clock: &Clock, name: &str) -> Value {
    json!({
        "name": name,
        "state": "ENABLED",
        "createTime": clock.micros(500, 0),
        "protectionLevel": "SOFTWARE",
        "algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION",
        "generateTime": clock.micros(500, 0)
    })
}

/// Secret Manager answers with the project number and the resolved version, even when asked
/// for `projects/{id}/secrets/{s}/versions/latest`.
fn secret_version(clock: &Clock, segments: &[&str]) -> Value {
    let project = segment_after(segments, "projects").unwrap_or("sim-project");
    let secret = segment_after(segments, "secrets").unwrap_or_default();
    let version = match segment_after(segments, "versions") {
        Some("latest") | None => "3",
        Some(v) => v,
    };
    json!({
        "name": format!("projects/{}/secrets/{secret}/versions/{version}", project_number(project)),
        "createTime": clock.micros(90, 0),
        "state": "ENABLED",
        "replicationStatus": {"automatic": {}},
        "etag": format!("\"{}\"", hex(&format!("{secret}/{version}"), 13)),
        "clientSpecifiedPayloadChecksum": true
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> Clock {
        Clock { now: Utc::now() }
    }

    #[test]
    fn generated_names_are_stable_and_well_formed() {
        assert_eq!(token("x", 10), token("x", 10));
        assert_eq!(token("x", 30).len(), 30);
        assert_eq!(uuid("a").len(), 36);
        assert_eq!(region_code("europe-west1"), "ew");
        assert_eq!(region_code("us-central1"), "uc");
        let n = project_number("tappass-prod");
        assert!((100_000_000_000..1_000_000_000_000).contains(&n));
    }

    #[test]
    fn rest_bodies_follow_the_api() {
        let c = clock();
        let kms = rest_resource(
            &c,
            "cloudkms.googleapis.com",
            "/v1/projects/p/locations/l/keyRings/r/cryptoKeys/k",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k",
            "l",
        );
        assert_eq!(kms["primary"]["state"], "ENABLED");
        assert_eq!(
            kms["primary"]["name"],
            "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1"
        );
        let secret = rest_resource(
            &c,
            "secretmanager.googleapis.com",
            "/v1/projects/p/secrets/s/versions/latest",
            "projects/p/secrets/s/versions/latest",
            "l",
        );
        assert_eq!(secret["state"], "ENABLED");
        assert!(
            secret["name"]
                .as_str()
                .is_some_and(|n| n.ends_with("/secrets/s/versions/3"))
        );
        let bucket = rest_resource(
            &c,
            "storage.googleapis.com",
            "/storage/v1/b/bk",
            "b/bk",
            "africa-south1",
        );
        assert_eq!(bucket["name"], "bk");
        assert_eq!(bucket["location"], "AFRICA-SOUTH1");
        let job = rest_resource(
            &c,
            "cloudscheduler.googleapis.com",
            "/v1/projects/p/locations/l/jobs/j",
            "projects/p/locations/l/jobs/j",
            "l",
        );
        assert_eq!(job["state"], "ENABLED");
        let other = rest_resource(
            &c,
            "example.googleapis.com",
            "/v1/things/t",
            "things/t",
            "l",
        );
        assert_eq!(other, json!({"name": "things/t"}));
    }
}

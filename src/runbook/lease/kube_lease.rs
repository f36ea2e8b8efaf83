//! The Kubernetes lease: a `coordination.k8s.io/v1` Lease object named after the estate and
//! target. `spec.holderIdentity` names the holder for kubectl users; the full holder record is
//! in the `opsdeck.dev/holder` annotation. Taking over a stale lease is a replace with the
//! resource version just read, so of two operators racing, the API server lets one win.

use std::path::PathBuf;

use chrono::Utc;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::{Holder, LeaseError, LeaseSpot};

const ANNOTATION: &str = "opsdeck.dev/holder";

/// The Lease API in `namespace` of `context`.
pub(super) async fn api(
    kubeconfig: Option<&PathBuf>,
    context: Option<&str>,
    namespace: &str,
) -> Result<Api<Lease>, String> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..KubeConfigOptions::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .map_err(|e| format!("cannot read kubeconfig '{}': {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| e.to_string())?
        }
        None => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| e.to_string())?,
    };
    let client = kube::Client::try_from(config).map_err(|e| e.to_string())?;
    Ok(Api::namespaced(client, namespace))
}

fn record(spot: &LeaseSpot, me: &Holder, resource_version: Option<String>) -> Lease {
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert(
        ANNOTATION.to_string(),
        serde_json::to_string(me).unwrap_or_default(),
    );
    Lease {
        metadata: ObjectMeta {
            name: Some(spot.name.clone()),
            annotations: Some(annotations),
            resource_version,
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(format!("{} ({})", me.who, me.run)),
            lease_duration_seconds: Some(i32::try_from(spot.ttl.as_secs()).unwrap_or(300)),
            acquire_time: Some(MicroTime(to_jiff(me.acquired_at))),
            renew_time: Some(MicroTime(to_jiff(Utc::now()))),
            ..LeaseSpec::default()
        }),
    }
}

/// The holder a Lease records: the annotation, else what its spec says.
fn holder_of(lease: &Lease) -> Option<Holder> {
    if let Some(h) = lease
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION))
        .and_then(|t| serde_json::from_str::<Holder>(t).ok())
    {
        return Some(h);
    }
    let spec = lease.spec.as_ref()?;
    let who = spec.holder_identity.clone()?;
    let renewed = spec
        .renew_time
        .as_ref()
        .map_or_else(Utc::now, |t| from_jiff(t.0));
    let secs = i64::from(spec.lease_duration_seconds.unwrap_or(0));
    Some(Holder {
        who: who.clone(),
        host: String::new(),
        pid: 0,
        run: who,
        runbook: "(not opsdeck)".to_string(),
        acquired_at: spec
            .acquire_time
            .as_ref()
            .map_or(renewed, |t| from_jiff(t.0)),
        expires_at: renewed + chrono::Duration::seconds(secs),
    })
}

fn to_jiff(t: chrono::DateTime<Utc>) -> k8s_openapi::jiff::Timestamp {
    k8s_openapi::jiff::Timestamp::from_microsecond(t.timestamp_micros())
        .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)
}

fn from_jiff(t: k8s_openapi::jiff::Timestamp) -> chrono::DateTime<Utc> {
    chrono::DateTime::from_timestamp_micros(t.as_microsecond()).unwrap_or_default()
}

fn api_error(spot: &LeaseSpot, e: &kube::Error) -> LeaseError {
    spot.backend_error(match e {
        kube::Error::Api(s) => format!("{} ({} {})", s.message, s.code, s.reason),
        other => other.to_string(),
    })
}

fn is_code(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

pub(super) async fn acquire(
    spot: &LeaseSpot,
    api: &Api<Lease>,
    me: &Holder,
    reclaim: Option<&str>,
) -> Result<(), LeaseError> {
    let current = api
        .get_opt(&spot.name)
        .await
        .map_err(|e| api_error(spot, &e))?;
    let outcome = match current {
        None => api
            .create(&PostParams::default(), &record(spot, me, None))
            .await
            .map(|_| ()),
        Some(lease) => {
            if let Some(h) = holder_of(&lease).filter(|h| !LeaseSpot::may_take(h, me, reclaim)) {
                return Err(spot.held(h));
            }
            let version = lease.metadata.resource_version.clone();
            api.replace(
                &spot.name,
                &PostParams::default(),
                &record(spot, me, version),
            )
            .await
            .map(|_| ())
        }
    };
    match outcome {
        Ok(()) => Ok(()),
        // Someone else created or replaced it between our read and our write: they won.
        Err(e) if is_code(&e, 409) => {
            let winner = api
                .get_opt(&spot.name)
                .await
                .ok()
                .flatten()
                .and_then(|l| holder_of(&l));
            Err(match winner {
                Some(h) => spot.held(h),
                None => api_error(spot, &e),
            })
        }
        Err(e) => Err(api_error(spot, &e)),
    }
}

pub(super) async fn renew(
    spot: &LeaseSpot,
    api: &Api<Lease>,
    me: &Holder,
) -> Result<(), LeaseError> {
    let lease = api
        .get_opt(&spot.name)
        .await
        .map_err(|e| api_error(spot, &e))?;
    let Some(lease) = lease else {
        return Err(LeaseError::Lost {
            target: spot.target.clone(),
            why: format!("the Lease {} was deleted", spot.name),
        });
    };
    match holder_of(&lease) {
        Some(h) if h.run == me.run => {}
        Some(h) => {
            return Err(LeaseError::Lost {
                target: spot.target.clone(),
                why: format!("it is now held by {}", h.describe()),
            });
        }
        None => {}
    }
    let mut next = me.clone();
    next.expires_at =
        Utc::now() + chrono::Duration::from_std(spot.ttl).unwrap_or(chrono::Duration::minutes(5));
    api.replace(
        &spot.name,
        &PostParams::default(),
        &record(spot, &next, lease.metadata.resource_version.clone()),
    )
    .await
    .map(|_| ())
    .map_err(|e| {
        if is_code(&e, 409) {
            LeaseError::Lost {
                target: spot.target.clone(),
                why: "it was changed by someone else".to_string(),
            }
        } else {
            api_error(spot, &e)
        }
    })
}

pub(super) async fn release(
    spot: &LeaseSpot,
    api: &Api<Lease>,
    me: &Holder,
) -> Result<(), LeaseError> {
    let lease = api
        .get_opt(&spot.name)
        .await
        .map_err(|e| api_error(spot, &e))?;
    let Some(lease) = lease else { return Ok(()) };
    if holder_of(&lease).is_some_and(|h| h.run != me.run) {
        return Ok(());
    }
    match api.delete(&spot.name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(e) if is_code(&e, 404) => Ok(()),
        Err(e) => Err(api_error(spot, &e)),
    }
}

pub(super) async fn holder(
    spot: &LeaseSpot,
    api: &Api<Lease>,
) -> Result<Option<Holder>, LeaseError> {
    let lease = api
        .get_opt(&spot.name)
        .await
        .map_err(|e| api_error(spot, &e))?;
    Ok(lease.as_ref().and_then(holder_of))
}

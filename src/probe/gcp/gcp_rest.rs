//! The `gcp_rest` probe: GET any Google REST resource (a KMS key, a Secret Manager secret
//! version, a VPC connector, a Scheduler job) and evaluate the estate's condition on it.

use crate::condition::Condition;
use crate::model::{Observation, Outcome, Status};

use super::GoogleClient;

pub async fn probe(
    client: &GoogleClient,
    url: &str,
    up_when: &str,
    degraded_when: Option<&str>,
) -> Outcome {
    let target = client.rewrite(url);
    let api = api_of(url);
    match client.get_json(&target).await {
        Ok(doc) => Outcome::Observed(observe(&doc, up_when, degraded_when)),
        Err(e) => e.outcome(&api, &format!("the resource {}", resource_name(url))),
    }
}

/// The status of a resource document under the estate's conditions.
pub fn observe(doc: &serde_json::Value, up_when: &str, degraded_when: Option<&str>) -> Observation {
    let up = match Condition::parse(up_when) {
        Ok(c) => c,
        Err(e) => {
            return Observation::unknown(format!("up_when \"{up_when}\" does not parse: {e}"));
        }
    };
    let degraded = degraded_when.and_then(|d| Condition::parse(d).ok());
    if !up.eval(doc) {
        let why = format!("up_when `{}` is false: {}", up.source(), up.explain(doc));
        return Observation::down(why);
    }
    if let Some(d) = degraded.filter(|d| d.eval(doc)) {
        let why = format!("degraded_when `{}` holds: {}", d.source(), d.explain(doc));
        let mut obs = Observation::new(Status::Degraded, why.clone());
        obs.error = Some(why);
        return obs;
    }
    Observation::new(Status::Up, up.explain(doc))
}

/// "cloudkms" from `https://cloudkms.googleapis.com/...`, for messages.
fn api_of(url: &str) -> String {
    let host = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or(url);
    let api = host.split('.').next().unwrap_or(host);
    format!("Google API {api}")
}

/// The last two path segments ("cryptoKeys/vault-dek").
fn resource_name(url: &str) -> String {
    let parts: Vec<&str> = url.trim_end_matches('/').rsplit('/').take(2).collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn condition_decides_and_explains() {
        let key = json!({"primary": {"state": "ENABLED"}});
        let obs = observe(&key, r#"primary.state == "ENABLED""#, None);
        assert_eq!(obs.status, Status::Up);
        assert_eq!(obs.summary, "primary.state is \"ENABLED\"");
        let off = json!({"primary": {"state": "DISABLED"}});
        let obs = observe(&off, r#"primary.state == "ENABLED""#, None);
        assert_eq!(obs.status, Status::Down);
        assert_eq!(
            obs.error.as_deref(),
            Some("up_when `primary.state == \"ENABLED\"` is false: primary.state is \"DISABLED\"")
        );
    }

    #[test]
    fn names_for_messages() {
        assert_eq!(
            api_of("https://cloudkms.googleapis.com/v1/x"),
            "Google API cloudkms"
        );
        assert_eq!(
            resource_name("https://x/v1/a/cryptoKeys/vault-dek"),
            "cryptoKeys/vault-dek"
        );
    }
}

//! Blindness: when opsdeck cannot see (Google credentials expired or missing, permission
//! denied, an API disabled, quota exhausted, a cluster unreachable), the services it cannot
//! ask about are grouped by cause into one banner each, with the fix, instead of a column of
//! unexplained `unknown` rows. Pure.
//!
//! A service counts when its own status is unknown or its data is stale, and the error its
//! probe reported reads as one of the causes below. The sentences are the probes' own
//! (`probe::gcp::GoogleError::sentence`, the kube probe's "cannot use kube context…" and
//! "the Kubernetes API of … cannot list…"), so the rules match what the probes write; the
//! tests hold both ends together. To add a cause: a [`Cause`] variant, its words in
//! [`Cause::message`] and [`Cause::fix`], and a rule in [`classify`].

use serde::Serialize;

use super::Status;
use super::snapshot::ServiceView;
use crate::estate::{Estate, Kind, Target};

/// Why opsdeck cannot see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Google rejected the credentials (401), or there are none.
    GoogleCredentials,
    /// Google answered 403 PERMISSION_DENIED.
    GooglePermission,
    /// An API is not enabled in the project.
    GoogleApiDisabled,
    /// 429 RESOURCE_EXHAUSTED.
    GoogleQuota,
    /// No answer from the Google APIs.
    GoogleUnreachable,
    /// The cluster's credentials were rejected or have expired.
    KubeCredentials,
    /// The kube context cannot be used (missing from the kubeconfig, unreadable file).
    KubeConfig,
    /// The cluster's API server does not answer or cannot list.
    KubeUnreachable,
}

impl Cause {
    /// What is wrong, in a few words, for `scope` (a kube context or a Google project).
    pub fn message(self, scope: &str) -> String {
        match self {
            Cause::GoogleCredentials => "Google credentials expired or missing".to_string(),
            Cause::GooglePermission => format!("Google denies permission in {scope}"),
            Cause::GoogleApiDisabled => format!("a Google API is disabled in {scope}"),
            Cause::GoogleQuota => format!("Google API quota exhausted in {scope}"),
            Cause::GoogleUnreachable => "the Google APIs do not answer".to_string(),
            Cause::KubeCredentials => format!("credentials for {scope} expired or rejected"),
            Cause::KubeConfig => format!("{scope} cannot be used"),
            Cause::KubeUnreachable => format!("the Kubernetes API of {scope} is unreachable"),
        }
    }

    /// What to do about it.
    pub fn fix(self, context: Option<&str>) -> String {
        let ctx = context.map_or_else(String::new, |c| format!(" --context {c}"));
        match self {
            Cause::GoogleCredentials => "run `gcloud auth application-default login`".to_string(),
            Cause::GooglePermission => {
                "grant the account opsdeck runs as a viewer role on the project (roles/viewer)"
                    .to_string()
            }
            Cause::GoogleApiDisabled => {
                "enable the API named in the error: `gcloud services enable <api>.googleapis.com`"
                    .to_string()
            }
            Cause::GoogleQuota => {
                "opsdeck backs off and retries; wait for the quota window or raise the quota"
                    .to_string()
            }
            Cause::GoogleUnreachable => {
                "check this host's network and proxy to *.googleapis.com".to_string()
            }
            Cause::KubeCredentials => format!(
                "log in to the cluster again (e.g. `gcloud container clusters get-credentials …`), then `kubectl{ctx} auth whoami`"
            ),
            Cause::KubeConfig => "check the kubeconfig: `kubectl config get-contexts`".to_string(),
            Cause::KubeUnreachable => format!("check the cluster: `kubectl{ctx} cluster-info`"),
        }
    }
}

/// One group of services opsdeck cannot see, for one cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Blindness {
    pub cause: Cause,
    /// "Google Cloud project 'tappass-prod'", "kube context 'gke-eu'".
    pub scope: String,
    /// What is wrong, one sentence.
    pub message: String,
    /// What to do about it.
    pub fix: String,
    /// The affected service ids, in the snapshot's order (worst first).
    pub services: Vec<String>,
}

/// The cause an error sentence reads as, for a service of `kind`.
pub fn classify(kind: Kind, error: &str) -> Option<Cause> {
    let e = error.to_ascii_lowercase();
    if kind.is_google() {
        return if e.contains("answered 401") || e.starts_with("no google credentials") {
            Some(Cause::GoogleCredentials)
        } else if e.contains("answered 403")
            && (e.contains("has not been used") || e.contains("is disabled"))
        {
            Some(Cause::GoogleApiDisabled)
        } else if e.contains("answered 403") {
            Some(Cause::GooglePermission)
        } else if e.contains("answered 429") {
            Some(Cause::GoogleQuota)
        } else if e.contains(" unreachable: ") || e.contains("cannot get an access token") {
            Some(Cause::GoogleUnreachable)
        } else {
            None
        };
    }
    if kind == Kind::K8sWorkload {
        let rejected = e.contains("401")
            || e.contains("unauthorized")
            || e.contains("token has expired")
            || e.contains("credentials");
        return if rejected
            && (e.starts_with("cannot use kube context")
                || e.contains("kubernetes api of")
                || e.contains("the watch of"))
        {
            Some(Cause::KubeCredentials)
        } else if e.starts_with("cannot use ") {
            Some(Cause::KubeConfig)
        } else if e.contains("kubernetes api of") || e.starts_with("the watch of") {
            Some(Cause::KubeUnreachable)
        } else {
            None
        };
    }
    None
}

/// Groups the services opsdeck cannot see by cause and scope, largest group first.
pub fn group(estate: &Estate, services: &[ServiceView]) -> Vec<Blindness> {
    let mut groups: Vec<(Cause, String, Option<String>, Vec<String>)> = Vec::new();
    for s in services {
        if s.pending || !(s.status == Status::Unknown || s.stale) {
            continue;
        }
        let Some(error) = s.error.as_deref() else {
            continue;
        };
        let Some(cause) = classify(s.kind, error) else {
            continue;
        };
        let svc = estate.services.get(s.index);
        let (scope, context) = match svc.map(|x| &x.target) {
            Some(Target::K8sWorkload { context, .. }) => (
                context.as_deref().map_or_else(
                    || "the current kube context".to_string(),
                    |c| format!("kube context '{c}'"),
                ),
                context.clone(),
            ),
            Some(t) => (
                project_of(t).map_or_else(
                    || "Google Cloud".to_string(),
                    |p| format!("Google Cloud project '{p}'"),
                ),
                None,
            ),
            None => ("Google Cloud".to_string(), None),
        };
        // Credentials and reachability are the host's, not the project's: one group.
        let scope = match cause {
            Cause::GoogleCredentials | Cause::GoogleUnreachable => "Google Cloud".to_string(),
            _ => scope,
        };
        match groups
            .iter_mut()
            .find(|(c, sc, ..)| *c == cause && *sc == scope)
        {
            Some(g) => g.3.push(s.id.clone()),
            None => groups.push((cause, scope, context, vec![s.id.clone()])),
        }
    }
    let mut out: Vec<Blindness> = groups
        .into_iter()
        .map(|(cause, scope, context, services)| Blindness {
            cause,
            message: cause.message(&scope),
            fix: cause.fix(context.as_deref()),
            scope,
            services,
        })
        .collect();
    out.sort_by(|a, b| {
        b.services
            .len()
            .cmp(&a.services.len())
            .then(a.cause.cmp(&b.cause))
    });
    out
}

fn project_of(target: &Target) -> Option<&str> {
    match target {
        Target::CloudRun { project, .. }
        | Target::CloudSql { project, .. }
        | Target::CloudTasks { project, .. }
        | Target::Memorystore { project, .. }
        | Target::PubsubSubscription { project, .. } => Some(project),
        Target::GcpRest { url, .. } => url
            .split("/projects/")
            .nth(1)
            .and_then(|rest| rest.split('/').next()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::gcp::GoogleError;

    fn api(code: u16, message: &str) -> String {
        GoogleError::Api {
            code,
            status: None,
            message: message.to_string(),
            retry_after: None,
        }
        .sentence("Cloud Run Admin API")
    }

    #[test]
    fn google_error_sentences_read_as_their_causes() {
        let cases = [
            (
                api(401, "Request had invalid authentication credentials."),
                Some(Cause::GoogleCredentials),
            ),
            (
                GoogleError::Credentials("the token expired".into()).sentence("X"),
                Some(Cause::GoogleCredentials),
            ),
            (
                api(403, "The caller does not have permission"),
                Some(Cause::GooglePermission),
            ),
            (
                api(
                    403,
                    "Cloud Run Admin API has not been used in project 1 before or it is disabled.",
                ),
                Some(Cause::GoogleApiDisabled),
            ),
            (api(429, "Quota exceeded"), Some(Cause::GoogleQuota)),
            (
                GoogleError::Transport("connection refused".into()).sentence("Cloud Run Admin API"),
                Some(Cause::GoogleUnreachable),
            ),
            (api(404, "not found"), None),
            (api(500, "internal"), None),
        ];
        for (sentence, want) in cases {
            assert_eq!(classify(Kind::CloudRun, &sentence), want, "{sentence}");
        }
    }

    #[test]
    fn kube_sentences_read_as_their_causes() {
        assert_eq!(
            classify(
                Kind::K8sWorkload,
                "cannot use kube context 'gke-eu': context not found"
            ),
            Some(Cause::KubeConfig)
        );
        assert_eq!(
            classify(
                Kind::K8sWorkload,
                "the Kubernetes API of context 'gke-eu' cannot list deployments: error trying to connect: tcp connect error"
            ),
            Some(Cause::KubeUnreachable)
        );
        assert_eq!(
            classify(
                Kind::K8sWorkload,
                "the watch of pods on context 'gke-eu' is failing: ApiError: Unauthorized (401)"
            ),
            Some(Cause::KubeCredentials)
        );
        assert_eq!(classify(Kind::K8sWorkload, "no pod is ready"), None);
        assert_eq!(
            classify(Kind::Redis, "answered 401"),
            None,
            "only Google and cluster probes say blindness"
        );
    }

    fn estate() -> Estate {
        crate::estate::from_str(
            r#"
name = "t"
environment = "prod"
[gcp]
project = "p1"
[[region]]
id = "eu"
gcp_region = "europe-west1"
kube_context = "gke-eu"
[[service]]
id = "api"
kind = "cloud_run"
region = "eu"
service = "api"
sev = 1
[[service]]
id = "sql"
kind = "cloud_sql"
region = "eu"
instance = "db"
sev = 1
[[service]]
id = "tasks"
kind = "cloud_tasks"
region = "eu"
queue = "q"
sev = 3
[[service]]
id = "workers"
kind = "k8s_workload"
region = "eu"
namespace = "jobs"
workload = "deployment/workers"
sev = 2
[[service]]
id = "cache"
kind = "redis"
url = "redis://10.0.0.1:6379"
sev = 2
"#,
            "<test>",
        )
        .map(|(e, _)| e)
        .expect("estate")
    }

    /// One report: `Ok` an observation with this status and error, `Err` a failed
    /// (retryable) refresh.
    type Report<'a> = (&'a str, Result<(Status, &'a str), &'a str>);

    /// The blindness after one report per listed service.
    fn snapshot(estate: Estate, reports: &[Report<'_>]) -> Vec<Blindness> {
        let estate = std::sync::Arc::new(estate);
        let mut model = crate::model::Model::new(std::sync::Arc::clone(&estate));
        let at = chrono::Utc::now();
        for (id, report) in reports {
            let outcome = match report {
                Ok((status, error)) => {
                    let mut obs = crate::model::Observation::new(*status, "x");
                    obs.error = (!error.is_empty()).then(|| (*error).to_string());
                    crate::model::Outcome::Observed(obs)
                }
                Err(error) => crate::model::Outcome::Failed {
                    error: (*error).to_string(),
                    retry_after: None,
                },
            };
            model.apply(crate::model::ProbeReport {
                service: estate.index_of(id).expect("service"),
                at,
                outcome,
            });
        }
        model.snapshot(at).blind
    }

    #[test]
    fn blind_services_group_by_cause_with_the_fix() {
        let expired = api(401, "Request had invalid authentication credentials.");
        let quota = api(429, "Quota exceeded");
        let groups = snapshot(
            estate(),
            &[
                ("api", Ok((Status::Unknown, expired.as_str()))),
                ("sql", Ok((Status::Unknown, expired.as_str()))),
                ("tasks", Err(quota.as_str())),
                (
                    "workers",
                    Err(
                        "the Kubernetes API of context 'gke-eu' cannot list deployments: connection refused",
                    ),
                ),
                ("cache", Ok((Status::Down, "connection refused"))),
            ],
        );
        assert_eq!(groups.len(), 3, "{groups:#?}");
        assert_eq!(groups[0].cause, Cause::GoogleCredentials);
        assert_eq!(groups[0].services, ["api", "sql"]);
        assert_eq!(groups[0].message, "Google credentials expired or missing");
        assert_eq!(groups[0].fix, "run `gcloud auth application-default login`");
        assert_eq!(groups[1].cause, Cause::GoogleQuota);
        assert_eq!(groups[1].scope, "Google Cloud project 'p1'");
        assert_eq!(groups[1].services, ["tasks"]);
        assert_eq!(groups[2].cause, Cause::KubeUnreachable);
        assert_eq!(groups[2].services, ["workers"]);
        assert_eq!(
            groups[2].fix,
            "check the cluster: `kubectl --context gke-eu cluster-info`"
        );
    }

    #[test]
    fn a_service_that_answers_is_never_blind() {
        let groups = snapshot(
            estate(),
            &[
                ("api", Ok((Status::Up, ""))),
                ("sql", Ok((Status::Down, "the instance is FAILED"))),
                ("cache", Ok((Status::Unknown, "answered 401"))),
            ],
        );
        assert!(groups.is_empty(), "{groups:#?}");
    }
}

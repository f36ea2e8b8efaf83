//! The estate: what exists, where, how much it matters and what depends on what. Pure data,
//! loaded and validated from the estate file; no IO beyond reading that file, no async, no
//! terminal. Every other layer reads it; nothing mutates it after loading.

mod graph;
pub mod kind;
mod lease;
mod load;
pub mod maintenance;
pub mod node;
pub(crate) mod reader;
mod resolve;
mod service;
mod sev;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use kind::Kind;
pub use lease::{LeaseBackend, LeaseConfig};
pub use load::{Diagnostic, Level, LoadError, from_str, from_str_with_env, load_file};
pub use maintenance::{Maintenance, Opening, Zone};
pub use sev::Sev;

/// The built-in demo estate (modelled on seed 002's failure map, across two regions).
pub const DEMO_ESTATE: &str = include_str!("../fixtures/estates/demo.toml");

/// Sample estates shipped with the binary, by file stem.
pub const SAMPLE_ESTATES: &[(&str, &str)] = &[
    ("demo", DEMO_ESTATE),
    ("lumieos", include_str!("../fixtures/estates/lumieos.toml")),
    ("sartiq", include_str!("../fixtures/estates/sartiq.toml")),
    ("tappass", include_str!("../fixtures/estates/tappass.toml")),
    (
        "epfl-k8s",
        include_str!("../fixtures/estates/epfl-k8s.toml"),
    ),
    ("deplate", include_str!("../fixtures/estates/deplate.toml")),
];

/// A validated estate.
#[derive(Debug, Clone, PartialEq)]
pub struct Estate {
    /// Where it was read from (a path, or `<demo>`), used in messages.
    pub source: String,
    pub name: String,
    /// `prod`, `staging`, `dev`…: drives the banner colour in the console.
    pub environment: String,
    pub rto: Option<Duration>,
    pub rpo: Option<Duration>,
    /// Refuse every action when set.
    pub read_only: bool,
    /// Where runbook runs take their per-target lease (`[lease]`; a local file by default).
    pub lease: LeaseConfig,
    /// Display names of SEV 1–4 (default `SEV1`…`SEV4`).
    pub sev_names: [String; 4],
    pub gcp: Option<Gcp>,
    /// The kubeconfig for `k8s_workload` services (else `$KUBECONFIG`, `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
    pub regions: Vec<Region>,
    pub services: Vec<Service>,
    /// Recurring `[[maintenance]]` windows: their services are shown silenced while open.
    pub maintenance: Vec<Maintenance>,
}

/// How opsdeck reaches Google Cloud.
#[derive(Debug, Clone, PartialEq)]
pub struct Gcp {
    /// Default project for every Google service.
    pub project: Option<String>,
    /// Root URL replacing `https://*.googleapis.com/` (a simulator or private endpoint).
    pub endpoint: Option<String>,
    pub auth: GcpAuth,
}

/// Where Google credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GcpAuth {
    /// Application Default Credentials (key file, gcloud login, or the metadata server).
    Adc,
    /// A metadata server at this root URL (the simulator, or a GCE host's own).
    Metadata(String),
    /// No credentials: only allowed for a loopback endpoint.
    None,
}

/// One region of the estate (a GCP region, a cluster, a data centre).
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub id: String,
    /// The GCP region name (`europe-west1`) used in API paths.
    pub gcp_region: Option<String>,
    /// The project for Google services in this region, overriding `[gcp] project`.
    pub project: Option<String>,
    /// The kubeconfig context for Kubernetes workloads in this region.
    pub kube_context: Option<String>,
}

/// One service on the failure map.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub kind: Kind,
    /// The estate region id, if the service belongs to one.
    pub region: Option<String>,
    /// The SEV of this service's full outage.
    pub sev: Sev,
    /// What keeps working when this service is down (shown on the failure map).
    pub fallback: Option<String>,
    pub depends_on: Vec<Dependency>,
    pub owner: Option<String>,
    pub escalation: Option<String>,
    pub runbooks: Vec<String>,
    /// How often it is polled.
    pub interval: Duration,
    /// How long one probe may take.
    pub timeout: Duration,
    pub target: Target,
}

/// A dependency edge: this service needs `id`, possibly with a fallback.
#[derive(Debug, Clone, PartialEq)]
pub struct Dependency {
    pub id: String,
    /// What the dependent does while `id` is down; `None` means it cannot serve.
    pub fallback: Option<String>,
    /// How long the fallback holds; `None` means for as long as needed.
    pub fallback_for: Option<Duration>,
}

/// Queue thresholds: depth and age that make a queue degraded or down.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Thresholds {
    pub warn_depth: Option<u64>,
    pub crit_depth: Option<u64>,
    pub max_oldest_age: Option<Duration>,
}

/// Celery or Laravel queue layout on a Redis list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueFormat {
    Celery,
    Laravel,
}

/// Which Kubernetes workload kind a `k8s_workload` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

impl WorkloadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployment",
            WorkloadKind::StatefulSet => "statefulset",
            WorkloadKind::DaemonSet => "daemonset",
        }
    }
}

/// What to probe, per kind: the locator keys of architecture.md's kinds table.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    CloudRun {
        project: String,
        location: String,
        service: String,
    },
    CloudSql {
        project: String,
        instance: String,
    },
    CloudTasks {
        project: String,
        location: String,
        queue: String,
        thresholds: Thresholds,
    },
    Memorystore {
        project: String,
        location: String,
        instance: String,
    },
    GcpRest {
        url: String,
        up_when: String,
        degraded_when: Option<String>,
    },
    PubsubSubscription {
        project: String,
        subscription: String,
        thresholds: Thresholds,
    },
    K8sWorkload {
        context: Option<String>,
        namespace: String,
        workload: WorkloadKind,
        name: String,
    },
    Redis {
        url: String,
        password_env: Option<String>,
        sentinel_master: Option<String>,
    },
    RedisQueue {
        url: String,
        password_env: Option<String>,
        queue: String,
        format: QueueFormat,
        thresholds: Thresholds,
    },
    RabbitmqQueue {
        url: String,
        vhost: String,
        queue: String,
        user: Option<String>,
        password_env: Option<String>,
        thresholds: Thresholds,
    },
    Postgres {
        url: String,
        password_env: Option<String>,
    },
    Mysql {
        url: String,
        password_env: Option<String>,
    },
    Http {
        url: String,
        expect_status: u16,
        max_latency: Option<Duration>,
        up_when: Option<String>,
    },
    Prometheus {
        url: String,
        metric: String,
        up_when: String,
    },
    Promql {
        url: String,
        query: String,
        up_when: String,
    },
}

impl Estate {
    /// The service with this id.
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.id == id)
    }

    /// The index of the service with this id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.services.iter().position(|s| s.id == id)
    }

    pub fn region(&self, id: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.id == id)
    }

    /// The display name of a SEV level.
    pub fn sev_name(&self, sev: Sev) -> &str {
        &self.sev_names[usize::from(sev.level() - 1)]
    }
}

impl Target {
    /// The environment variable that holds this target's password, for kinds that take one.
    pub fn password_env(&self) -> Option<&str> {
        match self {
            Target::Redis { password_env, .. }
            | Target::RedisQueue { password_env, .. }
            | Target::RabbitmqQueue { password_env, .. }
            | Target::Postgres { password_env, .. }
            | Target::Mysql { password_env, .. } => password_env.as_deref(),
            _ => None,
        }
    }

    /// The same key, to change it.
    pub fn password_env_mut(&mut self) -> Option<&mut Option<String>> {
        match self {
            Target::Redis { password_env, .. }
            | Target::RedisQueue { password_env, .. }
            | Target::RabbitmqQueue { password_env, .. }
            | Target::Postgres { password_env, .. }
            | Target::Mysql { password_env, .. } => Some(password_env),
            _ => None,
        }
    }

    /// Forgets a `password_env` whose variable is not set: a simulator asks for no password,
    /// and a demo or drill needs none of the real ones.
    pub fn drop_unset_password(&mut self) {
        if let Some(env) = self.password_env_mut()
            && env.as_ref().is_some_and(|v| std::env::var_os(v).is_none())
        {
            *env = None;
        }
    }
}

impl Service {
    /// The queue thresholds of a queue-like service.
    pub fn thresholds(&self) -> Option<&Thresholds> {
        match &self.target {
            Target::CloudTasks { thresholds, .. }
            | Target::PubsubSubscription { thresholds, .. }
            | Target::RedisQueue { thresholds, .. }
            | Target::RabbitmqQueue { thresholds, .. } => Some(thresholds),
            _ => None,
        }
    }
}

/// Where the estate file is looked for, in order: `--estate`, `$OPSDECK_ESTATE`, then
/// `<XDG config>/opsdeck/estate.toml`. Returns the first that is given (for the first two) or
/// exists (for the last), with a word on where it came from.
pub fn locate(explicit: Option<&Path>, env: Option<PathBuf>) -> Option<(PathBuf, &'static str)> {
    if let Some(p) = explicit {
        return Some((p.to_path_buf(), "--estate"));
    }
    if let Some(p) = env.filter(|p| !p.as_os_str().is_empty()) {
        return Some((p, "$OPSDECK_ESTATE"));
    }
    let dirs = directories::ProjectDirs::from("", "", "opsdeck")?;
    let path = dirs.config_dir().join("estate.toml");
    path.exists().then_some((path, "the XDG config directory"))
}

/// The default XDG location, for messages that say where to put an estate.
pub fn default_location() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "opsdeck").map(|d| d.config_dir().join("estate.toml"))
}

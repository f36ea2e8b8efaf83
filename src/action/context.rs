//! What an action works with: the estate and its target service, the step's arguments, the
//! clients (HTTP, Google, Kubernetes) shared by every step of a run, how often to poll, and
//! where progress goes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

use super::{ActionError, Args};
use crate::estate::{Estate, Service};
use crate::probe::gcp::GoogleClient;

/// How often long-running operations and waits are polled. Drills poll faster, since the
/// simulator's clock runs faster than the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Between two reads of a long-running operation.
    pub operation: Duration,
    /// Between two looks at a `wait` step's condition.
    pub wait: Duration,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            operation: Duration::from_secs(2),
            wait: Duration::from_secs(5),
        }
    }
}

/// A word on how a step is going (operation status, elapsed time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub text: String,
}

/// The clients every action of one run shares.
#[derive(Clone)]
pub struct Clients {
    pub http: reqwest::Client,
    pub google: Arc<GoogleClient>,
    kubeconfig: Option<std::path::PathBuf>,
    kube: Arc<Mutex<HashMap<String, (kube::Client, String)>>>,
}

impl Clients {
    pub fn new(estate: &Estate) -> Clients {
        let http = reqwest::Client::builder()
            .user_agent(concat!("opsdeck/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let google = Arc::new(GoogleClient::new(http.clone(), estate.gcp.as_ref()));
        Clients {
            http,
            google,
            kubeconfig: estate.kubeconfig.clone(),
            kube: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A Kubernetes client for `context` (else the current one), and its API server's URL.
    pub async fn kube(&self, context: Option<&str>) -> Result<(kube::Client, String), ActionError> {
        let key = context.unwrap_or("").to_string();
        if let Some(hit) = self
            .kube
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return Ok(hit.clone());
        }
        let which = context.map_or_else(
            || "the current kube context".to_string(),
            |c| format!("kube context '{c}'"),
        );
        let options = KubeConfigOptions {
            context: context.map(str::to_string),
            ..KubeConfigOptions::default()
        };
        let config = match (&self.kubeconfig, context) {
            (Some(path), _) => {
                let kc = Kubeconfig::read_from(path).map_err(|e| {
                    ActionError::Failed(format!("cannot read kubeconfig '{}': {e}", path.display()))
                })?;
                kube::Config::from_custom_kubeconfig(kc, &options).await
            }
            (None, Some(_)) => kube::Config::from_kubeconfig(&options).await,
            (None, None) => kube::Config::infer()
                .await
                .map_err(|e| kube::config::KubeconfigError::LoadContext(e.to_string())),
        }
        .map_err(|e| ActionError::Failed(format!("cannot use {which}: {e}")))?;
        let url = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string();
        let client = kube::Client::try_from(config)
            .map_err(|e| ActionError::Failed(format!("cannot use {which}: {e}")))?;
        self.kube
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, (client.clone(), url.clone()));
        Ok((client, url))
    }
}

/// Everything one action call sees.
pub struct Cx<'a> {
    pub estate: &'a Estate,
    pub service: &'a Service,
    pub args: &'a Args,
    pub clients: &'a Clients,
    pub pace: Pace,
    /// Where progress lines go (the console's run screen, or stderr headless).
    pub progress: &'a (dyn Fn(Progress) + Send + Sync),
}

impl Cx<'_> {
    /// Reports progress.
    pub fn say(&self, text: impl Into<String>) {
        (self.progress)(Progress { text: text.into() });
    }
}

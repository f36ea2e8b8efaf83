//! The `k8s_workload` probe: watch-based. For each kube context the estate uses, one
//! watcher per resource kind (Deployments, StatefulSets, DaemonSets, Pods, HPAs) keeps a
//! local store current through kube::runtime; a probe reads the stores and never polls the
//! API. A watch that keeps failing makes the services of that context stale, with the reason.

pub mod explain;
pub mod workload;

use std::collections::HashMap;
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Config, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

use crate::estate::WorkloadKind;
use crate::model::{Observation, Outcome};
use workload::Workload;

/// How long a probe waits for a context's first list before calling it stale.
const FIRST_LIST_WAIT: Duration = Duration::from_secs(4);
/// How long a probe of a workload that is not up waits for the events' first list.
const EVENTS_WAIT: Duration = Duration::from_millis(1500);

/// The clusters of one estate, connected on first use.
pub struct KubeHub {
    kubeconfig: Option<PathBuf>,
    clusters: Mutex<HashMap<String, Arc<ClusterCell>>>,
}

/// A context's watched state, set up once on first use (or why it cannot be).
type ClusterCell = OnceCell<Result<Arc<Cluster>, String>>;

/// The watched state of one context.
pub struct Cluster {
    label: String,
    deployments: Watched<Deployment>,
    statefulsets: Watched<StatefulSet>,
    daemonsets: Watched<DaemonSet>,
    pods: Watched<Pod>,
    hpas: Watched<HorizontalPodAutoscaler>,
    /// Events, for the evidence of the detail view; never waited on.
    events: Watched<Event>,
}

/// One watcher's store and how the watch is faring.
struct Watched<K: Resource + 'static>
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    store: Store<K>,
    health: Arc<Mutex<Health>>,
}

#[derive(Default)]
struct Health {
    /// The last watch error, while the watch has not recovered from it.
    failing: Option<String>,
}

impl KubeHub {
    /// A hub reading `kubeconfig` (else `$KUBECONFIG` or `~/.kube/config`, or the in-cluster
    /// service account).
    pub fn new(kubeconfig: Option<PathBuf>) -> Self {
        KubeHub {
            kubeconfig,
            clusters: Mutex::new(HashMap::new()),
        }
    }

    async fn cluster(&self, context: Option<&str>) -> Result<Arc<Cluster>, String> {
        let key = context.unwrap_or("").to_string();
        let cell = {
            let mut map = self
                .clusters
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(map.entry(key).or_default())
        };
        cell.get_or_init(|| async {
            let client = self.client(context).await?;
            let label = context.map_or_else(
                || "the current context".to_string(),
                |c| format!("context '{c}'"),
            );
            Ok(Arc::new(Cluster {
                deployments: watch(&client),
                statefulsets: watch(&client),
                daemonsets: watch(&client),
                pods: watch(&client),
                hpas: watch(&client),
                events: watch(&client),
                label,
            }))
        })
        .await
        .clone()
    }

    async fn client(&self, context: Option<&str>) -> Result<Client, String> {
        let options = KubeConfigOptions {
            context: context.map(str::to_string),
            ..KubeConfigOptions::default()
        };
        let config = match (&self.kubeconfig, context) {
            (Some(path), _) => {
                let kc = Kubeconfig::read_from(path)
                    .map_err(|e| format!("cannot read kubeconfig '{}': {e}", path.display()))?;
                Config::from_custom_kubeconfig(kc, &options)
                    .await
                    .map_err(|e| e.to_string())?
            }
            (None, Some(_)) => Config::from_kubeconfig(&options)
                .await
                .map_err(|e| e.to_string())?,
            (None, None) => Config::infer().await.map_err(|e| e.to_string())?,
        };
        Client::try_from(config).map_err(|e| e.to_string())
    }

    /// Probes one workload from the watched stores.
    pub async fn probe(
        &self,
        context: Option<&str>,
        namespace: &str,
        kind: WorkloadKind,
        name: &str,
    ) -> Outcome {
        let cluster = match self.cluster(context).await {
            Ok(c) => c,
            Err(e) => {
                let which = context.map_or_else(
                    || "the current kube context".to_string(),
                    |c| format!("kube context '{c}'"),
                );
                return Outcome::Observed(Observation::unknown(format!("cannot use {which}: {e}")));
            }
        };
        cluster.observe(namespace, kind, name).await
    }
}

fn watch<K>(client: &Client) -> Watched<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let api: Api<K> = Api::all(client.clone());
    let (store, writer) = reflector::store();
    let health = Arc::new(Mutex::new(Health::default()));
    let h = Arc::clone(&health);
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer);
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            let mut health = h.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            health.failing = match event {
                Ok(_) => None,
                Err(e) => Some(e.to_string()),
            };
        }
    });
    Watched { store, health }
}

impl<K> Watched<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    /// Whether the watch's last attempt failed (and it has not recovered).
    fn is_failing(&self) -> bool {
        self.health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .failing
            .is_some()
    }

    /// Waits (briefly) for the first list; `Err` says why the data cannot be had or trusted.
    async fn ready(&self, what: &str, cluster: &str) -> Result<(), String> {
        let failing = || {
            self.health
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .failing
                .clone()
        };
        if tokio::time::timeout(FIRST_LIST_WAIT, self.store.wait_until_ready())
            .await
            .is_err()
        {
            return Err(match failing() {
                Some(e) => format!("the Kubernetes API of {cluster} cannot list {what}: {e}"),
                None => format!("the Kubernetes API of {cluster} has not listed {what} yet"),
            });
        }
        match failing() {
            Some(e) => Err(format!("the watch of {what} on {cluster} is failing: {e}")),
            None => Ok(()),
        }
    }
}

/// The workload object found in a store.
enum Found {
    Deployment(Arc<Deployment>),
    StatefulSet(Arc<StatefulSet>),
    DaemonSet(Arc<DaemonSet>),
}

impl Found {
    fn workload(&self) -> Workload<'_> {
        match self {
            Found::Deployment(d) => Workload::Deployment(d),
            Found::StatefulSet(s) => Workload::StatefulSet(s),
            Found::DaemonSet(d) => Workload::DaemonSet(d),
        }
    }

    fn selector(&self) -> Option<LabelSelector> {
        match self {
            Found::Deployment(d) => d.spec.as_ref().map(|s| s.selector.clone()),
            Found::StatefulSet(s) => s.spec.as_ref().map(|s| s.selector.clone()),
            Found::DaemonSet(d) => d.spec.as_ref().map(|s| s.selector.clone()),
        }
    }
}

/// The object named `name` in `namespace`, once the store has its first list.
async fn lookup<K>(
    watched: &Watched<K>,
    what: &str,
    cluster: &str,
    namespace: &str,
    name: &str,
) -> Result<Option<Arc<K>>, String>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    watched.ready(what, cluster).await?;
    Ok(watched.store.find(|o| {
        o.meta().namespace.as_deref() == Some(namespace) && o.meta().name.as_deref() == Some(name)
    }))
}

impl Cluster {
    async fn observe(&self, namespace: &str, kind: WorkloadKind, name: &str) -> Outcome {
        let label = &self.label;
        let found = match kind {
            WorkloadKind::Deployment => {
                lookup(&self.deployments, "deployments", label, namespace, name)
                    .await
                    .map(|o| o.map(Found::Deployment))
            }
            WorkloadKind::StatefulSet => {
                lookup(&self.statefulsets, "statefulsets", label, namespace, name)
                    .await
                    .map(|o| o.map(Found::StatefulSet))
            }
            WorkloadKind::DaemonSet => {
                lookup(&self.daemonsets, "daemonsets", label, namespace, name)
                    .await
                    .map(|o| o.map(Found::DaemonSet))
            }
        };
        let found = match found {
            Ok(Some(f)) => f,
            Ok(None) => {
                return Outcome::Observed(Observation::down(format!(
                    "{}/{name} does not exist in namespace '{namespace}' ({label})",
                    kind.as_str()
                )));
            }
            Err(error) => {
                return Outcome::Failed {
                    error,
                    retry_after: None,
                };
            }
        };
        if let Err(error) = self.pods.ready("pods", label).await {
            return Outcome::Failed {
                error,
                retry_after: None,
            };
        }
        let pods: Vec<Arc<Pod>> = match found.selector().map(kube::core::Selector::try_from) {
            Some(Ok(sel)) => self
                .pods
                .store
                .state_filter_selector(&sel)
                .into_iter()
                .filter(|p| p.metadata.namespace.as_deref() == Some(namespace))
                .collect(),
            _ => Vec::new(),
        };
        let pod_refs: Vec<&Pod> = pods.iter().map(AsRef::as_ref).collect();
        // A missing HPA watch (no autoscaling/v2, no permission) only loses the HPA figures.
        let hpa = match self.hpas.ready("horizontalpodautoscalers", label).await {
            Ok(()) => self.hpas.store.find(|h| {
                h.metadata.namespace.as_deref() == Some(namespace)
                    && h.spec.as_ref().is_some_and(|s| {
                        s.scale_target_ref.name == name
                            && s.scale_target_ref.kind.eq_ignore_ascii_case(kind.as_str())
                    })
            }),
            Err(_) => None,
        };
        let mut obs = workload::observe(found.workload(), &pod_refs, hpa.as_deref());
        // Events are read as far as the watch has them: a cluster that does not let opsdeck
        // watch events only loses this evidence. A workload that is not up waits a moment for
        // the first list (as `--once` does right after the watch starts), unless that watch
        // is already failing.
        if obs.status != crate::model::Status::Up && !self.events.is_failing() {
            let _ = tokio::time::timeout(EVENTS_WAIT, self.events.store.wait_until_ready()).await;
        }
        let events: Vec<Arc<Event>> = self
            .events
            .store
            .state()
            .into_iter()
            .filter(|e| explain::concerns(e, namespace, name, &pod_refs))
            .collect();
        let event_refs: Vec<&Event> = events.iter().map(AsRef::as_ref).collect();
        obs.evidence = explain::pod_evidence(&pod_refs);
        obs.evidence.extend(explain::event_evidence(&event_refs));
        obs.change = explain::rollout_change(found.workload());
        Outcome::Observed(obs)
    }
}

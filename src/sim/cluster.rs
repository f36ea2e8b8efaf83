//! The cluster side of the simulator: Kubernetes API servers (one per kubeconfig context),
//! Redis servers and Sentinels over RESP, RabbitMQ management APIs and Prometheus servers and
//! exporters, each on its own loopback port, all reading one world on the simulator's scenario
//! clock. Owns their listeners and lifecycle, the kubeconfig that names the API servers, and
//! the rewriting of estate URLs to point at them. The protocols live in `sim/kube.rs`,
//! `sim/redis.rs`, `sim/rabbitmq.rs` and `sim/prometheus.rs`.

pub(crate) mod backlog;
pub(crate) mod clock;
mod describe;
pub(crate) mod world;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::estate::{Estate, Target};
use crate::sim::redis_model::Role;
use crate::sim::scenario::Scenario;
use crate::sim::{kube, net, prometheus, rabbitmq, redis};
use clock::{SimClock, url_parts};
use world::ClusterWorld;

/// The most HTTP connections one cluster-side listener holds open.
const MAX_CONNECTIONS: usize = 256;
/// How often the controllers run when nobody asks anything (so watches see the clock move).
const TICK: Duration = Duration::from_millis(100);

/// What every cluster-side listener shares.
pub(crate) struct ClusterShared {
    world: Mutex<ClusterWorld>,
    pub clock: SimClock,
    pub stopping: watch::Receiver<bool>,
    /// Whether each Redis node is up, for its listener and connections.
    node_up: Vec<watch::Sender<bool>>,
    requests: AtomicU64,
}

impl ClusterShared {
    /// The world with every event and controller step due by now applied.
    pub fn world_now(&self) -> MutexGuard<'_, ClusterWorld> {
        let mut world = self.world.lock().unwrap_or_else(PoisonError::into_inner);
        world.advance(self.clock.elapsed());
        for (i, tx) in self.node_up.iter().enumerate() {
            let up = world.redis.node_up(i);
            tx.send_if_modified(|v| {
                let changed = *v != up;
                *v = up;
                changed
            });
        }
        world
    }

    pub fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// One endpoint of the cluster side, for people (what `opsdeck sim` prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterEndpoint {
    /// "kubernetes", "redis", "sentinel", "rabbitmq", "prometheus" or "exporter".
    pub kind: &'static str,
    /// The context, `host:port` or service the estate knows it by.
    pub name: String,
    /// Where it listens: `http://127.0.0.1:PORT` or `redis://127.0.0.1:PORT`.
    pub url: String,
}

/// The running cluster side.
pub(crate) struct Cluster {
    pub shared: Arc<ClusterShared>,
    tasks: Vec<JoinHandle<()>>,
    /// Estate `host:port` → loopback `host:port`, per URL scheme family.
    redis_map: BTreeMap<String, SocketAddr>,
    http_map: BTreeMap<String, SocketAddr>,
    /// (context, API server address).
    contexts: Vec<(String, SocketAddr)>,
    endpoints: Vec<ClusterEndpoint>,
    kubeconfig: Option<PathBuf>,
    /// What `opsdeck sim` prints: a client command line for each endpoint.
    lines: Vec<String>,
}

async fn listen(ip: IpAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

fn http_task(
    listener: TcpListener,
    app: Router,
    mut stopping: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let server = axum::serve(net::Limited::new(listener, MAX_CONNECTIONS), app)
        .with_graceful_shutdown(async move {
            let _ = stopping.wait_for(|s| *s).await;
        });
    tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::error!("cluster-side listener stopped: {e}");
        }
    })
}

impl Cluster {
    /// Materialises the cluster side of `estate` and starts its listeners on `ip` (loopback).
    pub async fn start(
        estate: &Estate,
        scenario: Option<&Scenario>,
        ip: IpAddr,
        started: Instant,
        speed: f64,
        stopping: watch::Receiver<bool>,
    ) -> std::io::Result<Cluster> {
        let clock = SimClock::new(started, speed);
        let mut world = ClusterWorld::new(estate, scenario, clock);
        let mut endpoints = Vec::new();
        let mut redis_map = BTreeMap::new();
        let mut http_map = BTreeMap::new();

        let mut redis_listeners = Vec::new();
        for i in 0..world.redis.nodes.len() {
            let (l, addr) = listen(ip).await?;
            let node = &mut world.redis.nodes[i];
            node.port = addr.port();
            let sentinel = node.role == Role::Sentinel;
            let name = node.estate.clone().unwrap_or_else(|| {
                format!(
                    "{} (no estate address)",
                    if node.role == Role::Replica {
                        "replica"
                    } else {
                        "node"
                    }
                )
            });
            if let Some(a) = &node.estate {
                redis_map.insert(a.clone(), addr);
            }
            endpoints.push(ClusterEndpoint {
                kind: if sentinel { "sentinel" } else { "redis" },
                name,
                url: format!("redis://{addr}"),
            });
            redis_listeners.push(l);
        }
        let mut kube_listeners = Vec::new();
        let mut contexts = Vec::new();
        for c in &world.kube {
            let (l, addr) = listen(ip).await?;
            contexts.push((c.context.clone(), addr));
            endpoints.push(ClusterEndpoint {
                kind: "kubernetes",
                name: c.context.clone(),
                url: format!("http://{addr}"),
            });
            kube_listeners.push(l);
        }
        let mut rabbit_listeners = Vec::new();
        for b in &mut world.rabbit {
            let (l, addr) = listen(ip).await?;
            b.port = addr.port();
            http_map.insert(b.authority.clone(), addr);
            endpoints.push(ClusterEndpoint {
                kind: "rabbitmq",
                name: b.authority.clone(),
                url: format!("http://{addr}"),
            });
            rabbit_listeners.push(l);
        }
        let mut prom_listeners: Vec<(TcpListener, Vec<usize>)> = Vec::new();
        let mut by_authority: BTreeMap<String, usize> = BTreeMap::new();
        for i in 0..world.prom.len() {
            let authority = world.prom[i].authority.clone();
            let slot = if let Some(s) = by_authority.get(&authority) {
                *s
            } else {
                let (l, addr) = listen(ip).await?;
                http_map.insert(authority.clone(), addr);
                let kind = if world.prom[i].exporter().is_some() {
                    "exporter"
                } else {
                    "prometheus"
                };
                endpoints.push(ClusterEndpoint {
                    kind,
                    name: format!("{} ({authority})", world.prom[i].service),
                    url: format!("http://{addr}"),
                });
                prom_listeners.push((l, Vec::new()));
                by_authority.insert(authority.clone(), prom_listeners.len() - 1);
                prom_listeners.len() - 1
            };
            world.prom[i].port = http_map.get(&authority).map_or(0, SocketAddr::port);
            prom_listeners[slot].1.push(i);
        }

        let node_up: Vec<watch::Sender<bool>> = (0..world.redis.nodes.len())
            .map(|_| watch::channel(true).0)
            .collect();
        let shared = Arc::new(ClusterShared {
            world: Mutex::new(world),
            clock,
            stopping: stopping.clone(),
            node_up,
            requests: AtomicU64::new(0),
        });
        let mut tasks = Vec::new();
        for (i, l) in redis_listeners.into_iter().enumerate() {
            let up = shared.node_up[i].subscribe();
            tasks.push(tokio::spawn(redis::serve_node(
                Arc::clone(&shared),
                i,
                l,
                up,
            )));
        }
        for (i, l) in kube_listeners.into_iter().enumerate() {
            let state = Arc::new(kube::KubeServer {
                shared: Arc::clone(&shared),
                cluster: i,
                addr: contexts[i].1.to_string(),
            });
            let app = Router::new().fallback(kube::serve).with_state(state);
            tasks.push(http_task(l, app, stopping.clone()));
        }
        for (i, l) in rabbit_listeners.into_iter().enumerate() {
            let state = Arc::new(rabbitmq::RabbitServer {
                shared: Arc::clone(&shared),
                broker: i,
            });
            let app = Router::new().fallback(rabbitmq::serve).with_state(state);
            tasks.push(http_task(l, app, stopping.clone()));
        }
        for (l, endpoints) in prom_listeners {
            let state = Arc::new(prometheus::PromServer {
                shared: Arc::clone(&shared),
                endpoints,
            });
            let app = Router::new().fallback(prometheus::serve).with_state(state);
            tasks.push(http_task(l, app, stopping.clone()));
        }
        if !(shared.node_up.is_empty() && contexts.is_empty()) {
            tasks.push(tokio::spawn(ticker(Arc::clone(&shared))));
        }
        let mut cluster = Cluster {
            shared,
            tasks,
            redis_map,
            http_map,
            contexts,
            endpoints,
            kubeconfig: None,
            lines: Vec::new(),
        };
        if !cluster.contexts.is_empty() {
            let port = cluster.contexts.first().map_or(0, |c| c.1.port());
            let path = std::env::temp_dir().join(format!(
                "opsdeck-sim-{}-{port}.kubeconfig",
                std::process::id()
            ));
            match std::fs::write(&path, cluster.kubeconfig_yaml()) {
                Ok(()) => cluster.kubeconfig = Some(path),
                Err(e) => tracing::warn!(
                    "cannot write the simulator's kubeconfig to {}: {e}",
                    path.display()
                ),
            }
        }
        let lines = {
            let world = cluster
                .shared
                .world
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            describe::lines(
                estate,
                &world,
                &cluster.contexts,
                cluster.kubeconfig.as_deref(),
            )
        };
        cluster.lines = lines;
        Ok(cluster)
    }

    /// The kubeconfig naming every simulated cluster: one context per estate region (named
    /// after its `kube_context`, else the region id), served over plain HTTP on loopback.
    pub fn kubeconfig_yaml(&self) -> String {
        let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
        let mut y = String::from("apiVersion: v1\nkind: Config\npreferences: {}\nclusters:\n");
        for (name, addr) in &self.contexts {
            let _ = write!(
                y,
                "- name: {}\n  cluster:\n    server: \"http://{addr}\"\n",
                q(name)
            );
        }
        y.push_str("contexts:\n");
        for (name, _) in &self.contexts {
            let _ = write!(
                y,
                "- name: {0}\n  context:\n    cluster: {0}\n    user: \"opsdeck-sim\"\n    namespace: \"default\"\n",
                q(name)
            );
        }
        y.push_str("users:\n- name: \"opsdeck-sim\"\n  user:\n    token: \"opsdeck-sim-token\"\n");
        if let Some((first, _)) = self.contexts.first() {
            let _ = writeln!(y, "current-context: {}", q(first));
        }
        y
    }

    pub fn describe(&self) -> &[String] {
        &self.lines
    }

    pub fn requests(&self) -> u64 {
        self.shared.requests()
    }

    pub fn has_contexts(&self) -> bool {
        !self.contexts.is_empty()
    }

    pub fn kubeconfig_path(&self) -> Option<&Path> {
        self.kubeconfig.as_deref()
    }

    pub fn endpoints(&self) -> &[ClusterEndpoint] {
        &self.endpoints
    }

    /// Points every Redis, RabbitMQ and Prometheus URL of the estate at the simulator; leaves
    /// Kubernetes contexts as they are (they name contexts of the kubeconfig).
    pub fn redirect(&self, estate: &mut Estate) {
        for s in &mut estate.services {
            match &mut s.target {
                Target::Redis {
                    url,
                    sentinel_master,
                    ..
                } => {
                    let default = if sentinel_master.is_some() {
                        26379
                    } else {
                        6379
                    };
                    rewrite(url, default, &self.redis_map, "redis");
                }
                Target::RedisQueue { url, .. } => rewrite(url, 6379, &self.redis_map, "redis"),
                Target::RabbitmqQueue { url, .. } => rewrite(url, 15672, &self.http_map, "http"),
                Target::Prometheus { url, .. } | Target::Promql { url, .. } => {
                    rewrite(url, 80, &self.http_map, "http");
                }
                _ => {}
            }
        }
    }

    pub async fn shutdown(mut self) {
        for task in std::mem::take(&mut self.tasks) {
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                tracing::warn!("a cluster-side listener did not stop in time");
            }
        }
        if let Some(path) = self.kubeconfig.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(path) = &self.kubeconfig {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// `redis://:pw@10.0.0.5:6379/0` → `redis://:pw@127.0.0.1:PORT/0` when the simulator serves
/// that address (TLS schemes become plain: the simulator speaks no TLS).
fn rewrite(url: &mut String, default_port: u16, map: &BTreeMap<String, SocketAddr>, plain: &str) {
    let p = url_parts(url, default_port);
    let Some(addr) = map.get(&p.authority) else {
        return;
    };
    let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let userinfo = rest[..end]
        .rsplit_once('@')
        .map(|(u, _)| format!("{u}@"))
        .unwrap_or_default();
    *url = format!("{plain}://{userinfo}{addr}{}", p.rest);
}

/// Moves the controllers along so that watches and Redis links follow the clock.
async fn ticker(shared: Arc<ClusterShared>) {
    let mut stopping = shared.stopping.clone();
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => drop(shared.world_now()),
            _ = stopping.wait_for(|s| *s) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_credentials_path_and_database() {
        let mut map = BTreeMap::new();
        map.insert(
            "10.0.0.5:6379".to_string(),
            SocketAddr::from(([127, 0, 0, 1], 4000)),
        );
        let mut url = "rediss://:secret@10.0.0.5/3".to_string();
        rewrite(&mut url, 6379, &map, "redis");
        assert_eq!(url, "redis://:secret@127.0.0.1:4000/3");
        let mut other = "redis://10.9.9.9:6379/0".to_string();
        rewrite(&mut other, 6379, &map, "redis");
        assert_eq!(other, "redis://10.9.9.9:6379/0", "unknown addresses stay");
    }
}

//! The built-in simulator: the only fake in opsdeck. It serves the real wire protocols (Google
//! REST JSON, the GCE metadata server, the OAuth token endpoint, plain HTTP health endpoints)
//! on a loopback port, with state materialised from an estate and faults played from a
//! scenario, so the real clients (opsdeck's probes, google-cloud-auth, gcloud) run against it
//! unchanged. Owns the server, its lifecycle, the request routing by path prefix (and, for
//! gcloud's Cloud Run calls through a proxy, the region in the host name), and the waiting,
//! hanging and resetting a scenario asks for; the API shapes live in `sim/google.rs` and
//! `sim/google/`, `sim/resources.rs`, `sim/metadata.rs`, `sim/oauth.rs`, `sim/http.rs`.
//!
//! It never binds anything but a loopback address, never panics on request data, bounds
//! request bodies and open connections, and counts every request it serves.

mod backlog;
pub(crate) mod cluster;
mod google;
mod google_wire;
mod handoff;
mod http;
mod knobs;
mod kube;
mod metadata;
mod net;
mod oauth;
mod patch;
mod prometheus;
mod rabbitmq;
mod redis;
mod redis_cmd;
mod redis_info;
mod redis_model;
mod redis_sentinel;
mod resources;
mod resp;
pub mod scenario;
mod state;

pub use cluster::ClusterEndpoint;
pub use handoff::ready_estate;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ::http::{HeaderValue, StatusCode, header};
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::estate::{Estate, Gcp, GcpAuth, Target};
use state::World;

/// The largest request body accepted.
const MAX_BODY: usize = 1024 * 1024;
/// The most connections held open at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 512;
/// How long `shutdown` waits for open requests before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("refusing to listen on {0}: the simulator binds loopback addresses only")]
    NotLoopback(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The scenario does not fit the estate (it names a service the estate lacks, or sets
    /// something an http service cannot do).
    #[error("{0}")]
    Scenario(String),
}

/// State shared by every request.
struct Shared {
    requests: AtomicU64,
    /// The longest any one request took to answer since it was last read, in microseconds.
    slowest_us: AtomicU64,
    tokens: AtomicU64,
    started: Instant,
    speed: f64,
    world: Mutex<World>,
    stopping: watch::Receiver<bool>,
}

impl Shared {
    /// The world with every scenario event due by now applied.
    fn world_now(&self) -> MutexGuard<'_, World> {
        let mut world = self.world.lock().unwrap_or_else(PoisonError::into_inner);
        world.advance(self.scenario_clock(), chrono::Utc::now());
        world
    }

    /// Time on the scenario clock: wall time since start × speed.
    fn scenario_clock(&self) -> Duration {
        Duration::try_from_secs_f64(self.started.elapsed().as_secs_f64() * self.speed)
            .unwrap_or(Duration::MAX)
    }
}

/// A running simulator. Dropping it stops the server too, without waiting.
pub struct SimHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    /// The cluster side: Kubernetes, Redis, RabbitMQ and Prometheus listeners.
    cluster: Option<cluster::Cluster>,
}

impl SimHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, with no trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every HTTP request served so far, whatever its path or answer.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// The longest one request to the simulator's HTTP listener (the Google APIs and the
    /// health endpoints) took to answer since the last call, and resets it.
    pub fn take_slowest_request(&self) -> Duration {
        Duration::from_micros(self.shared.slowest_us.swap(0, Ordering::Relaxed))
    }

    /// Time on the scenario clock now (wall time since start × the scenario's speed): what
    /// drills measure detection and recovery on.
    pub fn scenario_clock(&self) -> Duration {
        self.shared.scenario_clock()
    }

    /// The kubeconfig of the simulated clusters: one context per estate region with
    /// Kubernetes workloads (named after its `kube_context`, else the region id), each an API
    /// server over plain HTTP on loopback. `None` when the estate has no cluster.
    pub fn kubeconfig_yaml(&self) -> Option<String> {
        self.cluster
            .as_ref()
            .filter(|c| c.has_contexts())
            .map(cluster::Cluster::kubeconfig_yaml)
    }

    /// Where the simulator wrote that kubeconfig (a temporary file, removed when the simulator
    /// stops). Give it to kubectl (`--kubeconfig`) or a Kubernetes probe; `redirect` keeps the
    /// estate's context names, which are the contexts of this file.
    pub fn kubeconfig_path(&self) -> Option<&std::path::Path> {
        self.cluster
            .as_ref()
            .and_then(cluster::Cluster::kubeconfig_path)
    }

    /// Writes the kubeconfig to `path` as well (for `opsdeck sim`).
    pub fn write_kubeconfig(&self, path: &std::path::Path) -> std::io::Result<()> {
        match self.kubeconfig_yaml() {
            Some(yaml) => std::fs::write(path, yaml),
            None => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the estate has no Kubernetes cluster to write a kubeconfig for",
            )),
        }
    }

    /// The Kubernetes API servers, Redis servers and Sentinels, RabbitMQ brokers and
    /// Prometheus servers and exporters the simulator runs for the estate.
    pub fn cluster_endpoints(&self) -> &[ClusterEndpoint] {
        self.cluster
            .as_ref()
            .map_or(&[], cluster::Cluster::endpoints)
    }

    /// For people: a kubectl, redis-cli or curl line for each of those endpoints, and the
    /// kubeconfig to export.
    pub fn cluster_lines(&self) -> Vec<String> {
        self.cluster
            .as_ref()
            .map(|c| c.describe().to_vec())
            .unwrap_or_default()
    }

    /// Every HTTP request the cluster side's listeners (Kubernetes, RabbitMQ, Prometheus)
    /// served so far.
    pub fn cluster_requests(&self) -> u64 {
        self.cluster.as_ref().map_or(0, cluster::Cluster::requests)
    }

    /// Stops accepting, releases hanging requests, and waits (a few seconds at most) for the
    /// open ones to finish.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(cluster) = self.cluster.take() {
            cluster.shutdown().await;
        }
        let Some(mut task) = self.task.take() else {
            return;
        };
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
            .await
            .is_err()
        {
            tracing::warn!("simulator requests still open after {SHUTDOWN_GRACE:?}; dropping them");
            task.abort();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Starts the simulator for `estate` on `listen` (port 0 = any free port). Refuses any
/// non-loopback address.
pub async fn start(
    estate: &Estate,
    scenario: Option<scenario::Scenario>,
    listen: SocketAddr,
) -> Result<SimHandle, SimError> {
    if !listen.ip().is_loopback() {
        return Err(SimError::NotLoopback(listen));
    }
    if let Some(s) = &scenario {
        s.check(estate).map_err(SimError::Scenario)?;
    }
    let clock = resources::Clock {
        now: chrono::Utc::now(),
    };
    let world = World::new(estate, scenario.as_ref(), &clock);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| SimError::Bind {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SimError::Bind {
        addr: listen,
        source,
    })?;

    let (stop, stopping) = watch::channel(false);
    let shared = Arc::new(Shared {
        requests: AtomicU64::new(0),
        slowest_us: AtomicU64::new(0),
        tokens: AtomicU64::new(0),
        started: Instant::now(),
        speed: scenario.as_ref().map_or(1.0, |s| s.speed),
        world: Mutex::new(world),
        stopping: stopping.clone(),
    });
    let app = Router::new()
        .fallback(serve)
        .with_state(shared.clone())
        .into_make_service_with_connect_info::<net::Reset>();
    let mut stop_signal = stopping;
    let server = axum::serve(net::Limited::new(listener, MAX_CONNECTIONS), app)
        .with_graceful_shutdown(async move {
            let _ = stop_signal.wait_for(|stop| *stop).await;
        });
    let task = tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::error!("simulator server stopped: {e}");
        }
    });
    let cluster = cluster::Cluster::start(
        estate,
        scenario.as_ref(),
        listen.ip(),
        shared.started,
        shared.speed,
        shared.stopping.clone(),
    )
    .await
    .map_err(|source| SimError::Bind {
        addr: listen,
        source,
    })?;
    tracing::info!(%addr, scenario = scenario.as_ref().map(|s| s.name.as_str()), "simulator listening");
    Ok(SimHandle {
        addr,
        shared,
        stop,
        task: Some(task),
        cluster: Some(cluster),
    })
}

/// The same estate with every endpoint pointed at the simulator: `[gcp] endpoint` and the
/// metadata server are the simulator, and every `http` service's url becomes
/// `{base_url}/http/{service id}{original path}`. Redis and Redis-queue URLs become
/// `redis://127.0.0.1:{port}/{db}` (one port per simulated server or Sentinel), RabbitMQ and
/// Prometheus URLs `http://127.0.0.1:{port}{path}`; Kubernetes workloads keep their context
/// names, which are the contexts of `SimHandle::kubeconfig_path`.
pub fn redirect(estate: &Estate, sim: &SimHandle) -> Estate {
    let base = sim.base_url();
    let mut out = estate.clone();
    out.gcp = Some(Gcp {
        project: estate.gcp.as_ref().and_then(|g| g.project.clone()),
        endpoint: Some(base.clone()),
        auth: GcpAuth::Metadata(base.clone()),
    });
    for service in &mut out.services {
        if let Target::Http { url, .. } = &mut service.target {
            *url = format!("{base}/http/{}{}", service.id, path_and_query(url));
        }
    }
    if let Some(cluster) = &sim.cluster {
        cluster.redirect(&mut out);
    }
    drop_unset_passwords(&mut out);
    if let Some(path) = sim.kubeconfig_path() {
        out.kubeconfig = Some(path.to_path_buf());
    }
    out
}

/// A `password_env` whose variable is not set is dropped: the simulator asks for no password
/// then, and the demo and drills need none of the real secrets. A variable that is set is kept
/// and sent, as it would be in production.
fn drop_unset_passwords(estate: &mut Estate) {
    for s in &mut estate.services {
        if matches!(
            s.target,
            Target::Redis { .. } | Target::RedisQueue { .. } | Target::RabbitmqQueue { .. }
        ) {
            s.target.drop_unset_password();
        }
    }
}

/// Everything after the authority of a URL, starting with `/` (`/` when there is nothing).
fn path_and_query(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    match rest.find(['/', '?', '#']) {
        Some(i) if rest[i..].starts_with('/') => rest[i..].to_string(),
        Some(i) => format!("/{}", &rest[i..]),
        None => "/".to_string(),
    }
}

/// The one handler: times the answer, routes by path prefix.
async fn serve(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<net::Reset>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let response = route(&shared, &conn, request).await;
    let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    shared.slowest_us.fetch_max(took, Ordering::Relaxed);
    response
}

async fn route(shared: &Arc<Shared>, conn: &net::Reset, request: Request) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return reply(&google::too_large(MAX_BODY));
    };
    let path = parts.uri.path();
    let query = parts.uri.query();

    if path == "/_sim/stats" {
        return json_response(StatusCode::OK, &stats(shared));
    }
    if let Some(rest) = path.strip_prefix("/computeMetadata/v1") {
        let project = shared.world_now().project.clone();
        let serial = shared.tokens.fetch_add(1, Ordering::Relaxed) + 1;
        return metadata::answer(
            &parts.headers,
            rest.trim_start_matches('/'),
            query,
            &project,
            serial,
        );
    }
    if let Some(rest) = path.strip_prefix("/http/") {
        let id = rest.split('/').next().unwrap_or_default();
        let endpoint = shared.world_now().http.get(id).cloned();
        return http::answer(endpoint, id, shared.stopping.clone(), conn).await;
    }
    if matches!(path, "/token" | "/oauth2/v4/token" | "/o/oauth2/token") {
        let serial = shared.tokens.fetch_add(1, Ordering::Relaxed) + 1;
        let now = chrono::Utc::now().timestamp();
        return reply(&oauth::answer(parts.method.as_str(), &body, serial, now));
    }
    google_wire::answer(shared, &parts, &body, conn).await
}

fn stats(shared: &Shared) -> Value {
    let world = shared.world_now();
    let (applied, total) = world.progress();
    json!({
        "requests": shared.requests.load(Ordering::Relaxed),
        "scenario": world.scenario,
        "speed": shared.speed,
        "scenario_clock_s": shared.scenario_clock().as_secs_f64(),
        "events_applied": applied,
        "events_total": total,
        "resources": world.resources.len(),
        "operations": world.ops.len(),
        "http_services": world.http.len(),
    })
}

fn reply(answer: &google::Reply) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, &answer.body)
}

/// A JSON answer with Google's content type.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_path_and_query_of_redirected_urls() {
        assert_eq!(path_and_query("https://eu.tappass.ai/healthz"), "/healthz");
        assert_eq!(path_and_query("https://h.example/a/b?x=1"), "/a/b?x=1");
        assert_eq!(path_and_query("https://h.example?x=1"), "/?x=1");
        assert_eq!(path_and_query("https://h.example"), "/");
    }
}

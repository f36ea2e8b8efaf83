//! The built-in simulator: the only fake in opsdeck. It serves the real wire protocols (Google
//! REST JSON, the GCE metadata server, plain HTTP health endpoints) on a loopback port, with
//! state materialised from an estate and faults played from a scenario, so the real clients run
//! against it unchanged. Owns the server, its lifecycle and the request routing by path prefix;
//! the API shapes live in `sim/google.rs`, `sim/resources.rs`, `sim/metadata.rs`, `sim/http.rs`.
//!
//! It never binds anything but a loopback address, never panics on request data, bounds
//! request bodies and open connections, and counts every request it serves.

mod google;
mod http;
mod metadata;
mod net;
mod patch;
mod resources;
pub mod scenario;
mod state;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ::http::{HeaderValue, StatusCode, header};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
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

    /// Stops accepting, releases hanging requests, and waits (a few seconds at most) for the
    /// open ones to finish.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
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
        tokens: AtomicU64::new(0),
        started: Instant::now(),
        speed: scenario.as_ref().map_or(1.0, |s| s.speed),
        world: Mutex::new(world),
        stopping: stopping.clone(),
    });
    let app = Router::new().fallback(serve).with_state(shared.clone());
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
    tracing::info!(%addr, scenario = scenario.as_ref().map(|s| s.name.as_str()), "simulator listening");
    Ok(SimHandle {
        addr,
        shared,
        stop,
        task: Some(task),
    })
}

/// The same estate with every endpoint pointed at the simulator: `[gcp] endpoint` and the
/// metadata server are the simulator, and every `http` service's url becomes
/// `{base_url}/http/{service id}{original path}`.
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
    out
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

/// The one handler: routes by path prefix.
async fn serve(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let (parts, body) = request.into_parts();
    if axum::body::to_bytes(body, MAX_BODY).await.is_err() {
        return reply(&google::too_large(MAX_BODY));
    }
    let path = parts.uri.path();
    let query = parts.uri.query();

    if path == "/_sim/stats" {
        return json_response(StatusCode::OK, &stats(&shared));
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
        return http::answer(endpoint, id, shared.stopping.clone()).await;
    }
    let read_only = parts.method == ::http::Method::GET || parts.method == ::http::Method::HEAD;
    let answer = google::answer(
        &shared.world_now(),
        read_only,
        parts.method.as_str(),
        path,
        query,
    );
    reply(&answer)
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

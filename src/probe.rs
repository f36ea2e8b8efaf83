//! Probes: the only code that reads from the systems opsdeck watches. One module per
//! backend; each turns one service's locator into an [`Outcome`]. Probes never touch the
//! model; the poller (or `--once`) sends their reports on.

pub mod credentials;
pub mod gcp;
pub mod http;
pub mod kube;
pub mod mysql;
pub mod postgres;
pub mod prometheus;
pub mod promql;
pub mod queue;
pub mod rabbitmq;
pub mod redis;
pub mod redis_queue;

use std::time::Duration;

use crate::estate::{Estate, Kind, Service, Target};
use crate::model::{Observation, Outcome};

/// Shared clients for every probe of one estate: built once, cheap to clone.
#[derive(Clone)]
pub struct ProbeContext {
    http: reqwest::Client,
    google: gcp::Google,
    kube: std::sync::Arc<kube::KubeHub>,
}

impl ProbeContext {
    /// Clients for this estate: one HTTP connection pool, one Google credential.
    pub fn new(estate: &Estate) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(concat!("opsdeck/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(16)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let google = gcp::Google::new(http.clone(), estate.gcp.as_ref());
        let kube = std::sync::Arc::new(kube::KubeHub::new(estate.kubeconfig.clone()));
        ProbeContext { http, google, kube }
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn google(&self) -> &gcp::Google {
        &self.google
    }

    /// The same clients, with Google lists read anew rather than reused from the last few
    /// seconds: what a runbook's `wait` and a drill need to see a change at once.
    #[must_use]
    pub fn fresh(&self) -> ProbeContext {
        ProbeContext {
            http: self.http.clone(),
            google: self.google.fresh(),
            kube: std::sync::Arc::clone(&self.kube),
        }
    }
}

/// Probes one service once, bounded by the service's own timeout.
pub async fn run(ctx: &ProbeContext, service: &Service) -> Outcome {
    let limit = service.timeout;
    match tokio::time::timeout(limit, dispatch(ctx, service)).await {
        Ok(outcome) => outcome,
        Err(_) => timed_out(service, limit),
    }
}

/// What a probe that ran out of time means: a health endpoint that does not answer is down;
/// a control-plane API that does not answer leaves the last value stale.
fn timed_out(service: &Service, limit: Duration) -> Outcome {
    let after = humantime::format_duration(limit);
    if service.kind.is_google() || service.kind == Kind::K8sWorkload {
        Outcome::Failed {
            error: format!(
                "{} did not answer within {after}",
                gcp::api_name(service.kind)
            ),
            retry_after: None,
        }
    } else {
        Outcome::Observed(Observation::down(format!("no answer within {after}")))
    }
}

async fn dispatch(ctx: &ProbeContext, service: &Service) -> Outcome {
    match &service.target {
        Target::Http {
            url,
            expect_status,
            max_latency,
            up_when,
        } => {
            http::probe(
                &ctx.http,
                url,
                *expect_status,
                *max_latency,
                up_when.as_deref(),
            )
            .await
        }
        Target::CloudSql { project, instance } => {
            gcp::cloud_sql::probe(&ctx.google, project, instance).await
        }
        Target::CloudRun {
            project,
            location,
            service: name,
        } => gcp::cloud_run::probe(&ctx.google, project, location, name).await,
        Target::Memorystore {
            project,
            location,
            instance,
        } => gcp::memorystore::probe(&ctx.google, project, location, instance).await,
        Target::GcpRest {
            url,
            up_when,
            degraded_when,
        } => {
            gcp::gcp_rest::probe(ctx.google.client(), url, up_when, degraded_when.as_deref()).await
        }
        Target::K8sWorkload {
            context,
            namespace,
            workload,
            name,
        } => {
            ctx.kube
                .probe(context.as_deref(), namespace, *workload, name)
                .await
        }
        Target::CloudTasks {
            project,
            location,
            queue,
            thresholds,
        } => gcp::cloud_tasks::probe(&ctx.google, project, location, queue, thresholds).await,
        Target::Redis {
            url,
            password_env,
            sentinel_master,
        } => redis::probe(url, password_env.as_deref(), sentinel_master.as_deref()).await,
        Target::RedisQueue {
            url,
            password_env,
            queue,
            format,
            thresholds,
        } => redis_queue::probe(url, password_env.as_deref(), queue, *format, thresholds).await,
        Target::RabbitmqQueue {
            url,
            vhost,
            queue,
            user,
            password_env,
            thresholds,
        } => {
            let target = rabbitmq::QueueRef {
                url,
                vhost,
                queue,
                user: user.as_deref(),
                password_env: password_env.as_deref(),
            };
            rabbitmq::probe(&ctx.http, target, thresholds).await
        }
        Target::Postgres { url, password_env } => {
            postgres::probe(url, password_env.as_deref()).await
        }
        Target::Mysql { url, password_env } => mysql::probe(url, password_env.as_deref()).await,
        Target::Prometheus {
            url,
            metric,
            up_when,
        } => prometheus::probe(&ctx.http, url, metric, up_when).await,
        Target::Promql {
            url,
            query,
            up_when,
        } => promql::probe(&ctx.http, url, query, up_when).await,
        Target::PubsubSubscription {
            project,
            subscription,
            thresholds,
        } => gcp::pubsub::probe(&ctx.google, project, subscription, thresholds).await,
    }
}

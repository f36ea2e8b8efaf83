//! The per-target lease: before a run's first step, opsdeck takes a lease named after the
//! estate and the target in a shared system the estate names (`[lease]`: a Kubernetes Lease
//! object, a Redis key with a TTL, or a local file for a single bastion), so two operators
//! cannot act on one target at once. A held lease names its holder. The lease lasts `ttl`
//! unless renewed; a run renews it every third of that while it goes on, and releases it when
//! it ends. A run stopped by a signal keeps it (its write may still be running); the same run,
//! resumed, may take it back, as may anyone once it expires or once its holder's process on
//! this host is gone.

mod file;
mod kube_lease;
mod redis_lease;

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::estate::{Estate, LeaseBackend};

/// Who holds a lease, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// `user@host`.
    pub who: String,
    pub host: String,
    pub pid: u32,
    pub run: String,
    pub runbook: String,
    pub acquired_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Holder {
    /// "root@bastion-1 (runbook cloud-sql-failover, run r-…, since 21:15:30 UTC, until …)".
    pub fn describe(&self) -> String {
        format!(
            "{} (runbook {}, run {}, pid {}, since {}, until {} unless renewed)",
            self.who,
            self.runbook,
            self.run,
            self.pid,
            self.acquired_at.format("%Y-%m-%d %H:%M:%S UTC"),
            self.expires_at.format("%H:%M:%S UTC")
        )
    }

    /// Someone else may take it: expired, or its process on this host is gone.
    pub fn is_stale(&self, now: DateTime<Utc>, this_host: &str) -> bool {
        now >= self.expires_at || (self.host == this_host && !process_alive(self.pid))
    }
}

/// Whether a process with this id runs on this host.
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc_root = std::path::Path::new("/proc");
    if !proc_root.is_dir() {
        // Without /proc, assume it is alive: the lease then ends by expiry only.
        return true;
    }
    proc_root.join(pid.to_string()).exists()
}

/// Why a lease could not be taken, renewed or released.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    /// Someone else holds it.
    #[error("the lease on '{target}' is held by {}", .holder.describe())]
    Held { target: String, holder: Box<Holder> },
    /// The shared system could not be reached or refused.
    #[error("the {backend} lease on '{target}' cannot be used: {why}")]
    Backend {
        backend: &'static str,
        target: String,
        why: String,
    },
    /// It was taken over while the run went on.
    #[error("the lease on '{target}' was lost: {why}")]
    Lost { target: String, why: String },
}

/// Where one target's lease lives.
#[derive(Debug, Clone)]
pub struct LeaseSpot {
    backend: Backend,
    /// The target's service id.
    pub target: String,
    /// The lease's name: `opsdeck-<estate>-<target>`, DNS-safe.
    pub name: String,
    pub ttl: Duration,
    /// The Kubernetes client, made on first use and kept for every renewal.
    kube: tokio::sync::OnceCell<kube::Api<k8s_openapi::api::coordination::v1::Lease>>,
}

#[derive(Debug, Clone)]
enum Backend {
    File(PathBuf),
    Kubernetes {
        kubeconfig: Option<PathBuf>,
        context: Option<String>,
        namespace: String,
    },
    Redis {
        url: String,
        password_env: Option<String>,
        key: String,
    },
}

impl LeaseSpot {
    /// The lease of `target` in `estate`, in the backend the estate names (a local file in
    /// `data_dir/leases` by default).
    pub fn of(estate: &Estate, target: &str, data_dir: &std::path::Path) -> LeaseSpot {
        let name = lease_name(&estate.name, target);
        let backend = match &estate.lease.backend {
            LeaseBackend::File { dir } => {
                Backend::File(dir.clone().unwrap_or_else(|| data_dir.join("leases")))
            }
            LeaseBackend::Kubernetes { context, namespace } => Backend::Kubernetes {
                kubeconfig: estate.kubeconfig.clone(),
                context: context.clone(),
                namespace: namespace.clone(),
            },
            LeaseBackend::Redis {
                url,
                password_env,
                key_prefix,
            } => Backend::Redis {
                url: url.clone(),
                password_env: password_env.clone(),
                key: format!("{key_prefix}{}:{target}", estate.name),
            },
        };
        LeaseSpot {
            backend,
            target: target.to_string(),
            name,
            ttl: estate.lease.ttl,
            kube: tokio::sync::OnceCell::new(),
        }
    }

    /// `kubernetes`, `redis` or `file`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::File(_) => "file",
            Backend::Kubernetes { .. } => "kubernetes",
            Backend::Redis { .. } => "redis",
        }
    }

    /// Where it is, for messages ("file /var/lib/…", "Lease ops/opsdeck-…").
    pub fn place(&self) -> String {
        match &self.backend {
            Backend::File(dir) => format!(
                "file {}",
                dir.join(format!("{}.lease", self.name)).display()
            ),
            Backend::Kubernetes {
                context, namespace, ..
            } => format!(
                "Lease {namespace}/{}{}",
                self.name,
                context
                    .as_deref()
                    .map(|c| format!(" in context {c}"))
                    .unwrap_or_default()
            ),
            Backend::Redis { url, key, .. } => {
                format!("key {key} on {}", crate::probe::credentials::redact(url))
            }
        }
    }

    /// The Kubernetes Lease API of a `kubernetes` backend, its client made once.
    async fn kube_api(
        &self,
    ) -> Result<&kube::Api<k8s_openapi::api::coordination::v1::Lease>, LeaseError> {
        let Backend::Kubernetes {
            kubeconfig,
            context,
            namespace,
        } = &self.backend
        else {
            return Err(self.backend_error("not a Kubernetes lease"));
        };
        self.kube
            .get_or_try_init(|| kube_lease::api(kubeconfig.as_ref(), context.as_deref(), namespace))
            .await
            .map_err(|e| self.backend_error(e))
    }

    fn backend_error(&self, why: impl Into<String>) -> LeaseError {
        LeaseError::Backend {
            backend: self.backend_name(),
            target: self.target.clone(),
            why: why.into(),
        }
    }

    /// Takes the lease for `me`. `reclaim` is the id of an interrupted run this one resumes:
    /// a lease that run still holds is taken over.
    pub async fn acquire(&self, me: &Holder, reclaim: Option<&str>) -> Result<(), LeaseError> {
        match &self.backend {
            Backend::File(dir) => file::acquire(self, dir, me, reclaim),
            Backend::Kubernetes { .. } => {
                kube_lease::acquire(self, self.kube_api().await?, me, reclaim).await
            }
            Backend::Redis {
                url,
                password_env,
                key,
            } => redis_lease::acquire(self, url, password_env.as_deref(), key, me, reclaim).await,
        }
    }

    /// Extends the lease by its TTL; fails when someone else has taken it.
    pub async fn renew(&self, me: &Holder) -> Result<(), LeaseError> {
        match &self.backend {
            Backend::File(dir) => file::renew(self, dir, me),
            Backend::Kubernetes { .. } => kube_lease::renew(self, self.kube_api().await?, me).await,
            Backend::Redis {
                url,
                password_env,
                key,
            } => redis_lease::renew(self, url, password_env.as_deref(), key, me).await,
        }
    }

    /// Gives the lease up, if `me` still holds it.
    pub async fn release(&self, me: &Holder) -> Result<(), LeaseError> {
        match &self.backend {
            Backend::File(dir) => file::release(self, dir, me),
            Backend::Kubernetes { .. } => {
                kube_lease::release(self, self.kube_api().await?, me).await
            }
            Backend::Redis {
                url,
                password_env,
                key,
            } => redis_lease::release(self, url, password_env.as_deref(), key, me).await,
        }
    }

    /// Who holds it now, if anyone (an expired lease is still shown, marked by its time).
    pub async fn holder(&self) -> Result<Option<Holder>, LeaseError> {
        match &self.backend {
            Backend::File(dir) => file::holder(self, dir),
            Backend::Kubernetes {
                kubeconfig,
                context,
                namespace,
            } => {
                let api = kube_lease::api(kubeconfig.as_ref(), context.as_deref(), namespace)
                    .await
                    .map_err(|e| self.backend_error(e))?;
                kube_lease::holder(self, &api).await
            }
            Backend::Redis {
                url,
                password_env,
                key,
            } => redis_lease::holder(self, url, password_env.as_deref(), key).await,
        }
    }

    /// Whether `current` may be taken over by `me` (resuming `reclaim`).
    fn may_take(current: &Holder, me: &Holder, reclaim: Option<&str>) -> bool {
        current.run == me.run
            || reclaim.is_some_and(|r| r == current.run)
            || current.is_stale(Utc::now(), &me.host)
    }

    fn held(&self, holder: Holder) -> LeaseError {
        LeaseError::Held {
            target: self.target.clone(),
            holder: Box::new(holder),
        }
    }
}

/// A holder record for `me` now, good for `ttl`.
pub fn holder_now(who: &str, host: &str, run: &str, runbook: &str, ttl: Duration) -> Holder {
    let now = Utc::now();
    Holder {
        who: who.to_string(),
        host: host.to_string(),
        pid: std::process::id(),
        run: run.to_string(),
        runbook: runbook.to_string(),
        acquired_at: now,
        expires_at: now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(5)),
    }
}

/// `opsdeck-<estate>-<target>`, lower case, DNS-1123 (at most 63 characters).
pub fn lease_name(estate: &str, target: &str) -> String {
    let raw = format!("opsdeck-{estate}-{target}").to_ascii_lowercase();
    let mut name: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    while name.contains("--") {
        name = name.replace("--", "-");
    }
    let mut name: String = name.chars().take(63).collect();
    while name.ends_with('-') {
        name.pop();
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_safe() {
        assert_eq!(
            lease_name("tappass-demo", "sql"),
            "opsdeck-tappass-demo-sql"
        );
        assert_eq!(
            lease_name("Deplate Prod", "redis_1"),
            "opsdeck-deplate-prod-redis-1"
        );
        assert!(lease_name(&"x".repeat(80), "y").len() <= 63);
    }

    #[test]
    fn a_lease_is_stale_when_expired_or_its_process_is_gone() {
        let now = Utc::now();
        let mut h = holder_now("a@h", "h", "r1", "rb", Duration::from_secs(60));
        assert!(!h.is_stale(now, "h"));
        assert!(h.is_stale(now + chrono::Duration::seconds(61), "h"));
        h.pid = u32::MAX - 7;
        assert!(h.is_stale(now, "h") || !std::path::Path::new("/proc").is_dir());
        assert!(!h.is_stale(now, "another-host"));
    }
}

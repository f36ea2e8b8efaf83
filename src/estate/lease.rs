//! The estate's `[lease]` table: where runbook runs take the per-target lease that keeps two
//! operators from acting on the same target at once. Reading and checking only; taking and
//! releasing leases is the runbook engine's business.

use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use super::node::Node;
use super::reader::{Ctx, Fields, closest};

/// The shortest lease the estate may ask for: renewals run every third of it.
const MIN_TTL: Duration = Duration::from_secs(15);
/// A lease lasts this long unless renewed (renewed every third of it while a run goes on).
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// Where runbook runs keep their leases, and how long one lasts without renewal.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseConfig {
    pub backend: LeaseBackend,
    pub ttl: Duration,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig {
            backend: LeaseBackend::File { dir: None },
            ttl: DEFAULT_TTL,
        }
    }
}

/// The shared system a lease lives in.
#[derive(Debug, Clone, PartialEq)]
pub enum LeaseBackend {
    /// A `coordination.k8s.io/v1` Lease object in this context (else the current one) and
    /// namespace.
    Kubernetes {
        context: Option<String>,
        namespace: String,
    },
    /// A Redis key with a TTL (`SET … NX PX`).
    Redis {
        url: String,
        password_env: Option<String>,
        key_prefix: String,
    },
    /// A file per target in a directory (else `<XDG data>/opsdeck/leases`): one bastion only.
    File { dir: Option<PathBuf> },
}

impl LeaseBackend {
    /// `kubernetes`, `redis` or `file`.
    pub fn name(&self) -> &'static str {
        match self {
            LeaseBackend::Kubernetes { .. } => "kubernetes",
            LeaseBackend::Redis { .. } => "redis",
            LeaseBackend::File { .. } => "file",
        }
    }
}

const BACKENDS: &[&str] = &["kubernetes", "redis", "file"];
const COMMON: &[&str] = &["backend", "ttl"];
const KUBERNETES_KEYS: &[&str] = &["context", "namespace"];
const REDIS_KEYS: &[&str] = &["url", "password_env", "key_prefix"];
const FILE_KEYS: &[&str] = &["dir"];

/// Reads `[lease]`; problems become diagnostics and the default (a local file) stands in.
pub(super) fn read_lease(ctx: &mut Ctx, v: &Spanned<Node>) -> LeaseConfig {
    let Node::Table(t) = v.get_ref() else {
        ctx.error(v.span(), "the estate: [lease] must be a table".to_string());
        return LeaseConfig::default();
    };
    let mut f = Fields::new(t, "[lease]".to_string(), v.span());
    let ttl = match f.duration(ctx, "ttl") {
        Some(d) if d < MIN_TTL => {
            let span = f.get("ttl").map_or(v.span(), Spanned::span);
            ctx.error(
                span,
                format!(
                    "[lease]: key 'ttl' is \"{}\", shorter than the {} a lease must last between renewals",
                    humantime::format_duration(d),
                    humantime::format_duration(MIN_TTL)
                ),
            );
            DEFAULT_TTL
        }
        Some(d) => d,
        None => DEFAULT_TTL,
    };
    let backend_raw = f.required_string(ctx, "backend");
    let which = backend_raw.as_ref().map(|s| s.get_ref().as_str());
    let (own, backend): (&[&str], LeaseBackend) = match which {
        Some("kubernetes") => {
            let context = f.string(ctx, "context").map(Spanned::into_inner);
            let namespace = f
                .string(ctx, "namespace")
                .map_or_else(|| "default".to_string(), Spanned::into_inner);
            (
                KUBERNETES_KEYS,
                LeaseBackend::Kubernetes { context, namespace },
            )
        }
        Some("redis") => {
            let url = f.required_string(ctx, "url");
            if let Some(u) = &url
                && !(u.get_ref().starts_with("redis://") || u.get_ref().starts_with("rediss://"))
            {
                let scheme = u
                    .get_ref()
                    .split_once("://")
                    .map_or("no scheme", |(s, _)| s);
                ctx.error(
                    u.span(),
                    format!(
                        "[lease]: key 'url' must be a redis:// or rediss:// URL, found scheme \"{scheme}\""
                    ),
                );
            }
            let password_env = f.string(ctx, "password_env").map(Spanned::into_inner);
            let key_prefix = f
                .string(ctx, "key_prefix")
                .map_or_else(|| "opsdeck:lease:".to_string(), Spanned::into_inner);
            let backend = LeaseBackend::Redis {
                url: url.map(Spanned::into_inner).unwrap_or_default(),
                password_env,
                key_prefix,
            };
            (REDIS_KEYS, backend)
        }
        Some("file") => {
            let dir = f.string(ctx, "dir").map(|d| PathBuf::from(d.into_inner()));
            (FILE_KEYS, LeaseBackend::File { dir })
        }
        Some(other) => {
            let span = backend_raw.as_ref().map_or(v.span(), Spanned::span);
            let hint = closest(other, BACKENDS.iter().copied())
                .map(|b| format!("; did you mean \"{b}\"?"))
                .unwrap_or_default();
            ctx.error(
                span,
                format!(
                    "[lease]: key 'backend' is \"{other}\"; use \"kubernetes\", \"redis\" or \"file\"{hint}"
                ),
            );
            (&[], LeaseConfig::default().backend)
        }
        None => (&[], LeaseConfig::default().backend),
    };
    let chosen = which.filter(|w| BACKENDS.contains(w));
    let mut known: Vec<&str> = COMMON.to_vec();
    known.extend_from_slice(own);
    let foreign = |key: &str| -> Option<String> {
        let owner = [
            ("kubernetes", KUBERNETES_KEYS),
            ("redis", REDIS_KEYS),
            ("file", FILE_KEYS),
        ]
        .into_iter()
        .find(|(_, keys)| keys.contains(&key))
        .map(|(b, _)| b)?;
        chosen.map(|c| format!(" (it belongs to backend \"{owner}\", and this lease uses \"{c}\")"))
    };
    f.finish(ctx, &known, &foreign);
    LeaseConfig { backend, ttl }
}

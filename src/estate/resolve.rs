//! Resolving services against the estate: regions, `[gcp]` defaults and the environment turn
//! each service's locator keys into a typed [`Target`].

use std::collections::HashMap;
use std::time::Duration;

use toml::Spanned;

use super::kind::Kind;
use super::node;
use super::reader::Ctx;
use super::service::RawService;
use super::{Gcp, QueueFormat, Region, Service, Target, WorkloadKind};
use crate::condition::Condition;

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) struct Resolved {
    pub(super) service: Service,
}

pub(super) fn resolve_services(
    ctx: &mut Ctx,
    raws: Vec<RawService>,
    regions: &[(Region, std::ops::Range<usize>)],
    gcp: Option<&Gcp>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<Resolved> {
    let mut out = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for raw in raws {
        let (Some(id), Some(kind), Some(sev)) = (raw.id.clone(), raw.kind, raw.sev) else {
            continue;
        };
        let what = format!("service \"{}\"", id.get_ref());
        if let Some(first) = seen.get(id.get_ref()) {
            let (line, _) = node::line_col(ctx.source, *first);
            ctx.error(
                id.span(),
                format!(
                    "service id \"{}\" is defined twice (first at line {line})",
                    id.get_ref()
                ),
            );
            continue;
        }
        seen.insert(id.get_ref().clone(), id.span().start);
        let region = match &raw.region {
            Some(r) => {
                if let Some((region, _)) = regions.iter().find(|(x, _)| x.id == *r.get_ref()) {
                    Some(region)
                } else {
                    let known: Vec<&str> = regions.iter().map(|(x, _)| x.id.as_str()).collect();
                    ctx.error(
                        r.span(),
                        format!(
                            "{what}: region \"{}\" is not declared in any [[region]] (declared: {})",
                            r.get_ref(),
                            if known.is_empty() { "none".to_string() } else { known.join(", ") }
                        ),
                    );
                    None
                }
            }
            None => None,
        };
        let Some(target) = resolve_target(ctx, &raw, &what, kind, region, gcp, env) else {
            continue;
        };
        out.push(Resolved {
            service: Service {
                id: id.get_ref().clone(),
                name: raw.name.clone().unwrap_or_else(|| id.get_ref().clone()),
                kind,
                region: raw.region.as_ref().map(|r| r.get_ref().clone()),
                sev,
                fallback: raw.fallback.clone(),
                depends_on: raw.deps.iter().map(|(d, _)| d.clone()).collect(),
                owner: raw.owner.clone(),
                escalation: raw.escalation.clone(),
                runbooks: raw.runbooks.clone(),
                interval: raw.interval.unwrap_or(DEFAULT_INTERVAL),
                timeout: raw.timeout.unwrap_or(DEFAULT_TIMEOUT),
                target,
            },
        });
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn resolve_target(
    ctx: &mut Ctx,
    raw: &RawService,
    what: &str,
    kind: Kind,
    region: Option<&Region>,
    gcp: Option<&Gcp>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<Target> {
    let loc = &raw.locator;
    let s = |key: &str| loc.strings.get(key).map(|v| v.get_ref().clone());
    let span_of = |key: &str| loc.strings.get(key).map_or(raw.span.clone(), Spanned::span);
    let mut ok = true;

    let project = |ctx: &mut Ctx| -> Option<String> {
        let p = loc
            .project
            .clone()
            .or_else(|| region.and_then(|r| r.project.clone()))
            .or_else(|| gcp.and_then(|g| g.project.clone()));
        if p.is_none() {
            ctx.error(
                raw.span.clone(),
                format!("{what} (kind '{kind}') needs a Google project: set 'project' on it, on its region, or in [gcp]"),
            );
        }
        p
    };
    let location = |ctx: &mut Ctx| -> Option<String> {
        let loc = region.and_then(|r| r.gcp_region.clone());
        if loc.is_none()
            && let Some(r) = region
        {
            ctx.error(
                raw.span.clone(),
                format!(
                    "{what} (kind '{kind}'): its region \"{}\" has no 'gcp_region'",
                    r.id
                ),
            );
        }
        loc
    };

    let bad_condition = std::cell::Cell::new(false);
    let condition = |ctx: &mut Ctx, key: &str| -> Option<String> {
        let text = s(key)?;
        if let Err(e) = Condition::parse(&text) {
            let quoted = if text.contains('"') {
                format!("'{text}'")
            } else {
                format!("\"{text}\"")
            };
            // Point at the offending character: past the opening quote, when the string
            // is written on one line.
            let span = span_of(key);
            let at = span.start
                + 1
                + text
                    .chars()
                    .take(e.position)
                    .map(char::len_utf8)
                    .sum::<usize>();
            let at = if at < span.end { at } else { span.start };
            ctx.error(
                at..at,
                format!(
                    "{what}: key '{key}' is {quoted}, which does not parse: {}",
                    e.message
                ),
            );
            bad_condition.set(true);
        }
        Some(text)
    };

    if let Some(var) = s("password_env")
        && env(&var).is_none()
    {
        ctx.warning(
                span_of("password_env"),
                format!("{what}: environment variable \"{var}\" (password_env) is not set; the probe will report it"),
            );
    }
    let url = s("url");
    if let Some(u) = &url
        && !u.contains("://")
    {
        ctx.error(
                span_of("url"),
                format!("{what}: key 'url' is \"{u}\", which has no scheme (like \"https://\" or \"redis://\")"),
            );
        ok = false;
    }
    let th = loc.thresholds;
    if let (Some(w), Some(c)) = (th.warn_depth, th.crit_depth)
        && w > c
    {
        ctx.error(
            loc.warn_span.clone().unwrap_or_else(|| raw.span.clone()),
            format!("{what}: warn_depth ({w}) is above crit_depth ({c})"),
        );
    }

    let target = match kind {
        Kind::CloudRun => Target::CloudRun {
            project: project(ctx)?,
            location: location(ctx)?,
            service: s("service")?,
        },
        Kind::CloudSql => Target::CloudSql {
            project: project(ctx)?,
            instance: s("instance")?,
        },
        Kind::CloudTasks => Target::CloudTasks {
            project: project(ctx)?,
            location: location(ctx)?,
            queue: s("queue")?,
            thresholds: th,
        },
        Kind::Memorystore => Target::Memorystore {
            project: project(ctx)?,
            location: location(ctx)?,
            instance: s("instance")?,
        },
        Kind::GcpRest => Target::GcpRest {
            url: url?,
            up_when: condition(ctx, "up_when")?,
            degraded_when: condition(ctx, "degraded_when"),
        },
        Kind::PubsubSubscription => Target::PubsubSubscription {
            project: project(ctx)?,
            subscription: s("subscription")?,
            thresholds: th,
        },
        Kind::K8sWorkload => {
            let text = s("workload")?;
            let parsed = text.split_once('/').and_then(|(k, n)| {
                let wk = match k {
                    "deployment" | "deploy" => WorkloadKind::Deployment,
                    "statefulset" | "sts" => WorkloadKind::StatefulSet,
                    "daemonset" | "ds" => WorkloadKind::DaemonSet,
                    _ => return None,
                };
                (!n.is_empty()).then(|| (wk, n.to_string()))
            });
            let Some((workload, name)) = parsed else {
                ctx.error(
                    span_of("workload"),
                    format!("{what}: key 'workload' is \"{text}\"; write it as \"deployment/NAME\", \"statefulset/NAME\" or \"daemonset/NAME\""),
                );
                return None;
            };
            Target::K8sWorkload {
                context: region.and_then(|r| r.kube_context.clone()),
                namespace: s("namespace")?,
                workload,
                name,
            }
        }
        Kind::Redis => Target::Redis {
            url: url?,
            password_env: s("password_env"),
            sentinel_master: s("sentinel_master"),
        },
        Kind::RedisQueue => {
            let format = match s("format").as_deref() {
                None | Some("celery") => QueueFormat::Celery,
                Some("laravel") => QueueFormat::Laravel,
                Some(other) => {
                    ctx.error(
                        span_of("format"),
                        format!(
                            "{what}: key 'format' is \"{other}\"; use \"celery\" or \"laravel\""
                        ),
                    );
                    return None;
                }
            };
            Target::RedisQueue {
                url: url?,
                password_env: s("password_env"),
                queue: s("queue")?,
                format,
                thresholds: th,
            }
        }
        Kind::RabbitmqQueue => Target::RabbitmqQueue {
            url: url?,
            vhost: s("vhost").unwrap_or_else(|| "/".to_string()),
            queue: s("queue")?,
            user: s("user"),
            password_env: s("password_env"),
            thresholds: th,
        },
        Kind::Postgres => Target::Postgres {
            url: url?,
            password_env: s("password_env"),
        },
        Kind::Mysql => Target::Mysql {
            url: url?,
            password_env: s("password_env"),
        },
        Kind::Http => Target::Http {
            url: url?,
            expect_status: loc.expect_status.unwrap_or(200),
            max_latency: loc.max_latency,
            up_when: condition(ctx, "up_when"),
        },
        Kind::Prometheus => Target::Prometheus {
            url: url?,
            metric: s("metric")?,
            up_when: condition(ctx, "up_when")?,
        },
        Kind::Promql => Target::Promql {
            url: url?,
            query: s("query")?,
            up_when: condition(ctx, "up_when")?,
        },
    };
    (ok && !bad_condition.get()).then_some(target)
}

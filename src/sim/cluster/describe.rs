//! What `opsdeck sim` prints about the cluster side: the kubeconfig to export and a kubectl,
//! redis-cli or curl line for every simulated API server, Redis, Sentinel, queue, RabbitMQ
//! broker, Prometheus server and exporter. Pure.

use std::path::Path;

use super::clock::url_parts;
use super::world::ClusterWorld;
use crate::estate::{Estate, QueueFormat, Target};
use crate::sim::redis_model::Role;

fn pad(command: &str, comment: &str) -> String {
    format!("  {command:<64} # {comment}")
}

/// `-a "$VAR" --no-auth-warning` when the estate names a password variable that is set.
fn redis_auth(estate: &Estate, authority: &str) -> String {
    estate
        .services
        .iter()
        .filter_map(|s| match &s.target {
            Target::Redis {
                url, password_env, ..
            }
            | Target::RedisQueue {
                url, password_env, ..
            } if url_parts(url, 6379).authority == authority
                || url_parts(url, 26379).authority == authority =>
            {
                password_env.clone()
            }
            _ => None,
        })
        .find(|var| std::env::var_os(var).is_some())
        .map(|var| format!("-a \"${var}\" --no-auth-warning "))
        .unwrap_or_default()
}

pub(crate) fn lines(
    estate: &Estate,
    world: &ClusterWorld,
    contexts: &[(String, std::net::SocketAddr)],
    kubeconfig: Option<&Path>,
) -> Vec<String> {
    let mut out = Vec::new();
    if !contexts.is_empty() {
        out.push(
            "Kubernetes API servers (plain HTTP on loopback; one kubeconfig context per region):"
                .to_string(),
        );
        if let Some(path) = kubeconfig {
            out.push(format!("  export KUBECONFIG={}", path.display()));
        }
        for (name, addr) in contexts {
            out.push(pad(
                &format!("kubectl --context {name} get deploy -A"),
                &format!("http://{addr}"),
            ));
        }
    }
    if !world.redis.nodes.is_empty() {
        out.push("Redis servers and Sentinels (RESP):".to_string());
        for n in &world.redis.nodes {
            let auth = n
                .estate
                .as_deref()
                .map(|a| redis_auth(estate, a))
                .unwrap_or_default();
            let (command, what) = match n.role {
                Role::Sentinel => {
                    let name = world
                        .redis
                        .groups
                        .get(n.group)
                        .and_then(|g| g.master_name.clone())
                        .unwrap_or_default();
                    (
                        format!("SENTINEL get-master-addr-by-name {name}"),
                        "Sentinel",
                    )
                }
                Role::Master => ("INFO replication".to_string(), "master"),
                Role::Replica => ("INFO replication".to_string(), "replica"),
            };
            let at = n.estate.as_deref().unwrap_or("no estate address");
            out.push(pad(
                &format!("redis-cli -p {} {auth}{command}", n.port),
                &format!("{what}, {at}"),
            ));
        }
        for s in &estate.services {
            let Target::RedisQueue {
                url, queue, format, ..
            } = &s.target
            else {
                continue;
            };
            let p = url_parts(url, 6379);
            let Some(node) = world
                .redis_by_authority
                .get(&p.authority)
                .and_then(|i| world.redis.nodes.get(*i))
            else {
                continue;
            };
            let key = match format {
                QueueFormat::Celery => queue.clone(),
                QueueFormat::Laravel => format!("queues:{queue}"),
            };
            let db = p
                .rest
                .trim_start_matches('/')
                .split('/')
                .next()
                .filter(|d| !d.is_empty() && *d != "0")
                .map(|d| format!("-n {d} "))
                .unwrap_or_default();
            out.push(pad(
                &format!(
                    "redis-cli -p {} {}{db}LLEN {key}",
                    node.port,
                    redis_auth(estate, &p.authority)
                ),
                &format!("queue {}", s.id),
            ));
        }
    }
    if !world.rabbit.is_empty() {
        out.push("RabbitMQ management API (basic auth):".to_string());
        for s in &estate.services {
            let Target::RabbitmqQueue {
                url,
                vhost,
                queue,
                user,
                password_env,
                ..
            } = &s.target
            else {
                continue;
            };
            let p = url_parts(url, 15672);
            let Some(b) = world.rabbit.iter().find(|b| b.authority == p.authority) else {
                continue;
            };
            let user = user.clone().unwrap_or_else(|| "guest".to_string());
            let pass = password_env
                .as_ref()
                .filter(|v| std::env::var_os(v).is_some())
                .map_or_else(|| "any".to_string(), |v| format!("\"${v}\""));
            let vhost = vhost.replace('/', "%2F");
            out.push(pad(
                &format!(
                    "curl -u {user}:{pass} http://127.0.0.1:{}/api/queues/{vhost}/{queue}",
                    b.port
                ),
                &format!("queue {}", s.id),
            ));
        }
    }
    if !world.prom.is_empty() {
        out.push("Prometheus servers and exporters:".to_string());
        for e in &world.prom {
            let command = match &e.target {
                Target::Prometheus { url, .. } => {
                    let path = url_parts(url, 80).rest;
                    format!(
                        "curl http://127.0.0.1:{}{}",
                        e.port,
                        if path.is_empty() {
                            "/metrics"
                        } else {
                            path.as_str()
                        }
                    )
                }
                Target::Promql { query, .. } => {
                    format!(
                        "curl http://127.0.0.1:{}/api/v1/query --data-urlencode 'query={}'",
                        e.port,
                        query.replace('\'', "'\\''")
                    )
                }
                _ => continue,
            };
            out.push(pad(&command, &format!("{} ({})", e.service, e.authority)));
        }
    }
    out
}

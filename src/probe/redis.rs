//! The `redis` probe: one Redis server, straight over RESP. PING latency and `INFO` decide its
//! status: role and replication (link to the master, replicas, lag), memory against
//! `maxmemory`, clients against `maxclients`, and keys evicted since the last look. A Sentinel
//! (the URL answers in sentinel mode) is judged by [`sentinel`] instead, for the master the
//! estate names in `sentinel_master` (or all its masters); `sentinel_master` on a URL that is
//! not a Sentinel is unknown.
//!
//! Status rules: no answer → down; credentials rejected or `password_env` unset → unknown;
//! degraded when a replica's link to its master is down or it is resyncing, a master's replica
//! is not online or lags more than [`LAG_LIMIT_S`] seconds, memory is above 90 % of
//! `maxmemory`, keys were evicted since the previous probe, or clients are above 90 % of
//! `maxclients`.

pub mod connect;
pub mod info;
pub mod sentinel;

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::model::{Evidence, Observation, Outcome, Status};
pub use connect::Connect;
pub use info::Info;

/// Replication lag (seconds since a replica's last acknowledgement) that counts as high.
pub const LAG_LIMIT_S: u64 = 30;
/// Share of `maxmemory` or `maxclients` above which a server is at risk.
const NEAR_FULL: f64 = 0.9;

/// `evicted_keys` seen at the previous probe of each server (by its shown URL): evictions are
/// a counter, so only a rise since the last look says keys are being lost now.
static LAST_EVICTED: LazyLock<Mutex<HashMap<String, u64>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Probes the Redis server (or Sentinel) of an estate service.
pub async fn probe(
    url: &str,
    password_env: Option<&str>,
    sentinel_master: Option<&str>,
) -> Outcome {
    match Connect::from_estate(url, password_env) {
        Ok(connect) => probe_with(&connect, sentinel_master).await,
        Err(unset) => Outcome::Observed(unset.observation()),
    }
}

/// Probes through an explicit connection (custom TLS roots, a password given directly).
pub async fn probe_with(connect: &Connect, sentinel_master: Option<&str>) -> Outcome {
    Outcome::Observed(look(connect, sentinel_master).await)
}

async fn look(connect: &Connect, sentinel_master: Option<&str>) -> Observation {
    let mut conn = match connect.open().await {
        Ok(c) => c,
        Err(obs) => return obs,
    };
    let started = Instant::now();
    if let Err(e) = redis::cmd("PING").query_async::<String>(&mut conn).await {
        return connect.failure(&e);
    }
    let ping = started.elapsed();
    let text: String = match redis::cmd("INFO").query_async(&mut conn).await {
        Ok(t) => t,
        Err(e) => return connect.failure(&e),
    };
    let info = Info::parse(&text);
    if info.mode() == "sentinel" {
        return sentinel::look(connect, &mut conn, sentinel_master, ping).await;
    }
    if let Some(name) = sentinel_master {
        return Observation::unknown(format!(
            "{} is not a Sentinel (redis_mode {}), yet the estate names sentinel_master '{name}'",
            connect.subject(),
            info.mode()
        ));
    }
    let key = connect.shown();
    let evicted_now = info.num::<u64>("evicted_keys");
    let previous = {
        let mut seen = LAST_EVICTED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match evicted_now {
            Some(n) => seen.insert(key, n),
            None => seen.get(&key).copied(),
        }
    };
    observe(&info, ping, previous)
}

/// The status of one server from its `INFO`, the PING round trip, and the `evicted_keys`
/// counter seen at the previous probe (if any).
pub fn observe(info: &Info, ping: Duration, previous_evicted: Option<u64>) -> Observation {
    let mut risks: Vec<String> = Vec::new();
    let role = info.role();
    let mut parts = vec![role.to_string()];
    let ping_ms = (ping.as_secs_f64() * 10_000.0).round() / 10.0;
    let mut metrics: Vec<(&str, Value)> = vec![
        ("ping_ms", ping_ms.into()),
        ("role", role.into()),
        ("redis_mode", info.mode().into()),
    ];
    if let Some(v) = info.get("redis_version") {
        metrics.push(("redis_version", v.into()));
    }

    if role == "replica" {
        replica_view(info, &mut parts, &mut metrics, &mut risks);
    } else {
        master_view(info, &mut parts, &mut metrics, &mut risks);
    }

    let used = info.num::<u64>("used_memory");
    let max = info.num::<u64>("maxmemory").unwrap_or(0);
    if let Some(used) = used {
        metrics.push(("used_memory", used.into()));
        metrics.push(("maxmemory", max.into()));
        if max > 0 {
            let share = used as f64 / max as f64;
            metrics.push(("memory_used_pct", ((share * 1000.0).round() / 10.0).into()));
            parts.push(format!("{} of {}", bytes(used), bytes(max)));
            if share > NEAR_FULL {
                risks.push(format!(
                    "memory at {:.0} % of maxmemory ({} of {})",
                    share * 100.0,
                    bytes(used),
                    bytes(max)
                ));
            }
        } else {
            parts.push(format!("{} (no maxmemory)", bytes(used)));
        }
    }
    if let Some(policy) = info.get("maxmemory_policy") {
        metrics.push(("maxmemory_policy", policy.into()));
    }
    if let Some(evicted) = info.num::<u64>("evicted_keys") {
        metrics.push(("evicted_keys", evicted.into()));
        if let Some(before) = previous_evicted
            && evicted > before
        {
            risks.push(format!(
                "{} keys evicted since the last probe (maxmemory-policy {})",
                evicted - before,
                info.get("maxmemory_policy").unwrap_or("?")
            ));
        }
    }

    if let Some(clients) = info.num::<u64>("connected_clients") {
        metrics.push(("connected_clients", clients.into()));
        parts.push(format!("{clients} clients"));
        if let Some(maxclients) = info.num::<u64>("maxclients").filter(|m| *m > 0) {
            metrics.push(("maxclients", maxclients.into()));
            if clients as f64 > maxclients as f64 * NEAR_FULL {
                risks.push(format!(
                    "{clients} clients, above 90 % of maxclients {maxclients}"
                ));
            }
        }
    }
    for key in [
        "blocked_clients",
        "rejected_connections",
        "uptime_in_seconds",
    ] {
        if let Some(n) = info.num::<u64>(key) {
            metrics.push((key, n.into()));
        }
    }

    let status = if risks.is_empty() {
        Status::Up
    } else {
        Status::Degraded
    };
    let mut obs = Observation::new(status, parts.join(" · "));
    if !risks.is_empty() {
        obs.error = Some(format!("{}.", capitalise(&risks.join("; "))));
    }
    for (k, v) in metrics {
        obs.metrics.insert(k.to_string(), v);
    }
    obs.evidence = evidence(&obs.metrics, &risks);
    obs
}

/// Replication and eviction figures as evidence (timed by the observation itself).
fn evidence(m: &std::collections::BTreeMap<String, Value>, risks: &[String]) -> Vec<Evidence> {
    let num = |k: &str| m.get(k).and_then(Value::as_i64);
    let word = |k: &str| m.get(k).and_then(Value::as_str);
    let mut out: Vec<Evidence> = risks
        .iter()
        .map(|r| Evidence::new("risk", r.clone()))
        .collect();
    let replication = if word("role") == Some("replica") {
        let mut line = format!(
            "replica of {}, link {}",
            word("master").unwrap_or("?"),
            word("master_link_status").unwrap_or("unknown")
        );
        if let Some(s) = num("master_link_down_since_seconds").filter(|s| *s > 0) {
            line.push_str(&format!(", down for {s} s"));
        }
        if let Some(s) = num("master_last_io_seconds_ago").filter(|s| *s >= 0) {
            line.push_str(&format!(", last heard {s} s ago"));
        }
        line
    } else {
        let mut line = format!(
            "master, {} of {} replicas online",
            num("replicas_online").unwrap_or(0),
            num("connected_replicas").unwrap_or(0)
        );
        if let Some(lag) = num("replica_lag_s_max") {
            line.push_str(&format!(", max lag {lag} s"));
        }
        line
    };
    out.push(Evidence::new("replication", replication));
    if let Some(evicted) = num("evicted_keys") {
        let mut line = format!(
            "{evicted} keys evicted since start (maxmemory-policy {})",
            word("maxmemory_policy").unwrap_or("?")
        );
        if let Some(pct) = m.get("memory_used_pct").and_then(Value::as_f64) {
            line.push_str(&format!(", memory at {pct} % of maxmemory"));
        }
        out.push(Evidence::new("eviction", line));
    }
    out
}

/// A replica: the link to its master, resync, and how long since it last heard from it.
fn replica_view(
    info: &Info,
    parts: &mut Vec<String>,
    metrics: &mut Vec<(&str, Value)>,
    risks: &mut Vec<String>,
) {
    let master = format!(
        "{}:{}",
        info.get("master_host").unwrap_or("?"),
        info.get("master_port").unwrap_or("?")
    );
    let link = info.get("master_link_status").unwrap_or("unknown");
    parts[0] = format!("replica of {master}");
    parts.push(format!("link {link}"));
    metrics.push(("master", master.clone().into()));
    metrics.push(("master_link_status", link.into()));
    if link != "up" {
        let since = info
            .num::<u64>("master_link_down_since_seconds")
            .map(|s| {
                format!(
                    " for {}",
                    humantime::format_duration(Duration::from_secs(s))
                )
            })
            .unwrap_or_default();
        risks.push(format!("the link to its master {master} is {link}{since}"));
    }
    if info.get("master_sync_in_progress") == Some("1") {
        risks.push(format!("a full resync from {master} is in progress"));
    }
    for key in [
        "master_last_io_seconds_ago",
        "master_link_down_since_seconds",
        "slave_repl_offset",
    ] {
        if let Some(n) = info.num::<i64>(key) {
            metrics.push((key, n.into()));
        }
    }
}

/// A master: its replicas, their state and lag (seconds, and bytes behind its offset).
fn master_view(
    info: &Info,
    parts: &mut Vec<String>,
    metrics: &mut Vec<(&str, Value)>,
    risks: &mut Vec<String>,
) {
    let replicas = info.replicas();
    let online = replicas.iter().filter(|r| r.state == "online").count();
    let connected = info
        .num::<u64>("connected_slaves")
        .unwrap_or(replicas.len() as u64);
    metrics.push(("connected_replicas", connected.into()));
    metrics.push(("replicas_online", online.into()));
    if connected > 0 || !replicas.is_empty() {
        let noun = if online == 1 { "replica" } else { "replicas" };
        parts.push(format!("{online} {noun} online"));
    }
    let offset = info.num::<u64>("master_repl_offset");
    let mut max_lag_s = None::<u64>;
    let mut max_lag_bytes = None::<u64>;
    for r in &replicas {
        if r.state != "online" {
            risks.push(format!("replica {} is {}", r.address, r.state));
        }
        if let Some(lag) = r.lag_s {
            max_lag_s = Some(max_lag_s.map_or(lag, |m| m.max(lag)));
            if r.state == "online" && lag > LAG_LIMIT_S {
                risks.push(format!(
                    "replica {} last acknowledged {lag} s ago (limit {LAG_LIMIT_S} s)",
                    r.address
                ));
            }
        }
        if let (Some(master), Some(theirs)) = (offset, r.offset)
            && r.state == "online"
        {
            let behind = master.saturating_sub(theirs);
            max_lag_bytes = Some(max_lag_bytes.map_or(behind, |m| m.max(behind)));
        }
    }
    if let Some(s) = max_lag_s {
        metrics.push(("replica_lag_s_max", s.into()));
    }
    if let Some(b) = max_lag_bytes {
        metrics.push(("replica_lag_bytes_max", b.into()));
    }
}

/// Bytes for people: `312 MB`, `1 GB`, `980 KB`, `1.5 GB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value >= 10.0 || (value - value.round()).abs() < 0.05 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> Info {
        let path = format!("{}/fixtures/api/redis/{name}", env!("CARGO_MANIFEST_DIR"));
        Info::parse(&std::fs::read_to_string(&path).expect("fixture"))
    }

    const PING: Duration = Duration::from_micros(420);

    #[test]
    fn real_7_4_master_with_two_online_replicas_is_up() {
        let obs = observe(&fixture("info-7.4.0-master-2-replicas.txt"), PING, None);
        assert_eq!(obs.status, Status::Up, "{:?}", obs.error);
        assert_eq!(
            obs.summary,
            "master · 2 replicas online · 26 GB (no maxmemory) · 536 clients"
        );
        assert_eq!(obs.metrics["connected_replicas"], json!(2));
        assert_eq!(obs.metrics["replica_lag_s_max"], json!(0));
        // master_repl_offset 127763635259 − slave0 offset 127763393630.
        assert_eq!(obs.metrics["replica_lag_bytes_max"], json!(241_629));
        assert_eq!(obs.metrics["ping_ms"], json!(0.4));
        assert_eq!(obs.metrics["maxclients"], json!(10000));
    }

    #[test]
    fn real_6_0_master_with_a_replica_in_full_sync_is_degraded() {
        let obs = observe(
            &fixture("info-6.0.9-master-slave-send_bulk-telegraf.txt"),
            PING,
            None,
        );
        assert_eq!(obs.status, Status::Degraded);
        assert_eq!(
            obs.error.as_deref(),
            Some("Replica 127.0.0.1:8379 is send_bulk.")
        );
        assert!(
            obs.summary.starts_with("master · 1 replica online · "),
            "{}",
            obs.summary
        );
    }

    #[test]
    fn a_replica_whose_link_is_down_is_degraded() {
        let info = Info::parse(
            "role:slave\nmaster_host:10.0.0.5\nmaster_port:6379\nmaster_link_status:down\nmaster_link_down_since_seconds:42\nconnected_clients:3\nused_memory:1048576\nmaxmemory:0\n",
        );
        let obs = observe(&info, PING, None);
        assert_eq!(obs.status, Status::Degraded);
        assert_eq!(
            obs.error.as_deref(),
            Some("The link to its master 10.0.0.5:6379 is down for 42s.")
        );
        assert_eq!(
            obs.summary,
            "replica of 10.0.0.5:6379 · link down · 1 MB (no maxmemory) · 3 clients"
        );
    }

    #[test]
    fn memory_near_maxmemory_and_new_evictions_degrade() {
        let info = Info::parse(
            "role:master\nconnected_slaves:0\nused_memory:900000000\nmaxmemory:1073741824\nmaxmemory_policy:allkeys-lru\nevicted_keys:120\nconnected_clients:41\nmaxclients:10000\n",
        );
        let steady = observe(&info, PING, Some(120));
        assert_eq!(steady.status, Status::Up, "{:?}", steady.error);
        assert_eq!(steady.summary, "master · 858 MB of 1 GB · 41 clients");
        let info = Info::parse(
            "role:master\nused_memory:1000000000\nmaxmemory:1073741824\nmaxmemory_policy:allkeys-lru\nevicted_keys:150\n",
        );
        let obs = observe(&info, PING, Some(120));
        assert_eq!(obs.status, Status::Degraded);
        let error = obs.error.expect("error");
        assert!(error.starts_with("Memory at 93 % of maxmemory"), "{error}");
        assert!(
            error.contains("30 keys evicted since the last probe (maxmemory-policy allkeys-lru)")
        );
        assert_eq!(obs.metrics["memory_used_pct"], json!(93.1));
    }

    #[test]
    fn clients_near_maxclients_degrade() {
        let info = Info::parse("role:master\nconnected_clients:95\nmaxclients:100\n");
        assert_eq!(observe(&info, PING, None).status, Status::Degraded);
    }

    #[test]
    fn byte_sizes_read_naturally() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1_003_936), "980 KB");
        assert_eq!(bytes(327_155_712), "312 MB");
        assert_eq!(bytes(1_073_741_824), "1 GB");
        assert_eq!(bytes(1_610_612_736), "1.5 GB");
    }
}

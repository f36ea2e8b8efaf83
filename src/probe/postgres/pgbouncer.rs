//! PgBouncer's admin console (a `postgres` service whose URL names the database `pgbouncer`):
//! `SHOW POOLS` says how many clients are served, how many wait for a server connection and
//! for how long.
//!
//! Status rule: clients waiting longer than [`WAIT_LIMIT_S`] seconds for a server connection in
//! any pool → degraded (the pool is exhausted); otherwise up.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::model::{Observation, Status};

/// How long clients may wait for a server connection before the pool counts as exhausted.
pub const WAIT_LIMIT_S: f64 = 5.0;

/// One row of `SHOW POOLS`, by column name.
pub type Pool = BTreeMap<String, String>;

pub(super) async fn look(
    client: &Client,
    started: Instant,
) -> Result<Observation, tokio_postgres::Error> {
    let pools = named_rows(client, "SHOW POOLS").await?;
    let latency = started.elapsed();
    let version = named_rows(client, "SHOW VERSION")
        .await
        .ok()
        .and_then(|rows| rows.into_iter().next())
        .and_then(|row| row.into_values().next());
    Ok(observe(&pools, version.as_deref(), latency))
}

async fn named_rows(client: &Client, sql: &str) -> Result<Vec<Pool>, tokio_postgres::Error> {
    let messages = client.simple_query(sql).await?;
    Ok(messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                row.columns()
                    .iter()
                    .enumerate()
                    .filter_map(|(i, c)| Some((c.name().to_string(), row.get(i)?.to_string())))
                    .collect(),
            ),
            _ => None,
        })
        .collect())
}

/// The status of PgBouncer from its pools (the admin pseudo-database is left out).
pub fn observe(pools: &[Pool], version: Option<&str>, latency: Duration) -> Observation {
    let num = |p: &Pool, k: &str| p.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let served: Vec<&Pool> = pools
        .iter()
        .filter(|p| p.get("database").map(String::as_str) != Some("pgbouncer"))
        .collect();
    let mut active = 0;
    let mut waiting = 0;
    let mut servers = 0;
    let mut longest = 0.0_f64;
    let mut risks = Vec::new();
    for p in &served {
        active += num(p, "cl_active");
        let w = num(p, "cl_waiting");
        waiting += w;
        servers += num(p, "sv_active") + num(p, "sv_idle") + num(p, "sv_used");
        let wait = num(p, "maxwait") as f64 + num(p, "maxwait_us") as f64 / 1e6;
        longest = longest.max(wait);
        if w > 0 && wait > WAIT_LIMIT_S {
            risks.push(format!(
                "{w} clients of pool {}/{} wait for a server connection (longest {wait:.0} s)",
                p.get("database").map_or("?", String::as_str),
                p.get("user").map_or("?", String::as_str),
            ));
        }
    }
    let noun = if served.len() == 1 { "pool" } else { "pools" };
    let mut summary = format!(
        "{} · {} {noun} · {active} clients active · {waiting} waiting · {servers} server connections",
        version.unwrap_or("PgBouncer"),
        served.len()
    );
    if longest > 0.0 {
        summary.push_str(&format!(" · longest wait {longest:.1} s"));
    }
    let mut obs = Observation::new(Status::Up, summary);
    if !risks.is_empty() {
        obs.status = Status::Degraded;
        obs.error = Some(format!("{}.", risks.join("; ")));
    }
    for (k, v) in [
        ("role", json!("pgbouncer")),
        ("pools", json!(served.len())),
        ("clients_active", json!(active)),
        ("clients_waiting", json!(waiting)),
        ("server_connections", json!(servers)),
        ("max_wait_s", json!((longest * 10.0).round() / 10.0)),
        (
            "latency_ms",
            json!((latency.as_secs_f64() * 10_000.0).round() / 10.0),
        ),
    ] {
        obs.metrics.insert(k.to_string(), v);
    }
    if let Some(v) = version {
        obs.metrics
            .insert("pgbouncer_version".to_string(), v.into());
    }
    obs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(db: &str, active: &str, waiting: &str, maxwait: &str) -> Pool {
        [
            ("database", db),
            ("user", "app"),
            ("cl_active", active),
            ("cl_waiting", waiting),
            ("sv_active", "2"),
            ("sv_idle", "1"),
            ("sv_used", "0"),
            ("maxwait", maxwait),
            ("maxwait_us", "0"),
            ("pool_mode", "transaction"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
    }

    #[test]
    fn idle_pools_are_up_and_the_admin_database_is_not_counted() {
        let pools = [pool("app", "4", "0", "0"), pool("pgbouncer", "1", "0", "0")];
        let obs = observe(&pools, Some("PgBouncer 1.18.0"), Duration::from_millis(1));
        assert_eq!(obs.status, Status::Up);
        assert_eq!(
            obs.summary,
            "PgBouncer 1.18.0 · 1 pool · 4 clients active · 0 waiting · 3 server connections"
        );
    }

    #[test]
    fn clients_waiting_too_long_degrade() {
        let obs = observe(&[pool("app", "20", "7", "12")], None, Duration::ZERO);
        assert_eq!(obs.status, Status::Degraded);
        assert_eq!(
            obs.error.as_deref(),
            Some("7 clients of pool app/app wait for a server connection (longest 12 s).")
        );
        assert_eq!(
            observe(&[pool("app", "20", "7", "1")], None, Duration::ZERO).status,
            Status::Up
        );
    }
}

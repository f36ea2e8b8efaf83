//! The `postgres` probe: a PostgreSQL server reached directly or through PgBouncer. It connects
//! (reachability and latency), asks `pg_is_in_recovery()`, connections against
//! `max_connections`, and replication: a primary's streaming replicas and their lag, a
//! replica's WAL receiver and replay lag. Only the simple query protocol is used, so the probe
//! works through PgBouncer in transaction pooling. A URL naming the database `pgbouncer` reads
//! PgBouncer's own admin console instead ([`pgbouncer`]).
//!
//! Status rules: no connection, or the server refuses new sessions (starting up, shutting
//! down, too many clients) → down; credentials rejected, unknown database, `password_env`
//! unset, or `sslmode=require` (TLS to PostgreSQL is not built in yet) → unknown; degraded when connections are above 90 % of `max_connections`, a replica
//! has no WAL receiver streaming from its primary or replays more than [`LAG_LIMIT_S`] seconds
//! behind, or a primary's replica is not streaming or lags more than that.

pub mod pgbouncer;

use std::time::{Duration, Instant};

use tokio_postgres::{Client, Config, NoTls, SimpleQueryMessage};

use super::credentials;
use crate::model::{Observation, Outcome, Status};

/// Replication lag that counts as high.
pub const LAG_LIMIT_S: f64 = 30.0;
/// Share of `max_connections` above which the server is at risk.
const NEAR_FULL: f64 = 0.9;
/// How long connecting may take.
const CONNECT_WAIT: Duration = Duration::from_secs(5);

/// What one look at the server found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Facts {
    pub version: String,
    pub connections: u64,
    pub max_connections: u64,
    /// Connecting plus the first query.
    pub latency: Duration,
    pub role: Role,
}

/// Primary or replica, with the replication figures each can see.
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    Primary {
        /// Rows of `pg_stat_replication`.
        replicas: u64,
        /// Replicas whose state is not `streaming`.
        not_streaming: u64,
        max_lag_bytes: Option<u64>,
        max_lag_s: Option<f64>,
    },
    Replica {
        /// `pg_stat_wal_receiver.status` (`streaming`), `None` when no receiver runs.
        receiver: Option<String>,
        primary_host: Option<String>,
        lag_s: Option<f64>,
        /// WAL received but not yet replayed.
        behind_bytes: Option<u64>,
    },
}

impl Default for Role {
    fn default() -> Self {
        Role::Primary {
            replicas: 0,
            not_streaming: 0,
            max_lag_bytes: None,
            max_lag_s: None,
        }
    }
}

const BASICS: &str = "SELECT pg_is_in_recovery()::text, current_setting('max_connections'), \
     (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::text, \
     current_setting('server_version')";
const PRIMARY: &str = "SELECT count(*)::text, \
     count(*) FILTER (WHERE state <> 'streaming')::text, \
     max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn))::bigint::text, \
     max(EXTRACT(EPOCH FROM replay_lag))::text \
     FROM pg_stat_replication";
const REPLICA: &str = "SELECT \
     (SELECT status FROM pg_stat_wal_receiver LIMIT 1), \
     (SELECT sender_host FROM pg_stat_wal_receiver LIMIT 1), \
     CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN '0' \
          ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::text END, \
     pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint::text";

/// Probes the server of an estate service.
pub async fn probe(url: &str, password_env: Option<&str>) -> Outcome {
    let password = match credentials::password(password_env) {
        Ok(p) => p,
        Err(unset) => return Outcome::Observed(unset.observation()),
    };
    Outcome::Observed(look(url, password.as_deref()).await)
}

async fn look(url: &str, password: Option<&str>) -> Observation {
    let secret = credentials::secret_of(password, url);
    let subject = format!("PostgreSQL at {}", credentials::redact(url));
    let mut config: Config = match url.parse() {
        Ok(c) => c,
        Err(e) => {
            return Observation::unknown(format!(
                "{subject} cannot be used: the URL does not parse ({})",
                credentials::scrub(&e.to_string(), secret.as_deref())
            ));
        }
    };
    if let Some(p) = password {
        config.password(p);
    }
    config.connect_timeout(CONNECT_WAIT);
    if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
        return Observation::unknown(format!(
            "{subject} asks for sslmode=require, and this build of opsdeck connects to PostgreSQL without TLS"
        ));
    }
    let admin_console = config.get_dbname() == Some("pgbouncer");
    let started = Instant::now();
    let client = match connect(&config).await {
        Ok(c) => c,
        Err(e) => return failure(&subject, &e, secret.as_deref()),
    };
    let result = if admin_console {
        pgbouncer::look(&client, started).await
    } else {
        read(&client, started).await.map(|facts| observe(&facts))
    };
    result.unwrap_or_else(|e| failure(&subject, &e, secret.as_deref()))
}

async fn connect(config: &Config) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    // The connection task ends when the client is dropped at the end of the probe.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

async fn read(client: &Client, started: Instant) -> Result<Facts, tokio_postgres::Error> {
    let basics = first_row(client, BASICS).await?;
    let latency = started.elapsed();
    let in_recovery = basics.first().and_then(Option::as_deref) == Some("true");
    let role = if in_recovery {
        let r = first_row(client, REPLICA).await?;
        Role::Replica {
            receiver: r.first().cloned().flatten(),
            primary_host: r.get(1).cloned().flatten(),
            lag_s: num(&r, 2),
            behind_bytes: num(&r, 3),
        }
    } else {
        let r = first_row(client, PRIMARY).await?;
        Role::Primary {
            replicas: num(&r, 0).unwrap_or(0),
            not_streaming: num(&r, 1).unwrap_or(0),
            max_lag_bytes: num(&r, 2),
            max_lag_s: num(&r, 3),
        }
    };
    Ok(Facts {
        version: basics.get(3).cloned().flatten().unwrap_or_default(),
        connections: num(&basics, 2).unwrap_or(0),
        max_connections: num(&basics, 1).unwrap_or(0),
        latency,
        role,
    })
}

/// Cell `i` of a text row, parsed.
fn num<T: std::str::FromStr>(row: &[Option<String>], i: usize) -> Option<T> {
    row.get(i).and_then(|v| v.as_deref()?.parse().ok())
}

/// The first row of a simple query, as text cells.
pub(crate) async fn first_row(
    client: &Client,
    sql: &str,
) -> Result<Vec<Option<String>>, tokio_postgres::Error> {
    Ok(rows(client, sql)
        .await?
        .into_iter()
        .next()
        .unwrap_or_default())
}

/// Every row of a simple query, as text cells.
pub(crate) async fn rows(
    client: &Client,
    sql: &str,
) -> Result<Vec<Vec<Option<String>>>, tokio_postgres::Error> {
    let messages = client.simple_query(sql).await?;
    Ok(messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_string))
                    .collect(),
            ),
            _ => None,
        })
        .collect())
}

/// The status of a server from what one look found.
pub fn observe(facts: &Facts) -> Observation {
    let mut risks = Vec::new();
    let mut parts = Vec::new();
    let mut obs = Observation::new(Status::Up, String::new());
    let mut put = |k: &str, v: serde_json::Value| {
        obs.metrics.insert(k.to_string(), v);
    };
    match &facts.role {
        Role::Primary {
            replicas,
            not_streaming,
            max_lag_bytes,
            max_lag_s,
        } => {
            parts.push("primary".to_string());
            put("role", "primary".into());
            put("replicas", (*replicas).into());
            if *replicas > 0 {
                let streaming = replicas - not_streaming;
                let noun = if streaming == 1 {
                    "replica"
                } else {
                    "replicas"
                };
                parts.push(format!("{streaming} {noun} streaming"));
            }
            if *not_streaming > 0 {
                risks.push(format!("{not_streaming} of its replicas are not streaming"));
            }
            if let Some(b) = max_lag_bytes {
                put("replication_lag_bytes", (*b).into());
            }
            if let Some(s) = max_lag_s {
                put("replication_lag_s", round1(*s).into());
                if *s > LAG_LIMIT_S {
                    risks.push(format!(
                        "a replica replays {s:.0} s behind (limit {LAG_LIMIT_S:.0} s)"
                    ));
                }
            }
        }
        Role::Replica {
            receiver,
            primary_host,
            lag_s,
            behind_bytes,
        } => {
            put("role", "replica".into());
            match (receiver.as_deref(), primary_host) {
                (Some("streaming"), Some(host)) => {
                    parts.push(format!("replica streaming from {host}"));
                }
                (Some("streaming"), None) => parts.push("replica streaming".to_string()),
                (other, _) => {
                    parts.push("replica, not streaming".to_string());
                    risks.push(match other {
                        Some(state) => format!("its WAL receiver is {state}, not streaming"),
                        None => "it has no WAL receiver: it is not streaming from its primary"
                            .to_string(),
                    });
                }
            }
            put(
                "wal_receiver",
                receiver.clone().map_or(serde_json::Value::Null, Into::into),
            );
            if let Some(h) = primary_host {
                put("primary_host", h.clone().into());
            }
            if let Some(s) = lag_s {
                put("replication_lag_s", round1(*s).into());
                parts.push(format!("lag {s:.1} s"));
                if *s > LAG_LIMIT_S {
                    risks.push(format!(
                        "it replays {s:.0} s behind its primary (limit {LAG_LIMIT_S:.0} s)"
                    ));
                }
            }
            if let Some(b) = behind_bytes {
                put("replication_lag_bytes", (*b).into());
            }
        }
    }
    let (used, max) = (facts.connections, facts.max_connections);
    put("connections", used.into());
    put("max_connections", max.into());
    parts.push(format!("{used} of {max} connections"));
    if max > 0 {
        let share = used as f64 / max as f64;
        put("connections_pct", round1(share * 100.0).into());
        if share > NEAR_FULL {
            risks.push(format!(
                "{used} connections, above 90 % of max_connections {max}"
            ));
        }
    }
    if !facts.version.is_empty() {
        put("server_version", facts.version.clone().into());
        parts.push(format!("PostgreSQL {}", short_version(&facts.version)));
    }
    put(
        "latency_ms",
        round1(facts.latency.as_secs_f64() * 1000.0).into(),
    );
    obs.summary = parts.join(" · ");
    if !risks.is_empty() {
        obs.status = Status::Degraded;
        obs.error = Some(format!("{}.", risks.join("; ")));
    }
    obs
}

/// `15.8 (Debian 15.8-0+deb12u1)` → `15.8`.
fn short_version(v: &str) -> &str {
    v.split_whitespace().next().unwrap_or(v)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The observation for a failed connection or query: the server's words when it gave any.
pub(crate) fn failure(
    subject: &str,
    e: &tokio_postgres::Error,
    secret: Option<&str>,
) -> Observation {
    if let Some(db) = e.as_db_error() {
        let words = credentials::scrub(db.message(), secret);
        let code = db.code().code();
        return match code {
            // invalid_authorization_specification, invalid_password, invalid_catalog_name
            "28000" | "28P01" | "3D000" => {
                Observation::unknown(format!("{subject} rejected the connection: {words}"))
            }
            // cannot_connect_now, too_many_connections, admin_shutdown, crash_shutdown
            "57P03" | "53300" | "57P01" | "57P02" => {
                Observation::down(format!("{subject} refuses new sessions: {words}"))
            }
            "42501" => Observation::unknown(format!("{subject} denied a probe query: {words}")),
            _ => Observation::down(format!(
                "{subject} answered with an error ({code}): {words}"
            )),
        };
    }
    let mut root: &dyn std::error::Error = e;
    let mut io_kind = None;
    while let Some(next) = root.source() {
        root = next;
        if let Some(io) = root.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
    }
    let outer = e.to_string();
    let inner = root.to_string();
    let text = if inner == outer || inner.is_empty() {
        outer
    } else {
        format!("{outer}: {inner}")
    };
    let words = credentials::scrub(&text, secret);
    match io_kind {
        Some(std::io::ErrorKind::ConnectionRefused) => {
            Observation::down(format!("{subject} refused the connection"))
        }
        Some(std::io::ErrorKind::TimedOut) => Observation::down(format!(
            "{subject} did not answer within {}",
            humantime::format_duration(CONNECT_WAIT)
        )),
        _ if words.contains("password missing") => Observation::unknown(format!(
            "{subject} asks for a password and none is configured (set password_env)"
        )),
        _ if words.contains("timed out") || words.contains("timeout") => {
            Observation::down(format!("{subject} did not answer in time: {words}"))
        }
        _ => Observation::down(format!("{subject} cannot be reached: {words}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn primary(replicas: u64, not_streaming: u64, lag: Option<f64>) -> Facts {
        Facts {
            version: "15.8 (Debian 15.8-0+deb12u1)".to_string(),
            connections: 41,
            max_connections: 100,
            latency: Duration::from_millis(3),
            role: Role::Primary {
                replicas,
                not_streaming,
                max_lag_bytes: Some(0),
                max_lag_s: lag,
            },
        }
    }

    #[test]
    fn a_primary_with_streaming_replicas_is_up() {
        let obs = observe(&primary(2, 0, Some(0.2)));
        assert_eq!(obs.status, Status::Up, "{:?}", obs.error);
        assert_eq!(
            obs.summary,
            "primary · 2 replicas streaming · 41 of 100 connections · PostgreSQL 15.8"
        );
        assert_eq!(obs.metrics["connections_pct"], json!(41.0));
        assert_eq!(obs.metrics["latency_ms"], json!(3.0));
    }

    #[test]
    fn lagging_or_catching_up_replicas_degrade_a_primary() {
        assert_eq!(observe(&primary(2, 1, None)).status, Status::Degraded);
        let obs = observe(&primary(1, 0, Some(95.0)));
        assert_eq!(obs.status, Status::Degraded);
        assert_eq!(
            obs.error.as_deref(),
            Some("a replica replays 95 s behind (limit 30 s).")
        );
    }

    #[test]
    fn a_replica_without_a_wal_receiver_is_degraded() {
        let mut facts = primary(0, 0, None);
        facts.role = Role::Replica {
            receiver: None,
            primary_host: None,
            lag_s: Some(0.0),
            behind_bytes: Some(0),
        };
        let obs = observe(&facts);
        assert_eq!(obs.status, Status::Degraded);
        assert_eq!(
            obs.error.as_deref(),
            Some("it has no WAL receiver: it is not streaming from its primary.")
        );
        assert!(
            obs.summary
                .starts_with("replica, not streaming · lag 0.0 s")
        );
        facts.role = Role::Replica {
            receiver: Some("streaming".to_string()),
            primary_host: Some("10.0.0.5".to_string()),
            lag_s: Some(0.4),
            behind_bytes: Some(0),
        };
        let obs = observe(&facts);
        assert_eq!(obs.status, Status::Up);
        assert!(
            obs.summary
                .starts_with("replica streaming from 10.0.0.5 · lag 0.4 s")
        );
    }

    #[test]
    fn connections_near_the_limit_degrade() {
        let mut facts = primary(0, 0, None);
        facts.connections = 91;
        let obs = observe(&facts);
        assert_eq!(obs.status, Status::Degraded);
        assert_eq!(
            obs.error.as_deref(),
            Some("91 connections, above 90 % of max_connections 100.")
        );
    }
}

//! The `mysql` probe: a MySQL or MariaDB server. It connects (reachability and latency), reads
//! `Threads_connected` against `max_connections`, `read_only`, and the replica status
//! (`SHOW REPLICA STATUS`, falling back to `SHOW SLAVE STATUS` on servers that predate it).
//! MySQL 8 names the fields `Replica_IO_Running` / `Seconds_Behind_Source`; MariaDB 10.11 and
//! older MySQL `Slave_IO_Running` / `Seconds_Behind_Master`: both are read.
//!
//! Status rules: no connection or "too many connections" → down; credentials rejected,
//! unknown database or `password_env` unset → unknown. A replica:
//! - SQL thread stopped by an error → down: replication is broken and will not resume on its
//!   own; the server still answers reads, but with data that only gets older;
//! - SQL thread stopped without an error (stopped by hand) → degraded;
//! - IO thread not running (`No`, or `Connecting` while its primary is unreachable) →
//!   degraded: the replica works but no longer receives changes, the same judgement as a
//!   Redis replica whose master link is down;
//! - `Seconds_Behind_*` above [`LAG_LIMIT_S`] → degraded.
//!
//! Threads above 90 % of `max_connections` → degraded.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Row, Value};

use super::credentials;
use crate::model::{Observation, Outcome, Status};

/// Replication lag that counts as high.
pub const LAG_LIMIT_S: u64 = 30;
/// Share of `max_connections` above which the server is at risk.
const NEAR_FULL: f64 = 0.9;
/// How long connecting may take.
const CONNECT_WAIT: Duration = Duration::from_secs(5);

/// What one look at the server found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Facts {
    /// `@@version`: `8.0.36`, `10.11.19-MariaDB-0+deb12u1`.
    pub version: String,
    pub threads_connected: u64,
    pub max_connections: u64,
    pub read_only: bool,
    /// The replica status row by column name; `None` when the server is not a replica.
    pub replica: Option<BTreeMap<String, String>>,
    /// Why the replica status could not be read (missing privilege), if so.
    pub replica_unreadable: Option<String>,
    pub latency: Duration,
}

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
    let subject = format!("MySQL at {}", credentials::redact(url));
    let opts = match Opts::from_url(url) {
        Ok(o) => o,
        Err(e) => {
            return Observation::unknown(format!(
                "{subject} cannot be used: the URL does not parse ({})",
                credentials::scrub(&e.to_string(), secret.as_deref())
            ));
        }
    };
    let mut builder = OptsBuilder::from_opts(opts);
    if let Some(p) = password {
        builder = builder.pass(Some(p));
    }
    let started = Instant::now();
    let mut conn = match tokio::time::timeout(CONNECT_WAIT, Conn::new(builder)).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return failure(&subject, &e, secret.as_deref()),
        Err(_) => {
            return Observation::down(format!(
                "{subject} did not answer within {}",
                humantime::format_duration(CONNECT_WAIT)
            ));
        }
    };
    let facts = read(&mut conn, started).await;
    let _ = conn.disconnect().await;
    match facts {
        Ok(f) => observe(&f),
        Err(e) => failure(&subject, &e, secret.as_deref()),
    }
}

async fn read(conn: &mut Conn, started: Instant) -> Result<Facts, mysql_async::Error> {
    let basics: Option<(String, u64, i64)> = conn
        .query_first("SELECT @@version, @@max_connections, @@read_only")
        .await?;
    let latency = started.elapsed();
    let threads: Option<(String, u64)> = conn
        .query_first("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
        .await?;
    let (replica, replica_unreadable) = match replica_status(conn).await {
        Ok(row) => (row, None),
        Err(mysql_async::Error::Server(e)) => (None, Some(format!("{} ({})", e.message, e.code))),
        Err(e) => return Err(e),
    };
    let (version, max_connections, read_only) = basics.unwrap_or_default();
    Ok(Facts {
        version,
        threads_connected: threads.map_or(0, |(_, n)| n),
        max_connections,
        read_only: read_only != 0,
        replica,
        replica_unreadable,
        latency,
    })
}

async fn replica_status(
    conn: &mut Conn,
) -> Result<Option<BTreeMap<String, String>>, mysql_async::Error> {
    let rows: Vec<Row> = match conn.query("SHOW REPLICA STATUS").await {
        Ok(r) => r,
        // 1064: a server older than MySQL 8.0.22 / MariaDB 10.5.1 does not know the word.
        Err(mysql_async::Error::Server(e)) if e.code == 1064 => {
            conn.query("SHOW SLAVE STATUS").await?
        }
        Err(e) => return Err(e),
    };
    Ok(rows.first().map(|row| {
        row.columns_ref()
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((c.name_str().into_owned(), text(row.as_ref(i)?)?)))
            .collect()
    }))
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(n) => Some(n.to_string()),
        Value::UInt(n) => Some(n.to_string()),
        Value::Float(n) => Some(n.to_string()),
        Value::Double(n) => Some(n.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// A replica status field under either of its names (MySQL 8 first, then the older one).
fn field<'a>(row: &'a BTreeMap<String, String>, new: &str, old: &str) -> Option<&'a str> {
    row.get(new)
        .or_else(|| row.get(old))
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// The status of a server from what one look found.
pub fn observe(facts: &Facts) -> Observation {
    let mut risks: Vec<String> = Vec::new();
    let mut broken: Option<String> = None;
    let mut parts = Vec::new();
    let mut obs = Observation::new(Status::Up, String::new());
    let mut put = |k: &str, v: serde_json::Value| {
        obs.metrics.insert(k.to_string(), v);
    };
    match &facts.replica {
        None => {
            parts.push(
                if facts.read_only {
                    "primary (read-only)"
                } else {
                    "primary"
                }
                .to_string(),
            );
            put("role", "primary".into());
        }
        Some(row) => {
            put("role", "replica".into());
            let host = field(row, "Source_Host", "Master_Host").unwrap_or("?");
            let port = field(row, "Source_Port", "Master_Port").unwrap_or("?");
            let io = field(row, "Replica_IO_Running", "Slave_IO_Running").unwrap_or("No");
            let sql = field(row, "Replica_SQL_Running", "Slave_SQL_Running").unwrap_or("No");
            let lag = field(row, "Seconds_Behind_Source", "Seconds_Behind_Master")
                .and_then(|v| v.parse::<u64>().ok());
            let io_error = field(row, "Last_IO_Error", "Last_IO_Error");
            let sql_error = field(row, "Last_SQL_Error", "Last_SQL_Error");
            let source = format!("{host}:{port}");
            parts.push(format!("replica of {source}"));
            parts.push(format!("IO {io} · SQL {sql}"));
            put("source", source.clone().into());
            put("io_running", io.into());
            put("sql_running", sql.into());
            put(
                "seconds_behind",
                lag.map_or(serde_json::Value::Null, Into::into),
            );
            if sql != "Yes" {
                match sql_error {
                    Some(e) => {
                        broken = Some(format!(
                            "the replica's SQL thread stopped with an error: {e}"
                        ));
                    }
                    None => {
                        risks.push("replication is stopped (SQL thread not running)".to_string());
                    }
                }
            }
            if io != "Yes" {
                let why = io_error.map(|e| format!(": {e}")).unwrap_or_default();
                risks.push(format!(
                    "the replica's IO thread is {io}, not receiving from {source}{why}"
                ));
            }
            if let Some(s) = lag {
                parts.push(format!("lag {s} s"));
                if s > LAG_LIMIT_S {
                    risks.push(format!(
                        "it is {s} s behind its source (limit {LAG_LIMIT_S} s)"
                    ));
                }
            }
        }
    }
    if let Some(why) = &facts.replica_unreadable {
        put("replica_status", format!("not readable: {why}").into());
    }
    let (used, max) = (facts.threads_connected, facts.max_connections);
    put("threads_connected", used.into());
    put("max_connections", max.into());
    parts.push(format!("{used} of {max} connections"));
    if max > 0 {
        let share = used as f64 / max as f64;
        put("connections_pct", ((share * 1000.0).round() / 10.0).into());
        if share > NEAR_FULL {
            risks.push(format!(
                "{used} connections, above 90 % of max_connections {max}"
            ));
        }
    }
    put("read_only", facts.read_only.into());
    if !facts.version.is_empty() {
        put("server_version", facts.version.clone().into());
        parts.push(product(&facts.version));
    }
    put(
        "latency_ms",
        ((facts.latency.as_secs_f64() * 10_000.0).round() / 10.0).into(),
    );
    obs.summary = parts.join(" · ");
    if let Some(why) = broken {
        risks.insert(0, why);
        obs.status = Status::Down;
    } else if !risks.is_empty() {
        obs.status = Status::Degraded;
    }
    if !risks.is_empty() {
        obs.error = Some(format!("{}.", risks.join("; ")));
    }
    obs
}

/// `10.11.19-MariaDB-0+deb12u1` → `MariaDB 10.11.19`; `8.0.36` → `MySQL 8.0.36`.
fn product(version: &str) -> String {
    let number = version.split('-').next().unwrap_or(version);
    if version.contains("MariaDB") {
        format!("MariaDB {number}")
    } else {
        format!("MySQL {number}")
    }
}

/// The observation for a failed connection or query.
fn failure(subject: &str, e: &mysql_async::Error, secret: Option<&str>) -> Observation {
    let words = credentials::scrub(&e.to_string(), secret);
    match e {
        mysql_async::Error::Server(s) => {
            let said = credentials::scrub(&s.message, secret);
            match s.code {
                // access denied (user, database), unknown database, host blocked
                1044 | 1045 | 1049 | 1129 | 1130 | 1698 => Observation::unknown(format!(
                    "{subject} rejected the connection: {said} ({})",
                    s.code
                )),
                1040 => Observation::down(format!("{subject} refuses new sessions: {said}")),
                code => {
                    Observation::down(format!("{subject} answered with an error ({code}): {said}"))
                }
            }
        }
        mysql_async::Error::Io(mysql_async::IoError::Io(io))
            if io.kind() == std::io::ErrorKind::ConnectionRefused =>
        {
            Observation::down(format!("{subject} refused the connection"))
        }
        mysql_async::Error::Url(_) => {
            Observation::unknown(format!("{subject} cannot be used: {words}"))
        }
        _ => Observation::down(format!("{subject} cannot be reached: {words}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn replica(pairs: &[(&str, &str)]) -> Facts {
        Facts {
            version: "10.11.19-MariaDB-0+deb12u1".to_string(),
            threads_connected: 3,
            max_connections: 151,
            read_only: true,
            replica: Some(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                    .collect(),
            ),
            replica_unreadable: None,
            latency: Duration::from_millis(2),
        }
    }

    #[test]
    fn a_primary_is_up_with_its_connections() {
        let facts = Facts {
            version: "8.0.36".to_string(),
            threads_connected: 12,
            max_connections: 151,
            ..Facts::default()
        };
        let obs = observe(&facts);
        assert_eq!(obs.status, Status::Up);
        assert_eq!(
            obs.summary,
            "primary · 12 of 151 connections · MySQL 8.0.36"
        );
        assert_eq!(obs.metrics["connections_pct"], json!(7.9));
    }

    #[test]
    fn mariadb_names_and_mysql_8_names_are_both_read() {
        let maria = replica(&[
            ("Master_Host", "10.0.0.5"),
            ("Master_Port", "3306"),
            ("Slave_IO_Running", "Yes"),
            ("Slave_SQL_Running", "Yes"),
            ("Seconds_Behind_Master", "0"),
        ]);
        let obs = observe(&maria);
        assert_eq!(obs.status, Status::Up, "{:?}", obs.error);
        assert_eq!(
            obs.summary,
            "replica of 10.0.0.5:3306 · IO Yes · SQL Yes · lag 0 s · 3 of 151 connections · MariaDB 10.11.19"
        );
        let mysql8 = replica(&[
            ("Source_Host", "db-a"),
            ("Source_Port", "3306"),
            ("Replica_IO_Running", "Yes"),
            ("Replica_SQL_Running", "Yes"),
            ("Seconds_Behind_Source", "45"),
        ]);
        let obs = observe(&mysql8);
        assert_eq!(obs.status, Status::Degraded);
        assert_eq!(
            obs.error.as_deref(),
            Some("it is 45 s behind its source (limit 30 s).")
        );
    }

    #[test]
    fn a_stopped_io_thread_degrades_and_a_failed_sql_thread_is_down() {
        let connecting = replica(&[
            ("Master_Host", "10.0.0.5"),
            ("Master_Port", "3306"),
            ("Slave_IO_Running", "Connecting"),
            ("Slave_SQL_Running", "Yes"),
            (
                "Last_IO_Error",
                "error reconnecting to master 'repl@10.0.0.5:3306'",
            ),
        ]);
        let obs = observe(&connecting);
        assert_eq!(obs.status, Status::Degraded);
        assert!(obs.error.expect("error").starts_with(
            "the replica's IO thread is Connecting, not receiving from 10.0.0.5:3306: error reconnecting"
        ));
        let failed = replica(&[
            ("Slave_IO_Running", "Yes"),
            ("Slave_SQL_Running", "No"),
            (
                "Last_SQL_Error",
                "Could not execute Write_rows_v1 event on table test.t; Duplicate entry '1'",
            ),
        ]);
        let obs = observe(&failed);
        assert_eq!(obs.status, Status::Down);
        assert!(obs.error.expect("error").contains("Duplicate entry"));
        let stopped = replica(&[("Slave_IO_Running", "No"), ("Slave_SQL_Running", "No")]);
        assert_eq!(observe(&stopped).status, Status::Degraded);
    }

    #[test]
    fn connections_near_the_limit_degrade() {
        let facts = Facts {
            threads_connected: 140,
            max_connections: 151,
            ..Facts::default()
        };
        assert_eq!(observe(&facts).status, Status::Degraded);
    }
}

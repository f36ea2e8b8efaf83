//! The Redis lease: a key holding the holder record as JSON, set with `SET key value NX PX ttl`
//! so only one operator can create it, and expiring by itself. Renewal and release first read
//! the key and act only when it is still this run's (`WATCH`/`MULTI`/`EXEC`, so a change in
//! between makes them do nothing).

use redis::aio::MultiplexedConnection;

use super::{Holder, LeaseError, LeaseSpot};
use crate::probe::credentials;
use crate::probe::redis::connect::Connect;

async fn open(
    spot: &LeaseSpot,
    url: &str,
    password_env: Option<&str>,
) -> Result<MultiplexedConnection, LeaseError> {
    let connect = Connect::from_estate(url, password_env).map_err(|u| {
        spot.backend_error(format!(
            "environment variable {} (password_env) is not set",
            u.0
        ))
    })?;
    connect
        .open()
        .await
        .map_err(|obs| spot.backend_error(obs.error.unwrap_or(obs.summary)))
}

fn failed(spot: &LeaseSpot, e: &redis::RedisError, url: &str) -> LeaseError {
    let secret = credentials::url_password(url);
    spot.backend_error(format!(
        "Redis at {}: {}",
        credentials::redact(url),
        credentials::scrub(&e.to_string(), secret.as_deref())
    ))
}

fn ttl_ms(spot: &LeaseSpot) -> u64 {
    u64::try_from(spot.ttl.as_millis()).unwrap_or(300_000)
}

async fn read(
    spot: &LeaseSpot,
    conn: &mut MultiplexedConnection,
    key: &str,
    url: &str,
) -> Result<Option<Holder>, LeaseError> {
    let text: Option<String> = redis::cmd("GET")
        .arg(key)
        .query_async(conn)
        .await
        .map_err(|e| failed(spot, &e, url))?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// `SET key value NX PX ttl`: true when this call created the key.
async fn set_nx(
    spot: &LeaseSpot,
    conn: &mut MultiplexedConnection,
    key: &str,
    me: &Holder,
    url: &str,
) -> Result<bool, LeaseError> {
    let value = serde_json::to_string(me).unwrap_or_default();
    let answer: Option<String> = redis::cmd("SET")
        .arg(key)
        .arg(value)
        .arg("NX")
        .arg("PX")
        .arg(ttl_ms(spot))
        .query_async(conn)
        .await
        .map_err(|e| failed(spot, &e, url))?;
    Ok(answer.is_some())
}

/// Runs `command` only if the key still holds `run`'s record (WATCH, GET, MULTI … EXEC).
async fn if_mine(
    spot: &LeaseSpot,
    conn: &mut MultiplexedConnection,
    key: &str,
    run: &str,
    url: &str,
    command: redis::Cmd,
) -> Result<Option<Holder>, LeaseError> {
    redis::cmd("WATCH")
        .arg(key)
        .query_async::<()>(conn)
        .await
        .map_err(|e| failed(spot, &e, url))?;
    let current = read(spot, conn, key, url).await?;
    if current.as_ref().is_none_or(|h| h.run != run) {
        let _: redis::RedisResult<()> = redis::cmd("UNWATCH").query_async(conn).await;
        return Ok(current);
    }
    let mut pipe = redis::pipe();
    pipe.atomic().add_command(command);
    let _: Option<redis::Value> = pipe
        .query_async(conn)
        .await
        .map_err(|e| failed(spot, &e, url))?;
    Ok(current)
}

pub(super) async fn acquire(
    spot: &LeaseSpot,
    url: &str,
    password_env: Option<&str>,
    key: &str,
    me: &Holder,
    reclaim: Option<&str>,
) -> Result<(), LeaseError> {
    let mut conn = open(spot, url, password_env).await?;
    if set_nx(spot, &mut conn, key, me, url).await? {
        return Ok(());
    }
    let Some(current) = read(spot, &mut conn, key, url).await? else {
        // It expired between the two commands: try once more.
        return if set_nx(spot, &mut conn, key, me, url).await? {
            Ok(())
        } else {
            Err(spot.backend_error("the lease key changed twice while it was being taken"))
        };
    };
    if !LeaseSpot::may_take(&current, me, reclaim) {
        return Err(spot.held(current));
    }
    let mut delete = redis::cmd("DEL");
    delete.arg(key);
    if_mine(spot, &mut conn, key, &current.run, url, delete).await?;
    if set_nx(spot, &mut conn, key, me, url).await? {
        Ok(())
    } else {
        match read(spot, &mut conn, key, url).await? {
            Some(winner) => Err(spot.held(winner)),
            None => Err(spot.backend_error("the lease key changed while it was being taken")),
        }
    }
}

pub(super) async fn renew(
    spot: &LeaseSpot,
    url: &str,
    password_env: Option<&str>,
    key: &str,
    me: &Holder,
) -> Result<(), LeaseError> {
    let mut conn = open(spot, url, password_env).await?;
    let mut next = me.clone();
    next.expires_at = chrono::Utc::now()
        + chrono::Duration::from_std(spot.ttl).unwrap_or(chrono::Duration::minutes(5));
    let mut set = redis::cmd("SET");
    set.arg(key)
        .arg(serde_json::to_string(&next).unwrap_or_default())
        .arg("XX")
        .arg("PX")
        .arg(ttl_ms(spot));
    match if_mine(spot, &mut conn, key, &me.run, url, set).await? {
        Some(h) if h.run == me.run => Ok(()),
        Some(h) => Err(LeaseError::Lost {
            target: spot.target.clone(),
            why: format!("it is now held by {}", h.describe()),
        }),
        None => Err(LeaseError::Lost {
            target: spot.target.clone(),
            why: format!("the key {key} expired or was deleted"),
        }),
    }
}

pub(super) async fn release(
    spot: &LeaseSpot,
    url: &str,
    password_env: Option<&str>,
    key: &str,
    me: &Holder,
) -> Result<(), LeaseError> {
    let mut conn = open(spot, url, password_env).await?;
    let mut delete = redis::cmd("DEL");
    delete.arg(key);
    if_mine(spot, &mut conn, key, &me.run, url, delete).await?;
    Ok(())
}

pub(super) async fn holder(
    spot: &LeaseSpot,
    url: &str,
    password_env: Option<&str>,
    key: &str,
) -> Result<Option<Holder>, LeaseError> {
    let mut conn = open(spot, url, password_env).await?;
    read(spot, &mut conn, key, url).await
}

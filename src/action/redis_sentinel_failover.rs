//! `redis.sentinel_failover`: asks a Redis Sentinel to fail its master over to the best replica
//! now (`SENTINEL FAILOVER <master>`), without waiting for the master to be agreed down. The
//! target is a `redis` service whose URL is a Sentinel and which names `sentinel_master`.

use redis::aio::MultiplexedConnection;

use super::{Action, ActionError, ArgSpec, Cx, Plan, Request, Submitted};
use crate::estate::{Kind, Target};
use crate::probe::credentials;
use crate::probe::redis::connect::Connect;

pub struct SentinelFailover;

impl Action for SentinelFailover {
    const NAME: &'static str = "redis.sentinel_failover";
    const SUMMARY: &'static str =
        "Make Redis Sentinel promote a replica now (SENTINEL FAILOVER <master>)";
    const DESTRUCTIVE: bool = true;
    const IDEMPOTENT: bool = false;
    const KINDS: &'static [Kind] = &[Kind::Redis];
    const ARGS: &'static [ArgSpec] = &[];

    async fn prepare(cx: &Cx<'_>) -> Result<Plan, ActionError> {
        let (url, master, password) = sentinel(cx)?;
        let mut conn = open(url, password.clone()).await?;
        let addr: Option<Vec<String>> = redis::cmd("SENTINEL")
            .arg("GET-MASTER-ADDR-BY-NAME")
            .arg(master)
            .query_async(&mut conn)
            .await
            .map_err(|e| failed(&e, url, password.as_deref()))?;
        let Some(addr) = addr.filter(|a| a.len() == 2) else {
            return Err(ActionError::Invalid(format!(
                "the Sentinel at {} does not monitor a master named '{master}'",
                credentials::redact(url)
            )));
        };
        let mut request = Request::resp(url, &["SENTINEL", "FAILOVER", master]);
        request.secrets.extend(password);
        let mut plan = Plan {
            requests: vec![request],
            ..Plan::default()
        };
        plan.facts.insert(
            "master_before".into(),
            format!("{}:{}", addr[0], addr[1]).into(),
        );
        Ok(plan)
    }

    async fn submit(cx: &Cx<'_>, plan: &Plan) -> Result<Submitted, ActionError> {
        let (url, master, password) = sentinel(cx)?;
        let mut conn = open(url, password.clone()).await?;
        let answer: Result<String, _> = redis::cmd("SENTINEL")
            .arg("FAILOVER")
            .arg(master)
            .query_async(&mut conn)
            .await;
        match answer {
            Ok(_) => {}
            Err(e) if e.kind() == redis::ErrorKind::Io => {
                return Err(ActionError::Unknown(format!(
                    "the Sentinel at {} did not answer SENTINEL FAILOVER: {}; the failover may have started",
                    credentials::redact(url),
                    credentials::scrub(&e.to_string(), password.as_deref())
                )));
            }
            Err(e) => return Err(failed(&e, url, password.as_deref())),
        }
        let before = plan
            .facts
            .get("master_before")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("the old master");
        Ok(Submitted {
            operation: None,
            summary: format!("Sentinel started a failover of '{master}' away from {before}"),
        })
    }
}

fn sentinel<'a>(cx: &'a Cx<'_>) -> Result<(&'a str, &'a str, Option<String>), ActionError> {
    let Target::Redis {
        url,
        password_env,
        sentinel_master,
    } = &cx.service.target
    else {
        return Err(ActionError::Invalid(format!(
            "'{}' is not a redis service",
            cx.service.id
        )));
    };
    let Some(master) = sentinel_master else {
        return Err(ActionError::Invalid(format!(
            "'{}' names no sentinel_master: its URL is a Redis server, not a Sentinel",
            cx.service.id
        )));
    };
    let password = credentials::password(password_env.as_deref()).map_err(|u| {
        ActionError::Invalid(format!(
            "environment variable {} (password_env) is not set",
            u.0
        ))
    })?;
    Ok((url, master, password))
}

async fn open(url: &str, password: Option<String>) -> Result<MultiplexedConnection, ActionError> {
    Connect::new(url, password)
        .open()
        .await
        .map_err(|obs| ActionError::Failed(obs.error.unwrap_or(obs.summary)))
}

fn failed(e: &redis::RedisError, url: &str, password: Option<&str>) -> ActionError {
    ActionError::Failed(format!(
        "the Sentinel at {} refused: {}",
        credentials::redact(url),
        credentials::scrub(&e.to_string(), password)
    ))
}

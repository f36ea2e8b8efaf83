//! The `http` probe: one GET against a health endpoint; status code, latency and an optional
//! condition on the JSON body decide up, degraded or down.

use std::time::{Duration, Instant};

use crate::condition::Condition;
use crate::model::{Observation, Outcome, Status};

/// Largest health body read (bigger bodies are cut, not buffered whole).
const MAX_BODY: usize = 256 * 1024;

pub async fn probe(
    client: &reqwest::Client,
    url: &str,
    expect_status: u16,
    max_latency: Option<Duration>,
    up_when: Option<&str>,
) -> Outcome {
    let started = Instant::now();
    let response = match client.get(url).send().await {
        Ok(r) => r,
        Err(e) => return Outcome::Observed(Observation::down(describe_error(&e))),
    };
    let latency = started.elapsed();
    let code = response.status().as_u16();
    let ms = latency.as_secs_f64() * 1000.0;
    let mut obs = if code == expect_status {
        Observation::new(Status::Up, format!("HTTP {code} in {ms:.0} ms"))
    } else {
        Observation::down(format!("answered HTTP {code}, expected {expect_status}"))
    };
    obs = obs
        .metric("http_status", code)
        .metric("latency_ms", (ms * 10.0).round() / 10.0);

    if obs.status == Status::Up
        && let Some(cond) = up_when
    {
        let body = read_limited(response).await;
        obs = check_body(obs, cond, &body);
    }
    if obs.status == Status::Up
        && let Some(limit) = max_latency
        && latency > limit
    {
        obs.status = Status::Degraded;
        obs.error = Some(format!(
            "slow: answered in {ms:.0} ms, above the {} limit",
            humantime::format_duration(limit)
        ));
    }
    Outcome::Observed(obs)
}

async fn read_limited(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= MAX_BODY {
            body.truncate(MAX_BODY);
            break;
        }
    }
    body
}

fn check_body(mut obs: Observation, cond: &str, body: &[u8]) -> Observation {
    let Ok(cond) = Condition::parse(cond) else {
        return Observation::unknown(format!("up_when \"{cond}\" does not parse"));
    };
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(doc) if cond.eval(&doc) => obs,
        Ok(doc) => {
            let why = format!(
                "up_when `{}` is false: {}",
                cond.source(),
                cond.explain(&doc)
            );
            obs.status = Status::Down;
            obs.summary.clone_from(&why);
            obs.error = Some(why);
            obs
        }
        Err(_) => {
            obs.status = Status::Down;
            obs.error = Some(format!(
                "the body is not JSON, so up_when `{}` cannot hold",
                cond.source()
            ));
            obs
        }
    }
}

/// One sentence for a transport failure: refused, unresolvable, TLS, timeout.
pub fn describe_error(e: &reqwest::Error) -> String {
    let mut root: &dyn std::error::Error = e;
    while let Some(next) = root.source() {
        root = next;
    }
    let detail = root.to_string();
    if e.is_timeout() {
        "no answer in time".to_string()
    } else if e.is_connect() {
        if detail.contains("refused") {
            "connection refused".to_string()
        } else {
            format!("cannot connect: {detail}")
        }
    } else if e.is_redirect() {
        "too many redirects".to_string()
    } else if e.is_body() || e.is_decode() {
        format!("broken answer: {detail}")
    } else {
        format!("request failed: {detail}")
    }
}

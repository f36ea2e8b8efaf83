//! The `http` services of the estate, served at `/http/{service id}/…`: a healthy JSON answer,
//! or what the scenario set (another status, a delay, a hang, a reset, another body).

use std::time::Duration;

use axum::response::Response;
use http::StatusCode;
use serde_json::json;
use tokio::sync::watch;

use super::net::Reset;
use super::state::HttpEndpoint;

/// Answers one request to an `http` service. A hang lasts until the simulator stops; a delay
/// is wall-clock time, whatever the scenario's speed, because it is what the probe measures.
pub(crate) async fn answer(
    endpoint: Option<HttpEndpoint>,
    id: &str,
    mut stopping: watch::Receiver<bool>,
    conn: &Reset,
) -> Response {
    let Some(endpoint) = endpoint else {
        return super::json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": format!("the simulated estate has no http service \"{id}\"")}),
        );
    };
    let stopped = async move {
        // An error means the simulator is gone, which is as good as stopping.
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    tokio::pin!(stopped);
    if endpoint.latency > Duration::ZERO {
        tokio::select! {
            () = tokio::time::sleep(endpoint.latency) => {}
            () = &mut stopped => return stopping_reply(),
        }
    }
    if endpoint.hang {
        stopped.await;
        return stopping_reply();
    }
    if endpoint.reset {
        conn.reset();
    }
    let status = StatusCode::from_u16(endpoint.status).unwrap_or(StatusCode::OK);
    super::json_response(status, &endpoint.answer_body())
}

fn stopping_reply() -> Response {
    super::json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &json!({"error": "the simulator is stopping"}),
    )
}

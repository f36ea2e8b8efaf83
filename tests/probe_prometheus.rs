//! The `prometheus` and `promql` probes over HTTP: a loopback server serves captured real
//! exporter output and a captured `/api/v1/query` answer, and the probes fetch, parse and
//! judge them; error answers and a closed port show the failure statuses.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use common::{free_port, observed};
use opsdeck::model::{Outcome, Status};
use opsdeck::probe::{prometheus, promql};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/fixtures/api/prometheus/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).expect("fixture")
}

/// A loopback server: `/metrics` (kube-state-metrics), `/broken/metrics` (503) and a
/// Prometheus query API that answers by query.
async fn serve() -> SocketAddr {
    let ksm = fixture("kube-state-metrics-stable-node-metrics.txt");
    let vector = fixture("query-vector-up-docs-example.json");
    let app = Router::new()
        .route("/metrics", get(move || async move { ksm }))
        .route(
            "/broken/metrics",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "exporter failing") }),
        )
        .route(
            "/api/v1/query",
            get(move |Query(q): Query<HashMap<String, String>>| async move {
                let json = [(axum::http::header::CONTENT_TYPE, "application/json")];
                match q.get("query").map(String::as_str) {
                    Some("up") => (StatusCode::OK, json, vector).into_response(),
                    Some("absent_thing") => (
                        StatusCode::OK,
                        json,
                        r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#.to_string(),
                    )
                        .into_response(),
                    Some("overloaded") => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        json,
                        r#"{"status":"error","errorType":"unavailable","error":"too many queries"}"#.to_string(),
                    )
                        .into_response(),
                    _ => (
                        StatusCode::BAD_REQUEST,
                        json,
                        r#"{"status":"error","errorType":"bad_data","error":"1:3: parse error: unexpected end of input"}"#.to_string(),
                    )
                        .into_response(),
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

#[tokio::test]
async fn an_exporter_condition_on_a_labelled_sample() {
    let addr = serve().await;
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/metrics");
    let selector = r#"kube_node_status_condition{condition="NetworkUnavailable",status="true"}"#;
    let obs = observed(prometheus::probe(&http, &url, selector, "value == 0").await);
    assert_eq!(obs.status, Status::Up, "{obs:?}");
    assert_eq!(obs.metrics["value"], 0.0);
    assert_eq!(obs.metrics["samples_exposed"], 4);

    let obs = observed(prometheus::probe(&http, &url, "kube_node_info", "value == 0").await);
    assert_eq!(obs.status, Status::Down);
    assert!(
        obs.error
            .expect("a reason")
            .starts_with("up_when `value == 0` is false for kube_node_info{"),
    );

    let obs = observed(prometheus::probe(&http, &url, "redis_up", "value == 1").await);
    assert_eq!(obs.status, Status::Down);
    assert_eq!(
        obs.error.as_deref(),
        Some("no sample matches redis_up among the 4 samples exposed")
    );
}

#[tokio::test]
async fn a_failing_or_absent_exporter_is_down() {
    let addr = serve().await;
    let http = reqwest::Client::new();
    let obs = observed(
        prometheus::probe(
            &http,
            &format!("http://{addr}/broken/metrics"),
            "up",
            "value == 1",
        )
        .await,
    );
    assert_eq!(obs.status, Status::Down);
    assert_eq!(
        obs.error.as_deref(),
        Some(format!("exporter at http://{addr}/broken/metrics answered HTTP 503").as_str())
    );
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let obs = observed(prometheus::probe(&http, &url, "up", "value == 1").await);
    assert_eq!(obs.status, Status::Down);
    assert_eq!(
        obs.error.as_deref(),
        Some(format!("exporter at {url}: connection refused").as_str())
    );
}

#[tokio::test]
async fn promql_instant_queries() {
    let addr = serve().await;
    let http = reqwest::Client::new();
    let root = format!("http://{addr}");

    let obs = observed(promql::probe(&http, &root, "up", "value == 1").await);
    assert_eq!(obs.status, Status::Down, "{obs:?}");
    assert_eq!(
        obs.error.as_deref(),
        Some(
            r#"up_when `value == 1` is false for {instance="localhost:9100",job="node"}: value is 0.0"#
        )
    );
    let obs = observed(promql::probe(&http, &root, "up", "value >= 0").await);
    assert_eq!(obs.status, Status::Up, "{obs:?}");
    assert_eq!(obs.metrics["series"], 2);

    let obs = observed(promql::probe(&http, &root, "absent_thing", "value == 1").await);
    assert_eq!(obs.status, Status::Down);
    assert_eq!(
        obs.error.as_deref(),
        Some("the query `absent_thing` returned no series")
    );

    let obs = observed(promql::probe(&http, &root, "up{", "value == 1").await);
    assert_eq!(obs.status, Status::Unknown);
    assert_eq!(
        obs.error.as_deref(),
        Some(format!("Prometheus at {root} rejected the query (HTTP 400): bad_data: 1:3: parse error: unexpected end of input").as_str())
    );

    match promql::probe(&http, &root, "overloaded", "value == 1").await {
        Outcome::Failed { error, .. } => assert_eq!(
            error,
            format!("Prometheus at {root} answered HTTP 503: unavailable: too many queries")
        ),
        Outcome::Observed(obs) => panic!("a 503 keeps the last value, got {obs:?}"),
    }

    let port = free_port();
    let obs = observed(
        promql::probe(
            &http,
            &format!("http://127.0.0.1:{port}"),
            "up",
            "value == 1",
        )
        .await,
    );
    assert_eq!(obs.status, Status::Unknown);
    assert_eq!(
        obs.error.as_deref(),
        Some(
            format!("Prometheus at http://127.0.0.1:{port} cannot be asked: connection refused")
                .as_str()
        )
    );
}

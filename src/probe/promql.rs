//! The `promql` probe: one instant query (`GET /api/v1/query`) against a Prometheus-compatible
//! server (Prometheus, Thanos, VictoriaMetrics, Mimir), with `up_when` evaluated on each result
//! series as `{"value": <value>, "labels": {...}}`.
//!
//! Status rules: up when `up_when` holds for every series; down when it fails for any, or when
//! the query returns no series (nothing matched: the thing the query watches is gone). The
//! server rejecting the query, or not answering at all, is unknown (opsdeck could not ask);
//! 429 and 5xx keep the last value, marked stale.

use std::collections::BTreeMap;

use serde_json::Value;

use super::prometheus::judge_series;
use crate::condition::Condition;
use crate::model::{Observation, Outcome};

/// Runs the estate service's query once.
pub async fn probe(http: &reqwest::Client, url: &str, query: &str, up_when: &str) -> Outcome {
    let endpoint = query_url(url);
    let shown = super::credentials::redact(url);
    let response = match http.get(&endpoint).query(&[("query", query)]).send().await {
        Ok(r) => r,
        Err(e) => {
            return Outcome::Observed(Observation::unknown(format!(
                "Prometheus at {shown} cannot be asked: {}",
                super::http::describe_error(&e)
            )));
        }
    };
    let code = response.status().as_u16();
    let doc: Option<Value> = response.json().await.ok();
    if code == 429 || code >= 500 {
        let why = doc.as_ref().map(api_error).unwrap_or_default();
        return Outcome::Failed {
            error: format!("Prometheus at {shown} answered HTTP {code}{why}"),
            retry_after: None,
        };
    }
    match doc {
        Some(doc) if code == 200 => Outcome::Observed(observe(&doc, query, up_when)),
        Some(doc) => Outcome::Observed(Observation::unknown(format!(
            "Prometheus at {shown} rejected the query (HTTP {code}){}",
            api_error(&doc)
        ))),
        None => Outcome::Observed(Observation::unknown(format!(
            "Prometheus at {shown} answered HTTP {code} without a JSON body; is the URL the server's root?"
        ))),
    }
}

/// The query endpoint under a server root (`http://prom:9090`, a Thanos or Managed Prometheus
/// prefix); a URL that already ends in `/api/v1/query` is kept.
pub fn query_url(url: &str) -> String {
    let root = url.trim_end_matches('/');
    if root.ends_with("/api/v1/query") {
        root.to_string()
    } else {
        format!("{root}/api/v1/query")
    }
}

/// `: bad_data: parse error…` from an API error body.
fn api_error(doc: &Value) -> String {
    let kind = doc.get("errorType").and_then(Value::as_str);
    let text = doc.get("error").and_then(Value::as_str);
    match (kind, text) {
        (Some(k), Some(t)) => format!(": {k}: {t}"),
        (None, Some(t)) => format!(": {t}"),
        _ => String::new(),
    }
}

/// The status of one `/api/v1/query` answer.
pub fn observe(doc: &Value, query: &str, up_when: &str) -> Observation {
    let condition = match Condition::parse(up_when) {
        Ok(c) => c,
        Err(e) => {
            return Observation::unknown(format!("up_when \"{up_when}\" does not parse: {e}"));
        }
    };
    if doc.get("status").and_then(Value::as_str) != Some("success") {
        return Observation::unknown(format!("the query `{query}` failed{}", api_error(doc)));
    }
    let data = doc.get("data").unwrap_or(&Value::Null);
    let result = data.get("result").unwrap_or(&Value::Null);
    let series: Vec<(BTreeMap<String, String>, f64)> = match data
        .get("resultType")
        .and_then(Value::as_str)
    {
        Some("vector") => result
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|s| {
                let labels = s
                    .get("metric")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                Some((labels, sample_value(s.get("value")?)?))
            })
            .collect(),
        Some("scalar") => sample_value(result)
            .map(|v| vec![(BTreeMap::new(), v)])
            .unwrap_or_default(),
        other => {
            return Observation::unknown(format!(
                "the query `{query}` returns a {} result; write an instant query that returns a vector or scalar",
                other.unwrap_or("missing")
            ));
        }
    };
    if series.is_empty() {
        return Observation::down(format!("the query `{query}` returned no series"));
    }
    let mut obs = judge_series("", &series, &condition);
    obs.summary = format!("`{query}` → {}", obs.summary);
    obs.metrics.insert("query".to_string(), query.into());
    obs
}

/// `[ 1435781451.781, "1" ]` → 1.0 (Prometheus sends values as strings, `NaN` and `+Inf`
/// included).
fn sample_value(pair: &Value) -> Option<f64> {
    let text = pair.as_array()?.get(1)?.as_str()?;
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        t => t.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;
    use serde_json::json;

    fn fixture() -> Value {
        let path = format!(
            "{}/fixtures/api/prometheus/query-vector-up-docs-example.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("json")
    }

    #[test]
    fn real_vector_with_one_target_down_is_down() {
        let obs = observe(&fixture(), "up", "value == 1");
        assert_eq!(obs.status, Status::Down);
        assert_eq!(obs.summary, "`up` → 1 of 2 series fail `value == 1`");
        assert_eq!(
            obs.error.as_deref(),
            Some(
                r#"up_when `value == 1` is false for {instance="localhost:9100",job="node"}: value is 0.0"#
            )
        );
    }

    #[test]
    fn label_conditions_and_all_holding_series_are_up() {
        let obs = observe(&fixture(), "up", r#"labels.__name__ == "up""#);
        assert_eq!(obs.status, Status::Up, "{:?}", obs.error);
        assert_eq!(obs.metrics["series"], json!(2));
    }

    #[test]
    fn an_empty_result_is_down_with_the_query_named() {
        let doc = json!({"status": "success", "data": {"resultType": "vector", "result": []}});
        let obs = observe(&doc, r#"up{job="api"}"#, "value == 1");
        assert_eq!(obs.status, Status::Down);
        assert_eq!(
            obs.error.as_deref(),
            Some(r#"the query `up{job="api"}` returned no series"#)
        );
    }

    #[test]
    fn scalars_matrices_and_errors() {
        let scalar =
            json!({"status": "success", "data": {"resultType": "scalar", "result": [1.7e9, "42"]}});
        let obs = observe(&scalar, "scalar(count(up))", "value > 10");
        assert_eq!(obs.status, Status::Up);
        assert_eq!(obs.metrics["value"], json!(42.0));
        let matrix = json!({"status": "success", "data": {"resultType": "matrix", "result": []}});
        assert_eq!(
            observe(&matrix, "up[5m]", "value == 1").status,
            Status::Unknown
        );
        let error = json!({"status": "error", "errorType": "bad_data", "error": "parse error"});
        let obs = observe(&error, "up{", "value == 1");
        assert_eq!(obs.status, Status::Unknown);
        assert_eq!(
            obs.error.as_deref(),
            Some("the query `up{` failed: bad_data: parse error")
        );
    }

    #[test]
    fn the_query_endpoint_is_found_under_any_root() {
        assert_eq!(
            query_url("http://prom:9090"),
            "http://prom:9090/api/v1/query"
        );
        assert_eq!(
            query_url("http://prom:9090/"),
            "http://prom:9090/api/v1/query"
        );
        assert_eq!(
            query_url("http://thanos/api/v1/query"),
            "http://thanos/api/v1/query"
        );
    }
}

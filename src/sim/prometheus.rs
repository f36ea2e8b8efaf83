//! The simulated Prometheus side, one loopback listener per server or exporter the estate
//! names: exporters serve `/metrics` in the classic text format, or OpenMetrics when asked
//! (`Accept: application/openmetrics-text`); Prometheus servers answer `/api/v1/query` over
//! every simulated series, plus `/-/healthy`, `/-/ready` and their own `/metrics`. Also what a
//! scenario may set on `prometheus` and `promql` services.

pub(crate) mod families;
mod kube_state;
mod promql;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};

use crate::condition::Condition;
use crate::estate::Target;
use crate::sim::cluster::ClusterShared;
use crate::sim::cluster::clock::query_param;
use crate::sim::cluster::world::ClusterWorld;
use families::{Family, Shape, Type};

/// The largest query body accepted.
const MAX_BODY: usize = 64 * 1024;

/// One estate `prometheus` or `promql` service, served at its own loopback port.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// The estate service id (the scrape job).
    pub service: String,
    /// The estate's `host:port`.
    pub authority: String,
    pub port: u16,
    pub target: Target,
    pub shape: Shape,
    pub up: bool,
    /// The value the scenario set, if any.
    pub value: Option<f64>,
    /// A value the service's `up_when` accepts, used while the scenario sets none.
    pub default: f64,
}

impl Endpoint {
    pub fn new(service: &str, authority: &str, port: u16, target: &Target) -> Endpoint {
        let (shape, up_when) = match target {
            Target::Prometheus {
                metric, up_when, ..
            } => (Shape::guess(metric, port), up_when.as_str()),
            Target::Promql { up_when, .. } => (Shape::Plain, up_when.as_str()),
            _ => (Shape::Plain, "value == 1"),
        };
        Endpoint {
            service: service.into(),
            authority: authority.into(),
            port: 0,
            target: target.clone(),
            shape,
            up: true,
            value: None,
            default: healthy_value(up_when),
        }
    }

    /// The metric of an exporter-kind service.
    pub fn exporter(&self) -> Option<&str> {
        match &self.target {
            Target::Prometheus { metric, .. } => Some(metric),
            _ => None,
        }
    }
}

/// The first of a few plain values the condition accepts (1 when none does).
fn healthy_value(up_when: &str) -> f64 {
    let Ok(cond) = Condition::parse(up_when) else {
        return 1.0;
    };
    [1.0, 0.0, 0.5, 2.0, 10.0, 100.0, 1000.0, 0.01]
        .into_iter()
        .find(|v| cond.eval(&json!({ "value": v })))
        .unwrap_or(1.0)
}

pub(crate) const KEYS: &[&str] = &["value", "up"];

pub(crate) fn set_problem(key: &str, value: &Value) -> Option<String> {
    let ok = match key {
        "value" => value.as_f64().is_some(),
        "up" => value.is_boolean(),
        _ => {
            return Some(format!(
                "set key '{key}' means nothing to a prometheus or promql service; use {}",
                KEYS.join(" or ")
            ));
        }
    };
    (!ok).then(|| format!("set key '{key}' is {value}, which is not a valid {key}"))
}

/// An exporter's families: its shape's, with the service's own metric set to the scenario
/// value (or added, when the shape has no such metric).
pub(crate) fn exporter_families(world: &ClusterWorld, e: &Endpoint, at: Duration) -> Vec<Family> {
    let Some(metric) = e.exporter() else {
        return Vec::new();
    };
    let mut fams = families::families(world, e.shape, at);
    match fams.iter_mut().find(|f| f.sample_name() == metric) {
        Some(f) => {
            if let Some(v) = e.value {
                f.samples.iter_mut().for_each(|s| s.value = v);
            }
        }
        None => fams.push(Family {
            name: metric.to_string(),
            help: format!("{metric} as the simulated exporter reports it."),
            kind: Type::Gauge,
            samples: vec![families::Sample {
                labels: Vec::new(),
                value: e.value.unwrap_or(e.default),
            }],
        }),
    }
    fams
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The exposition text: classic (`text/plain; version=0.0.4`) or OpenMetrics 1.0.
pub(crate) fn expose(fams: &[Family], openmetrics: bool) -> String {
    let mut out = String::new();
    for f in fams.iter().filter(|f| !f.samples.is_empty()) {
        let kind = match f.kind {
            Type::Counter => "counter",
            Type::Gauge => "gauge",
        };
        let family = if openmetrics {
            f.name.clone()
        } else {
            f.sample_name()
        };
        let _ = writeln!(
            out,
            "# HELP {family} {}",
            f.help.replace('\\', "\\\\").replace('\n', "\\n")
        );
        let _ = writeln!(out, "# TYPE {family} {kind}");
        for s in &f.samples {
            out.push_str(&f.sample_name());
            if !s.labels.is_empty() {
                let labels: Vec<String> = s
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                    .collect();
                let _ = write!(out, "{{{}}}", labels.join(","));
            }
            let _ = writeln!(out, " {}", number(s.value));
        }
    }
    if openmetrics {
        out.push_str("# EOF\n");
    }
    out
}

/// One Prometheus server or exporter listener.
pub(crate) struct PromServer {
    pub shared: Arc<ClusterShared>,
    /// Indices into `ClusterWorld::prom` of the services at this address.
    pub endpoints: Vec<usize>,
}

fn text(status: StatusCode, body: String, content_type: &'static str) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn api(status: StatusCode, body: &Value) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn bad(kind: &str, message: &str) -> Response {
    api(
        StatusCode::BAD_REQUEST,
        &json!({"status": "error", "errorType": kind, "error": message}),
    )
}

pub(crate) async fn serve(State(server): State<Arc<PromServer>>, request: Request) -> Response {
    server.shared.count_request();
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return bad("bad_data", "the request body is too large");
    };
    let world = server.shared.world_now();
    let at = server.shared.clock.elapsed();
    let endpoints: Vec<&Endpoint> = server
        .endpoints
        .iter()
        .filter_map(|i| world.prom.get(*i))
        .collect();
    if endpoints.iter().any(|e| !e.up) {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable\n".into(),
            "text/plain; charset=utf-8",
        );
    }
    let path = parts.uri.path();
    let openmetrics = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    let server_role = endpoints
        .iter()
        .any(|e| matches!(e.target, Target::Promql { .. }));
    match path {
        "/-/healthy" if server_role => text(
            StatusCode::OK,
            "Prometheus Server is Healthy.\n".into(),
            "text/plain; charset=utf-8",
        ),
        "/-/ready" if server_role => text(
            StatusCode::OK,
            "Prometheus Server is Ready.\n".into(),
            "text/plain; charset=utf-8",
        ),
        "/api/v1/status/buildinfo" if server_role => api(
            StatusCode::OK,
            &json!({"status": "success", "data": {"version": "2.54.1", "revision": "e6cfa720fbe6280153fab13090a483dbd40bece3", "branch": "HEAD", "buildUser": "root@812ffd741951", "buildDate": "20240827-10:56:41", "goVersion": "go1.22.6"}}),
        ),
        "/api/v1/query" if server_role && matches!(parts.method, Method::GET | Method::POST) => {
            let form = String::from_utf8_lossy(&body).into_owned();
            let param =
                |k: &str| query_param(parts.uri.query(), k).or_else(|| query_param(Some(&form), k));
            let Some(query) = param("query") else {
                return bad(
                    "bad_data",
                    "invalid parameter \"query\": query must not be empty",
                );
            };
            let ts = param("time")
                .and_then(|t| t.parse::<f64>().ok())
                .unwrap_or_else(|| server.shared.clock.wall(at).timestamp_millis() as f64 / 1000.0);
            let fetch = |t: Duration| families::scraped(&world, t);
            match promql::eval(&query, at, &fetch) {
                Ok(v) => {
                    let overridden = endpoints.iter().find_map(|e| match &e.target {
                        Target::Promql { query: q, .. } if q.trim() == query.trim() => e.value,
                        _ => None,
                    });
                    api(
                        StatusCode::OK,
                        &json!({"status": "success", "data": result(v, overridden, ts)}),
                    )
                }
                Err(e) => bad("bad_data", &format!("invalid parameter \"query\": {e}")),
            }
        }
        "/api/v1/query" => api(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"status": "error", "errorType": "bad_data", "error": "method not allowed"}),
        ),
        _ if path.ends_with("/metrics") || path == "/metrics" => {
            let fams: Vec<Family> = if server_role {
                self_metrics()
            } else {
                endpoints
                    .iter()
                    .flat_map(|e| exporter_families(&world, e, at))
                    .collect()
            };
            let ct = if openmetrics {
                "application/openmetrics-text; version=1.0.0; charset=utf-8"
            } else {
                "text/plain; version=0.0.4; charset=utf-8"
            };
            text(StatusCode::OK, expose(&fams, openmetrics), ct)
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "404 page not found\n".into(),
            "text/plain; charset=utf-8",
        ),
    }
}

fn result(v: promql::Value, overridden: Option<f64>, ts: f64) -> Value {
    match v {
        promql::Value::Scalar(x) => {
            json!({"resultType": "scalar", "result": [ts, number(overridden.unwrap_or(x))]})
        }
        promql::Value::Vector(mut series) => {
            if let Some(x) = overridden {
                if series.is_empty() {
                    series.push((promql::Labels::new(), x));
                }
                for s in &mut series {
                    s.1 = x;
                }
            }
            let result: Vec<Value> = series
                .into_iter()
                .map(|(l, x)| json!({"metric": l, "value": [ts, number(x)]}))
                .collect();
            json!({"resultType": "vector", "result": result})
        }
    }
}

fn self_metrics() -> Vec<Family> {
    let gauge = |name: &str, help: &str, labels: Vec<(String, String)>, value: f64| Family {
        name: name.into(),
        help: help.into(),
        kind: Type::Gauge,
        samples: vec![families::Sample { labels, value }],
    };
    vec![
        gauge(
            "prometheus_build_info",
            "A metric with a constant '1' value labeled by version, revision, branch, goversion from which prometheus was built, and the goos and goarch for the build.",
            vec![
                ("branch".into(), "HEAD".into()),
                ("goversion".into(), "go1.22.6".into()),
                (
                    "revision".into(),
                    "e6cfa720fbe6280153fab13090a483dbd40bece3".into(),
                ),
                ("version".into(), "2.54.1".into()),
            ],
            1.0,
        ),
        gauge(
            "prometheus_ready",
            "Whether Prometheus startup was fully completed and the server is ready for normal operation.",
            Vec::new(),
            1.0,
        ),
        gauge(
            "prometheus_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
            Vec::new(),
            1.0,
        ),
        gauge(
            "prometheus_tsdb_head_series",
            "Total number of series in the head block.",
            Vec::new(),
            48_213.0,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_in_both_formats() {
        let fams = vec![
            Family {
                name: "redis_evicted_keys".into(),
                help: "evicted".into(),
                kind: Type::Counter,
                samples: vec![families::Sample {
                    labels: vec![("instance".into(), "a\"b".into())],
                    value: 3.0,
                }],
            },
            Family {
                name: "redis_up".into(),
                help: "up".into(),
                kind: Type::Gauge,
                samples: vec![families::Sample {
                    labels: vec![],
                    value: 1.0,
                }],
            },
        ];
        let classic = expose(&fams, false);
        assert!(classic.contains("# TYPE redis_evicted_keys_total counter\nredis_evicted_keys_total{instance=\"a\\\"b\"} 3\n"));
        assert!(!classic.contains("# EOF"));
        let om = expose(&fams, true);
        assert!(om.contains("# TYPE redis_evicted_keys counter\nredis_evicted_keys_total{"));
        assert!(om.ends_with("redis_up 1\n# EOF\n"));
    }

    #[test]
    fn default_values_satisfy_the_condition() {
        assert!((healthy_value("value < 60") - 1.0).abs() < f64::EPSILON);
        assert!((healthy_value("value >= 4") - 10.0).abs() < f64::EPSILON);
        assert!(healthy_value("value == 0").abs() < f64::EPSILON);
        assert!(set_problem("value", &json!("x")).is_some());
        assert!(set_problem("colour", &json!(1)).is_some());
    }
}

//! Managed Service for Prometheus query API (Cloud Monitoring v1,
//! `…/location/global/prometheus/api/v1/query|query_range`): a PromQL subset over the series
//! `monitoring.rs` publishes, named as Google maps them (`run.googleapis.com/request_count` →
//! `run_googleapis_com:request_count`, resource type in `monitored_resource`). Selectors with
//! `=`, `!=`, `=~`, `!~` matchers, `rate`/`irate`/`increase` and `*_over_time` on range
//! selectors, and `sum`/`avg`/`min`/`max`/`count` with `by`/`without`. Answers are raw
//! Prometheus JSON, errors Prometheus's `{"status":"error",…}`.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::monitoring::{MetricKind, Series, catalogue};
use super::promql_parse::{Expr, Parser};
use super::{Answer, Call, Reply, query_param};
use crate::sim::state::World;

/// `…/api/v1/{endpoint}` for `project`.
pub(crate) fn answer(world: &mut World, call: &Call, project: &str, endpoint: &str) -> Answer {
    let form = form(call);
    let param = |k: &str| {
        query_param(call.query, k)
            .or_else(|| form.get(k).and_then(Value::as_str).map(str::to_string))
    };
    let Some(text) = param("query").filter(|q| !q.trim().is_empty()) else {
        return bad("invalid parameter \"query\": query must not be empty").into();
    };
    let expr = match Parser::new(&text).parse() {
        Ok(e) => e,
        Err(why) => return bad(&format!("invalid parameter \"query\": {why}")).into(),
    };
    let now = world.wall;
    let series = catalogue(world, project);
    let values = match eval(&expr, &series) {
        Ok(v) => v,
        Err(why) => return bad(&why).into(),
    };
    let at = |key: &str| -> Result<Option<f64>, Reply> {
        param(key).map_or(Ok(None), |v| {
            timestamp(&v).map(Some).ok_or_else(|| {
                bad(&format!(
                    "invalid parameter \"{key}\": cannot parse \"{v}\" to a valid timestamp"
                ))
            })
        })
    };
    let data = match endpoint {
        "query" => {
            let t = match at("time") {
                Ok(t) => t.unwrap_or_else(|| seconds(now)),
                Err(e) => return e.into(),
            };
            match values {
                Values::Scalar(v) => json!({"resultType": "scalar", "result": [t, num(v)]}),
                Values::Vector(items) => json!({"resultType": "vector", "result": items.iter().map(|(m, v)| json!({"metric": m, "value": [t, num(*v)]})).collect::<Vec<_>>()}),
            }
        }
        "query_range" => {
            let (start, end) = match (at("start"), at("end")) {
                (Ok(Some(s)), Ok(Some(e))) if s <= e => (s, e),
                (Err(e), _) | (_, Err(e)) => return e.into(),
                _ => return bad("invalid parameter \"start\" and \"end\": both are required and start must not be after end").into(),
            };
            let step = match param("step").and_then(|s| s.parse::<f64>().ok().or_else(|| humantime::parse_duration(&s).ok().map(|d| d.as_secs_f64()))) {
                Some(s) if s > 0.0 && (end - start) / s <= 11_000.0 => s,
                _ => return bad("invalid parameter \"step\": a positive step of at most 11000 points is required").into(),
            };
            let count = ((end - start) / step).floor() as u32 + 1;
            let times: Vec<f64> = (0..count).map(|n| start + f64::from(n) * step).collect();
            let items = match values {
                Values::Scalar(v) => vec![(Map::new(), v)],
                Values::Vector(items) => items,
            };
            json!({"resultType": "matrix", "result": items.iter().map(|(m, v)| json!({"metric": m, "values": times.iter().map(|t| json!([t, num(*v)])).collect::<Vec<_>>()})).collect::<Vec<_>>()})
        }
        _ => return Reply { status: 404, body: json!({"status": "error", "errorType": "not_found", "error": format!("unknown endpoint \"{endpoint}\"")}) }.into(),
    };
    Reply::ok(json!({"status": "success", "data": data})).into()
}

/// Parameters from a form-encoded or JSON POST body.
fn form(call: &Call) -> Map<String, Value> {
    let text = String::from_utf8_lossy(call.body);
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(&text).unwrap_or_default();
    }
    ["query", "time", "start", "end", "step"]
        .iter()
        .filter_map(|k| query_param(Some(&text), k).map(|v| ((*k).to_string(), Value::String(v))))
        .collect()
}

fn bad(why: &str) -> Reply {
    Reply {
        status: 400,
        body: json!({"status": "error", "errorType": "bad_data", "error": why}),
    }
}

fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

fn timestamp(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().or_else(|| {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| seconds(t.with_timezone(&Utc)))
    })
}

fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else {
        format!("{v}")
    }
}

/// The PromQL name of a Cloud Monitoring metric type.
pub(crate) fn prom_name(metric: &str) -> String {
    let (domain, path) = metric.split_once('/').unwrap_or((metric, ""));
    format!(
        "{}:{}",
        domain.replace(['.', '/'], "_"),
        path.replace(['.', '/'], "_")
    )
}

enum Values {
    Scalar(f64),
    Vector(Vec<(Map<String, Value>, f64)>),
}

fn eval(expr: &Expr, series: &[Series]) -> Result<Values, String> {
    match expr {
        Expr::Number(n) => Ok(Values::Scalar(*n)),
        Expr::Selector { range: Some(_), .. } => Err(
            "range vectors are only supported inside rate, increase and *_over_time".to_string(),
        ),
        Expr::Selector { .. } => Ok(Values::Vector(select(
            expr,
            series,
            |s| {
                if s.kind == MetricKind::Delta {
                    s.value * 86_400.0
                } else {
                    s.value
                }
            },
            true,
        ))),
        Expr::Call { name, arg } => {
            let Expr::Selector {
                range: Some(range), ..
            } = arg.as_ref()
            else {
                return Err(format!(
                    "expected a range vector in call to function \"{name}\""
                ));
            };
            let secs = range.as_secs_f64();
            let f: fn(&Series, f64) -> f64 = match name.as_str() {
                "rate" | "irate" => |s, _| {
                    if s.kind == MetricKind::Delta {
                        s.value
                    } else {
                        0.0
                    }
                },
                "increase" => |s, d| {
                    if s.kind == MetricKind::Delta {
                        s.value * d
                    } else {
                        0.0
                    }
                },
                "avg_over_time" | "max_over_time" | "min_over_time" | "last_over_time" => {
                    |s, _| s.value
                }
                other => return Err(format!("unknown function with name \"{other}\"")),
            };
            Ok(Values::Vector(select(arg, series, |s| f(s, secs), false)))
        }
        Expr::Aggregate {
            op,
            without,
            labels,
            arg,
        } => {
            let Values::Vector(items) = eval(arg, series)? else {
                return Err(format!(
                    "expected type instant vector in aggregation expression, got scalar ({op})"
                ));
            };
            let mut groups: Vec<(Map<String, Value>, Vec<f64>)> = Vec::new();
            for (m, v) in items {
                let key: Map<String, Value> = m
                    .into_iter()
                    .filter(|(k, _)| k != "__name__" && labels.contains(k) != *without)
                    .collect();
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, vs)) => vs.push(v),
                    None => groups.push((key, vec![v])),
                }
            }
            Ok(Values::Vector(
                groups
                    .into_iter()
                    .map(|(k, vs)| {
                        let n = vs.len() as f64;
                        let v = match op.as_str() {
                            "avg" => vs.iter().sum::<f64>() / n,
                            "max" => vs.iter().copied().fold(f64::MIN, f64::max),
                            "min" => vs.iter().copied().fold(f64::MAX, f64::min),
                            "count" => n,
                            _ => vs.iter().sum(),
                        };
                        (k, v)
                    })
                    .collect(),
            ))
        }
    }
}

fn select(
    expr: &Expr,
    series: &[Series],
    value: impl Fn(&Series) -> f64,
    keep_name: bool,
) -> Vec<(Map<String, Value>, f64)> {
    let Expr::Selector { name, matchers, .. } = expr else {
        return Vec::new();
    };
    series
        .iter()
        .filter_map(|s| {
            let prom = prom_name(s.metric);
            let mut labels = s.resource_labels.clone();
            labels.extend(s.metric_labels.clone());
            labels.insert("monitored_resource".into(), json!(s.resource));
            labels.insert("__name__".into(), json!(prom));
            if name.as_ref().is_some_and(|n| *n != prom) {
                return None;
            }
            let ok = matchers.iter().all(|(l, op, v)| {
                let have = labels.get(l).and_then(Value::as_str).unwrap_or_default();
                match op.as_str() {
                    "=" => have == v,
                    "!=" => have != v,
                    "=~" => regex_match(v, have),
                    _ => !regex_match(v, have),
                }
            });
            if !keep_name {
                labels.remove("__name__");
            }
            ok.then(|| (labels, value(s)))
        })
        .collect()
}

/// A fully anchored match for the regexes PromQL users write against labels: alternatives of
/// literals, each possibly with `.*` or `.+` at either end.
fn regex_match(pattern: &str, text: &str) -> bool {
    pattern.split('|').any(|alt| {
        let (any_start, rest) = alt.strip_prefix(".*").map_or((None, alt), |r| (Some(0), r));
        let (any_start, rest) = rest
            .strip_prefix(".+")
            .map_or((any_start, rest), |r| (Some(1), r));
        let (any_end, core) = rest
            .strip_suffix(".*")
            .map_or((None, rest), |r| (Some(0), r));
        let (any_end, core) = core
            .strip_suffix(".+")
            .map_or((any_end, core), |r| (Some(1), r));
        match (any_start, any_end) {
            (None, None) => text == core,
            (Some(a), None) => text.len() >= core.len() + a && text.ends_with(core),
            (None, Some(b)) => text.len() >= core.len() + b && text.starts_with(core),
            (Some(a), Some(b)) => text.len() >= core.len() + a + b && text.contains(core),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_regexes() {
        assert_eq!(
            prom_name("pubsub.googleapis.com/subscription/num_undelivered_messages"),
            "pubsub_googleapis_com:subscription_num_undelivered_messages"
        );
        assert!(regex_match("a|b.*", "bcd"));
        assert!(regex_match(".+-za", "sql-za"));
        assert!(!regex_match(".+-za", "-za"));
        assert!(!regex_match("a", "ab"));
    }
}

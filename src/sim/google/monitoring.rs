//! Cloud Monitoring v3 `timeSeries.list`: the metrics the estate's Google resources publish,
//! read from their simulated state (Cloud Run request rate and instances, Cloud SQL up and
//! failover readiness, Cloud Tasks queue depth, Memorystore memory, Pub/Sub backlog and oldest
//! unacked age), filtered, aligned and reduced the way the API does it. Also the series
//! catalogue the PromQL endpoint (`promql.rs`) queries.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::errors::rpc_error;
use super::monitoring_filter::{Term, parse_filter};
use super::{Answer, Call, Reply, paginate, query_param, query_params};
use crate::sim::state::{Api, OpKind, OpStatus, World};

/// How a metric's points accumulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MetricKind {
    Gauge,
    /// Counts per interval; `value` is the rate per second.
    Delta,
}

/// One time series as the simulated resources publish it now.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub metric: &'static str,
    pub metric_labels: Map<String, Value>,
    pub resource: &'static str,
    pub resource_labels: Map<String, Value>,
    pub kind: MetricKind,
    /// INT64 rather than DOUBLE.
    pub int: bool,
    pub value: f64,
    pub unit: &'static str,
}

fn labels(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::String((*v).to_string())))
        .collect()
}

/// Every series of `project`, as of the world's clock.
pub(crate) fn catalogue(world: &mut World, project: &str) -> Vec<Series> {
    for api in [Api::CloudTasks, Api::Pubsub] {
        for i in world.list(api, project, None) {
            world.refresh(i);
        }
    }
    let mut out = Vec::new();
    let gauge = |metric, metric_labels, resource, resource_labels, int, value, unit| Series {
        metric,
        metric_labels,
        resource,
        resource_labels,
        kind: MetricKind::Gauge,
        int,
        value,
        unit,
    };
    let world = &*world;
    for (i, r) in world
        .resources
        .iter()
        .enumerate()
        .filter(|(_, r)| r.project == project)
    {
        let b = &r.body;
        let failing = r.knobs.fault.error.is_some();
        match r.api {
            Api::CloudRun => {
                let revision = b["latestReadyRevision"]
                    .as_str()
                    .map(|n| n.rsplit('/').next().unwrap_or(n))
                    .unwrap_or_default();
                let res = labels(&[
                    ("project_id", project),
                    ("service_name", &r.id),
                    ("revision_name", revision),
                    ("configuration_name", &r.id),
                    ("location", &r.location),
                ]);
                let serving = !failing && !revision.is_empty();
                out.push(Series {
                    metric: "run.googleapis.com/request_count",
                    metric_labels: labels(&[
                        ("response_code", "200"),
                        ("response_code_class", "2xx"),
                    ]),
                    resource: "cloud_run_revision",
                    resource_labels: res.clone(),
                    kind: MetricKind::Delta,
                    int: true,
                    value: if serving { 12.5 } else { 0.0 },
                    unit: "1",
                });
                let s = &b["scaling"];
                let instances = if s["scalingMode"] == "MANUAL" {
                    s["manualInstanceCount"].as_f64().unwrap_or(0.0)
                } else {
                    s["minInstanceCount"].as_f64().unwrap_or(0.0).max(1.0)
                };
                out.push(gauge(
                    "run.googleapis.com/container/instance_count",
                    labels(&[("state", "active")]),
                    "cloud_run_revision",
                    res,
                    true,
                    if serving { instances } else { 0.0 },
                    "1",
                ));
            }
            Api::CloudSql => {
                let res = labels(&[
                    ("project_id", project),
                    ("database_id", &format!("{project}:{}", r.id)),
                    ("region", &r.location),
                ]);
                // Serving stops while a failover moves the primary, though the state stays RUNNABLE.
                let failing_over = world.ops.iter().any(|o| {
                    o.target == i && o.kind == OpKind::SqlFailover && o.status == OpStatus::Running
                });
                let up = b["state"] == "RUNNABLE" && !failing && !failing_over;
                let ha = b.pointer("/settings/availabilityType") == Some(&json!("REGIONAL"));
                let busy = world.busy(i);
                out.push(gauge(
                    "cloudsql.googleapis.com/database/up",
                    Map::new(),
                    "cloudsql_database",
                    res.clone(),
                    true,
                    f64::from(u8::from(up)),
                    "1",
                ));
                out.push(gauge(
                    "cloudsql.googleapis.com/database/available_for_failover",
                    Map::new(),
                    "cloudsql_database",
                    res.clone(),
                    true,
                    f64::from(u8::from(up && ha && !busy)),
                    "1",
                ));
                out.push(gauge(
                    "cloudsql.googleapis.com/database/cpu/utilization",
                    Map::new(),
                    "cloudsql_database",
                    res,
                    false,
                    if up { 0.23 } else { 0.0 },
                    "10^2.%",
                ));
            }
            Api::CloudTasks => {
                let res = labels(&[
                    ("project_id", project),
                    ("queue_id", &r.id),
                    ("location", &r.location),
                    ("target_type", "http"),
                ]);
                let depth = r.knobs.backlog.as_ref().map_or(0.0, |b| b.count.round());
                out.push(gauge(
                    "cloudtasks.googleapis.com/queue/depth",
                    Map::new(),
                    "cloud_tasks_queue",
                    res,
                    true,
                    depth,
                    "1",
                ));
            }
            Api::Memorystore => {
                let res = labels(&[
                    ("project_id", project),
                    ("instance_id", b["name"].as_str().unwrap_or_default()),
                    ("node_id", "node-0"),
                    ("region", &r.location),
                ]);
                out.push(gauge(
                    "redis.googleapis.com/stats/memory/usage_ratio",
                    Map::new(),
                    "redis_instance",
                    res,
                    false,
                    if b["state"] == "READY" { 0.31 } else { 0.0 },
                    "1",
                ));
            }
            Api::Pubsub => {
                let res = labels(&[("project_id", project), ("subscription_id", &r.id)]);
                let (count, age) = r
                    .knobs
                    .backlog
                    .as_ref()
                    .map_or((0.0, 0.0), |b| (b.count.round(), b.oldest_age.round()));
                out.push(gauge(
                    "pubsub.googleapis.com/subscription/num_undelivered_messages",
                    Map::new(),
                    "pubsub_subscription",
                    res.clone(),
                    true,
                    count,
                    "1",
                ));
                out.push(gauge(
                    "pubsub.googleapis.com/subscription/oldest_unacked_message_age",
                    Map::new(),
                    "pubsub_subscription",
                    res,
                    true,
                    age,
                    "s",
                ));
            }
            _ => {}
        }
    }
    out
}

/// The label a filter or group-by key names on a series (`resource.label.service_name`).
pub(crate) fn label_of<'s>(s: &'s Series, key: &str) -> Option<&'s str> {
    match key {
        "metric.type" => Some(s.metric),
        "resource.type" => Some(s.resource),
        _ => {
            let key = key.replace(".labels.", ".label.");
            if let Some(k) = key.strip_prefix("resource.label.") {
                s.resource_labels.get(k).and_then(Value::as_str)
            } else if let Some(k) = key.strip_prefix("metric.label.") {
                s.metric_labels.get(k).and_then(Value::as_str)
            } else {
                None
            }
        }
    }
}

/// `GET /v3/projects/{p}/timeSeries`.
pub(crate) fn time_series(world: &mut World, call: &Call, project: &str) -> Answer {
    let invalid = |field: &str, value: &str, why: &str| -> Answer {
        rpc_error(
            400,
            "INVALID_ARGUMENT",
            &format!("Field {field} had an invalid value of \"{value}\": {why}"),
        )
        .into()
    };
    let filter = query_param(call.query, "filter").unwrap_or_default();
    if filter.trim().is_empty() {
        return invalid("filter", "", "a filter naming one metric type is required.");
    }
    let terms = match parse_filter(&filter) {
        Ok(t) => t,
        Err(why) => return invalid("filter", &filter, &why),
    };
    let types: Vec<&str> = terms
        .iter()
        .filter_map(|t| match t {
            Term::Equals(k, v) if k == "metric.type" && v.len() == 1 => Some(v[0].as_str()),
            _ => None,
        })
        .collect();
    let [metric_type] = types.as_slice() else {
        return invalid(
            "filter",
            &filter,
            "the filter must name exactly one metric type, like metric.type = \"run.googleapis.com/request_count\".",
        );
    };
    let end = match time(call, "interval.endTime") {
        Ok(Some(t)) => t,
        Ok(None) => {
            return invalid(
                "interval.endTime",
                "",
                "the end of the interval is required.",
            );
        }
        Err(v) => return invalid("interval.endTime", &v, "not an RFC 3339 timestamp."),
    };
    let start = match time(call, "interval.startTime") {
        Ok(t) => t.unwrap_or(end),
        Err(v) => return invalid("interval.startTime", &v, "not an RFC 3339 timestamp."),
    };
    if start > end {
        return invalid(
            "interval.startTime",
            &stamp(start),
            "the start of the interval is after its end.",
        );
    }
    let period = match query_param(call.query, "aggregation.alignmentPeriod") {
        None => 60,
        Some(p) => match p.strip_suffix('s').and_then(|s| s.parse::<i64>().ok()) {
            Some(s) if s >= 60 => s,
            _ => {
                return invalid(
                    "aggregation.alignmentPeriod",
                    &p,
                    "the alignment period must be at least 60s.",
                );
            }
        },
    };
    let aligner = query_param(call.query, "aggregation.perSeriesAligner").unwrap_or_default();
    let reducer = query_param(call.query, "aggregation.crossSeriesReducer").unwrap_or_default();
    let group_by = query_params(call.query, "aggregation.groupByFields");

    let all = catalogue(world, project);
    if !all.iter().any(|s| s.metric == *metric_type) {
        return rpc_error(
            404,
            "NOT_FOUND",
            &format!("Cannot find metric(s) that match type = \"{metric_type}\"."),
        )
        .into();
    }
    let mut series: Vec<Series> = all
        .into_iter()
        .filter(|s| {
            terms.iter().all(|t| match t {
                Term::Equals(k, vals) => {
                    label_of(s, k).is_some_and(|v| vals.iter().any(|x| x == v))
                }
                Term::StartsWith(k, p) => label_of(s, k).is_some_and(|v| v.starts_with(p.as_str())),
            })
        })
        .collect();
    let rate = aligner == "ALIGN_RATE";
    for s in &mut series {
        if s.kind == MetricKind::Delta && !rate {
            s.value *= period as f64;
        }
        if rate || aligner == "ALIGN_MEAN" {
            s.int = false;
        }
        if rate {
            s.kind = MetricKind::Gauge;
        }
    }
    if !reducer.is_empty() && reducer != "REDUCE_NONE" {
        series = reduce(series, &reducer, &group_by);
    }
    let unit = series.first().map_or("1", |s| s.unit);
    let items: Vec<Value> = series
        .iter()
        .map(|s| render(s, start, end, period))
        .collect();
    match paginate(items, call.query, "pageSize", "page_size") {
        Ok((items, next)) => {
            let mut body = json!({});
            if !items.is_empty() {
                body["timeSeries"] = Value::Array(items);
                body["unit"] = json!(unit);
            }
            if let Some(n) = next {
                body["nextPageToken"] = json!(n);
            }
            Reply::ok(body).into()
        }
        Err(e) => e.into(),
    }
}

/// Series grouped by `fields`, each group reduced to one.
fn reduce(series: Vec<Series>, reducer: &str, fields: &[String]) -> Vec<Series> {
    let mut groups: Vec<(Vec<Option<String>>, Vec<Series>)> = Vec::new();
    for s in series {
        let key: Vec<Option<String>> = fields
            .iter()
            .map(|f| label_of(&s, f).map(str::to_string))
            .collect();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(s),
            None => groups.push((key, vec![s])),
        }
    }
    groups
        .into_iter()
        .filter_map(|(_, members)| {
            let values: Vec<f64> = members.iter().map(|m| m.value).collect();
            let mut out = members.into_iter().next()?;
            let n = values.len() as f64;
            out.value = match reducer {
                "REDUCE_MEAN" => values.iter().sum::<f64>() / n,
                "REDUCE_MAX" => values.iter().copied().fold(f64::MIN, f64::max),
                "REDUCE_MIN" => values.iter().copied().fold(f64::MAX, f64::min),
                "REDUCE_COUNT" => n,
                _ => values.iter().sum(),
            };
            if reducer == "REDUCE_MEAN" {
                out.int = false;
            }
            let keep = |prefix: &str, map: &Map<String, Value>| -> Map<String, Value> {
                map.iter()
                    .filter(|(k, _)| {
                        fields
                            .iter()
                            .any(|f| f.replace(".labels.", ".label.") == format!("{prefix}{k}"))
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            };
            out.resource_labels = keep("resource.label.", &out.resource_labels);
            out.metric_labels = keep("metric.label.", &out.metric_labels);
            Some(out)
        })
        .collect()
}

fn render(s: &Series, start: DateTime<Utc>, end: DateTime<Utc>, period: i64) -> Value {
    let value = if s.int {
        json!({"int64Value": format!("{}", s.value.round() as i64)})
    } else {
        json!({"doubleValue": s.value})
    };
    let step = chrono::TimeDelta::try_seconds(period).unwrap_or(chrono::TimeDelta::MAX);
    let mut points = Vec::new();
    let mut t = end;
    while t >= start && points.len() < 100 {
        let before = t.checked_sub_signed(step);
        let from = match (s.kind, before) {
            (MetricKind::Delta, Some(b)) => b,
            _ => t,
        };
        points.push(
            json!({"interval": {"startTime": stamp(from), "endTime": stamp(t)}, "value": value}),
        );
        let Some(b) = before else { break };
        t = b;
    }
    json!({
        "metric": {"type": s.metric, "labels": s.metric_labels},
        "resource": {"type": s.resource, "labels": s.resource_labels},
        "metricKind": if s.kind == MetricKind::Delta { "DELTA" } else { "GAUGE" },
        "valueType": if s.int { "INT64" } else { "DOUBLE" },
        "points": points
    })
}

fn time(call: &Call, key: &str) -> Result<Option<DateTime<Utc>>, String> {
    match query_param(call.query, key) {
        None => Ok(None),
        Some(v) => DateTime::parse_from_rfc3339(&v)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| v),
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

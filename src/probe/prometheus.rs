//! The `prometheus` probe: scrape an exporter's `/metrics` (redis_exporter, postgres_exporter,
//! kube-state-metrics, celery-exporter…), select samples with the estate's `metric` (a name,
//! optionally with label matchers: `redis_up{instance="a"}`, `kube_pod_status_ready{condition!="false"}`)
//! and evaluate `up_when` on each as `{"value": <sample value>, "labels": {...}}`.
//!
//! Status rules: up when `up_when` holds for every selected sample; down when it fails for
//! any, when no sample matches, or when the exporter does not answer or answers an HTTP error.
//! Histograms and summaries have no single value: select their `_sum` or `_count` instead.
//!
//! The text is parsed by prometheus-parse (classic text format; OpenMetrics is tolerated, and
//! counters written `foo_total` keep that name).

use std::collections::BTreeMap;

use prometheus_parse::{Scrape, Value as Sample};
use serde_json::{Value, json};

use crate::condition::Condition;
use crate::model::{Observation, Outcome, Status};

/// Largest exposition read.
const MAX_BODY: usize = 32 * 1024 * 1024;
/// The classic text format, which every exporter serves.
const ACCEPT: &str = "text/plain;version=0.0.4;q=1,*/*;q=0.1";
/// At most this many failing series are named in a message.
const NAMED: usize = 3;

/// A metric name with label matchers.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    pub name: String,
    /// `(label, equal?, value)`: `=` when equal, `!=` otherwise.
    pub matchers: Vec<(String, bool, String)>,
}

impl Selector {
    /// Reads `name` or `name{label="value",other!="x"}`.
    pub fn parse(text: &str) -> Result<Selector, String> {
        let text = text.trim();
        let (name, rest) = match text.find('{') {
            Some(i) => (&text[..i], Some(&text[i + 1..])),
            None => (text, None),
        };
        let name = name.trim();
        let valid_name = name.chars().enumerate().all(|(i, c)| {
            c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
        });
        if name.is_empty() || !valid_name {
            return Err(format!("\"{text}\" does not start with a metric name"));
        }
        let mut matchers = Vec::new();
        if let Some(rest) = rest {
            let body = rest
                .trim_end()
                .strip_suffix('}')
                .ok_or_else(|| format!("\"{text}\" has no closing '}}'"))?;
            let mut chars = body.chars().peekable();
            loop {
                while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
                    chars.next();
                }
                if chars.peek().is_none() {
                    break;
                }
                let label: String = std::iter::from_fn(|| {
                    chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_')
                })
                .collect();
                while chars.next_if(|c| c.is_whitespace()).is_some() {}
                let equal = match (chars.next(), chars.peek()) {
                    (Some('='), _) => true,
                    (Some('!'), Some('=')) => {
                        chars.next();
                        false
                    }
                    _ => {
                        return Err(format!(
                            "\"{text}\": write label matchers as label=\"value\" or label!=\"value\""
                        ));
                    }
                };
                while chars.next_if(|c| c.is_whitespace()).is_some() {}
                if label.is_empty() || chars.next() != Some('"') {
                    return Err(format!("\"{text}\": label values must be quoted"));
                }
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('n') => value.push('\n'),
                            Some(c) => value.push(c),
                            None => return Err(format!("\"{text}\": unfinished label value")),
                        },
                        Some(c) => value.push(c),
                        None => return Err(format!("\"{text}\": unfinished label value")),
                    }
                }
                matchers.push((label, equal, value));
            }
        }
        Ok(Selector {
            name: name.to_string(),
            matchers,
        })
    }

    fn matches(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        name == self.name
            && self.matchers.iter().all(|(label, equal, value)| {
                let have = labels.get(label).map_or("", String::as_str);
                (have == value) == *equal
            })
    }
}

/// Scrapes the exporter of an estate service.
pub async fn probe(http: &reqwest::Client, url: &str, metric: &str, up_when: &str) -> Outcome {
    let shown = super::credentials::redact(url);
    let response = match http
        .get(url)
        .header(reqwest::header::ACCEPT, ACCEPT)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            return Outcome::Observed(Observation::down(format!(
                "exporter at {shown}: {}",
                super::http::describe_error(&e)
            )));
        }
    };
    let code = response.status().as_u16();
    if code != 200 {
        return Outcome::Observed(Observation::down(format!(
            "exporter at {shown} answered HTTP {code}"
        )));
    }
    let mut body = Vec::new();
    let mut response = response;
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            return Outcome::Observed(Observation::unknown(format!(
                "exporter at {shown} sent more than {} MB of metrics",
                MAX_BODY / (1024 * 1024)
            )));
        }
    }
    let text = String::from_utf8_lossy(&body);
    Outcome::Observed(observe(&text, metric, up_when))
}

/// The status of one exposition: the samples `metric` selects, judged by `up_when`.
pub fn observe(text: &str, metric: &str, up_when: &str) -> Observation {
    let selector = match Selector::parse(metric) {
        Ok(s) => s,
        Err(why) => return Observation::unknown(format!("metric {why}")),
    };
    let condition = match Condition::parse(up_when) {
        Ok(c) => c,
        Err(e) => {
            return Observation::unknown(format!("up_when \"{up_when}\" does not parse: {e}"));
        }
    };
    let scrape = match Scrape::parse(text.lines().map(|l| Ok(l.to_string()))) {
        Ok(s) => s,
        Err(e) => return Observation::unknown(format!("the exposition does not parse: {e}")),
    };
    let mut series = Vec::new();
    let mut shapeless = 0;
    for sample in &scrape.samples {
        let labels: BTreeMap<String, String> = sample
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !selector.matches(&sample.metric, &labels) {
            continue;
        }
        match sample.value {
            Sample::Counter(v) | Sample::Gauge(v) | Sample::Untyped(v) => series.push((labels, v)),
            Sample::Histogram(_) | Sample::Summary(_) => shapeless += 1,
        }
    }
    if series.is_empty() {
        let why = if shapeless > 0 {
            format!(
                "{metric} is a histogram or summary; select {0}_sum or {0}_count",
                selector.name
            )
        } else {
            format!(
                "no sample matches {metric} among the {} samples exposed",
                scrape.samples.len()
            )
        };
        return Observation::down(why);
    }
    let mut obs = judge_series(&selector.name, &series, &condition);
    obs.metrics
        .insert("samples_exposed".to_string(), scrape.samples.len().into());
    obs
}

/// Judges series (labels and value) by a condition on `{"value", "labels"}`: up when it holds
/// for every one. `what` names them in messages (a metric name or a query).
pub(crate) fn judge_series(
    what: &str,
    series: &[(BTreeMap<String, String>, f64)],
    condition: &Condition,
) -> Observation {
    let mut failing = Vec::new();
    for (labels, value) in series {
        let doc = json!({
            "value": serde_json::Number::from_f64(*value).map_or(Value::Null, Value::Number),
            "labels": labels,
        });
        if !condition.eval(&doc) {
            let name = format!("{what}{}", label_text(labels));
            let why = condition.explain(&doc);
            failing.push(if name.is_empty() {
                why
            } else {
                format!("{name}: {why}")
            });
        }
    }
    let n = series.len();
    let of_what = if what.is_empty() {
        "series".to_string()
    } else {
        format!("series of {what}")
    };
    let summary = if n == 1 {
        let name = format!("{what}{}", label_text(&series[0].0));
        if name.is_empty() {
            number(series[0].1)
        } else {
            format!("{name} = {}", number(series[0].1))
        }
    } else if failing.is_empty() {
        format!("{n} {of_what} · all hold `{}`", condition.source())
    } else {
        format!(
            "{} of {n} {of_what} fail `{}`",
            failing.len(),
            condition.source()
        )
    };
    let mut obs = Observation::new(Status::Up, summary);
    if !failing.is_empty() {
        obs.status = Status::Down;
        let more = failing.len().saturating_sub(NAMED);
        let mut named: Vec<String> = failing.into_iter().take(NAMED).collect();
        if more > 0 {
            named.push(format!("and {more} more"));
        }
        // An unnamed series (a bare aggregate like `sum(up)`) is described by its value alone.
        let unnamed = what.is_empty() && series.iter().all(|(labels, _)| labels.is_empty());
        obs.error = Some(format!(
            "up_when `{}` is false{}{}",
            condition.source(),
            if unnamed { ": " } else { " for " },
            named.join("; ")
        ));
    }
    obs.metrics.insert("series".to_string(), n.into());
    if n == 1
        && let Some(v) = serde_json::Number::from_f64(series[0].1)
    {
        obs.metrics.insert("value".to_string(), Value::Number(v));
    }
    obs
}

/// `{job="node",instance="a"}`, or nothing for an unlabelled series.
pub(crate) fn label_text(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__")
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    if inner.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", inner.join(","))
    }
}

/// A sample value as Prometheus prints it: `1`, `0.25`, `NaN`, `+Inf`.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/fixtures/api/prometheus/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).expect("fixture")
    }

    #[test]
    fn selectors_read_names_and_matchers() {
        let s = Selector::parse(r#"redis_up{instance="a", job!="x\"y"}"#).expect("parses");
        assert_eq!(s.name, "redis_up");
        assert_eq!(
            s.matchers,
            vec![
                ("instance".to_string(), true, "a".to_string()),
                ("job".to_string(), false, "x\"y".to_string())
            ]
        );
        assert_eq!(Selector::parse("up").expect("bare").matchers, vec![]);
        assert!(Selector::parse("{a=\"b\"}").is_err());
        assert!(Selector::parse("up{a=b}").is_err());
        assert!(Selector::parse("up{a=\"b\"").is_err());
    }

    #[test]
    fn kube_state_metrics_condition_selects_by_label() {
        let text = fixture("kube-state-metrics-stable-node-metrics.txt");
        let obs = observe(
            &text,
            r#"kube_node_status_condition{condition="NetworkUnavailable",status="true"}"#,
            "value == 0",
        );
        assert_eq!(obs.status, Status::Up, "{:?}", obs.error);
        assert_eq!(
            obs.summary,
            r#"kube_node_status_condition{condition="NetworkUnavailable",node="",status="true"} = 0"#
        );
        assert_eq!(obs.metrics["value"], json!(0.0));
        let obs = observe(&text, "kube_node_info", "value == 2");
        assert_eq!(obs.status, Status::Down);
        assert!(
            obs.error
                .expect("error")
                .starts_with("up_when `value == 2` is false for kube_node_info{")
        );
    }

    #[test]
    fn every_series_must_hold() {
        let text = fixture("kube-state-metrics-stable-node-metrics.txt");
        let obs = observe(&text, "kube_node_status_condition", "value < 1");
        assert_eq!(obs.status, Status::Up);
        assert_eq!(
            obs.summary,
            "3 series of kube_node_status_condition · all hold `value < 1`"
        );
        let obs = observe(
            &text,
            r#"kube_node_status_condition{status!="true"}"#,
            r#"labels.status == "false""#,
        );
        assert_eq!(obs.status, Status::Down);
        assert_eq!(
            obs.summary,
            "1 of 2 series of kube_node_status_condition fail `labels.status == \"false\"`"
        );
    }

    #[test]
    fn real_prometheus_server_metrics_and_histograms() {
        let text = fixture("prometheus-server-self-metrics-237-families.prom.txt");
        let obs = observe(
            &text,
            "prometheus_config_last_reload_successful",
            "value == 1",
        );
        assert_eq!(obs.status, Status::Up, "{:?}", obs.error);
        let obs = observe(
            &text,
            "prometheus_http_request_duration_seconds",
            "value > 0",
        );
        assert_eq!(obs.status, Status::Down);
        assert!(obs.error.expect("error").contains("histogram or summary"));
        let obs = observe(&text, "no_such_metric", "value == 1");
        assert_eq!(obs.status, Status::Down);
        assert!(
            obs.error
                .expect("error")
                .starts_with("no sample matches no_such_metric among the ")
        );
    }

    #[test]
    fn openmetrics_counters_keep_their_total_name() {
        let text = fixture("openmetrics-alltypes-exemplars.om.txt");
        let obs = observe(
            &text,
            r#"promhttp_metric_handler_errors_total{cause="encoding"}"#,
            "value == 0",
        );
        assert_eq!(obs.status, Status::Up, "{:?}", obs.error);
        assert_eq!(obs.metrics["series"], json!(1));
    }

    #[test]
    fn nan_values_fail_numeric_conditions() {
        let obs = observe("# TYPE x gauge\nx NaN\n", "x", "value >= 0");
        assert_eq!(obs.status, Status::Down);
        assert_eq!(obs.summary, "x = NaN");
    }
}

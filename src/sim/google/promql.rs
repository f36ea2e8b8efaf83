//! Managed Service for Prometheus query API (Cloud Monitoring v1,
//! `…/location/global/prometheus/api/v1/query|query_range`): a PromQL subset over the series
//! `monitoring.rs` publishes, named as Google maps them (`run.googleapis.com/request_count` →
//! `run_googleapis_com:request_count`, resource type in `monitored_resource`). Selectors with
//! `=`, `!=`, `=~`, `!~` matchers, `rate`/`irate`/`increase` and `*_over_time` on range
//! selectors, and `sum`/`avg`/`min`/`max`/`count` with `by`/`without`. Answers are raw
//! Prometheus JSON, errors Prometheus's `{"status":"error",…}`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::monitoring::{MetricKind, Series, catalogue};
use super::{Answer, Call, Reply, query_param};
use crate::sim::state::World;

/// `…/api/v1/{endpoint}` for `project`.
pub(crate) fn answer(world: &mut World, call: &Call, project: &str, endpoint: &str) -> Answer {
    let form = form(call);
    let param = |k: &str| {
        query_param(call.query, k).or_else(|| form.get(k).and_then(Value::as_str).map(str::to_string))
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
        param(key).map_or(Ok(None), |v| timestamp(&v).map(Some).ok_or_else(|| bad(&format!("invalid parameter \"{key}\": cannot parse \"{v}\" to a valid timestamp"))))
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
            let times: Vec<f64> = (0..).map(|n| start + f64::from(n) * step).take_while(|t| *t <= end).collect();
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
    text.parse::<f64>()
        .ok()
        .or_else(|| DateTime::parse_from_rfc3339(text).ok().map(|t| seconds(t.with_timezone(&Utc))))
}

fn num(v: f64) -> String {
    if v.is_nan() { "NaN".to_string() } else { format!("{v}") }
}

/// The PromQL name of a Cloud Monitoring metric type.
pub(crate) fn prom_name(metric: &str) -> String {
    let (domain, path) = metric.split_once('/').unwrap_or((metric, ""));
    format!("{}:{}", domain.replace(['.', '/'], "_"), path.replace(['.', '/'], "_"))
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Number(f64),
    Selector { name: Option<String>, matchers: Vec<(String, String, String)>, range: Option<Duration> },
    Call { name: String, arg: Box<Expr> },
    Aggregate { op: String, without: bool, labels: Vec<String>, arg: Box<Expr> },
}

enum Values {
    Scalar(f64),
    Vector(Vec<(Map<String, Value>, f64)>),
}

fn eval(expr: &Expr, series: &[Series]) -> Result<Values, String> {
    match expr {
        Expr::Number(n) => Ok(Values::Scalar(*n)),
        Expr::Selector { range: Some(_), .. } => Err("range vectors are only supported inside rate, increase and *_over_time".to_string()),
        Expr::Selector { .. } => Ok(Values::Vector(select(expr, series, |s| if s.kind == MetricKind::Delta { s.value * 86_400.0 } else { s.value }, true))),
        Expr::Call { name, arg } => {
            let Expr::Selector { range: Some(range), .. } = arg.as_ref() else {
                return Err(format!("expected a range vector in call to function \"{name}\""));
            };
            let secs = range.as_secs_f64();
            let f: fn(&Series, f64) -> f64 = match name.as_str() {
                "rate" | "irate" => |s, _| if s.kind == MetricKind::Delta { s.value } else { 0.0 },
                "increase" => |s, d| if s.kind == MetricKind::Delta { s.value * d } else { 0.0 },
                "avg_over_time" | "max_over_time" | "min_over_time" | "last_over_time" => |s, _| s.value,
                other => return Err(format!("unknown function with name \"{other}\"")),
            };
            Ok(Values::Vector(select(arg, series, |s| f(s, secs), false)))
        }
        Expr::Aggregate { op, without, labels, arg } => {
            let Values::Vector(items) = eval(arg, series)? else {
                return Err(format!("expected type instant vector in aggregation expression, got scalar ({op})"));
            };
            let mut groups: Vec<(Map<String, Value>, Vec<f64>)> = Vec::new();
            for (m, v) in items {
                let key: Map<String, Value> = m.into_iter().filter(|(k, _)| k != "__name__" && labels.contains(k) != *without).collect();
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, vs)) => vs.push(v),
                    None => groups.push((key, vec![v])),
                }
            }
            Ok(Values::Vector(groups.into_iter().map(|(k, vs)| {
                let n = vs.len() as f64;
                let v = match op.as_str() {
                    "avg" => vs.iter().sum::<f64>() / n,
                    "max" => vs.iter().copied().fold(f64::MIN, f64::max),
                    "min" => vs.iter().copied().fold(f64::MAX, f64::min),
                    "count" => n,
                    _ => vs.iter().sum(),
                };
                (k, v)
            }).collect()))
        }
    }
}

fn select(expr: &Expr, series: &[Series], value: impl Fn(&Series) -> f64, keep_name: bool) -> Vec<(Map<String, Value>, f64)> {
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
        let (any_start, rest) = rest.strip_prefix(".+").map_or((any_start, rest), |r| (Some(1), r));
        let (any_end, core) = rest.strip_suffix(".*").map_or((None, rest), |r| (Some(0), r));
        let (any_end, core) = core.strip_suffix(".+").map_or((any_end, core), |r| (Some(1), r));
        match (any_start, any_end) {
            (None, None) => text == core,
            (Some(a), None) => text.len() >= core.len() + a && text.ends_with(core),
            (None, Some(b)) => text.len() >= core.len() + b && text.starts_with(core),
            (Some(a), Some(b)) => text.len() >= core.len() + a + b && text.contains(core),
        }
    })
}

/// A recursive-descent reader of the PromQL subset.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        Parser { text, pos: 0 }
    }

    fn parse(mut self) -> Result<Expr, String> {
        let e = self.expr()?;
        self.skip();
        if self.pos < self.text.len() {
            return Err(self.error(&format!("unexpected \"{}\"", &self.text[self.pos..])));
        }
        Ok(e)
    }

    fn error(&self, what: &str) -> String {
        format!("1:{}: parse error: {what}", self.pos + 1)
    }

    fn skip(&mut self) {
        while self.text[self.pos..].starts_with(char::is_whitespace) {
            self.pos += self.text[self.pos..].chars().next().map_or(1, char::len_utf8);
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip();
        if self.text[self.pos..].starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &str) -> Result<(), String> {
        if self.eat(token) { Ok(()) } else { Err(self.error(&format!("expected \"{token}\""))) }
    }

    fn ident(&mut self) -> Option<String> {
        self.skip();
        let rest = &self.text[self.pos..];
        let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
        (len > 0 && !rest.starts_with(|c: char| c.is_ascii_digit())).then(|| {
            self.pos += len;
            rest[..len].to_string()
        })
    }

    fn labels(&mut self) -> Result<Vec<String>, String> {
        self.expect("(")?;
        let mut out = Vec::new();
        while !self.eat(")") {
            out.push(self.ident().ok_or_else(|| self.error("expected a label name"))?);
            if !self.eat(",") {
                self.expect(")")?;
                break;
            }
        }
        Ok(out)
    }

    fn expr(&mut self) -> Result<Expr, String> {
        self.skip();
        let rest = &self.text[self.pos..];
        if rest.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            let len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e')).unwrap_or(rest.len());
            let n = rest[..len].parse().map_err(|_| self.error("bad number"))?;
            self.pos += len;
            return Ok(Expr::Number(n));
        }
        if rest.starts_with('{') {
            return self.selector(None);
        }
        let name = self.ident().ok_or_else(|| self.error("expected an expression"))?;
        if matches!(name.as_str(), "sum" | "avg" | "min" | "max" | "count") {
            let mut grouping = None;
            for word in ["by", "without"] {
                if self.peek_word(word) {
                    self.ident();
                    grouping = Some((word == "without", self.labels()?));
                }
            }
            self.expect("(")?;
            let arg = self.expr()?;
            self.expect(")")?;
            for word in ["by", "without"] {
                if grouping.is_none() && self.peek_word(word) {
                    self.ident();
                    grouping = Some((word == "without", self.labels()?));
                }
            }
            let (without, labels) = grouping.unwrap_or((false, Vec::new()));
            return Ok(Expr::Aggregate { op: name, without, labels, arg: Box::new(arg) });
        }
        if self.eat("(") {
            let arg = self.expr()?;
            self.expect(")")?;
            return Ok(Expr::Call { name, arg: Box::new(arg) });
        }
        self.selector(Some(name))
    }

    fn peek_word(&mut self, word: &str) -> bool {
        self.skip();
        let rest = &self.text[self.pos..];
        rest.starts_with(word) && !rest[word.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
    }

    fn selector(&mut self, mut name: Option<String>) -> Result<Expr, String> {
        let mut matchers = Vec::new();
        if self.eat("{") {
            while !self.eat("}") {
                let label = self.ident().ok_or_else(|| self.error("expected a label name"))?;
                let op = ["=~", "!~", "!=", "="].into_iter().find(|op| self.eat(op)).ok_or_else(|| self.error("expected a label matching operator"))?;
                let value = self.string()?;
                if label == "__name__" && op == "=" {
                    name = Some(value);
                } else {
                    matchers.push((label, op.to_string(), value));
                }
                if !self.eat(",") {
                    self.expect("}")?;
                    break;
                }
            }
        }
        let range = if self.eat("[") {
            let end = self.text[self.pos..].find(']').ok_or_else(|| self.error("unclosed range"))?;
            let text = self.text[self.pos..self.pos + end].trim().to_string();
            self.pos += end + 1;
            Some(humantime::parse_duration(&text).map_err(|_| self.error(&format!("bad duration \"{text}\"")))?)
        } else {
            None
        };
        if name.is_none() && matchers.is_empty() {
            return Err(self.error("vector selector must contain at least one non-empty matcher"));
        }
        Ok(Expr::Selector { name, matchers, range })
    }

    fn string(&mut self) -> Result<String, String> {
        self.skip();
        let quote = self.text[self.pos..].chars().next().filter(|c| *c == '"' || *c == '\'').ok_or_else(|| self.error("expected a quoted string"))?;
        let start = self.pos + 1;
        let end = self.text[start..].find(quote).ok_or_else(|| self.error("unterminated quoted string"))?;
        self.pos = start + end + 1;
        Ok(self.text[start..start + end].to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_subset() {
        let e = Parser::new("sum by (service_name, location) (rate(run_googleapis_com:request_count{monitored_resource=\"cloud_run_revision\"}[5m]))").parse().expect("parses");
        let Expr::Aggregate { op, labels, arg, .. } = e else { panic!("aggregate") };
        assert_eq!(op, "sum");
        assert_eq!(labels, vec!["service_name", "location"]);
        assert!(matches!(*arg, Expr::Call { ref name, .. } if name == "rate"));
        assert!(Parser::new("max(x) without (a)").parse().is_ok());
        assert!(Parser::new("{__name__=\"x\", a!~'b|c.*'}").parse().is_ok());
        for bad in ["sum(", "x{a=}", "x[5q]", "{}", "x y"] {
            assert!(Parser::new(bad).parse().is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_regexes() {
        assert_eq!(prom_name("pubsub.googleapis.com/subscription/num_undelivered_messages"), "pubsub_googleapis_com:subscription_num_undelivered_messages");
        assert!(regex_match("a|b.*", "bcd"));
        assert!(regex_match(".+-za", "sql-za"));
        assert!(!regex_match(".+-za", "-za"));
        assert!(!regex_match("a", "ab"));
    }
}

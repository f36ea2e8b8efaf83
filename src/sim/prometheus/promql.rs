//! A small PromQL: what the simulated Prometheus evaluates for /api/v1/query. Selectors with
//! label matchers (`=`, `!=`, `=~`, `!~`), aggregations (sum, min, max, avg, count, group,
//! topk, bottomk) with `by` / `without`, arithmetic and comparison operators (with `bool`)
//! between vectors and scalars, `and` / `or` / `unless`, and the common functions (rate,
//! increase, abs, absent, clamp, round, scalar, vector, time, *_over_time). Pure; every input
//! either evaluates or gets a `bad_data` message.

use std::collections::BTreeMap;
use std::time::Duration;

use super::families::Family;

mod parse;

use parse::{Expr, Matcher, parse};

pub(crate) type Labels = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Scalar(f64),
    Vector(Vec<(Labels, f64)>),
}

/// The series as they were at a moment of the scenario clock.
pub(crate) type Fetch<'a> = &'a dyn Fn(Duration) -> Vec<Family>;

/// Evaluates a query at `at`.
pub(crate) fn eval(src: &str, at: Duration, fetch: Fetch) -> Result<Value, String> {
    let expr = parse(src).map_err(|e| format!("1:1: parse error: {e}"))?;
    let mut cache: BTreeMap<Duration, Vec<Family>> = BTreeMap::new();
    Ev {
        at,
        fetch,
        cache: &mut cache,
    }
    .eval(&expr)
}

struct Ev<'a, 'c> {
    at: Duration,
    fetch: Fetch<'a>,
    cache: &'c mut BTreeMap<Duration, Vec<Family>>,
}

fn matches(ms: &[Matcher], labels: &Labels) -> bool {
    ms.iter().all(|m| {
        let get = |k: &str| labels.get(k).map_or("", String::as_str);
        match m {
            Matcher::Eq(k, v) => get(k) == v,
            Matcher::Ne(k, v) => get(k) != v,
            Matcher::Re(k, r) => r.is_match(get(k)),
            Matcher::Nre(k, r) => !r.is_match(get(k)),
        }
    })
}

fn without_name(mut l: Labels) -> Labels {
    l.remove("__name__");
    l
}

fn arith(op: &str, a: f64, b: f64) -> Option<f64> {
    Some(match op {
        "+" => a + b,
        "-" => a - b,
        "*" => a * b,
        "/" => a / b,
        "%" => a % b,
        "^" => a.powf(b),
        "==" => f64::from(u8::from((a - b).abs() < f64::EPSILON)),
        "!=" => f64::from(u8::from((a - b).abs() >= f64::EPSILON)),
        ">" => f64::from(u8::from(a > b)),
        "<" => f64::from(u8::from(a < b)),
        ">=" => f64::from(u8::from(a >= b)),
        "<=" => f64::from(u8::from(a <= b)),
        _ => return None,
    })
}

fn comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=")
}

impl Ev<'_, '_> {
    fn series(&mut self, ms: &[Matcher], at: Duration) -> Vec<(Labels, f64)> {
        let fams = self.cache.entry(at).or_insert_with(|| (self.fetch)(at));
        let mut out = Vec::new();
        for f in fams.iter() {
            let name = f.sample_name();
            for s in &f.samples {
                let mut l: Labels = s.labels.iter().cloned().collect();
                l.insert("__name__".into(), name.clone());
                if matches(ms, &l) {
                    out.push((l, s.value));
                }
            }
        }
        out
    }

    fn vector(&mut self, e: &Expr) -> Result<Vec<(Labels, f64)>, String> {
        match self.eval(e)? {
            Value::Vector(v) => Ok(v),
            Value::Scalar(_) => Err("expected type instant vector, got scalar".into()),
        }
    }

    fn eval(&mut self, e: &Expr) -> Result<Value, String> {
        match e {
            Expr::Num(n) => Ok(Value::Scalar(*n)),
            Expr::Select(ms, None) => Ok(Value::Vector(self.series(ms, self.at))),
            Expr::Select(_, Some(_)) => {
                Err("range vectors are only supported inside functions like rate()".into())
            }
            Expr::Neg(inner) => Ok(match self.eval(inner)? {
                Value::Scalar(n) => Value::Scalar(-n),
                Value::Vector(v) => {
                    Value::Vector(v.into_iter().map(|(l, x)| (without_name(l), -x)).collect())
                }
            }),
            Expr::Bin(op, boolean, a, b) => self.binary(op, *boolean, a, b),
            Expr::Agg(name, group, param, inner) => {
                self.aggregate(name, group.as_ref(), param.as_deref(), inner)
            }
            Expr::Call(name, args) => self.call(name, args),
        }
    }

    fn binary(&mut self, op: &str, boolean: bool, a: &Expr, b: &Expr) -> Result<Value, String> {
        let (l, r) = (self.eval(a)?, self.eval(b)?);
        if matches!(op, "and" | "or" | "unless") {
            let (Value::Vector(l), Value::Vector(r)) = (l, r) else {
                return Err(format!(
                    "set operator \"{op}\" not allowed in binary scalar expression"
                ));
            };
            let keys: Vec<Labels> = r.iter().map(|(x, _)| without_name(x.clone())).collect();
            let has = |x: &Labels| keys.contains(&without_name(x.clone()));
            return Ok(Value::Vector(match op {
                "and" => l.into_iter().filter(|(x, _)| has(x)).collect(),
                "unless" => l.into_iter().filter(|(x, _)| !has(x)).collect(),
                _ => {
                    let lk: Vec<Labels> = l.iter().map(|(x, _)| without_name(x.clone())).collect();
                    let mut out = l;
                    out.extend(
                        r.into_iter()
                            .filter(|(x, _)| !lk.contains(&without_name(x.clone()))),
                    );
                    out
                }
            }));
        }
        let keep = |labels: Labels| {
            if comparison(op) && !boolean {
                labels
            } else {
                without_name(labels)
            }
        };
        let apply = |a: f64, b: f64, keep_on: f64| -> Option<f64> {
            let v = arith(op, a, b)?;
            if comparison(op) && !boolean {
                (v > 0.5).then_some(keep_on)
            } else {
                Some(v)
            }
        };
        Ok(match (l, r) {
            (Value::Scalar(x), Value::Scalar(y)) => {
                if comparison(op) && !boolean {
                    return Err("comparisons between scalars must use BOOL modifier".into());
                }
                Value::Scalar(arith(op, x, y).unwrap_or(f64::NAN))
            }
            (Value::Vector(v), Value::Scalar(y)) => Value::Vector(
                v.into_iter()
                    .filter_map(|(l, x)| apply(x, y, x).map(|n| (keep(l), n)))
                    .collect(),
            ),
            (Value::Scalar(x), Value::Vector(v)) => Value::Vector(
                v.into_iter()
                    .filter_map(|(l, y)| apply(x, y, y).map(|n| (keep(l), n)))
                    .collect(),
            ),
            (Value::Vector(lv), Value::Vector(rv)) => {
                let right: BTreeMap<Labels, f64> =
                    rv.into_iter().map(|(l, x)| (without_name(l), x)).collect();
                Value::Vector(
                    lv.into_iter()
                        .filter_map(|(l, x)| {
                            let y = *right.get(&without_name(l.clone()))?;
                            apply(x, y, x).map(|n| (keep(l), n))
                        })
                        .collect(),
                )
            }
        })
    }

    fn aggregate(
        &mut self,
        name: &str,
        group: Option<&(bool, Vec<String>)>,
        param: Option<&Expr>,
        inner: &Expr,
    ) -> Result<Value, String> {
        let v = self.vector(inner)?;
        let k = match param.map(|p| self.eval(p)) {
            Some(Ok(Value::Scalar(k))) => k.max(0.0) as usize,
            Some(Ok(Value::Vector(_))) => {
                return Err("expected type scalar in aggregation parameter".into());
            }
            Some(Err(e)) => return Err(e),
            None => 0,
        };
        let key = |l: &Labels| -> Labels {
            match group {
                Some((false, by)) => l
                    .iter()
                    .filter(|(k, _)| by.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                Some((true, without)) => l
                    .iter()
                    .filter(|(k, _)| *k != "__name__" && !without.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                None => Labels::new(),
            }
        };
        if matches!(name, "topk" | "bottomk") {
            let mut groups: BTreeMap<Labels, Vec<(Labels, f64)>> = BTreeMap::new();
            for (l, x) in v {
                groups.entry(key(&l)).or_default().push((l, x));
            }
            let mut out = Vec::new();
            for (_, mut members) in groups {
                members.sort_by(|a, b| {
                    if name == "topk" {
                        b.1.total_cmp(&a.1)
                    } else {
                        a.1.total_cmp(&b.1)
                    }
                });
                out.extend(members.into_iter().take(k));
            }
            return Ok(Value::Vector(out));
        }
        let mut groups: BTreeMap<Labels, Vec<f64>> = BTreeMap::new();
        for (l, x) in &v {
            groups.entry(key(l)).or_default().push(*x);
        }
        Ok(Value::Vector(
            groups
                .into_iter()
                .map(|(l, xs)| {
                    let n = xs.len() as f64;
                    let sum: f64 = xs.iter().sum();
                    let value = match name {
                        "sum" => sum,
                        "min" => xs.iter().copied().fold(f64::INFINITY, f64::min),
                        "max" => xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                        "avg" => sum / n,
                        "count" => n,
                        "group" => 1.0,
                        _ => (xs.iter().map(|x| (x - sum / n).powi(2)).sum::<f64>() / n).sqrt(),
                    };
                    (l, value)
                })
                .collect(),
        ))
    }

    fn call(&mut self, name: &str, args: &[Expr]) -> Result<Value, String> {
        let arity = |n: usize| {
            if args.len() == n {
                Ok(())
            } else {
                Err(format!(
                    "expected {n} argument(s) in call to \"{name}\", got {}",
                    args.len()
                ))
            }
        };
        match name {
            "time" => {
                arity(0)?;
                Ok(Value::Scalar(self.at.as_secs_f64()))
            }
            "vector" => {
                arity(1)?;
                match self.eval(&args[0])? {
                    Value::Scalar(x) => Ok(Value::Vector(vec![(Labels::new(), x)])),
                    Value::Vector(_) => {
                        Err("expected type scalar in call to function \"vector\"".into())
                    }
                }
            }
            "scalar" => {
                arity(1)?;
                let v = self.vector(&args[0])?;
                Ok(Value::Scalar(if v.len() == 1 { v[0].1 } else { f64::NAN }))
            }
            "absent" => {
                arity(1)?;
                let v = self.vector(&args[0])?;
                Ok(Value::Vector(if v.is_empty() {
                    vec![(Labels::new(), 1.0)]
                } else {
                    Vec::new()
                }))
            }
            "abs" | "ceil" | "floor" | "round" | "sqrt" | "exp" | "ln" | "sort" | "sort_desc" => {
                arity(1)?;
                let mut v = self.vector(&args[0])?;
                let f = |x: f64| match name {
                    "abs" => x.abs(),
                    "ceil" => x.ceil(),
                    "floor" => x.floor(),
                    "round" => x.round(),
                    "sqrt" => x.sqrt(),
                    "exp" => x.exp(),
                    "ln" => x.ln(),
                    _ => x,
                };
                if name == "sort" {
                    v.sort_by(|a, b| a.1.total_cmp(&b.1));
                } else if name == "sort_desc" {
                    v.sort_by(|a, b| b.1.total_cmp(&a.1));
                }
                let keep_name = name.starts_with("sort");
                Ok(Value::Vector(
                    v.into_iter()
                        .map(|(l, x)| (if keep_name { l } else { without_name(l) }, f(x)))
                        .collect(),
                ))
            }
            "clamp_min" | "clamp_max" => {
                arity(2)?;
                let v = self.vector(&args[0])?;
                let Value::Scalar(bound) = self.eval(&args[1])? else {
                    return Err(format!("expected a scalar bound in call to \"{name}\""));
                };
                Ok(Value::Vector(
                    v.into_iter()
                        .map(|(l, x)| {
                            (
                                without_name(l),
                                if name == "clamp_min" {
                                    x.max(bound)
                                } else {
                                    x.min(bound)
                                },
                            )
                        })
                        .collect(),
                ))
            }
            "rate" | "irate" | "increase" | "delta" | "idelta" | "deriv" | "changes" | "resets"
            | "avg_over_time" | "max_over_time" | "min_over_time" | "last_over_time"
            | "sum_over_time" | "count_over_time" => {
                arity(1)?;
                let Expr::Select(ms, Some(range)) = &args[0] else {
                    return Err(format!(
                        "expected type range vector in call to function \"{name}\""
                    ));
                };
                let now = self.series(ms, self.at);
                let before: BTreeMap<Labels, f64> = self
                    .series(ms, self.at.saturating_sub(*range))
                    .into_iter()
                    .collect();
                let secs = range.as_secs_f64().max(1.0);
                Ok(Value::Vector(
                    now.into_iter()
                        .map(|(l, x)| {
                            let old = before.get(&l).copied().unwrap_or(x);
                            let v = match name {
                                "rate" | "irate" | "deriv" => ((x - old) / secs)
                                    .max(if name == "deriv" { f64::MIN } else { 0.0 }),
                                "increase" => (x - old).max(0.0),
                                "delta" | "idelta" => x - old,
                                "changes" | "resets" => {
                                    f64::from(u8::from((x - old).abs() > f64::EPSILON))
                                }
                                "count_over_time" => secs / 15.0,
                                "sum_over_time" => x * secs / 15.0,
                                "avg_over_time" => f64::midpoint(x, old),
                                "max_over_time" => x.max(old),
                                "min_over_time" => x.min(old),
                                _ => x,
                            };
                            (without_name(l), v)
                        })
                        .collect(),
                ))
            }
            other => Err(format!("unknown function with name {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::prometheus::families::{Sample, Type};

    fn data(at: Duration) -> Vec<Family> {
        let sample = |ns: &str, pod: &str, v: f64| Sample {
            labels: vec![
                ("namespace".into(), ns.into()),
                ("pod".into(), pod.into()),
                ("job".into(), "app".into()),
            ],
            value: v,
        };
        vec![
            Family {
                name: "up".into(),
                help: String::new(),
                kind: Type::Gauge,
                samples: vec![
                    sample("backend", "b1", 1.0),
                    sample("backend", "b2", 0.0),
                    sample("worker", "w1", 1.0),
                    sample("web", "f1", 1.0),
                ],
            },
            Family {
                name: "evicted".into(),
                help: String::new(),
                kind: Type::Counter,
                samples: vec![Sample {
                    labels: vec![],
                    value: at.as_secs_f64() * 2.0,
                }],
            },
        ]
    }

    fn q(src: &str) -> Result<Value, String> {
        eval(src, Duration::from_secs(600), &data)
    }

    fn scalar_of(v: Value) -> Vec<f64> {
        match v {
            Value::Vector(v) => v.into_iter().map(|(_, x)| x).collect(),
            Value::Scalar(x) => vec![x],
        }
    }

    #[test]
    fn evaluates_the_queries_estates_use() {
        assert_eq!(
            scalar_of(q(r#"sum(up{namespace=~"backend|worker"})"#).expect("ok")),
            vec![2.0]
        );
        assert_eq!(
            scalar_of(q(r#"up{job="app", pod="b1"}"#).expect("ok")),
            vec![1.0]
        );
        assert_eq!(
            scalar_of(q("count by (namespace) (up)").expect("ok")),
            vec![2.0, 1.0, 1.0]
        );
        assert_eq!(scalar_of(q("up == 0").expect("ok")), vec![0.0]);
        assert_eq!(
            scalar_of(q("sum(up) / count(up) * 100").expect("ok")),
            vec![75.0]
        );
        assert_eq!(
            scalar_of(q("rate(evicted_total[5m])").expect("ok")),
            vec![2.0]
        );
        assert_eq!(scalar_of(q("absent(nothing)").expect("ok")), vec![1.0]);
        assert_eq!(scalar_of(q("1 + 2 * 3").expect("ok")), vec![7.0]);
        assert_eq!(scalar_of(q("topk(1, up)").expect("ok")).len(), 1);
        assert_eq!(
            scalar_of(q(r#"up{namespace!~"back.*"} and up"#).expect("ok")),
            vec![1.0, 1.0]
        );
    }

    #[test]
    fn bad_queries_get_messages_not_panics() {
        for bad in [
            "",
            "sum(",
            "up{",
            "up{a=}",
            "up{a=~\"(\"}",
            "1 > 2",
            "foo(up)",
            "up[5m]",
            "rate(up)",
            ")",
            "\"x",
            "sum by (a up)",
        ] {
            let e = q(bad).expect_err(bad);
            assert!(!e.is_empty());
        }
    }
}

//! Runbook parameters: reading `--param k=v` (and drill and console input) into typed values
//! checked against each parameter's type and bounds, filling in defaults, and putting values
//! into action arguments where a step says `${name}`. Pure.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{Param, ParamKind, Runbook};
use crate::estate::Service;

/// The parameters of one run, by name.
pub type Params = BTreeMap<String, Value>;

/// `k=v` pairs from the command line.
pub fn parse_assignments(raw: &[String]) -> Result<Vec<(String, String)>, String> {
    raw.iter()
        .map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| format!("--param \"{a}\" is not NAME=VALUE"))
        })
        .collect()
}

/// One value for `param`, checked.
pub fn parse_value(param: &Param, text: &str) -> Result<Value, String> {
    let text = text.trim();
    match &param.kind {
        ParamKind::Integer { min, max } => {
            let n: i64 = text
                .parse()
                .map_err(|_| format!("\"{text}\" is not a whole number"))?;
            if let Some(lo) = min
                && n < *lo
            {
                return Err(format!("{n} is below the minimum {lo}"));
            }
            if let Some(hi) = max
                && n > *hi
            {
                return Err(format!("{n} is above the maximum {hi}"));
            }
            Ok(Value::from(n))
        }
        ParamKind::Text { choices } => {
            if !choices.is_empty() && !choices.iter().any(|c| c == text) {
                return Err(format!("\"{text}\" is not one of {}", choices.join(", ")));
            }
            Ok(Value::from(text))
        }
        ParamKind::Bool => match text {
            "true" | "yes" | "on" => Ok(Value::Bool(true)),
            "false" | "no" | "off" => Ok(Value::Bool(false)),
            _ => Err(format!("\"{text}\" is not true or false")),
        },
        ParamKind::Duration { min, max } => {
            let d = humantime::parse_duration(text).map_err(|_| {
                format!("\"{text}\" is not a duration; write it with a unit, like \"10m\"")
            })?;
            if let Some(lo) = min
                && d < *lo
            {
                return Err(format!(
                    "\"{text}\" is shorter than {}",
                    humantime::format_duration(*lo)
                ));
            }
            if let Some(hi) = max
                && d > *hi
            {
                return Err(format!(
                    "\"{text}\" is longer than {}",
                    humantime::format_duration(*hi)
                ));
            }
            Ok(Value::from(text))
        }
        ParamKind::Time => {
            if text != "latest" {
                crate::action::cloud_sql_pitr_clone::point_in_time(text, chrono::Utc::now())
                    .map_err(|e| e.to_string())?;
            }
            Ok(Value::from(text))
        }
    }
}

/// Every parameter of the run: the values given, checked, and the defaults for the rest.
/// Names the runbook does not have, and required parameters left out, are errors.
pub fn resolve(runbook: &Runbook, given: &[(String, String)]) -> Result<Params, String> {
    let mut out = Params::new();
    let mut problems = Vec::new();
    for (name, text) in given {
        let Some(param) = runbook.params.iter().find(|p| &p.name == name) else {
            let names: Vec<&str> = runbook.params.iter().map(|p| p.name.as_str()).collect();
            problems.push(if names.is_empty() {
                format!(
                    "runbook {} takes no parameters, but '{name}' was given",
                    runbook.id
                )
            } else {
                format!(
                    "runbook {} has no parameter '{name}' (it takes: {})",
                    runbook.id,
                    names.join(", ")
                )
            });
            continue;
        };
        match parse_value(param, text) {
            Ok(v) => {
                out.insert(name.clone(), v);
            }
            Err(e) => problems.push(format!("parameter '{name}': {e}")),
        }
    }
    for p in &runbook.params {
        if out.contains_key(&p.name) {
            continue;
        }
        match &p.default {
            Some(d) => {
                out.insert(p.name.clone(), d.clone());
            }
            None => problems.push(format!(
                "parameter '{}' ({}) is required{}: give it with --param {}=…",
                p.name,
                p.kind.name(),
                p.help
                    .as_deref()
                    .map(|h| format!(" — {h}"))
                    .unwrap_or_default(),
                p.name
            )),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems.join("; "))
    }
}

/// The names a text refers to as `${name}`.
pub fn references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        out.push(after[..end].trim().to_string());
        rest = &after[end + 1..];
    }
    out
}

/// A step's `with` table with `${name}` replaced: a value that is exactly `${name}` takes the
/// parameter's own type; inside text it is written out. `${env:…}` is left for the action.
pub fn substitute(
    with: &Map<String, Value>,
    params: &Params,
    target: &Service,
    run_id: &str,
) -> BTreeMap<String, Value> {
    let lookup = |name: &str| -> Option<Value> {
        match name {
            "target.id" => Some(Value::from(target.id.as_str())),
            "target.name" => Some(Value::from(target.name.as_str())),
            "run.id" => Some(Value::from(run_id)),
            _ => params.get(name).cloned(),
        }
    };
    with.iter()
        .map(|(k, v)| (k.clone(), fill(v, &lookup)))
        .collect()
}

fn fill(v: &Value, lookup: &dyn Fn(&str) -> Option<Value>) -> Value {
    match v {
        Value::String(s) => {
            let refs = references(s);
            if refs.len() == 1
                && s.trim() == format!("${{{}}}", refs[0])
                && let Some(value) = lookup(&refs[0])
            {
                return value;
            }
            let mut out = s.clone();
            for name in refs.iter().filter(|n| !n.starts_with("env:")) {
                if let Some(value) = lookup(name) {
                    let text = match value {
                        Value::String(t) => t,
                        other => other.to_string(),
                    };
                    out = out.replace(&format!("${{{name}}}"), &text);
                }
            }
            Value::String(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| fill(i, lookup)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill(v, lookup)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn replicas() -> Param {
        Param {
            name: "replicas".into(),
            kind: ParamKind::Integer {
                min: Some(0),
                max: Some(100),
            },
            default: None,
            help: Some("pods to run".into()),
        }
    }

    #[test]
    fn integers_are_checked_against_their_bounds() {
        let p = replicas();
        assert_eq!(parse_value(&p, "7"), Ok(json!(7)));
        assert_eq!(
            parse_value(&p, "101"),
            Err("101 is above the maximum 100".into())
        );
        assert_eq!(
            parse_value(&p, "-1"),
            Err("-1 is below the minimum 0".into())
        );
        assert_eq!(
            parse_value(&p, "lots"),
            Err("\"lots\" is not a whole number".into())
        );
    }

    #[test]
    fn text_choices_bools_durations_and_times() {
        let choice = Param {
            name: "mode".into(),
            kind: ParamKind::Text {
                choices: vec!["LIMITED_DATA_LOSS".into(), "FORCE_DATA_LOSS".into()],
            },
            default: None,
            help: None,
        };
        assert!(parse_value(&choice, "FORCE_DATA_LOSS").is_ok());
        assert!(parse_value(&choice, "force").is_err());
        let flag = Param {
            kind: ParamKind::Bool,
            ..choice.clone()
        };
        assert_eq!(parse_value(&flag, "yes"), Ok(json!(true)));
        let d = Param {
            kind: ParamKind::Duration {
                min: None,
                max: Some(std::time::Duration::from_secs(3600)),
            },
            ..choice.clone()
        };
        assert!(parse_value(&d, "30m").is_ok());
        assert!(parse_value(&d, "2h").is_err());
        let t = Param {
            kind: ParamKind::Time,
            ..choice
        };
        assert!(parse_value(&t, "latest").is_ok());
        assert!(parse_value(&t, "15m ago").is_ok());
        assert!(parse_value(&t, "last tuesday").is_err());
    }

    #[test]
    fn assignments_and_references() {
        assert_eq!(
            parse_assignments(&["replicas=3".into()]),
            Ok(vec![("replicas".into(), "3".into())])
        );
        assert!(parse_assignments(&["replicas".into()]).is_err());
        assert_eq!(
            references("a ${x} b ${env:T} c"),
            vec!["x".to_string(), "env:T".to_string()]
        );
    }

    #[test]
    fn substitution_keeps_types_and_leaves_env_alone() {
        let estate = crate::estate::from_str(crate::estate::DEMO_ESTATE, "demo")
            .expect("demo")
            .0;
        let target = estate.service("sql").expect("sql");
        let mut params = Params::new();
        params.insert("replicas".into(), json!(4));
        let mut with = Map::new();
        with.insert("replicas".into(), json!("${replicas}"));
        with.insert(
            "note".into(),
            json!("scale ${target.id} to ${replicas} (${env:TOKEN})"),
        );
        let args = substitute(&with, &params, target, "run-1");
        assert_eq!(args["replicas"], json!(4));
        assert_eq!(args["note"], json!("scale sql to 4 (${env:TOKEN})"));
    }
}

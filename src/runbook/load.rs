//! Reads a runbook file into a validated [`Runbook`], reporting every problem in one run with
//! file, line, column, key and the bad value in quotes, the way the estate loader does:
//! unknown keys and actions (with the closest known one), steps that are none or two of
//! check/action/wait/manual, conditions that do not parse, action arguments the action does
//! not take, and `${name}` that names no parameter.

use std::path::Path;

use serde_json::Value;
use toml::Spanned;

use super::{DrillSpec, OnFailure, Param, ParamKind, Runbook, Step, StepKind};
use crate::action::{self, ArgKind};
use crate::condition::Condition;
use crate::estate::node::{self, Node, Table};
use crate::estate::reader::{Ctx, Fields, closest};
use crate::estate::{Diagnostic, Kind, Level};

mod step;

use step::read_step;

const TOP_KEYS: &[&str] = &[
    "title",
    "summary",
    "applies_to",
    "destructive",
    "param",
    "step",
    "on_failure",
    "drill",
];
const STEP_VERBS: &[&str] = &["check", "action", "wait", "manual"];
const PARAM_TYPES: &[&str] = &["integer", "text", "bool", "duration", "time"];
/// Names a `${…}` may use besides the parameters.
const BUILTIN_VARS: &[&str] = &["target.id", "target.name", "run.id"];

/// Reads every `*.toml` in `dir` (the file stem is the id).
pub fn load_dir(dir: &Path) -> (Vec<Runbook>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (out, diags);
    };
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    for path in paths {
        let file = path.display().to_string();
        let id = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        match std::fs::read_to_string(&path) {
            Ok(text) => match from_str(&text, &file, &id) {
                Ok(r) => out.push(r),
                Err(mut d) => diags.append(&mut d),
            },
            Err(e) => diags.push(Diagnostic {
                level: Level::Error,
                file,
                line: 0,
                col: 0,
                message: format!("cannot read the runbook: {e}"),
            }),
        }
    }
    (out, diags)
}

/// Validates runbook text; `id` is its file stem.
pub fn from_str(source: &str, file: &str, id: &str) -> Result<Runbook, Vec<Diagnostic>> {
    let mut ctx = Ctx {
        file,
        source,
        diags: Vec::new(),
    };
    if !is_kebab(id) {
        ctx.push(
            Level::Error,
            None,
            format!("the runbook id (its file name) is \"{id}\"; write it in kebab-case, like \"cloud-sql-failover\""),
        );
    }
    let table = match node::parse(source) {
        Ok(t) => t,
        Err((message, span)) => {
            let first = message.lines().next().unwrap_or(&message).to_string();
            ctx.push(Level::Error, span, format!("not valid TOML: {first}"));
            return Err(ctx.diags);
        }
    };
    let runbook = read(&mut ctx, &table, file, id);
    ctx.diags.sort_by_key(|d| (d.line, d.col));
    match runbook {
        Some(r) if !ctx.has_errors() => Ok(r),
        _ => Err(ctx.diags),
    }
}

fn is_kebab(id: &str) -> bool {
    !id.is_empty()
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && !id.contains("--")
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn read(ctx: &mut Ctx, table: &Table, file: &str, id: &str) -> Option<Runbook> {
    let mut top = Fields::new(table, "the runbook".to_string(), 0..0);
    let title = top.required_string(ctx, "title").map(Spanned::into_inner);
    let summary = top.string(ctx, "summary").map(Spanned::into_inner);
    let (kinds, applies_when) = match top.get("applies_to") {
        Some(v) => read_applies_to(ctx, v),
        None => {
            top.missing(
                ctx,
                "applies_to",
                " (say which kind of service it is for: applies_to = { kind = \"cloud_sql\" })",
            );
            (Vec::new(), None)
        }
    };
    let declared_destructive = top.bool(ctx, "destructive");
    let params = tables(ctx, &mut top, "param", read_param);
    let names: Vec<String> = params.iter().map(|p| p.name.clone()).collect();
    let steps = tables(ctx, &mut top, "step", |ctx, t, span| {
        read_step(ctx, t, span, &names, &kinds)
    });
    let on_failure = tables(ctx, &mut top, "on_failure", |ctx, t, span| {
        read_step(ctx, t, span, &names, &kinds)
    });
    let drill = top.get("drill").and_then(|v| read_drill(ctx, v, &names));
    if !top.has("step") {
        top.missing(ctx, "step", " (a runbook needs at least one [[step]])");
    }
    top.finish(ctx, TOP_KEYS, &|key| {
        matches!(key, "steps" | "params")
            .then(|| format!(" (write [[{}]] for each one)", key.trim_end_matches('s')))
    });
    let any_destructive = steps
        .iter()
        .chain(&on_failure)
        .filter_map(Step::action)
        .any(|a| a.destructive);
    if declared_destructive == Some(false) && any_destructive {
        let span = table
            .iter()
            .find(|(k, _)| k.get_ref() == "destructive")
            .map_or(0..0, |(_, v)| v.span());
        ctx.error(
            span,
            "the runbook: 'destructive = false', but it runs a destructive action; remove the key or set it to true".to_string(),
        );
    }
    Some(Runbook {
        id: id.to_string(),
        title: title?,
        summary,
        kinds,
        applies_when,
        destructive: declared_destructive.unwrap_or(false) || any_destructive,
        params,
        steps,
        on_failure,
        drill,
        source: file.to_string(),
    })
}

fn tables<T>(
    ctx: &mut Ctx,
    top: &mut Fields,
    key: &str,
    mut read: impl FnMut(&mut Ctx, &Table, std::ops::Range<usize>) -> Option<T>,
) -> Vec<T> {
    let Some(v) = top.get(key) else {
        return Vec::new();
    };
    let Node::Array(items) = v.get_ref() else {
        ctx.error(
            v.span(),
            format!("the runbook: '{key}' must be written as [[{key}]] tables"),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        match item.get_ref() {
            Node::Table(t) => out.extend(read(ctx, t, item.span())),
            other => ctx.error(
                item.span(),
                format!(
                    "the runbook: each '{key}' must be a table, found {}",
                    other.type_name()
                ),
            ),
        }
    }
    out
}

fn read_applies_to(ctx: &mut Ctx, v: &Spanned<Node>) -> (Vec<Kind>, Option<Condition>) {
    let Node::Table(t) = v.get_ref() else {
        ctx.error(
            v.span(),
            "the runbook: 'applies_to' must be a table, like { kind = \"cloud_sql\" }".to_string(),
        );
        return (Vec::new(), None);
    };
    let mut f = Fields::new(t, "applies_to".to_string(), v.span());
    let mut kinds = Vec::new();
    match f.get("kind") {
        None => f.missing(ctx, "kind", ""),
        Some(k) => {
            let items: Vec<&Spanned<Node>> = match k.get_ref() {
                Node::Array(items) => items.iter().collect(),
                _ => vec![k],
            };
            for item in items {
                match item.get_ref() {
                    Node::Str(s) => match Kind::parse(s) {
                        Some(kind) => kinds.push(kind),
                        None => {
                            let hint = closest(s, Kind::ALL.iter().map(|k| k.as_str()))
                                .map(|c| format!("; did you mean \"{c}\"?"))
                                .unwrap_or_default();
                            ctx.error(
                                item.span(),
                                format!("applies_to: key 'kind' is \"{s}\", which is not a kind of service{hint}"),
                            );
                        }
                    },
                    other => ctx.error(
                        item.span(),
                        format!("applies_to: key 'kind' must be a kind name or a list of them, found {}", other.type_name()),
                    ),
                }
            }
        }
    }
    let when = f
        .string(ctx, "when")
        .and_then(|c| condition(ctx, "applies_to", "when", &c));
    f.finish(ctx, &["kind", "when"], &|_| None);
    (kinds, when)
}

fn condition(ctx: &mut Ctx, what: &str, key: &str, text: &Spanned<String>) -> Option<Condition> {
    match Condition::parse(text.get_ref()) {
        Ok(c) => Some(c),
        Err(e) => {
            ctx.error(
                text.span(),
                format!(
                    "{what}: key '{key}' is \"{}\", which is not a condition: {e}",
                    text.get_ref()
                ),
            );
            None
        }
    }
}

fn read_param(ctx: &mut Ctx, t: &Table, span: std::ops::Range<usize>) -> Option<Param> {
    let mut f = Fields::new(t, "[[param]]".to_string(), span);
    let name = f.required_string(ctx, "name");
    if let Some(n) = &name {
        f.what = format!("param \"{}\"", n.get_ref());
        let ok = n.get_ref().starts_with(|c: char| c.is_ascii_lowercase())
            && n.get_ref()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            ctx.error(
                n.span(),
                format!(
                    "[[param]]: name \"{}\" must be lower case letters, digits and '_'",
                    n.get_ref()
                ),
            );
        }
    }
    let kind_raw = f.required_string(ctx, "type");
    let help = f.string(ctx, "help").map(Spanned::into_inner);
    let kind = match kind_raw.as_ref().map(|k| k.get_ref().as_str()) {
        Some("integer") => ParamKind::Integer {
            min: f.int(ctx, "min").map(Spanned::into_inner),
            max: f.int(ctx, "max").map(Spanned::into_inner),
        },
        Some("text") => ParamKind::Text {
            choices: f.strings(ctx, "choices").unwrap_or_default(),
        },
        Some("bool") => ParamKind::Bool,
        Some("duration") => ParamKind::Duration {
            min: f.duration(ctx, "min"),
            max: f.duration(ctx, "max"),
        },
        Some("time") => ParamKind::Time,
        Some(other) => {
            let hint = closest(other, PARAM_TYPES.iter().copied())
                .map(|c| format!("; did you mean \"{c}\"?"))
                .unwrap_or_default();
            let span = kind_raw.as_ref().map_or(0..0, Spanned::span);
            ctx.error(
                span,
                format!("{}: key 'type' is \"{other}\"; use integer, text, bool, duration or time{hint}", f.what),
            );
            return None;
        }
        None => return None,
    };
    let known: &[&str] = match kind {
        ParamKind::Integer { .. } | ParamKind::Duration { .. } => {
            &["name", "type", "help", "default", "min", "max"]
        }
        ParamKind::Text { .. } => &["name", "type", "help", "default", "choices"],
        ParamKind::Bool | ParamKind::Time => &["name", "type", "help", "default"],
    };
    let default_node = f.get("default");
    f.finish(ctx, known, &|_| None);
    let name = name?.into_inner();
    let mut param = Param {
        name,
        kind,
        default: None,
        help,
    };
    if let Some(d) = default_node {
        let text = match d.get_ref() {
            Node::Str(s) => s.clone(),
            other => other.shown(),
        };
        match super::params::parse_value(&param, &text) {
            Ok(v) => param.default = Some(v),
            Err(e) => ctx.error(
                d.span(),
                format!("param \"{}\": key 'default': {e}", param.name),
            ),
        }
    }
    Some(param)
}

fn read_drill(ctx: &mut Ctx, v: &Spanned<Node>, params: &[String]) -> Option<DrillSpec> {
    let Node::Table(t) = v.get_ref() else {
        ctx.error(v.span(), "the runbook: [drill] must be a table".to_string());
        return None;
    };
    let mut f = Fields::new(t, "[drill]".to_string(), v.span());
    let scenario = f.required_string(ctx, "scenario").map(Spanned::into_inner);
    let estate = f.string(ctx, "estate").map(Spanned::into_inner);
    let target = f.string(ctx, "target").map(Spanned::into_inner);
    let mut given = Vec::new();
    if let Some(p) = f.get("params") {
        match p.get_ref() {
            Node::Table(t) => {
                for (k, v) in t {
                    if !params.contains(k.get_ref()) {
                        ctx.error(k.span(), format!("[drill]: params names '{}', which is not a parameter of the runbook", k.get_ref()));
                    }
                    let text = match v.get_ref() {
                        Node::Str(s) => s.clone(),
                        other => other.shown(),
                    };
                    given.push((k.get_ref().clone(), text));
                }
            }
            other => ctx.error(
                p.span(),
                format!(
                    "[drill]: key 'params' must be a table, found {}",
                    other.type_name()
                ),
            ),
        }
    }
    f.finish(ctx, &["scenario", "estate", "target", "params"], &|_| None);
    Some(DrillSpec {
        scenario: scenario?,
        estate,
        target,
        params: given,
    })
}

/// A TOML value as JSON.
fn to_json(n: &Node) -> Value {
    match n {
        Node::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.get_ref().clone(), to_json(v.get_ref())))
                .collect(),
        ),
        Node::Array(items) => Value::Array(items.iter().map(|i| to_json(i.get_ref())).collect()),
        Node::Str(s) | Node::Datetime(s) => Value::String(s.clone()),
        Node::Int(i) => Value::from(*i),
        Node::Float(x) => Value::from(*x),
        Node::Bool(b) => Value::Bool(*b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(src: &str) -> Vec<String> {
        match from_str(src, "r.toml", "r") {
            Ok(_) => Vec::new(),
            Err(d) => d.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_small_runbook_loads() {
        let r = from_str(
            r#"
title = "Scale"
applies_to = { kind = "k8s_workload" }
[[param]]
name = "replicas"
type = "integer"
min = 0
max = 100
default = 3
[[step]]
action = "k8s.scale"
with = { replicas = "${replicas}" }
[[step]]
wait = 'target.status == "up"'
timeout = "5m"
"#,
            "r.toml",
            "k8s-scale",
        )
        .expect("loads");
        assert_eq!(r.steps.len(), 2);
        assert!(!r.destructive);
        assert_eq!(r.params[0].default, Some(Value::from(3)));
    }

    #[test]
    fn reports_every_problem_with_its_place() {
        let errs = errors(
            r#"
title = "x"
applies_to = { kind = "cloudsql" }
destructive = false
[[param]]
name = "replicas"
type = "integr"
[[step]]
action = "cloud_sql.failovr"
[[step]]
check = 'target.status =='
[[step]]
wait = 'target.status == "up"'
[[step]]
manual = "look"
check = "x"
[[step]]
action = "k8s.scale"
with = { replica = 3 }
[[step]]
action = "http.request"
with = { url = "https://x/${nope}" }
"#,
        );
        let want = [
            "r.toml:3:23: error: applies_to: key 'kind' is \"cloudsql\", which is not a kind of service; did you mean \"cloud_sql\"?",
            "r.toml:7:8: error: param \"replicas\": key 'type' is \"integr\"; use integer, text, bool, duration or time; did you mean \"integer\"?",
            "r.toml:9:10: error: step at line 8: key 'action' is \"cloud_sql.failovr\", which is not an action; did you mean \"cloud_sql.failover\"?",
            "r.toml:11:9: error: step at line 10: key 'check' is \"target.status ==\", which is not a condition",
            "r.toml:12:1: error: step at line 12 is missing key 'timeout'",
            "r.toml:14:1: error: step at line 14: a step is exactly one of 'check', 'action', 'wait' or 'manual'; found 'check' and 'manual'",
            "r.toml:19:10: error: step at line 17: k8s.scale takes no argument 'replica'; did you mean 'replicas'?",
            "r.toml:17:1: error: step at line 17 is missing key 'with.replicas'",
            "r.toml:22:16: error: step at line 20: \"${nope}\" names no parameter of the runbook",
        ];
        for w in want {
            assert!(
                errs.iter().any(|e| e.starts_with(w)),
                "missing: {w}\n got: {errs:#?}"
            );
        }
        assert!(
            errors("title = \"x\"\napplies_to = { kind = \"redis\" }\n")
                .iter()
                .any(|e| e.contains("missing key 'step'"))
        );
    }

    #[test]
    fn destructive_false_with_a_destructive_action_is_refused() {
        let errs = errors(
            "title = \"x\"\napplies_to = { kind = \"cloud_sql\" }\ndestructive = false\n[[step]]\naction = \"cloud_sql.failover\"\n",
        );
        assert!(
            errs.iter()
                .any(|e| e.contains("it runs a destructive action")),
            "{errs:?}"
        );
        assert!(
            from_str(
                "title = \"x\"\napplies_to = { kind = \"redis\" }\n[[step]]\nmanual = \"m\"\n",
                "r.toml",
                "Bad_Id"
            )
            .is_err()
        );
    }
}

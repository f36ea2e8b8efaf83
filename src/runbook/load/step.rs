//! Reading one `[[step]]` of a runbook: its verb, an action's arguments checked against the
//! action's own list, and every `${…}` reference checked against the runbook's parameters.

use super::{
    ArgKind, BUILTIN_VARS, Ctx, Fields, Kind, Node, OnFailure, STEP_VERBS, Spanned, Step, StepKind,
    Table, Value, action, closest, condition, node, to_json,
};

pub(super) fn read_step(
    ctx: &mut Ctx,
    t: &Table,
    span: std::ops::Range<usize>,
    params: &[String],
    kinds: &[Kind],
) -> Option<Step> {
    let (line, _) = node::line_col(ctx.source, span.start);
    let mut f = Fields::new(t, format!("step at line {line}"), span.clone());
    let verbs: Vec<&str> = STEP_VERBS.iter().copied().filter(|v| f.has(v)).collect();
    if verbs.len() != 1 {
        let found = if verbs.is_empty() {
            "none".to_string()
        } else {
            verbs
                .iter()
                .map(|v| format!("'{v}'"))
                .collect::<Vec<_>>()
                .join(" and ")
        };
        ctx.error(
            span,
            format!(
                "{}: a step is exactly one of 'check', 'action', 'wait' or 'manual'; found {found}",
                f.what
            ),
        );
        return None;
    }
    let name = f.string(ctx, "name").map(Spanned::into_inner);
    let when = f
        .string(ctx, "when")
        .and_then(|c| condition(ctx, &f.what, "when", &c));
    let on_failure = match f.string(ctx, "on_failure") {
        None => OnFailure::Stop,
        Some(s) if s.get_ref() == "stop" => OnFailure::Stop,
        Some(s) if s.get_ref() == "continue" => OnFailure::Continue,
        Some(s) => {
            ctx.error(
                s.span(),
                format!(
                    "{}: key 'on_failure' is \"{}\"; use \"stop\" or \"continue\"",
                    f.what,
                    s.get_ref()
                ),
            );
            OnFailure::Stop
        }
    };
    let common = ["name", "when", "on_failure"];
    let (kind, own): (Option<StepKind>, &[&str]) = match verbs[0] {
        "check" => {
            let condition = f
                .string(ctx, "check")
                .and_then(|c| condition(ctx, &f.what, "check", &c));
            let explain = f.string(ctx, "explain").map(Spanned::into_inner);
            (
                condition.map(|condition| StepKind::Check { condition, explain }),
                &["check", "explain"],
            )
        }
        "wait" => {
            let condition = f
                .string(ctx, "wait")
                .and_then(|c| condition(ctx, &f.what, "wait", &c));
            let timeout = f.duration(ctx, "timeout");
            if !f.has("timeout") {
                f.missing(
                    ctx,
                    "timeout",
                    " (how long to wait before the step fails, like \"10m\")",
                );
            }
            let every = f.duration(ctx, "every");
            let explain = f.string(ctx, "explain").map(Spanned::into_inner);
            let kind = match (condition, timeout) {
                (Some(condition), Some(timeout)) => Some(StepKind::Wait {
                    condition,
                    timeout,
                    every,
                    explain,
                }),
                _ => None,
            };
            (kind, &["wait", "timeout", "every", "explain"])
        }
        "manual" => {
            let text = f.string(ctx, "manual").map(Spanned::into_inner);
            (text.map(|text| StepKind::Manual { text }), &["manual"])
        }
        _ => (read_action(ctx, &mut f, params, kinds), &["action", "with"]),
    };
    let mut known: Vec<&str> = common.to_vec();
    known.extend_from_slice(own);
    let what = f.what.clone();
    f.finish(ctx, &known, &|key| {
        STEP_VERBS
            .contains(&key)
            .then(|| format!(" ({what} is already a '{}' step)", verbs[0]))
    });
    Some(Step {
        name,
        kind: kind?,
        when,
        on_failure,
    })
}

fn read_action(
    ctx: &mut Ctx,
    f: &mut Fields,
    params: &[String],
    kinds: &[Kind],
) -> Option<StepKind> {
    let name = f.string(ctx, "action")?;
    let Some(entry) = action::find(name.get_ref()) else {
        let hint = closest(name.get_ref(), action::registry().iter().map(|e| e.name))
            .map(|c| format!("; did you mean \"{c}\"?"))
            .unwrap_or_default();
        ctx.error(
            name.span(),
            format!(
                "{}: key 'action' is \"{}\", which is not an action{hint}",
                f.what,
                name.get_ref()
            ),
        );
        return None;
    };
    for kind in kinds.iter().filter(|k| !entry.kinds.contains(k)) {
        ctx.error(
            name.span(),
            format!(
                "{}: action \"{}\" does not act on {} services, and the runbook applies to them",
                f.what, entry.name, kind
            ),
        );
    }
    let mut with = serde_json::Map::new();
    if let Some(w) = f.get("with") {
        match w.get_ref() {
            Node::Table(t) => {
                for (k, v) in t {
                    let key = k.get_ref();
                    let Some(spec) = entry.args.iter().find(|a| a.name == key) else {
                        let hint = closest(key, entry.args.iter().map(|a| a.name)).map_or_else(
                            || {
                                let names: Vec<&str> = entry.args.iter().map(|a| a.name).collect();
                                if names.is_empty() {
                                    " (it takes no arguments)".to_string()
                                } else {
                                    format!(" (it takes: {})", names.join(", "))
                                }
                            },
                            |c| format!("; did you mean '{c}'?"),
                        );
                        ctx.error(
                            k.span(),
                            format!("{}: {} takes no argument '{key}'{hint}", f.what, entry.name),
                        );
                        continue;
                    };
                    let value = to_json(v.get_ref());
                    check_arg(ctx, &f.what, spec.kind, key, v, &value);
                    check_refs(ctx, &f.what, v.span(), &value, params);
                    with.insert(key.clone(), value);
                }
            }
            other => ctx.error(
                w.span(),
                format!(
                    "{}: key 'with' must be a table of arguments, found {}",
                    f.what,
                    other.type_name()
                ),
            ),
        }
    }
    for spec in entry
        .args
        .iter()
        .filter(|a| a.required && !with.contains_key(a.name))
    {
        f.missing(
            ctx,
            &format!("with.{}", spec.name),
            &format!(" ({} needs it: {})", entry.name, spec.help),
        );
    }
    Some(StepKind::Action {
        action: entry,
        with,
    })
}

fn check_arg(
    ctx: &mut Ctx,
    what: &str,
    kind: ArgKind,
    key: &str,
    v: &Spanned<Node>,
    value: &Value,
) {
    let templated = value.as_str().is_some_and(|s| s.contains("${"));
    let ok = match kind {
        ArgKind::Integer => value.is_i64() || templated,
        ArgKind::Text => value.is_string(),
        ArgKind::Bool => value.is_boolean() || templated,
        ArgKind::Table => value.is_object(),
        ArgKind::Json => true,
    };
    if !ok {
        let want = match kind {
            ArgKind::Integer => "an integer (or \"${param}\")",
            ArgKind::Text => "text",
            ArgKind::Bool => "true or false",
            ArgKind::Table => "a table",
            ArgKind::Json => "a value",
        };
        ctx.error(
            v.span(),
            format!(
                "{what}: argument '{key}' must be {want}, found {} {}",
                v.get_ref().type_name(),
                v.get_ref().shown()
            ),
        );
    }
}

/// Every `${name}` in the value must name a parameter (or a built-in like `target.id`);
/// `${env:NAME}` is left to the action.
pub(super) fn check_refs(
    ctx: &mut Ctx,
    what: &str,
    span: std::ops::Range<usize>,
    value: &Value,
    params: &[String],
) {
    let mut bad = Vec::new();
    walk_strings(value, &mut |s| {
        for name in crate::runbook::params::references(s) {
            if !name.starts_with("env:")
                && !params.contains(&name)
                && !BUILTIN_VARS.contains(&name.as_str())
            {
                bad.push(name);
            }
        }
    });
    for name in bad {
        let hint = closest(&name, params.iter().map(String::as_str))
            .map(|c| format!("; did you mean '{c}'?"))
            .unwrap_or_default();
        ctx.error(
            span.clone(),
            format!("{what}: \"${{{name}}}\" names no parameter of the runbook{hint}"),
        );
    }
}

pub(super) fn walk_strings(v: &Value, f: &mut dyn FnMut(&str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|i| walk_strings(i, f)),
        Value::Object(map) => map.values().for_each(|i| walk_strings(i, f)),
        _ => {}
    }
}

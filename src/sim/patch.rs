//! Dotted JSON paths (`terminalCondition.state`, `conditions[1].state`) and `${…}` templates:
//! how a scenario event reads and changes a simulated resource's JSON. Pure.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

/// Values `${…}` may name besides the resource's own fields.
pub(crate) struct Vars<'a> {
    pub id: &'a str,
    pub project: &'a str,
    pub location: &'a str,
    pub service: &'a str,
    pub now: DateTime<Utc>,
}

/// `value` with every `${name}` in its text replaced (see the scenario format).
pub(crate) fn expand(value: &Value, before: &Value, vars: &Vars) -> Value {
    match value {
        Value::String(s) => Value::String(expand_text(s, before, vars)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| expand(v, before, vars)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), expand(v, before, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn expand_text(text: &str, before: &Value, vars: &Vars) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = &after[..end];
        let replacement = match name {
            "id" => Some(vars.id.to_string()),
            "project" => Some(vars.project.to_string()),
            "location" => Some(vars.location.to_string()),
            "service" => Some(vars.service.to_string()),
            "now" => Some(vars.now.to_rfc3339_opts(SecondsFormat::Micros, true)),
            field => get_path(before, field).and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
                _ => None,
            }),
        };
        match replacement {
            Some(r) => out.push_str(&r),
            None => out.push_str(&rest[start..=start + 2 + end]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[derive(Debug, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// `a.b[1].c` → `a`, `b`, 1, `c`. A bare number is a key that also indexes arrays.
fn segments(path: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut part = part;
        let name_end = part.find('[').unwrap_or(part.len());
        if name_end > 0 {
            out.push(Seg::Key(part[..name_end].to_string()));
        }
        part = &part[name_end..];
        while let Some(stripped) = part.strip_prefix('[') {
            let Some(close) = stripped.find(']') else {
                break;
            };
            match stripped[..close].parse() {
                Ok(i) => out.push(Seg::Index(i)),
                Err(_) => out.push(Seg::Key(stripped[..close].to_string())),
            }
            part = &stripped[close + 1..];
        }
    }
    out
}

fn get_path<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
    segments(path)
        .iter()
        .try_fold(root, |node, seg| match (seg, node) {
            (Seg::Key(k), Value::Object(map)) => map.get(k),
            (Seg::Key(k), Value::Array(items)) => {
                k.parse::<usize>().ok().and_then(|i| items.get(i))
            }
            (Seg::Index(i), Value::Array(items)) => items.get(*i),
            _ => None,
        })
}

/// Sets `path` inside `root`, creating objects on the way. An index past the end of an array
/// appends when it is the next one and is ignored otherwise.
pub(crate) fn set_path(root: &mut Value, path: &str, value: Value) {
    let segs = segments(path);
    let mut node = root;
    for seg in &segs {
        let array_index = match (seg, &*node) {
            (Seg::Index(i), Value::Array(_)) => Some(*i),
            (Seg::Key(k), Value::Array(_)) => k.parse::<usize>().ok(),
            _ => None,
        };
        node = if let Some(i) = array_index {
            let Value::Array(items) = node else { return };
            if i == items.len() {
                items.push(Value::Null);
            }
            let Some(item) = items.get_mut(i) else {
                tracing::debug!(path, "index past the end of the array; not set");
                return;
            };
            item
        } else {
            let Seg::Key(key) = seg else {
                tracing::debug!(path, "index into something that is not an array; not set");
                return;
            };
            if !node.is_object() {
                *node = Value::Object(serde_json::Map::new());
            }
            let Value::Object(map) = node else { return };
            map.entry(key.clone()).or_insert(Value::Null)
        };
    }
    *node = value;
}

/// Sets `key` in the object `v`; anything else (a scenario may have set the field to a plain
/// value) becomes an object first, so writing never fails.
pub(crate) fn set_key(v: &mut Value, key: &str, value: Value) {
    if let Value::Object(map) = v {
        map.insert(key.to_string(), value);
    } else {
        let mut map = serde_json::Map::new();
        map.insert(key.to_string(), value);
        *v = Value::Object(map);
    }
}

/// Removes `path` from `root`: the key from its object, or the item from its array. Nothing
/// happens when the path leads nowhere.
pub(crate) fn remove_path(root: &mut Value, path: &str) {
    let mut segs = segments(path);
    let Some(last) = segs.pop() else {
        return;
    };
    let mut node = root;
    for seg in &segs {
        let next = match (seg, node) {
            (Seg::Key(k), Value::Object(map)) => map.get_mut(k),
            (Seg::Key(k), Value::Array(items)) => {
                k.parse::<usize>().ok().and_then(|i| items.get_mut(i))
            }
            (Seg::Index(i), Value::Array(items)) => items.get_mut(*i),
            _ => None,
        };
        let Some(next) = next else {
            return;
        };
        node = next;
    }
    match (last, node) {
        (Seg::Key(k), Value::Object(map)) => {
            map.remove(&k);
        }
        (Seg::Index(i), Value::Array(items)) if i < items.len() => {
            items.remove(i);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dotted_paths_set_and_create() {
        let mut v = json!({"a": {"b": 1}, "list": [{"s": "x"}, {"s": "y"}]});
        set_path(&mut v, "a.b", json!(2));
        set_path(&mut v, "a.c.d", json!("new"));
        set_path(&mut v, "list[1].s", json!("z"));
        set_path(&mut v, "list.0.s", json!("w"));
        set_path(&mut v, "list[9].s", json!("ignored"));
        assert_eq!(
            v,
            json!({"a": {"b": 2, "c": {"d": "new"}}, "list": [{"s": "w"}, {"s": "z"}]})
        );
        assert_eq!(get_path(&v, "list[1].s"), Some(&json!("z")));
        remove_path(&mut v, "a.c");
        remove_path(&mut v, "list[0]");
        remove_path(&mut v, "nothing.here");
        assert_eq!(v, json!({"a": {"b": 2}, "list": [{"s": "z"}]}));
    }

    #[test]
    fn templates_read_the_resource_before_the_event() {
        let before = json!({"name": "projects/p/x", "gen": "7", "zone": "b"});
        let vars = Vars {
            id: "x",
            project: "p",
            location: "l",
            service: "svc",
            now: Utc::now(),
        };
        assert_eq!(
            expand_text(
                "${name}/revisions/${id}-${gen} ${missing} ${service} ${",
                &before,
                &vars
            ),
            "projects/p/x/revisions/x-7 ${missing} svc ${"
        );
    }
}

//! The three PATCH bodies the API server accepts: JSON merge patch (RFC 7386), strategic merge
//! patch (a merge patch whose lists of named items merge by name, as containers do) and JSON
//! patch (RFC 6902). Pure.

use serde_json::{Map, Value};

/// Which patch a Content-Type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchType {
    Merge,
    Strategic,
    Json,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<PatchType> {
        let base = ct.split(';').next().unwrap_or_default().trim();
        match base {
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/json-patch+json" => Some(PatchType::Json),
            _ => None,
        }
    }
}

/// `target` with `patch` applied; the error says why the patch cannot apply.
pub(crate) fn apply(kind: PatchType, mut target: Value, patch: &Value) -> Result<Value, String> {
    match kind {
        PatchType::Merge => {
            merge(&mut target, patch, false);
            Ok(target)
        }
        PatchType::Strategic => {
            merge(&mut target, patch, true);
            Ok(target)
        }
        PatchType::Json => {
            let ops = patch
                .as_array()
                .ok_or("a JSON patch must be a list of operations")?;
            for op in ops {
                json_op(&mut target, op)?;
            }
            Ok(target)
        }
    }
}

fn merge(target: &mut Value, patch: &Value, strategic: bool) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(map) = target else { return };
    for (key, value) in patch {
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            map.remove(key);
            continue;
        }
        let slot = map.entry(key.clone()).or_insert(Value::Null);
        match (strategic, slot, value) {
            (true, Value::Array(items), Value::Array(new)) if named(items) && named(new) => {
                for item in new {
                    match items.iter_mut().find(|i| i["name"] == item["name"]) {
                        Some(existing) => merge(existing, item, true),
                        None => items.push(item.clone()),
                    }
                }
            }
            (_, slot, value) if value.is_object() => merge(slot, value, strategic),
            (_, slot, value) => *slot = value.clone(),
        }
    }
}

fn named(items: &[Value]) -> bool {
    !items.is_empty() && items.iter().all(|i| i["name"].is_string())
}

fn json_op(target: &mut Value, op: &Value) -> Result<(), String> {
    let path = op["path"]
        .as_str()
        .ok_or("a JSON patch operation has no path")?;
    let (parent, last) = match path.rsplit_once('/') {
        Some((parent, last)) => (parent, last.replace("~1", "/").replace("~0", "~")),
        None => return Err(format!("the path {path:?} does not start with /")),
    };
    let value = op.get("value").cloned();
    let kind = op["op"].as_str().unwrap_or_default();
    if kind == "test" {
        return if target.pointer(path) == value.as_ref() {
            Ok(())
        } else {
            Err(format!("the test of {path:?} failed"))
        };
    }
    let node = target
        .pointer_mut(parent)
        .ok_or_else(|| format!("the path {parent:?} does not exist"))?;
    match (kind, node) {
        ("add" | "replace", Value::Object(map)) => {
            map.insert(last, value.ok_or("the operation has no value")?);
        }
        ("remove", Value::Object(map)) => {
            map.remove(&last)
                .ok_or_else(|| format!("the path {path:?} does not exist"))?;
        }
        ("add", Value::Array(items)) => {
            let v = value.ok_or("the operation has no value")?;
            if last == "-" {
                items.push(v);
            } else {
                let i: usize = last
                    .parse()
                    .map_err(|_| format!("{last:?} is not an index"))?;
                if i > items.len() {
                    return Err(format!("index {i} is past the end"));
                }
                items.insert(i, v);
            }
        }
        ("replace" | "remove", Value::Array(items)) => {
            let i: usize = last
                .parse()
                .map_err(|_| format!("{last:?} is not an index"))?;
            if i >= items.len() {
                return Err(format!("index {i} is past the end"));
            }
            if kind == "replace" {
                items[i] = value.ok_or("the operation has no value")?;
            } else {
                items.remove(i);
            }
        }
        (other, _) => return Err(format!("the operation {other:?} cannot apply at {path:?}")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patches_apply_like_the_api_server() {
        let d = json!({"spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "w"}},
            "spec": {"containers": [{"name": "w", "image": "a:1", "ports": [{"containerPort": 80}]}]}}}});
        let restart = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "t"}}}}});
        let out = apply(PatchType::Strategic, d.clone(), &restart).expect("applies");
        assert_eq!(
            out["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
            "t"
        );
        assert_eq!(out["spec"]["template"]["metadata"]["labels"]["app"], "w");

        let image = json!({"spec": {"template": {"spec": {"containers": [{"name": "w", "image": "a:2"}]}}}});
        let out = apply(PatchType::Strategic, d.clone(), &image).expect("applies");
        let c = &out["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            (c["image"].as_str(), c["ports"][0]["containerPort"].as_u64()),
            (Some("a:2"), Some(80))
        );
        let out = apply(PatchType::Merge, d.clone(), &image).expect("applies");
        assert!(
            out["spec"]["template"]["spec"]["containers"][0]["ports"].is_null(),
            "merge replaces lists"
        );

        let ops = json!([{"op": "replace", "path": "/spec/replicas", "value": 5}, {"op": "test", "path": "/spec/replicas", "value": 5}]);
        assert_eq!(
            apply(PatchType::Json, d.clone(), &ops).expect("applies")["spec"]["replicas"],
            5
        );
        assert!(
            apply(
                PatchType::Json,
                d,
                &json!([{"op": "remove", "path": "/nope/x"}])
            )
            .is_err()
        );
        assert_eq!(
            PatchType::from_content_type("application/merge-patch+json; charset=utf-8"),
            Some(PatchType::Merge)
        );
    }
}

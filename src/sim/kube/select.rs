//! Label and field selectors (`app=web,tier!=db`, `env in (a,b)`, `metadata.name=web`) as
//! lists and watches filter by them. Pure.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Test {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    Absent(String),
}

/// A parsed selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Selector {
    labels: Vec<Test>,
    fields: Vec<Test>,
}

impl Selector {
    /// Parses `labelSelector` and `fieldSelector`; the message says what is wrong.
    pub fn parse(labels: Option<&str>, fields: Option<&str>) -> Result<Selector, String> {
        Ok(Selector {
            labels: parse_tests(labels.unwrap_or_default())?,
            fields: parse_tests(fields.unwrap_or_default())?,
        })
    }

    /// Whether the selector reads nothing but names, namespaces and labels.
    pub fn metadata_only(&self) -> bool {
        self.fields.iter().all(|t| {
            let key = match t {
                Test::Eq(k, _)
                | Test::Ne(k, _)
                | Test::In(k, _)
                | Test::NotIn(k, _)
                | Test::Exists(k)
                | Test::Absent(k) => k,
            };
            key.starts_with("metadata.")
        })
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    pub fn matches(&self, object: &Value) -> bool {
        let labels = &object["metadata"]["labels"];
        self.labels.iter().all(|t| {
            check(t, |k| {
                labels.get(k).and_then(Value::as_str).map(str::to_string)
            })
        }) && self.fields.iter().all(|t| check(t, |k| field(object, k)))
    }
}

fn field(object: &Value, path: &str) -> Option<String> {
    let mut node = object;
    for part in path.split('.') {
        node = node.get(part)?;
    }
    match node {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn check(test: &Test, get: impl Fn(&str) -> Option<String>) -> bool {
    match test {
        Test::Eq(k, v) => get(k).as_deref() == Some(v.as_str()),
        Test::Ne(k, v) => get(k).as_deref() != Some(v.as_str()),
        Test::In(k, vs) => get(k).is_some_and(|x| vs.contains(&x)),
        Test::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(&x)),
        Test::Exists(k) => get(k).is_some(),
        Test::Absent(k) => get(k).is_none(),
    }
}

/// Splits on commas outside parentheses.
fn split_terms(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

fn parse_tests(text: &str) -> Result<Vec<Test>, String> {
    let mut tests = Vec::new();
    for term in split_terms(text) {
        let term = term.trim();
        if term.is_empty() {
            continue;
        }
        let test = if let Some((k, v)) = term.split_once("!=") {
            Test::Ne(k.trim().into(), v.trim().into())
        } else if let Some((k, v)) = term.split_once("==") {
            Test::Eq(k.trim().into(), v.trim().into())
        } else if let Some((k, v)) = term.split_once('=') {
            Test::Eq(k.trim().into(), v.trim().into())
        } else if let Some(k) = term.strip_prefix('!') {
            Test::Absent(k.trim().into())
        } else if let Some((k, set)) = set_term(term, " notin ") {
            Test::NotIn(k, set)
        } else if let Some((k, set)) = set_term(term, " in ") {
            Test::In(k, set)
        } else if term
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        {
            Test::Exists(term.into())
        } else {
            return Err(format!("unable to parse requirement: {term:?}"));
        };
        tests.push(test);
    }
    Ok(tests)
}

fn set_term(term: &str, op: &str) -> Option<(String, Vec<String>)> {
    let (k, rest) = term.split_once(op)?;
    let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some((
        k.trim().to_string(),
        inner.split(',').map(|v| v.trim().to_string()).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects_by_labels_and_fields() {
        let pod = json!({"metadata": {"name": "web-1", "namespace": "app", "labels": {"app": "web", "tier": "front"}}, "status": {"phase": "Running"}});
        let yes =
            |l: Option<&str>, f: Option<&str>| Selector::parse(l, f).expect("parses").matches(&pod);
        assert!(yes(None, None));
        assert!(yes(Some("app=web"), None));
        assert!(yes(Some("app==web,tier!=db"), None));
        assert!(yes(Some("tier in (front, back)"), None));
        assert!(!yes(Some("tier notin (front)"), None));
        assert!(yes(Some("app,!missing"), None));
        assert!(!yes(Some("app=api"), None));
        assert!(yes(None, Some("metadata.name=web-1,status.phase=Running")));
        assert!(!yes(None, Some("metadata.namespace=other")));
        assert!(Selector::parse(Some("a b c"), None).is_err());
    }
}

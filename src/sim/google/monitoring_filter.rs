//! Cloud Monitoring list filters: `metric.type = "…" AND resource.labels.k = one_of("a","b")
//! AND metric.label.k = starts_with("x")`, read into terms the time series are matched on.
//! Pure.

/// One `key = value` term of a Monitoring filter.
#[derive(Debug, PartialEq)]
pub(super) enum Term {
    Equals(String, Vec<String>),
    StartsWith(String, String),
}

/// `metric.type = "x" AND resource.labels.k = one_of("a","b")`: the terms, or why not.
pub(super) fn parse_filter(filter: &str) -> Result<Vec<Term>, String> {
    let mut terms = Vec::new();
    for part in split_and(filter) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (lhs, rhs) = part
            .split_once('=')
            .ok_or_else(|| format!("cannot read \"{part}\""))?;
        let key = lhs.trim().replace(".labels.", ".label.");
        let rhs = rhs.trim();
        let args = |inner: &str| -> Result<Vec<String>, String> {
            inner
                .split(',')
                .map(|a| unquote(a.trim()).ok_or_else(|| format!("\"{a}\" is not a quoted string")))
                .collect()
        };
        let term = if let Some(inner) = rhs
            .strip_prefix("one_of(")
            .and_then(|r| r.strip_suffix(')'))
        {
            Term::Equals(key, args(inner)?)
        } else if let Some(inner) = rhs
            .strip_prefix("starts_with(")
            .and_then(|r| r.strip_suffix(')'))
        {
            Term::StartsWith(key, args(inner)?.into_iter().next().unwrap_or_default())
        } else {
            Term::Equals(
                key,
                vec![unquote(rhs).ok_or_else(|| format!("\"{rhs}\" is not a quoted string"))?],
            )
        };
        terms.push(term);
    }
    Ok(terms)
}

/// Splits on ` AND ` outside quotes.
fn split_and(filter: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quoted = false;
    let words: Vec<&str> = filter.split(' ').collect();
    for word in words {
        if !quoted && word.eq_ignore_ascii_case("AND") {
            parts.push(String::new());
            continue;
        }
        quoted ^= word.matches('"').count() % 2 == 1;
        if let Some(last) = parts.last_mut() {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    parts
}

fn unquote(s: &str) -> Option<String> {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_read_terms_functions_and_quotes() {
        let terms = parse_filter(
            "metric.type = \"run.googleapis.com/request_count\" AND resource.labels.service_name = one_of(\"a\", \"b c\") AND resource.label.location = starts_with(\"us\")",
        )
        .expect("parses");
        assert_eq!(terms.len(), 3);
        assert_eq!(
            terms[1],
            Term::Equals(
                "resource.label.service_name".into(),
                vec!["a".into(), "b c".into()]
            )
        );
        assert_eq!(
            terms[2],
            Term::StartsWith("resource.label.location".into(), "us".into())
        );
        assert!(parse_filter("metric.type = unquoted").is_err());
        assert!(parse_filter("nonsense").is_err());
    }
}

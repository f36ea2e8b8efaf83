//! Keeping secrets out of everything a person or a file sees: passwords in URLs, secret
//! headers, secret-looking keys in JSON bodies, and any literal secret value (a password read
//! from the environment) wherever it turns up. Used by the dry-run, the audit log and error
//! messages alike.

use serde_json::Value;

/// What replaces a secret.
pub const MASK: &str = "***";

/// The URL with any password in it replaced.
pub fn url(url: &str) -> String {
    crate::probe::credentials::redact(url)
}

/// Whether a header or JSON key names a secret.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "authorization",
        "cookie",
        "password",
        "passwd",
        "secret",
        "token",
        "api-key",
        "api_key",
        "apikey",
        "private_key",
        "credential",
        "routing_key",
        "signature",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// A JSON value with every secret-named key masked and every literal secret scrubbed.
pub fn json(value: &Value, secrets: &[String]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let scalar = !(v.is_object() || v.is_array() || v.is_null());
                    let shown = if is_secret_name(k) && scalar {
                        Value::from(MASK)
                    } else {
                        json(v, secrets)
                    };
                    (k.clone(), shown)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| json(v, secrets)).collect()),
        Value::String(s) => Value::String(text(s, secrets)),
        other => other.clone(),
    }
}

/// Text with every literal secret replaced.
pub fn text(s: &str, secrets: &[String]) -> String {
    let mut out = s.to_string();
    for secret in secrets.iter().filter(|x| x.len() >= 3) {
        out = out.replace(secret.as_str(), MASK);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_secret_keys_and_literal_values_anywhere() {
        let secrets = vec!["hunter22".to_string()];
        let body = json!({
            "routing_key": "R0UT1NG",
            "severity": "critical",
            "password": "pw",
            "payload": {"summary": "db down, token hunter22", "api_key": 42},
            "list": ["a hunter22 b"]
        });
        let shown = json(&body, &secrets);
        assert_eq!(
            shown,
            json!({
                "routing_key": "***",
                "severity": "critical",
                "password": "***",
                "payload": {"summary": "db down, token ***", "api_key": "***"},
                "list": ["a *** b"]
            })
        );
        assert_eq!(
            url("redis://:s3cr3t@10.0.0.5:6379/0"),
            "redis://:***@10.0.0.5:6379/0"
        );
        assert!(is_secret_name("Authorization"));
        assert!(is_secret_name("X-Api-Key"));
        assert!(!is_secret_name("Content-Type"));
    }
}

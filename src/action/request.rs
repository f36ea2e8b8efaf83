//! One request an action sends, exactly as it goes on the wire, and the redacted form in which
//! a dry-run, the console and the audit log show it.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::redact;

/// A write (or, for a RESP command, any command) as it will be sent. Holds real URLs and
/// header values; only its [`Shown`] form ever leaves the process.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `POST`, `PATCH`, `DELETE`…, or `RESP` for a Redis command.
    pub method: String,
    /// The full URL; for RESP, the server (`redis://host:port`).
    pub url: String,
    /// Set when it is not plain JSON (Kubernetes patches).
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    /// The RESP command words.
    pub command: Vec<String>,
    /// Literal secrets (passwords read from the environment) that must never be shown.
    pub secrets: Vec<String>,
}

impl Request {
    /// An HTTP request with a JSON body.
    pub fn http(method: &str, url: impl Into<String>, body: Option<Value>) -> Request {
        Request {
            method: method.to_string(),
            url: url.into(),
            content_type: None,
            headers: Vec::new(),
            body,
            command: Vec::new(),
            secrets: Vec::new(),
        }
    }

    /// A RESP command to the server at `url`.
    pub fn resp(url: impl Into<String>, words: &[&str]) -> Request {
        Request {
            method: "RESP".to_string(),
            url: url.into(),
            content_type: None,
            headers: Vec::new(),
            body: None,
            command: words.iter().map(|w| (*w).to_string()).collect(),
            secrets: Vec::new(),
        }
    }

    #[must_use]
    pub fn content_type(mut self, ct: &str) -> Request {
        self.content_type = Some(ct.to_string());
        self
    }

    /// The request as it may be shown: secrets masked.
    pub fn shown(&self) -> Shown {
        let s = &self.secrets;
        Shown {
            method: self.method.clone(),
            url: redact::text(&redact::url(&self.url), s),
            content_type: self.content_type.clone(),
            headers: self
                .headers
                .iter()
                .map(|(k, v)| {
                    let v = if redact::is_secret_name(k) {
                        redact::MASK.to_string()
                    } else {
                        redact::text(v, s)
                    };
                    (k.clone(), v)
                })
                .collect(),
            body: self.body.as_ref().map(|b| redact::json(b, s)),
            command: self.command.iter().map(|w| redact::text(w, s)).collect(),
        }
    }
}

/// A request with its secrets masked: what a dry-run prints and the audit log records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shown {
    pub method: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub headers: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub body: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub command: Vec<String>,
}

impl Shown {
    /// The first line: `METHOD URL`, or the RESP command and its server.
    pub fn line(&self) -> String {
        if self.method == "RESP" {
            format!("{}  ({})", self.command.join(" "), self.url)
        } else {
            format!("{} {}", self.method, self.url)
        }
    }
}

impl fmt::Display for Shown {
    /// `METHOD URL`, then any content type and headers, then the body on one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.line())?;
        if let Some(ct) = &self.content_type {
            write!(f, "\nContent-Type: {ct}")?;
        }
        for (k, v) in &self.headers {
            write!(f, "\n{k}: {v}")?;
        }
        if let Some(body) = &self.body {
            write!(f, "\n{body}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shows_method_url_and_body_with_secrets_masked() {
        let mut r = Request::http(
            "DELETE",
            "http://opsdeck:pa55word@10.0.0.5:15672/api/queues/%2F/dlq/contents",
            None,
        );
        r.headers.push((
            "Authorization".into(),
            "Basic b3BzZGVjazpwYTU1d29yZA==".into(),
        ));
        r.secrets.push("pa55word".into());
        let text = r.shown().to_string();
        assert_eq!(
            text,
            "DELETE http://opsdeck:***@10.0.0.5:15672/api/queues/%2F/dlq/contents\nAuthorization: ***"
        );
        let p = Request::http("POST", "https://x/failover", Some(json!({"a": 1})));
        assert_eq!(p.shown().to_string(), "POST https://x/failover\n{\"a\":1}");
        let c = Request::resp(
            "redis://:pa55word@10.0.0.4:26379",
            &["SENTINEL", "FAILOVER", "mymaster"],
        );
        assert_eq!(
            c.shown().line(),
            "SENTINEL FAILOVER mymaster  (redis://:***@10.0.0.4:26379)"
        );
    }
}

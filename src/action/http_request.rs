//! `http.request`: one HTTP request to any URL (a webhook: page the database owner, post to a
//! status page, call a deploy hook). Text anywhere in the URL, headers or body may say
//! `${env:NAME}`: the value of that environment variable is put in when the request is sent and
//! is never shown. A 2xx answer is success.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Action, ActionError, ArgKind, ArgSpec, Cx, Plan, Request, Submitted, text_arg};
use crate::estate::Kind;
use crate::probe::credentials;

pub struct HttpRequest;

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

impl Action for HttpRequest {
    const NAME: &'static str = "http.request";
    const SUMMARY: &'static str =
        "Send one HTTP request (a webhook); ${env:NAME} puts in a secret that is never shown";
    const DESTRUCTIVE: bool = false;
    const IDEMPOTENT: bool = false;
    const KINDS: &'static [Kind] = &Kind::ALL;
    const ARGS: &'static [ArgSpec] = &[
        ArgSpec {
            name: "url",
            kind: ArgKind::Text,
            required: true,
            help: "where to send it",
        },
        ArgSpec {
            name: "method",
            kind: ArgKind::Text,
            required: false,
            help: "GET, POST (the default), PUT, PATCH or DELETE",
        },
        ArgSpec {
            name: "headers",
            kind: ArgKind::Table,
            required: false,
            help: "header names and values",
        },
        ArgSpec {
            name: "body",
            kind: ArgKind::Json,
            required: false,
            help: "a JSON body",
        },
    ];

    async fn prepare(cx: &Cx<'_>) -> Result<Plan, ActionError> {
        let request = build(cx.args, &|name| std::env::var(name).ok())?;
        Ok(Plan {
            requests: vec![request],
            ..Plan::default()
        })
    }

    async fn submit(cx: &Cx<'_>, plan: &Plan) -> Result<Submitted, ActionError> {
        let r = &plan.requests[0];
        let method = http::Method::from_bytes(r.method.as_bytes())
            .map_err(|_| ActionError::Invalid(format!("'{}' is not an HTTP method", r.method)))?;
        let mut request = cx.clients.http.request(method, &r.url);
        for (k, v) in &r.headers {
            request = request.header(k, v);
        }
        if let Some(body) = &r.body {
            request = request.json(body);
        }
        let shown = r.shown();
        let response = request.send().await.map_err(|e| {
            let words = super::redact::text(&crate::probe::http::describe_error(&e), &r.secrets);
            ActionError::Unknown(format!(
                "{} did not answer: {words}; it may have acted on the request",
                shown.url
            ))
        })?;
        let code = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let snippet: String = super::redact::text(&text, &r.secrets)
            .chars()
            .take(200)
            .collect();
        if (200..300).contains(&code) {
            Ok(Submitted {
                operation: None,
                summary: format!("{} answered {code}", shown.url),
            })
        } else {
            Err(ActionError::Failed(format!(
                "{} answered {code}: {}",
                shown.url,
                snippet.trim()
            )))
        }
    }
}

/// The request the arguments describe, with `${env:NAME}` filled in from `env` and every value
/// so filled in listed as a secret.
fn build(args: &super::Args, env: &dyn Fn(&str) -> Option<String>) -> Result<Request, ActionError> {
    let mut secrets = Vec::new();
    let url = text_arg(args, "url")?
        .ok_or_else(|| ActionError::Invalid("http.request needs 'url'".to_string()))?;
    let url = expand(url, env, &mut secrets)?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ActionError::Invalid(format!(
            "url \"{}\" is not an http:// or https:// URL",
            credentials::redact(&super::redact::text(&url, &secrets))
        )));
    }
    let method = text_arg(args, "method")?
        .unwrap_or("POST")
        .to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(ActionError::Invalid(format!(
            "method \"{method}\" is not one of {}",
            METHODS.join(", ")
        )));
    }
    let mut headers = Vec::new();
    match args.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            for (k, v) in sorted {
                let Some(v) = v.as_str() else {
                    return Err(ActionError::Invalid(format!("header '{k}' must be text")));
                };
                headers.push((k.clone(), expand(v, env, &mut secrets)?));
            }
        }
        Some(other) => {
            return Err(ActionError::Invalid(format!(
                "headers must be a table of names and values, not {other}"
            )));
        }
    }
    let body = match args.get("body") {
        None | Some(Value::Null) => None,
        Some(v) => Some(expand_json(v, env, &mut secrets)?),
    };
    let mut request = Request::http(&method, url, body);
    request.headers = headers;
    request.secrets = secrets;
    Ok(request)
}

fn expand_json(
    v: &Value,
    env: &dyn Fn(&str) -> Option<String>,
    secrets: &mut Vec<String>,
) -> Result<Value, ActionError> {
    Ok(match v {
        Value::String(s) => Value::String(expand(s, env, secrets)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| expand_json(i, env, secrets))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), expand_json(v, env, secrets)?)))
                .collect::<Result<_, ActionError>>()?,
        ),
        other => other.clone(),
    })
}

/// `${env:NAME}` replaced by the variable's value, which becomes a secret.
fn expand(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    secrets: &mut Vec<String>,
) -> Result<String, ActionError> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${env:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 6..];
        let Some(end) = after.find('}') else {
            return Err(ActionError::Invalid(format!(
                "\"${{env:\" without a closing '}}' in \"{}\"",
                super::redact::text(text, secrets)
            )));
        };
        let name = &after[..end];
        let value = env(name).ok_or_else(|| {
            ActionError::Invalid(format!("environment variable {name} is not set"))
        })?;
        if !secrets.contains(&value) {
            secrets.push(value.clone());
        }
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn env_values_are_sent_but_never_shown() {
        let mut args = super::super::Args::new();
        args.insert(
            "url".into(),
            json!("https://events.pagerduty.com/v2/enqueue"),
        );
        args.insert(
            "headers".into(),
            json!({"Authorization": "Token token=${env:PD_TOKEN}", "X-Note": "from opsdeck"}),
        );
        args.insert(
            "body".into(),
            json!({"routing_key": "${env:PD_KEY}", "payload": {"summary": "sql failover, key ${env:PD_KEY}"}}),
        );
        let env = |n: &str| match n {
            "PD_TOKEN" => Some("tok-123456".to_string()),
            "PD_KEY" => Some("rk-abcdef".to_string()),
            _ => None,
        };
        let r = build(&args, &env).expect("builds");
        assert_eq!(r.headers[0].1, "Token token=tok-123456");
        assert_eq!(r.body.as_ref().expect("body")["routing_key"], "rk-abcdef");
        let shown = r.shown().to_string();
        assert!(
            !shown.contains("tok-123456") && !shown.contains("rk-abcdef"),
            "{shown}"
        );
        assert!(shown.contains("X-Note: from opsdeck"), "{shown}");
        args.insert("url".into(), json!("https://x/${env:NOPE}"));
        assert_eq!(
            build(&args, &env).expect_err("unset").to_string(),
            "environment variable NOPE is not set"
        );
    }
}

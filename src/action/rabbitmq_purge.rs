//! `rabbitmq.purge`: deletes every ready message of a RabbitMQ queue through the management API
//! (`DELETE /api/queues/{vhost}/{queue}/contents`), the way the management UI's "Purge" does.
//! Meant for a dead-letter queue once its messages have been looked at; nothing purged can be
//! got back.

use serde_json::{Value, json};

use super::{Action, ActionError, ArgSpec, Cx, Plan, Request, Submitted};
use crate::estate::{Kind, Target};
use crate::probe::credentials;

pub struct Purge;

impl Action for Purge {
    const NAME: &'static str = "rabbitmq.purge";
    const SUMMARY: &'static str = "Delete every ready message of a RabbitMQ queue (DELETE /api/queues/{vhost}/{queue}/contents)";
    const DESTRUCTIVE: bool = true;
    const IDEMPOTENT: bool = false;
    const KINDS: &'static [Kind] = &[Kind::RabbitmqQueue];
    const ARGS: &'static [ArgSpec] = &[];

    async fn prepare(cx: &Cx<'_>) -> Result<Plan, ActionError> {
        let broker = Broker::of(cx)?;
        let queue_url = broker.queue_url();
        let doc = broker.send(cx, "GET", &queue_url).await?;
        let mut request = Request::http("DELETE", format!("{queue_url}/contents"), None);
        broker.sign(&mut request);
        let mut plan = Plan {
            requests: vec![request],
            ..Plan::default()
        };
        for (fact, key) in [
            ("messages_ready", "messages_ready"),
            ("messages_unacknowledged", "messages_unacknowledged"),
        ] {
            if let Some(v) = doc.get(key) {
                plan.facts.insert(fact.into(), v.clone());
            }
        }
        Ok(plan)
    }

    async fn submit(cx: &Cx<'_>, plan: &Plan) -> Result<Submitted, ActionError> {
        let broker = Broker::of(cx)?;
        broker.send(cx, "DELETE", &plan.requests[0].url).await?;
        let before = plan.facts.get("messages_ready").and_then(Value::as_u64);
        Ok(Submitted {
            operation: None,
            summary: match before {
                Some(n) => format!("purged (it held {n} ready messages)"),
                None => "purged".to_string(),
            },
        })
    }
}

/// One queue on a broker's management API, with its credentials.
struct Broker {
    root: String,
    vhost: String,
    queue: String,
    user: Option<String>,
    password: Option<String>,
}

impl Broker {
    fn of(cx: &Cx<'_>) -> Result<Broker, ActionError> {
        let Target::RabbitmqQueue {
            url,
            vhost,
            queue,
            user,
            password_env,
            ..
        } = &cx.service.target
        else {
            return Err(ActionError::Invalid(format!(
                "'{}' is not a rabbitmq_queue service",
                cx.service.id
            )));
        };
        let password = credentials::password(password_env.as_deref()).map_err(|u| {
            ActionError::Invalid(format!(
                "environment variable {} (password_env) is not set",
                u.0
            ))
        })?;
        let trimmed = url.trim_end_matches('/');
        let root = trimmed.strip_suffix("/api").unwrap_or(trimmed);
        let (root, url_user, url_password) = match reqwest::Url::parse(root) {
            Ok(mut u) => {
                let found_user = (!u.username().is_empty()).then(|| u.username().to_string());
                let found_password = u.password().map(str::to_string);
                let _ = u.set_username("");
                let _ = u.set_password(None);
                (
                    u.as_str().trim_end_matches('/').to_string(),
                    found_user,
                    found_password,
                )
            }
            Err(_) => (root.to_string(), None, None),
        };
        Ok(Broker {
            root,
            vhost: vhost.clone(),
            queue: queue.clone(),
            user: user.clone().or(url_user),
            password: password.or(url_password),
        })
    }

    fn queue_url(&self) -> String {
        format!(
            "{}/api/queues/{}/{}",
            self.root,
            encode(&self.vhost),
            encode(&self.queue)
        )
    }

    /// Adds the Authorization header (shown masked) and registers the password as a secret.
    fn sign(&self, request: &mut Request) {
        if let Some(user) = &self.user {
            request
                .headers
                .push(("Authorization".to_string(), format!("Basic {user}:…")));
        }
        if let Some(p) = &self.password {
            request.secrets.push(p.clone());
        }
    }

    async fn send(&self, cx: &Cx<'_>, method: &str, url: &str) -> Result<Value, ActionError> {
        let method = http::Method::from_bytes(method.as_bytes())
            .map_err(|_| ActionError::Invalid(format!("'{method}' is not an HTTP method")))?;
        let write = method != http::Method::GET;
        let mut request = cx.clients.http.request(method, url);
        if let Some(user) = &self.user {
            request = request.basic_auth(user, self.password.as_deref());
        }
        let subject = format!(
            "the RabbitMQ management API at {}",
            credentials::redact(&self.root)
        );
        let response = request.send().await.map_err(|e| {
            let words = credentials::scrub(
                &crate::probe::http::describe_error(&e),
                self.password.as_deref(),
            );
            if write {
                ActionError::Unknown(format!(
                    "{subject} did not answer: {words}; the purge may have happened"
                ))
            } else {
                ActionError::Failed(format!("{subject} did not answer: {words}"))
            }
        })?;
        let code = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        if (200..300).contains(&code) {
            return Ok(serde_json::from_str(&text).unwrap_or(json!({})));
        }
        let reason = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|d| d.get("reason").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| text.chars().take(200).collect());
        Err(ActionError::Failed(format!(
            "{subject} answered HTTP {code}: {}",
            credentials::scrub(&reason, self.password.as_deref())
        )))
    }
}

/// Percent-encodes one path segment (`/` → `%2F`, the default vhost).
fn encode(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn vhost_and_queue_are_one_segment_each() {
        assert_eq!(super::encode("/"), "%2F");
        assert_eq!(
            super::encode("notifications.dead-letter"),
            "notifications.dead-letter"
        );
    }
}

//! Google Cloud access shared by every Google probe: the endpoint (Google's, or an override
//! such as the simulator), bearer tokens from google-cloud-auth, and google.rpc.Status errors
//! turned into one readable sentence and a retry decision.

pub mod batch;
pub mod cloud_run;
pub mod cloud_sql;
pub mod cloud_tasks;
pub mod gcp_rest;
pub mod memorystore;
pub mod pubsub;

use std::sync::Arc;
use std::time::Duration;

use google_cloud_auth::credentials::{self, CacheableResource, Credentials};
use serde_json::Value;

use crate::estate::{Gcp, GcpAuth, Kind};
use crate::model::{Observation, Outcome};

const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Largest Google answer read; lists of thousands of resources stay well below it.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Google access for every probe of one estate: the client and its shared list cache.
#[derive(Clone)]
pub struct Google {
    client: Arc<GoogleClient>,
    lists: Arc<batch::ListCache>,
}

impl Google {
    pub fn new(http: reqwest::Client, gcp: Option<&Gcp>) -> Self {
        Google {
            client: Arc::new(GoogleClient::new(http, gcp)),
            lists: Arc::new(batch::ListCache::default()),
        }
    }

    pub fn client(&self) -> &GoogleClient {
        &self.client
    }

    /// The same client with an empty list cache: lists are read anew instead of reused (for
    /// runbook waits and drills, which must see a change as soon as it happens).
    #[must_use]
    pub fn fresh(&self) -> Google {
        Google {
            client: Arc::clone(&self.client),
            lists: Arc::new(batch::ListCache::default()),
        }
    }

    /// The items of the list at `path` on the API at `host`, shared with every other
    /// service of the same list (see [`batch`]).
    pub async fn list(&self, host: &str, path: &str, field: &'static str) -> batch::Listed {
        let url = self.client.url(host, path);
        self.lists.items(Arc::clone(&self.client), url, field).await
    }
}

/// A Google REST client for one estate.
pub struct GoogleClient {
    http: reqwest::Client,
    endpoint: Option<String>,
    auth: Auth,
}

enum Auth {
    None,
    Ready(Credentials),
    /// Credentials could not be set up; every Google service reports this reason.
    Broken(String),
}

/// Why a Google call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum GoogleError {
    /// The API answered with an error status.
    Api {
        code: u16,
        status: Option<String>,
        message: String,
        retry_after: Option<Duration>,
    },
    /// No answer: refused, unreachable, reset.
    Transport(String),
    /// No usable credentials.
    Credentials(String),
    /// An answer that is not the JSON the API documents.
    Garbage(String),
}

impl GoogleError {
    /// Retrying later may help: keep the last value and mark it stale.
    pub fn is_retryable(&self) -> bool {
        match self {
            GoogleError::Api { code, .. } => matches!(code, 429 | 500 | 502 | 503 | 504),
            GoogleError::Transport(_) => true,
            GoogleError::Credentials(_) | GoogleError::Garbage(_) => false,
        }
    }

    /// One sentence naming the API and the reason.
    pub fn sentence(&self, api: &str) -> String {
        match self {
            GoogleError::Api {
                code,
                status,
                message,
                ..
            } => {
                let status = status
                    .as_deref()
                    .map_or_else(String::new, |s| format!(" {s}"));
                let hint = match *code {
                    401 => {
                        " (credentials rejected: refresh them with `gcloud auth application-default login`)"
                    }
                    403 if message.contains("has not been used")
                        || message.contains("is disabled") =>
                    {
                        " (enable the API in the project)"
                    }
                    429 => " (quota exhausted; backing off)",
                    _ => "",
                };
                format!("{api} answered {code}{status}: {}{hint}", message.trim())
            }
            GoogleError::Transport(why) => format!("{api} unreachable: {why}"),
            GoogleError::Credentials(why) => format!("no Google credentials: {why}"),
            GoogleError::Garbage(why) => format!("{api} gave an unreadable answer: {why}"),
        }
    }

    /// The outcome for a service whose probe hit this error: retryable errors keep the last
    /// value (stale); a missing resource is down; anything else means opsdeck cannot tell.
    pub fn outcome(&self, api: &str, what: &str) -> Outcome {
        let sentence = self.sentence(api);
        if self.is_retryable() {
            let retry_after = match self {
                GoogleError::Api { retry_after, .. } => *retry_after,
                _ => None,
            };
            return Outcome::Failed {
                error: sentence,
                retry_after,
            };
        }
        if let GoogleError::Api { code: 404, .. } = self {
            return Outcome::Observed(Observation::down(format!(
                "{what} does not exist ({sentence})"
            )));
        }
        Outcome::Observed(Observation::unknown(sentence))
    }
}

/// The name of the Google API behind a kind, for messages.
pub fn api_name(kind: Kind) -> &'static str {
    match kind {
        Kind::CloudRun => "Cloud Run Admin API",
        Kind::CloudSql => "Cloud SQL Admin API",
        Kind::CloudTasks => "Cloud Tasks API",
        Kind::Memorystore => "Memorystore for Redis API",
        Kind::PubsubSubscription => "Cloud Monitoring API",
        _ => "Google API",
    }
}

impl GoogleClient {
    pub fn new(http: reqwest::Client, gcp: Option<&Gcp>) -> Self {
        let endpoint = gcp.and_then(|g| g.endpoint.clone());
        let auth = match gcp.map_or(&GcpAuth::Adc, |g| &g.auth) {
            GcpAuth::None => Auth::None,
            GcpAuth::Metadata(root) => match credentials::mds::Builder::default()
                .with_endpoint(root.clone())
                .with_scopes([SCOPE])
                .build()
            {
                Ok(c) => Auth::Ready(c),
                Err(e) => {
                    Auth::Broken(format!("the metadata server at {root} cannot be used: {e}"))
                }
            },
            GcpAuth::Adc => match credentials::Builder::default().with_scopes([SCOPE]).build() {
                Ok(c) => Auth::Ready(c),
                Err(e) => Auth::Broken(format!(
                    "{e}; run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS"
                )),
            },
        };
        GoogleClient {
            http,
            endpoint,
            auth,
        }
    }

    /// The URL of `path` on the API at `host` (`sqladmin.googleapis.com`), or on the
    /// estate's endpoint override.
    pub fn url(&self, host: &str, path: &str) -> String {
        match &self.endpoint {
            Some(root) => format!("{root}/{path}"),
            None => format!("https://{host}/{path}"),
        }
    }

    /// A full Google URL from an estate file, moved onto the endpoint override when the
    /// estate has one and the URL is on `*.googleapis.com`.
    pub fn rewrite(&self, url: &str) -> String {
        let Some(root) = &self.endpoint else {
            return url.to_string();
        };
        let Some(rest) = url.strip_prefix("https://") else {
            return url.to_string();
        };
        match rest.split_once('/') {
            Some((host, path)) if host.ends_with("googleapis.com") => format!("{root}/{path}"),
            _ => url.to_string(),
        }
    }

    async fn auth_headers(&self) -> Result<http::HeaderMap, GoogleError> {
        match &self.auth {
            Auth::None => Ok(http::HeaderMap::new()),
            Auth::Broken(why) => Err(GoogleError::Credentials(why.clone())),
            Auth::Ready(creds) => match creds.headers(http::Extensions::new()).await {
                Ok(CacheableResource::New { data, .. }) => Ok(data),
                Ok(CacheableResource::NotModified) => Err(GoogleError::Credentials(
                    "the credential source returned no token".to_string(),
                )),
                Err(e) => Err(if e.is_transient() {
                    GoogleError::Transport(format!("cannot get an access token: {e}"))
                } else {
                    GoogleError::Credentials(e.to_string())
                }),
            },
        }
    }

    /// GET a JSON document.
    pub async fn get_json(&self, url: &str) -> Result<Value, GoogleError> {
        let headers = self.auth_headers().await?;
        let response = self
            .http
            .get(url)
            .headers(headers)
            .send()
            .await
            .map_err(|e| GoogleError::Transport(super::http::describe_error(&e)))?;
        let code = response.status().as_u16();
        let body = read_body(response).await?;
        if (200..300).contains(&code) {
            serde_json::from_slice(&body).map_err(|e| {
                GoogleError::Garbage(format!("HTTP {code} with a body that is not JSON ({e})"))
            })
        } else {
            Err(parse_error(code, &body))
        }
    }

    /// Sends one write (`POST`, `PATCH`, `DELETE`) with a JSON body and reads the JSON answer
    /// (an empty answer reads as `{}`). Never retried here: a write whose answer was lost may
    /// have been applied, and only the caller can tell whether sending it again is safe.
    pub async fn send_json(
        &self,
        method: http::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Value, GoogleError> {
        let headers = self.auth_headers().await?;
        let mut request = self.http.request(method, url).headers(headers);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| GoogleError::Transport(super::http::describe_error(&e)))?;
        let code = response.status().as_u16();
        let body = read_body(response).await?;
        if !(200..300).contains(&code) {
            return Err(parse_error(code, &body));
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Object(serde_json::Map::new()));
        }
        serde_json::from_slice(&body).map_err(|e| {
            GoogleError::Garbage(format!("HTTP {code} with a body that is not JSON ({e})"))
        })
    }
}

async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, GoogleError> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_BODY {
                    return Err(GoogleError::Garbage(format!(
                        "the answer is larger than {} MiB",
                        MAX_BODY / (1024 * 1024)
                    )));
                }
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(GoogleError::Transport(super::http::describe_error(&e))),
        }
    }
}

/// Reads a google.rpc.Status error body (`{"error":{"code","message","status","details"}}`).
/// Bodies that are not one still give a sentence with the HTTP code.
pub fn parse_error(code: u16, body: &[u8]) -> GoogleError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let err = parsed.as_ref().and_then(|v| v.get("error"));
    let message = err
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map_or_else(
            || {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                if text.is_empty() {
                    http::StatusCode::from_u16(code)
                        .ok()
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or("no message")
                        .to_string()
                } else {
                    text.chars().take(200).collect()
                }
            },
            str::to_string,
        );
    let status = err
        .and_then(|e| e.get("status"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let retry_after = err
        .and_then(|e| e.get("details"))
        .and_then(Value::as_array)
        .and_then(|details| {
            details.iter().find_map(|d| {
                let is_retry = d
                    .get("@type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.ends_with("google.rpc.RetryInfo"));
                is_retry
                    .then(|| d.get("retryDelay").and_then(Value::as_str))
                    .flatten()
                    .and_then(parse_proto_duration)
            })
        });
    GoogleError::Api {
        code,
        status,
        message,
        retry_after,
    }
}

/// A protobuf JSON duration ("53s", "1.5s").
pub fn parse_proto_duration(s: &str) -> Option<Duration> {
    let secs: f64 = s.strip_suffix('s')?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// An enum field that may arrive as its name or (with `enum-encoding=int`) as its number.
pub fn enum_field<'a>(v: &'a Value, names: &[&'a str]) -> Option<&'a str> {
    match v {
        Value::String(s) => Some(s.as_str()),
        Value::Number(n) => n
            .as_u64()
            .and_then(|i| names.get(usize::try_from(i).ok()?))
            .copied(),
        _ => None,
    }
}

/// A string field at a dotted path, for summaries and metrics.
pub fn text<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    path.split('.')
        .try_fold(v, |cur, key| cur.get(key))
        .and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_retry_info_from_a_429() {
        let body =
            br#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED",
            "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"53s"}]}}"#;
        let e = parse_error(429, body);
        assert!(e.is_retryable());
        assert_eq!(
            e,
            GoogleError::Api {
                code: 429,
                status: Some("RESOURCE_EXHAUSTED".into()),
                message: "Quota exceeded".into(),
                retry_after: Some(Duration::from_secs(53)),
            }
        );
        assert_eq!(
            e.sentence("Cloud SQL Admin API"),
            "Cloud SQL Admin API answered 429 RESOURCE_EXHAUSTED: Quota exceeded (quota exhausted; backing off)"
        );
    }

    #[test]
    fn real_google_error_bodies_give_one_sentence() {
        let dir = format!(
            "{}/fixtures/api/google-rpc-errors",
            env!("CARGO_MANIFEST_DIR")
        );
        let cases = [
            ("cloudsql-404-instanceDoesNotExist.json", 404),
            ("cloudrun-v2-404-NOT_FOUND.json", 404),
            ("crm-v1-403-PERMISSION_DENIED.json", 403),
            ("cloudsql-400-invalid-tier.json", 400),
            ("redis-404-NOT_FOUND.json", 404),
            ("cloudtasks-404-NOT_FOUND-with-errors-array.json", 404),
        ];
        for (file, code) in cases {
            let body = std::fs::read(format!("{dir}/{file}")).expect("fixture");
            let e = parse_error(code, &body);
            let GoogleError::Api { message, .. } = &e else {
                panic!("{file}: not an API error")
            };
            assert!(
                !message.starts_with('{'),
                "{file}: message is raw JSON: {message}"
            );
            let sentence = e.sentence("API");
            assert!(
                sentence.starts_with(&format!("API answered {code}")),
                "{sentence}"
            );
            assert!(!sentence.contains('\n'), "{file}: {sentence}");
            assert!(!e.is_retryable(), "{file}");
        }
    }

    #[test]
    fn an_error_body_that_is_not_json_still_reads() {
        let e = parse_error(502, b"<html>Bad Gateway</html>");
        assert_eq!(e.sentence("X"), "X answered 502: <html>Bad Gateway</html>");
        let e = parse_error(503, b"");
        assert_eq!(e.sentence("X"), "X answered 503: Service Unavailable");
    }

    #[test]
    fn endpoint_override_moves_google_urls_only() {
        let gcp = Gcp {
            project: None,
            endpoint: Some("http://127.0.0.1:9".into()),
            auth: GcpAuth::None,
        };
        let c = GoogleClient::new(reqwest::Client::new(), Some(&gcp));
        assert_eq!(
            c.rewrite("https://cloudkms.googleapis.com/v1/projects/p/x"),
            "http://127.0.0.1:9/v1/projects/p/x"
        );
        assert_eq!(c.rewrite("https://example.com/x"), "https://example.com/x");
        assert_eq!(
            c.url("sqladmin.googleapis.com", "v1/projects/p/instances/i"),
            "http://127.0.0.1:9/v1/projects/p/instances/i"
        );
    }

    #[test]
    fn int_enums_map_to_names() {
        let names = ["UNSPECIFIED", "RUNNING", "PAUSED"];
        assert_eq!(enum_field(&serde_json::json!(1), &names), Some("RUNNING"));
        assert_eq!(
            enum_field(&serde_json::json!("PAUSED"), &names),
            Some("PAUSED")
        );
        assert_eq!(enum_field(&serde_json::json!(9), &names), None);
    }
}

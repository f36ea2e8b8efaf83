//! Reaching one Redis server (or Sentinel) for the Redis probes: the URL (`redis://`,
//! `rediss://` for TLS), the password from `password_env`, timeouts, and a failed connection or
//! command turned into an observation: no answer is down; rejected credentials or an
//! untrusted certificate mean opsdeck could not ask (unknown, with the server's words).

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{
    AsyncConnectionConfig, Client, IntoConnectionInfo, RedisConnectionInfo, RedisError,
    TlsCertificates,
};

use crate::model::Observation;
use crate::probe::credentials::{self, Unset};

/// How long connecting, and then each command, may take before the server counts as silent.
const WAIT: Duration = Duration::from_secs(5);

/// The user (if any) and password sent with `AUTH`.
type Login = (Option<String>, String);

/// Where and how to connect.
#[derive(Clone)]
pub struct Connect {
    url: String,
    password: Option<String>,
    /// PEM roots that replace the system trust store for `rediss://` (tests, private CAs).
    roots: Option<Vec<u8>>,
}

impl std::fmt::Debug for Connect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connect")
            .field("url", &self.shown())
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl Connect {
    /// The connection an estate service describes: its URL and the password in the variable
    /// named by `password_env` (unknown when that variable is not set).
    pub fn from_estate(url: &str, password_env: Option<&str>) -> Result<Connect, Unset> {
        Ok(Connect::new(url, credentials::password(password_env)?))
    }

    pub fn new(url: &str, password: Option<String>) -> Connect {
        Connect {
            url: url.to_string(),
            password,
            roots: None,
        }
    }

    /// Trust these PEM certificates instead of the system roots for `rediss://`.
    #[must_use]
    pub fn with_roots(mut self, pem: Vec<u8>) -> Connect {
        self.roots = Some(pem);
        self
    }

    /// The URL as it may be shown (password stripped).
    pub fn shown(&self) -> String {
        credentials::redact(&self.url)
    }

    /// "Redis at redis://host:6379", the subject of every message about this server.
    pub fn subject(&self) -> String {
        format!("Redis at {}", self.shown())
    }

    /// Opens one multiplexed connection and authenticates when a password is known. `AUTH`
    /// is sent by the probe itself rather than by the client library, so a rejection comes
    /// back with the server's own words (`WRONGPASS …`).
    pub async fn open(&self) -> Result<MultiplexedConnection, Observation> {
        let (client, login) = self.client().map_err(|e| self.failure(&e))?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(WAIT))
            .set_response_timeout(Some(WAIT));
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| self.failure(&e))?;
        if let Some((user, password)) = login {
            let mut auth = redis::cmd("AUTH");
            if let Some(user) = user {
                auth.arg(user);
            }
            auth.arg(password)
                .query_async::<()>(&mut conn)
                .await
                .map_err(|e| self.failure(&e))?;
        }
        Ok(conn)
    }

    /// The client, and the user and password to send with `AUTH` (the estate's password, or
    /// the one written in the URL).
    fn client(&self) -> Result<(Client, Option<Login>), RedisError> {
        let info = self.url.as_str().into_connection_info()?;
        let given = info.redis_settings();
        let user = given.username().map(str::to_string);
        let password = self
            .password
            .clone()
            .or_else(|| given.password().map(str::to_string));
        let plain = RedisConnectionInfo::default()
            .set_db(given.db())
            .set_protocol(given.protocol())
            .set_skip_set_lib_name();
        let info = info.set_redis_settings(plain);
        let client = match &self.roots {
            Some(pem) if self.url.starts_with("rediss://") => Client::build_with_tls(
                info,
                TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                },
            )?,
            _ => Client::open(info)?,
        };
        Ok((client, password.map(|p| (user, p))))
    }

    /// The observation for a failed connection or command.
    pub fn failure(&self, e: &RedisError) -> Observation {
        let subject = self.subject();
        let secret = credentials::secret_of(self.password.as_deref(), &self.url);
        let words = credentials::scrub(&root_cause(e), secret.as_deref());
        let code = e.code().unwrap_or_default();
        if matches!(code, "WRONGPASS" | "NOAUTH" | "NOPERM")
            || e.kind() == redis::ErrorKind::AuthenticationFailed
            || words.contains("invalid password")
        {
            return Observation::unknown(format!("{subject} rejected the credentials: {words}"));
        }
        if e.kind() == redis::ErrorKind::InvalidClientConfig {
            return Observation::unknown(format!("{subject} cannot be used: {words}"));
        }
        if is_certificate_problem(&words) {
            return Observation::unknown(format!(
                "{subject} presented a certificate opsdeck does not trust: {words}"
            ));
        }
        if e.is_connection_refusal() {
            return Observation::down(format!("{subject} refused the connection"));
        }
        if e.is_timeout() {
            return Observation::down(format!(
                "{subject} did not answer within {}",
                humantime::format_duration(WAIT)
            ));
        }
        if e.is_io_error() || e.is_connection_dropped() {
            return Observation::down(format!("{subject} cannot be reached: {words}"));
        }
        Observation::down(format!("{subject} answered with an error: {words}"))
    }
}

/// What the server said (`WRONGPASS invalid username-password pair…`), or else the innermost
/// error text (what the operating system or TLS said).
fn root_cause(e: &RedisError) -> String {
    if let Some(code) = e.code() {
        let detail = e.detail().unwrap_or_default().trim();
        // A reply inside a pipeline carries its words in the error's text, not its detail.
        return if detail.is_empty() {
            let full = e.to_string();
            if full.trim().is_empty() {
                code.to_string()
            } else {
                full
            }
        } else {
            format!("{code} {detail}")
        };
    }
    let mut root: &dyn std::error::Error = e;
    while let Some(next) = root.source() {
        root = next;
    }
    let text = root.to_string();
    if text.is_empty() { e.to_string() } else { text }
}

fn is_certificate_problem(words: &str) -> bool {
    let w = words.to_ascii_lowercase();
    w.contains("certificate") || w.contains("unknownissuer") || w.contains("invalid peer")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    #[test]
    fn debug_and_subject_never_show_the_password() {
        let c = Connect::new("redis://:pw-in-url@h:6379", Some("hunter2".to_string()));
        let shown = format!("{c:?} {}", c.subject());
        assert!(
            !shown.contains("hunter2") && !shown.contains("pw-in-url"),
            "{shown}"
        );
        assert_eq!(c.subject(), "Redis at redis://:***@h:6379");
    }

    #[test]
    fn a_server_error_reply_is_down_with_the_servers_words() {
        let c = Connect::new("redis://h:6379", None);
        let e = RedisError::from((redis::ErrorKind::Client, "boom", "MASTERDOWN link".into()));
        let obs = c.failure(&e);
        assert_eq!(obs.status, Status::Down);
        assert!(
            obs.error
                .expect("error")
                .starts_with("Redis at redis://h:6379 ")
        );
    }

    #[test]
    fn authentication_failure_is_unknown() {
        let c = Connect::new("redis://h:6379", Some("hunter2".to_string()));
        let e = RedisError::from((
            redis::ErrorKind::AuthenticationFailed,
            "Password authentication failed",
        ));
        let obs = c.failure(&e);
        assert_eq!(obs.status, Status::Unknown);
        assert!(
            obs.error
                .expect("error")
                .contains("rejected the credentials")
        );
    }
}

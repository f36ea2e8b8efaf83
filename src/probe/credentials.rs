//! Secrets for the direct probes (Redis, RabbitMQ, PostgreSQL, MySQL): the password comes from
//! the environment variable the estate names in `password_env`, and every URL shown to a person
//! has its password stripped. Nothing here ever formats a password into a message.

use crate::model::Observation;

/// A `password_env` variable that is not set (or not valid UTF-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unset(pub String);

impl Unset {
    /// opsdeck cannot ask without the password, so the service is unknown; the message names
    /// the variable only.
    pub fn observation(&self) -> Observation {
        Observation::unknown(format!(
            "environment variable {} (password_env) is not set",
            self.0
        ))
    }
}

impl From<Unset> for Observation {
    fn from(u: Unset) -> Observation {
        u.observation()
    }
}

/// The password named by `password_env`, if the estate names one.
pub fn password(password_env: Option<&str>) -> Result<Option<String>, Unset> {
    password_from(password_env, |name| std::env::var(name).ok())
}

/// [`password`] with the environment given as a function (tests).
pub fn password_from(
    password_env: Option<&str>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, Unset> {
    let Some(name) = password_env else {
        return Ok(None);
    };
    lookup(name)
        .map(Some)
        .ok_or_else(|| Unset(name.to_string()))
}

/// The URL as it may be shown: any password in it is replaced by `***`. Text that does not
/// parse as a URL is cut at its last `@` so a password cannot leak through it either.
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() && parsed.set_password(Some("***")).is_err() {
                return "<url>".to_string();
            }
            let shown = parsed.to_string();
            // `Url` adds a trailing slash to a bare authority; keep the estate's spelling.
            if !url.ends_with('/') && parsed.path() == "/" {
                shown.trim_end_matches('/').to_string()
            } else {
                shown
            }
        }
        Err(_) => match url.rsplit_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => url.to_string(),
        },
    }
}

/// The password written in a URL (`redis://:pw@host`), percent-decoding left as written.
pub fn url_password(url: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()?
        .password()
        .map(str::to_string)
}

/// The secret to keep out of messages: the estate's password, else the URL's own.
pub fn secret_of(password: Option<&str>, url: &str) -> Option<String> {
    password.map(str::to_string).or_else(|| url_password(url))
}

/// Removes every occurrence of `secret` from a message (drivers sometimes echo what they were
/// given); a defence in depth on top of never formatting the password ourselves.
pub fn scrub(message: &str, secret: Option<&str>) -> String {
    match secret {
        Some(s) if s.len() >= 3 => message.replace(s, "***"),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    #[test]
    fn an_unset_variable_is_unknown_and_names_only_the_variable() {
        let obs = password_from(Some("REDIS_PASSWORD"), |_| None)
            .expect_err("unset")
            .observation();
        assert_eq!(obs.status, Status::Unknown);
        assert_eq!(
            obs.error.as_deref(),
            Some("environment variable REDIS_PASSWORD (password_env) is not set")
        );
    }

    #[test]
    fn a_set_variable_gives_its_value_and_none_means_no_password() {
        let got = password_from(Some("X"), |n| (n == "X").then(|| "s3cret".to_string()));
        assert_eq!(got.expect("set"), Some("s3cret".to_string()));
        assert_eq!(password_from(None, |_| None).expect("none"), None);
    }

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact("redis://:hunter2@10.0.0.5:6379/0"),
            "redis://:***@10.0.0.5:6379/0"
        );
        assert_eq!(
            redact("postgres://app:hunter2@db:5432/app?sslmode=require"),
            "postgres://app:***@db:5432/app?sslmode=require"
        );
        assert_eq!(redact("http://127.0.0.1:15672"), "http://127.0.0.1:15672");
        assert_eq!(redact("rediss://cache:6380"), "rediss://cache:6380");
        assert_eq!(redact("not a url user:pw@host"), "***@host");
    }

    #[test]
    fn the_secret_is_the_estates_password_or_the_urls() {
        assert_eq!(
            secret_of(None, "mysql://app:hunter2@db/app").as_deref(),
            Some("hunter2")
        );
        assert_eq!(
            secret_of(Some("env-pw"), "mysql://app:hunter2@db/app").as_deref(),
            Some("env-pw")
        );
        assert_eq!(secret_of(None, "mysql://app@db/app"), None);
    }

    #[test]
    fn scrub_removes_an_echoed_secret() {
        assert_eq!(
            scrub("bad password hunter2 given", Some("hunter2")),
            "bad password *** given"
        );
        assert_eq!(scrub("nothing", None), "nothing");
    }
}

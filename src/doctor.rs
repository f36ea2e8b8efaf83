//! `opsdeck doctor`: on a new bastion, check that everything the estate names can be
//! reached — Google credentials and each API, each kube context, each Redis, queue and
//! database with its secret present — plus the terminal and where the logs go. One line
//! per check with a fix hint; a failed backend check makes the exit code non-zero.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use crate::estate::{Estate, GcpAuth, Kind, Target};
use crate::model::{ServiceView, Status};
use crate::once;
use crate::probe::gcp;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Worth knowing, not a failure (e.g. no terminal).
    Warn,
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub verdict: Verdict,
    pub name: String,
    pub detail: String,
    pub fix: Option<String>,
}

impl Check {
    fn new(verdict: Verdict, name: impl Into<String>, detail: impl Into<String>) -> Self {
        Check {
            verdict,
            name: name.into(),
            detail: detail.into(),
            fix: None,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// The checks for an estate; `warnings` are the loader's (an unset password_env…).
pub async fn run(estate: Arc<Estate>, warnings: usize) -> Vec<Check> {
    let mut checks = vec![Check::new(
        Verdict::Pass,
        "estate",
        format!(
            "{}: \"{}\", {} services in {} regions{}",
            estate.source,
            estate.name,
            estate.services.len(),
            estate.regions.len(),
            if warnings > 0 {
                format!(", {warnings} warnings (see `opsdeck check`)")
            } else {
                String::new()
            }
        ),
    )];
    if estate.services.iter().any(|s| s.kind.is_google()) {
        checks.push(google_credentials(&estate));
    }
    let result = once::poll(Arc::clone(&estate), Duration::from_secs(20)).await;
    let snap = result.model.snapshot(chrono::Utc::now());
    checks.extend(backends(&estate, &snap.services));
    checks.extend(terminal());
    checks.push(match crate::logging::log_dir() {
        Some(dir) => Check::new(
            Verdict::Pass,
            "logs",
            format!("written to {}", dir.display()),
        ),
        None => Check::new(
            Verdict::Warn,
            "logs",
            "no state directory: logs are not kept",
        )
        .fix("set HOME or XDG_STATE_HOME"),
    });
    checks
}

fn google_credentials(estate: &Estate) -> Check {
    let auth = estate.gcp.as_ref().map_or(&GcpAuth::Adc, |g| &g.auth);
    match auth {
        GcpAuth::None => Check::new(
            Verdict::Pass,
            "Google credentials",
            "none (a loopback endpoint)",
        ),
        GcpAuth::Metadata(url) => Check::new(
            Verdict::Pass,
            "Google credentials",
            format!("the metadata server at {url}"),
        ),
        GcpAuth::Adc => {
            if let Ok(path) = std::env::var("GOOGLE_APPLICATION_CREDENTIALS") {
                let exists = std::path::Path::new(&path).exists();
                let detail = format!(
                    "GOOGLE_APPLICATION_CREDENTIALS = {path}{}",
                    account_of(&path)
                );
                if exists {
                    Check::new(Verdict::Pass, "Google credentials", detail)
                } else {
                    Check::new(
                        Verdict::Fail,
                        "Google credentials",
                        format!("{detail}, which does not exist"),
                    )
                    .fix("point GOOGLE_APPLICATION_CREDENTIALS at a key file, or unset it")
                }
            } else {
                let adc = directories::BaseDirs::new().map(|d| {
                    d.config_dir()
                        .join("gcloud/application_default_credentials.json")
                });
                match adc.filter(|p| p.exists()) {
                    Some(p) => Check::new(
                        Verdict::Pass,
                        "Google credentials",
                        format!("gcloud application-default login ({}){}", p.display(), account_of(&p.to_string_lossy())),
                    ),
                    None => Check::new(
                        Verdict::Warn,
                        "Google credentials",
                        "no key file and no gcloud login: only a GCE metadata server can give tokens",
                    )
                    .fix("run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS"),
                }
            }
        }
    }
}

/// ", account x@y" from a credentials file, when it names one.
fn account_of(path: &str) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return String::new();
    };
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else {
        return String::new();
    };
    match (
        doc.get("client_email").and_then(|v| v.as_str()),
        doc.get("type").and_then(|v| v.as_str()),
    ) {
        (Some(email), _) => format!(", account {email}"),
        (None, Some("authorized_user")) => ", a user login".to_string(),
        (None, Some(t)) => format!(", type {t}"),
        _ => String::new(),
    }
}

/// Which backend a service is reached through, for grouping.
fn backend(estate: &Estate, service: &crate::estate::Service) -> String {
    match &service.target {
        Target::K8sWorkload { context, .. } => format!(
            "Kubernetes {}",
            context
                .as_deref()
                .map_or_else(|| "current context".to_string(), |c| format!("context {c}"))
        ),
        Target::GcpRest { url, .. } => {
            let host = url
                .split("://")
                .nth(1)
                .and_then(|r| r.split('/').next())
                .unwrap_or(url);
            format!("Google API {host}")
        }
        _ if service.kind.is_google() => {
            let project = match &service.target {
                Target::CloudRun { project, .. }
                | Target::CloudSql { project, .. }
                | Target::CloudTasks { project, .. }
                | Target::Memorystore { project, .. }
                | Target::PubsubSubscription { project, .. } => project.as_str(),
                _ => "",
            };
            let _ = estate;
            format!("{} (project {project})", gcp::api_name(service.kind))
        }
        _ => kind_label(service.kind).to_string(),
    }
}

fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Redis | Kind::RedisQueue => "Redis",
        Kind::RabbitmqQueue => "RabbitMQ",
        Kind::Postgres => "PostgreSQL",
        Kind::Mysql => "MySQL",
        Kind::Http => "HTTP endpoints",
        Kind::Prometheus | Kind::Promql => "Prometheus",
        other => other.as_str(),
    }
}

fn backends(estate: &Estate, services: &[ServiceView]) -> Vec<Check> {
    let mut groups: BTreeMap<String, (usize, Vec<&ServiceView>)> = BTreeMap::new();
    for view in services {
        let Some(service) = estate.services.get(view.index) else {
            continue;
        };
        let entry = groups.entry(backend(estate, service)).or_default();
        entry.0 += 1;
        if view.status == Status::Unknown || view.stale {
            entry.1.push(view);
        }
    }
    groups
        .into_iter()
        .map(|(name, (total, failing))| {
            if failing.is_empty() {
                return Check::new(
                    Verdict::Pass,
                    name,
                    format!("reachable: {total} of {total} answered"),
                );
            }
            let first = failing[0];
            let why = first.error.clone().unwrap_or_else(|| first.summary.clone());
            let check = Check::new(
                Verdict::Fail,
                name,
                format!(
                    "{} of {total} could not be asked; {}: {why}",
                    failing.len(),
                    first.id
                ),
            );
            match fix_for(&why) {
                Some(fix) => check.fix(fix),
                None => check,
            }
        })
        .collect()
}

/// A fix hint for the common reasons a backend cannot be asked.
fn fix_for(why: &str) -> Option<String> {
    if let Some(var) = why
        .strip_prefix("environment variable ")
        .and_then(|r| r.split_whitespace().next())
    {
        return Some(format!(
            "export {var}=… (the secret this service's password_env names)"
        ));
    }
    if why.contains("has not been used")
        || why.contains("SERVICE_DISABLED")
        || why.contains("is disabled")
    {
        let api = why
            .split_whitespace()
            .find(|w| w.ends_with(".googleapis.com") || w.ends_with(".googleapis.com,"))
            .map_or("<api>.googleapis.com", |w| w.trim_end_matches(','));
        return Some(format!("gcloud services enable {api}"));
    }
    if why.contains("401") || why.contains("credentials") {
        return Some("refresh credentials: gcloud auth application-default login".to_string());
    }
    if why.contains("403") || why.contains("PERMISSION_DENIED") {
        return Some("grant the account a viewer role on the project".to_string());
    }
    if why.contains("kubeconfig") || why.contains("context") {
        return Some(
            "check `kubectl config get-contexts` and the estate's kube_context".to_string(),
        );
    }
    if why.contains("refused") || why.contains("unreachable") || why.contains("cannot connect") {
        return Some("check the address, the firewall and that the server runs".to_string());
    }
    None
}

fn terminal() -> Vec<Check> {
    let mut out = Vec::new();
    if !std::io::stdout().is_terminal() {
        out.push(Check::new(
            Verdict::Warn,
            "terminal",
            "stdout is not a terminal (fine for --once and scripts)",
        ));
        return out;
    }
    let term = std::env::var("TERM").unwrap_or_default();
    let colours = if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        "NO_COLOR set: no colours, glyphs and words only".to_string()
    } else if std::env::var("COLORTERM")
        .is_ok_and(|c| c.contains("truecolor") || c.contains("24bit"))
    {
        "24-bit colour".to_string()
    } else if term.contains("256color") {
        "256 colours".to_string()
    } else {
        format!("basic colours (TERM={term})")
    };
    out.push(Check::new(Verdict::Pass, "terminal colours", colours));
    let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_default();
    let utf8 = locale.to_uppercase().replace('-', "").contains("UTF8");
    out.push(if utf8 {
        Check::new(
            Verdict::Pass,
            "terminal glyphs",
            format!("UTF-8 locale ({locale})"),
        )
    } else {
        Check::new(
            Verdict::Warn,
            "terminal glyphs",
            format!("locale \"{locale}\" is not UTF-8: status glyphs may not show"),
        )
        .fix("export LANG=C.UTF-8")
    });
    out.push(match crossterm::terminal::size() {
        Ok((w, h)) if w >= 80 && h >= 24 => {
            Check::new(Verdict::Pass, "terminal size", format!("{w}×{h}"))
        }
        Ok((w, h)) => Check::new(
            Verdict::Warn,
            "terminal size",
            format!("{w}×{h}, smaller than 80×24"),
        )
        .fix("enlarge the window"),
        Err(e) => Check::new(Verdict::Warn, "terminal size", format!("unknown: {e}")),
    });
    out
}

/// The report, one line per check.
pub fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    let width = checks
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0);
    for c in checks {
        let mark = match c.verdict {
            Verdict::Pass => "ok  ",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        };
        let pad = width - c.name.chars().count();
        let _ = write!(
            out,
            "{mark}  {}{}  {}",
            c.name,
            " ".repeat(pad),
            crate::ui::text::sanitize(&c.detail)
        );
        if let Some(fix) = &c.fix {
            let _ = write!(out, "\n      {}  fix: {fix}", " ".repeat(width));
        }
        out.push('\n');
    }
    let failed = checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
    let _ = writeln!(
        out,
        "{}",
        if failed == 0 {
            "all backend checks passed".to_string()
        } else {
            format!(
                "{failed} check{} failed",
                if failed == 1 { "" } else { "s" }
            )
        }
    );
    out
}

/// The exit code: non-zero when a check failed.
pub fn exit_code(checks: &[Check]) -> u8 {
    u8::from(checks.iter().any(|c| c.verdict == Verdict::Fail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixes_for_common_reasons() {
        assert_eq!(
            fix_for("environment variable REDIS_PASSWORD (password_env) is not set").as_deref(),
            Some("export REDIS_PASSWORD=… (the secret this service's password_env names)")
        );
        assert_eq!(
            fix_for("Cloud SQL Admin API answered 403 PERMISSION_DENIED: Cloud SQL Admin API has not been used in project 12 before or it is disabled. Enable it by visiting sqladmin.googleapis.com").as_deref(),
            Some("gcloud services enable sqladmin.googleapis.com")
        );
        assert!(fix_for("connection refused").is_some());
    }

    #[test]
    fn a_failed_check_makes_the_exit_non_zero_and_warnings_do_not() {
        let pass = Check::new(Verdict::Pass, "a", "fine");
        let warn = Check::new(Verdict::Warn, "b", "no tty");
        assert_eq!(exit_code(&[pass.clone(), warn]), 0);
        let fail = Check::new(Verdict::Fail, "c", "refused").fix("start it");
        assert_eq!(exit_code(&[pass, fail.clone()]), 1);
        let text = render(&[fail]);
        assert!(text.contains("FAIL  c  refused"), "{text}");
        assert!(text.contains("fix: start it"), "{text}");
    }
}

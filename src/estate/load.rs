//! Reads an estate file and turns it into a validated [`Estate`], reporting every problem
//! (syntax, unknown keys, wrong types, unknown kinds, dangling ids, duplicates, cycles) in one
//! run with file, line, column, key and the bad value in quotes.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use toml::Spanned;

use super::graph::check_graph;
use super::node::{self, Node, Table};
use super::reader::{Ctx, Fields};
use super::resolve::resolve_services;
use super::service::read_service_raw;
use super::{Estate, Gcp, GcpAuth, Region};

/// How bad a diagnostic is: errors make the estate unusable, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
}

/// One problem found in an estate file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub level: Level,
    pub file: String,
    /// 1-based; 0 when the problem has no single place.
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        if self.line == 0 {
            write!(f, "{}: {level}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {level}: {}",
                self.file, self.line, self.col, self.message
            )
        }
    }
}

/// Why an estate could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read estate file '{path}': {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{}", render_invalid(.diagnostics))]
    Invalid { diagnostics: Vec<Diagnostic> },
}

fn render_invalid(diags: &[Diagnostic]) -> String {
    let errors = diags.iter().filter(|d| d.level == Level::Error).count();
    let mut out: Vec<String> = diags.iter().map(ToString::to_string).collect();
    out.push(format!(
        "{errors} error{} in {}",
        if errors == 1 { "" } else { "s" },
        diags.first().map_or("the estate", |d| d.file.as_str())
    ));
    out.join("\n")
}

/// Reads and validates an estate file; warnings come back with the estate.
pub fn load_file(path: &Path) -> Result<(Estate, Vec<Diagnostic>), LoadError> {
    let source = std::fs::read_to_string(path).map_err(|e| LoadError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    from_str(&source, &path.display().to_string())
}

/// Validates estate text, reading `password_env` variables from the process environment.
pub fn from_str(source: &str, file: &str) -> Result<(Estate, Vec<Diagnostic>), LoadError> {
    from_str_with_env(source, file, &|name| std::env::var(name).ok())
}

/// Validates estate text with an explicit environment (pure; used by tests).
pub fn from_str_with_env(
    source: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Estate, Vec<Diagnostic>), LoadError> {
    let mut ctx = Ctx {
        file,
        source,
        diags: Vec::new(),
    };
    let table = match node::parse(source) {
        Ok(t) => t,
        Err((message, span)) => {
            ctx.push(
                Level::Error,
                span,
                format!("not valid TOML: {}", first_line(&message)),
            );
            return Err(LoadError::Invalid {
                diagnostics: ctx.diags,
            });
        }
    };
    let estate = read_estate(&mut ctx, &table, file, env);
    if ctx.has_errors() {
        Err(LoadError::Invalid {
            diagnostics: ctx.diags,
        })
    } else {
        let estate = estate.ok_or_else(|| LoadError::Invalid {
            diagnostics: ctx.diags.clone(),
        })?;
        Ok((estate, ctx.diags))
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

const TOP_KEYS: &[&str] = &[
    "name",
    "environment",
    "rto",
    "rpo",
    "read_only",
    "lease",
    "sev_names",
    "gcp",
    "kubeconfig",
    "region",
    "service",
    "maintenance",
];

fn read_estate(
    ctx: &mut Ctx,
    table: &Table,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<Estate> {
    let whole = 0..0;
    let mut top = Fields::new(table, "the estate".to_string(), whole);
    let name = top.required_string(ctx, "name").map(Spanned::into_inner);
    let environment = top
        .string(ctx, "environment")
        .map_or_else(|| "prod".to_string(), Spanned::into_inner);
    let rto = top.duration(ctx, "rto");
    let rpo = top.duration(ctx, "rpo");
    let read_only = top.bool(ctx, "read_only").unwrap_or(false);
    let lease = top
        .get("lease")
        .map(|v| super::lease::read_lease(ctx, v))
        .unwrap_or_default();
    let sev_names = read_sev_names(ctx, &mut top);
    let gcp = top.get("gcp").and_then(|v| read_gcp(ctx, v));
    let kubeconfig = top
        .string(ctx, "kubeconfig")
        .map(|p| expand_home(p.get_ref()));
    let regions = read_array(ctx, &mut top, "region", read_region);
    let raw_services = read_array(ctx, &mut top, "service", |ctx, t, span| {
        Some(read_service_raw(ctx, t, span))
    });
    let ids: Vec<String> = raw_services
        .iter()
        .filter_map(|s| s.id.as_ref().map(|i| i.get_ref().clone()))
        .collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let maintenance = read_array(ctx, &mut top, "maintenance", |ctx, t, span| {
        super::maintenance::read_maintenance(ctx, t, span, &ids)
    });
    top.finish(ctx, TOP_KEYS, &|key| {
        matches!(key, "services" | "regions")
            .then(|| format!(" (write [[{}]] for each one)", key.trim_end_matches('s')))
    });

    let regions = check_regions(ctx, regions);
    check_graph(ctx, &raw_services);
    let services = resolve_services(ctx, raw_services, &regions, gcp.as_ref(), env);
    ctx.diags.sort_by_key(|d| (d.line, d.col));

    Some(Estate {
        source: file.to_string(),
        name: name?,
        environment,
        rto,
        rpo,
        read_only,
        lease,
        sev_names,
        gcp,
        kubeconfig,
        regions: regions.into_iter().map(|(r, _)| r).collect(),
        services: services.into_iter().map(|s| s.service).collect(),
        maintenance,
    })
}

/// `~/x` → the home directory's `x`.
fn expand_home(path: &str) -> std::path::PathBuf {
    match (path.strip_prefix("~/"), directories::BaseDirs::new()) {
        (Some(rest), Some(dirs)) => dirs.home_dir().join(rest),
        _ => std::path::PathBuf::from(path),
    }
}

fn read_sev_names(ctx: &mut Ctx, top: &mut Fields) -> [String; 4] {
    let default = ["SEV1", "SEV2", "SEV3", "SEV4"].map(String::from);
    let span = top.get("sev_names").map(Spanned::span);
    match (top.strings(ctx, "sev_names"), span) {
        (Some(names), Some(span)) => {
            if let Ok(arr) = <[String; 4]>::try_from(names.clone()) {
                arr
            } else {
                ctx.error(
                    span,
                    format!(
                        "the estate: key 'sev_names' must name exactly 4 levels, found {}",
                        names.len()
                    ),
                );
                default
            }
        }
        _ => default,
    }
}

fn read_array<T>(
    ctx: &mut Ctx,
    top: &mut Fields,
    key: &str,
    read: impl Fn(&mut Ctx, &Table, std::ops::Range<usize>) -> Option<T>,
) -> Vec<T> {
    let Some(v) = top.get(key) else {
        return Vec::new();
    };
    let Node::Array(items) = v.get_ref() else {
        ctx.error(
            v.span(),
            format!("the estate: '{key}' must be written as [[{key}]] tables"),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        if let Node::Table(t) = item.get_ref() {
            if let Some(x) = read(ctx, t, item.span()) {
                out.push(x);
            }
        } else {
            ctx.error(
                item.span(),
                format!(
                    "the estate: each '{key}' must be a table, found {}",
                    item.get_ref().type_name()
                ),
            );
        }
    }
    out
}

fn is_loopback_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    let host = rest.split('/').next().unwrap_or("");
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.split(']').next())
        .unwrap_or_else(|| host.rsplit_once(':').map_or(host, |(h, _)| h));
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn read_gcp(ctx: &mut Ctx, v: &Spanned<Node>) -> Option<Gcp> {
    let Node::Table(t) = v.get_ref() else {
        ctx.error(v.span(), "the estate: [gcp] must be a table".to_string());
        return None;
    };
    let mut f = Fields::new(t, "[gcp]".to_string(), v.span());
    let project = f.string(ctx, "project").map(Spanned::into_inner);
    let endpoint = f
        .string(ctx, "endpoint")
        .map(|s| s.into_inner().trim_end_matches('/').to_string());
    let metadata = f.string(ctx, "metadata_endpoint");
    let auth_raw = f.string(ctx, "auth");
    let auth = match auth_raw.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("adc") => match metadata {
            Some(m) => GcpAuth::Metadata(m.into_inner().trim_end_matches('/').to_string()),
            None => GcpAuth::Adc,
        },
        Some("metadata") => {
            if let Some(m) = metadata {
                GcpAuth::Metadata(m.into_inner().trim_end_matches('/').to_string())
            } else {
                f.missing(ctx, "metadata_endpoint", " (auth = \"metadata\" needs it)");
                GcpAuth::Adc
            }
        }
        Some("none") => {
            let loopback = endpoint.as_deref().is_some_and(is_loopback_url);
            if !loopback {
                let span = auth_raw.as_ref().map_or(v.span(), Spanned::span);
                ctx.error(
                    span,
                    format!(
                        "[gcp]: auth = \"none\" is only allowed with a loopback 'endpoint' (a local simulator), but endpoint is {}",
                        endpoint
                            .as_deref()
                            .map_or_else(|| "not set".to_string(), |e| format!("\"{e}\""))
                    ),
                );
            }
            GcpAuth::None
        }
        Some(other) => {
            let span = auth_raw.as_ref().map_or(v.span(), Spanned::span);
            let case = if ["adc", "metadata", "none"].contains(&other.to_lowercase().as_str()) {
                " (in lower case)"
            } else {
                ""
            };
            ctx.error(
                span,
                format!(
                    "[gcp]: key 'auth' is \"{other}\"; use \"adc\", \"metadata\" or \"none\"{case}"
                ),
            );
            GcpAuth::Adc
        }
    };
    f.finish(
        ctx,
        &["project", "endpoint", "auth", "metadata_endpoint"],
        &|_| None,
    );
    Some(Gcp {
        project,
        endpoint,
        auth,
    })
}

fn read_region(
    ctx: &mut Ctx,
    t: &Table,
    span: std::ops::Range<usize>,
) -> Option<(Region, std::ops::Range<usize>)> {
    let mut f = Fields::new(t, "[[region]]".to_string(), span.clone());
    let id = f.required_string(ctx, "id");
    if let Some(id) = &id {
        f.what = format!("region \"{}\"", id.get_ref());
    }
    let gcp_region = f.string(ctx, "gcp_region").map(Spanned::into_inner);
    let project = f.string(ctx, "project").map(Spanned::into_inner);
    let kube_context = f.string(ctx, "kube_context").map(Spanned::into_inner);
    f.finish(
        ctx,
        &["id", "gcp_region", "project", "kube_context"],
        &|key| {
            matches!(key, "location" | "region" | "gcp_location")
                .then(|| " (the GCP region is written 'gcp_region')".to_string())
        },
    );
    let id = id?;
    Some((
        Region {
            id: id.get_ref().clone(),
            gcp_region,
            project,
            kube_context,
        },
        id.span(),
    ))
}

fn check_regions(
    ctx: &mut Ctx,
    regions: Vec<(Region, std::ops::Range<usize>)>,
) -> Vec<(Region, std::ops::Range<usize>)> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for (r, span) in regions {
        if let Some(first) = seen.get(&r.id) {
            let (line, _) = node::line_col(ctx.source, *first);
            ctx.error(
                span,
                format!(
                    "region id \"{}\" is declared twice (first at line {line})",
                    r.id
                ),
            );
            continue;
        }
        seen.insert(r.id.clone(), span.start);
        out.push((r, span));
    }
    out
}

/// A service as read, before cross-checks: the typed parts plus what needs the whole estate.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::estate::Target;
    use std::time::Duration;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn errors(src: &str) -> Vec<String> {
        match from_str_with_env(src, "e.toml", &no_env) {
            Ok(_) => Vec::new(),
            Err(LoadError::Invalid { diagnostics }) => diagnostics
                .into_iter()
                .filter(|d| d.level == Level::Error)
                .map(|d| d.to_string())
                .collect(),
            Err(e) => vec![e.to_string()],
        }
    }

    const BASE: &str = r#"
name = "t"
[gcp]
project = "p"
[[region]]
id = "eu"
gcp_region = "europe-west1"
"#;

    #[test]
    fn a_small_estate_loads() {
        let src = format!(
            "{BASE}{}",
            r#"
[[service]]
id = "api"
kind = "cloud_run"
region = "eu"
service = "tappass"
sev = 1
depends_on = [{ id = "sql" }, { id = "kms", fallback = "cached DEK", fallback_for = "10m" }]

[[service]]
id = "sql"
kind = "cloud_sql"
instance = "db"
sev = 1

[[service]]
id = "kms"
kind = "gcp_rest"
url = "https://cloudkms.googleapis.com/v1/x"
up_when = 'primary.state == "ENABLED"'
sev = 1
"#
        );
        let (estate, warnings) = from_str_with_env(&src, "e.toml", &no_env).expect("valid");
        assert!(warnings.is_empty());
        assert_eq!(estate.services.len(), 3);
        let api = estate.service("api").expect("api");
        assert_eq!(
            api.target,
            Target::CloudRun {
                project: "p".into(),
                location: "europe-west1".into(),
                service: "tappass".into()
            }
        );
        assert_eq!(
            api.depends_on[1].fallback_for,
            Some(Duration::from_secs(600))
        );
        assert_eq!(estate.environment, "prod");
    }

    #[test]
    fn reports_every_graph_problem_in_one_run() {
        let src = format!(
            "{BASE}{}",
            r#"
[[service]]
id = "a"
kind = "http"
url = "http://x/"
sev = 2
depends_on = ["b", "zzz"]

[[service]]
id = "b"
kind = "http"
url = "http://x/"
sev = 2
depends_on = ["a"]

[[service]]
id = "a"
kind = "http"
url = "http://x/"
sev = 2
"#
        );
        let errs = errors(&src);
        assert!(
            errs.iter()
                .any(|e| e.contains("\"zzz\", which is not a service")),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.contains("dependency cycle: \"a\" → \"b\" → \"a\"")),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.contains("service id \"a\" is defined twice (first at line")),
            "{errs:?}"
        );
    }

    #[test]
    fn unset_password_env_is_a_warning_only() {
        let src = r#"
name = "t"
[[service]]
id = "r"
kind = "redis"
url = "redis://127.0.0.1:6379"
password_env = "OPSDECK_TEST_SURELY_UNSET"
sev = 3
"#;
        let (_, warnings) = from_str_with_env(src, "e.toml", &no_env).expect("valid");
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0]
                .to_string()
                .contains("\"OPSDECK_TEST_SURELY_UNSET\"")
        );
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback_url("http://127.0.0.1:8085"));
        assert!(is_loopback_url("http://localhost:1/x"));
        assert!(is_loopback_url("http://[::1]:80"));
        assert!(!is_loopback_url("https://sqladmin.googleapis.com"));
        assert!(!is_loopback_url("http://10.0.0.1:80"));
    }
}

//! Reads an estate file and turns it into a validated [`Estate`], reporting every problem
//! (syntax, unknown keys, wrong types, unknown kinds, dangling ids, duplicates, cycles) in one
//! run with file, line, column, key and the bad value in quotes.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::kind::{COMMON_KEYS, Kind};
use super::node::{self, Node, Table};
use super::reader::{Ctx, Fields, closest};
use super::{
    Dependency, Estate, Gcp, GcpAuth, QueueFormat, Region, Service, Sev, Target, Thresholds,
    WorkloadKind,
};
use crate::condition::Condition;

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
    "sev_names",
    "gcp",
    "region",
    "service",
];

const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

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
    let sev_names = read_sev_names(ctx, &mut top);
    let gcp = top.get("gcp").and_then(|v| read_gcp(ctx, v));
    let regions = read_array(ctx, &mut top, "region", read_region);
    let raw_services = read_array(ctx, &mut top, "service", |ctx, t, span| {
        Some(read_service_raw(ctx, t, span))
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
        sev_names,
        gcp,
        regions: regions.into_iter().map(|(r, _)| r).collect(),
        services: services.into_iter().map(|s| s.service).collect(),
    })
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
struct RawService {
    id: Option<Spanned<String>>,
    span: std::ops::Range<usize>,
    name: Option<String>,
    kind: Option<Kind>,
    region: Option<Spanned<String>>,
    sev: Option<Sev>,
    fallback: Option<String>,
    deps: Vec<(Dependency, std::ops::Range<usize>)>,
    owner: Option<String>,
    escalation: Option<String>,
    runbooks: Vec<String>,
    interval: Option<Duration>,
    timeout: Option<Duration>,
    locator: Locator,
}

/// The kind-specific keys, read but not yet resolved against regions and `[gcp]`.
#[derive(Default)]
struct Locator {
    project: Option<String>,
    strings: BTreeMap<&'static str, Spanned<String>>,
    thresholds: Thresholds,
    warn_span: Option<std::ops::Range<usize>>,
    expect_status: Option<u16>,
    max_latency: Option<Duration>,
}

const STRING_KEYS: &[&str] = &[
    "service",
    "instance",
    "queue",
    "url",
    "up_when",
    "degraded_when",
    "subscription",
    "namespace",
    "workload",
    "password_env",
    "sentinel_master",
    "format",
    "vhost",
    "user",
    "metric",
    "query",
];

fn read_service_raw(ctx: &mut Ctx, t: &Table, span: std::ops::Range<usize>) -> RawService {
    let mut f = Fields::new(t, "[[service]]".to_string(), span.clone());
    let id = f.required_string(ctx, "id");
    if let Some(id) = &id {
        f.what = format!("service \"{}\"", id.get_ref());
        check_id_syntax(ctx, id, "service");
    }
    let name = f.string(ctx, "name").map(Spanned::into_inner);
    if !f.has("kind") {
        f.missing(
            ctx,
            "kind",
            &format!(" (one of: {})", Kind::ALL.map(Kind::as_str).join(", ")),
        );
    }
    let kind_raw = f.string(ctx, "kind");
    let kind = kind_raw.as_ref().and_then(|k| {
        let parsed = Kind::parse(k.get_ref());
        if parsed.is_none() {
            let hint = closest(k.get_ref(), Kind::ALL.iter().map(|k| k.as_str()))
                .map_or_else(String::new, |s| format!("did you mean '{s}'? "));
            ctx.error(
                k.span(),
                format!(
                    "{}: unknown kind \"{}\" ({hint}known kinds: {})",
                    f.what,
                    k.get_ref(),
                    Kind::ALL.map(Kind::as_str).join(", ")
                ),
            );
        }
        parsed
    });
    let region = f.string(ctx, "region");
    let sev = f.int(ctx, "sev").and_then(|v| {
        let s = u8::try_from(*v.get_ref()).ok().and_then(Sev::new);
        if s.is_none() {
            ctx.error(
                v.span(),
                format!(
                    "{}: key 'sev' must be 1 (worst) to 4, found {}",
                    f.what,
                    v.get_ref()
                ),
            );
        }
        s
    });
    if sev.is_none() && !f.has("sev") {
        f.missing(ctx, "sev", " (1 = whole platform down … 4 = minor)");
    }
    let fallback = f.string(ctx, "fallback").map(Spanned::into_inner);
    let deps = f
        .get("depends_on")
        .map(|v| read_deps(ctx, &f.what, v))
        .unwrap_or_default();
    let owner = f.string(ctx, "owner").map(Spanned::into_inner);
    let escalation = f.string(ctx, "escalation").map(Spanned::into_inner);
    let runbooks = f.strings(ctx, "runbooks").unwrap_or_default();
    let interval = f.duration(ctx, "interval");
    let timeout = f.duration(ctx, "timeout");

    let mut locator = Locator {
        project: f.string(ctx, "project").map(Spanned::into_inner),
        ..Locator::default()
    };
    for key in STRING_KEYS {
        if let Some(v) = f.string(ctx, key) {
            locator.strings.insert(key, v);
        }
    }
    locator.warn_span = f.get("warn_depth").map(Spanned::span);
    locator.thresholds = Thresholds {
        warn_depth: f.count(ctx, "warn_depth"),
        crit_depth: f.count(ctx, "crit_depth"),
        max_oldest_age: f.duration(ctx, "max_oldest_age"),
    };
    if let Some(v) = f.int(ctx, "expect_status") {
        match u16::try_from(*v.get_ref()) {
            Ok(code) if (100..=599).contains(&code) => locator.expect_status = Some(code),
            _ => ctx.error(
                v.span(),
                format!(
                    "{}: key 'expect_status' must be an HTTP status 100–599, found {}",
                    f.what,
                    v.get_ref()
                ),
            ),
        }
    }
    locator.max_latency = f.duration(ctx, "max_latency");

    if let Some(kind) = kind {
        check_kind_keys(ctx, &f, t, kind);
    }
    let mut all_keys: Vec<&str> = COMMON_KEYS.to_vec();
    all_keys.extend(STRING_KEYS);
    all_keys.extend([
        "project",
        "warn_depth",
        "crit_depth",
        "max_oldest_age",
        "expect_status",
        "max_latency",
    ]);
    let what = f.what.clone();
    f.finish(ctx, &all_keys, &|_| None);
    let _ = what;
    RawService {
        id,
        span,
        name,
        kind,
        region,
        sev,
        fallback,
        deps,
        owner,
        escalation,
        runbooks,
        interval,
        timeout,
        locator,
    }
}

fn check_id_syntax(ctx: &mut Ctx, id: &Spanned<String>, what: &str) {
    let ok = !id.get_ref().is_empty()
        && id
            .get_ref()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        ctx.error(
            id.span(),
            format!(
                "{what} id \"{}\" may use only letters, digits, '-', '_' and '.' (it is typed to confirm actions)",
                id.get_ref()
            ),
        );
    }
}

/// Keys present that this kind does not take, and keys it needs that are missing.
fn check_kind_keys(ctx: &mut Ctx, f: &Fields, t: &Table, kind: Kind) {
    for key in t.keys() {
        let name = key.get_ref().as_str();
        let known_elsewhere = Kind::ALL.iter().any(|k| k.allows(name));
        if known_elsewhere && !kind.allows(name) {
            let mut takes: Vec<&str> = kind.required_keys().to_vec();
            takes.extend(kind.optional_keys());
            ctx.error(
                key.span(),
                format!(
                    "{}: key '{name}' does not apply to kind '{kind}' (it takes: {})",
                    f.what,
                    takes.join(", ")
                ),
            );
        }
    }
    for key in kind.required_keys() {
        if !f.has(key) {
            f.missing(ctx, key, &format!(" (kind '{kind}' needs it)"));
        }
    }
}

fn read_deps(
    ctx: &mut Ctx,
    what: &str,
    v: &Spanned<Node>,
) -> Vec<(Dependency, std::ops::Range<usize>)> {
    let Node::Array(items) = v.get_ref() else {
        ctx.error(
            v.span(),
            format!(
                "{what}: key 'depends_on' must be an array like [{{ id = \"sql\" }}, \"vpc\"], found {} {}",
                v.get_ref().type_name(),
                v.get_ref().shown()
            ),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        match item.get_ref() {
            Node::Str(id) => out.push((
                Dependency {
                    id: id.clone(),
                    fallback: None,
                    fallback_for: None,
                },
                item.span(),
            )),
            Node::Table(t) => {
                let mut f = Fields::new(t, format!("{what}, depends_on entry"), item.span());
                let id = f.required_string(ctx, "id");
                if let Some(id) = &id {
                    f.what = format!("{what}, depends_on entry \"{}\"", id.get_ref());
                }
                let fallback = f.string(ctx, "fallback").map(Spanned::into_inner);
                let for_span = f.get("fallback_for").map(Spanned::span);
                let fallback_for = f.duration(ctx, "fallback_for");
                if let (Some(span), None) = (for_span, &fallback) {
                    ctx.error(
                        span,
                        format!("{}: 'fallback_for' says how long a fallback holds, but this edge names no 'fallback'", f.what),
                    );
                }
                f.finish(ctx, &["id", "fallback", "fallback_for"], &|_| None);
                if let Some(id) = id {
                    out.push((
                        Dependency {
                            id: id.get_ref().clone(),
                            fallback,
                            fallback_for,
                        },
                        id.span(),
                    ));
                }
            }
            other => ctx.error(
                item.span(),
                format!(
                    "{what}: each depends_on entry must be an id or a table, found {}",
                    other.type_name()
                ),
            ),
        }
    }
    out
}

struct Resolved {
    service: Service,
}

fn resolve_services(
    ctx: &mut Ctx,
    raws: Vec<RawService>,
    regions: &[(Region, std::ops::Range<usize>)],
    gcp: Option<&Gcp>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<Resolved> {
    let mut out = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for raw in raws {
        let (Some(id), Some(kind), Some(sev)) = (raw.id.clone(), raw.kind, raw.sev) else {
            continue;
        };
        let what = format!("service \"{}\"", id.get_ref());
        if let Some(first) = seen.get(id.get_ref()) {
            let (line, _) = node::line_col(ctx.source, *first);
            ctx.error(
                id.span(),
                format!(
                    "service id \"{}\" is defined twice (first at line {line})",
                    id.get_ref()
                ),
            );
            continue;
        }
        seen.insert(id.get_ref().clone(), id.span().start);
        let region = match &raw.region {
            Some(r) => {
                if let Some((region, _)) = regions.iter().find(|(x, _)| x.id == *r.get_ref()) {
                    Some(region)
                } else {
                    let known: Vec<&str> = regions.iter().map(|(x, _)| x.id.as_str()).collect();
                    ctx.error(
                        r.span(),
                        format!(
                            "{what}: region \"{}\" is not declared in any [[region]] (declared: {})",
                            r.get_ref(),
                            if known.is_empty() { "none".to_string() } else { known.join(", ") }
                        ),
                    );
                    None
                }
            }
            None => None,
        };
        let Some(target) = resolve_target(ctx, &raw, &what, kind, region, gcp, env) else {
            continue;
        };
        out.push(Resolved {
            service: Service {
                id: id.get_ref().clone(),
                name: raw.name.clone().unwrap_or_else(|| id.get_ref().clone()),
                kind,
                region: raw.region.as_ref().map(|r| r.get_ref().clone()),
                sev,
                fallback: raw.fallback.clone(),
                depends_on: raw.deps.iter().map(|(d, _)| d.clone()).collect(),
                owner: raw.owner.clone(),
                escalation: raw.escalation.clone(),
                runbooks: raw.runbooks.clone(),
                interval: raw.interval.unwrap_or(DEFAULT_INTERVAL),
                timeout: raw.timeout.unwrap_or(DEFAULT_TIMEOUT),
                target,
            },
        });
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn resolve_target(
    ctx: &mut Ctx,
    raw: &RawService,
    what: &str,
    kind: Kind,
    region: Option<&Region>,
    gcp: Option<&Gcp>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<Target> {
    let loc = &raw.locator;
    let s = |key: &str| loc.strings.get(key).map(|v| v.get_ref().clone());
    let span_of = |key: &str| loc.strings.get(key).map_or(raw.span.clone(), Spanned::span);
    let mut ok = true;

    let project = |ctx: &mut Ctx| -> Option<String> {
        let p = loc
            .project
            .clone()
            .or_else(|| region.and_then(|r| r.project.clone()))
            .or_else(|| gcp.and_then(|g| g.project.clone()));
        if p.is_none() {
            ctx.error(
                raw.span.clone(),
                format!("{what} (kind '{kind}') needs a Google project: set 'project' on it, on its region, or in [gcp]"),
            );
        }
        p
    };
    let location = |ctx: &mut Ctx| -> Option<String> {
        let loc = region.and_then(|r| r.gcp_region.clone());
        if loc.is_none()
            && let Some(r) = region
        {
            ctx.error(
                raw.span.clone(),
                format!(
                    "{what} (kind '{kind}'): its region \"{}\" has no 'gcp_region'",
                    r.id
                ),
            );
        }
        loc
    };

    let bad_condition = std::cell::Cell::new(false);
    let condition = |ctx: &mut Ctx, key: &str| -> Option<String> {
        let text = s(key)?;
        if let Err(e) = Condition::parse(&text) {
            let quoted = if text.contains('"') {
                format!("'{text}'")
            } else {
                format!("\"{text}\"")
            };
            // Point at the offending character: past the opening quote, when the string
            // is written on one line.
            let span = span_of(key);
            let at = span.start
                + 1
                + text
                    .chars()
                    .take(e.position)
                    .map(char::len_utf8)
                    .sum::<usize>();
            let at = if at < span.end { at } else { span.start };
            ctx.error(
                at..at,
                format!(
                    "{what}: key '{key}' is {quoted}, which does not parse: {}",
                    e.message
                ),
            );
            bad_condition.set(true);
        }
        Some(text)
    };

    if let Some(var) = s("password_env")
        && env(&var).is_none()
    {
        ctx.warning(
                span_of("password_env"),
                format!("{what}: environment variable \"{var}\" (password_env) is not set; the probe will report it"),
            );
    }
    let url = s("url");
    if let Some(u) = &url
        && !u.contains("://")
    {
        ctx.error(
                span_of("url"),
                format!("{what}: key 'url' is \"{u}\", which has no scheme (like \"https://\" or \"redis://\")"),
            );
        ok = false;
    }
    let th = loc.thresholds;
    if let (Some(w), Some(c)) = (th.warn_depth, th.crit_depth)
        && w > c
    {
        ctx.error(
            loc.warn_span.clone().unwrap_or_else(|| raw.span.clone()),
            format!("{what}: warn_depth ({w}) is above crit_depth ({c})"),
        );
    }

    let target = match kind {
        Kind::CloudRun => Target::CloudRun {
            project: project(ctx)?,
            location: location(ctx)?,
            service: s("service")?,
        },
        Kind::CloudSql => Target::CloudSql {
            project: project(ctx)?,
            instance: s("instance")?,
        },
        Kind::CloudTasks => Target::CloudTasks {
            project: project(ctx)?,
            location: location(ctx)?,
            queue: s("queue")?,
            thresholds: th,
        },
        Kind::Memorystore => Target::Memorystore {
            project: project(ctx)?,
            location: location(ctx)?,
            instance: s("instance")?,
        },
        Kind::GcpRest => Target::GcpRest {
            url: url?,
            up_when: condition(ctx, "up_when")?,
            degraded_when: condition(ctx, "degraded_when"),
        },
        Kind::PubsubSubscription => Target::PubsubSubscription {
            project: project(ctx)?,
            subscription: s("subscription")?,
            thresholds: th,
        },
        Kind::K8sWorkload => {
            let text = s("workload")?;
            let parsed = text.split_once('/').and_then(|(k, n)| {
                let wk = match k {
                    "deployment" | "deploy" => WorkloadKind::Deployment,
                    "statefulset" | "sts" => WorkloadKind::StatefulSet,
                    "daemonset" | "ds" => WorkloadKind::DaemonSet,
                    _ => return None,
                };
                (!n.is_empty()).then(|| (wk, n.to_string()))
            });
            let Some((workload, name)) = parsed else {
                ctx.error(
                    span_of("workload"),
                    format!("{what}: key 'workload' is \"{text}\"; write it as \"deployment/NAME\", \"statefulset/NAME\" or \"daemonset/NAME\""),
                );
                return None;
            };
            Target::K8sWorkload {
                context: region.and_then(|r| r.kube_context.clone()),
                namespace: s("namespace")?,
                workload,
                name,
            }
        }
        Kind::Redis => Target::Redis {
            url: url?,
            password_env: s("password_env"),
            sentinel_master: s("sentinel_master"),
        },
        Kind::RedisQueue => {
            let format = match s("format").as_deref() {
                None | Some("celery") => QueueFormat::Celery,
                Some("laravel") => QueueFormat::Laravel,
                Some(other) => {
                    ctx.error(
                        span_of("format"),
                        format!(
                            "{what}: key 'format' is \"{other}\"; use \"celery\" or \"laravel\""
                        ),
                    );
                    return None;
                }
            };
            Target::RedisQueue {
                url: url?,
                password_env: s("password_env"),
                queue: s("queue")?,
                format,
                thresholds: th,
            }
        }
        Kind::RabbitmqQueue => Target::RabbitmqQueue {
            url: url?,
            vhost: s("vhost").unwrap_or_else(|| "/".to_string()),
            queue: s("queue")?,
            user: s("user"),
            password_env: s("password_env"),
            thresholds: th,
        },
        Kind::Postgres => Target::Postgres {
            url: url?,
            password_env: s("password_env"),
        },
        Kind::Mysql => Target::Mysql {
            url: url?,
            password_env: s("password_env"),
        },
        Kind::Http => Target::Http {
            url: url?,
            expect_status: loc.expect_status.unwrap_or(200),
            max_latency: loc.max_latency,
            up_when: condition(ctx, "up_when"),
        },
        Kind::Prometheus => Target::Prometheus {
            url: url?,
            metric: s("metric")?,
            up_when: condition(ctx, "up_when")?,
        },
        Kind::Promql => Target::Promql {
            url: url?,
            query: s("query")?,
            up_when: condition(ctx, "up_when")?,
        },
    };
    (ok && !bad_condition.get()).then_some(target)
}

/// Dangling and self edges, then cycles, each reported once. Runs on every service as
/// written, so a service rejected for another reason still counts as existing.
fn check_graph(ctx: &mut Ctx, services: &[RawService]) {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, r) in services.iter().enumerate() {
        if let Some(id) = &r.id {
            index.entry(id.get_ref().as_str()).or_insert(i);
        }
    }
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); services.len()];
    for (i, r) in services.iter().enumerate() {
        let Some(own_id) = r.id.as_ref().map(|x| x.get_ref().as_str()) else {
            continue;
        };
        if index.get(own_id) != Some(&i) {
            continue; // a duplicate: reported where services are resolved
        }
        let what = format!("service \"{own_id}\"");
        let mut seen_deps: Vec<&str> = Vec::new();
        for (dep, span) in &r.deps {
            if dep.id == own_id {
                ctx.error(span.clone(), format!("{what} depends on itself"));
                continue;
            }
            if seen_deps.contains(&dep.id.as_str()) {
                ctx.error(
                    span.clone(),
                    format!("{what} lists dependency \"{}\" twice", dep.id),
                );
                continue;
            }
            seen_deps.push(&dep.id);
            match index.get(dep.id.as_str()) {
                Some(&j) => edges[i].push(j),
                None => {
                    let hint = closest(&dep.id, index.keys().copied().filter(|k| *k != own_id))
                        .map_or_else(String::new, |c| format!(" (did you mean \"{c}\"?)"));
                    ctx.error(
                        span.clone(),
                        format!(
                            "{what} depends on \"{}\", which is not a service in this estate{hint}",
                            dep.id
                        ),
                    );
                }
            }
        }
    }
    let name = |i: usize| {
        services[i]
            .id
            .as_ref()
            .map_or_else(String::new, |x| x.get_ref().clone())
    };
    // Depth-first search with colours; every back edge closes one cycle.
    let mut colour = vec![0u8; services.len()];
    let mut stack: Vec<usize> = Vec::new();
    let mut reported: Vec<Vec<usize>> = Vec::new();
    for start in 0..services.len() {
        if colour[start] == 0 {
            dfs(start, &edges, &mut colour, &mut stack, &mut |cycle| {
                let mut key = cycle.to_vec();
                key.sort_unstable();
                if reported.contains(&key) {
                    return;
                }
                reported.push(key);
                let names: Vec<String> = cycle
                    .iter()
                    .chain(cycle.first())
                    .map(|&i| format!("\"{}\"", name(i)))
                    .collect();
                let span = services[cycle[0]]
                    .id
                    .as_ref()
                    .map_or_else(|| services[cycle[0]].span.clone(), Spanned::span);
                ctx.error(span, format!("dependency cycle: {}", names.join(" → ")));
            });
        }
    }
}

fn dfs(
    node: usize,
    edges: &[Vec<usize>],
    colour: &mut [u8],
    stack: &mut Vec<usize>,
    on_cycle: &mut dyn FnMut(&[usize]),
) {
    colour[node] = 1;
    stack.push(node);
    for &next in &edges[node] {
        match colour[next] {
            0 => dfs(next, edges, colour, stack, on_cycle),
            1 => {
                if let Some(pos) = stack.iter().position(|&n| n == next) {
                    on_cycle(&stack[pos..]);
                }
            }
            _ => {}
        }
    }
    stack.pop();
    colour[node] = 2;
}

#[cfg(test)]
mod tests {
    use super::*;

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

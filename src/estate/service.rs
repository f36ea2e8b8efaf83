//! Reading one `[[service]]` table: its common keys, its kind, the kind's locator keys and
//! its dependency edges, before anything is checked against the rest of the estate.

use std::collections::BTreeMap;
use std::time::Duration;

use toml::Spanned;

use super::kind::{COMMON_KEYS, Kind};
use super::node::{Node, Table};
use super::reader::{Ctx, Fields, closest};
use super::{Dependency, Sev, Thresholds};

pub(super) struct RawService {
    pub(super) id: Option<Spanned<String>>,
    pub(super) span: std::ops::Range<usize>,
    pub(super) name: Option<String>,
    pub(super) kind: Option<Kind>,
    pub(super) region: Option<Spanned<String>>,
    pub(super) sev: Option<Sev>,
    pub(super) fallback: Option<String>,
    pub(super) deps: Vec<(Dependency, std::ops::Range<usize>)>,
    pub(super) owner: Option<String>,
    pub(super) escalation: Option<String>,
    pub(super) runbooks: Vec<String>,
    pub(super) interval: Option<Duration>,
    pub(super) timeout: Option<Duration>,
    pub(super) locator: Locator,
}

/// The kind-specific keys, read but not yet resolved against regions and `[gcp]`.
#[derive(Default)]
pub(super) struct Locator {
    pub(super) project: Option<String>,
    pub(super) strings: BTreeMap<&'static str, Spanned<String>>,
    pub(super) thresholds: Thresholds,
    pub(super) warn_span: Option<std::ops::Range<usize>>,
    pub(super) expect_status: Option<u16>,
    pub(super) max_latency: Option<Duration>,
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

pub(super) fn read_service_raw(
    ctx: &mut Ctx,
    t: &Table,
    span: std::ops::Range<usize>,
) -> RawService {
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

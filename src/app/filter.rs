//! The `/` filter: what it means and how it is written. Pure, so every rule is unit-tested.
//!
//! A filter is words and `key:value` terms separated by spaces; a service must match all of
//! them. A word matches part of the id, name, region, kind or status word (case ignored).
//! Keys: `region:` (the estate's region id or its GCP region, or the start of either),
//! `kind:` (the start of a kind, `kind:cloud` matches every Cloud kind), `status:` (up,
//! degraded, down, unknown, impacted, loading, stale), `sev:N` (SEV N or worse) and `role:`
//! (compute, data, queues, edge, platform). Commas give alternatives: `status:down,degraded`.

use crate::model::{ServiceView, Snapshot};

/// The keys a term may use, for messages and completion.
pub const KEYS: [&str; 5] = ["region", "kind", "status", "sev", "role"];

const STATUS_WORDS: [&str; 7] = [
    "up", "degraded", "down", "unknown", "impacted", "loading", "stale",
];

/// A parsed filter; the default matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    pub words: Vec<String>,
    pub regions: Vec<String>,
    pub kinds: Vec<String>,
    pub statuses: Vec<String>,
    /// Effective SEV at this level or worse.
    pub sev: Option<u8>,
    pub roles: Vec<String>,
}

impl Filter {
    /// Parses filter text. A term that cannot mean anything is left out and explained in the
    /// second value (one sentence), so a half-typed filter still filters by the rest.
    pub fn parse(text: &str) -> (Filter, Option<String>) {
        let mut f = Filter::default();
        let mut problem = None;
        for term in text.split_whitespace() {
            let Some((key, value)) = term.split_once(':') else {
                f.words.push(term.to_lowercase());
                continue;
            };
            let values: Vec<String> = value
                .split(',')
                .filter(|v| !v.is_empty())
                .map(str::to_lowercase)
                .collect();
            if values.is_empty() {
                continue;
            }
            match key.to_lowercase().as_str() {
                "region" => f.regions.extend(values),
                "kind" => f.kinds.extend(values),
                "role" => f.roles.extend(values),
                "status" => {
                    for v in values {
                        if STATUS_WORDS.contains(&v.as_str()) {
                            f.statuses.push(v);
                        } else {
                            problem = Some(format!(
                                "status:{v} is not a status ({})",
                                STATUS_WORDS.join(", ")
                            ));
                        }
                    }
                }
                "sev" => match value
                    .trim_start_matches(['s', 'S', 'e', 'E', 'v', 'V'])
                    .parse::<u8>()
                {
                    Ok(n @ 1..=4) => f.sev = Some(n),
                    _ => problem = Some(format!("sev:{value} should be a level from 1 to 4")),
                },
                other => {
                    problem = Some(format!(
                        "'{other}:' is not a filter key ({})",
                        KEYS.join(", ")
                    ));
                }
            }
        }
        (f, problem)
    }

    /// The canonical text of this filter (what the footer shows).
    pub fn to_text(&self) -> String {
        let mut parts = self.words.clone();
        let mut add = |key: &str, values: &[String]| {
            if !values.is_empty() {
                parts.push(format!("{key}:{}", values.join(",")));
            }
        };
        add("region", &self.regions);
        add("kind", &self.kinds);
        add("status", &self.statuses);
        add("role", &self.roles);
        if let Some(n) = self.sev {
            parts.push(format!("sev:{n}"));
        }
        parts.join(" ")
    }

    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// Whether a service passes. `snapshot` gives the GCP names of the estate's regions.
    pub fn matches(&self, snapshot: &Snapshot, s: &ServiceView) -> bool {
        let word = super::format::shown_state(s);
        let region = s.region.as_deref().unwrap_or("");
        let gcp_region = snapshot
            .regions
            .iter()
            .find(|r| r.id == region)
            .and_then(|r| r.gcp_region.as_deref())
            .unwrap_or("");
        let kind = s.kind.as_str();
        self.words.iter().all(|w| {
            [
                s.id.as_str(),
                s.name.as_str(),
                region,
                gcp_region,
                kind,
                word,
            ]
            .iter()
            .any(|field| contains_ignore_case(field, w))
        }) && any_or_empty(&self.regions, |r| {
            !region.is_empty()
                && (starts_ignore_case(region, r) || starts_ignore_case(gcp_region, r))
        }) && any_or_empty(&self.kinds, |k| starts_ignore_case(kind, k))
            && any_or_empty(&self.roles, |r| starts_ignore_case(s.kind.role(), r))
            && any_or_empty(&self.statuses, |st| match st {
                "stale" => s.stale,
                "impacted" => s.is_impacted(),
                other => word == other,
            })
            && self.sev.is_none_or(|n| s.sev.is_some_and(|v| v <= n))
    }
}

fn any_or_empty(values: &[String], test: impl Fn(&str) -> bool) -> bool {
    values.is_empty() || values.iter().any(|v| test(v))
}

fn contains_ignore_case(haystack: &str, lower_needle: &str) -> bool {
    if lower_needle.is_empty() {
        true
    } else if haystack.is_ascii() && lower_needle.is_ascii() {
        haystack
            .as_bytes()
            .windows(lower_needle.len())
            .any(|w| w.eq_ignore_ascii_case(lower_needle.as_bytes()))
    } else {
        haystack.to_lowercase().contains(lower_needle)
    }
}

fn starts_ignore_case(haystack: &str, lower_prefix: &str) -> bool {
    haystack
        .get(..lower_prefix.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(lower_prefix))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::estate::Kind;
    use crate::model::{Counts, Overall, RegionView, Status};

    fn service(id: &str, kind: Kind, region: &str, status: Status, sev: Option<u8>) -> ServiceView {
        ServiceView {
            id: id.into(),
            name: format!("{id} service"),
            kind,
            region: Some(region.into()),
            status,
            declared_sev: 2,
            sev,
            impacted_by: Vec::new(),
            fallback: None,
            fallback_left_s: None,
            summary: String::new(),
            observed_at: None,
            stale: false,
            stale_since: None,
            error: None,
            metrics: BTreeMap::new(),
            blast_radius: Vec::new(),
            pending: false,
            failing: false,
            since: None,
            depends_on: Vec::new(),
            dependents: Vec::new(),
            runbooks: Vec::new(),
            owner: None,
            escalation: None,
            recent_errors: Vec::new(),
            silence: None,
            silenced: false,
            evidence: Vec::new(),
            change: None,
            handoff: crate::handoff::Handoff::default(),
            index: 0,
        }
    }

    fn snapshot() -> Snapshot {
        let region = |id: &str, gcp: &str| RegionView {
            id: id.into(),
            gcp_region: Some(gcp.into()),
            services: 0,
            counts: Counts::default(),
            worst_sev: None,
            status: Status::Up,
        };
        Snapshot {
            estate: "e".into(),
            environment: "prod".into(),
            generated_at: chrono::DateTime::UNIX_EPOCH,
            status: Overall::Ok,
            exit_code: 0,
            worst_sev: None,
            counts: Counts::default(),
            services: Vec::new(),
            regions: vec![region("us", "us-central1"), region("af", "africa-south1")],
            queues: Vec::new(),
            blind: Vec::new(),
            events: Vec::new(),
            sev_names: ["SEV1", "SEV2", "SEV3", "SEV4"].map(String::from),
        }
    }

    fn passes(filter: &str, s: &ServiceView) -> bool {
        let (f, problem) = Filter::parse(filter);
        assert_eq!(problem, None, "{filter}");
        f.matches(&snapshot(), s)
    }

    #[test]
    fn the_empty_filter_matches_everything() {
        let s = service("sql", Kind::CloudSql, "us", Status::Down, Some(1));
        assert!(Filter::parse("").0.is_empty());
        assert!(passes("", &s));
        assert!(passes("   ", &s));
    }

    #[test]
    fn words_match_part_of_id_name_region_kind_or_status() {
        let s = service("sql-af", Kind::CloudSql, "af", Status::Down, Some(1));
        for yes in [
            "sql",
            "SQL-A",
            "service",
            "af",
            "africa",
            "cloud_sql",
            "down",
            "sql down",
        ] {
            assert!(passes(yes, &s), "{yes}");
        }
        for no in ["redis", "sql up", "us-central"] {
            assert!(!passes(no, &s), "{no}");
        }
    }

    #[test]
    fn region_matches_the_id_or_the_gcp_region_by_its_start() {
        let s = service("api", Kind::CloudRun, "af", Status::Up, None);
        assert!(passes("region:af", &s));
        assert!(passes("region:africa-south1", &s));
        assert!(passes("region:africa", &s));
        assert!(passes("region:us,af", &s));
        assert!(!passes("region:us-central1", &s));
        assert!(!passes("region:south1", &s), "a start, not any part");
    }

    #[test]
    fn kind_role_status_and_sev_terms() {
        let sql = service("sql", Kind::CloudSql, "us", Status::Down, Some(1));
        let mut api = service("api", Kind::CloudRun, "us", Status::Up, Some(2));
        api.impacted_by = vec!["sql".into()];
        let q = service("tasks", Kind::CloudTasks, "us", Status::Degraded, Some(3));
        assert!(passes("kind:cloud", &sql) && passes("kind:cloud_sql", &sql));
        assert!(!passes("kind:cloud_run", &sql));
        assert!(passes("role:data", &sql) && passes("role:queues", &q));
        assert!(passes("status:down", &sql) && !passes("status:down", &api));
        assert!(passes("status:impacted", &api) && !passes("status:up", &api));
        assert!(passes("status:down,degraded", &q));
        assert!(passes("sev:1", &sql) && !passes("sev:1", &api) && passes("sev:2", &api));
        assert!(passes("sev:SEV3", &q), "the SEV name is accepted too");
        assert!(passes("kind:cloud status:down sev:2 sql", &sql));
    }

    #[test]
    fn stale_is_a_status_of_its_own_and_never_up() {
        let mut s = service("sql", Kind::CloudSql, "us", Status::Up, None);
        assert!(!passes("status:stale", &s) && passes("status:up", &s));
        s.stale = true;
        assert!(passes("status:stale", &s) && !passes("status:up", &s));
        s.status = Status::Down;
        assert!(passes("status:stale", &s) && passes("status:down", &s));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_explained_and_left_out() {
        let (f, problem) = Filter::parse("zone:eu sql");
        assert_eq!(f.words, vec!["sql"]);
        assert!(problem.is_some_and(|p| p.contains("'zone:' is not a filter key")));
        let (f, problem) = Filter::parse("sev:9 status:broken");
        assert_eq!(f.sev, None);
        assert!(f.statuses.is_empty());
        assert!(problem.is_some_and(|p| p.contains("status:broken")));
        assert_eq!(Filter::parse("region:").1, None, "half typed");
    }

    #[test]
    fn text_round_trips_in_canonical_order() {
        let (f, _) = Filter::parse("sev:2 API region:eu,us status:down");
        assert_eq!(f.to_text(), "api region:eu,us status:down sev:2");
        assert_eq!(Filter::parse(&f.to_text()).0, f);
    }
}

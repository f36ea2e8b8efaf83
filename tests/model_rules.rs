//! The SEV, impact, fallback, staleness and exit-code rules of architecture.md, exercised on
//! small estates through the public model API.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use opsdeck::estate::{self, Estate};
use opsdeck::model::{Model, Observation, Outcome, Overall, ProbeReport, Snapshot, Status};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 3, 12, 0)
        .single()
        .expect("valid time")
}

fn estate(services: &str) -> Arc<Estate> {
    let src = format!("name = \"t\"\n[[region]]\nid = \"eu\"\n{services}");
    let (e, _) = estate::from_str_with_env(&src, "t.toml", &|_| None).expect("valid estate");
    Arc::new(e)
}

fn http(id: &str, sev: u8, deps: &str) -> String {
    format!(
        "[[service]]\nid = \"{id}\"\nkind = \"http\"\nregion = \"eu\"\nurl = \"http://x/{id}\"\nsev = {sev}\ndepends_on = [{deps}]\n"
    )
}

/// A model where every service is up except the ones given.
fn model_with(estate: &Arc<Estate>, states: &[(&str, Status)], at: DateTime<Utc>) -> Model {
    let mut m = Model::new(Arc::clone(estate));
    for (i, s) in estate.services.iter().enumerate() {
        let status = states
            .iter()
            .find(|(id, _)| *id == s.id)
            .map_or(Status::Up, |(_, st)| *st);
        let obs = match status {
            Status::Down => Observation::down("it broke"),
            Status::Unknown => Observation::unknown("permission denied"),
            other => Observation::new(other, "fine"),
        };
        m.apply(ProbeReport {
            service: i,
            at,
            outcome: Outcome::Observed(obs),
        });
    }
    m
}

fn view<'a>(s: &'a Snapshot, id: &str) -> &'a opsdeck::model::ServiceView {
    s.service(id).expect("service in snapshot")
}

#[test]
fn all_up_is_ok_with_no_sev() {
    let e = estate(&(http("a", 1, "") + &http("b", 2, "\"a\"")));
    let s = model_with(&e, &[], t0()).snapshot(t0());
    assert_eq!(s.status, Overall::Ok);
    assert_eq!(s.exit_code, 0);
    assert_eq!(s.worst_sev, None);
    assert!(
        s.services
            .iter()
            .all(|v| v.sev.is_none() && v.impacted_by.is_empty())
    );
}

#[test]
fn down_takes_declared_sev_and_degraded_one_milder() {
    let e = estate(&(http("a", 1, "") + &http("b", 2, "") + &http("c", 4, "")));
    let s = model_with(
        &e,
        &[
            ("a", Status::Degraded),
            ("b", Status::Down),
            ("c", Status::Degraded),
        ],
        t0(),
    )
    .snapshot(t0());
    assert_eq!(view(&s, "a").sev, Some(2));
    assert_eq!(view(&s, "b").sev, Some(2));
    assert_eq!(view(&s, "c").sev, Some(4), "never milder than SEV4");
    assert_eq!(s.status, Overall::Critical);
}

#[test]
fn a_chain_without_fallbacks_is_impacted_by_the_root_only() {
    // web → api → db; db down.
    let e = estate(&(http("db", 2, "") + &http("api", 1, "\"db\"") + &http("web", 3, "\"api\"")));
    let s = model_with(&e, &[("db", Status::Down)], t0()).snapshot(t0());
    let api = view(&s, "api");
    let web = view(&s, "web");
    assert_eq!(api.status, Status::Up, "impacted is not a second failure");
    assert_eq!(api.state_word(), "impacted");
    assert_eq!(api.impacted_by, vec!["db"]);
    assert_eq!(api.sev, Some(1), "no fallback: its own declared SEV");
    assert_eq!(
        web.impacted_by,
        vec!["db"],
        "root cause, not the middle of the chain"
    );
    assert_eq!(web.sev, Some(3));
    assert_eq!(view(&s, "db").blast_radius, vec!["api", "web"]);
    assert_eq!(s.worst_sev, Some(1));
    // Worst first: SEV1 api (impacted), then SEV2 db (root), then SEV3 web.
    let order: Vec<&str> = s.services.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(order, vec!["api", "db", "web"]);
}

#[test]
fn a_fallback_limps_at_the_root_cause_sev_and_stops_the_chain() {
    let e = estate(
        &(http("cache", 3, "")
            + &http(
                "api",
                1,
                "{ id = \"cache\", fallback = \"in-memory rate limit\" }",
            )
            + &http("web", 2, "\"api\"")),
    );
    let s = model_with(&e, &[("cache", Status::Down)], t0()).snapshot(t0());
    let api = view(&s, "api");
    assert_eq!(api.sev, Some(3), "limps at the root cause's SEV");
    assert_eq!(api.impacted_by, vec!["cache"]);
    assert_eq!(api.fallback.as_deref(), Some("in-memory rate limit"));
    assert!(!api.failing);
    let web = view(&s, "web");
    assert!(
        web.impacted_by.is_empty(),
        "a limping service still serves its dependents"
    );
    assert_eq!(web.sev, None);
    assert_eq!(s.status, Overall::Warning);
}

#[test]
fn a_fallback_never_makes_it_worse_than_its_own_sev() {
    let e = estate(
        &(http("kms", 1, "") + &http("batch", 3, "{ id = \"kms\", fallback = \"retry later\" }")),
    );
    let s = model_with(&e, &[("kms", Status::Down)], t0()).snapshot(t0());
    assert_eq!(view(&s, "batch").sev, Some(3));
}

#[test]
fn a_time_limited_fallback_counts_down_then_runs_out() {
    let e = estate(
        &(http("kms", 2, "")
            + &http(
                "api",
                1,
                "{ id = \"kms\", fallback = \"cached DEK\", fallback_for = \"10m\" }",
            )),
    );
    let m = model_with(&e, &[("kms", Status::Down)], t0());
    let early = m.snapshot(t0() + Duration::from_secs(180));
    let api = view(&early, "api");
    assert_eq!(
        api.sev,
        Some(2),
        "while the cached key holds: the root cause's SEV"
    );
    assert_eq!(api.fallback_left_s, Some(420));
    assert!(!api.failing);
    let late = m.snapshot(t0() + Duration::from_secs(601));
    let api = view(&late, "api");
    assert_eq!(
        api.sev,
        Some(1),
        "the fallback ran out: cut off, its own SEV"
    );
    assert!(api.failing);
    assert_eq!(api.fallback_left_s, None);
    assert_eq!(api.impacted_by, vec!["kms"]);
}

#[test]
fn a_diamond_names_the_root_once_and_the_worst_edge_wins() {
    //     top
    //    /   \
    //  left  right(fallback)
    //    \   /
    //     base
    let e = estate(
        &(http("base", 2, "")
            + &http("left", 3, "\"base\"")
            + &http("right", 3, "{ id = \"base\", fallback = \"stale reads\" }")
            + &http("top", 1, "\"left\", \"right\"")),
    );
    let s = model_with(&e, &[("base", Status::Down)], t0()).snapshot(t0());
    let top = view(&s, "top");
    assert_eq!(top.impacted_by, vec!["base"], "one root, named once");
    assert_eq!(
        top.sev,
        Some(1),
        "through left (no fallback) top cannot serve"
    );
    assert!(view(&s, "left").failing);
    assert!(!view(&s, "right").failing);
    assert_eq!(view(&s, "base").blast_radius, vec!["left", "right", "top"]);
}

#[test]
fn several_root_causes_are_all_named_worst_first() {
    let e = estate(&(http("a", 3, "") + &http("b", 2, "") + &http("c", 1, "\"a\", \"b\"")));
    let s = model_with(&e, &[("a", Status::Down), ("b", Status::Down)], t0()).snapshot(t0());
    assert_eq!(view(&s, "c").impacted_by, vec!["b", "a"]);
}

#[test]
fn unknown_sev_one_is_nagios_unknown_unless_something_is_critical() {
    let e = estate(&(http("a", 1, "") + &http("b", 2, "") + &http("c", 3, "")));
    let s = model_with(&e, &[("a", Status::Unknown)], t0()).snapshot(t0());
    assert_eq!(s.status, Overall::Unknown);
    assert_eq!(s.exit_code, 3);
    assert_eq!(
        view(&s, "a").sev,
        Some(1),
        "an unknown service keeps its declared SEV"
    );
    let s = model_with(&e, &[("a", Status::Unknown), ("b", Status::Down)], t0()).snapshot(t0());
    assert_eq!(s.status, Overall::Critical);
    let s = model_with(&e, &[("c", Status::Unknown)], t0()).snapshot(t0());
    assert_eq!(s.status, Overall::Warning, "unknown at SEV 3 is a warning");
}

#[test]
fn a_failed_refresh_keeps_the_last_value_and_marks_it_stale() {
    let e = estate(&http("a", 2, ""));
    let mut m = model_with(&e, &[], t0());
    m.apply(ProbeReport {
        service: 0,
        at: t0() + Duration::from_secs(30),
        outcome: Outcome::Failed {
            error: "Cloud SQL Admin API answered 429 RESOURCE_EXHAUSTED: quota".into(),
            retry_after: None,
        },
    });
    let s = m.snapshot(t0() + Duration::from_secs(31));
    let a = view(&s, "a");
    assert_eq!(a.status, Status::Up, "last good value stays");
    assert!(a.stale, "but it is stale, never shown as fresh up");
    assert_eq!(a.stale_since, Some(t0()));
    assert!(a.error.as_deref().is_some_and(|e| e.contains("429")));
    assert_eq!(
        s.status,
        Overall::Unknown,
        "a stale SEV2 cannot be vouched for"
    );
}

#[test]
fn data_older_than_three_intervals_is_stale() {
    let e = estate(&http("a", 3, ""));
    let m = model_with(&e, &[], t0());
    assert!(!view(&m.snapshot(t0() + Duration::from_secs(89)), "a").stale);
    assert!(view(&m.snapshot(t0() + Duration::from_secs(91)), "a").stale);
}

#[test]
fn before_the_first_probe_a_service_is_loading_not_up() {
    let e = estate(&http("a", 3, ""));
    let s = Model::new(Arc::clone(&e)).snapshot(t0());
    assert!(s.loading());
    assert_eq!(view(&s, "a").state_word(), "loading");
    assert_ne!(s.status, Overall::Ok);
}

#[test]
fn transitions_are_recorded_as_events() {
    let e = estate(&http("a", 3, ""));
    let mut m = model_with(&e, &[], t0());
    m.apply(ProbeReport {
        service: 0,
        at: t0() + Duration::from_secs(30),
        outcome: Outcome::Observed(Observation::down("connection refused")),
    });
    m.apply(ProbeReport {
        service: 0,
        at: t0() + Duration::from_secs(60),
        outcome: Outcome::Observed(Observation::down("connection refused")),
    });
    let events: Vec<_> = m.events().collect();
    assert_eq!(
        events.len(),
        2,
        "first sight and up→down; a repeat is not an event"
    );
    assert_eq!(events[1].from, Some(Status::Up));
    assert_eq!(events[1].to, Status::Down);
    assert_eq!(events[1].text, "connection refused");
}

#[test]
fn region_roll_up_counts_and_worst_sev() {
    let src = "name = \"t\"\n[[region]]\nid = \"eu\"\n[[region]]\nid = \"us\"\n".to_string()
        + &http("a", 1, "")
        + &http("b", 3, "\"a\"").replace("region = \"eu\"", "region = \"us\"");
    let (e, _) = estate::from_str_with_env(&src, "t.toml", &|_| None).expect("valid");
    let e = Arc::new(e);
    let s = model_with(&e, &[("a", Status::Down)], t0()).snapshot(t0());
    let eu = &s.regions[0];
    let us = &s.regions[1];
    assert_eq!(
        (eu.id.as_str(), eu.counts.down, eu.worst_sev),
        ("eu", 1, Some(1))
    );
    assert_eq!(
        (us.id.as_str(), us.counts.impacted, us.worst_sev),
        ("us", 1, Some(3))
    );
}

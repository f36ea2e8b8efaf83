//! The silence rules of the model, through its public API: a silenced service stays on the
//! map but counts for nothing in the status, worst SEV and exit code; so does a service
//! impacted only by silenced services, but not one with a fault of its own; silences expire
//! on time and may begin later; maintenance windows from the estate silence their services
//! while open, across midnight and in their own time zone.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use opsdeck::estate::{self, Estate};
use opsdeck::model::{Model, Observation, Outcome, Overall, ProbeReport, Silence, Status};

/// Saturday 2026-11-21, 23:30 UTC.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 23, 30, 0)
        .single()
        .expect("valid time")
}

fn estate(extra: &str) -> Arc<Estate> {
    let src = format!(
        r#"name = "t"
[[region]]
id = "eu"
[[service]]
id = "db"
kind = "http"
region = "eu"
url = "http://x/db"
sev = 1
[[service]]
id = "api"
kind = "http"
region = "eu"
url = "http://x/api"
sev = 1
depends_on = ["db"]
[[service]]
id = "queue"
kind = "http"
region = "eu"
url = "http://x/queue"
sev = 3
{extra}"#
    );
    let (e, _) = estate::from_str_with_env(&src, "t.toml", &|_| None).expect("valid estate");
    Arc::new(e)
}

fn model(estate: &Arc<Estate>, down: &[&str], degraded: &[&str]) -> Model {
    model_at(estate, down, degraded, t0())
}

/// Every service probed at `at` (so nothing is stale then).
fn model_at(estate: &Arc<Estate>, down: &[&str], degraded: &[&str], at: DateTime<Utc>) -> Model {
    let mut m = Model::new(Arc::clone(estate));
    for (i, s) in estate.services.iter().enumerate() {
        let obs = if down.contains(&s.id.as_str()) {
            Observation::down("it broke")
        } else if degraded.contains(&s.id.as_str()) {
            Observation::new(Status::Degraded, "slow")
        } else {
            Observation::new(Status::Up, "fine")
        };
        m.apply(ProbeReport {
            service: i,
            at,
            outcome: Outcome::Observed(obs),
        });
    }
    m
}

fn silence(service: &str, start: DateTime<Utc>, hours: i64) -> Silence {
    Silence {
        service: service.into(),
        who: "alice@bastion".into(),
        reason: "planned failover".into(),
        start,
        until: start + TimeDelta::hours(hours),
    }
}

#[test]
fn a_silenced_root_cause_and_its_blast_radius_do_not_raise_the_exit_code() {
    let e = estate("");
    let mut m = model(&e, &["db"], &[]);
    let before = m.snapshot(t0());
    assert_eq!(before.status, Overall::Critical);
    assert_eq!(before.worst_sev, Some(1));

    m.set_silences(vec![silence("db", t0() - TimeDelta::minutes(5), 2)]);
    let s = m.snapshot(t0());
    assert_eq!(
        s.status,
        Overall::Ok,
        "db silenced, api impacted only by db"
    );
    assert_eq!(s.exit_code, 0);
    assert_eq!(s.worst_sev, None);
    let db = s.service("db").expect("db");
    assert_eq!(db.status, Status::Down, "still shown as it is");
    assert_eq!(db.sev, Some(1));
    assert!(db.silenced);
    let v = db.silence.as_ref().expect("the silence");
    assert_eq!(v.by.as_deref(), Some("alice@bastion"));
    assert_eq!(v.reason, "planned failover");
    assert_eq!(v.until, t0() + TimeDelta::minutes(115));
    let api = s.service("api").expect("api");
    assert!(api.silenced && api.silence.is_none());
    assert_eq!(s.counts.silenced, 2);
    assert_eq!(s.counts.down, 1, "counts still say what is down");
    let order: Vec<&str> = s.services.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(
        order,
        ["db", "api", "queue"],
        "silenced problems before the services that are up"
    );
}

#[test]
fn a_fault_of_its_own_still_counts_under_a_silenced_cause() {
    let e = estate("");
    let mut m = model(&e, &["db", "api"], &["queue"]);
    m.set_silences(vec![silence("db", t0(), 1)]);
    let s = m.snapshot(t0());
    assert_eq!(s.status, Overall::Critical, "api is down by its own probe");
    assert!(!s.service("api").expect("api").silenced);

    m.set_silences(vec![silence("db", t0(), 1), silence("api", t0(), 1)]);
    let s = m.snapshot(t0());
    assert_eq!(s.status, Overall::Warning, "only the SEV 3 queue is left");
    assert_eq!(s.worst_sev, Some(4), "degraded SEV 3 → SEV 4");
    assert_eq!(s.exit_code, 1);
}

#[test]
fn silences_begin_and_end_on_time() {
    let e = estate("");
    let exit_at = |minutes: i64| {
        let at = t0() + TimeDelta::minutes(minutes);
        let mut m = model_at(&e, &["db"], &[], at);
        m.set_silences(vec![silence("db", t0() + TimeDelta::hours(1), 2)]);
        m.snapshot(at)
    };
    assert_eq!(exit_at(0).exit_code, 2, "planned, not begun");
    assert_eq!(exit_at(60).exit_code, 0, "begun");
    assert_eq!(exit_at(179).exit_code, 0, "a minute before the end");
    let ended = exit_at(180);
    assert_eq!(ended.exit_code, 2, "expired: it pages again");
    assert!(ended.service("db").expect("db").silence.is_none());
}

#[test]
fn a_maintenance_window_across_midnight_in_its_own_zone() {
    // Saturdays 23:00 in Brussels (UTC+1 in November) for 3 hours: Saturday 22:00 UTC →
    // Sunday 01:00 UTC.
    let e = estate(
        r#"
[[maintenance]]
name = "weekly patching"
services = ["db"]
days = ["sat"]
start = "23:00"
duration = "3h"
time_zone = "Europe/Brussels"
"#,
    );
    let exit_at = |minutes: i64| {
        let at = t0() + TimeDelta::minutes(minutes);
        model_at(&e, &["db"], &[], at).snapshot(at)
    };
    let inside = exit_at(0);
    assert_eq!(
        inside.exit_code, 0,
        "Saturday 23:30 UTC is Sunday 00:30 in Brussels"
    );
    let w = inside
        .service("db")
        .and_then(|d| d.silence.clone())
        .expect("silenced by the window");
    assert_eq!(w.window.as_deref(), Some("weekly patching"));
    assert_eq!(w.by, None);
    assert_eq!(w.reason, "weekly patching");
    assert_eq!(
        w.until,
        Utc.with_ymd_and_hms(2026, 11, 22, 1, 0, 0)
            .single()
            .expect("time")
    );
    assert_eq!(exit_at(90).exit_code, 2, "01:00 UTC Sunday: closed");
    assert_eq!(
        exit_at(-91).exit_code,
        2,
        "21:59 UTC Saturday: not open yet"
    );
    assert_eq!(exit_at(24 * 60).exit_code, 2, "not on Sundays");
}

//! The console's behaviour, key by key, on a small two-region estate.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::*;
use crate::estate;
use crate::model::{Model, Observation, Outcome, ProbeReport, Status};

const ESTATE: &str = r#"
name = "two-regions"
environment = "prod"
[gcp]
project = "p"
[[region]]
id = "us"
gcp_region = "us-central1"
[[region]]
id = "af"
gcp_region = "africa-south1"
[[service]]
id = "api"
kind = "cloud_run"
region = "us"
service = "api"
sev = 1
depends_on = ["sql", { id = "cache", fallback = "in-memory" }]
[[service]]
id = "sql"
kind = "cloud_sql"
region = "us"
instance = "db"
sev = 1
[[service]]
id = "cache"
kind = "memorystore"
region = "us"
instance = "cache"
sev = 3
[[service]]
id = "tasks"
kind = "cloud_tasks"
region = "us"
queue = "default"
sev = 3
[[service]]
id = "api-af"
kind = "cloud_run"
region = "af"
service = "api"
sev = 2
depends_on = ["sql-af"]
[[service]]
id = "sql-af"
kind = "cloud_sql"
region = "af"
instance = "db-af"
sev = 2
[[service]]
id = "edge"
kind = "http"
url = "https://example.com/"
sev = 2
depends_on = ["api"]
[[service]]
id = "telemetry"
kind = "http"
url = "https://sentry.example.com/"
sev = 4
"#;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 3, 12, 0)
        .single()
        .expect("a valid time")
}

fn model() -> Model {
    let (estate, _) = estate::from_str(ESTATE, "test").expect("the test estate loads");
    Model::new(Arc::new(estate))
}

fn report_all(model: &mut Model, at: DateTime<Utc>, down: &str) {
    let ids: Vec<String> = model
        .estate()
        .services
        .iter()
        .map(|s| s.id.clone())
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let obs = if id == down {
            Observation::down("instance is FAILED")
        } else {
            Observation::new(Status::Up, "RUNNABLE")
        };
        model.apply(ProbeReport {
            service: i,
            at,
            outcome: Outcome::Observed(obs),
        });
    }
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ch(c: char) -> KeyEvent {
    key(KeyCode::Char(c))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        app.handle_key(ch(c));
    }
}

fn app_with(down: &str) -> (Model, App) {
    let mut m = model();
    report_all(&mut m, t0(), down);
    let mut app = App::new(m.snapshot(t0() + TimeDelta::seconds(5)));
    app.set_geometry(Geometry {
        list_rows: 3,
        detail_rows: 5,
        detail_lines: 12,
        help_rows: 4,
        help_lines: 10,
    });
    (m, app)
}

fn selected(app: &App) -> Option<&str> {
    app.selected_service().map(|s| s.id.as_str())
}

#[test]
fn q_and_ctrl_c_quit() {
    let (_, mut app) = app_with("sql");
    assert_eq!(app.handle_key(ch('q')), Effect::Quit);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(app.handle_key(ctrl_c), Effect::Quit);
    assert_eq!(app.handle_key(ch('x')), Effect::None);
}

#[test]
fn r_asks_the_poller_for_a_refresh_and_says_so() {
    let (_, mut app) = app_with("sql");
    assert_eq!(app.handle_key(ch('r')), Effect::Send(Control::RefreshNow));
    assert!(app.note().is_some());
}

#[test]
fn r_after_the_poller_stopped_only_explains() {
    let (_, mut app) = app_with("sql");
    assert!(app.set_poller_stopped());
    assert!(!app.set_poller_stopped());
    assert_eq!(app.handle_key(ch('r')), Effect::Redraw);
    assert!(app.note().is_some_and(|(n, _)| n.contains("stopped")));
}

#[test]
fn note_expires_with_snapshot_time() {
    let (m, mut app) = app_with("sql");
    app.handle_key(ch('r'));
    assert!(app.set_snapshot(m.snapshot(t0() + TimeDelta::seconds(10))));
    assert_eq!(app.note(), None);
}

#[test]
fn warnings_stay_longer_than_notes_and_say_how_many_more() {
    let (m, mut app) = app_with("sql");
    app.warn(&["themes/x.toml: bad".to_string(), "another".to_string()]);
    let (text, warning) = app.note().expect("a warning");
    assert!(warning && text.starts_with("themes/x.toml: bad") && text.contains("+1 more"));
    app.set_snapshot(m.snapshot(t0() + TimeDelta::seconds(15)));
    assert!(app.note().is_some());
    app.set_snapshot(m.snapshot(t0() + TimeDelta::seconds(30)));
    assert!(app.note().is_none());
}

#[test]
fn arrows_jk_home_end_and_pages_move_the_selection() {
    let (_, mut app) = app_with("sql");
    let n = app.snapshot().services.len();
    let map = |app: &App| app.cursor(View::FailureMap);
    assert_eq!(app.handle_key(key(KeyCode::Up)), Effect::None);
    assert_eq!(app.handle_key(key(KeyCode::Down)), Effect::Redraw);
    assert_eq!(app.handle_key(ch('j')), Effect::Redraw);
    assert_eq!(map(&app).selected, 2);
    app.handle_key(ch('k'));
    assert_eq!(map(&app).selected, 1);
    app.handle_key(key(KeyCode::PageDown));
    assert_eq!(map(&app).selected, 4);
    assert_eq!(map(&app).offset, 2, "the selection stays on screen");
    app.handle_key(key(KeyCode::End));
    assert_eq!((map(&app).selected, map(&app).offset), (n - 1, n - 3));
    assert_eq!(app.handle_key(ch('G')), Effect::None);
    app.handle_key(key(KeyCode::PageUp));
    assert_eq!(map(&app).selected, n - 4);
    app.handle_key(key(KeyCode::Home));
    assert_eq!((map(&app).selected, map(&app).offset), (0, 0));
    assert_eq!(selected(&app), Some("sql"));
}

#[test]
fn key_releases_are_ignored() {
    let (_, mut app) = app_with("sql");
    let mut release = ch('q');
    release.kind = KeyEventKind::Release;
    assert_eq!(app.handle_key(release), Effect::None);
}

#[test]
fn selection_stays_on_the_same_service_when_the_order_changes() {
    let (mut m, mut app) = app_with("sql");
    while selected(&app) != Some("telemetry") {
        assert_eq!(app.handle_key(key(KeyCode::Down)), Effect::Redraw);
    }
    let before = app.cursor(View::FailureMap).selected;
    let later = t0() + TimeDelta::seconds(20);
    report_all(&mut m, later, "telemetry");
    assert!(app.set_snapshot(m.snapshot(later)));
    assert_eq!(selected(&app), Some("telemetry"));
    assert_ne!(
        app.cursor(View::FailureMap).selected,
        before,
        "the list was re-sorted"
    );
}

#[test]
fn until_the_user_moves_the_selection_follows_the_worst_service() {
    let (mut m, mut app) = app_with("sql");
    assert_eq!(selected(&app), Some("sql"));
    let later = t0() + TimeDelta::seconds(20);
    report_all(&mut m, later, "telemetry");
    app.set_snapshot(m.snapshot(later));
    assert_eq!(selected(&app), Some("telemetry"));
    app.handle_key(key(KeyCode::Down));
    assert_eq!(app.handle_key(key(KeyCode::Home)), Effect::Redraw);
    report_all(&mut m, later, "sql");
    app.set_snapshot(m.snapshot(later));
    assert_eq!(selected(&app), Some("sql"));
}

#[test]
fn a_vanished_selection_falls_back_to_the_same_row() {
    let (mut m, mut app) = app_with("sql");
    let n = app.snapshot().services.len();
    app.handle_key(key(KeyCode::End));
    let mut snap = m.snapshot(t0());
    snap.services.truncate(3);
    app.set_snapshot(snap);
    assert_eq!(app.cursor(View::FailureMap).selected, 2);
    assert_eq!(selected(&app), Some(app.snapshot().services[2].id.as_str()));
    report_all(&mut m, t0(), "sql");
    app.set_snapshot(m.snapshot(t0()));
    assert_eq!(app.snapshot().services.len(), n);
}

#[test]
fn ticks_change_the_screen_only_when_a_shown_age_changes() {
    let mut m = model();
    report_all(&mut m, t0(), "sql");
    let mut app = App::new(m.snapshot(t0() + TimeDelta::seconds(185)));
    assert!(!app.set_snapshot(m.snapshot(t0() + TimeDelta::seconds(186))));
    assert!(app.set_snapshot(m.snapshot(t0() + TimeDelta::seconds(240))));
    // Fresh data ages in steps of ten seconds.
    report_all(&mut m, t0() + TimeDelta::seconds(240), "sql");
    assert!(app.set_snapshot(m.snapshot(t0() + TimeDelta::seconds(241))));
    assert!(!app.set_snapshot(m.snapshot(t0() + TimeDelta::seconds(249))));
    assert!(app.set_snapshot(m.snapshot(t0() + TimeDelta::seconds(250))));
}

#[test]
fn tab_digits_and_esc_move_between_views() {
    let (_, mut app) = app_with("sql");
    let order: Vec<View> = (0..5)
        .map(|_| {
            app.handle_key(key(KeyCode::Tab));
            app.view()
        })
        .collect();
    assert_eq!(
        order,
        [
            View::Topology,
            View::Queues,
            View::Detail,
            View::Events,
            View::FailureMap
        ]
    );
    app.handle_key(key(KeyCode::BackTab));
    assert_eq!(app.view(), View::Events);
    app.handle_key(ch('3'));
    assert_eq!(app.view(), View::Queues);
    assert_eq!(app.handle_key(ch('3')), Effect::None);
    app.handle_key(key(KeyCode::Esc));
    assert_eq!(app.view(), View::FailureMap);
    assert_eq!(app.handle_key(key(KeyCode::Esc)), Effect::None);
}

#[test]
fn enter_opens_the_service_under_the_cursor_and_esc_goes_back() {
    let (_, mut app) = app_with("sql");
    app.handle_key(ch('2'));
    app.handle_key(key(KeyCode::Down));
    let chosen = selected(&app).map(str::to_string);
    assert_eq!(app.handle_key(key(KeyCode::Enter)), Effect::Redraw);
    assert_eq!(app.view(), View::Detail);
    assert_eq!(selected(&app).map(str::to_string), chosen);
    // The detail view scrolls within its content.
    app.handle_key(ch('G'));
    assert_eq!(app.cursor(View::Detail).selected, 12 - 5);
    assert_eq!(app.handle_key(ch('j')), Effect::None);
    app.handle_key(key(KeyCode::Esc));
    assert_eq!(app.view(), View::Topology);
}

#[test]
fn enter_on_an_event_opens_its_service() {
    let (mut m, mut app) = app_with("sql");
    report_all(&mut m, t0() + TimeDelta::seconds(9), "cache");
    app.set_snapshot(m.snapshot(t0() + TimeDelta::seconds(10)));
    app.handle_key(ch('5'));
    let newest = app.snapshot().events[0].service.clone();
    app.handle_key(key(KeyCode::Enter));
    assert_eq!(app.view(), View::Detail);
    assert_eq!(selected(&app), Some(newest.as_str()));
}

#[test]
fn the_filter_applies_as_typed_esc_restores_and_enter_keeps() {
    let (_, mut app) = app_with("sql");
    let all = app.rows().map.len();
    app.handle_key(ch('/'));
    typed(&mut app, "region:af");
    assert_eq!(app.rows().map.len(), 2);
    assert!(
        app.input()
            .and_then(|i| i.hint.as_deref())
            .is_some_and(|h| h.contains("2 of 8"))
    );
    app.handle_key(key(KeyCode::Esc));
    assert_eq!(app.rows().map.len(), all);
    assert!(app.input().is_none());
    app.handle_key(ch('/'));
    typed(&mut app, "sql");
    app.handle_key(key(KeyCode::Enter));
    assert_eq!(app.filter().to_text(), "sql");
    assert_eq!(app.rows().map.len(), 2);
    assert!(selected(&app).is_some_and(|s| s.starts_with("sql")));
    // Esc on the map clears it.
    app.handle_key(key(KeyCode::Esc));
    assert!(app.filter().is_empty());
    assert_eq!(app.rows().map.len(), all);
}

#[test]
fn keys_typed_into_the_filter_are_not_commands() {
    let (_, mut app) = app_with("sql");
    app.handle_key(ch('/'));
    assert_eq!(app.handle_key(ch('q')), Effect::Redraw);
    assert_eq!(app.input().map(|i| i.text.as_str()), Some("q"));
}

#[test]
fn the_command_line_switches_views_and_sets_filter_terms() {
    let (_, mut app) = app_with("sql");
    app.handle_key(ch(':'));
    typed(&mut app, "queues");
    app.handle_key(key(KeyCode::Enter));
    assert_eq!(app.view(), View::Queues);
    assert_eq!(
        selected(&app),
        Some("tasks"),
        "the queues view selects a queue"
    );
    app.handle_key(ch(':'));
    typed(&mut app, "region africa-south1");
    app.handle_key(key(KeyCode::Enter));
    assert_eq!(app.filter().regions, vec!["africa-south1"]);
    assert_eq!(app.rows().map.len(), 2);
    app.handle_key(ch(':'));
    typed(&mut app, "sev 1");
    app.handle_key(key(KeyCode::Enter));
    assert_eq!(app.filter().to_text(), "region:africa-south1 sev:1");
    assert!(app.rows().map.is_empty());
    app.handle_key(ch(':'));
    typed(&mut app, "topo");
    app.handle_key(key(KeyCode::Tab));
    assert_eq!(app.input().map(|i| i.text.as_str()), Some("topology"));
    app.handle_key(key(KeyCode::Enter));
    assert_eq!(app.view(), View::Topology);
}

#[test]
fn a_bad_command_is_explained_in_the_footer() {
    let (_, mut app) = app_with("sql");
    app.handle_key(ch(':'));
    typed(&mut app, "bogus");
    assert_eq!(app.handle_key(key(KeyCode::Enter)), Effect::Redraw);
    assert!(app.note().is_some_and(|(n, _)| n.contains(":bogus")));
    app.handle_key(ch(':'));
    typed(&mut app, "theme light");
    assert_eq!(
        app.handle_key(key(KeyCode::Enter)),
        Effect::SetTheme("light".into())
    );
}

#[test]
fn freezing_holds_the_screen_and_says_when_newer_data_waits() {
    let (mut m, mut app) = app_with("sql");
    assert_eq!(app.handle_key(ch('f')), Effect::Redraw);
    assert!(app.frozen_at().is_some());
    let later = t0() + TimeDelta::seconds(20);
    report_all(&mut m, later, "telemetry");
    assert!(app.set_snapshot(m.snapshot(later)), "the badge appears");
    assert!(app.newer_data_held());
    assert_eq!(
        app.snapshot().services[0].id,
        "sql",
        "the screen holds still"
    );
    assert!(!app.set_snapshot(m.snapshot(later + TimeDelta::seconds(1))));
    app.handle_key(ch('f'));
    assert!(app.frozen_at().is_none());
    assert_eq!(app.snapshot().services[0].id, "telemetry");
}

#[test]
fn y_copies_the_selected_service_in_one_line() {
    let (_, mut app) = app_with("sql");
    let Effect::Copy(text) = app.handle_key(ch('y')) else {
        panic!("y copies");
    };
    assert!(text.starts_with("sql (sql) · down SEV1"), "{text}");
    assert!(text.contains("instance is FAILED") && text.contains("takes down api"));
    assert!(app.note().is_some_and(|(n, _)| n.contains("copied sql")));
}

#[test]
fn left_and_right_move_between_regions_in_the_topology() {
    let (_, mut app) = app_with("sql");
    app.handle_key(ch('2'));
    assert_eq!(
        app.snapshot()
            .service(selected(&app).unwrap_or_default())
            .and_then(|s| s.region.as_deref()),
        Some("us")
    );
    assert_eq!(app.handle_key(ch('l')), Effect::Redraw);
    let af = selected(&app).and_then(|id| app.snapshot().service(id));
    assert_eq!(af.and_then(|s| s.region.as_deref()), Some("af"));
    app.handle_key(ch('l'));
    assert_eq!(
        selected(&app)
            .and_then(|id| app.snapshot().service(id))
            .map(|s| s.region.is_none()),
        Some(true),
        "services without a region come last"
    );
    assert_eq!(app.handle_key(ch('l')), Effect::None);
    app.handle_key(ch('h'));
    app.handle_key(ch('h'));
    assert_eq!(app.handle_key(ch('h')), Effect::None);
}

#[test]
fn help_opens_scrolls_and_closes_without_quitting() {
    let (_, mut app) = app_with("sql");
    app.handle_key(ch('?'));
    assert_eq!(app.help(), Some(0));
    app.handle_key(ch('j'));
    app.handle_key(key(KeyCode::End));
    assert_eq!(app.help(), Some(10 - 4));
    assert_eq!(app.handle_key(ch('q')), Effect::Redraw);
    assert_eq!(app.help(), None);
    app.handle_key(ch('?'));
    app.handle_key(key(KeyCode::Esc));
    assert_eq!(app.help(), None);
    assert_eq!(app.view(), View::FailureMap);
}

#[test]
fn esc_then_a_key_read_as_alt_key_is_both_keys() {
    let (_, mut app) = app_with("sql");
    app.handle_key(ch('?'));
    let alt_y = KeyEvent::new(KeyCode::Char('y'), KeyModifiers::ALT);
    assert!(matches!(app.handle_key(alt_y), Effect::Copy(_)));
    assert_eq!(app.help(), None);
    app.handle_key(key(KeyCode::Enter));
    assert_eq!(app.view(), View::Detail);
    let alt_slash = KeyEvent::new(KeyCode::Char('/'), KeyModifiers::ALT);
    assert_eq!(app.handle_key(alt_slash), Effect::Redraw);
    assert_eq!(app.view(), View::FailureMap);
    assert!(app.input().is_some());
}

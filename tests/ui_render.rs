//! Every view of the console rendered from a fixture estate (two regions, every queue kind,
//! Cloud SQL down, a stale service, a time-limited fallback) at 80×24 and 160×48, with the
//! monochrome (NO_COLOR) and high-contrast themes, checked with insta snapshots
//! (tests/snapshots/) and with plain assertions on what matters most.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use opsdeck::app::{App, View};
use opsdeck::estate;
use opsdeck::model::{Model, Observation, Outcome, ProbeReport, QueueFigures, Status};
use opsdeck::ui::{self, Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use serde_json::json;

/// Seed 000's two regions, with seed 002's failure map, queues of every kind and runbooks.
const ESTATE: &str = r##"
name = "lumieos-prod"
environment = "prod"

[gcp]
project = "lumieos-prod"

[[region]]
id = "us"
gcp_region = "us-central1"

[[region]]
id = "za"
gcp_region = "africa-south1"

[[service]]
id = "edge-us"
name = "Cloudflare → North America"
kind = "http"
region = "us"
url = "https://partner-us.example.com/healthz"
sev = 1
fallback = "none: the origin is not reachable from the internet"
depends_on = ["run-us"]

[[service]]
id = "run-us"
name = "Lumieos API, North America (Cloud Run)"
kind = "cloud_run"
region = "us"
service = "lumieos"
sev = 1
fallback = "none: every partner in North America is down"
owner = "platform team"
escalation = "#oncall, then a P1 Google Cloud support case"
runbooks = ["cloud-run-scale"]
depends_on = [
  { id = "sql-us" },
  { id = "cache-us", fallback = "in-memory rate limit" },
  { id = "kms", fallback = "cached DEK", fallback_for = "10m" },
]

[[service]]
id = "sql-us"
name = "Cloud SQL (Postgres), North America"
kind = "cloud_sql"
region = "us"
instance = "lumieos-db-us"
sev = 1
fallback = "none: all reads and writes go here"
owner = "platform team"
escalation = "#oncall-platform"
runbooks = ["cloud-sql-failover", "cloud-sql-restore"]

[[service]]
id = "cache-us"
name = "Memorystore (Redis), North America"
kind = "memorystore"
region = "us"
instance = "lumieos-cache"
sev = 3

[[service]]
id = "kms"
name = "KMS vault key"
kind = "gcp_rest"
region = "us"
url = "https://cloudkms.googleapis.com/v1/projects/lumieos-prod/locations/us-central1/keyRings/vault/cryptoKeys/dek"
up_when = 'primary.state == "ENABLED"'
sev = 1

[[service]]
id = "tasks-default-us"
name = "Cloud Tasks default, North America"
kind = "cloud_tasks"
region = "us"
queue = "default"
warn_depth = 1000
sev = 3
depends_on = ["run-us"]

[[service]]
id = "pubsub-us"
name = "Pub/Sub chat-events"
kind = "pubsub_subscription"
region = "us"
subscription = "chat-events-sse"
sev = 3

[[service]]
id = "run-za"
name = "Lumieos API, South Africa (Cloud Run)"
kind = "cloud_run"
region = "za"
service = "lumieos"
sev = 1
depends_on = ["sql-za"]

[[service]]
id = "sql-za"
name = "Cloud SQL (Postgres), South Africa"
kind = "cloud_sql"
region = "za"
instance = "lumieos-db-za"
sev = 1
runbooks = ["cloud-sql-failover"]

[[service]]
id = "tasks-event-za"
name = "Cloud Tasks event, South Africa"
kind = "cloud_tasks"
region = "za"
queue = "event"
sev = 3

[[service]]
id = "orders"
name = "RabbitMQ orders"
kind = "rabbitmq_queue"
region = "za"
url = "http://rabbit.internal:15672"
queue = "orders"
warn_depth = 5000
sev = 2

[[service]]
id = "orders-dlq"
name = "RabbitMQ orders.dlq"
kind = "rabbitmq_queue"
region = "za"
url = "http://rabbit.internal:15672"
queue = "orders.dlq"
sev = 3

[[service]]
id = "celery-fal"
name = "Celery fal (Redis list)"
kind = "redis_queue"
url = "redis://10.0.0.5:6379/0"
queue = "fal"
format = "celery"
sev = 2

[[service]]
id = "telemetry"
name = "Sentry / PostHog"
kind = "http"
url = "https://sentry.io/api/0/"
sev = 4
fallback = "silent: telemetry lost, app unaffected"
"##;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 3, 12, 0)
        .single()
        .expect("a valid time")
}

fn model() -> Model {
    let (estate, _) = estate::from_str(ESTATE, "fixture").expect("the fixture estate loads");
    Model::new(Arc::new(estate))
}

fn index(model: &Model, id: &str) -> usize {
    model
        .estate()
        .index_of(id)
        .expect("a service of the fixture")
}

fn observe(model: &mut Model, id: &str, at: DateTime<Utc>, obs: Observation) {
    let service = index(model, id);
    model.apply(ProbeReport {
        service,
        at,
        outcome: Outcome::Observed(obs),
    });
}

fn queue(
    depth: u64,
    age: f64,
    consumers: u64,
    extra: &[(&str, serde_json::Value)],
) -> QueueFigures {
    QueueFigures {
        depth: Some(depth),
        oldest_age_s: Some(age),
        consumers: Some(consumers),
        extra: extra
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn queue_obs(status: Status, summary: &str, figures: QueueFigures) -> Observation {
    let mut obs = Observation::new(status, summary);
    obs.queue = Some(figures);
    obs
}

/// The fixture's history: ten minutes of polls, Cloud SQL in North America failing two
/// minutes in, the default task queue backing up behind it, the Celery queue draining, and
/// telemetry's refreshes failing for the last three minutes.
fn incident() -> Model {
    let mut m = model();
    let start = t0() - TimeDelta::seconds(600);
    let ids: Vec<String> = m.estate().services.iter().map(|s| s.id.clone()).collect();
    for step in 0..=10i64 {
        let at = start + TimeDelta::seconds(step * 60);
        let n = u64::try_from(step).unwrap_or(0);
        for id in &ids {
            let obs = match id.as_str() {
                "sql-us" if step >= 2 => {
                    let error = if step < 4 {
                        "connection refused by 10.20.0.3:5432"
                    } else {
                        "instance lumieos-db-us is FAILED"
                    };
                    Observation::down(error)
                        .metric("state", "FAILED")
                        .metric("availability", "REGIONAL")
                        .metric("database_version", "POSTGRES_16")
                }
                "sql-us" | "sql-za" => {
                    Observation::new(Status::Up, "RUNNABLE · POSTGRES_16 · REGIONAL")
                        .metric("state", "RUNNABLE")
                        .metric("availability", "REGIONAL")
                }
                "tasks-default-us" => {
                    let depth = if step >= 2 { 200 + (n - 2) * 450 } else { 180 };
                    let status = if depth > 1000 {
                        Status::Degraded
                    } else {
                        Status::Up
                    };
                    queue_obs(
                        status,
                        &format!("{depth} waiting"),
                        queue(depth, 60.0 * (n as f64), 0, &[]),
                    )
                }
                "celery-fal" => {
                    let depth = 4000 - n * 350;
                    queue_obs(
                        Status::Up,
                        &format!("{depth} waiting · 12 consumers"),
                        queue(depth, 95.0, 12, &[("format", json!("celery"))]),
                    )
                }
                "orders" => queue_obs(
                    Status::Up,
                    "120 waiting · in 42.0/s · out 41.5/s · 37 dead-lettered",
                    queue(
                        120 + n,
                        3.2,
                        8,
                        &[
                            ("publish_rate", json!(42.0)),
                            ("deliver_rate", json!(41.5)),
                            ("dead_letter_depth", json!(37)),
                            ("state", json!("running")),
                        ],
                    ),
                ),
                "orders-dlq" => queue_obs(
                    Status::Up,
                    "37 waiting · no consumers",
                    queue(37, 5400.0, 0, &[]),
                ),
                "pubsub-us" => queue_obs(Status::Up, "0 undelivered", queue(0, 0.0, 1, &[])),
                "tasks-event-za" => queue_obs(Status::Up, "3 waiting", queue(3, 1.0, 2, &[])),
                "telemetry" if step >= 7 => continue,
                _ => Observation::new(Status::Up, "RUNNABLE"),
            };
            observe(&mut m, id, at, obs);
        }
    }
    let telemetry = index(&m, "telemetry");
    m.apply(ProbeReport {
        service: telemetry,
        at: t0() - TimeDelta::seconds(150),
        outcome: Outcome::Failed {
            error: "sentry.io answered 503 Service Unavailable".into(),
            retry_after: None,
        },
    });
    m
}

fn app_in(view: View) -> App {
    let model = incident();
    let mut app = App::new(model.snapshot(t0() + TimeDelta::seconds(30)));
    let key = match view {
        View::FailureMap => None,
        View::Topology => Some('2'),
        View::Queues => Some('3'),
        View::Detail => Some('4'),
        View::Events => Some('5'),
    };
    if let Some(c) = key {
        app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    assert_eq!(app.view(), view);
    app
}

fn draw(app: &mut App, theme: &Theme, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    terminal
        .draw(|frame| ui::draw(frame, app, theme))
        .expect("drawn");
    terminal
}

fn line(buf: &Buffer, y: u16) -> String {
    (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect()
}

fn text(buf: &Buffer) -> String {
    (0..buf.area.height)
        .map(|y| line(buf, y))
        .collect::<Vec<_>>()
        .join("\n")
}

fn find_line(buf: &Buffer, needle: &str) -> String {
    (0..buf.area.height)
        .map(|y| line(buf, y))
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line contains {needle:?}:\n{}", text(buf)))
}

/// The screen's text with, under each line, the runs of style it has: what insta shows for
/// the themes, where the text alone would hide the difference.
fn styled(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let _ = writeln!(out, "{}", line(buf, y).trim_end());
        let mut x = 0;
        while x < buf.area.width {
            let cell = &buf[(x, y)];
            let key = (cell.fg, cell.bg, cell.modifier);
            let start = x;
            while x < buf.area.width {
                let c = &buf[(x, y)];
                if (c.fg, c.bg, c.modifier) != key {
                    break;
                }
                x += 1;
            }
            if key != (Color::Reset, Color::Reset, Modifier::empty()) {
                let _ = writeln!(
                    out,
                    "  [{start}..{x}] fg={:?} bg={:?} {:?}",
                    key.0, key.1, key.2
                );
            }
        }
    }
    out
}

const VIEWS: [(View, &str); 5] = [
    (View::FailureMap, "map"),
    (View::Topology, "topology"),
    (View::Queues, "queues"),
    (View::Detail, "detail"),
    (View::Events, "events"),
];

#[test]
fn every_view_at_80x24_and_160x48() {
    let theme = Theme::builtin("default-dark");
    for (view, name) in VIEWS {
        for (w, h) in [(80, 24), (160, 48)] {
            let mut app = app_in(view);
            let terminal = draw(&mut app, &theme, w, h);
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), terminal.backend());
        }
    }
}

#[test]
fn every_view_in_monochrome_for_no_color() {
    let theme = ui::theme::load("default-dark", true).theme;
    for (view, name) in VIEWS {
        let mut app = app_in(view);
        let terminal = draw(&mut app, &theme, 80, 24);
        let buf = terminal.backend().buffer();
        for cell in &buf.content {
            assert_eq!(
                (cell.fg, cell.bg),
                (Color::Reset, Color::Reset),
                "{name}: {:?}",
                cell.symbol()
            );
        }
        insta::assert_snapshot!(format!("{name}_no_color"), styled(buf));
    }
}

#[test]
fn every_view_in_high_contrast() {
    let theme = Theme::builtin("high-contrast");
    for (view, name) in VIEWS {
        let mut app = app_in(view);
        let terminal = draw(&mut app, &theme, 80, 24);
        insta::assert_snapshot!(
            format!("{name}_high_contrast"),
            styled(terminal.backend().buffer())
        );
    }
}

/// Rows 0–2 are the header, row 3 the column headings: services start at row 4.
const FIRST_ROW: u16 = 4;

#[test]
fn the_failure_map_puts_the_root_cause_first_and_reads_sev1() {
    let mut app = app_in(View::FailureMap);
    let terminal = draw(&mut app, &Theme::default(), 80, 24);
    let buf = terminal.backend().buffer();
    let top = line(buf, FIRST_ROW);
    assert!(
        top.contains("✖ down") && top.contains("SEV1") && top.contains("Cloud SQL"),
        "{top}"
    );
    let api = find_line(buf, "Lumieos API, North America");
    assert!(
        api.contains("↯ impacted") && api.contains("sql-us"),
        "{api}"
    );
    assert!(line(buf, 0).contains("PROD") && line(buf, 0).contains("worst SEV1"));
    let telemetry = find_line(buf, "Sentry / PostHog");
    assert!(
        telemetry.contains("≈ stale") && !telemetry.contains("up"),
        "{telemetry}"
    );

    let wide = draw(&mut app, &Theme::default(), 160, 48);
    let buf = wide.backend().buffer();
    let headings = line(buf, FIRST_ROW - 1);
    let mut at = 0;
    for title in [
        "STATUS",
        "SEV",
        "SERVICE",
        "REGION",
        "IMPACTED BY",
        "FALLBACK",
        "SUMMARY",
        "AGE",
    ] {
        let found = headings[at..]
            .find(title)
            .unwrap_or_else(|| panic!("{title} missing or out of order in {headings}"));
        at += found + title.len();
    }
    assert!(find_line(buf, "Sentry / PostHog").contains("stale since 03:08:00"));
}

#[test]
fn the_failure_map_uses_300_columns_without_stretching_out_of_order() {
    let mut app = app_in(View::FailureMap);
    let terminal = draw(&mut app, &Theme::default(), 300, 40);
    let buf = terminal.backend().buffer();
    let api = find_line(buf, "Lumieos API, North America (Cloud Run)");
    assert!(
        api.contains("none: every partner in North America is down"),
        "{api}"
    );
    assert!(api.contains("RUNNABLE"), "{api}");
}

#[test]
fn the_topology_shows_both_regions_and_the_blast_radius_of_the_selection() {
    let mut app = app_in(View::Topology);
    let terminal = draw(&mut app, &Theme::default(), 160, 48);
    let buf = terminal.backend().buffer();
    let all = text(buf);
    assert!(
        all.contains("us · us-central1") && all.contains("za · africa-south1"),
        "{all}"
    );
    for role in ["edge", "compute", "queues", "data", "platform"] {
        assert!(all.contains(role), "{role}");
    }
    // The worst service (sql-us) is selected: its dependents are in the blast radius.
    assert!(find_line(buf, "around sql-us").contains("blast radius 3"));
    assert!(find_line(buf, "blast radius:").contains("run-us"));
    let blast = find_line(buf, "↯ run-us");
    assert!(blast.contains('◆'), "{blast}");
}

#[test]
fn the_queues_view_shows_depth_trend_and_eta() {
    let mut app = app_in(View::Queues);
    let terminal = draw(&mut app, &Theme::default(), 160, 48);
    let buf = terminal.backend().buffer();
    let tasks = find_line(buf, "Cloud Tasks default");
    assert!(
        tasks.contains("growing") && tasks.contains("3,800"),
        "{tasks}"
    );
    let celery = find_line(buf, "Celery fal");
    assert!(
        celery.contains("celery") && celery.contains("12"),
        "{celery}"
    );
    assert!(
        celery.contains('█') && !celery.contains("growing"),
        "{celery}"
    );
    let orders = find_line(buf, "RabbitMQ orders ");
    assert!(orders.contains("42/s") && orders.contains("37"), "{orders}");
    assert!(find_line(buf, "RabbitMQ orders.dlq").contains("dlq"));
    assert!(find_line(buf, "Pub/Sub chat-events").contains("empty"));
}

#[test]
fn the_detail_view_has_errors_dependencies_and_runbooks() {
    let mut app = app_in(View::Detail);
    let terminal = draw(&mut app, &Theme::default(), 160, 48);
    let buf = terminal.backend().buffer();
    let all = text(buf);
    for needle in [
        "Cloud SQL (Postgres), North America",
        "instance lumieos-db-us is FAILED",
        "03:04:00  connection refused by 10.20.0.3:5432",
        "03:06:00  instance lumieos-db-us is FAILED",
        "database_version",
        "cloud-sql-failover",
        "cloud-sql-restore",
        "Needed by",
        "run-us",
        "escalation #oncall-platform",
    ] {
        assert!(all.contains(needle), "{needle} missing:\n{all}");
    }
}

#[test]
fn the_events_view_lists_transitions_newest_first_with_times() {
    let mut app = app_in(View::Events);
    let terminal = draw(&mut app, &Theme::default(), 160, 48);
    let buf = terminal.backend().buffer();
    let first = line(buf, FIRST_ROW);
    assert!(
        first.contains("03:09:30") && first.contains("telemetry"),
        "{first}"
    );
    let sql = find_line(buf, "sql-us");
    assert!(
        sql.contains("03:04:00") && sql.contains("up → ✖ down"),
        "{sql}"
    );
}

#[test]
fn loading_is_shown_as_loading_in_every_view() {
    for (view, name) in VIEWS {
        let mut app = App::new(model().snapshot(t0()));
        if view != View::FailureMap {
            app.handle_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
            while app.view() != view {
                app.handle_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
            }
        }
        let terminal = draw(&mut app, &Theme::default(), 80, 24);
        let all = text(terminal.backend().buffer());
        assert!(all.contains("loading"), "{name}:\n{all}");
        assert!(!all.contains("no services"), "{name}:\n{all}");
        if view == View::FailureMap {
            insta::assert_snapshot!("loading_80x24", terminal.backend());
        }
    }
}

#[test]
fn help_is_generated_from_the_keymap() {
    let mut app = app_in(View::FailureMap);
    app.handle_key(KeyEvent::new(KeyCode::Char('?'), KeyModifiers::NONE));
    let wide = draw(&mut app, &Theme::default(), 160, 60);
    let all = text(wide.backend().buffer());
    for b in opsdeck::app::keymap::help_entries() {
        assert!(all.contains(b.help), "{} missing:\n{all}", b.help);
    }
    let terminal = draw(&mut app, &Theme::default(), 80, 24);
    insta::assert_snapshot!("help_80x24", terminal.backend());
}

#[test]
fn the_footer_shows_the_filter_being_typed_and_theme_warnings() {
    let mut app = app_in(View::FailureMap);
    app.handle_key(KeyEvent::new(KeyCode::Char('/'), KeyModifiers::NONE));
    for c in "region:za".chars() {
        app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    let terminal = draw(&mut app, &Theme::default(), 80, 24);
    let buf = terminal.backend().buffer();
    let footer = line(buf, 23);
    assert!(
        footer.starts_with(" /region:za") && footer.contains("5 of 14 services"),
        "{footer}"
    );
    assert!(!text(buf).contains("North America"));

    let mut app = app_in(View::FailureMap);
    app.warn(&["theme.toml: [sev] sev1.fg = \"#12345\" is not a colour".to_string()]);
    let terminal = draw(&mut app, &Theme::default(), 80, 24);
    assert!(line(terminal.backend().buffer(), 23).contains("is not a colour"));
}

#[test]
fn frozen_is_said_in_the_header() {
    let mut app = app_in(View::FailureMap);
    app.handle_key(KeyEvent::new(KeyCode::Char('f'), KeyModifiers::NONE));
    let terminal = draw(&mut app, &Theme::default(), 80, 24);
    assert!(line(terminal.backend().buffer(), 0).contains("FROZEN 03:12:30"));
}

#[test]
fn silenced_services_are_counted_in_the_header_and_marked_on_their_rows() {
    let mut model = incident();
    model.set_silences(vec![opsdeck::model::Silence {
        service: "sql-us".to_string(),
        who: "alice@bastion".to_string(),
        reason: "planned failover test".to_string(),
        start: t0() - TimeDelta::hours(1),
        until: t0() + TimeDelta::hours(1),
    }]);
    let mut app = App::new(model.snapshot(t0() + TimeDelta::seconds(30)));
    let terminal = draw(&mut app, &Theme::default(), 160, 48);
    let buf = terminal.backend().buffer();
    assert!(line(buf, 1).contains("silenced"), "{}", line(buf, 1));
    let rows: Vec<String> = text(buf)
        .lines()
        .filter(|l| l.contains("silenced"))
        .map(str::to_string)
        .collect();
    assert!(
        rows.iter()
            .any(|r| r.contains("Cloud SQL (Postgres), North America")),
        "the silenced service's row says so: {rows:#?}"
    );
}

#[test]
fn poller_stopped_is_said_in_the_header() {
    let mut app = app_in(View::FailureMap);
    app.set_poller_stopped();
    let terminal = draw(&mut app, &Theme::default(), 80, 24);
    assert!(line(terminal.backend().buffer(), 0).contains("poller stopped"));
}

#[test]
fn no_color_selects_in_reverse_video_and_keeps_glyphs_and_words() {
    let theme = ui::theme::load("default-dark", true).theme;
    let mut app = app_in(View::FailureMap);
    let terminal = draw(&mut app, &theme, 80, 24);
    let buf = terminal.backend().buffer();
    assert!(buf[(5, FIRST_ROW)].modifier.contains(Modifier::REVERSED));
    assert!(
        !buf[(5, FIRST_ROW + 1)]
            .modifier
            .contains(Modifier::REVERSED)
    );
    assert!(line(buf, FIRST_ROW).contains("✖ down"));
    let colored = draw(&mut app_in(View::FailureMap), &Theme::default(), 80, 24);
    assert!(
        colored
            .backend()
            .buffer()
            .content
            .iter()
            .any(|c| c.bg == Color::Red)
    );
}

/// Names, errors and summaries with ANSI and OSC payloads reach every view inert.
#[test]
fn strings_from_apis_reach_the_screen_inert() {
    let mut m = incident();
    let hostile = "FAILED\x1b]52;c;ZXZpbA==\x07\x1b[2J\r\nsee \x1b]8;;http://x\x1b\\console\x1b]8;;\x1b\\\u{202e}";
    observe(
        &mut m,
        "sql-us",
        t0() + TimeDelta::seconds(20),
        Observation::down(hostile).metric("reason", hostile),
    );
    let q = queue_obs(
        Status::Up,
        hostile,
        queue(1, 1.0, 1, &[("format", json!(hostile))]),
    );
    observe(&mut m, "celery-fal", t0() + TimeDelta::seconds(20), q);
    for (view, name) in VIEWS {
        let mut app = App::new(m.snapshot(t0() + TimeDelta::seconds(30)));
        while app.view() != view {
            app.handle_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
        }
        for (w, h) in [(80, 24), (160, 48)] {
            let terminal = draw(&mut app, &Theme::default(), w, h);
            let buf = terminal.backend().buffer();
            for cell in &buf.content {
                assert!(
                    !cell
                        .symbol()
                        .chars()
                        .any(|c| c.is_control() || c == '\u{202e}'),
                    "{name} {w}x{h}: {:?}",
                    cell.symbol()
                );
            }
        }
    }
    let mut app = App::new(m.snapshot(t0() + TimeDelta::seconds(30)));
    let terminal = draw(&mut app, &Theme::default(), 160, 48);
    find_line(terminal.backend().buffer(), "FAILED see console");
}

#[test]
fn every_view_renders_at_every_size_without_panicking() {
    for (view, _) in VIEWS {
        let mut app = app_in(view);
        app.handle_key(KeyEvent::new(KeyCode::Char('?'), KeyModifiers::NONE));
        for width in [0, 1, 10, 40, 79, 80, 100, 200, 300] {
            for height in [0, 1, 2, 3, 5, 9, 12, 16, 24, 60] {
                draw(&mut app, &Theme::default(), width, height);
            }
        }
    }
}

/// The incident with what explains it: Cloud SQL's failed state and its last operation (a
/// failover at 03:06) as evidence and change.
fn explained() -> Model {
    use opsdeck::model::{Change, ChangeKind, Evidence};
    let mut m = incident();
    let failover = t0() - TimeDelta::seconds(360);
    let mut obs = Observation::down("instance lumieos-db-us is FAILED")
        .metric("state", "FAILED")
        .evidence(Evidence::new(
            "instance",
            "state FAILED in us-central1-a: the instance is FAILED",
        ))
        .evidence(
            Evidence::new("operation", "FAILOVER DONE by ops@lumieos.example")
                .at(Some(failover + TimeDelta::seconds(90))),
        );
    obs.change = Some(
        Change::new(
            ChangeKind::Operation,
            Some(failover),
            "Cloud SQL FAILOVER DONE by ops@lumieos.example",
        )
        .short("failover"),
    );
    observe(&mut m, "sql-us", t0(), obs);
    m
}

#[test]
fn the_detail_view_shows_evidence_the_change_and_the_handoff() {
    let mut app = App::new(explained().snapshot(t0() + TimeDelta::seconds(30)));
    app.handle_key(KeyEvent::new(KeyCode::Char('4'), KeyModifiers::NONE));
    let terminal = draw(&mut app, &Theme::default(), 160, 48);
    let buf = terminal.backend().buffer();
    let all = text(buf);
    for needle in [
        "── Evidence",
        "03:12:00  instance  state FAILED in us-central1-a: the instance is FAILED",
        "03:07:30  operation  FAILOVER DONE by ops@lumieos.example",
        "── What changed",
        "03:06:00  operation  Cloud SQL FAILOVER DONE by ops@lumieos.example",
        "── Hand-off",
        "command (Y)  gcloud sql instances describe lumieos-db-us",
        "console (u)  https://console.cloud.google.com/sql/instances/lumieos-db-us/",
    ] {
        assert!(all.contains(needle), "{needle} missing:\n{all}");
    }
    insta::assert_snapshot!("detail_explained_160x48", terminal.backend());

    // On the map, the services it takes down show the root cause's change beside them.
    let mut app = App::new(explained().snapshot(t0() + TimeDelta::seconds(30)));
    let terminal = draw(&mut app, &Theme::default(), 200, 40);
    let row = find_line(terminal.backend().buffer(), "Lumieos API, North America");
    assert!(
        row.contains("changed 03:06 operation failover (on sql-us)"),
        "{row}"
    );
}

#[test]
fn blindness_is_one_banner_at_the_top() {
    let mut m = incident();
    let expired = "Cloud Run Admin API answered 401 UNAUTHENTICATED: Request had invalid authentication credentials. (credentials rejected: refresh them with `gcloud auth application-default login`)";
    for id in ["run-us", "run-za"] {
        observe(&mut m, id, t0(), Observation::unknown(expired));
    }
    let mut app = App::new(m.snapshot(t0() + TimeDelta::seconds(30)));
    let terminal = draw(&mut app, &Theme::default(), 160, 30);
    let buf = terminal.backend().buffer();
    let banner = line(buf, 1);
    assert!(banner.contains("BLIND"), "{banner}");
    assert!(
        banner.contains(
            "Google credentials expired or missing: run `gcloud auth application-default login` · 2 services: run-"
        ),
        "{banner}"
    );
    assert_eq!(text(buf).matches("BLIND").count(), 1, "said once");
    insta::assert_snapshot!("map_blind_160x30", terminal.backend());
}

/// The map with every shipped runbook, sql-us selected and `R` pressed.
fn runbooks_open() -> App {
    use opsdeck::runbook;
    let mut app = app_in(View::FailureMap);
    let catalog = runbook::builtin_ids()
        .into_iter()
        .filter_map(runbook::builtin)
        .collect();
    app.set_runbooks(catalog, false);
    assert_eq!(
        app.selected_service().map(|s| s.id.as_str()),
        Some("sql-us")
    );
    app.handle_key(KeyEvent::new(KeyCode::Char('R'), KeyModifiers::NONE));
    app
}

/// The plan of cloud-sql-failover on sql-us, as `plan::build` gives it.
fn failover_plan() -> opsdeck::runbook::plan::RunPlan {
    use opsdeck::action::Shown;
    use opsdeck::runbook::plan::{PlannedStep, RunPlan};
    let step = |n: usize, kind: &'static str, label: &str| PlannedStep {
        n,
        kind,
        label: label.to_string(),
        on_failure_only: false,
        when: None,
        condition: None,
        holds_now: None,
        action: None,
        destructive: false,
        requests: Vec::new(),
        facts: serde_json::Value::Null,
        error: None,
        text: None,
    };
    let mut check = step(1, "check", "The instance has a standby");
    check.condition = Some(r#"target.availability == "REGIONAL""#.into());
    check.holds_now = Some(true);
    let mut failover = step(2, "action", "cloud_sql.failover");
    failover.action = Some("cloud_sql.failover".into());
    failover.destructive = true;
    failover.requests = vec![Shown {
        method: "POST".into(),
        url: "https://sqladmin.googleapis.com/v1/projects/lumieos-prod/instances/lumieos-db-us/failover".into(),
        content_type: Some("application/json".into()),
        headers: vec![("Authorization".into(), "Bearer ****".into())],
        body: Some(json!({"failoverContext": {"kind": "sql#failoverContext", "settingsVersion": "42"}})),
        command: Vec::new(),
    }];
    let mut wait = step(3, "wait", "The instance serves again");
    wait.condition = Some(r#"target.status == "up""#.into());
    wait.holds_now = Some(false);
    let mut escalate = step(4, "manual", "Escalate in #oncall-platform");
    escalate.on_failure_only = true;
    escalate.text = Some("Escalate in #oncall-platform with the failover's operation id.".into());
    RunPlan {
        schema: "opsdeck.plan/v1",
        runbook: "cloud-sql-failover".into(),
        title: "Fail Cloud SQL over to its standby".into(),
        estate: "lumieos-prod".into(),
        target: "sql-us".into(),
        target_name: "Cloud SQL (Postgres), North America".into(),
        target_kind: "cloud_sql".into(),
        target_sev: 1,
        confirmation: "typed",
        read_only: false,
        params: BTreeMap::new(),
        steps: vec![check, failover, wait, escalate],
    }
}

#[test]
fn the_runbooks_list_shows_what_applies_to_the_selection() {
    let mut app = runbooks_open();
    let terminal = draw(&mut app, &Theme::default(), 100, 24);
    let buf = terminal.backend().buffer();
    let all = text(buf);
    assert!(all.contains("Runbooks for sql-us"), "{all}");
    assert!(find_line(buf, "cloud-sql-failover").contains("linked in the estate"));
    assert!(
        !all.contains("k8s-scale") && !all.contains("memorystore"),
        "{all}"
    );
    insta::assert_snapshot!("runbooks_list", all);
}

#[test]
fn the_run_screen_shows_the_plan_and_asks_for_the_targets_id() {
    use opsdeck::app::runbooks::RunbookReport;
    let mut app = runbooks_open();
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert!(app.runbook_report(RunbookReport::Plan {
        runbook: "cloud-sql-failover".into(),
        target: "sql-us".into(),
        plan: Ok(Box::new(failover_plan())),
    }));
    for c in "sql".chars() {
        app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    let terminal = draw(&mut app, &Theme::default(), 120, 40);
    let buf = terminal.backend().buffer();
    let all = text(buf);
    // Exactly the plan's text, then the typed confirmation.
    for line in failover_plan().text().lines().filter(|l| !l.is_empty()) {
        assert!(all.contains(line.trim_end()), "{line:?} missing:\n{all}");
    }
    assert!(
        all.contains("Bearer ****") && !all.contains("Bearer ya29"),
        "{all}"
    );
    assert!(find_line(buf, "destructive, on a SEV1 target").contains("sql-us"));
    assert!(find_line(buf, " > sql").contains("sql"));
    insta::assert_snapshot!("runbooks_run_plan", all);
    for (w, h) in [(1, 1), (20, 5), (80, 24)] {
        draw(&mut app, &Theme::default(), w, h);
    }
}

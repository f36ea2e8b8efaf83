//! The console's screens rendered from fixture snapshots of the demo estate, checked with insta
//! snapshots (tests/snapshots/) and with plain assertions on what matters most.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use opsdeck::app::App;
use opsdeck::estate::{self, DEMO_ESTATE};
use opsdeck::model::{Model, Observation, Outcome, ProbeReport, Status};
use opsdeck::ui::{self, Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 3, 12, 0)
        .single()
        .expect("a valid time")
}

fn demo_model() -> Model {
    let (estate, _) = estate::from_str(DEMO_ESTATE, "demo").expect("the demo estate loads");
    Model::new(Arc::new(estate))
}

/// Every service observed at `t0`, up except the ones in `down`.
fn observe_all(model: &mut Model, at: DateTime<Utc>, down: &[&str]) {
    let ids: Vec<String> = model
        .estate()
        .services
        .iter()
        .map(|s| s.id.clone())
        .collect();
    for (service, id) in ids.iter().enumerate() {
        let observation = if down.contains(&id.as_str()) {
            Observation::down(format!("{id} does not answer: connection refused"))
        } else {
            Observation::new(Status::Up, "RUNNABLE")
        };
        model.apply(ProbeReport {
            service,
            at,
            outcome: Outcome::Observed(observation),
        });
    }
}

/// The demo estate with Cloud SQL down, seen 30 s after the probes.
fn sql_down() -> App {
    let mut model = demo_model();
    observe_all(&mut model, t0(), &["sql"]);
    App::new(model.snapshot(t0() + TimeDelta::seconds(30)))
}

fn draw(app: &mut App, theme: Theme, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    terminal
        .draw(|frame| {
            app.set_page_rows(ui::list_rows(frame.area()));
            ui::render(frame, app, theme);
        })
        .expect("drawn");
    terminal
}

fn line(buf: &Buffer, y: u16) -> String {
    (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect()
}

fn find_line(buf: &Buffer, needle: &str) -> String {
    (0..buf.area.height)
        .map(|y| line(buf, y))
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line contains {needle:?}"))
}

/// Rows 0–1 are the header, row 2 the column headings: services start at row 3.
const FIRST_ROW: u16 = 3;

#[test]
fn failure_map_80x24() {
    let mut app = sql_down();
    let terminal = draw(&mut app, Theme::COLOR, 80, 24);
    let buf = terminal.backend().buffer();
    let top = line(buf, FIRST_ROW);
    assert!(top.contains("Cloud SQL"), "{top}");
    assert!(top.contains("SEV1"), "{top}");
    assert!(top.contains("✖ down"), "{top}");
    let api = find_line(buf, "tappass API (");
    assert!(api.contains("↯ impacted") && api.contains("sql"), "{api}");
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn failure_map_160x48() {
    let mut app = sql_down();
    let terminal = draw(&mut app, Theme::COLOR, 160, 48);
    let buf = terminal.backend().buffer();
    let top = line(buf, FIRST_ROW);
    assert!(
        top.contains("Cloud SQL (Postgres)") && top.contains("SEV1"),
        "{top}"
    );
    let headings = line(buf, FIRST_ROW - 1);
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
        assert!(headings.contains(title), "{title} missing from {headings}");
    }
    let api = find_line(buf, "tappass API (Cloud Run + OPA sidecar)");
    assert!(api.contains("sql") && api.contains("30s"), "{api}");
    insta::assert_snapshot!(terminal.backend());
}

/// KMS down for three minutes (the API limps on its cached key); telemetry last seen three
/// minutes ago, its refreshes failing since.
#[test]
fn fallback_time_left_and_stale_data_120x30() {
    let mut model = demo_model();
    observe_all(&mut model, t0(), &["kms"]);
    let now = t0() + TimeDelta::seconds(180);
    let telemetry = model.estate().index_of("telemetry").expect("telemetry");
    let ids: Vec<String> = model
        .estate()
        .services
        .iter()
        .map(|s| s.id.clone())
        .collect();
    for (service, id) in ids.iter().enumerate() {
        let outcome = match id.as_str() {
            "kms" => Outcome::Observed(Observation::down("key version vault-dek/3 is DISABLED")),
            "telemetry" => continue,
            _ => Outcome::Observed(Observation::new(Status::Up, "RUNNABLE")),
        };
        let at = now - TimeDelta::seconds(5);
        model.apply(ProbeReport {
            service,
            at,
            outcome,
        });
    }
    model.apply(ProbeReport {
        service: telemetry,
        at: t0() + TimeDelta::seconds(60),
        outcome: Outcome::Failed {
            error: "sentry.io answered 503 Service Unavailable".into(),
            retry_after: None,
        },
    });
    let mut app = App::new(model.snapshot(now));
    let terminal = draw(&mut app, Theme::COLOR, 120, 30);
    let buf = terminal.backend().buffer();
    let api = find_line(buf, "tappass API (");
    assert!(
        api.contains("cached DEK") && api.contains("7m left"),
        "{api}"
    );
    let telemetry = find_line(buf, "Sentry / PostHog");
    assert!(telemetry.contains("3m stale"), "{telemetry}");
    assert!(find_line(buf, "Cloud SQL (Postgres) ").contains(" 5s"));
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn loading_before_the_first_probe_80x24() {
    let model = demo_model();
    let mut app = App::new(model.snapshot(t0()));
    let terminal = draw(&mut app, Theme::COLOR, 80, 24);
    let buf = terminal.backend().buffer();
    find_line(buf, "loading…");
    assert!(!line(buf, FIRST_ROW - 1).contains("STATUS"));
    insta::assert_snapshot!(terminal.backend());
}

#[test]
fn poller_stopped_is_said_in_the_header() {
    let mut app = sql_down();
    app.set_poller_stopped();
    let terminal = draw(&mut app, Theme::COLOR, 80, 24);
    assert!(line(terminal.backend().buffer(), 0).contains("poller stopped"));
}

#[test]
fn no_color_draws_without_colours_and_selects_in_reverse_video() {
    let mut app = sql_down();
    let terminal = draw(&mut app, Theme::PLAIN, 80, 24);
    let buf = terminal.backend().buffer();
    for cell in &buf.content {
        assert_eq!(
            (cell.fg, cell.bg),
            (Color::Reset, Color::Reset),
            "{:?}",
            cell.symbol()
        );
    }
    let selected = &buf[(5, FIRST_ROW)];
    assert!(selected.modifier.contains(Modifier::REVERSED));
    assert!(
        !buf[(5, FIRST_ROW + 1)]
            .modifier
            .contains(Modifier::REVERSED)
    );
    // Meaning survives: glyph and word, not colour.
    assert!(line(buf, FIRST_ROW).contains("✖ down"));

    let colored = draw(&mut sql_down(), Theme::COLOR, 80, 24);
    assert!(
        colored
            .backend()
            .buffer()
            .content
            .iter()
            .any(|c| c.fg == Color::Red || c.bg == Color::Red)
    );
}

#[test]
fn strings_from_apis_reach_the_screen_inert() {
    let mut model = demo_model();
    observe_all(&mut model, t0(), &[]);
    model.apply(ProbeReport {
        service: model.estate().index_of("sql").expect("sql"),
        at: t0(),
        outcome: Outcome::Observed(Observation::down(
            "FAILED\x1b]52;c;ZXZpbA==\x07\x1b[2J\r\nsee \x1b]8;;http://x\x1b\\console\x1b]8;;\x1b\\",
        )),
    });
    let mut app = App::new(model.snapshot(t0()));
    let terminal = draw(&mut app, Theme::COLOR, 160, 48);
    let buf = terminal.backend().buffer();
    for cell in &buf.content {
        assert!(
            !cell.symbol().chars().any(char::is_control),
            "{:?}",
            cell.symbol()
        );
    }
    find_line(buf, "FAILED see console");
}

#[test]
fn every_size_renders_without_panicking() {
    let mut app = sql_down();
    for width in [0, 1, 10, 40, 79, 80, 100, 200] {
        for height in [0, 1, 2, 3, 5, 15, 16, 24] {
            draw(&mut app, Theme::COLOR, width, height);
        }
    }
}

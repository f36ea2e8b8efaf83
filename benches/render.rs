//! One frame of the console with 5000 services, on ratatui's TestBackend (criterion). The
//! failure map at 80×24 and 200×60 (and with 50 services, for comparison), the other views at
//! 200×60, and the per-snapshot work that happens before a frame (building the snapshot, and
//! the app taking it in). Run with `cargo bench --bench render`.

use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use opsdeck::app::App;
use opsdeck::estate;
use opsdeck::model::{Model, Observation, Outcome, ProbeReport, Status};
use opsdeck::ui::{self, Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const SERVICES: usize = 5000;

/// An estate of `n` services in three regions, each fifth one depending on a database.
fn generated_estate(n: usize) -> String {
    let mut s = String::from(
        "name = \"bench\"\nenvironment = \"prod\"\n[gcp]\nproject = \"bench\"\n\
         [[region]]\nid = \"r0\"\ngcp_region = \"europe-west1\"\n\
         [[region]]\nid = \"r1\"\ngcp_region = \"us-central1\"\n\
         [[region]]\nid = \"r2\"\ngcp_region = \"africa-south1\"\n",
    );
    for i in 0..n {
        let body = match i % 5 {
            0 | 1 => format!("kind = \"cloud_run\"\nservice = \"run-{i}\""),
            2 => format!("kind = \"cloud_sql\"\ninstance = \"sql-{i}\""),
            3 => format!("kind = \"memorystore\"\ninstance = \"redis-{i}\""),
            _ => format!("kind = \"http\"\nurl = \"https://svc-{i}.example.com/healthz\""),
        };
        let deps = if i >= 5 && i % 5 < 2 {
            format!("depends_on = [\"s{}\"]\n", i - 3)
        } else {
            String::new()
        };
        let _ = write!(
            s,
            "[[service]]\nid = \"s{i}\"\nname = \"Service number {i} of the estate\"\nregion = \"r{}\"\nsev = {}\n{body}\n{deps}",
            i % 3,
            1 + i % 4
        );
    }
    s
}

/// The estate of `n` services observed once, with one database in fifty down.
fn observed(n: usize) -> Model {
    let (estate, _) = estate::from_str_with_env(&generated_estate(n), "bench", &|_| None)
        .expect("a valid estate");
    let mut model = Model::new(Arc::new(estate));
    let at = Utc
        .with_ymd_and_hms(2025, 3, 14, 3, 12, 0)
        .single()
        .expect("a time");
    for service in 0..n {
        let obs = if service % 50 == 2 {
            Observation::down("instance is FAILED")
        } else {
            Observation::new(
                Status::Up,
                "RUNNABLE · POSTGRES_16 · REGIONAL · europe-west1-b",
            )
        };
        model.apply(ProbeReport {
            service,
            at,
            outcome: Outcome::Observed(obs),
        });
    }
    model
}

fn frames(c: &mut Criterion) {
    let model = observed(SERVICES);
    let now = Utc
        .with_ymd_and_hms(2025, 3, 14, 3, 12, 30)
        .single()
        .expect("a time");
    let snapshot = model.snapshot(now);
    let theme = Theme::default();

    for (w, h) in [(80, 24), (200, 60)] {
        let mut app = App::new(snapshot.clone());
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        c.bench_function(&format!("failure_map_5000/{w}x{h}"), |b| {
            b.iter(|| {
                terminal
                    .draw(|frame| ui::draw(frame, black_box(&mut app), &theme))
                    .expect("drawn");
            });
        });
    }

    // The same frame over a small estate: what the frame costs whatever the estate's size.
    let small = observed(50).snapshot(now);
    let mut app = App::new(small);
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    c.bench_function("failure_map_50/200x60", |b| {
        b.iter(|| {
            terminal
                .draw(|frame| ui::draw(frame, black_box(&mut app), &theme))
                .expect("drawn");
        });
    });

    for (key, name) in [
        ('2', "topology"),
        ('3', "queues"),
        ('4', "detail"),
        ('5', "events"),
    ] {
        let mut app = App::new(snapshot.clone());
        app.handle_key(KeyEvent::new(KeyCode::Char(key), KeyModifiers::NONE));
        let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
        c.bench_function(&format!("{name}_5000/200x60"), |b| {
            b.iter(|| {
                terminal
                    .draw(|frame| ui::draw(frame, black_box(&mut app), &theme))
                    .expect("drawn");
            });
        });
    }

    c.bench_function("snapshot_5000", |b| {
        b.iter(|| black_box(model.snapshot(now)));
    });
    let mut app = App::new(snapshot.clone());
    let later = model.snapshot(now + TimeDelta::seconds(10));
    let mut flip = false;
    c.bench_function("app_takes_a_changed_snapshot_5000", |b| {
        b.iter_batched(
            || {
                flip = !flip;
                if flip {
                    later.clone()
                } else {
                    snapshot.clone()
                }
            },
            |next| black_box(app.set_snapshot(next)),
            BatchSize::LargeInput,
        );
    });
}

criterion_group!(benches, frames);
criterion_main!(benches);

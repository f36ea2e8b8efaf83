//! The header: the estate's name under its environment banner, the worst SEV and the verdict
//! on the first line (with FROZEN and poller badges on the right); when opsdeck cannot see
//! part of the estate, the blind banner (the cause, the fix, the services it hides) next;
//! how many services are in each state; the views as tabs, and the active filter, last.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::Theme;
use super::text::{fit, sanitize, width};
use super::theme::Role;
use crate::app::{App, STATE_WORDS, View};
use crate::model::Overall;

/// Rows of the header (one more with the blind banner).
pub const ROWS: u16 = 3;

/// Whether the header carries the blind banner.
pub fn blind(app: &App) -> bool {
    !app.snapshot().blind.is_empty()
}

pub fn render(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    if area.height == 0 {
        return;
    }
    let row = |i: u16| Rect {
        y: area.y + i,
        height: 1,
        ..area
    };
    banner_line(app, theme, row(0), buf);
    let extra = u16::from(area.height > ROWS && blind(app));
    if extra == 1 {
        blind_line(app, theme, row(1), buf);
    }
    if area.height >= 2 + extra {
        counts_line(app, theme, row(1 + extra), buf);
    }
    if area.height >= 3 + extra {
        tabs_line(app, theme, row(2 + extra), buf);
    }
}

/// "BLIND Google credentials expired or missing: run `gcloud auth …` · 9 services: api, sql…"
/// for the largest group, with how many other causes there are.
fn blind_line(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let snap = app.snapshot();
    let Some(first) = snap.blind.first() else {
        return;
    };
    let n = first.services.len();
    let mut text = format!(
        "{}: {} · {n} service{}: {}",
        first.message,
        first.fix,
        if n == 1 { "" } else { "s" },
        first.services.join(", ")
    );
    if snap.blind.len() > 1 {
        text = format!(
            "{text} · and {} more cause{}",
            snap.blind.len() - 1,
            if snap.blind.len() == 2 { "" } else { "s" }
        );
    }
    let style = theme.style(Role::Unknown);
    let line = Line::from(vec![
        Span::styled(" BLIND ", style.add_modifier(Modifier::REVERSED)),
        Span::raw(" "),
        Span::styled(
            fit(&sanitize(&text), usize::from(area.width).saturating_sub(8)).into_owned(),
            style,
        ),
    ]);
    Paragraph::new(line).render(area, buf);
}

fn banner_line(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let snap = app.snapshot();
    let environment = sanitize(&snap.environment).to_uppercase();
    let mut first = vec![
        Span::styled(format!(" {environment} "), theme.banner(&snap.environment)),
        Span::raw(" "),
        Span::styled(sanitize(&snap.estate).into_owned(), theme.heading()),
        Span::raw("   "),
    ];
    if snap.services.iter().all(|s| s.pending) {
        // Nothing is known yet: a SEV or a verdict now would only be alarm.
        first.push(Span::styled(
            "loading: waiting for the first probes",
            theme.muted(),
        ));
    } else {
        match snap.worst_sev {
            Some(level) => {
                first.push(Span::raw("worst "));
                first.push(Span::styled(
                    theme.sev_label(level, snap.sev_name(level)),
                    theme.sev(Some(level)),
                ));
            }
            None => first.push(Span::styled("no incident", theme.state("up").1)),
        }
        first.push(Span::raw("   "));
        let verdict_style = match snap.status {
            Overall::Critical => theme.style(Role::Crit),
            Overall::Warning => theme.style(Role::Warn),
            Overall::Unknown => theme.style(Role::Unknown),
            Overall::Ok => theme.style(Role::Ok),
        };
        first.push(Span::styled(snap.status.as_str(), verdict_style));
    }
    let first = Line::from(first);
    let used = first.width();
    Paragraph::new(first).render(area, buf);

    let mut badges: Vec<(String, String)> = Vec::new();
    if let Some(at) = app.frozen_at() {
        let newer = if app.newer_data_held() {
            " · newer data held"
        } else {
            ""
        };
        badges.push((
            format!(" FROZEN {}{newer} ", at.format("%H:%M:%S")),
            " FROZEN ".to_string(),
        ));
    }
    if app.poller_stopped() {
        badges.push((
            " poller stopped: last data shown ".to_string(),
            " poller stopped ".to_string(),
        ));
    }
    let room = usize::from(area.width).saturating_sub(used + 1);
    let long: usize = badges.iter().map(|(l, _)| width(l)).sum();
    let pick_long = long <= room;
    let spans: Vec<Span> = badges
        .into_iter()
        .map(|(l, s)| {
            let text = if pick_long { l } else { s };
            Span::styled(text, theme.warning().add_modifier(Modifier::REVERSED))
        })
        .collect();
    let line = Line::from(spans);
    if line.width() <= room {
        Paragraph::new(line)
            .alignment(Alignment::Right)
            .render(area, buf);
    }
}

fn counts_line(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let snap = app.snapshot();
    let counts = app.rows().state_counts;
    let mut spans = vec![Span::raw(" ")];
    // Stale data is counted apart below, whatever its state.
    for (word, &n) in STATE_WORDS
        .iter()
        .zip(&counts)
        .filter(|(w, _)| **w != "stale")
    {
        let word = *word;
        if n == 0 && word == "loading" {
            continue;
        }
        let (glyph, style) = theme.state(word);
        let style = if n == 0 { theme.muted() } else { style };
        spans.push(Span::styled(format!("{glyph} {n} {word}"), style));
        spans.push(Span::raw("  "));
    }
    if snap.counts.stale > 0 {
        spans.push(Span::styled(
            format!("{} {} stale", theme.glyph(Role::Stale), snap.counts.stale)
                .trim_start()
                .to_string(),
            theme.stale(),
        ));
        spans.push(Span::raw("  "));
    }
    // Counted in their states above, and left out of the verdict.
    if snap.counts.silenced > 0 {
        spans.push(Span::styled(
            format!("{} silenced", snap.counts.silenced),
            theme.muted(),
        ));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

fn tabs_line(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let mut spans = vec![Span::raw(" ")];
    for (i, view) in View::TABS.iter().enumerate() {
        let label = format!(" {} {} ", i + 1, view.title());
        let style = if *view == app.view() {
            theme.accent().add_modifier(Modifier::REVERSED)
        } else {
            theme.muted()
        };
        spans.push(Span::styled(label, style));
    }
    let tabs = Line::from(spans);
    let used = tabs.width();
    Paragraph::new(tabs).render(area, buf);
    let filter = app.filter();
    if filter.is_empty() || app.input().is_some() {
        return;
    }
    let snap = app.snapshot();
    let text = format!(
        "filter {} · {} of {} ",
        sanitize(&filter.to_text()),
        app.rows().map.len(),
        snap.services.len()
    );
    let room = usize::from(area.width).saturating_sub(used + 1);
    if room >= 10 {
        Paragraph::new(Line::from(Span::styled(
            fit(&text, room).into_owned(),
            theme.accent(),
        )))
        .alignment(Alignment::Right)
        .render(area, buf);
    }
}

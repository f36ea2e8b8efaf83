//! The failure map (home): one row per service, worst first, with status glyph and word,
//! effective SEV, name, region, root causes, fallback, summary and the age of the data (with a
//! "stale since" badge), and the selected service's summary strip below when there is room.
//! Columns drop by priority on narrow terminals, so nothing overlaps at 80 columns and
//! everything shows from about 160. Only the rows on screen are formatted.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, HighlightSpacing, Row, StatefulWidget, Table, TableState};

use crate::app::{self, App, View};
use crate::model::{ServiceView, Snapshot};
use crate::ui::Theme;
use crate::ui::text::{clean, sanitize, width};
use crate::ui::widgets::{SPACING, Want, centred, fit_columns, strip};

/// The summary strip is shown only when the view is at least this tall.
const STRIP_MIN_HEIGHT: u16 = 12;

/// The failure map of an app's snapshot.
#[derive(Debug, Clone, Copy)]
pub struct FailureMapView<'a> {
    pub app: &'a App,
    pub theme: &'a Theme,
}

/// Service rows that fit in a body area of this size.
pub fn list_rows(body: Rect) -> usize {
    let (table, _) = split(body);
    usize::from(table.height.saturating_sub(1))
}

/// The table and, when there is room, the strip below it.
fn split(body: Rect) -> (Rect, Option<Rect>) {
    if body.height < STRIP_MIN_HEIGHT {
        return (body, None);
    }
    let table = Rect {
        height: body.height - strip::ROWS,
        ..body
    };
    let below = Rect {
        y: table.bottom(),
        height: strip::ROWS,
        ..body
    };
    (table, Some(below))
}

/// Columns of the map.
const STATUS: usize = 0;
const SEV: usize = 1;
const SERVICE: usize = 2;
const REGION: usize = 3;
const IMPACTED_BY: usize = 4;
const FALLBACK: usize = 5;
const SUMMARY: usize = 6;
const AGE: usize = 7;

const TITLES: [&str; 8] = [
    "STATUS",
    "SEV",
    "SERVICE",
    "REGION",
    "IMPACTED BY",
    "FALLBACK",
    "SUMMARY",
    "AGE",
];
const DISPLAY: [usize; 8] = [
    STATUS,
    SEV,
    SERVICE,
    REGION,
    IMPACTED_BY,
    FALLBACK,
    SUMMARY,
    AGE,
];
/// Who gets spare width first: the name, then what is said about it.
const GROW: [usize; 5] = [SERVICE, AGE, SUMMARY, FALLBACK, IMPACTED_BY];
/// Kept first when space runs out.
const PRIORITY: [usize; 8] = [
    STATUS,
    SEV,
    SERVICE,
    AGE,
    IMPACTED_BY,
    REGION,
    FALLBACK,
    SUMMARY,
];

/// What each column would like, from the widths measured per snapshot.
fn wants(app: &App, theme: &Theme) -> Vec<Want> {
    let snap = app.snapshot();
    let w = app.rows().map_widths;
    let title = |c: usize| width(TITLES[c]);
    let status = [
        "down", "degraded", "impacted", "unknown", "up", "loading", "stale", "silenced",
    ]
    .iter()
    .map(|word| width(theme.state(word).0) + 1 + width(word))
    .max()
    .unwrap_or(0);
    let sev = (1..=4)
        .map(|l| width(&theme.sev_label(l, snap.sev_name(l))))
        .max()
        .unwrap_or(1);
    let stale = snap.counts.stale > 0;
    let age_min = if stale {
        width(&stale_short(theme, "59m"))
    } else {
        3
    };
    let age_want = if stale {
        width(&stale_long(theme, "03:09:12"))
    } else {
        3
    };
    let want = |id: usize, text: usize, min: usize, max: usize| Want {
        id,
        want: text.max(title(id)).min(max),
        min: min.max(title(id)).min(text.max(title(id))),
    };
    vec![
        want(STATUS, status, status, status),
        want(SEV, sev, sev, sev),
        want(SERVICE, w.name, 24, 48),
        want(REGION, w.region, 0, 16),
        want(IMPACTED_BY, w.impacted_by, 0, 24),
        want(FALLBACK, w.fallback, 24, 80),
        want(SUMMARY, w.summary, 16, 80),
        want(AGE, age_want, age_min, age_want),
    ]
}

fn stale_short(theme: &Theme, age: &str) -> String {
    format!("{} stale {age}", theme.glyph(crate::ui::theme::Role::Stale))
        .trim_start()
        .to_string()
}

fn stale_long(theme: &Theme, since: &str) -> String {
    format!(
        "{} stale since {since}",
        theme.glyph(crate::ui::theme::Role::Stale)
    )
    .trim_start()
    .to_string()
}

impl ratatui::widgets::Widget for &FailureMapView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 {
            return;
        }
        let app = self.app;
        let snap = app.snapshot();
        let theme = self.theme;
        let (table_area, strip_area) = split(area);
        if let Some(message) = empty_message(app) {
            centred(&message, theme.muted(), table_area, buf);
            return;
        }
        let columns = fit_columns(
            &wants(app, theme),
            &PRIORITY,
            &GROW,
            &DISPLAY,
            usize::from(area.width),
        );
        let cursor = app.cursor(View::FailureMap);
        let visible = usize::from(table_area.height.saturating_sub(1));
        let rows: Vec<Row> = app
            .rows()
            .map
            .iter()
            .skip(cursor.offset)
            .take(visible)
            .map(|&i| {
                let s = &snap.services[i];
                Row::new(columns.iter().map(|&(col, w)| cell(snap, s, col, w, theme)))
            })
            .collect();
        let headings = Row::new(
            columns
                .iter()
                .map(|&(col, w)| Cell::from(clean(TITLES[col], w))),
        )
        .style(theme.heading());
        let widths = columns
            .iter()
            .map(|&(_, w)| Constraint::Length(u16::try_from(w).unwrap_or(u16::MAX)));
        let table = Table::new(rows, widths)
            .header(headings)
            .column_spacing(u16::try_from(SPACING).unwrap_or(1))
            .row_highlight_style(theme.cursor())
            .highlight_spacing(HighlightSpacing::Never);
        let selected = app
            .selected()
            .and(Some(cursor.selected))
            .and_then(|s| s.checked_sub(cursor.offset));
        let mut state = TableState::new().with_selected(selected);
        StatefulWidget::render(table, table_area, buf, &mut state);
        if let Some(strip_area) = strip_area {
            strip::render(app, theme, strip_area, buf);
        }
    }
}

/// What to say instead of rows: an empty estate, the first probes pending, nothing matching.
pub fn empty_message(app: &App) -> Option<String> {
    let snap = app.snapshot();
    if snap.services.is_empty() {
        return Some("no services in this estate".to_string());
    }
    if snap.services.iter().all(|s| s.pending) {
        return Some(format!(
            "loading… waiting for the first probe of {} services",
            snap.services.len()
        ));
    }
    if app.rows().map.is_empty() {
        return Some(format!(
            "no service matches the filter \"{}\" (Esc clears it)",
            sanitize(&app.filter().to_text())
        ));
    }
    None
}

/// One cell, fitted to its width and styled by meaning.
fn cell(snap: &Snapshot, s: &ServiceView, col: usize, w: usize, theme: &Theme) -> Cell<'static> {
    let word = app::shown_state(s);
    match col {
        // A silenced service keeps its state's glyph and says "silenced", muted.
        STATUS if s.silenced => {
            let (glyph, _) = theme.state(word);
            Cell::from(Span::styled(
                clean(&format!("{glyph} silenced"), w),
                theme.muted(),
            ))
        }
        STATUS => {
            let (glyph, style) = theme.state(word);
            Cell::from(Span::styled(clean(&format!("{glyph} {word}"), w), style))
        }
        SEV => match s.sev {
            Some(level) => Cell::from(Span::styled(
                clean(&theme.sev_label(level, snap.sev_name(level)), w),
                if s.silenced {
                    theme.muted()
                } else {
                    theme.sev(Some(level))
                },
            )),
            None => Cell::from(Span::styled("-", theme.muted())),
        },
        SERVICE => Cell::from(clean(&s.name, w)),
        REGION => Cell::from(clean(s.region.as_deref().unwrap_or("-"), w)),
        IMPACTED_BY => Cell::from(Span::styled(
            clean(&s.impacted_by.join(", "), w),
            theme.state("impacted").1,
        )),
        FALLBACK => {
            // A healthy service's fallback is background knowledge (the strip has it); the
            // map shows fallbacks where something is wrong. One carrying the service now
            // reads normally; a declared one not in use is secondary.
            let text = app::fallback_text(s)
                .filter(|_| word != "up")
                .map(|f| clean(&f, w))
                .unwrap_or_default();
            let style = if s.is_impacted() && !s.failing {
                Style::new()
            } else {
                theme.muted()
            };
            Cell::from(Span::styled(text, style))
        }
        SUMMARY if s.silenced => Cell::from(Line::from(vec![
            Span::styled(
                clean(
                    &format!("{} · ", app::silence_mark(s).unwrap_or_default()),
                    w,
                ),
                theme.muted(),
            ),
            Span::raw(clean(&s.summary, w)),
        ])),
        SUMMARY => match s.change.as_ref().filter(|_| word != "up") {
            // What changed last, beside what is wrong: "it broke right after the 14:02 deploy".
            Some(c) => Cell::from(Line::from(vec![
                Span::styled(
                    clean(&format!("changed {} · ", c.label(&s.id)), w),
                    theme.accent(),
                ),
                Span::raw(clean(&s.summary, w)),
            ])),
            None => Cell::from(clean(&s.summary, w)),
        },
        _ => age_cell(snap, s, w, theme),
    }
}

/// The age, or the stale badge: "stale since 03:09:12" when it fits, else "stale 3m".
fn age_cell(snap: &Snapshot, s: &ServiceView, w: usize, theme: &Theme) -> Cell<'static> {
    let age = app::age_text(snap, s);
    if !s.stale {
        return Cell::from(clean(&age, w));
    }
    let long = s
        .stale_since
        .map(|t| stale_long(theme, &t.format("%H:%M:%S").to_string()));
    let text = match long {
        Some(long) if width(&long) <= w => long,
        _ => stale_short(theme, &age),
    };
    Cell::from(Line::from(Span::styled(clean(&text, w), theme.stale())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strip_needs_room() {
        let small = Rect::new(0, 0, 80, 11);
        assert_eq!(split(small), (small, None));
        let (table, strip) = split(Rect::new(0, 3, 80, 20));
        assert_eq!(table.height, 16);
        assert_eq!(strip, Some(Rect::new(0, 19, 80, 4)));
        assert_eq!(list_rows(Rect::new(0, 0, 80, 20)), 15);
    }
}

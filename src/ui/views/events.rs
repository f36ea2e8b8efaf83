//! The events view: status transitions (and refreshes starting to fail or working again),
//! newest first, each with its time (UTC), the service, the change as glyphs and words, and
//! what the probe said. Filtered by the same `/` filter as the services. Above them, while it
//! lasts, the attention line: the latest new SEV 1–2 problems (the ones the bell rang for).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, HighlightSpacing, Row, StatefulWidget, Table, TableState, Widget};

use crate::app::{App, View};
use crate::model::EventView;
use crate::ui::Theme;
use crate::ui::text::{clean, width};
use crate::ui::widgets::{SPACING, Want, centred, fit_columns};

/// The events view of an app's snapshot.
#[derive(Debug, Clone, Copy)]
pub struct EventsView<'a> {
    pub app: &'a App,
    pub theme: &'a Theme,
}

const TIME: usize = 0;
const SERVICE: usize = 1;
const CHANGE: usize = 2;
const TEXT: usize = 3;
const TITLES: [&str; 4] = ["TIME (UTC)", "SERVICE", "CHANGE", "WHAT THE PROBE SAID"];
const DISPLAY: [usize; 4] = [TIME, SERVICE, CHANGE, TEXT];
const PRIORITY: [usize; 4] = [TIME, SERVICE, CHANGE, TEXT];

/// Rows of events that fit in a body area of this size.
pub fn list_rows(app: &App, body: Rect) -> usize {
    let attention = u16::from(app.attention().is_some());
    usize::from(body.height.saturating_sub(1 + attention))
}

/// "✖ new SEV1 at 03:12:05: sql, api · the bell rang".
fn attention_text(app: &App, theme: &Theme) -> Option<(String, ratatui::style::Style)> {
    let a = app.attention()?;
    let snap = app.snapshot();
    let bell = if a.rang { "the bell rang" } else { "bell off" };
    Some((
        format!(
            "{} new {} at {}: {} · {bell}",
            theme.state("down").0,
            snap.sev_name(a.sev),
            a.at.format("%H:%M:%S"),
            a.services.join(", ")
        )
        .trim_start()
        .to_string(),
        theme.sev(Some(a.sev)),
    ))
}

fn from_word(e: &EventView) -> &'static str {
    e.from.map_or("new", |s| s.as_str())
}

impl Widget for &EventsView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 {
            return;
        }
        let app = self.app;
        let snap = app.snapshot();
        let theme = self.theme;
        let area = match attention_text(app, theme) {
            Some((text, style)) => {
                let w = usize::from(area.width);
                buf.set_line(
                    area.x,
                    area.y,
                    &Line::from(Span::styled(clean(&text, w), style)),
                    area.width,
                );
                Rect {
                    y: area.y + 1,
                    height: area.height - 1,
                    ..area
                }
            }
            None => area,
        };
        let rows = &app.rows().events;
        if rows.is_empty() {
            let text = if snap.events.is_empty() {
                if snap.loading() {
                    "loading… no status changes yet"
                } else {
                    "no status changes since the console started"
                }
            } else {
                "no event matches the filter (Esc clears it)"
            };
            centred(text, theme.muted(), area, buf);
            return;
        }
        let cursor = app.cursor(View::Events);
        let visible = usize::from(area.height.saturating_sub(1));
        let shown: Vec<&EventView> = rows
            .iter()
            .skip(cursor.offset)
            .take(visible)
            .map(|&i| &snap.events[i])
            .collect();
        let change_w = |e: &EventView| {
            width(theme.state(from_word(e)).0)
                + width(from_word(e))
                + width(theme.state(e.to.as_str()).0)
                + width(e.to.as_str())
                + 5
        };
        let wants = [
            Want {
                id: TIME,
                want: width(TITLES[TIME]),
                min: 8,
            },
            Want {
                id: SERVICE,
                want: shown
                    .iter()
                    .map(|e| width(&e.service))
                    .chain([width(TITLES[SERVICE])])
                    .max()
                    .unwrap_or(0)
                    .min(24),
                min: 8,
            },
            Want {
                id: CHANGE,
                want: shown.iter().map(|e| change_w(e)).max().unwrap_or(6),
                min: 6,
            },
            Want {
                id: TEXT,
                want: 200,
                min: 10,
            },
        ];
        let columns = fit_columns(&wants, &PRIORITY, &[], &DISPLAY, usize::from(area.width));
        let table_rows: Vec<Row> = shown
            .iter()
            .map(|e| {
                Row::new(columns.iter().map(|&(col, w)| match col {
                    TIME => Cell::from(Span::styled(
                        e.at.format("%H:%M:%S").to_string(),
                        theme.muted(),
                    )),
                    SERVICE => Cell::from(Span::styled(clean(&e.service, w), theme.heading())),
                    CHANGE => {
                        let from = from_word(e);
                        let to = e.to.as_str();
                        let (fg, fs) = theme.state(from);
                        let (tg, ts) = theme.state(to);
                        if e.from == Some(e.to) {
                            Cell::from(Span::styled(clean(&format!("{tg} {to}"), w), ts))
                        } else {
                            Cell::from(Line::from(vec![
                                Span::styled(format!("{fg} {from}"), fs),
                                Span::raw(" → "),
                                Span::styled(format!("{tg} {to}"), ts),
                            ]))
                        }
                    }
                    _ => Cell::from(clean(&e.text, w)),
                }))
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
        let table = Table::new(table_rows, widths)
            .header(headings)
            .column_spacing(u16::try_from(SPACING).unwrap_or(1))
            .row_highlight_style(theme.cursor())
            .highlight_spacing(HighlightSpacing::Never);
        let mut state = TableState::new().with_selected(cursor.selected.checked_sub(cursor.offset));
        StatefulWidget::render(table, area, buf, &mut state);
    }
}

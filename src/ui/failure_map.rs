//! The failure map: one row per service, worst first, with status glyph and word, effective
//! SEV, name, region, root causes, fallback, summary and the age of the data. Columns are
//! dropped by priority when the terminal is narrow, so nothing overlaps at 80 columns and
//! everything shows at 160.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Cell, HighlightSpacing, Paragraph, Row, StatefulWidget, Table, TableState, Widget,
};

use super::Theme;
use super::text::{clean, sanitize, width};
use crate::app::{self, App};
use crate::model::{ServiceView, Snapshot};

/// Cells between columns.
const SPACING: usize = 1;

/// The failure map of an app's snapshot.
#[derive(Debug, Clone, Copy)]
pub struct FailureMapView<'a> {
    pub app: &'a App,
    pub theme: Theme,
}

impl FailureMapView<'_> {
    /// Service rows that fit in a body area of this size (one row goes to the headings).
    pub fn list_rows(body: Rect) -> u16 {
        body.height.saturating_sub(1)
    }
}

/// A column of the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Status,
    Sev,
    Service,
    Region,
    ImpactedBy,
    Fallback,
    Summary,
    Age,
}

/// Left to right.
const DISPLAY_ORDER: [Col; 8] = [
    Col::Status,
    Col::Sev,
    Col::Service,
    Col::Region,
    Col::ImpactedBy,
    Col::Fallback,
    Col::Summary,
    Col::Age,
];

/// Kept first when space runs out; the first column that does not fit and every one after it
/// are dropped. Spare width goes to the columns in this order too.
const PRIORITY: [Col; 8] = [
    Col::Status,
    Col::Sev,
    Col::Service,
    Col::Age,
    Col::ImpactedBy,
    Col::Region,
    Col::Fallback,
    Col::Summary,
];

impl Col {
    fn title(self) -> &'static str {
        match self {
            Col::Status => "STATUS",
            Col::Sev => "SEV",
            Col::Service => "SERVICE",
            Col::Region => "REGION",
            Col::ImpactedBy => "IMPACTED BY",
            Col::Fallback => "FALLBACK",
            Col::Summary => "SUMMARY",
            Col::Age => "AGE",
        }
    }

    /// The narrowest the column may get before it is dropped instead, given the width its
    /// contents want.
    fn min(self, want: usize) -> usize {
        let floor = match self {
            // Short, fixed texts: all or nothing.
            Col::Status | Col::Sev | Col::Age => want,
            // Long enough to tell "Cloud SQL (Postgres)" from "Cloud SQL (Postgres), US",
            // or to say what a fallback is.
            Col::Service | Col::Fallback => 24,
            Col::Summary => 16,
            Col::ImpactedBy | Col::Region => width(self.title()),
        };
        floor.min(want)
    }

    /// The widest the column is worth making.
    fn max(self) -> usize {
        match self {
            Col::Region => 16,
            Col::ImpactedBy => 24,
            Col::Service => 48,
            _ => 80,
        }
    }
}

/// The text of every cell of one service's row, before fitting.
struct RowText {
    status: String,
    sev: String,
    service: String,
    region: String,
    impacted_by: String,
    fallback: String,
    summary: String,
    age: String,
}

impl RowText {
    fn new(snap: &Snapshot, s: &ServiceView, theme: Theme) -> RowText {
        let word = s.state_word();
        RowText {
            status: format!("{} {word}", theme.state(word).0),
            sev: s
                .sev
                .map_or_else(|| "-".to_string(), |l| snap.sev_name(l).to_string()),
            service: sanitize(&s.name).into_owned(),
            region: s
                .region
                .as_deref()
                .map_or_else(|| "-".to_string(), |r| sanitize(r).into_owned()),
            impacted_by: sanitize(&s.impacted_by.join(", ")).into_owned(),
            // A healthy service's fallback is background knowledge (the detail strip has
            // it); the map shows fallbacks where something is wrong.
            fallback: app::fallback_text(s)
                .filter(|_| word != "up")
                .map(|f| sanitize(&f).into_owned())
                .unwrap_or_default(),
            summary: sanitize(&s.summary).into_owned(),
            age: if s.stale {
                format!("{} stale", app::age_text(snap, s))
            } else {
                app::age_text(snap, s)
            },
        }
    }

    fn get(&self, col: Col) -> &str {
        match col {
            Col::Status => &self.status,
            Col::Sev => &self.sev,
            Col::Service => &self.service,
            Col::Region => &self.region,
            Col::ImpactedBy => &self.impacted_by,
            Col::Fallback => &self.fallback,
            Col::Summary => &self.summary,
            Col::Age => &self.age,
        }
    }
}

/// Chooses the columns that fit in `total` cells and their widths, in display order.
fn layout(rows: &[RowText], total: usize) -> Vec<(Col, usize)> {
    let want = |col: Col| {
        rows.iter()
            .map(|r| width(r.get(col)))
            .chain([width(col.title())])
            .max()
            .unwrap_or(0)
            .min(col.max())
    };
    let mut chosen: Vec<(Col, usize, usize)> = Vec::new();
    let mut used = 0;
    for col in PRIORITY {
        let w = want(col);
        let min = col.min(w);
        let gap = if chosen.is_empty() { 0 } else { SPACING };
        if used + gap + min > total {
            break;
        }
        used += gap + min;
        chosen.push((col, min, w));
    }
    let mut spare = total - used;
    for (_, given, w) in &mut chosen {
        let more = (*w - *given).min(spare);
        *given += more;
        spare -= more;
    }
    DISPLAY_ORDER
        .iter()
        .filter_map(|&col| {
            chosen
                .iter()
                .find(|(c, ..)| *c == col)
                .map(|&(c, given, _)| (c, given))
        })
        .collect()
}

impl Widget for &FailureMapView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 {
            return;
        }
        let snap = self.app.snapshot();
        let theme = self.theme;
        if snap.services.is_empty() {
            centred("no services in this estate", theme, area, buf);
            return;
        }
        if snap.loading() && snap.services.iter().all(|s| s.pending) {
            let text = format!(
                "loading… waiting for the first probe of {} services",
                snap.services.len()
            );
            centred(&text, theme, area, buf);
            return;
        }

        let texts: Vec<RowText> = snap
            .services
            .iter()
            .map(|s| RowText::new(snap, s, theme))
            .collect();
        let columns = layout(&texts, usize::from(area.width));

        let visible = usize::from(FailureMapView::list_rows(area));
        let first = self.app.offset();
        let rows: Vec<Row> = snap
            .services
            .iter()
            .zip(&texts)
            .skip(first)
            .take(visible)
            .map(|(s, t)| {
                Row::new(
                    columns
                        .iter()
                        .map(|&(col, w)| cell(snap, s, t, col, w, theme)),
                )
            })
            .collect();
        let headings = Row::new(
            columns
                .iter()
                .map(|&(col, w)| Cell::from(clean(col.title(), w))),
        )
        .style(theme.heading());
        let widths = columns
            .iter()
            .map(|&(_, w)| Constraint::Length(u16::try_from(w).unwrap_or(u16::MAX)));
        let table = Table::new(rows, widths)
            .header(headings)
            .column_spacing(u16::try_from(SPACING).unwrap_or(1))
            .row_highlight_style(theme.selection())
            .highlight_spacing(HighlightSpacing::Never);
        let mut state = TableState::new().with_selected(self.app.selected().checked_sub(first));
        StatefulWidget::render(table, area, buf, &mut state);
    }
}

/// One cell, fitted to its width and styled by meaning.
fn cell<'a>(
    snap: &Snapshot,
    s: &ServiceView,
    t: &RowText,
    col: Col,
    w: usize,
    theme: Theme,
) -> Cell<'a> {
    let text = clean(t.get(col), w);
    match col {
        Col::Status => Cell::from(Span::styled(text, theme.state(s.state_word()).1)),
        Col::Sev => Cell::from(Span::styled(text, theme.sev(s.sev))),
        Col::ImpactedBy => Cell::from(Span::styled(text, theme.state("impacted").1)),
        Col::Fallback => {
            // A fallback that is carrying the service now reads normally; a declared one
            // that is not in use is secondary.
            let active = s.is_impacted() && !s.failing;
            let style = if active {
                ratatui::style::Style::new()
            } else {
                theme.muted()
            };
            Cell::from(Span::styled(text, style))
        }
        Col::Age => {
            let age = app::age_text(snap, s);
            if s.stale && width(&age) + 1 + width("stale") <= w {
                Cell::from(Line::from(vec![
                    Span::raw(age),
                    Span::raw(" "),
                    Span::styled("stale", theme.stale()),
                ]))
            } else if s.stale {
                Cell::from(Span::styled("stale", theme.stale()))
            } else {
                Cell::from(text)
            }
        }
        Col::Service | Col::Region | Col::Summary => Cell::from(text),
    }
}

fn centred(text: &str, theme: Theme, area: Rect, buf: &mut Buffer) {
    let line = Rect {
        y: area.y + area.height / 2,
        height: 1,
        ..area
    };
    Paragraph::new(Line::from(Span::styled(text.to_string(), theme.muted())))
        .alignment(Alignment::Center)
        .render(line, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(service: &str, fallback: &str, summary: &str) -> RowText {
        RowText {
            status: "↯ impacted".into(),
            sev: "SEV1".into(),
            service: service.into(),
            region: "eu".into(),
            impacted_by: "sql".into(),
            fallback: fallback.into(),
            summary: summary.into(),
            age: "12s stale".into(),
        }
    }

    fn total(cols: &[(Col, usize)]) -> usize {
        cols.iter().map(|(_, w)| w).sum::<usize>() + SPACING * (cols.len() - 1)
    }

    #[test]
    fn narrow_terminals_drop_the_lowest_priority_columns_first() {
        let rows = [row(
            "tappass API (Cloud Run + OPA sidecar)",
            "running instances keep serving; new instances cannot start",
            "RUNNABLE, REGIONAL, europe-west1-b",
        )];
        let wide = layout(&rows, 200);
        assert_eq!(wide.len(), 8);
        let narrow = layout(&rows, 80);
        let cols: Vec<Col> = narrow.iter().map(|(c, _)| *c).collect();
        assert!(cols.contains(&Col::Status) && cols.contains(&Col::Age));
        assert!(!cols.contains(&Col::Summary));
        assert!(total(&narrow) <= 80);
        let tiny = layout(&rows, 30);
        assert!(total(&tiny) <= 30);
        assert_eq!(tiny[0].0, Col::Status);
    }

    #[test]
    fn every_width_fits() {
        let rows = [row("a service", "a fallback", "a summary")];
        for w in 0..200 {
            let cols = layout(&rows, w);
            if !cols.is_empty() {
                assert!(total(&cols) <= w, "width {w}");
            }
        }
    }
}

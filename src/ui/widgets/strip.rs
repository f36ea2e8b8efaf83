//! The summary strip under the failure map: the selected service in brief (id, kind, since
//! when, its error or summary, its fallback, and what it takes down or what takes it down),
//! for the text the map's columns had to cut. Enter opens the full detail view.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

use super::fit_line;
use crate::app::{self, App};
use crate::ui::Theme;
use crate::ui::text::{fit, sanitize};

/// Rows of the strip (a rule and three lines).
pub const ROWS: u16 = 4;
/// Width of the label column.
const LABEL: usize = 12;

pub fn render(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(theme.border());
    let Some(s) = app.selected_service() else {
        block.render(area, buf);
        return;
    };
    let snap = app.snapshot();
    let total = usize::from(area.width);

    let word = app::shown_state(s);
    let (glyph, state_style) = theme.state(word);
    let mut title = vec![
        Span::raw(" "),
        Span::styled(sanitize(&s.id).into_owned(), theme.heading()),
        Span::raw(format!(" · {} · {}", sanitize(&s.name), s.kind.as_str())),
    ];
    if let Some(region) = &s.region {
        title.push(Span::raw(format!(" · {}", sanitize(region))));
    }
    title.push(Span::raw(" · "));
    title.push(Span::styled(format!("{glyph} {word}"), state_style));
    if let Some(since) = s.since {
        title.push(Span::raw(format!(
            " since {}",
            since.format("%H:%M:%S UTC")
        )));
    }
    title.push(Span::raw(" "));
    let block = block.title(fit_line(title, total.saturating_sub(2)));
    let inner = block.inner(area);
    block.render(area, buf);

    let (label, text) = match &s.error {
        Some(error) => ("error", error.as_str()),
        None => ("summary", s.summary.as_str()),
    };
    let fallback = app::fallback_text(s).unwrap_or_else(|| "none declared".to_string());
    let mut impact = Vec::new();
    if s.is_impacted() {
        impact.push(format!("impacted by {}", s.impacted_by.join(", ")));
    }
    if !s.blast_radius.is_empty() {
        impact.push(format!("takes down {}", s.blast_radius.join(", ")));
    }
    if s.stale {
        let since = s
            .stale_since
            .map(|t| format!(" since {}", t.format("%H:%M:%S UTC")))
            .unwrap_or_default();
        impact.push(format!("data stale{since}, {} old", app::age_text(snap, s)));
    }
    let impact = if impact.is_empty() {
        "-".to_string()
    } else {
        impact.join("; ")
    };
    let lines = [
        (label, text.to_string()),
        ("fallback", fallback),
        ("impact", impact),
    ];
    let room = total.saturating_sub(LABEL + 1);
    let body: Vec<Line> = lines
        .into_iter()
        .map(|(label, text)| {
            Line::from(vec![
                Span::styled(
                    format!(" {label:<width$}", width = LABEL - 1),
                    theme.muted(),
                ),
                Span::raw(fit(&sanitize(&text), room).into_owned()),
            ])
        })
        .collect();
    Paragraph::new(body).render(inner, buf);
}

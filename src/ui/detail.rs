//! The detail strip under the failure map: the selected service in full (id, kind, since
//! when, its error or summary, its fallback, and what it takes down or what takes it down),
//! for the text that the map's columns had to cut.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

use super::Theme;
use super::text::{fit, sanitize, width};
use crate::app::{self, App};

/// Width of the label column.
const LABEL: usize = 12;

pub(super) fn render(app: &App, theme: Theme, area: Rect, buf: &mut Buffer) {
    let Some(s) = app.selected_service() else {
        Block::new()
            .borders(Borders::TOP)
            .border_style(theme.muted())
            .render(area, buf);
        return;
    };
    let snap = app.snapshot();
    let total = usize::from(area.width);

    let word = s.state_word();
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
    let title = fit_line(title, total.saturating_sub(2));
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(theme.muted())
        .title(title);
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
    let lines = [
        (label, text.to_string()),
        ("fallback", fallback),
        (
            "impact",
            if impact.is_empty() {
                "-".to_string()
            } else {
                impact.join("; ")
            },
        ),
    ];
    let body: Vec<Line> = lines
        .into_iter()
        .map(|(label, text)| {
            let room = total.saturating_sub(LABEL + 1);
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

/// Cuts a line of spans to `max` cells, ending in `…` when something was cut.
fn fit_line(spans: Vec<Span<'static>>, max: usize) -> Line<'static> {
    let mut out = Vec::new();
    let mut left = max;
    for span in spans {
        let w = width(&span.content);
        if w <= left {
            left -= w;
            out.push(span);
        } else {
            out.push(Span::styled(
                fit(&span.content, left).into_owned(),
                span.style,
            ));
            break;
        }
    }
    Line::from(out)
}

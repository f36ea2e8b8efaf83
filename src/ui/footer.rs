//! The footer: the keys of the current view (as many as fit, most useful first) and, on the
//! right, a short note after an action (a refresh asked for, a refresh impossible).

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::Theme;
use super::text::width;
use crate::app::App;

/// Keys and what they do, most useful first.
const KEYS: [(&str, &str); 6] = [
    ("q", "quit"),
    ("↑↓/jk", "move"),
    ("r", "refresh"),
    ("PgUp/PgDn", "page"),
    ("Home/End", "first/last"),
    ("^L", "repaint"),
];

pub(super) fn render(app: &App, theme: Theme, area: Rect, buf: &mut Buffer) {
    if area.height == 0 {
        return;
    }
    let note = app.note().map(|n| format!("{n} "));
    let room = usize::from(area.width).saturating_sub(note.as_deref().map_or(0, width) + 1);
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    for (key, what) in KEYS {
        let w = width(key) + 1 + width(what) + 2;
        if used + w > room {
            break;
        }
        used += w;
        spans.push(Span::styled(key, theme.key()));
        spans.push(Span::raw(format!(" {what}  ")));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
    if let Some(note) = note {
        Paragraph::new(Line::from(Span::styled(note, theme.warning())))
            .alignment(Alignment::Right)
            .render(area, buf);
    }
}

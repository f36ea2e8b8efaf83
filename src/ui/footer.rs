//! The footer: the keys of the current view (generated from the keymap, as many as fit, most
//! useful first) and on the right a short note or warning; or, while `/` or `:` is typed,
//! the line being typed with a hint beside it.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::Theme;
use super::text::{fit, sanitize, width};
use super::theme::Role;
use crate::app::{App, keymap};

pub fn render(app: &App, theme: &Theme, area: Rect, buf: &mut Buffer) {
    if area.height == 0 {
        return;
    }
    if let Some(input) = app.input() {
        let total = usize::from(area.width);
        let typed = format!(" {}{}", input.prompt.sigil(), sanitize(&input.text));
        let typed = fit(&typed, total.saturating_sub(2)).into_owned();
        let used = width(&typed) + 1;
        let mut spans = vec![
            Span::styled(typed, theme.heading()),
            Span::styled(" ", theme.cursor().add_modifier(Modifier::REVERSED)),
        ];
        if let Some(hint) = &input.hint
            && used + 4 < total
        {
            spans.push(Span::styled(
                fit(&format!("   {}", sanitize(hint)), total - used - 1).into_owned(),
                theme.muted(),
            ));
        }
        Paragraph::new(Line::from(spans)).render(area, buf);
        return;
    }
    let note = app.note().map(|(text, warning)| {
        let glyph = theme.glyph(Role::Warn);
        let text = sanitize(text);
        if warning && !glyph.is_empty() {
            format!("{glyph} {text} ")
        } else {
            format!("{text} ")
        }
    });
    let total = usize::from(area.width);
    let note = note.map(|n| fit(&n, total.saturating_sub(1)).into_owned());
    let room = total.saturating_sub(note.as_deref().map_or(0, width) + 1);
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    let keys = app
        .runbooks()
        .keys()
        .unwrap_or_else(|| keymap::footer(app.view()));
    for (key, what) in keys {
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

//! The help popup, generated from the keymap, the command list and the filter keys, so it
//! always says what the keys really do.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use crate::app::App;
use crate::app::keymap::{self, Scope};
use crate::app::palette::COMMANDS;
use crate::ui::Theme;
use crate::ui::widgets::fit_line;

/// The widest the popup gets.
const MAX_WIDTH: u16 = 96;
/// Width of the key column.
const KEYS: usize = 22;

/// The popup's area on a screen of this size.
pub fn area(screen: Rect) -> Rect {
    super::centred(
        screen,
        MAX_WIDTH.min(screen.width.saturating_sub(2)),
        screen.height.saturating_sub(2),
    )
}

/// Rows of text inside the popup.
pub fn rows(screen: Rect) -> usize {
    usize::from(area(screen).height.saturating_sub(2))
}

fn views_word(scope: Scope) -> String {
    match scope {
        Scope::Global => String::new(),
        Scope::Views(views) if views.len() >= 4 => String::new(),
        Scope::Views(views) => format!(
            " ({})",
            views
                .iter()
                .map(|v| v.title().to_lowercase())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Every line of help.
pub fn lines(theme: &Theme) -> Vec<Line<'static>> {
    let entry = |key: String, what: String| {
        Line::from(vec![
            Span::styled(format!(" {key:<KEYS$}"), theme.accent()),
            Span::raw(what),
        ])
    };
    let title = |t: &str| Line::from(Span::styled(format!(" {t}"), theme.heading()));
    let mut out = vec![title("Keys")];
    for b in keymap::help_entries() {
        out.push(entry(
            b.label.to_string(),
            format!("{}{}", b.help, views_word(b.scope)),
        ));
    }
    out.push(Line::from(""));
    out.push(title("While typing after / or :"));
    for (key, what) in keymap::INPUT_KEYS {
        out.push(entry(key.to_string(), what.to_string()));
    }
    out.push(Line::from(""));
    out.push(title(
        "Commands (type : then the command; any unique start works)",
    ));
    for c in COMMANDS {
        let mut name = format!(":{}", c.name);
        if !c.args.is_empty() {
            name.push(' ');
            name.push_str(c.args);
        }
        let aliases = if c.aliases.is_empty() {
            String::new()
        } else {
            format!(
                " (also {})",
                c.aliases
                    .iter()
                    .map(|a| format!(":{a}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
        out.push(entry(name, format!("{}{aliases}", c.what)));
    }
    out.push(Line::from(""));
    out.push(title("Filter (/): words and terms, all must match"));
    for (term, what) in [
        ("sql api", "part of the id, name, region, kind or status"),
        (
            "region:ID",
            "the estate region or GCP region (or its start)",
        ),
        ("kind:cloud_sql", "the kind, or its start (kind:cloud)"),
        (
            "status:down,degraded",
            "up degraded down unknown impacted loading stale",
        ),
        ("sev:2", "SEV2 or worse"),
        ("role:data", "edge compute queues data platform"),
    ] {
        out.push(entry(term.to_string(), what.to_string()));
    }
    out
}

pub fn render(app: &App, theme: &Theme, screen: Rect, buf: &mut Buffer) {
    let Some(top) = app.help() else {
        return;
    };
    let area = area(screen);
    if area.width < 4 || area.height < 3 {
        return;
    }
    Clear.render(area, buf);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(theme.accent())
        .title(Span::styled(" Help ", theme.heading()))
        .title_bottom(Line::from(Span::styled(
            " ↑↓ scroll · Esc ? q close ",
            theme.muted(),
        )));
    let inner = block.inner(area);
    block.render(area, buf);
    let width = usize::from(inner.width);
    let shown: Vec<Line> = lines(theme)
        .into_iter()
        .skip(top)
        .take(usize::from(inner.height))
        .map(|l| fit_line(l.spans, width))
        .collect();
    Paragraph::new(shown).render(inner, buf);
}

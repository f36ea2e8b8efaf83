//! The header: the estate's name under its environment banner, the worst SEV and the
//! verdict on the first line; how many services are in each state on the second.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::Theme;
use super::text::{sanitize, width};
use crate::app::App;
use crate::model::Overall;

/// States in the order the counts line shows them, worst first.
const STATES: [&str; 6] = ["down", "degraded", "impacted", "unknown", "up", "loading"];

pub(super) fn render(app: &App, theme: Theme, area: Rect, buf: &mut Buffer) {
    if area.height == 0 {
        return;
    }
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
        first.push(Span::styled("waiting for the first probes", theme.muted()));
    } else {
        match snap.worst_sev {
            Some(level) => {
                first.push(Span::raw("worst "));
                first.push(Span::styled(
                    snap.sev_name(level).to_string(),
                    theme.sev(Some(level)),
                ));
            }
            None => first.push(Span::styled("no incident", theme.state("up").1)),
        }
        first.push(Span::raw("   "));
        let verdict_style = match snap.status {
            Overall::Critical => theme.sev(Some(1)),
            Overall::Warning => theme.sev(Some(3)),
            Overall::Unknown => theme.state("unknown").1,
            Overall::Ok => theme.state("up").1,
        };
        first.push(Span::styled(snap.status.as_str(), verdict_style));
    }
    let first = Line::from(first);
    let used = first.width();
    Paragraph::new(first).render(area, buf);

    if app.poller_stopped() {
        let badge = ["poller stopped: last data shown ", "poller stopped "]
            .into_iter()
            .find(|b| used + 1 + width(b) <= usize::from(area.width));
        if let Some(badge) = badge {
            Paragraph::new(Line::from(Span::styled(badge, theme.warning())))
                .alignment(Alignment::Right)
                .render(Rect { height: 1, ..area }, buf);
        }
    }

    if area.height < 2 {
        return;
    }
    let mut second = vec![Span::raw(" ")];
    for word in STATES {
        let n = snap
            .services
            .iter()
            .filter(|s| s.state_word() == word)
            .count();
        if n == 0 && word == "loading" {
            continue;
        }
        let (glyph, style) = theme.state(word);
        let style = if n == 0 { theme.muted() } else { style };
        second.push(Span::styled(format!("{glyph} {n} {word}"), style));
        second.push(Span::raw("  "));
    }
    if snap.counts.stale > 0 {
        second.push(Span::styled(
            format!("{} stale", snap.counts.stale),
            theme.stale(),
        ));
    }
    let line = Rect {
        y: area.y + 1,
        height: 1,
        ..area
    };
    Paragraph::new(Line::from(second)).render(line, buf);
}

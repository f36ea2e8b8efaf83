//! The detail view's investigation sections: the evidence that explains the selected
//! service's state, the last change that could explain it (its root cause's, when it is
//! only impacted), and what to copy to hand it off. Every API-provided text is sanitised.

use chrono::{DateTime, Utc};
use ratatui::text::{Line, Span};

use super::detail::pair;
use crate::model::{ServiceView, Snapshot};
use crate::ui::Theme;
use crate::ui::text::sanitize;

/// A time as the detail view shows it: the clock on the snapshot's day, else with the date.
fn when(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if at.date_naive() == now.date_naive() {
        at.format("%H:%M:%S").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M").to_string()
    }
}

/// The evidence, one fact a line with its time and source; empty when there is none.
pub(super) fn evidence_lines(
    snap: &Snapshot,
    s: &ServiceView,
    theme: &Theme,
) -> Vec<Line<'static>> {
    if s.evidence.is_empty() {
        return Vec::new();
    }
    s.evidence
        .iter()
        .map(|e| {
            let at =
                e.at.map_or_else(|| "-".to_string(), |t| when(t, snap.generated_at));
            Line::from(vec![
                Span::styled(format!(" {at}  "), theme.muted()),
                Span::styled(format!("{}  ", sanitize(&e.source)), theme.accent()),
                Span::raw(sanitize(&e.text).into_owned()),
            ])
        })
        .collect()
}

/// The last change, naming the root cause when it is not the service's own; empty when none
/// was seen.
pub(super) fn change_lines(snap: &Snapshot, s: &ServiceView, theme: &Theme) -> Vec<Line<'static>> {
    let Some(c) = &s.change else {
        return Vec::new();
    };
    let at =
        c.at.map_or_else(|| "-".to_string(), |t| when(t, snap.generated_at));
    let mut spans = vec![
        Span::styled(format!(" {at}  "), theme.muted()),
        Span::styled(format!("{}  ", c.kind.as_str()), theme.accent()),
        Span::raw(sanitize(&c.text).into_owned()),
    ];
    if c.service != s.id {
        spans.push(Span::styled(
            format!("  (on {}, the root cause)", sanitize(&c.service)),
            theme.state("impacted").1,
        ));
    }
    vec![Line::from(spans)]
}

/// What to copy: the command (`Y`) and the console URL (`u`).
pub(super) fn handoff_lines(s: &ServiceView, theme: &Theme) -> Vec<Line<'static>> {
    let none = || Span::styled("-", theme.muted());
    let text = |t: &Option<String>| {
        t.as_deref()
            .map_or_else(none, |v| Span::raw(sanitize(v).into_owned()))
    };
    // Owner and escalation are in the view's head, where the eye lands first.
    vec![
        pair(theme, "command (Y)", vec![text(&s.handoff.command)]),
        pair(theme, "console (u)", vec![text(&s.handoff.console_url)]),
    ]
}

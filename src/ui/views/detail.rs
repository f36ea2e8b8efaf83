//! The detail view: one service in full. Who it is and who to call, its status and SEV and
//! since when, its error, summary and fallback, what takes it down and what it takes down,
//! every latest observation and metric, its queue figures, the last errors with their times,
//! its dependencies and dependents, the runbooks the estate links to it, the evidence and
//! the last change that explain its state, and what to copy to hand it off. One column,
//! scrolled with the arrows; two side by side on wide terminals.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};
use serde_json::Value;

use crate::app::{self, App, View};
use crate::model::{ServiceView, Snapshot};
use crate::ui::Theme;
use crate::ui::text::sanitize;
use crate::ui::widgets::{centred, fit_line, sparkline};

/// From this width the sections go in two columns.
const TWO_COLUMNS: u16 = 140;
/// Width of the label column.
const LABEL: usize = 14;
/// Cells of the depth sparkline.
const SPARK: usize = 40;

/// The detail view of the selected service.
#[derive(Debug, Clone, Copy)]
pub struct DetailView<'a> {
    pub app: &'a App,
    pub theme: &'a Theme,
}

/// A titled group of lines.
struct Section {
    title: &'static str,
    lines: Vec<Line<'static>>,
}

/// How many lines the view's content takes at this width (for scrolling).
pub fn line_count(app: &App, theme: &Theme, area: Rect) -> usize {
    app.selected_service().map_or(0, |s| {
        let sections = sections(app.snapshot(), app, s, theme);
        columns(&sections, area.width, theme.heading())
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(0)
    })
}

impl Widget for &DetailView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 {
            return;
        }
        let app = self.app;
        let Some(s) = app.selected_service() else {
            let text = if app.snapshot().services.is_empty() {
                "no services in this estate"
            } else {
                "no service selected: Esc, then choose one and press Enter"
            };
            centred(text, self.theme.muted(), area, buf);
            return;
        };
        let sections = sections(app.snapshot(), app, s, self.theme);
        let cols = columns(&sections, area.width, self.theme.heading());
        let scroll = app.cursor(View::Detail).selected;
        let n = u16::try_from(cols.len()).unwrap_or(1).max(1);
        let w = area.width / n;
        for (k, lines) in cols.into_iter().enumerate() {
            let x = area.x + w * u16::try_from(k).unwrap_or(0);
            let rect = Rect {
                x,
                width: if k + 1 == usize::from(n) {
                    area.right() - x
                } else {
                    w.saturating_sub(2)
                },
                ..area
            };
            let shown: Vec<Line> = lines
                .into_iter()
                .skip(scroll)
                .take(usize::from(area.height))
                .map(|l| fit_line(l.spans, usize::from(rect.width)))
                .collect();
            Paragraph::new(shown).render(rect, buf);
        }
    }
}

/// The sections laid out in one column, or two on wide terminals.
fn columns(sections: &[Section], width: u16, title_style: Style) -> Vec<Vec<Line<'static>>> {
    let render = |group: &[Section]| -> Vec<Line<'static>> {
        let mut out = Vec::new();
        for s in group {
            if !s.title.is_empty() {
                out.push(Line::from(Span::styled(
                    format!("── {} ", s.title),
                    title_style,
                )));
            }
            out.extend(s.lines.iter().cloned());
            out.push(Line::from(""));
        }
        out.pop();
        out
    };
    if width < TWO_COLUMNS {
        return vec![render(sections)];
    }
    // The overview and what is wrong on the left; lists on the right.
    let split = sections
        .iter()
        .position(|s| s.title == "Recent errors")
        .unwrap_or(sections.len());
    vec![render(&sections[..split]), render(&sections[split..])]
}

pub(super) fn pair(theme: &Theme, label: &str, value: Vec<Span<'static>>) -> Line<'static> {
    let mut spans = vec![Span::styled(
        format!(" {label:<w$} ", w = LABEL - 2),
        theme.muted(),
    )];
    spans.extend(value);
    Line::from(spans)
}

fn text(s: &str) -> Span<'static> {
    Span::raw(sanitize(s).into_owned())
}

fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_string(),
        other => other.to_string(),
    }
}

fn sections(snap: &Snapshot, app: &App, s: &ServiceView, theme: &Theme) -> Vec<Section> {
    let word = app::shown_state(s);
    let (glyph, state) = theme.state(word);
    let at = |t: chrono::DateTime<chrono::Utc>| t.format("%H:%M:%S UTC").to_string();
    let find = |id: &str| app.rows().position.get(id).map(|&i| &snap.services[i]);

    let mut head = vec![
        Line::from(vec![
            Span::raw(" "),
            Span::styled(sanitize(&s.name).into_owned(), theme.heading()),
            Span::styled(format!("  {}", sanitize(&s.id)), theme.muted()),
        ]),
        Line::from(Span::styled(
            format!(
                " {} · {}{}",
                s.kind.as_str(),
                s.kind.role(),
                s.region.as_deref().map_or_else(String::new, |r| {
                    let gcp = snap
                        .regions
                        .iter()
                        .find(|x| x.id == r)
                        .and_then(|x| x.gcp_region.as_deref())
                        .filter(|g| *g != r)
                        .map_or_else(String::new, |g| format!(" ({g})"));
                    format!(" · region {}{}", sanitize(r), sanitize(&gcp))
                })
            ),
            theme.muted(),
        )),
    ];
    let mut status = vec![
        Span::raw(" "),
        Span::styled(format!("{glyph} {word}"), state),
    ];
    if let Some(since) = s.since {
        status.push(Span::raw(format!(" since {}", at(since))));
    }
    match s.sev {
        Some(level) => {
            status.push(Span::raw(" · "));
            status.push(Span::styled(
                theme.sev_label(level, snap.sev_name(level)),
                theme.sev(Some(level)),
            ));
            status.push(Span::styled(
                format!(" (declared {})", snap.sev_name(s.declared_sev)),
                theme.muted(),
            ));
        }
        None => status.push(Span::styled(
            format!(" · declared {}", snap.sev_name(s.declared_sev)),
            theme.muted(),
        )),
    }
    head.push(Line::from(status));
    if let Some(silence) = app::silence_sentence(s) {
        head.push(Line::from(Span::styled(
            format!(" {}", sanitize(&silence)),
            theme.accent(),
        )));
    }
    let data = match (s.observed_at, s.stale) {
        (None, _) if s.pending => Line::from(Span::styled(" not probed yet", theme.muted())),
        (None, _) => Line::from(Span::styled(" never observed", theme.muted())),
        (Some(t), false) => Line::from(Span::styled(
            format!(" data {} old, observed {}", app::age_text(snap, s), at(t)),
            theme.muted(),
        )),
        (Some(t), true) => Line::from(vec![
            Span::raw(" "),
            Span::styled(
                format!(
                    "{} stale since {}",
                    theme.glyph(crate::ui::theme::Role::Stale),
                    s.stale_since.map_or_else(|| at(t), at)
                )
                .trim_start()
                .to_string(),
                theme.stale(),
            ),
            Span::styled(
                format!(" · last good data {} old", app::age_text(snap, s)),
                theme.muted(),
            ),
        ]),
    };
    head.push(data);
    let mut who = Vec::new();
    if let Some(owner) = &s.owner {
        who.push(format!("owner {}", sanitize(owner)));
    }
    if let Some(esc) = &s.escalation {
        who.push(format!("escalation {}", sanitize(esc)));
    }
    if !who.is_empty() {
        head.push(Line::from(format!(" {}", who.join(" · "))));
    }

    let mut now = Vec::new();
    if let Some(error) = &s.error {
        now.push(pair(
            theme,
            "error",
            vec![Span::styled(sanitize(error).into_owned(), state)],
        ));
    }
    if s.error.as_deref() != Some(s.summary.as_str()) {
        now.push(pair(theme, "summary", vec![text(&s.summary)]));
    }
    now.push(pair(
        theme,
        "fallback",
        vec![text(
            &app::fallback_text(s).unwrap_or_else(|| "none declared".into()),
        )],
    ));
    if s.is_impacted() {
        now.push(pair(
            theme,
            "impacted by",
            vec![Span::styled(
                sanitize(&s.impacted_by.join(", ")).into_owned(),
                theme.state("impacted").1,
            )],
        ));
    }
    now.push(pair(
        theme,
        "blast radius",
        if s.blast_radius.is_empty() {
            vec![Span::styled(
                "nothing else goes down with it",
                theme.muted(),
            )]
        } else {
            vec![Span::styled(
                sanitize(&s.blast_radius.join(", ")).into_owned(),
                theme.blast(),
            )]
        },
    ));

    let metrics: Vec<Line> = if s.metrics.is_empty() {
        vec![Line::from(Span::styled(" none reported", theme.muted()))]
    } else {
        s.metrics
            .iter()
            .map(|(k, v)| pair(theme, k, vec![text(&json_text(v))]))
            .collect()
    };

    let mut out = vec![
        Section {
            title: "",
            lines: head,
        },
        Section {
            title: "Now",
            lines: now,
        },
        Section {
            title: "Evidence",
            lines: super::detail_explain::evidence_lines(snap, s, theme),
        },
        Section {
            title: "What changed",
            lines: super::detail_explain::change_lines(snap, s, theme),
        },
        Section {
            title: "Observations",
            lines: metrics,
        },
    ];
    // Nothing to explain (a healthy service, or a kind whose probe reports no evidence):
    // the space goes to what follows.
    out.retain(|sec| !sec.lines.is_empty());
    if let Some(q) = app
        .selected()
        .and_then(|i| app.rows().queue_of[i])
        .map(|q| &snap.queues[q])
    {
        let mut lines = vec![
            pair(
                theme,
                "depth",
                vec![text(&q.depth.map_or("-".into(), app::count_text))],
            ),
            pair(
                theme,
                "oldest",
                vec![text(&q.oldest_age_s.map_or("-".into(), app::short_secs))],
            ),
            pair(
                theme,
                "consumers",
                vec![text(&q.consumers.map_or("-".into(), app::count_text))],
            ),
            pair(theme, "to drain", vec![text(&app::eta_text(q))]),
        ];
        if !q.history.is_empty() {
            lines.push(pair(
                theme,
                "depth trend",
                vec![
                    Span::styled(sparkline(&q.history, SPARK), theme.accent()),
                    Span::styled(format!(" {} samples", q.history.len()), theme.muted()),
                ],
            ));
        }
        out.push(Section {
            title: "Queue",
            lines,
        });
    }
    let errors: Vec<Line> = if s.recent_errors.is_empty() {
        vec![Line::from(Span::styled(" none recorded", theme.muted()))]
    } else {
        s.recent_errors
            .iter()
            .map(|e| {
                Line::from(vec![
                    Span::styled(format!(" {}  ", e.at.format("%H:%M:%S")), theme.muted()),
                    text(&e.error),
                ])
            })
            .collect()
    };
    out.push(Section {
        title: "Recent errors",
        lines: errors,
    });

    let edge = |id: &str, note: String| -> Line<'static> {
        let target = find(id);
        let (g, st) = target.map_or(("?", theme.muted()), |t| theme.state(app::shown_state(t)));
        let name = target.map_or_else(String::new, |t| format!(" {}", sanitize(&t.name)));
        Line::from(vec![
            Span::raw(" "),
            Span::styled(g.to_string(), st),
            Span::raw(" "),
            Span::styled(sanitize(id).into_owned(), theme.heading()),
            Span::styled(name, theme.muted()),
            Span::raw(format!(" — {}", sanitize(&note))),
        ])
    };
    let none = |what: &str| vec![Line::from(Span::styled(format!(" {what}"), theme.muted()))];
    let deps: Vec<Line> = s
        .depends_on
        .iter()
        .map(|d| {
            let note = match (&d.fallback, d.fallback_for_s) {
                (None, _) => "no fallback: cut off when it fails".to_string(),
                (Some(f), Some(secs)) => format!("fallback {f}, for {}", app::short_duration(secs)),
                (Some(f), None) => format!("fallback {f}"),
            };
            edge(&d.id, note)
        })
        .collect();
    out.push(Section {
        title: "Depends on",
        lines: if deps.is_empty() {
            none("nothing")
        } else {
            deps
        },
    });
    let dependents: Vec<Line> = s
        .dependents
        .iter()
        .map(|id| {
            let via = find(id)
                .and_then(|t| t.depends_on.iter().find(|d| d.id == s.id))
                .and_then(|d| d.fallback.clone())
                .map_or_else(
                    || "no fallback: goes down with it".to_string(),
                    |f| format!("fallback {f}"),
                );
            edge(id, via)
        })
        .collect();
    out.push(Section {
        title: "Needed by",
        lines: if dependents.is_empty() {
            none("nothing")
        } else {
            dependents
        },
    });
    let runbooks: Vec<Line> = s
        .runbooks
        .iter()
        .map(|r| {
            Line::from(vec![
                Span::raw(" "),
                Span::styled(sanitize(r).into_owned(), theme.accent()),
                Span::styled(
                    format!("  opsdeck runbook show {}", sanitize(r)),
                    theme.muted(),
                ),
            ])
        })
        .collect();
    out.push(Section {
        title: "Runbooks",
        lines: if runbooks.is_empty() {
            none("none linked: add runbooks = [\"id\"] to the service in the estate")
        } else {
            runbooks
        },
    });
    out.push(Section {
        title: "Hand-off",
        lines: super::detail_explain::handoff_lines(s, theme),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_terminals_get_two_columns() {
        let sections = vec![
            Section {
                title: "Now",
                lines: vec![Line::from("a")],
            },
            Section {
                title: "Recent errors",
                lines: vec![Line::from("b"), Line::from("c")],
            },
        ];
        assert_eq!(columns(&sections, 80, Style::new()).len(), 1);
        let two = columns(&sections, 200, Style::new());
        assert_eq!(two.len(), 2);
        assert_eq!(two[1].len(), 3, "title and two lines");
        assert_eq!(two[1][0].to_string(), "── Recent errors ");
    }
}

//! The topology: the estate's regions side by side (services without a region in a column of
//! their own), each service listed under its role (edge, compute, queues, data, platform) with
//! its status glyph and SEV; below, the dependency edges around the selected service (what it
//! needs, with each edge's fallback, and what needs it), its blast radius highlighted in both.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

use super::failure_map::empty_message;
use crate::app::{self, App, ROLES, STATE_WORDS, StateCounts, region_columns};
use crate::model::{ServiceView, Snapshot};
use crate::ui::Theme;
use crate::ui::text::{clean, fit, sanitize, width};
use crate::ui::theme::Role;
use crate::ui::widgets::{centred, fit_line};

/// The narrowest a region column may be.
const MIN_COLUMN: u16 = 24;
/// The edges panel is drawn only when the view is at least this tall.
const EDGES_MIN_HEIGHT: u16 = 12;
/// Columns at least this wide show each service's name beside its id.
const NAMES_FROM: usize = 40;
/// Most rows the edges panel takes.
const EDGES_MAX_ROWS: u16 = 12;

/// The topology view of an app's snapshot.
#[derive(Debug, Clone, Copy)]
pub struct TopologyView<'a> {
    pub app: &'a App,
    pub theme: &'a Theme,
}

impl Widget for &TopologyView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 || area.width == 0 {
            return;
        }
        if let Some(message) = empty_message(self.app) {
            centred(&message, self.theme.muted(), area, buf);
            return;
        }
        let (regions_area, edges_area) = split(self.app, area);
        self.render_regions(regions_area, buf);
        if let Some(edges) = edges_area {
            self.render_edges(edges, buf);
        }
    }
}

/// The region columns and, when there is room, the edges panel below.
fn split(app: &App, area: Rect) -> (Rect, Option<Rect>) {
    if area.height < EDGES_MIN_HEIGHT {
        return (area, None);
    }
    let edges = app.selected_service().map_or(0, |s| {
        let around = s.depends_on.len().max(s.dependents.len()).max(3);
        u16::try_from(around).unwrap_or(u16::MAX).saturating_add(4)
    });
    let edges = edges.min(EDGES_MAX_ROWS).min(area.height / 2);
    let regions = Rect {
        height: area.height - edges,
        ..area
    };
    let below = Rect {
        y: regions.bottom(),
        height: edges,
        ..area
    };
    (regions, (edges > 0).then_some(below))
}

/// How a service relates to the selected one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Selected,
    /// In its blast radius.
    Blast,
    /// One of its direct dependencies or dependents.
    Neighbour,
    None,
}

impl TopologyView<'_> {
    fn mark(&self, s: &ServiceView) -> Mark {
        let Some(sel) = self.app.selected_service() else {
            return Mark::None;
        };
        if sel.id == s.id {
            Mark::Selected
        } else if sel.blast_radius.contains(&s.id) {
            Mark::Blast
        } else if sel.dependents.contains(&s.id) || sel.depends_on.iter().any(|d| d.id == s.id) {
            Mark::Neighbour
        } else {
            Mark::None
        }
    }

    fn render_regions(&self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let snap = app.snapshot();
        let columns = region_columns(snap);
        let fit_n = usize::from((area.width / MIN_COLUMN).max(1)).min(columns.len());
        // Show the window of columns that holds the selection.
        let here = app.selected_service().map(|s| s.region.as_deref());
        let at = here
            .and_then(|r| columns.iter().position(|c| *c == r))
            .unwrap_or(0);
        let first = at.saturating_sub(fit_n - 1).min(columns.len() - fit_n);
        let shown = &columns[first..first + fit_n];
        let n = u16::try_from(shown.len()).unwrap_or(1);
        let base = area.width / n;
        let mut x = area.x;
        for (k, region) in shown.iter().enumerate() {
            let w = if k + 1 == shown.len() {
                area.right() - x
            } else {
                base
            };
            let col = Rect {
                x,
                width: w,
                ..area
            };
            self.render_column(first + k, *region, col, buf);
            x += w;
        }
        let hidden_left = first;
        let hidden_right = columns.len() - first - fit_n;
        if hidden_left + hidden_right > 0 && area.height > 0 {
            let text = format!(
                "{}{} more regions: h/l ",
                if hidden_left > 0 { "◀ " } else { "" },
                hidden_left + hidden_right
            );
            let line = Rect {
                y: area.bottom() - 1,
                height: 1,
                ..area
            };
            Paragraph::new(Line::from(Span::styled(text, self.theme.muted())))
                .alignment(Alignment::Right)
                .render(line, buf);
        }
    }

    fn render_column(&self, column: usize, region: Option<&str>, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let snap = app.snapshot();
        let theme = self.theme;
        let rows = app.rows();
        let counts = rows.column_counts.get(column).copied().unwrap_or_default();
        let members = rows
            .topology_columns
            .get(column)
            .map_or(&[][..], |r| &rows.topology[r.clone()]);
        let worst = ["down", "degraded", "unknown"].into_iter().find(|w| {
            STATE_WORDS
                .iter()
                .zip(&counts)
                .any(|(x, &n)| x == w && n > 0)
        });
        let border = worst.map_or_else(|| theme.border(), |w| theme.state(w).1);
        let title = match region.and_then(|r| snap.regions.iter().find(|x| x.id == r)) {
            Some(r) => match r.gcp_region.as_deref().filter(|g| *g != r.id) {
                Some(g) => format!(" {} · {} ", sanitize(&r.id), sanitize(g)),
                None => format!(" {} ", sanitize(&r.id)),
            },
            None => " no region ".to_string(),
        };
        let inner_w = usize::from(area.width.saturating_sub(2));
        let block = Block::new()
            .borders(Borders::ALL)
            .border_style(border)
            .title(Span::styled(
                fit(&title, inner_w).into_owned(),
                theme.heading(),
            ))
            .title_bottom(Line::from(count_spans(theme, &counts)).alignment(Alignment::Right));
        let inner = block.inner(area);
        block.render(area, buf);

        // The column's entries (role headings and services) as indices; only the ones on
        // screen are formatted.
        let mut entries: Vec<Entry> = Vec::with_capacity(members.len() + ROLES.len());
        let mut last_role = None;
        for &i in members {
            let role = snap.services[i].kind.role();
            if last_role != Some(role) {
                entries.push(Entry::Role(role));
                last_role = Some(role);
            }
            entries.push(Entry::Service(i));
        }
        let rows_on_screen = usize::from(inner.height);
        let selected = app.selected();
        let selected_at = entries
            .iter()
            .position(|e| matches!(e, Entry::Service(i) if Some(*i) == selected));
        let offset = selected_at.map_or(0, |at| (at + 1).saturating_sub(rows_on_screen));
        let more = entries.len().saturating_sub(offset + rows_on_screen);
        let mut shown: Vec<Line> = entries
            .iter()
            .skip(offset)
            .take(rows_on_screen)
            .map(|e| match *e {
                Entry::Role(role) => Line::from(Span::styled(role, theme.muted())),
                Entry::Service(i) => {
                    let s = &snap.services[i];
                    self.service_line(snap, s, self.mark(s), inner_w)
                }
            })
            .collect();
        if more > 0
            && let Some(last) = shown.last_mut()
        {
            *last = Line::from(Span::styled(format!("… {} more", more + 1), theme.muted()));
        }
        if entries.is_empty() {
            let total: usize = counts.iter().sum();
            let text = if total == 0 {
                "no services"
            } else {
                "none match the filter"
            };
            shown.push(Line::from(Span::styled(text, theme.muted())));
        }
        Paragraph::new(shown).render(inner, buf);
    }

    /// `✖ sql          SEV1` with the mark of its relation to the selection.
    fn service_line(
        &self,
        snap: &Snapshot,
        s: &ServiceView,
        mark: Mark,
        w: usize,
    ) -> Line<'static> {
        let theme = self.theme;
        let (glyph, state) = theme.state(app::shown_state(s));
        let sev = s
            .sev
            .filter(|_| app::shown_state(s) != "up")
            .map(|l| theme.sev_label(l, snap.sev_name(l)))
            .unwrap_or_default();
        let tag = match mark {
            Mark::Blast => theme.glyph(Role::Blast).to_string(),
            _ => String::new(),
        };
        let right = [sev.as_str(), tag.as_str()]
            .iter()
            .filter(|t| !t.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let room =
            w.saturating_sub(width(glyph) + 1 + width(&right) + usize::from(!right.is_empty()));
        let id = clean(&s.id, room);
        // Wide columns have room for the name too.
        let name = if w >= NAMES_FROM {
            clean(&format!("  {}", sanitize(&s.name)), room - width(&id))
        } else {
            String::new()
        };
        let pad = room.saturating_sub(width(&id) + width(&name));
        let id_style = match mark {
            Mark::Blast => theme.blast(),
            Mark::Neighbour => theme.selection(),
            _ => Style::new(),
        };
        let mut spans = vec![
            Span::styled(glyph.to_string(), state),
            Span::raw(" "),
            Span::styled(id, id_style),
            Span::styled(name, theme.muted()),
            Span::raw(" ".repeat(pad)),
        ];
        if !right.is_empty() {
            spans.push(Span::raw(" "));
            if !sev.is_empty() {
                spans.push(Span::styled(sev.clone(), theme.sev(s.sev)));
            }
            if !tag.is_empty() {
                spans.push(Span::raw(if sev.is_empty() { "" } else { " " }));
                spans.push(Span::styled(tag, theme.blast()));
            }
        }
        let line = fit_line(spans, w);
        if mark == Mark::Selected {
            line.style(theme.cursor())
        } else {
            line
        }
    }

    fn render_edges(&self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let snap = app.snapshot();
        let theme = self.theme;
        let Some(sel) = app.selected_service() else {
            return;
        };
        let block = Block::new()
            .borders(Borders::TOP)
            .border_style(theme.border())
            .title(fit_line(
                vec![
                    Span::raw(" around "),
                    Span::styled(sanitize(&sel.id).into_owned(), theme.heading()),
                    Span::raw(format!(
                        " · needs {} · needed by {} · blast radius {} ",
                        sel.depends_on.len(),
                        sel.dependents.len(),
                        sel.blast_radius.len()
                    )),
                ],
                usize::from(area.width),
            ));
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.height == 0 {
            return;
        }
        let total = usize::from(inner.width);
        let middle = (total / 4).clamp(12, 30).min(total);
        let side = total.saturating_sub(middle) / 2;
        let find = |id: &str| app.rows().position.get(id).map(|&i| &snap.services[i]);

        let left: Vec<Line> = sel
            .depends_on
            .iter()
            .map(|d| {
                let fallback = match (&d.fallback, d.fallback_for_s) {
                    (None, _) => "no fallback".to_string(),
                    (Some(f), Some(secs)) => format!("{f} ({})", app::short_duration(secs)),
                    (Some(f), None) => f.clone(),
                };
                self.edge_line(find(&d.id), &d.id, &fallback, side)
            })
            .collect();
        let right: Vec<Line> = sel
            .dependents
            .iter()
            .map(|id| {
                let via = find(id)
                    .and_then(|s| s.depends_on.iter().find(|d| d.id == sel.id))
                    .and_then(|d| d.fallback.clone())
                    .unwrap_or_else(|| "no fallback".to_string());
                self.edge_line(find(id), id, &via, side)
            })
            .collect();
        let (glyph, state) = theme.state(app::shown_state(sel));
        let mut centre = vec![
            Line::from(Span::styled(
                fit(&format!("▶ {}", sanitize(&sel.id)), middle).into_owned(),
                theme.cursor(),
            )),
            Line::from(Span::styled(
                fit(&format!("{glyph} {}", app::shown_state(sel)), middle).into_owned(),
                state,
            )),
        ];
        if let Some(level) = sel.sev {
            centre.push(Line::from(Span::styled(
                theme.sev_label(level, snap.sev_name(level)),
                theme.sev(Some(level)),
            )));
        }
        let heading = |text: &str, arrow_first: bool, w: usize| {
            let arrow = "──▶";
            let t = if arrow_first {
                format!("{arrow} {text}")
            } else {
                format!("{text} {arrow}")
            };
            Line::from(Span::styled(fit(&t, w).into_owned(), theme.muted()))
        };
        let columns = [
            (inner.x, side, heading("needs", false, side), left),
            (
                inner.x + u16::try_from(side).unwrap_or(0),
                middle,
                Line::from(""),
                centre,
            ),
            (
                inner.x + u16::try_from(side + middle).unwrap_or(0),
                total - side - middle,
                heading("needed by", true, total - side - middle),
                right,
            ),
        ];
        let body_rows = usize::from(inner.height.saturating_sub(2));
        for (x, w, head, mut lines) in columns {
            if lines.is_empty() {
                lines.push(Line::from(Span::styled("nothing", theme.muted())));
            }
            if lines.len() > body_rows && body_rows > 0 {
                let more = lines.len() - body_rows + 1;
                lines.truncate(body_rows - 1);
                lines.push(Line::from(Span::styled(
                    format!("… {more} more"),
                    theme.muted(),
                )));
            }
            let mut all = vec![head];
            all.extend(lines);
            let rect = Rect {
                x,
                y: inner.y,
                width: u16::try_from(w).unwrap_or(0),
                height: inner.height.saturating_sub(1),
            };
            Paragraph::new(all).render(rect, buf);
        }
        // The whole blast radius, beyond the direct dependents.
        let last = Rect {
            y: inner.bottom() - 1,
            height: 1,
            ..inner
        };
        let blast = if sel.blast_radius.is_empty() {
            Line::from(Span::styled(
                "blast radius: nothing else goes down with it",
                theme.muted(),
            ))
        } else {
            fit_line(
                vec![
                    Span::styled(
                        format!("{} blast radius: ", theme.glyph(Role::Blast))
                            .trim_start()
                            .to_string(),
                        theme.blast(),
                    ),
                    Span::raw(sanitize(&sel.blast_radius.join(", ")).into_owned()),
                ],
                total,
            )
        };
        Paragraph::new(blast).render(last, buf);
    }

    /// One edge: `● kms  cached DEK (10m)`.
    fn edge_line(&self, s: Option<&ServiceView>, id: &str, note: &str, w: usize) -> Line<'static> {
        let theme = self.theme;
        let (glyph, state) = s.map_or(("?", theme.muted()), |s| theme.state(app::shown_state(s)));
        let style = match s.map(|s| self.mark(s)) {
            Some(Mark::Blast) => theme.blast(),
            _ => Style::new(),
        };
        fit_line(
            vec![
                Span::styled(glyph.to_string(), state),
                Span::raw(" "),
                Span::styled(sanitize(id).into_owned(), style),
                Span::raw("  "),
                Span::styled(sanitize(note).into_owned(), theme.muted()),
            ],
            w.saturating_sub(1),
        )
    }
}

/// One line of a region column.
#[derive(Debug, Clone, Copy)]
enum Entry {
    Role(&'static str),
    Service(usize),
}

/// `✖1 ↯2 ●4`: the non-zero counts of a region, worst first.
fn count_spans(theme: &Theme, counts: &StateCounts) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    for (word, &n) in STATE_WORDS.iter().zip(counts) {
        if n > 0 {
            let (glyph, style) = theme.state(word);
            spans.push(Span::styled(format!(" {glyph}{n}"), style));
        }
    }
    spans.push(Span::raw(" "));
    spans
}

/// How many rows the view moves on PgUp/PgDn: the region columns' height.
pub fn list_rows(app: &App, body: Rect) -> usize {
    usize::from(split(app, body).0.height.saturating_sub(3)).max(1)
}

//! The queues: every queue of the estate (Cloud Tasks, Pub/Sub subscriptions, Celery and
//! Laravel lists on Redis, RabbitMQ queues and their dead letters), worst first, with depth,
//! age of the oldest message, consumers, in and out rates, the net trend, a sparkline of the
//! depth history and the time to drain (or "growing").

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Cell, HighlightSpacing, Row, StatefulWidget, Table, TableState, Widget};
use serde_json::Value;

use crate::app::{self, App, View};
use crate::estate::Kind;
use crate::model::{QueueView, ServiceView};
use crate::ui::Theme;
use crate::ui::text::{clean, width};
use crate::ui::widgets::{SPACING, Want, centred, fit_columns, sparkline, strip};

/// The summary strip is shown only when the view is at least this tall.
const STRIP_MIN_HEIGHT: u16 = 12;

/// The queues view of an app's snapshot.
#[derive(Debug, Clone, Copy)]
pub struct QueuesView<'a> {
    pub app: &'a App,
    pub theme: &'a Theme,
}

const STATUS: usize = 0;
const QUEUE: usize = 1;
const KIND: usize = 2;
const DEPTH: usize = 3;
const OLDEST: usize = 4;
const CONSUMERS: usize = 5;
const IN: usize = 6;
const OUT: usize = 7;
const NET: usize = 8;
const DEAD: usize = 9;
const TREND: usize = 10;
const ETA: usize = 11;

const TITLES: [&str; 12] = [
    "STATUS",
    "QUEUE",
    "KIND",
    "DEPTH",
    "OLDEST",
    "CONSUMERS",
    "IN",
    "OUT",
    "NET",
    "DEAD",
    "DEPTH TREND",
    "ETA",
];
const DISPLAY: [usize; 12] = [
    STATUS, QUEUE, KIND, DEPTH, OLDEST, CONSUMERS, IN, OUT, NET, DEAD, TREND, ETA,
];
const PRIORITY: [usize; 12] = [
    STATUS, QUEUE, DEPTH, ETA, OLDEST, TREND, CONSUMERS, IN, OUT, DEAD, NET, KIND,
];

/// Rows of queues that fit in a body area of this size.
pub fn list_rows(body: Rect) -> usize {
    usize::from(split(body).0.height.saturating_sub(1))
}

fn split(body: Rect) -> (Rect, Option<Rect>) {
    if body.height < STRIP_MIN_HEIGHT {
        return (body, None);
    }
    let table = Rect {
        height: body.height - strip::ROWS,
        ..body
    };
    let below = Rect {
        y: table.bottom(),
        height: strip::ROWS,
        ..body
    };
    (table, Some(below))
}

/// The kind as the queues view names it: `tasks`, `pubsub`, `celery`, `laravel`, `rabbitmq`,
/// with `dlq` for a dead-letter queue.
fn kind_label(s: &ServiceView, q: Option<&QueueView>) -> String {
    let base = match s.kind {
        Kind::CloudTasks => "tasks",
        Kind::PubsubSubscription => "pubsub",
        Kind::RedisQueue => q
            .and_then(|q| q.extra.get("format"))
            .and_then(Value::as_str)
            .unwrap_or("redis"),
        Kind::RabbitmqQueue => "rabbitmq",
        other => other.as_str(),
    };
    let text = format!("{} {}", s.id, s.name).to_lowercase();
    if text.contains("dlq") || text.contains("dead") {
        format!("{base} dlq")
    } else {
        base.to_string()
    }
}

fn extra_f64(q: &QueueView, key: &str) -> Option<f64> {
    q.extra.get(key).and_then(Value::as_f64)
}

/// The texts of one row, before fitting.
struct RowText {
    status: String,
    queue: String,
    kind: String,
    depth: String,
    oldest: String,
    consumers: String,
    input: String,
    output: String,
    net: String,
    dead: String,
    eta: String,
}

impl RowText {
    fn new(s: &ServiceView, q: Option<&QueueView>, theme: &Theme) -> RowText {
        let word = app::shown_state(s);
        let dash = || "-".to_string();
        let rate = |key: &str| {
            q.and_then(|q| extra_f64(q, key))
                .map_or_else(dash, app::rate_text)
        };
        RowText {
            status: format!("{} {word}", theme.state(word).0),
            queue: s.name.clone(),
            kind: kind_label(s, q),
            depth: q.and_then(|q| q.depth).map_or_else(dash, app::count_text),
            oldest: q
                .and_then(|q| q.oldest_age_s)
                .map_or_else(dash, app::short_secs),
            consumers: q
                .and_then(|q| q.consumers)
                .map_or_else(dash, app::count_text),
            input: rate("publish_rate"),
            output: q
                .and_then(|q| extra_f64(q, "deliver_rate").or_else(|| extra_f64(q, "ack_rate")))
                .map_or_else(dash, app::rate_text),
            net: q.and_then(|q| q.drain_per_s).map_or_else(dash, |r| {
                if r > 0.0 {
                    format!("−{}", app::rate_text(r))
                } else if r < 0.0 {
                    format!("+{}", app::rate_text(r))
                } else {
                    "0/s".to_string()
                }
            }),
            dead: q
                .and_then(|q| q.extra.get("dead_letter_depth"))
                .and_then(Value::as_u64)
                .map_or_else(dash, app::count_text),
            eta: q.map_or_else(dash, app::eta_text),
        }
    }

    fn get(&self, col: usize) -> &str {
        match col {
            STATUS => &self.status,
            QUEUE => &self.queue,
            KIND => &self.kind,
            DEPTH => &self.depth,
            OLDEST => &self.oldest,
            CONSUMERS => &self.consumers,
            IN => &self.input,
            OUT => &self.output,
            NET => &self.net,
            DEAD => &self.dead,
            _ => &self.eta,
        }
    }
}

impl Widget for &QueuesView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 {
            return;
        }
        let app = self.app;
        let snap = app.snapshot();
        let theme = self.theme;
        let rows = &app.rows().queues;
        let (table_area, strip_area) = split(area);
        if let Some(message) = super::failure_map::empty_message(app) {
            centred(&message, theme.muted(), table_area, buf);
            return;
        }
        if rows.is_empty() {
            let text = if snap.services.iter().any(|s| s.kind.is_queue()) {
                "no queue matches the filter (Esc clears it)"
            } else {
                "no queues in this estate"
            };
            centred(text, theme.muted(), table_area, buf);
            return;
        }
        let queue = |i: usize| app.rows().queue_of[i].map(|q| &snap.queues[q]);
        let texts: Vec<RowText> = rows
            .iter()
            .map(|&i| RowText::new(&snap.services[i], queue(i), theme))
            .collect();
        let wants: Vec<Want> = DISPLAY
            .iter()
            .map(|&col| {
                let title = width(TITLES[col]);
                let longest = texts.iter().map(|t| width(t.get(col))).max().unwrap_or(0);
                let (min, max) = match col {
                    QUEUE => (16, 40),
                    TREND => (8, 30),
                    KIND => (0, 14),
                    _ => (longest, 16),
                };
                let want = if col == TREND {
                    rows.iter()
                        .filter_map(|&i| queue(i).map(|q| q.history.len()))
                        .max()
                        .unwrap_or(0)
                        .clamp(title, max)
                } else {
                    longest.max(title).min(max)
                };
                Want {
                    id: col,
                    want,
                    min: min.max(title).min(want),
                }
            })
            .collect();
        let columns = fit_columns(
            &wants,
            &PRIORITY,
            &[QUEUE],
            &DISPLAY,
            usize::from(area.width),
        );
        let cursor = app.cursor(View::Queues);
        let visible = usize::from(table_area.height.saturating_sub(1));
        let table_rows: Vec<Row> = rows
            .iter()
            .zip(&texts)
            .skip(cursor.offset)
            .take(visible)
            .map(|(&i, t)| {
                let s = &snap.services[i];
                let q = queue(i);
                Row::new(columns.iter().map(|&(col, w)| cell(s, q, t, col, w, theme)))
            })
            .collect();
        let headings = Row::new(
            columns
                .iter()
                .map(|&(col, w)| Cell::from(clean(TITLES[col], w))),
        )
        .style(theme.heading());
        let widths = columns
            .iter()
            .map(|&(_, w)| Constraint::Length(u16::try_from(w).unwrap_or(u16::MAX)));
        let table = Table::new(table_rows, widths)
            .header(headings)
            .column_spacing(u16::try_from(SPACING).unwrap_or(1))
            .row_highlight_style(theme.cursor())
            .highlight_spacing(HighlightSpacing::Never);
        let mut state = TableState::new().with_selected(cursor.selected.checked_sub(cursor.offset));
        StatefulWidget::render(table, table_area, buf, &mut state);
        if let Some(strip_area) = strip_area {
            strip::render(app, theme, strip_area, buf);
        }
    }
}

fn cell(
    s: &ServiceView,
    q: Option<&QueueView>,
    t: &RowText,
    col: usize,
    w: usize,
    theme: &Theme,
) -> Cell<'static> {
    let text = clean(t.get(col), w);
    let right = |text: String, style: Style| {
        let pad = w.saturating_sub(width(&text));
        Cell::from(Span::styled(format!("{}{text}", " ".repeat(pad)), style))
    };
    match col {
        STATUS => Cell::from(Span::styled(text, theme.state(app::shown_state(s)).1)),
        TREND => {
            let history = q.map_or(&[][..], |q| q.history.as_slice());
            Cell::from(Span::styled(sparkline(history, w), theme.accent()))
        }
        ETA => {
            let style = match t.eta.as_str() {
                "growing" => theme.warning(),
                "empty" => theme.ok(),
                _ => Style::new(),
            };
            right(text, style)
        }
        NET => {
            let style = if t.net.starts_with('+') {
                theme.warning()
            } else {
                Style::new()
            };
            right(text, style)
        }
        DEAD if t.dead != "-" && t.dead != "0" => right(text, theme.warning()),
        DEPTH | OLDEST | CONSUMERS | IN | OUT | DEAD => right(text, Style::new()),
        KIND => Cell::from(Span::styled(text, theme.muted())),
        _ => Cell::from(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_is_displayed_and_prioritised_once() {
        let mut d = DISPLAY.to_vec();
        let mut p = PRIORITY.to_vec();
        d.sort_unstable();
        p.sort_unstable();
        assert_eq!(d, (0..TITLES.len()).collect::<Vec<_>>());
        assert_eq!(p, d);
    }
}

//! Small pieces the views share: columns that drop by priority, a text sparkline, a line cut
//! to a width, a centred message, and the summary strip of the selected service.

pub mod strip;

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::text::{fit, width};

/// Cells between table columns.
pub const SPACING: usize = 1;

/// A column a table would like to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Want {
    /// The caller's name for the column.
    pub id: usize,
    /// The width its widest text (or title) takes, capped.
    pub want: usize,
    /// The narrowest it may get before it is dropped instead.
    pub min: usize,
}

/// Chooses the columns that fit in `total` cells and their widths. Columns are taken in
/// `priority` order (most important first) until the next one's minimum does not fit; spare
/// width then goes to them in `grow` order (those it leaves out last, in priority order).
/// Returns `(id, width)` in `display` order.
pub fn fit_columns(
    wants: &[Want],
    priority: &[usize],
    grow: &[usize],
    display: &[usize],
    total: usize,
) -> Vec<(usize, usize)> {
    let mut chosen: Vec<(usize, usize, usize)> = Vec::new();
    let mut used = 0;
    for id in priority {
        let Some(w) = wants.iter().find(|w| w.id == *id) else {
            continue;
        };
        let min = w.min.min(w.want);
        let gap = if chosen.is_empty() { 0 } else { SPACING };
        if used + gap + min > total {
            break;
        }
        used += gap + min;
        chosen.push((w.id, min, w.want));
    }
    let mut spare = total - used;
    let order = grow
        .iter()
        .chain(priority.iter().filter(|id| !grow.contains(id)));
    for id in order {
        if let Some((_, given, want)) = chosen.iter_mut().find(|(c, ..)| c == id) {
            let more = (*want - *given).min(spare);
            *given += more;
            spare -= more;
        }
    }
    display
        .iter()
        .filter_map(|id| {
            chosen
                .iter()
                .find(|(c, ..)| c == id)
                .map(|&(c, given, _)| (c, given))
        })
        .collect()
}

/// The eight heights of a sparkline, lowest first.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The last `cells` values as a sparkline scaled from zero to their maximum; a flat zero
/// line when all are zero, and nothing for no values.
pub fn sparkline(values: &[u64], cells: usize) -> String {
    let recent = &values[values.len().saturating_sub(cells)..];
    let max = recent.iter().copied().max().unwrap_or(0);
    recent
        .iter()
        .map(|&v| {
            if max == 0 {
                BARS[0]
            } else {
                let step = (u128::from(v) * 7).div_ceil(u128::from(max));
                BARS[usize::try_from(step).unwrap_or(7).min(7)]
            }
        })
        .collect()
}

/// Cuts a line of spans to `max` cells, ending in `…` when something was cut.
pub fn fit_line(spans: Vec<Span<'static>>, max: usize) -> Line<'static> {
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

/// A one-line message in the middle of an area.
pub fn centred(text: &str, style: Style, area: Rect, buf: &mut Buffer) {
    if area.height == 0 {
        return;
    }
    let line = Rect {
        y: area.y + area.height / 2,
        height: 1,
        ..area
    };
    Paragraph::new(Line::from(Span::styled(
        fit(text, usize::from(area.width)).into_owned(),
        style,
    )))
    .alignment(Alignment::Center)
    .render(line, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(id: usize, want: usize, min: usize) -> Want {
        Want { id, want, min }
    }

    #[test]
    fn columns_drop_from_the_lowest_priority_and_keep_display_order() {
        let wants = [
            want(0, 10, 10),
            want(1, 30, 12),
            want(2, 40, 16),
            want(3, 3, 3),
        ];
        let priority = [0, 3, 1, 2];
        let display = [0, 1, 2, 3];
        let wide = fit_columns(&wants, &priority, &[], &display, 200);
        assert_eq!(wide, vec![(0, 10), (1, 30), (2, 40), (3, 3)]);
        let narrow = fit_columns(&wants, &priority, &[], &display, 40);
        assert_eq!(narrow, vec![(0, 10), (1, 25), (3, 3)]);
        let total: usize = narrow.iter().map(|(_, w)| w).sum::<usize>() + 2 * SPACING;
        assert!(total <= 40);
        assert_eq!(fit_columns(&wants, &priority, &[], &display, 5), vec![]);
    }

    #[test]
    fn spare_width_goes_in_grow_order() {
        let wants = [want(0, 10, 5), want(1, 30, 12), want(2, 40, 16)];
        let cols = fit_columns(&wants, &[0, 1, 2], &[2, 0], &[0, 1, 2], 50);
        assert_eq!(cols, vec![(0, 5), (1, 12), (2, 31)]);
    }

    #[test]
    fn sparkline_scales_to_the_maximum_and_keeps_the_newest() {
        assert_eq!(sparkline(&[0, 1, 2, 4, 8], 5), "▁▂▃▅█");
        assert_eq!(sparkline(&[0, 0, 0], 5), "▁▁▁");
        assert_eq!(sparkline(&[], 5), "");
        assert_eq!(sparkline(&[9, 9, 1, 2], 2), "▅█");
        assert_eq!(sparkline(&[u64::MAX, 1], 2), "█▂");
    }

    #[test]
    fn fit_line_cuts_across_spans() {
        let line = fit_line(vec![Span::raw("abc"), Span::raw("defgh")], 6);
        assert_eq!(line.to_string(), "abcde…");
    }
}

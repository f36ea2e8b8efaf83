//! Console rendering: turns the [`App`] state into a frame. Reads the app, never changes it,
//! and does no IO; colours come in as a [`Theme`] chosen by the caller (NO_COLOR). The screen
//! is a header (estate, environment, worst SEV, counts), the active view, a detail strip for
//! the selected service when there is room, and a footer with the keys.

mod detail;
mod failure_map;
mod footer;
mod header;
pub mod text;
mod theme;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;

pub use failure_map::FailureMapView;
pub use theme::Theme;

use crate::app::{App, View};

/// Rows of the header.
const HEADER_ROWS: u16 = 2;
/// Rows of the detail strip (a rule and three lines).
const DETAIL_ROWS: u16 = 4;
/// The detail strip is shown only on terminals at least this tall.
const DETAIL_MIN_HEIGHT: u16 = 16;
/// Rows of the footer.
const FOOTER_ROWS: u16 = 1;

/// Where each part of the screen goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub body: Rect,
    pub detail: Option<Rect>,
    pub footer: Rect,
}

impl Areas {
    pub fn new(area: Rect) -> Areas {
        let header_h = HEADER_ROWS.min(area.height);
        let footer_h = FOOTER_ROWS.min(area.height - header_h);
        let detail_h = if area.height >= DETAIL_MIN_HEIGHT {
            DETAIL_ROWS
        } else {
            0
        };
        let body_h = area.height - header_h - footer_h - detail_h;
        let row = |y: u16, height: u16| Rect {
            x: area.x,
            y,
            width: area.width,
            height,
        };
        let header = row(area.y, header_h);
        let body = row(header.bottom(), body_h);
        let detail = (detail_h > 0).then(|| row(body.bottom(), detail_h));
        let footer = row(area.bottom() - footer_h, footer_h);
        Areas {
            header,
            body,
            detail,
            footer,
        }
    }
}

/// How many service rows the failure map shows on a terminal of this size.
pub fn list_rows(area: Rect) -> usize {
    usize::from(FailureMapView::list_rows(Areas::new(area).body))
}

/// Draws the whole console into the frame.
pub fn render(frame: &mut Frame<'_>, app: &App, theme: Theme) {
    frame.render_widget(&Console { app, theme }, frame.area());
}

/// The whole screen, as a widget (for drawing into any buffer).
#[derive(Debug, Clone, Copy)]
pub struct Console<'a> {
    pub app: &'a App,
    pub theme: Theme,
}

impl Widget for &Console<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let areas = Areas::new(area);
        header::render(self.app, self.theme, areas.header, buf);
        match self.app.view() {
            View::FailureMap => {
                let view = FailureMapView {
                    app: self.app,
                    theme: self.theme,
                };
                view.render(areas.body, buf);
            }
        }
        if let Some(detail) = areas.detail {
            detail::render(self.app, self.theme, detail, buf);
        }
        footer::render(self.app, self.theme, areas.footer, buf);
    }
}

//! Console rendering: turns the [`App`] state into a frame. Reads the app, never changes it
//! (beyond telling it how much fits, in [`draw`]), and does no IO; the [`Theme`] comes from
//! the caller. The screen is the header (estate, environment, worst SEV, counts, tabs), the
//! active view, and the footer with the view's keys; the help popup is drawn last, on top.

mod footer;
mod header;
pub mod popup;
pub mod text;
pub mod theme;
pub mod views;
pub mod widgets;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;

pub use theme::Theme;
pub use views::{DetailView, EventsView, FailureMapView, QueuesView, RunbooksView, TopologyView};

use crate::app::{App, Geometry, View};

/// Rows of the footer.
const FOOTER_ROWS: u16 = 1;

/// Where each part of the screen goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub body: Rect,
    pub footer: Rect,
}

impl Areas {
    pub fn new(area: Rect) -> Areas {
        Areas::with_banner(area, false)
    }

    /// The areas when the header also carries the blind banner (opsdeck cannot see part of
    /// the estate): one more header row, on terminals tall enough to spare it.
    pub fn with_banner(area: Rect, blind: bool) -> Areas {
        // On a very short terminal the tabs go first, then the counts: the view matters more.
        let header_h = match area.height {
            0..=4 => area.height.min(1),
            5..=8 => 2,
            9..=11 => header::ROWS,
            _ => header::ROWS + u16::from(blind),
        };
        let footer_h = FOOTER_ROWS.min(area.height - header_h);
        let body_h = area.height - header_h - footer_h;
        let row = |y: u16, height: u16| Rect {
            x: area.x,
            y,
            width: area.width,
            height,
        };
        let header = row(area.y, header_h);
        let body = row(header.bottom(), body_h);
        let footer = row(area.bottom() - footer_h, footer_h);
        Areas {
            header,
            body,
            footer,
        }
    }
}

/// How much fits on a screen of this size, for the app's cursors and scrolling.
pub fn geometry(area: Rect, app: &App, theme: &Theme) -> Geometry {
    let body = Areas::with_banner(area, header::blind(app)).body;
    let list_rows = match app.view() {
        View::FailureMap | View::Detail => views::failure_map::list_rows(body),
        View::Topology => views::topology::list_rows(app, body),
        View::Queues => views::queues::list_rows(body),
        View::Events => views::events::list_rows(app, body),
    };
    let (help_rows, help_lines) = if app.help().is_some() {
        (popup::help::rows(area), popup::help::lines(theme).len())
    } else {
        (0, 0)
    };
    Geometry {
        list_rows,
        detail_rows: usize::from(body.height),
        detail_lines: if app.view() == View::Detail {
            views::detail::line_count(app, theme, body)
        } else {
            0
        },
        help_rows,
        help_lines,
    }
}

/// Tells the app how much fits, then draws the whole console into the frame.
pub fn draw(frame: &mut Frame<'_>, app: &mut App, theme: &Theme) {
    let area = frame.area();
    app.set_geometry(geometry(area, app, theme));
    frame.render_widget(&Console { app, theme }, area);
}

/// The whole screen, as a widget (for drawing into any buffer).
#[derive(Debug, Clone, Copy)]
pub struct Console<'a> {
    pub app: &'a App,
    pub theme: &'a Theme,
}

impl Widget for &Console<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let theme = self.theme;
        let areas = Areas::with_banner(area, header::blind(app));
        header::render(app, theme, areas.header, buf);
        match app.view() {
            _ if app.runbooks().open() => (&RunbooksView { app, theme }).render(areas.body, buf),
            View::FailureMap => (&FailureMapView { app, theme }).render(areas.body, buf),
            View::Topology => (&TopologyView { app, theme }).render(areas.body, buf),
            View::Queues => (&QueuesView { app, theme }).render(areas.body, buf),
            View::Detail => (&DetailView { app, theme }).render(areas.body, buf),
            View::Events => (&EventsView { app, theme }).render(areas.body, buf),
        }
        footer::render(app, theme, areas.footer, buf);
        popup::help::render(app, theme, area, buf);
    }
}

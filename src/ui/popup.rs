//! Popups drawn over the view, last, so they sit on top: the help screen.

pub mod help;

use ratatui::layout::Rect;

/// A rectangle of at most `width` × `height` in the middle of `area`.
pub fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

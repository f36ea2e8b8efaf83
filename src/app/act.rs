//! What keys do beyond moving around: ask the poller for a refresh, freeze and unfreeze the
//! screen, and copy the selected service (its summary, its command, its console URL) for the
//! clipboard.

use super::{App, Effect, copy_text};
use crate::poller::Control;

impl App {
    pub(super) fn refresh(&mut self) -> Effect {
        if self.poller_stopped {
            self.show_note("the poller has stopped: cannot refresh");
            Effect::Redraw
        } else if self.frozen_at.is_some() {
            self.show_note("refreshing every service (frozen: f shows the result)");
            Effect::Send(Control::RefreshNow)
        } else {
            self.show_note("refreshing every service…");
            Effect::Send(Control::RefreshNow)
        }
    }

    pub(super) fn set_frozen(&mut self, on: bool) -> Effect {
        if on == self.frozen_at.is_some() {
            return Effect::None;
        }
        if on {
            self.frozen_at = Some(self.snapshot.generated_at);
            self.held_differs = false;
            self.show_note("frozen: updates are held until you press f again");
        } else {
            self.frozen_at = None;
            self.held_differs = false;
            if let Some(newest) = self.held.take() {
                self.snapshot = newest;
                self.rebuild();
            }
            self.show_note("live again");
        }
        Effect::Redraw
    }

    /// Copies the selected service's hand-off: its command, or its console URL.
    pub(super) fn copy_handoff(&mut self, url: bool) -> Effect {
        let Some(s) = self.selected_service() else {
            self.show_note("nothing selected to copy");
            return Effect::Redraw;
        };
        let (what, text) = if url {
            ("console URL", s.handoff.console_url.clone())
        } else {
            ("command", s.handoff.command.clone())
        };
        match text {
            Some(text) => {
                let note = format!("copied the {what} for {} (OSC 52)", s.id);
                self.show_note(note);
                Effect::Copy(text)
            }
            None => {
                let note = format!("{} has no {what} to copy", s.id);
                self.show_note(note);
                Effect::Redraw
            }
        }
    }

    pub(super) fn copy(&mut self) -> Effect {
        match self.selected_service() {
            Some(s) => {
                let text = copy_text(&self.snapshot, s);
                let note = format!("copied {} to the clipboard (OSC 52)", s.id);
                self.show_note(note);
                Effect::Copy(text)
            }
            None => {
                self.show_note("nothing selected to copy");
                Effect::Redraw
            }
        }
    }
}

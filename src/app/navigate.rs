//! Moving around: the cursor of the active list (or the detail view's scroll), region to
//! region in the topology, into the detail view and back, from view to view, and the help
//! popup's own keys.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::keymap::{self, Command};
use super::rows::region_columns;
use super::{App, Effect, View, detail_max};

/// Where a move goes.
#[derive(Debug, Clone, Copy)]
enum Target {
    First,
    Last,
    By(isize),
}

impl App {
    pub(super) fn move_by(&mut self, delta: isize) -> Effect {
        self.move_cursor(Target::By(delta))
    }

    /// Home: the first row; on a list of services it follows the worst one again.
    pub(super) fn move_first(&mut self) -> Effect {
        self.move_cursor(Target::First)
    }

    pub(super) fn move_last(&mut self) -> Effect {
        self.move_cursor(Target::Last)
    }

    fn move_cursor(&mut self, to: Target) -> Effect {
        let view = self.view;
        let len = if view == View::Detail {
            detail_max(self.geometry) + 1
        } else {
            self.list(view).len()
        };
        if len == 0 {
            return Effect::None;
        }
        let cursor = &mut self.cursors[view.index()];
        let target = match to {
            Target::First => 0,
            Target::Last => len - 1,
            Target::By(d) => cursor.by(d),
        };
        let moved = if view == View::Detail {
            let before = cursor.selected;
            cursor.selected = target.min(len - 1);
            cursor.offset = cursor.selected;
            before != cursor.selected
        } else {
            cursor.go(target, len)
        };
        let at = cursor.selected;
        match view {
            View::Detail => {}
            View::Events => {
                self.event_anchor = match to {
                    Target::First => None,
                    _ => Some(self.snapshot.events[self.rows.events[at]].clone()),
                };
            }
            _ => {
                // Home goes back to following the worst service; any other move stays put.
                let follow = matches!(to, Target::First);
                let was_pinned = self.pinned;
                self.pinned = !follow;
                self.select(self.list(view)[at]);
                if follow && was_pinned {
                    self.sync();
                    return Effect::Redraw;
                }
            }
        }
        if moved { Effect::Redraw } else { Effect::None }
    }

    /// Selects the service at this position in the snapshot.
    pub(super) fn select(&mut self, index: usize) {
        self.selected_id = Some(self.snapshot.services[index].id.clone());
    }

    /// Topology: the same place in the previous or next region that shows any service.
    pub(super) fn step_region(&mut self, delta: isize) -> Effect {
        let Some(current) = self.selected_service() else {
            return Effect::None;
        };
        let columns = region_columns(&self.snapshot);
        let services = &self.snapshot.services;
        let here = current.region.as_deref();
        let column_rows = |region: Option<&str>| -> Vec<usize> {
            self.rows
                .topology
                .iter()
                .copied()
                .filter(|&i| services[i].region.as_deref() == region)
                .collect()
        };
        let Some(mut col) = columns.iter().position(|c| *c == here) else {
            return Effect::None;
        };
        let ordinal = self
            .selected()
            .and_then(|sel| column_rows(here).iter().position(|&i| i == sel))
            .unwrap_or(0);
        loop {
            let Some(next) = col.checked_add_signed(delta).filter(|&c| c < columns.len()) else {
                return Effect::None;
            };
            col = next;
            let rows = column_rows(columns[col]);
            if let Some(&i) = rows.get(ordinal.min(rows.len().saturating_sub(1))) {
                self.pinned = true;
                self.select(i);
                self.sync();
                return Effect::Redraw;
            }
        }
    }

    /// Enter: the service under the cursor, in detail.
    pub(super) fn open_detail(&mut self) -> Effect {
        if self.view == View::Events {
            let service = self
                .rows
                .events
                .get(self.cursors[View::Events.index()].selected)
                .map(|&e| self.snapshot.events[e].service.clone());
            match service.and_then(|id| self.rows.position.get(&id).copied()) {
                Some(i) => self.select(i),
                None => {
                    self.show_note("that service is no longer in the estate");
                    return Effect::Redraw;
                }
            }
        }
        if self.selected().is_none() {
            self.show_note("nothing selected");
            return Effect::Redraw;
        }
        self.pinned = true;
        self.back = self.view;
        self.view = View::Detail;
        self.cursors[View::Detail.index()].selected = 0;
        self.cursors[View::Detail.index()].offset = 0;
        Effect::Redraw
    }

    /// Esc: out of the detail view; else clear the filter; else home to the map.
    pub(super) fn back(&mut self) -> Effect {
        if self.view == View::Detail {
            let to = if self.back == View::Detail {
                View::FailureMap
            } else {
                self.back
            };
            return self.show(to);
        }
        if !self.filter.is_empty() {
            self.set_filter(super::Filter::default());
            self.show_note("filter cleared");
            return Effect::Redraw;
        }
        if self.view != View::FailureMap {
            return self.show(View::FailureMap);
        }
        Effect::None
    }

    /// Switches to a view.
    pub(super) fn show(&mut self, view: View) -> Effect {
        if view == self.view {
            return Effect::None;
        }
        if view == View::Detail {
            self.back = self.view;
            self.cursors[View::Detail.index()].selected = 0;
            self.cursors[View::Detail.index()].offset = 0;
        }
        self.view = view;
        self.sync();
        Effect::Redraw
    }

    /// Keys while the help popup is open: scroll it, close it, or quit.
    pub(super) fn help_key(&mut self, key: KeyEvent) -> Effect {
        let Some(top) = self.help else {
            return Effect::None;
        };
        let max = self.help_max();
        let page = self.geometry.help_rows.max(1);
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let to = match key.code {
            KeyCode::Esc | KeyCode::Char('?' | 'q') | KeyCode::Enter => {
                self.help = None;
                return Effect::Redraw;
            }
            KeyCode::Char('c') if ctrl => return Effect::Quit,
            _ => match keymap::command_for(View::Detail, key) {
                Some(Command::Down) => top + 1,
                Some(Command::Up) => top.saturating_sub(1),
                Some(Command::PageDown) => top + page,
                Some(Command::PageUp) => top.saturating_sub(page),
                Some(Command::First) => 0,
                Some(Command::Last) => max,
                Some(Command::Quit) => return Effect::Quit,
                _ => return Effect::None,
            },
        };
        let to = to.min(max);
        if to == top {
            Effect::None
        } else {
            self.help = Some(to);
            Effect::Redraw
        }
    }
}

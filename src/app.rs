//! Console state: the snapshot on screen (or held while frozen), the active view, the
//! selection and each list's cursor, the filter, the line being typed, the help popup and the
//! footer's note, and what each key does. Pure: no terminal, no clock, no channels. The runtime
//! hands it snapshots and keys and carries out the [`Effect`] each key returns; the renderers
//! in `ui` only read it. Texts that change with the clock are formatted in [`format`], so that
//! deciding whether a new snapshot changes the screen and drawing it cannot disagree.

mod act;
mod attention;
mod filter;
mod format;
mod input;
pub mod keymap;
mod navigate;
pub mod palette;
mod prompt;
mod rows;
pub mod runbooks;
mod silenced;
#[cfg(test)]
mod tests;

use chrono::{DateTime, TimeDelta, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

pub use attention::{Attention, alerting};
pub use filter::Filter;
pub use format::{
    age_s, age_text, copy_text, count_text, eta_text, fallback_text, rate_text, short_duration,
    short_secs, shown_state,
};
pub use input::{Input, Prompt};
pub use keymap::Command;
pub use rows::{Cursor, MapWidths, ROLES, Rows, STATE_WORDS, StateCounts, region_columns};
pub use silenced::{silence_mark, silence_sentence};

use crate::model::{EventView, ServiceView, Snapshot};
use crate::poller::Control;

/// How long a footer note stays up, in snapshot time.
const NOTE_FOR: TimeDelta = TimeDelta::seconds(3);
/// How long a warning (a bad theme file) stays up.
const WARNING_FOR: TimeDelta = TimeDelta::seconds(20);

/// The screens of the console, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum View {
    /// Every service, worst first.
    #[default]
    FailureMap,
    /// Regions side by side, services by role, the edges around the selection.
    Topology,
    /// Every queue's backlog.
    Queues,
    /// One service in full.
    Detail,
    /// Status transitions, newest first.
    Events,
}

impl View {
    pub const TABS: [View; 5] = [
        View::FailureMap,
        View::Topology,
        View::Queues,
        View::Detail,
        View::Events,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::FailureMap => "Failure map",
            View::Topology => "Topology",
            View::Queues => "Queues",
            View::Detail => "Detail",
            View::Events => "Events",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The view `delta` tabs away, wrapping around.
    fn step(self, delta: isize) -> View {
        let n = View::TABS.len() as isize;
        View::TABS[(self.index() as isize + delta).rem_euclid(n) as usize]
    }

    /// A list of services, whose cursor is the selection.
    fn lists_services(self) -> bool {
        matches!(self, View::FailureMap | View::Topology | View::Queues)
    }
}

/// What the runtime must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Nothing changed.
    None,
    /// The state changed: draw again.
    Redraw,
    /// Clear the terminal and draw everything again (Ctrl-L, after line noise).
    Repaint,
    /// Leave the console.
    Quit,
    /// Send this to the poller, then draw again.
    Send(Control),
    /// Put this text on the clipboard of the engineer's terminal (OSC 52), then draw again.
    Copy(String),
    /// Load the theme of this name, then draw again.
    SetTheme(String),
    /// Silence a service for a while, with a reason (written to the silences file and the
    /// audit log), then draw again.
    Silence {
        service: String,
        duration: std::time::Duration,
        reason: String,
    },
    /// Lift the silence of a service, then draw again.
    Unsilence(String),
    /// Plan, run, or answer a manual step of a runbook ([`runbooks`]), then draw again.
    Runbook(runbooks::RunbookOrder),
}

/// How much fits on screen, measured by the renderer for the current terminal size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Geometry {
    /// Rows of the active list view.
    pub list_rows: usize,
    /// Rows of the detail view, and the lines its content takes.
    pub detail_rows: usize,
    pub detail_lines: usize,
    /// Rows of the help popup, and its lines.
    pub help_rows: usize,
    pub help_lines: usize,
}

/// A short-lived message in the footer.
#[derive(Debug, Clone, PartialEq)]
struct Note {
    text: String,
    until: DateTime<Utc>,
    warning: bool,
}

/// The console's state.
#[derive(Debug, Clone)]
pub struct App {
    snapshot: Snapshot,
    /// The newest snapshot while frozen, and whether it differs from the one on screen.
    held: Option<Snapshot>,
    held_differs: bool,
    /// When the screen was frozen (`f`), if it is.
    frozen_at: Option<DateTime<Utc>>,
    /// The time of the newest snapshot received (frozen or not), for notes.
    clock: DateTime<Utc>,
    view: View,
    /// Where Esc goes from the detail view.
    back: View,
    /// The selected service, shared by every view.
    selected_id: Option<String>,
    /// The user chose the selection. Until then (and after Home) it stays on the worst
    /// service of the view, whichever that is.
    pinned: bool,
    rows: Rows,
    /// One cursor per view (the detail view's is its scroll position).
    cursors: [Cursor; 5],
    /// The event the events cursor is on, once the user moved it (else: the newest).
    event_anchor: Option<EventView>,
    filter: Filter,
    /// The filter as it was when `/` was pressed (Esc restores it).
    filter_before: Filter,
    input: Option<Input>,
    /// The help popup's scroll position, while it is open.
    help: Option<usize>,
    geometry: Geometry,
    poller_stopped: bool,
    note: Option<Note>,
    /// The attention bell: new SEV 1–2 problems.
    bell: attention::Bell,
    runbooks: runbooks::Desk,
}

impl App {
    /// A console showing `snapshot`, with the worst service selected.
    pub fn new(snapshot: Snapshot) -> App {
        let mut app = App {
            clock: snapshot.generated_at,
            snapshot,
            held: None,
            held_differs: false,
            frozen_at: None,
            view: View::FailureMap,
            back: View::FailureMap,
            selected_id: None,
            pinned: false,
            rows: Rows::default(),
            cursors: [Cursor::default(); 5],
            event_anchor: None,
            filter: Filter::default(),
            filter_before: Filter::default(),
            input: None,
            help: None,
            geometry: Geometry::default(),
            poller_stopped: false,
            note: None,
            bell: attention::Bell::default(),
            runbooks: runbooks::Desk::default(),
        };
        app.bell.update(&app.snapshot);
        app.rebuild();
        app
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    pub fn view(&self) -> View {
        self.view
    }

    /// The rows of every list view, filtered.
    pub fn rows(&self) -> &Rows {
        &self.rows
    }

    /// The cursor of a view (for the detail view: its scroll position in `selected`).
    pub fn cursor(&self, view: View) -> Cursor {
        self.cursors[view.index()]
    }

    /// Position of the selected service in `snapshot().services`.
    pub fn selected(&self) -> Option<usize> {
        self.selected_id
            .as_ref()
            .and_then(|id| self.rows.position.get(id))
            .copied()
    }

    pub fn selected_service(&self) -> Option<&ServiceView> {
        self.selected().map(|i| &self.snapshot.services[i])
    }

    /// The runbooks screen and the run kept on it.
    pub fn runbooks(&self) -> &runbooks::Desk {
        &self.runbooks
    }

    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// The `/` or `:` line being typed.
    pub fn input(&self) -> Option<&Input> {
        self.input.as_ref()
    }

    /// The help popup's scroll position, while it is open.
    pub fn help(&self) -> Option<usize> {
        self.help
    }

    /// When the screen was frozen, if it is.
    pub fn frozen_at(&self) -> Option<DateTime<Utc>> {
        self.frozen_at
    }

    /// Frozen, and newer data than the screen shows has arrived.
    pub fn newer_data_held(&self) -> bool {
        self.frozen_at.is_some() && self.held_differs
    }

    /// The poller has ended: the screen shows the last data it sent.
    pub fn poller_stopped(&self) -> bool {
        self.poller_stopped
    }

    /// The footer note while it lasts, and whether it is a warning.
    pub fn note(&self) -> Option<(&str, bool)> {
        self.note
            .as_ref()
            .filter(|n| self.clock < n.until)
            .map(|n| (n.text.as_str(), n.warning))
    }

    /// Shows a new snapshot (or holds it, while frozen), keeping the selection on the same
    /// service. Returns whether the screen would change (ages and time left compared as
    /// displayed, not to the second).
    pub fn set_snapshot(&mut self, snapshot: Snapshot) -> bool {
        let attention_changed = self.bell.update(&snapshot);
        let note_before = self.note().map(|(t, _)| t.to_string());
        self.clock = snapshot.generated_at;
        let note_changed =
            note_before.as_deref() != self.note().map(|(t, _)| t) || attention_changed;
        if self.frozen_at.is_some() {
            let was = self.held_differs;
            self.held_differs |= !format::same_on_screen(&self.snapshot, &snapshot);
            self.held = Some(snapshot);
            return was != self.held_differs || note_changed;
        }
        let changed = !format::same_on_screen(&self.snapshot, &snapshot);
        self.snapshot = snapshot;
        if changed {
            self.rebuild();
        }
        changed || note_changed
    }

    /// The latest new SEV 1–2 problems, while any of them lasts (top of the events view).
    pub fn attention(&self) -> Option<&Attention> {
        self.bell.attention.as_ref()
    }

    /// Whether the bell rings for new SEV 1–2 problems.
    pub fn bell_on(&self) -> bool {
        self.bell.on
    }

    /// Turns the bell on or off (`--quiet`, `:bell`).
    pub fn set_bell(&mut self, on: bool) {
        self.bell.on = on;
    }

    /// Whether the terminal bell is due: once for each snapshot that brought a new SEV 1–2
    /// problem, while the bell is on.
    pub fn take_bell(&mut self) -> bool {
        self.bell.take()
    }

    /// Tells the console how much fits on screen.
    pub fn set_geometry(&mut self, geometry: Geometry) {
        self.geometry = geometry;
        for view in View::TABS {
            self.cursors[view.index()].page = geometry.list_rows.max(1);
        }
        self.cursors[View::Detail.index()].page = geometry.detail_rows.max(1);
        self.sync();
        if let Some(top) = self.help {
            self.help = Some(top.min(self.help_max()));
        }
        let detail = &mut self.cursors[View::Detail.index()];
        detail.selected = detail.selected.min(detail_max(geometry));
        detail.offset = detail.selected;
    }

    /// Records that the poller has ended. Returns whether that is news.
    pub fn set_poller_stopped(&mut self) -> bool {
        !std::mem::replace(&mut self.poller_stopped, true)
    }

    /// Shows warnings (a bad theme file) in the footer for a while.
    pub fn warn(&mut self, warnings: &[String]) {
        if let Some(first) = warnings.first() {
            let more = match warnings.len() {
                1 => String::new(),
                n => format!(" (+{} more: opsdeck check lists them)", n - 1),
            };
            self.note = Some(Note {
                text: format!("{first}{more}"),
                until: self.clock + WARNING_FOR,
                warning: true,
            });
        }
    }

    /// Shows a note in the footer for a few seconds of snapshot time.
    pub fn show_note(&mut self, text: impl Into<String>) {
        self.note = Some(Note {
            text: text.into(),
            until: self.clock + NOTE_FOR,
            warning: false,
        });
    }

    /// What a key does.
    pub fn handle_key(&mut self, key: KeyEvent) -> Effect {
        if key.kind == KeyEventKind::Release {
            return Effect::None;
        }
        // Esc followed quickly by a key arrives as Alt+key (the terminal cannot tell them
        // apart). The console binds no Alt keys, so it is read as what was typed: Esc, then
        // the key.
        if key.modifiers.contains(KeyModifiers::ALT) {
            let mut plain = key;
            plain.modifiers.remove(KeyModifiers::ALT);
            let first = self.handle_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
            return match self.handle_key(plain) {
                Effect::None => first,
                second => second,
            };
        }
        self.disarm_quit(key);
        if self.input.is_some() {
            return self.type_key(key);
        }
        if self.runbooks.open() {
            return self.runbook_key(key);
        }
        if self.help.is_some() {
            return self.help_key(key);
        }
        match keymap::command_for(self.view, key) {
            Some(command) => self.run(command),
            None => Effect::None,
        }
    }

    /// Carries out a command of the keymap.
    pub fn run(&mut self, command: Command) -> Effect {
        match command {
            Command::Quit => self.quit(),
            Command::Runbooks => self.open_runbooks(None),
            Command::Repaint => Effect::Repaint,
            Command::Refresh => self.refresh(),
            Command::Freeze => self.set_frozen(self.frozen_at.is_none()),
            Command::Help => {
                self.help = Some(0);
                Effect::Redraw
            }
            Command::Filter => self.open_input(Prompt::Filter),
            Command::Palette => self.open_input(Prompt::Command),
            Command::Copy => self.copy(),
            Command::CopyCommand => self.copy_handoff(false),
            Command::CopyUrl => self.copy_handoff(true),
            Command::Silence => self.open_silence(),
            Command::Up => self.move_by(-1),
            Command::Down => self.move_by(1),
            Command::PageUp => self.move_by(-self.page_step()),
            Command::PageDown => self.move_by(self.page_step()),
            Command::First => self.move_first(),
            Command::Last => self.move_last(),
            Command::Left => self.step_region(-1),
            Command::Right => self.step_region(1),
            Command::Open => self.open_detail(),
            Command::Back => self.back(),
            Command::NextView => self.show(self.view.step(1)),
            Command::PrevView => self.show(self.view.step(-1)),
            Command::Show(view) => self.show(view),
        }
    }

    fn page_step(&self) -> isize {
        let page = if self.view == View::Detail {
            self.geometry.detail_rows
        } else {
            self.geometry.list_rows
        };
        isize::try_from(page.max(1)).unwrap_or(isize::MAX)
    }

    fn help_max(&self) -> usize {
        self.geometry
            .help_lines
            .saturating_sub(self.geometry.help_rows)
    }

    /// Rebuilds the rows after the snapshot or the filter changed, then re-places cursors.
    fn rebuild(&mut self) {
        self.rows = Rows::build(&self.snapshot, &self.filter);
        self.sync();
    }

    /// Puts each cursor on the selection, and the selection on the active list's cursor.
    fn sync(&mut self) {
        let active = self.view;
        if !self.pinned {
            let worst = match active {
                View::Topology => self.rows.topology.iter().min(),
                View::Queues => self.rows.queues.first(),
                _ => self.rows.map.first(),
            };
            if let Some(&i) = worst {
                self.selected_id = Some(self.snapshot.services[i].id.clone());
            }
        }
        let selected = self.selected();
        for view in [View::FailureMap, View::Topology, View::Queues] {
            let rows = self.list(view);
            let found = selected.and_then(|i| rows.iter().position(|&r| r == i));
            let len = rows.len();
            let cursor = &mut self.cursors[view.index()];
            if let Some(p) = found {
                cursor.selected = p;
            }
            cursor.keep_visible(len);
        }
        if active.lists_services() {
            let at = self.cursors[active.index()].selected;
            if let Some(&i) = self.list(active).get(at)
                && selected != Some(i)
            {
                self.selected_id = Some(self.snapshot.services[i].id.clone());
            }
        }
        let anchored = self.event_anchor.as_ref().and_then(|a| {
            self.rows
                .events
                .iter()
                .position(|&e| self.snapshot.events[e] == *a)
        });
        let len = self.rows.events.len();
        let events = &mut self.cursors[View::Events.index()];
        events.selected = anchored.unwrap_or(if self.event_anchor.is_some() {
            events.selected
        } else {
            0
        });
        events.keep_visible(len);
    }

    /// The rows of a list view (positions in the snapshot's services or events).
    fn list(&self, view: View) -> &[usize] {
        match view {
            View::FailureMap => &self.rows.map,
            View::Topology => &self.rows.topology,
            View::Queues => &self.rows.queues,
            View::Events => &self.rows.events,
            View::Detail => &[],
        }
    }
}

/// The last scroll position of the detail view.
fn detail_max(g: Geometry) -> usize {
    g.detail_lines.saturating_sub(g.detail_rows)
}

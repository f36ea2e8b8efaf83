//! Console state: the snapshot on screen, the selection and scroll position, the active view,
//! and what each key does. Pure: no terminal, no clock, no channels. The runtime hands it
//! snapshots and keys and carries out the [`Effect`] each key returns; the renderers in `ui`
//! only read it. The texts whose value depends on the time (data age, fallback time left)
//! are formatted here, so that deciding whether a new snapshot changes the screen and drawing
//! it cannot disagree.

use chrono::{DateTime, TimeDelta, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::model::{ServiceView, Snapshot};
use crate::poller::Control;

/// How long a footer note stays up.
const NOTE_FOR: TimeDelta = TimeDelta::seconds(3);

/// The screen the console shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    /// Every service, worst first.
    #[default]
    FailureMap,
}

/// What the runtime must do after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

/// A short-lived message in the footer.
#[derive(Debug, Clone, PartialEq)]
struct Note {
    text: &'static str,
    until: DateTime<Utc>,
}

/// The console's state.
#[derive(Debug, Clone)]
pub struct App {
    snapshot: Snapshot,
    view: View,
    selected: usize,
    /// The id of the selected service, so the selection follows it when the order changes.
    selected_id: Option<String>,
    /// The user chose the selection. Until then (and after Home) it stays on the top row,
    /// the worst service, whichever that is.
    pinned: bool,
    /// The first service row on screen.
    offset: usize,
    /// How many service rows fit on screen (set by the runtime from the layout).
    page_rows: usize,
    poller_stopped: bool,
    note: Option<Note>,
}

impl App {
    /// A console showing `snapshot`, with the worst service selected.
    pub fn new(snapshot: Snapshot) -> App {
        let selected_id = snapshot.services.first().map(|s| s.id.clone());
        App {
            snapshot,
            view: View::FailureMap,
            selected: 0,
            selected_id,
            pinned: false,
            offset: 0,
            page_rows: 1,
            poller_stopped: false,
            note: None,
        }
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    pub fn view(&self) -> View {
        self.view
    }

    /// Index of the selected row in `snapshot().services`.
    pub fn selected(&self) -> usize {
        self.selected
    }

    pub fn selected_service(&self) -> Option<&ServiceView> {
        self.snapshot.services.get(self.selected)
    }

    /// Index of the first row on screen.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The poller has ended: the screen shows the last data it sent.
    pub fn poller_stopped(&self) -> bool {
        self.poller_stopped
    }

    /// The footer note, while it lasts.
    pub fn note(&self) -> Option<&'static str> {
        self.note
            .as_ref()
            .filter(|n| self.snapshot.generated_at < n.until)
            .map(|n| n.text)
    }

    /// Shows a new snapshot, keeping the selection on the same service. Returns whether the
    /// screen would change (ages and time left compared as displayed, not to the second).
    pub fn set_snapshot(&mut self, snapshot: Snapshot) -> bool {
        let note_before = self.note();
        let changed = !same_on_screen(&self.snapshot, &snapshot);
        self.snapshot = snapshot;
        let services = &self.snapshot.services;
        let kept = self
            .selected_id
            .as_deref()
            .and_then(|id| services.iter().position(|s| s.id == id));
        self.selected = match kept {
            Some(i) if self.pinned => i,
            // Gone from the list: stay on the same row.
            _ if self.pinned => self.selected.min(services.len().saturating_sub(1)),
            _ => 0,
        };
        self.selected_id = services.get(self.selected).map(|s| s.id.clone());
        self.keep_selection_visible();
        changed || note_before != self.note()
    }

    /// Tells the console how many service rows fit on screen.
    pub fn set_page_rows(&mut self, rows: usize) {
        self.page_rows = rows.max(1);
        self.keep_selection_visible();
    }

    /// Records that the poller has ended. Returns whether that is news.
    pub fn set_poller_stopped(&mut self) -> bool {
        !std::mem::replace(&mut self.poller_stopped, true)
    }

    /// What a key does.
    pub fn handle_key(&mut self, key: KeyEvent) -> Effect {
        if key.kind == KeyEventKind::Release {
            return Effect::None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') if ctrl => Effect::Quit,
            KeyCode::Char('l') if ctrl => Effect::Repaint,
            KeyCode::Char('q') => Effect::Quit,
            KeyCode::Char('r') => {
                if self.poller_stopped {
                    self.show_note("the poller has stopped: cannot refresh");
                    Effect::Redraw
                } else {
                    self.show_note("refreshing every service…");
                    Effect::Send(Control::RefreshNow)
                }
            }
            KeyCode::Down | KeyCode::Char('j') => self.select(Move::By(1)),
            KeyCode::Up | KeyCode::Char('k') => self.select(Move::By(-1)),
            KeyCode::PageDown => self.select(Move::By(self.page_step())),
            KeyCode::PageUp => self.select(Move::By(-self.page_step())),
            KeyCode::Home | KeyCode::Char('g') => self.select(Move::First),
            KeyCode::End | KeyCode::Char('G') => self.select(Move::Last),
            _ => Effect::None,
        }
    }

    /// Shows a note in the footer for a few seconds of snapshot time.
    pub fn show_note(&mut self, text: &'static str) {
        self.note = Some(Note {
            text,
            until: self.snapshot.generated_at + NOTE_FOR,
        });
    }

    fn page_step(&self) -> isize {
        isize::try_from(self.page_rows).unwrap_or(isize::MAX)
    }

    fn select(&mut self, to: Move) -> Effect {
        let len = self.snapshot.services.len();
        if len == 0 {
            return Effect::None;
        }
        let last = len - 1;
        let target = match to {
            Move::First => 0,
            Move::Last => last,
            Move::By(d) => self.selected.saturating_add_signed(d).min(last),
        };
        // Home goes back to following the worst service; any other move stays put.
        let follow_worst = matches!(to, Move::First);
        if follow_worst {
            self.pinned = false;
        }
        if target == self.selected {
            return Effect::None;
        }
        self.pinned = !follow_worst;
        self.selected = target;
        self.selected_id = Some(self.snapshot.services[target].id.clone());
        self.keep_selection_visible();
        Effect::Redraw
    }

    fn keep_selection_visible(&mut self) {
        let len = self.snapshot.services.len();
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + self.page_rows {
            self.offset = self.selected + 1 - self.page_rows;
        }
        // No blank rows below the last service while earlier ones are scrolled away.
        self.offset = self.offset.min(len.saturating_sub(self.page_rows));
    }
}

#[derive(Debug, Clone, Copy)]
enum Move {
    First,
    Last,
    By(isize),
}

/// Seconds since the service's data was observed, as of the snapshot.
pub fn age_s(snapshot: &Snapshot, service: &ServiceView) -> Option<u64> {
    let at = service.observed_at?;
    let secs = (snapshot.generated_at - at).num_seconds();
    Some(u64::try_from(secs).unwrap_or(0))
}

/// The age column: `12s`, `3m`, `2h`, `4d`; `-` when never observed.
pub fn age_text(snapshot: &Snapshot, service: &ServiceView) -> String {
    age_s(snapshot, service).map_or_else(|| "-".to_string(), short_duration)
}

/// A duration in its largest whole unit: `45s`, `7m`, `2h`, `3d` (rounded down).
pub fn short_duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// The fallback as shown: `cached DEK (7m left)` while a time-limited fallback carries it.
pub fn fallback_text(service: &ServiceView) -> Option<String> {
    let text = service.fallback.as_deref()?;
    Some(match service.fallback_left_s {
        Some(left) => format!("{text} ({} left)", short_duration(left)),
        None => text.to_string(),
    })
}

/// Whether two snapshots look the same on screen. Fields that tick with the clock are
/// compared through the text they are shown as; the rest compare exactly.
fn same_on_screen(a: &Snapshot, b: &Snapshot) -> bool {
    a.estate == b.estate
        && a.environment == b.environment
        && a.status == b.status
        && a.worst_sev == b.worst_sev
        && a.counts == b.counts
        && a.sev_names == b.sev_names
        && a.services.len() == b.services.len()
        && a.services.iter().zip(&b.services).all(|(x, y)| {
            age_text(a, x) == age_text(b, y)
                && fallback_text(x) == fallback_text(y)
                && without_clock(x) == without_clock(y)
        })
}

fn without_clock(s: &ServiceView) -> ServiceView {
    ServiceView {
        observed_at: None,
        fallback_left_s: None,
        ..s.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;

    use super::*;
    use crate::estate::{self, DEMO_ESTATE};
    use crate::model::{Model, Observation, Outcome, ProbeReport, Status};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 14, 3, 12, 0)
            .single()
            .expect("a valid time")
    }

    fn model() -> Model {
        let (estate, _) = estate::from_str(DEMO_ESTATE, "demo").expect("the demo estate loads");
        Model::new(Arc::new(estate))
    }

    fn report_all(model: &mut Model, at: DateTime<Utc>, down: &str) {
        let ids: Vec<String> = model
            .estate()
            .services
            .iter()
            .map(|s| s.id.clone())
            .collect();
        for (i, id) in ids.iter().enumerate() {
            let obs = if id == down {
                Observation::down("instance is FAILED")
            } else {
                Observation::new(Status::Up, "RUNNABLE")
            };
            model.apply(ProbeReport {
                service: i,
                at,
                outcome: Outcome::Observed(obs),
            });
        }
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn app_with(down: &str) -> (Model, App) {
        let mut m = model();
        report_all(&mut m, t0(), down);
        let app = App::new(m.snapshot(t0() + TimeDelta::seconds(5)));
        (m, app)
    }

    #[test]
    fn q_and_ctrl_c_quit() {
        let (_, mut app) = app_with("sql");
        assert_eq!(app.handle_key(key(KeyCode::Char('q'))), Effect::Quit);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(app.handle_key(ctrl_c), Effect::Quit);
        assert_eq!(app.handle_key(key(KeyCode::Char('c'))), Effect::None);
    }

    #[test]
    fn r_asks_the_poller_for_a_refresh_and_says_so() {
        let (_, mut app) = app_with("sql");
        assert_eq!(
            app.handle_key(key(KeyCode::Char('r'))),
            Effect::Send(Control::RefreshNow)
        );
        assert!(app.note().is_some());
    }

    #[test]
    fn r_after_the_poller_stopped_only_explains() {
        let (_, mut app) = app_with("sql");
        assert!(app.set_poller_stopped());
        assert!(!app.set_poller_stopped());
        assert_eq!(app.handle_key(key(KeyCode::Char('r'))), Effect::Redraw);
        assert!(app.note().is_some_and(|n| n.contains("stopped")));
    }

    #[test]
    fn note_expires_with_snapshot_time() {
        let (m, mut app) = app_with("sql");
        app.handle_key(key(KeyCode::Char('r')));
        assert!(app.set_snapshot(m.snapshot(t0() + TimeDelta::seconds(10))));
        assert_eq!(app.note(), None);
    }

    #[test]
    fn arrows_jk_home_end_and_pages_move_the_selection() {
        let (_, mut app) = app_with("sql");
        let n = app.snapshot().services.len();
        app.set_page_rows(3);
        assert_eq!(app.handle_key(key(KeyCode::Up)), Effect::None);
        assert_eq!(app.handle_key(key(KeyCode::Down)), Effect::Redraw);
        assert_eq!(app.handle_key(key(KeyCode::Char('j'))), Effect::Redraw);
        assert_eq!(app.selected(), 2);
        app.handle_key(key(KeyCode::Char('k')));
        assert_eq!(app.selected(), 1);
        app.handle_key(key(KeyCode::PageDown));
        assert_eq!(app.selected(), 4);
        assert_eq!(app.offset(), 2, "the selection stays on screen");
        app.handle_key(key(KeyCode::End));
        assert_eq!(app.selected(), n - 1);
        assert_eq!(app.offset(), n - 3);
        assert_eq!(app.handle_key(key(KeyCode::End)), Effect::None);
        app.handle_key(key(KeyCode::PageUp));
        assert_eq!(app.selected(), n - 4);
        app.handle_key(key(KeyCode::Home));
        assert_eq!((app.selected(), app.offset()), (0, 0));
    }

    #[test]
    fn key_releases_are_ignored() {
        let (_, mut app) = app_with("sql");
        let mut release = key(KeyCode::Char('q'));
        release.kind = KeyEventKind::Release;
        assert_eq!(app.handle_key(release), Effect::None);
    }

    #[test]
    fn selection_stays_on_the_same_service_when_the_order_changes() {
        let (mut m, mut app) = app_with("sql");
        // Select the telemetry service, near the bottom while sql is down.
        while app.selected_service().map(|s| s.id.as_str()) != Some("telemetry") {
            assert_eq!(app.handle_key(key(KeyCode::Down)), Effect::Redraw);
        }
        let before = app.selected();
        // Now telemetry goes down too and rises in the list; sql recovers.
        let later = t0() + TimeDelta::seconds(20);
        report_all(&mut m, later, "telemetry");
        assert!(app.set_snapshot(m.snapshot(later)));
        assert_eq!(
            app.selected_service().map(|s| s.id.as_str()),
            Some("telemetry")
        );
        assert_ne!(app.selected(), before, "the list was re-sorted");
    }

    #[test]
    fn until_the_user_moves_the_selection_follows_the_worst_service() {
        let (mut m, mut app) = app_with("sql");
        assert_eq!(app.selected_service().map(|s| s.id.as_str()), Some("sql"));
        let later = t0() + TimeDelta::seconds(20);
        report_all(&mut m, later, "telemetry");
        app.set_snapshot(m.snapshot(later));
        assert_eq!(
            app.selected_service().map(|s| s.id.as_str()),
            Some("telemetry")
        );
        // Home returns to following it after a move.
        app.handle_key(key(KeyCode::Down));
        assert_eq!(app.handle_key(key(KeyCode::Home)), Effect::Redraw);
        report_all(&mut m, later, "sql");
        app.set_snapshot(m.snapshot(later));
        assert_eq!(app.selected_service().map(|s| s.id.as_str()), Some("sql"));
    }

    #[test]
    fn a_vanished_selection_falls_back_to_the_same_row() {
        let (mut m, mut app) = app_with("sql");
        let n = app.snapshot().services.len();
        app.handle_key(key(KeyCode::End));
        let mut snap = m.snapshot(t0());
        snap.services.truncate(3);
        app.set_snapshot(snap);
        assert_eq!(app.selected(), 2);
        report_all(&mut m, t0(), "sql");
        app.set_snapshot(m.snapshot(t0()));
        assert_eq!(app.snapshot().services.len(), n);
    }

    #[test]
    fn ticks_change_the_screen_only_when_a_shown_age_changes() {
        let mut m = model();
        // Observed a few minutes ago: the age reads "3m" for a minute.
        report_all(&mut m, t0(), "sql");
        let mut app = App::new(m.snapshot(t0() + TimeDelta::seconds(185)));
        assert!(!app.set_snapshot(m.snapshot(t0() + TimeDelta::seconds(186))));
        assert!(app.set_snapshot(m.snapshot(t0() + TimeDelta::seconds(240))));
        // Fresh data ages by the second.
        report_all(&mut m, t0() + TimeDelta::seconds(240), "sql");
        assert!(app.set_snapshot(m.snapshot(t0() + TimeDelta::seconds(241))));
        assert!(app.set_snapshot(m.snapshot(t0() + TimeDelta::seconds(242))));
    }

    #[test]
    fn durations_are_shown_in_their_largest_unit() {
        assert_eq!(short_duration(0), "0s");
        assert_eq!(short_duration(59), "59s");
        assert_eq!(short_duration(60), "1m");
        assert_eq!(short_duration(479), "7m");
        assert_eq!(short_duration(7200), "2h");
        assert_eq!(short_duration(200_000), "2d");
    }
}

//! The console's event loop. Owns the model while the console runs: it alone applies probe
//! reports, takes snapshots, passes keys to the [`App`], sends requests to the poller and
//! draws. It waits for one thing to happen (a key or resize, a report, the one-second tick,
//! a signal), then drains everything else already pending, takes one snapshot and draws
//! once, and only if the screen would change. Drawing is never driven by a timer of its own.
//! It also carries out what keys ask for beyond the screen: a refresh (to the poller), a copy
//! to the clipboard (OSC 52, through the terminal) and a change of theme, silences (to the
//! silences file, then into the model), the attention bell (BEL, through the terminal), and
//! the recording of status transitions for `opsdeck timeline`. When the estate file is
//! edited it swaps in the new estate and its poller (`estate_reload`). Runbook plans and runs
//! go to spawned tasks that report back (`runbook_run`).

mod estate_reload;
mod runbook_run;

use std::io;
use std::task::Poll;
use std::time::Duration;

use chrono::Utc;
use color_eyre::Result;
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};
use tokio::sync::mpsc::{Receiver, Sender};
use tokio::time::{Instant, MissedTickBehavior};

use crate::app::{App, Effect};
use crate::model::{Model, ProbeReport};
use crate::poller::Control;
use crate::silence::console::ConsoleSilences;
use crate::timeline::Recorder;
use crate::tui::Tui;
use crate::ui::{self, Theme, theme};

pub use estate_reload::{Reloading, StartPoller};

/// At most this many queued terminal events are handled before drawing.
const MAX_EVENTS_PER_DRAW: usize = 64;
/// At most this many queued reports are applied before drawing, so a flood cannot freeze
/// the screen.
const MAX_REPORTS_PER_DRAW: usize = 4096;
/// Draws are at least this far apart, however fast reports arrive.
const MIN_DRAW_GAP: Duration = Duration::from_millis(16);
/// How often the clock is checked, to age the figures on screen ("12s", "3m").
const TICK: Duration = Duration::from_secs(1);

/// How the console starts.
#[derive(Debug, Default)]
pub struct Options {
    /// The theme's name (default: default-dark).
    pub theme: Option<String>,
    /// Ring the terminal bell once when a new SEV 1–2 problem appears (off with --quiet).
    pub bell: bool,
    /// Follow edits of the estate file (none under `--demo`: the simulator's world is built
    /// from the estate at start).
    pub reload: Option<Reloading>,
    /// `--read-only`: runbooks may be planned, never run.
    pub read_only: bool,
}

/// Runs the console until the user quits (`q`, Ctrl-C) or the process is told to stop
/// (SIGTERM, SIGINT, or SIGHUP when the SSH session drops), restoring the terminal on every
/// way out.
///
/// `model` is the estate's model, fed from `reports` (the poller's channel); `control` carries
/// the console's requests back to the poller (the `r` key). When `reports` closes, the console
/// keeps showing the last data and says the poller has stopped. The options name the theme
/// (default: default-dark); a bad theme file is a warning in the footer, never fatal, and
/// `NO_COLOR` selects the monochrome theme whatever is named.
pub async fn run(
    mut model: Model,
    mut reports: Receiver<ProbeReport>,
    control: Sender<Control>,
    mut options: Options,
) -> Result<()> {
    let loaded = theme::load(
        options.theme.as_deref().unwrap_or(theme::DEFAULT),
        no_color(),
    );
    let mut signals = Signals::new()?;
    let estate_name = model.estate().name.clone();
    let mut silences = ConsoleSilences::open(&estate_name);
    if let Some(list) = silences.as_mut().and_then(ConsoleSilences::take_changed) {
        model.set_silences(list);
    }
    let mut app = App::new(model.snapshot(Utc::now()));
    app.set_bell(options.bell);
    app.warn(&loaded.warnings);
    let runs = runbook_run::Runs::new(
        std::sync::Arc::clone(model.estate()),
        options.read_only,
        &mut app,
    );
    let mut console = Console {
        tui: Tui::enter()?,
        theme: loaded.theme,
        control,
        silences,
        recorder: Recorder::default_location(&estate_name),
        reloading: options.reload.take(),
        runs,
    };
    let ended = run_loop(
        &mut console,
        &mut app,
        &mut model,
        &mut reports,
        &mut signals,
    )
    .await;
    let mut tui = console.tui;
    let restored = tui.leave();
    // The terminal is back first; then a run in flight is stopped and recorded.
    let why = match ended.as_ref() {
        Ok(Exit::HangUp) => "SIGHUP (the terminal went away)",
        Ok(Exit::Signal) => "a signal stopped the console",
        _ => "the console was closed",
    };
    console.runs.stop(why).await;
    match ended? {
        // The terminal is gone with the session: nothing to restore, nobody to tell.
        Exit::HangUp => Ok(()),
        Exit::Quit | Exit::Signal => Ok(restored?),
    }
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    /// `q` or Ctrl-C.
    Quit,
    /// SIGTERM or SIGINT.
    Signal,
    /// SIGHUP, or the terminal's input ended: the session is gone.
    HangUp,
}

/// `NO_COLOR` set to a non-empty value (no-color.org).
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// What the loop acts through: the terminal, the theme, the poller's control channel, the
/// silences file and the transitions file.
struct Console {
    tui: Tui,
    theme: Theme,
    control: Sender<Control>,
    silences: Option<ConsoleSilences>,
    recorder: Option<Recorder>,
    reloading: Option<Reloading>,
    runs: runbook_run::Runs,
}

/// What woke the loop.
enum Wake {
    Terminal(Option<io::Result<Event>>),
    Report(Option<Box<ProbeReport>>),
    Reload(crate::reload::Reload),
    Runbook(crate::app::runbooks::RunbookReport),
    Tick,
    DrawDue,
    Signal(Exit),
}

/// What the loop has to do after handling everything pending.
#[derive(Debug, Default)]
struct Pending {
    draw: bool,
    repaint: bool,
    /// Take a new snapshot even if no report arrived (the clock moved).
    snapshot: bool,
}

async fn run_loop(
    console: &mut Console,
    app: &mut App,
    model: &mut Model,
    reports: &mut Receiver<ProbeReport>,
    signals: &mut Signals,
) -> Result<Exit> {
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut reports_open = true;
    let mut shown_generation = model.generation();
    let mut pending = Pending {
        draw: true,
        ..Pending::default()
    };
    let mut next_draw = Instant::now();

    loop {
        if (pending.draw || pending.repaint) && Instant::now() >= next_draw {
            if pending.repaint {
                console.tui.repaint()?;
            }
            draw(console, app)?;
            next_draw = Instant::now() + MIN_DRAW_GAP;
            pending = Pending::default();
        }

        // Wait for one thing to happen.
        let wake = tokio::select! {
            event = events.next() => Wake::Terminal(event),
            report = reports.recv(), if reports_open => Wake::Report(report.map(Box::new)),
            update = estate_reload::next(&mut console.reloading) => Wake::Reload(update),
            report = console.runs.next() => Wake::Runbook(report),
            _ = tick.tick() => Wake::Tick,
            () = tokio::time::sleep_until(next_draw), if pending.draw || pending.repaint => {
                Wake::DrawDue
            }
            exit = signals.recv() => Wake::Signal(exit),
        };
        match wake {
            Wake::Terminal(event) => {
                if let Some(exit) = on_terminal(event, app, console, &mut pending)? {
                    return Ok(exit);
                }
            }
            Wake::Report(Some(report)) => {
                model.apply(*report);
            }
            Wake::Reload(update) => {
                let mut live = estate_reload::Live {
                    model,
                    reports,
                    reports_open: &mut reports_open,
                    control: &mut console.control,
                };
                estate_reload::apply(update, &mut console.reloading, &mut live, app);
                console.runs.set_estate(model.estate());
                // The footer says what became of the edit, even when no row changed.
                pending.snapshot = true;
                pending.draw = true;
            }
            Wake::Report(None) => {
                reports_open = false;
                pending.draw |= app.set_poller_stopped();
            }
            Wake::Tick => {
                pending.snapshot = true;
                if let Some(problem) = console.silences.as_mut().and_then(|s| s.tick(Utc::now())) {
                    app.warn(&[problem]);
                }
            }
            Wake::Runbook(report) => pending.draw |= app.runbook_report(report),
            Wake::DrawDue => {}
            Wake::Signal(exit) => return Ok(exit),
        }

        // Then everything else already waiting.
        for _ in 0..MAX_REPORTS_PER_DRAW {
            if !reports_open {
                break;
            }
            match reports.try_recv() {
                Ok(report) => {
                    model.apply(report);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    reports_open = false;
                    pending.draw |= app.set_poller_stopped();
                }
            }
        }
        for _ in 0..MAX_EVENTS_PER_DRAW {
            // Polled with this task's own waker: a poll with a throwaway waker (now_or_never)
            // would leave crossterm's wake-up thread waking nobody, and keys would wait for
            // the next tick.
            let Poll::Ready(event) = futures::poll!(events.next()) else {
                break;
            };
            if let Some(exit) = on_terminal(event, app, console, &mut pending)? {
                return Ok(exit);
            }
        }

        // Silences changed here or in another terminal: the model decides what they cover.
        if let Some(list) = console
            .silences
            .as_mut()
            .and_then(ConsoleSilences::take_changed)
        {
            model.set_silences(list);
        }

        // One snapshot for all of it.
        if pending.snapshot || model.generation() != shown_generation {
            shown_generation = model.generation();
            let snapshot = model.snapshot(Utc::now());
            if let Some(recorder) = console.recorder.as_mut()
                && let Err(e) = recorder.observe(&snapshot)
            {
                tracing::warn!("cannot record status transitions: {e}");
                console.recorder = None;
            }
            // A run in flight shows its spinner and elapsed times on the clock.
            pending.draw |= app.set_snapshot(snapshot) | app.runbooks().in_flight();
            pending.snapshot = false;
            if app.take_bell()
                && let Err(e) = console.tui.bell()
            {
                tracing::warn!("cannot ring the bell: {e}");
            }
        }
    }
}

/// Handles one terminal event; returns how to leave, if it says to.
fn on_terminal(
    event: Option<io::Result<Event>>,
    app: &mut App,
    console: &mut Console,
    pending: &mut Pending,
) -> io::Result<Option<Exit>> {
    match event {
        None => Ok(Some(Exit::HangUp)),
        Some(Err(e)) => Err(e),
        Some(Ok(Event::Key(key))) => {
            match app.handle_key(key) {
                Effect::None => {}
                Effect::Redraw => pending.draw = true,
                Effect::Repaint => pending.repaint = true,
                Effect::Quit => return Ok(Some(Exit::Quit)),
                Effect::Send(request) => {
                    // Never wait on the poller: a full channel already holds a request.
                    if let Err(TrySendError::Closed(_)) = console.control.try_send(request) {
                        app.set_poller_stopped();
                    }
                    pending.draw = true;
                }
                Effect::Copy(text) => {
                    if let Err(e) = console.tui.copy(&text) {
                        app.show_note(format!("could not copy: {e}"));
                    }
                    pending.draw = true;
                }
                Effect::Silence {
                    service,
                    duration,
                    reason,
                } => {
                    let note = match console.silences.as_mut() {
                        Some(s) => s.add(&service, duration, &reason, Utc::now()),
                        None => "no state directory to keep silences in (set OPSDECK_STATE_DIR)"
                            .to_string(),
                    };
                    app.show_note(note);
                    pending.draw = true;
                }
                Effect::Runbook(order) => {
                    console.runs.order(order, app);
                    pending.draw = true;
                }
                Effect::Unsilence(service) => {
                    let note = match console.silences.as_mut() {
                        Some(s) => s.remove(&service, Utc::now()),
                        None => "no state directory to keep silences in (set OPSDECK_STATE_DIR)"
                            .to_string(),
                    };
                    app.show_note(note);
                    pending.draw = true;
                }
                Effect::SetTheme(name) => {
                    let loaded = theme::load(&name, no_color());
                    if loaded.warnings.is_empty() {
                        app.show_note(format!("theme {}", loaded.theme.name()));
                    } else {
                        app.warn(&loaded.warnings);
                    }
                    console.theme = loaded.theme;
                    pending.draw = true;
                }
            }
            Ok(None)
        }
        Some(Ok(Event::Resize(..))) => {
            pending.draw = true;
            Ok(None)
        }
        Some(Ok(_)) => Ok(None),
    }
}

fn draw(console: &mut Console, app: &mut App) -> io::Result<()> {
    let theme = &console.theme;
    console
        .tui
        .terminal()
        .draw(|frame| ui::draw(frame, app, theme))?;
    Ok(())
}

/// The signals that end the console.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn new() -> io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    #[cfg(not(unix))]
    #[allow(clippy::unnecessary_wraps)]
    fn new() -> io::Result<Signals> {
        Ok(Signals {})
    }

    #[cfg(unix)]
    async fn recv(&mut self) -> Exit {
        tokio::select! {
            Some(()) = self.term.recv() => Exit::Signal,
            Some(()) = self.int.recv() => Exit::Signal,
            Some(()) = self.hup.recv() => Exit::HangUp,
            else => std::future::pending().await,
        }
    }

    #[cfg(not(unix))]
    async fn recv(&mut self) -> Exit {
        match tokio::signal::ctrl_c().await {
            Ok(()) => Exit::Signal,
            Err(_) => std::future::pending().await,
        }
    }
}

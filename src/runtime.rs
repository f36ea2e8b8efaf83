//! The console's event loop. Owns the model while the console runs: it alone applies probe
//! reports, takes snapshots, passes keys to the [`App`], sends requests to the poller and
//! draws. It waits for one thing to happen (a key or resize, a report, the one-second tick,
//! a signal), then drains everything else already pending, takes one snapshot and draws
//! once, and only if the screen would change. Drawing is never driven by a timer of its own.
//! It also carries out what keys ask for beyond the screen: a refresh (to the poller), a copy
//! to the clipboard (OSC 52, through the terminal) and a change of theme.

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
use crate::tui::Tui;
use crate::ui::{self, Theme, theme};

/// At most this many queued terminal events are handled before drawing.
const MAX_EVENTS_PER_DRAW: usize = 64;
/// At most this many queued reports are applied before drawing, so a flood cannot freeze
/// the screen.
const MAX_REPORTS_PER_DRAW: usize = 4096;
/// Draws are at least this far apart, however fast reports arrive.
const MIN_DRAW_GAP: Duration = Duration::from_millis(16);
/// How often the clock is checked, to age the figures on screen ("12s", "3m").
const TICK: Duration = Duration::from_secs(1);

/// Runs the console until the user quits (`q`, Ctrl-C) or the process is told to stop
/// (SIGTERM, SIGINT, or SIGHUP when the SSH session drops), restoring the terminal on every
/// way out.
///
/// `model` is the estate's model, fed from `reports` (the poller's channel); `control` carries
/// the console's requests back to the poller (the `r` key). When `reports` closes, the console
/// keeps showing the last data and says the poller has stopped. `theme` names the theme
/// (default: default-dark); a bad theme file is a warning in the footer, never fatal, and
/// `NO_COLOR` selects the monochrome theme whatever is named.
pub async fn run(
    mut model: Model,
    mut reports: Receiver<ProbeReport>,
    control: Sender<Control>,
    theme: Option<&str>,
) -> Result<()> {
    let loaded = theme::load(theme.unwrap_or(theme::DEFAULT), no_color());
    let mut signals = Signals::new()?;
    let mut app = App::new(model.snapshot(Utc::now()));
    app.warn(&loaded.warnings);
    let mut console = Console {
        tui: Tui::enter()?,
        theme: loaded.theme,
        control,
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

/// What the loop acts through: the terminal, the theme, the poller's control channel.
struct Console {
    tui: Tui,
    theme: Theme,
    control: Sender<Control>,
}

/// What woke the loop.
enum Wake {
    Terminal(Option<io::Result<Event>>),
    Report(Option<ProbeReport>),
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
            report = reports.recv(), if reports_open => Wake::Report(report),
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
                model.apply(report);
            }
            Wake::Report(None) => {
                reports_open = false;
                pending.draw |= app.set_poller_stopped();
            }
            Wake::Tick => pending.snapshot = true,
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

        // One snapshot for all of it.
        if pending.snapshot || model.generation() != shown_generation {
            shown_generation = model.generation();
            pending.draw |= app.set_snapshot(model.snapshot(Utc::now()));
            pending.snapshot = false;
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

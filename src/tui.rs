//! The terminal: entering the console (raw mode, alternate screen, hidden cursor) and leaving
//! it again on every way out: a normal quit, a drop (an error returned through `?`), and a
//! panic, through a hook that restores the terminal before the panic message is printed.
//! Owns no console state.

use std::io::{self, Stdout, Write};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::{Position, Rect};

/// The console's terminal.
pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Whether the terminal is in console mode now (shared with the panic hook).
static ACTIVE: AtomicBool = AtomicBool::new(false);
static PANIC_HOOK: Once = Once::new();

/// The terminal in console mode; restored when dropped.
pub struct Tui {
    terminal: Term,
}

impl Tui {
    /// Switches the terminal to console mode: raw mode, alternate screen, cursor hidden.
    /// Installs (once) a panic hook that restores the terminal first, then runs the hook that
    /// was there before (color-eyre's report, for one).
    pub fn enter() -> io::Result<Tui> {
        install_panic_hook();
        ACTIVE.store(true, Ordering::SeqCst);
        let setup = || -> io::Result<Term> {
            enable_raw_mode()?;
            execute!(
                io::stdout(),
                EnterAlternateScreen,
                Hide,
                Clear(ClearType::All)
            )?;
            Terminal::new(CrosstermBackend::new(io::stdout()))
        };
        match setup() {
            Ok(terminal) => Ok(Tui { terminal }),
            Err(e) => {
                let _ = restore();
                Err(e)
            }
        }
    }

    pub fn terminal(&mut self) -> &mut Term {
        &mut self.terminal
    }

    /// Clears the screen so the next draw writes every cell again (after line noise, or when
    /// another program scribbled on the terminal). Unlike `Terminal::clear`, it never asks
    /// the terminal where its cursor is: on a slow SSH link that answer can take seconds.
    pub fn repaint(&mut self) -> io::Result<()> {
        let size = self.terminal.size()?;
        self.terminal.resize(Rect::from((Position::ORIGIN, size)))
    }

    /// Restores the terminal. Safe to call more than once.
    pub fn leave(&mut self) -> io::Result<()> {
        restore()
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        let _ = restore();
    }
}

/// Leaves console mode if the terminal is in it: shows the cursor, leaves the alternate
/// screen, turns raw mode off. Does nothing the second time.
pub fn restore() -> io::Result<()> {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    let mut out = io::stdout();
    // Every step is tried even if one fails, so a half-broken terminal is left as usable as
    // possible; the first error is reported.
    let screen = execute!(out, Show, LeaveAlternateScreen);
    let raw = disable_raw_mode();
    let flush = out.flush();
    screen.and(raw).and(flush)
}

fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = restore();
            previous(info);
        }));
    });
}

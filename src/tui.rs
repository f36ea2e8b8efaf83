//! The terminal: entering the console (raw mode, alternate screen, hidden cursor) and leaving
//! it again on every way out: a normal quit, a drop (an error returned through `?`), and a
//! panic, through a hook that restores the terminal before the panic message is printed.
//! Also the two other things written to the terminal besides frames: the OSC 52 clipboard
//! sequence and the bell (BEL). Owns no console state.

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

    /// Puts `text` on the clipboard of the engineer's own terminal with OSC 52, which travels
    /// over SSH and through tmux (with `set-clipboard on`); no X11 needed. The text is made
    /// inert first, so nothing in it can reach the terminal as a sequence.
    pub fn copy(&mut self, text: &str) -> io::Result<()> {
        let out = self.terminal.backend_mut();
        out.write_all(osc52(text).as_bytes())?;
        out.flush()
    }

    /// Rings the terminal's bell (BEL): an audible or visual alert, as the engineer's
    /// terminal is set up, which tmux and screen pass on as an activity flag.
    pub fn bell(&mut self) -> io::Result<()> {
        let out = self.terminal.backend_mut();
        out.write_all(b"\x07")?;
        out.flush()
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

/// The OSC 52 sequence that sets the clipboard to `text` (sanitised, then base64).
pub fn osc52(text: &str) -> String {
    let clean = crate::ui::text::sanitize(text);
    format!("\x1b]52;c;{}\x07", base64(clean.as_bytes()))
}

/// Standard base64 with padding (RFC 4648).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_test_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain:?}");
        }
    }

    #[test]
    fn osc52_carries_only_inert_text() {
        assert_eq!(osc52("sql down"), "\x1b]52;c;c3FsIGRvd24=\x07");
        // A payload trying to end the sequence early and start its own is removed first.
        let hostile = osc52("sql\x07\x1b]52;c;ZXZpbA==\x07 down");
        assert_eq!(hostile, osc52("sql down"));
        assert_eq!(hostile.matches('\x1b').count(), 1);
    }
}

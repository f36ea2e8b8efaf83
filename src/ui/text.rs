//! Text that reaches the terminal: making strings from estates and APIs inert (no control
//! characters, no escape sequences, no bidi overrides) and fitting them to a width.
//!
//! Names, summaries and errors come from places opsdeck does not control (an API error body,
//! a Kubernetes condition message). Written raw, an OSC 52 sequence could set the clipboard of
//! the engineer's machine and a CSI sequence could repaint the screen. Every such string goes
//! through [`sanitize`] before it is rendered.

use std::borrow::Cow;
use std::iter::Peekable;
use std::str::Chars;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

const ESC: char = '\x1b';
const BEL: char = '\x07';
/// C1 String Terminator.
const ST: char = '\u{9c}';

/// Returns `s` as one inert line: escape sequences (CSI, OSC, DCS, APC, PM, SOS, two-byte
/// escapes, and their C1 forms) removed whole, other control characters and bidi overrides
/// removed, and line breaks and tabs turned into single spaces.
pub fn sanitize(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_work) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ESC => skip_escape(&mut chars),
            '\u{9b}' => skip_csi(&mut chars),
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            '\t' | '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
                if !out.is_empty() && !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            c if c.is_control() || is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    Cow::Owned(out)
}

fn needs_work(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || c == '\u{2028}' || c == '\u{2029}'
}

/// Marks that reorder how the terminal lays text out ("Trojan Source").
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// Skips the rest of an escape sequence whose ESC was just read.
fn skip_escape(chars: &mut Peekable<Chars<'_>>) {
    match chars.next() {
        Some('[') => skip_csi(chars),
        Some(']' | 'P' | 'X' | '^' | '_') => skip_string(chars),
        // nF escapes (`ESC ( B`): intermediates, then one final character.
        Some('\x20'..='\x2f') => {
            while chars.next_if(|c| ('\x20'..='\x2f').contains(c)).is_some() {}
            chars.next();
        }
        // Two-character escapes (`ESC c`, `ESC 7`) or a lone ESC at the end.
        _ => {}
    }
}

/// Skips CSI parameters and intermediates up to and including the final byte.
fn skip_csi(chars: &mut Peekable<Chars<'_>>) {
    for c in chars.by_ref() {
        if !('\x20'..='\x3f').contains(&c) {
            // The final byte (0x40–0x7E), or a stray character that also ends it.
            break;
        }
    }
}

/// Skips a control string (OSC, DCS, APC…) up to BEL, ST or `ESC \`.
fn skip_string(chars: &mut Peekable<Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            BEL | ST => return,
            ESC => {
                if chars.next_if_eq(&'\\').is_none() {
                    // Any other ESC ends the string and starts a new sequence.
                    skip_escape(chars);
                }
                return;
            }
            _ => {}
        }
    }
}

/// Display width of `s` in terminal cells.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Cuts `s` to at most `max` cells, ending in `…` when something was cut.
pub fn fit(s: &str, max: usize) -> Cow<'_, str> {
    if width(s) <= max {
        return Cow::Borrowed(s);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    Cow::Owned(out)
}

/// [`sanitize`] then [`fit`], owned.
pub fn clean(s: &str, max: usize) -> String {
    fit(&sanitize(s), max).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_untouched() {
        let s = "RUNNABLE, REGIONAL, europe-west1-b ✓";
        assert!(matches!(sanitize(s), Cow::Borrowed(_)));
        assert_eq!(sanitize(s), s);
    }

    #[test]
    fn osc_52_clipboard_write_is_removed_whole() {
        assert_eq!(sanitize("ok\x1b]52;c;ZXZpbA==\x07 done"), "ok done");
        assert_eq!(sanitize("ok\x1b]52;c;ZXZpbA==\x1b\\!"), "ok!");
        assert_eq!(sanitize("a\u{9d}52;c;ZXZpbA==\u{9c}b"), "ab");
    }

    #[test]
    fn osc_8_hyperlink_keeps_only_its_text() {
        assert_eq!(
            sanitize("\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\"),
            "click"
        );
    }

    #[test]
    fn csi_sequences_are_removed() {
        assert_eq!(sanitize("\x1b[2Jwiped"), "wiped");
        assert_eq!(sanitize("\x1b[1;31mred\x1b[0m"), "red");
        assert_eq!(sanitize("x\u{9b}2Jy"), "xy");
        assert_eq!(sanitize("\x1b[?1049h\x1b[H"), "");
    }

    #[test]
    fn other_escapes_and_controls_are_removed() {
        assert_eq!(sanitize("a\x1bcb"), "ab");
        assert_eq!(sanitize("a\x1b(Bb"), "ab");
        assert_eq!(sanitize("a\x1bP1$r\x1b\\b"), "ab");
        assert_eq!(sanitize("be\x07ll\x08\x7f\u{85}"), "bell");
        assert_eq!(sanitize("trailing escape\x1b"), "trailing escape");
        assert_eq!(sanitize("unterminated\x1b]0;title"), "unterminated");
    }

    #[test]
    fn line_breaks_become_single_spaces() {
        assert_eq!(sanitize("line one\r\nline two\n"), "line one line two");
        assert_eq!(sanitize("a\tb"), "a b");
    }

    #[test]
    fn bidi_overrides_are_removed() {
        assert_eq!(sanitize("admin\u{202e}txt.exe"), "admintxt.exe");
        assert_eq!(sanitize("\u{2066}x\u{2069}"), "x");
    }

    #[test]
    fn fit_cuts_by_display_width_with_an_ellipsis() {
        assert_eq!(fit("Cloud SQL (Postgres)", 40), "Cloud SQL (Postgres)");
        assert_eq!(fit("Cloud SQL (Postgres)", 9), "Cloud SQ…");
        assert_eq!(fit("日本語テキスト", 5), "日本…");
        assert_eq!(fit("abc", 0), "");
        assert_eq!(fit("abc", 1), "…");
    }

    #[test]
    fn clean_sanitizes_before_measuring() {
        assert_eq!(clean("\x1b[31mdown\x1b[0m", 4), "down");
    }
}

//! Semantic styles of the console (status, SEV, environment banner, selection, stale) and the
//! glyph each status carries, so meaning never rests on colour alone. Honours NO_COLOR: the
//! choice is made once by the caller ([`Theme::from_env`]) and passed to the renderers.

use std::ffi::OsStr;

use ratatui::style::{Color, Modifier, Style};

/// How the console draws: with colours, or with modifiers only (NO_COLOR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    color: bool,
}

impl Theme {
    /// Colours on.
    pub const COLOR: Theme = Theme { color: true };
    /// No colours: bold, dim and reverse video only.
    pub const PLAIN: Theme = Theme { color: false };

    /// Colours unless `NO_COLOR` is set to a non-empty value (no-color.org).
    pub fn from_env() -> Theme {
        Theme::for_no_color(std::env::var_os("NO_COLOR").as_deref())
    }

    /// The theme for a given value of `NO_COLOR`.
    pub fn for_no_color(value: Option<&OsStr>) -> Theme {
        if value.is_some_and(|v| !v.is_empty()) {
            Theme::PLAIN
        } else {
            Theme::COLOR
        }
    }

    pub fn uses_color(self) -> bool {
        self.color
    }

    fn fg(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    /// The glyph and style of a status word (`ServiceView::state_word`).
    pub fn state(self, word: &str) -> (&'static str, Style) {
        match word {
            "down" => ("✖", self.fg(Color::Red).add_modifier(Modifier::BOLD)),
            "degraded" => ("▲", self.fg(Color::Yellow).add_modifier(Modifier::BOLD)),
            "impacted" => ("↯", self.fg(Color::LightRed)),
            "unknown" => ("?", self.fg(Color::Magenta)),
            "up" => ("●", self.fg(Color::Green)),
            _ => ("…", self.muted()),
        }
    }

    /// The style of an effective SEV (None: nothing wrong).
    pub fn sev(self, level: Option<u8>) -> Style {
        match level {
            Some(1) => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Some(2) => self.fg(Color::LightRed).add_modifier(Modifier::BOLD),
            Some(3) => self.fg(Color::Yellow),
            Some(_) => self.fg(Color::Cyan),
            None => self.muted(),
        }
    }

    /// The banner of the estate's environment: prod red, staging yellow, anything else blue.
    pub fn banner(self, environment: &str) -> Style {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        if !self.color {
            return bold.add_modifier(Modifier::REVERSED);
        }
        match environment.to_ascii_lowercase().as_str() {
            "prod" | "production" | "prd" => bold.fg(Color::White).bg(Color::Red),
            "staging" | "stage" | "stg" => bold.fg(Color::Black).bg(Color::Yellow),
            _ => bold.fg(Color::White).bg(Color::Blue),
        }
    }

    /// The selected row.
    pub fn selection(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// The "stale" badge: the value shown is older than it should be.
    pub fn stale(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    /// Something needing attention that is not a SEV (poller stopped).
    pub fn warning(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    /// Secondary text.
    pub fn muted(self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    /// Titles and column headings.
    pub fn heading(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// A key in the footer.
    pub fn key(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_set_and_non_empty_turns_colours_off() {
        assert_eq!(Theme::for_no_color(None), Theme::COLOR);
        assert_eq!(Theme::for_no_color(Some(OsStr::new(""))), Theme::COLOR);
        assert_eq!(Theme::for_no_color(Some(OsStr::new("1"))), Theme::PLAIN);
    }

    #[test]
    fn plain_styles_carry_no_colour() {
        let t = Theme::PLAIN;
        for word in ["down", "degraded", "impacted", "unknown", "up", "loading"] {
            let (_, s) = t.state(word);
            assert_eq!((s.fg, s.bg), (None, None), "{word}");
        }
        for s in [
            t.sev(Some(1)),
            t.sev(None),
            t.banner("prod"),
            t.stale(),
            t.key(),
        ] {
            assert_eq!((s.fg, s.bg), (None, None));
        }
    }

    #[test]
    fn banner_follows_the_environment() {
        assert_eq!(Theme::COLOR.banner("prod").bg, Some(Color::Red));
        assert_eq!(Theme::COLOR.banner("Staging").bg, Some(Color::Yellow));
        assert_eq!(Theme::COLOR.banner("dev").bg, Some(Color::Blue));
    }

    #[test]
    fn every_status_has_its_own_glyph() {
        let glyphs: Vec<&str> = ["down", "degraded", "impacted", "unknown", "up", "loading"]
            .iter()
            .map(|w| Theme::PLAIN.state(w).0)
            .collect();
        let mut unique = glyphs.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), glyphs.len());
    }
}

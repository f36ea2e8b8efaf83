//! The console's theme: one style and an optional glyph per semantic role (states, SEV levels,
//! environment banners, cursor, selection, borders, muted text, accent), read from
//! `themes/*.toml` (embedded) and the user's `<XDG config>/opsdeck/themes/NAME.toml`, each laid
//! over its base. Renderers ask for roles, never for colours, so every theme (and NO_COLOR)
//! applies everywhere; the glyphs keep meaning readable without colour.

mod color;
mod load;

use ratatui::style::{Modifier, Style};

pub use color::{parse_color, rgb_of};
pub use load::{BUILTIN, Loaded, load, load_from, user_dir, validate_all};

/// The theme used when none is named.
pub const DEFAULT: &str = "default-dark";

/// A semantic role of the theme: a `[section] key` of a theme file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Ok,
    Warn,
    Crit,
    Unknown,
    Degraded,
    Impacted,
    Stale,
    Loading,
    Sev1,
    Sev2,
    Sev3,
    Sev4,
    BannerProd,
    BannerStaging,
    BannerOther,
    Cursor,
    Selection,
    Blast,
    Border,
    Muted,
    Accent,
    Heading,
}

impl Role {
    pub const ALL: [Role; 22] = [
        Role::Ok,
        Role::Warn,
        Role::Crit,
        Role::Unknown,
        Role::Degraded,
        Role::Impacted,
        Role::Stale,
        Role::Loading,
        Role::Sev1,
        Role::Sev2,
        Role::Sev3,
        Role::Sev4,
        Role::BannerProd,
        Role::BannerStaging,
        Role::BannerOther,
        Role::Cursor,
        Role::Selection,
        Role::Blast,
        Role::Border,
        Role::Muted,
        Role::Accent,
        Role::Heading,
    ];

    /// The `[section]` of a theme file that holds it.
    pub fn section(self) -> &'static str {
        match self {
            Role::Ok
            | Role::Warn
            | Role::Crit
            | Role::Unknown
            | Role::Degraded
            | Role::Impacted
            | Role::Stale
            | Role::Loading => "state",
            Role::Sev1 | Role::Sev2 | Role::Sev3 | Role::Sev4 => "sev",
            Role::BannerProd | Role::BannerStaging | Role::BannerOther => "banner",
            Role::Cursor
            | Role::Selection
            | Role::Blast
            | Role::Border
            | Role::Muted
            | Role::Accent
            | Role::Heading => "ui",
        }
    }

    /// Its key within the section.
    pub fn key(self) -> &'static str {
        match self {
            Role::Ok => "ok",
            Role::Warn => "warn",
            Role::Crit => "crit",
            Role::Unknown => "unknown",
            Role::Degraded => "degraded",
            Role::Impacted => "impacted",
            Role::Stale => "stale",
            Role::Loading => "loading",
            Role::Sev1 => "sev1",
            Role::Sev2 => "sev2",
            Role::Sev3 => "sev3",
            Role::Sev4 => "sev4",
            Role::BannerProd => "prod",
            Role::BannerStaging => "staging",
            Role::BannerOther => "other",
            Role::Cursor => "cursor",
            Role::Selection => "selection",
            Role::Blast => "blast",
            Role::Border => "border",
            Role::Muted => "muted",
            Role::Accent => "accent",
            Role::Heading => "heading",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The role of a status word (`ServiceView::state_word`).
    pub fn of_state(word: &str) -> Role {
        match word {
            "up" => Role::Ok,
            "down" => Role::Crit,
            "degraded" => Role::Degraded,
            "impacted" => Role::Impacted,
            "unknown" => Role::Unknown,
            "stale" => Role::Stale,
            _ => Role::Loading,
        }
    }

    /// The role of an effective SEV level.
    pub fn of_sev(level: u8) -> Role {
        match level {
            0 | 1 => Role::Sev1,
            2 => Role::Sev2,
            3 => Role::Sev3,
            _ => Role::Sev4,
        }
    }
}

/// What a role looks like once every layer is applied.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Look {
    pub style: Style,
    /// Empty when the role has none.
    pub glyph: String,
}

/// A resolved theme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    name: String,
    looks: Vec<Look>,
}

impl Default for Theme {
    fn default() -> Theme {
        Theme::builtin(DEFAULT)
    }
}

impl Theme {
    /// A built-in theme by name (the default theme for an unknown name), ignoring user files.
    pub fn builtin(name: &str) -> Theme {
        load::load_builtin(name)
    }

    /// The monochrome theme: what NO_COLOR selects.
    pub fn monochrome() -> Theme {
        load::load_builtin("monochrome").without_colors()
    }

    pub(crate) fn from_looks(name: String, looks: Vec<Look>) -> Theme {
        debug_assert_eq!(looks.len(), Role::ALL.len());
        Theme { name, looks }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The style and glyph of a role.
    pub fn look(&self, role: Role) -> &Look {
        &self.looks[role.index()]
    }

    pub fn style(&self, role: Role) -> Style {
        self.look(role).style
    }

    pub fn glyph(&self, role: Role) -> &str {
        &self.look(role).glyph
    }

    /// Whether any role carries a colour.
    pub fn uses_color(&self) -> bool {
        self.looks
            .iter()
            .any(|l| l.style.fg.is_some() || l.style.bg.is_some())
    }

    /// The same theme with every colour removed (modifiers and glyphs kept).
    #[must_use]
    pub fn without_colors(mut self) -> Theme {
        for look in &mut self.looks {
            look.style.fg = None;
            look.style.bg = None;
            look.style.underline_color = None;
        }
        self
    }

    /// The glyph and style of a status word (`ServiceView::state_word`).
    pub fn state(&self, word: &str) -> (&str, Style) {
        let look = self.look(Role::of_state(word));
        (&look.glyph, look.style)
    }

    /// The style of an effective SEV (None: nothing wrong).
    pub fn sev(&self, level: Option<u8>) -> Style {
        level.map_or_else(|| self.muted(), |l| self.style(Role::of_sev(l)))
    }

    /// A SEV's label as shown: its glyph (if the theme gives one) and its name.
    pub fn sev_label(&self, level: u8, name: &str) -> String {
        let glyph = self.glyph(Role::of_sev(level));
        if glyph.is_empty() {
            name.to_string()
        } else {
            format!("{glyph} {name}")
        }
    }

    /// The banner of the estate's environment.
    pub fn banner(&self, environment: &str) -> Style {
        let role = match environment.to_ascii_lowercase().as_str() {
            "prod" | "production" | "prd" | "live" => Role::BannerProd,
            "staging" | "stage" | "stg" | "preprod" | "pre-prod" => Role::BannerStaging,
            _ => Role::BannerOther,
        };
        self.style(role)
    }

    /// The row under the cursor.
    pub fn cursor(&self) -> Style {
        self.style(Role::Cursor)
    }

    /// What the selected service connects to (its dependencies and dependents).
    pub fn selection(&self) -> Style {
        self.style(Role::Selection)
    }

    /// A member of the selected service's blast radius.
    pub fn blast(&self) -> Style {
        self.style(Role::Blast)
    }

    /// The "stale" badge: the value shown is older than it should be.
    pub fn stale(&self) -> Style {
        self.style(Role::Stale)
    }

    /// Something needing attention that is not a SEV (a note, a queue growing).
    pub fn warning(&self) -> Style {
        self.style(Role::Warn)
    }

    /// Healthy figures (a queue draining).
    pub fn ok(&self) -> Style {
        self.style(Role::Ok)
    }

    pub fn muted(&self) -> Style {
        self.style(Role::Muted)
    }

    pub fn border(&self) -> Style {
        self.style(Role::Border)
    }

    /// Titles and column headings.
    pub fn heading(&self) -> Style {
        self.style(Role::Heading)
    }

    /// Keys in the footer and help, the active tab.
    pub fn accent(&self) -> Style {
        self.style(Role::Accent)
    }

    /// Keys in the footer.
    pub fn key(&self) -> Style {
        self.accent()
    }

    /// Bold, for emphasis inside a line.
    pub fn strong(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
}

#[cfg(test)]
mod tests {
    use ratatui::style::Color;

    use super::*;

    #[test]
    fn roles_are_listed_in_index_order() {
        for (i, role) in Role::ALL.iter().enumerate() {
            assert_eq!(role.index(), i, "{role:?}");
        }
    }

    #[test]
    fn monochrome_carries_no_colour_and_keeps_every_glyph() {
        let t = Theme::monochrome();
        assert!(!t.uses_color());
        for word in ["down", "degraded", "impacted", "unknown", "up", "loading"] {
            let (glyph, s) = t.state(word);
            assert!(!glyph.is_empty(), "{word}");
            assert_eq!((s.fg, s.bg), (None, None), "{word}");
        }
        assert!(t.cursor().add_modifier.contains(Modifier::REVERSED));
        assert!(t.banner("prod").add_modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn banner_follows_the_environment() {
        let t = Theme::builtin(DEFAULT);
        assert_eq!(t.banner("prod").bg, Some(Color::Red));
        assert_eq!(t.banner("Production").bg, Some(Color::Red));
        assert_eq!(t.banner("Staging").bg, Some(Color::Yellow));
        assert_eq!(t.banner("dev").bg, Some(Color::Blue));
    }

    #[test]
    fn every_status_has_its_own_glyph_in_every_builtin_theme() {
        for (name, _) in BUILTIN {
            let t = Theme::builtin(name);
            let mut glyphs: Vec<&str> =
                ["down", "degraded", "impacted", "unknown", "up", "loading"]
                    .iter()
                    .map(|w| t.state(w).0)
                    .collect();
            glyphs.sort_unstable();
            glyphs.dedup();
            assert_eq!(glyphs.len(), 6, "{name}");
        }
    }

    #[test]
    fn sev_labels_read_sev1_with_the_glyph_when_the_theme_has_one() {
        assert_eq!(Theme::builtin(DEFAULT).sev_label(1, "SEV1"), "SEV1");
        assert_eq!(
            Theme::builtin("high-contrast").sev_label(1, "SEV1"),
            "!! SEV1"
        );
    }
}

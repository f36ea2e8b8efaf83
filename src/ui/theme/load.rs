//! Reading theme files and laying them over their bases. A theme file names only the roles
//! (and, within a role, only the attributes) it changes; `base` names the theme beneath it
//! (`default-dark` unless it says otherwise, `none` for nothing). A user file
//! `<XDG config>/opsdeck/themes/NAME.toml` takes precedence over the built-in of that name and
//! may use it as its base. Nothing here is fatal: a bad file, key or colour becomes one
//! sentence naming the file, the key and the value, and the base's value stays.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use ratatui::style::{Color, Modifier};
use toml::{Table, Value};

use super::color::parse_color;
use super::{DEFAULT, Look, Role, Theme};
use crate::ui::text::{sanitize, width};

/// The built-in themes, by name.
pub const BUILTIN: [(&str, &str); 5] = [
    (
        "default-dark",
        include_str!("../../../themes/default-dark.toml"),
    ),
    ("light", include_str!("../../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../../themes/high-contrast.toml"),
    ),
    (
        "colorblind",
        include_str!("../../../themes/colorblind.toml"),
    ),
    (
        "monochrome",
        include_str!("../../../themes/monochrome.toml"),
    ),
];

/// How many layers a theme may stack before opsdeck stops following `base`.
const MAX_DEPTH: usize = 8;
/// The widest glyph a role may have, in cells.
const MAX_GLYPH_WIDTH: usize = 3;
/// The attributes a role may set.
const ATTRIBUTES: [&str; 8] = [
    "fg",
    "bg",
    "bold",
    "dim",
    "italic",
    "underline",
    "reverse",
    "glyph",
];
const SECTIONS: [&str; 4] = ["state", "sev", "banner", "ui"];

/// A theme with what went wrong reading it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub theme: Theme,
    /// One sentence each, naming file, key and value.
    pub warnings: Vec<String>,
}

/// The user's theme directory: `<XDG config>/opsdeck/themes`.
pub fn user_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "opsdeck").map(|d| d.config_dir().join("themes"))
}

/// The theme called `name` (a user file, else a built-in); monochrome when `no_color`.
pub fn load(name: &str, no_color: bool) -> Loaded {
    load_from(name, no_color, user_dir().as_deref())
}

/// [`load`] with the user theme directory given.
pub fn load_from(name: &str, no_color: bool, user_dir: Option<&Path>) -> Loaded {
    let mut warnings = Vec::new();
    let wanted = if no_color { "monochrome" } else { name };
    let theme = resolve(wanted, user_dir, &mut warnings);
    let theme = if no_color {
        theme.without_colors()
    } else {
        theme
    };
    Loaded { theme, warnings }
}

/// A built-in theme by name, ignoring user files (the default theme for an unknown name).
pub(super) fn load_builtin(name: &str) -> Theme {
    resolve(name, None, &mut Vec::new())
}

/// Every problem in the built-in themes and the user's theme files, one sentence each
/// (`opsdeck check`).
pub fn validate_all() -> Vec<String> {
    validate_dir(user_dir().as_deref())
}

fn validate_dir(user_dir: Option<&Path>) -> Vec<String> {
    let mut warnings = Vec::new();
    for (name, _) in BUILTIN {
        resolve(name, None, &mut warnings);
    }
    let Some(dir) = user_dir else {
        return warnings;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return warnings;
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    for name in names {
        resolve(&name, Some(dir), &mut warnings);
    }
    warnings.dedup();
    warnings
}

/// Where a layer came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Source {
    Builtin(&'static str),
    User(PathBuf),
}

impl Source {
    fn label(&self) -> String {
        match self {
            Source::Builtin(name) => format!("themes/{name}.toml (built-in)"),
            Source::User(path) => path.display().to_string(),
        }
    }

    fn find(name: &str, user_dir: Option<&Path>, seen: &HashSet<Source>) -> Option<Source> {
        let user = user_dir
            .map(|d| Source::User(d.join(format!("{name}.toml"))))
            .filter(|s| matches!(s, Source::User(p) if p.is_file()) && !seen.contains(s));
        user.or_else(|| {
            BUILTIN
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(n, _)| Source::Builtin(n))
                .filter(|s| !seen.contains(s))
        })
    }
}

/// One theme file, parsed.
#[derive(Debug, Default)]
struct Layer {
    /// None: the default base.
    base: Option<String>,
    colors: Option<bool>,
    specs: Vec<(Role, Spec)>,
}

/// What one role of one file sets; `None` keeps the value beneath.
#[derive(Debug, Default, Clone, PartialEq)]
struct Spec {
    fg: Option<Color>,
    bg: Option<Color>,
    modifiers: Vec<(Modifier, bool)>,
    glyph: Option<String>,
}

fn resolve(name: &str, user_dir: Option<&Path>, warnings: &mut Vec<String>) -> Theme {
    let mut seen = HashSet::new();
    let mut layers = Vec::new();
    let mut source = Source::find(name, user_dir, &seen);
    let mut theme_name = name.to_string();
    if source.is_none() {
        warnings.push(format!(
            "no theme named \"{}\" (built-in: {}{}); using {DEFAULT}",
            sanitize(name),
            BUILTIN.map(|(n, _)| n).join(", "),
            user_dir.map_or_else(String::new, |d| format!("; yours go in {}", d.display())),
        ));
        source = Source::find(DEFAULT, None, &seen);
        theme_name = DEFAULT.to_string();
    }
    while let Some(src) = source.take() {
        if layers.len() == MAX_DEPTH {
            warnings.push(format!(
                "{}: themes are stacked more than {MAX_DEPTH} deep through 'base'; the rest is ignored",
                src.label()
            ));
            break;
        }
        let layer = read_layer(&src, warnings);
        let is_root = matches!(src, Source::Builtin(n) if n == DEFAULT);
        let base = match layer.base.as_deref() {
            Some("none" | "") => None,
            Some(b) => Some(b.to_string()),
            None if is_root => None,
            None => Some(DEFAULT.to_string()),
        };
        seen.insert(src.clone());
        layers.push(layer);
        if let Some(base) = base {
            source = Source::find(&base, user_dir, &seen);
            if source.is_none() {
                warnings.push(format!(
                    "{}: base = \"{}\" is not a theme (or would loop back to this one); using {DEFAULT} beneath it",
                    src.label(),
                    sanitize(&base)
                ));
                source = Source::find(DEFAULT, None, &seen);
            }
        }
    }
    let mut looks = vec![Look::default(); Role::ALL.len()];
    let mut colors = true;
    for layer in layers.iter().rev() {
        if let Some(c) = layer.colors {
            colors = c;
        }
        for (role, spec) in &layer.specs {
            apply(&mut looks[role.index()], spec);
        }
    }
    let theme = Theme::from_looks(theme_name, looks);
    if colors {
        theme
    } else {
        theme.without_colors()
    }
}

fn apply(look: &mut Look, spec: &Spec) {
    if let Some(fg) = spec.fg {
        look.style.fg = Some(fg);
    }
    if let Some(bg) = spec.bg {
        look.style.bg = Some(bg);
    }
    for &(modifier, on) in &spec.modifiers {
        if on {
            look.style.add_modifier.insert(modifier);
        } else {
            look.style.add_modifier.remove(modifier);
        }
    }
    if let Some(glyph) = &spec.glyph {
        look.glyph.clone_from(glyph);
    }
}

fn read_layer(source: &Source, warnings: &mut Vec<String>) -> Layer {
    let label = source.label();
    let text = match source {
        Source::Builtin(name) => BUILTIN
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, t)| t)
            .to_string(),
        Source::User(path) => match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                warnings.push(format!("{label}: cannot be read ({e}); ignoring it"));
                return Layer::default();
            }
        },
    };
    parse(&text, &label, warnings)
}

/// Parses a theme file's text; problems go to `warnings`, and what is good is kept.
fn parse(text: &str, label: &str, warnings: &mut Vec<String>) -> Layer {
    let table: Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1))
                .map_or_else(String::new, |l| format!(":{l}"));
            warnings.push(format!(
                "{label}{line}: not valid TOML ({}); ignoring the file",
                e.message().trim()
            ));
            return Layer::default();
        }
    };
    let mut layer = Layer::default();
    for (key, value) in &table {
        match (key.as_str(), value) {
            ("name" | "description", Value::String(_)) => {}
            ("base", Value::String(b)) => layer.base = Some(b.clone()),
            ("colors", Value::Boolean(b)) => layer.colors = Some(*b),
            (section, Value::Table(roles)) if SECTIONS.contains(&section) => {
                for (role_key, spec) in roles {
                    read_role(section, role_key, spec, label, &mut layer, warnings);
                }
            }
            ("name" | "description" | "base", v) => warnings.push(format!(
                "{label}: {key} = {v} should be a string; ignored"
            )),
            ("colors", v) => warnings.push(format!(
                "{label}: colors = {v} should be true or false; ignored"
            )),
            (section, _) if SECTIONS.contains(&section) => warnings.push(format!(
                "{label}: '{section}' should be a table ([{section}]); ignored"
            )),
            _ => warnings.push(format!(
                "{label}: unknown key '{}'{} (a theme has name, base, colors, [state], [sev], [banner], [ui]); ignored",
                sanitize(key),
                hint(key, SECTIONS.iter().copied().chain(["name", "base", "colors"]))
            )),
        }
    }
    layer
}

fn read_role(
    section: &str,
    key: &str,
    value: &Value,
    label: &str,
    layer: &mut Layer,
    warnings: &mut Vec<String>,
) {
    let in_section = || Role::ALL.into_iter().filter(|r| r.section() == section);
    let Some(role) = in_section().find(|r| r.key() == key) else {
        warnings.push(format!(
            "{label}: [{section}] has no role '{}'{} (roles: {}); ignored",
            sanitize(key),
            hint(key, in_section().map(Role::key)),
            in_section().map(Role::key).collect::<Vec<_>>().join(", ")
        ));
        return;
    };
    let Value::Table(attrs) = value else {
        warnings.push(format!(
            "{label}: [{section}] {key} = {value} should be a table like {{ fg = \"red\", bold = true }}; ignored"
        ));
        return;
    };
    let mut spec = Spec::default();
    for (attr, v) in attrs {
        let at = format!("{label}: [{section}] {key}.{attr}");
        match (attr.as_str(), v) {
            ("fg" | "bg", v) => {
                let parsed = match v {
                    Value::String(s) => parse_color(s),
                    Value::Integer(i) => u8::try_from(*i).ok().map(Color::Indexed),
                    _ => None,
                };
                match parsed {
                    Some(c) if attr == "fg" => spec.fg = Some(c),
                    Some(c) => spec.bg = Some(c),
                    None => warnings.push(format!(
                        "{at} = {} is not a colour (use a name like \"red\", \"#rrggbb\" or 0–255); keeping the base theme's",
                        sanitize(&v.to_string())
                    )),
                }
            }
            ("bold" | "dim" | "italic" | "underline" | "reverse", Value::Boolean(on)) => {
                let modifier = match attr.as_str() {
                    "bold" => Modifier::BOLD,
                    "dim" => Modifier::DIM,
                    "italic" => Modifier::ITALIC,
                    "underline" => Modifier::UNDERLINED,
                    _ => Modifier::REVERSED,
                };
                spec.modifiers.push((modifier, *on));
            }
            ("glyph", Value::String(g)) => {
                let clean = sanitize(g);
                if clean != g.as_str() || width(&clean) > MAX_GLYPH_WIDTH {
                    warnings.push(format!(
                        "{at} = {} must be printable and at most {MAX_GLYPH_WIDTH} cells wide; keeping the base theme's",
                        sanitize(&v.to_string())
                    ));
                } else {
                    spec.glyph = Some(g.clone());
                }
            }
            ("bold" | "dim" | "italic" | "underline" | "reverse" | "glyph", v) => {
                warnings.push(format!(
                    "{at} = {} should be {}; ignored",
                    sanitize(&v.to_string()),
                    if attr == "glyph" {
                        "a string"
                    } else {
                        "true or false"
                    }
                ));
            }
            _ => warnings.push(format!(
                "{label}: [{section}] {key} has no attribute '{}'{} (attributes: {}); ignored",
                sanitize(attr),
                hint(attr, ATTRIBUTES.iter().copied()),
                ATTRIBUTES.join(", ")
            )),
        }
    }
    layer.specs.push((role, spec));
}

/// ` (did you mean 'x'?)` for a near miss.
fn hint<'a>(got: &str, options: impl Iterator<Item = &'a str>) -> String {
    options
        .map(|o| (distance(got, o), o))
        .filter(|(d, o)| *d <= 2.max(o.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map_or_else(String::new, |(_, o)| format!(" (did you mean '{o}'?)"))
}

/// Edit distance between two short keys.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::theme::rgb_of;

    fn user_theme(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(format!("{name}.toml")), text).expect("written");
    }

    #[test]
    fn builtin_themes_load_without_warnings() {
        assert_eq!(validate_dir(None), Vec::<String>::new());
    }

    #[test]
    fn the_default_theme_names_every_role() {
        let layer = parse(BUILTIN[0].1, "default-dark", &mut Vec::new());
        for role in Role::ALL {
            assert!(
                layer.specs.iter().any(|(r, _)| *r == role),
                "default-dark lacks [{}] {}",
                role.section(),
                role.key()
            );
        }
    }

    #[test]
    fn a_user_theme_changes_only_what_it_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        user_theme(
            dir.path(),
            "ops",
            "name = \"ops\"\n[state]\ncrit = { fg = \"#ff0000\" }\n[ui]\nmuted = { glyph = \"·\" }\n",
        );
        let loaded = load_from("ops", false, Some(dir.path()));
        assert_eq!(loaded.warnings, Vec::<String>::new());
        let base = Theme::builtin(DEFAULT);
        let t = loaded.theme;
        let crit = t.style(Role::Crit);
        assert_eq!(crit.fg, Some(Color::Rgb(255, 0, 0)));
        assert!(crit.add_modifier.contains(Modifier::BOLD), "bold inherited");
        assert_eq!(t.glyph(Role::Crit), base.glyph(Role::Crit));
        assert_eq!(t.glyph(Role::Muted), "·");
        assert_eq!(t.style(Role::Muted), base.style(Role::Muted));
        assert_eq!(t.style(Role::Sev1), base.style(Role::Sev1));
    }

    #[test]
    fn a_bad_colour_warns_once_naming_file_key_and_value_and_keeps_the_base() {
        let dir = tempfile::tempdir().expect("tempdir");
        user_theme(
            dir.path(),
            "bad",
            "base = \"light\"\n[sev]\nsev1 = { fg = \"#12345\", bold = false }\n",
        );
        let loaded = load_from("bad", false, Some(dir.path()));
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        let w = &loaded.warnings[0];
        assert!(
            w.contains("bad.toml") && w.contains("[sev] sev1.fg") && w.contains("\"#12345\""),
            "{w}"
        );
        let light = Theme::builtin("light");
        let sev1 = loaded.theme.style(Role::Sev1);
        assert_eq!(sev1.fg, light.style(Role::Sev1).fg);
        assert!(!sev1.add_modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn unknown_roles_keys_and_broken_files_are_warnings_not_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        user_theme(
            dir.path(),
            "typos",
            "[state]\ncritt = { fg = \"red\" }\nok = { colour = \"red\", bold = \"yes\" }\n[stat]\n",
        );
        user_theme(dir.path(), "broken", "[state\nok = 1");
        let typos = load_from("typos", false, Some(dir.path())).warnings;
        assert_eq!(typos.len(), 4, "{typos:#?}");
        assert!(typos.iter().any(|w| w.contains("did you mean 'crit'")));
        assert!(typos.iter().any(|w| w.contains("did you mean 'state'")));
        let broken = load_from("broken", false, Some(dir.path()));
        assert!(broken.warnings[0].contains("broken.toml:1: not valid TOML"));
        assert_eq!(
            broken.theme.style(Role::Ok),
            Theme::builtin(DEFAULT).style(Role::Ok)
        );
    }

    #[test]
    fn an_unknown_theme_falls_back_to_the_default_with_a_warning() {
        let loaded = load_from("solarized", false, None);
        assert!(loaded.warnings[0].starts_with("no theme named \"solarized\""));
        assert_eq!(loaded.theme, Theme::builtin(DEFAULT));
    }

    #[test]
    fn a_user_file_may_overlay_the_builtin_of_its_own_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        user_theme(
            dir.path(),
            "light",
            "base = \"light\"\n[ui]\naccent = { fg = \"magenta\" }\n",
        );
        let loaded = load_from("light", false, Some(dir.path()));
        assert_eq!(loaded.warnings, Vec::<String>::new());
        assert_eq!(loaded.theme.style(Role::Accent).fg, Some(Color::Magenta));
        assert_eq!(
            loaded.theme.style(Role::Sev4),
            Theme::builtin("light").style(Role::Sev4)
        );
    }

    #[test]
    fn base_loops_end_with_a_warning() {
        let dir = tempfile::tempdir().expect("tempdir");
        user_theme(dir.path(), "a", "base = \"b\"\n");
        user_theme(dir.path(), "b", "base = \"a\"\n");
        let loaded = load_from("a", false, Some(dir.path()));
        assert!(
            loaded.warnings.iter().any(|w| w.contains("loop")),
            "{:?}",
            loaded.warnings
        );
        assert_eq!(validate_dir(Some(dir.path())).len(), 2);
    }

    #[test]
    fn no_color_forces_monochrome_whatever_was_asked() {
        let loaded = load_from("high-contrast", true, None);
        assert!(!loaded.theme.uses_color());
        assert_eq!(loaded.theme.name(), "monochrome");
    }

    /// The SEV colours stay apart for a viewer with deuteranopia (Machado et al. 2009,
    /// severity 1.0), compared in CIELAB.
    #[test]
    fn colorblind_sev_colours_are_distinguishable_with_deuteranopia() {
        let t = Theme::builtin("colorblind");
        let sevs: Vec<[f64; 3]> = [Role::Sev1, Role::Sev2, Role::Sev3, Role::Sev4]
            .iter()
            .map(|&r| {
                let s = t.style(r);
                let c = s.bg.or(s.fg).expect("a SEV colour");
                lab(deuteranopia(rgb_of(c).expect("an RGB colour")))
            })
            .collect();
        for i in 0..sevs.len() {
            for j in i + 1..sevs.len() {
                let d = delta_e(sevs[i], sevs[j]);
                assert!(
                    d > 20.0,
                    "SEV{} and SEV{} differ by only ΔE {d:.1}",
                    i + 1,
                    j + 1
                );
            }
        }
        // The default theme's SEV1 and SEV2 (red, light red) are the case it exists for.
        let dark = Theme::builtin(DEFAULT);
        let red = |r: Role| {
            let s = dark.style(r);
            lab(deuteranopia(
                rgb_of(s.bg.or(s.fg).expect("colour")).expect("rgb"),
            ))
        };
        assert!(delta_e(red(Role::Sev1), red(Role::Sev2)) < delta_e(sevs[0], sevs[1]));
    }

    fn linear(c: u8) -> f64 {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    }

    fn deuteranopia((r, g, b): (u8, u8, u8)) -> [f64; 3] {
        let (r, g, b) = (linear(r), linear(g), linear(b));
        [
            (0.367_322 * r + 0.860_646 * g - 0.227_968 * b).clamp(0.0, 1.0),
            (0.280_085 * r + 0.672_501 * g + 0.047_413 * b).clamp(0.0, 1.0),
            (-0.011_820 * r + 0.042_940 * g + 0.968_881 * b).clamp(0.0, 1.0),
        ]
    }

    fn lab([r, g, b]: [f64; 3]) -> [f64; 3] {
        let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.950_47;
        let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
        let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.088_83;
        let f = |t: f64| {
            if t > 0.008_856 {
                t.cbrt()
            } else {
                7.787 * t + 16.0 / 116.0
            }
        };
        [
            116.0 * f(y) - 16.0,
            500.0 * (f(x) - f(y)),
            200.0 * (f(y) - f(z)),
        ]
    }

    fn delta_e(a: [f64; 3], b: [f64; 3]) -> f64 {
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
    }
}

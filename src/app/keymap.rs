//! The keymap: every key, what it does and where. The footer's hints and the help screen are
//! generated from this one table, so they cannot drift from what the keys do.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::View;

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Quit,
    Repaint,
    Refresh,
    Freeze,
    Help,
    Filter,
    Palette,
    Copy,
    /// Copy a ready `gcloud` / `kubectl` / `redis-cli` command for the selected service.
    CopyCommand,
    /// Copy the selected service's Cloud Console URL.
    CopyUrl,
    Silence,
    /// The runbooks that apply to the selected service (or the run in flight).
    Runbooks,
    Up,
    Down,
    PageUp,
    PageDown,
    First,
    Last,
    Left,
    Right,
    Open,
    Back,
    NextView,
    PrevView,
    Show(View),
}

/// A key and its modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

const fn key(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: false,
    }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: true,
    }
}

const fn code(code: KeyCode) -> Key {
    Key { code, ctrl: false }
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every view.
    Global,
    /// Only these views.
    Views(&'static [View]),
}

impl Scope {
    pub fn covers(self, view: View) -> bool {
        match self {
            Scope::Global => true,
            Scope::Views(views) => views.contains(&view),
        }
    }
}

/// One line of the keymap.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static [Key],
    /// How the keys are written in help.
    pub label: &'static str,
    pub command: Command,
    pub scope: Scope,
    /// Its place in the footer (lower first), and the key and word shown there; `None`:
    /// help only.
    pub footer: Option<(u8, &'static str, &'static str)>,
    /// The help screen's sentence.
    pub help: &'static str,
}

const LISTS: &[View] = &[View::FailureMap, View::Topology, View::Queues, View::Events];
const OPENERS: &[View] = &[View::FailureMap, View::Topology, View::Queues, View::Events];
const SELECTING: &[View] = &[View::FailureMap, View::Topology, View::Queues, View::Detail];
const SCROLLING: &[View] = &[
    View::FailureMap,
    View::Topology,
    View::Queues,
    View::Events,
    View::Detail,
];

const fn bind(
    keys: &'static [Key],
    label: &'static str,
    command: Command,
    scope: Scope,
    footer: Option<(u8, &'static str, &'static str)>,
    help: &'static str,
) -> Binding {
    Binding {
        keys,
        label,
        command,
        scope,
        footer,
        help,
    }
}

/// Every binding, in the order help lists them.
pub const BINDINGS: [Binding; 25] = [
    bind(
        &[code(KeyCode::Up), key('k'), code(KeyCode::Down), key('j')],
        "↑↓ jk",
        Command::Down,
        Scope::Views(SCROLLING),
        Some((2, "↑↓", "move")),
        "move the cursor (scroll, in detail)",
    ),
    bind(
        &[
            code(KeyCode::Left),
            key('h'),
            code(KeyCode::Right),
            key('l'),
        ],
        "←→ hl",
        Command::Right,
        Scope::Views(&[View::Topology]),
        Some((3, "←→", "region")),
        "previous / next region",
    ),
    bind(
        &[
            code(KeyCode::PageUp),
            code(KeyCode::PageDown),
            ctrl('b'),
            ctrl('f'),
        ],
        "PgUp PgDn",
        Command::PageDown,
        Scope::Views(SCROLLING),
        None,
        "a page up / down",
    ),
    bind(
        &[code(KeyCode::Home), key('g'), code(KeyCode::End), key('G')],
        "Home End gG",
        Command::Last,
        Scope::Views(SCROLLING),
        None,
        "first / last (Home on the map follows the worst service again)",
    ),
    bind(
        &[code(KeyCode::Enter)],
        "Enter",
        Command::Open,
        Scope::Views(OPENERS),
        Some((4, "Enter", "detail")),
        "open the selected service in detail",
    ),
    bind(
        &[code(KeyCode::Esc)],
        "Esc",
        Command::Back,
        Scope::Global,
        Some((9, "Esc", "back")),
        "back to the previous view; clear the filter",
    ),
    bind(
        &[code(KeyCode::Tab), code(KeyCode::BackTab)],
        "Tab S-Tab",
        Command::NextView,
        Scope::Global,
        Some((5, "Tab", "view")),
        "next / previous view",
    ),
    bind(
        &[key('1'), key('2'), key('3'), key('4'), key('5')],
        "1-5",
        Command::Show(View::FailureMap),
        Scope::Global,
        None,
        "map, topology, queues, detail, events",
    ),
    bind(
        &[key('/')],
        "/",
        Command::Filter,
        Scope::Views(LISTS),
        Some((6, "/", "filter")),
        "filter: words, region: kind: status: sev: role:",
    ),
    bind(
        &[key(':')],
        ":",
        Command::Palette,
        Scope::Global,
        Some((7, ":", "cmd")),
        "command line (:queues, :region ID, :sev 1, :help)",
    ),
    bind(
        &[key('f')],
        "f",
        Command::Freeze,
        Scope::Global,
        Some((8, "f", "freeze")),
        "freeze the screen (updates are held), again to resume",
    ),
    bind(
        &[key('r')],
        "r",
        Command::Refresh,
        Scope::Global,
        Some((10, "r", "refresh")),
        "probe every service now",
    ),
    bind(
        &[key('y'), key('c')],
        "y",
        Command::Copy,
        Scope::Global,
        Some((11, "y", "copy")),
        "copy the selected service's summary (OSC 52, works over SSH)",
    ),
    bind(
        &[key('s')],
        "s",
        Command::Silence,
        Scope::Views(SELECTING),
        None,
        "silence the selected service: type how long and why",
    ),
    bind(
        &[key('R')],
        "R",
        Command::Runbooks,
        Scope::Views(SELECTING),
        None,
        "runbooks for the selection: plan, confirm, run",
    ),
    bind(
        &[key('Y')],
        "Y",
        Command::CopyCommand,
        Scope::Global,
        None,
        "copy a ready gcloud / kubectl command for the selection",
    ),
    bind(
        &[key('u')],
        "u",
        Command::CopyUrl,
        Scope::Global,
        None,
        "copy the selection's Cloud Console URL",
    ),
    bind(
        &[key('?')],
        "?",
        Command::Help,
        Scope::Global,
        Some((1, "?", "help")),
        "this help",
    ),
    bind(
        &[key('q'), ctrl('c')],
        "q",
        Command::Quit,
        Scope::Global,
        Some((0, "q", "quit")),
        "quit (Ctrl-C too)",
    ),
    bind(
        &[ctrl('l')],
        "Ctrl-L",
        Command::Repaint,
        Scope::Global,
        None,
        "repaint the whole screen",
    ),
    // The second halves of the pairs above: found by key, listed with their first half.
    hidden(&[code(KeyCode::Up), key('k')], Command::Up, SCROLLING),
    hidden(
        &[code(KeyCode::Left), key('h')],
        Command::Left,
        &[View::Topology],
    ),
    hidden(
        &[code(KeyCode::PageUp), ctrl('b')],
        Command::PageUp,
        SCROLLING,
    ),
    hidden(&[code(KeyCode::Home), key('g')], Command::First, SCROLLING),
    hidden(&[code(KeyCode::BackTab)], Command::PrevView, &[]),
];

const fn hidden(keys: &'static [Key], command: Command, views: &'static [View]) -> Binding {
    Binding {
        keys,
        label: "",
        command,
        scope: if views.is_empty() {
            Scope::Global
        } else {
            Scope::Views(views)
        },
        footer: None,
        help: "",
    }
}

/// What a key does in a view, if anything.
pub fn command_for(view: View, event: KeyEvent) -> Option<Command> {
    let pressed = Key {
        code: match event.code {
            // Some terminals send Shift+char as the upper-case char with SHIFT set.
            KeyCode::Char(c) => KeyCode::Char(c),
            other => other,
        },
        ctrl: event.modifiers.contains(KeyModifiers::CONTROL),
    };
    if let KeyCode::Char(c @ '1'..='5') = pressed.code
        && !pressed.ctrl
    {
        let index = usize::from(c as u8 - b'1');
        return View::TABS.get(index).map(|&v| Command::Show(v));
    }
    // The pairs: the hidden entries (listed last) hold the first halves; look them up first.
    BINDINGS
        .iter()
        .rev()
        .filter(|b| b.scope.covers(view))
        .find(|b| b.keys.contains(&pressed))
        .map(|b| b.command)
}

/// The footer's hints for a view, in footer order.
pub fn footer(view: View) -> Vec<(&'static str, &'static str)> {
    let mut hints: Vec<(u8, &str, &str)> = BINDINGS
        .iter()
        .filter(|b| b.scope.covers(view))
        .filter_map(|b| b.footer)
        .collect();
    hints.sort_by_key(|(rank, ..)| *rank);
    hints
        .into_iter()
        .map(|(_, key, word)| (key, word))
        .collect()
}

/// The bindings help lists, each with the views it applies to (empty: all).
pub fn help_entries() -> impl Iterator<Item = &'static Binding> {
    BINDINGS.iter().filter(|b| !b.help.is_empty())
}

/// The keys of the `/` and `:` line, for help.
pub const INPUT_KEYS: [(&str, &str); 5] = [
    ("Enter", "apply (an empty filter clears it)"),
    ("Esc", "cancel"),
    ("Tab", "complete a command name (:)"),
    ("Ctrl-U", "clear the line"),
    ("Ctrl-W", "delete the last word"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn press(view: View, code: KeyCode) -> Option<Command> {
        command_for(view, KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn pairs_resolve_to_each_half() {
        let map = View::FailureMap;
        assert_eq!(press(map, KeyCode::Down), Some(Command::Down));
        assert_eq!(press(map, KeyCode::Char('j')), Some(Command::Down));
        assert_eq!(press(map, KeyCode::Up), Some(Command::Up));
        assert_eq!(press(map, KeyCode::Char('k')), Some(Command::Up));
        assert_eq!(press(map, KeyCode::Home), Some(Command::First));
        assert_eq!(press(map, KeyCode::Char('G')), Some(Command::Last));
        assert_eq!(press(map, KeyCode::BackTab), Some(Command::PrevView));
        assert_eq!(press(map, KeyCode::Tab), Some(Command::NextView));
    }

    #[test]
    fn keys_apply_only_in_their_views() {
        assert_eq!(press(View::FailureMap, KeyCode::Char('h')), None);
        assert_eq!(
            press(View::Topology, KeyCode::Char('h')),
            Some(Command::Left)
        );
        assert_eq!(press(View::Detail, KeyCode::Enter), None);
        assert_eq!(press(View::Detail, KeyCode::Char('/')), None);
        assert_eq!(press(View::Events, KeyCode::Char('q')), Some(Command::Quit));
    }

    #[test]
    fn digits_jump_to_the_tabs_and_ctrl_keys_need_ctrl() {
        assert_eq!(
            press(View::FailureMap, KeyCode::Char('3')),
            Some(Command::Show(View::Queues))
        );
        assert_eq!(press(View::FailureMap, KeyCode::Char('9')), None);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(command_for(View::Queues, ctrl_c), Some(Command::Quit));
        assert_eq!(press(View::Queues, KeyCode::Char('c')), Some(Command::Copy));
        let ctrl_l = KeyEvent::new(KeyCode::Char('l'), KeyModifiers::CONTROL);
        assert_eq!(command_for(View::Topology, ctrl_l), Some(Command::Repaint));
    }

    #[test]
    fn no_key_is_bound_twice_in_one_view() {
        for view in View::TABS {
            let bindings: Vec<&Binding> =
                BINDINGS.iter().filter(|b| b.scope.covers(view)).collect();
            for b in &bindings {
                for k in b.keys {
                    let holders: Vec<&&Binding> =
                        bindings.iter().filter(|o| o.keys.contains(k)).collect();
                    // A key is in one binding, or in a listed pair and its hidden half.
                    let ok = holders.len() == 1
                        || (holders.len() == 2
                            && holders.iter().filter(|h| h.label.is_empty()).count() == 1);
                    assert!(ok, "{k:?} is bound {} times in {view:?}", holders.len());
                }
            }
        }
    }

    #[test]
    fn every_view_lists_its_keys_in_the_footer() {
        for view in View::TABS {
            let words: Vec<&str> = footer(view).iter().map(|(_, w)| *w).collect();
            assert_eq!(words[..2], ["quit", "help"], "{view:?}");
            assert!(
                words.contains(&"freeze") && words.contains(&"copy"),
                "{view:?}"
            );
        }
        let topo: Vec<&str> = footer(View::Topology).iter().map(|(_, w)| *w).collect();
        assert!(topo.contains(&"region"));
        let detail: Vec<&str> = footer(View::Detail).iter().map(|(_, w)| *w).collect();
        assert!(!detail.contains(&"detail") && detail.contains(&"back"));
    }
}

//! The one-line editor of the `/` filter and the `:` command line: typing, Backspace,
//! Ctrl-U, Ctrl-W, and what Enter, Esc and Tab mean to the caller.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Which line is being edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// `/`: the filter, applied as it is typed.
    Filter,
    /// `:`: a command, run on Enter.
    Command,
}

impl Prompt {
    pub fn sigil(self) -> char {
        match self {
            Prompt::Filter => '/',
            Prompt::Command => ':',
        }
    }
}

/// A line being typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub prompt: Prompt,
    pub text: String,
    /// A word on what the line would do or why it cannot (shown beside it).
    pub hint: Option<String>,
}

/// What a key did to the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// The text changed.
    Changed,
    /// Nothing happened.
    Unchanged,
    Submit,
    Cancel,
    Complete,
}

/// Longest line accepted, in characters.
const MAX_LEN: usize = 200;

impl Input {
    pub fn new(prompt: Prompt, text: String) -> Input {
        Input {
            prompt,
            text,
            hint: None,
        }
    }

    pub fn edit(&mut self, key: KeyEvent) -> Edit {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter => Edit::Submit,
            KeyCode::Esc => Edit::Cancel,
            KeyCode::Char('c') if ctrl => Edit::Cancel,
            KeyCode::Tab => Edit::Complete,
            KeyCode::Char('u') if ctrl => self.set(String::new()),
            KeyCode::Char('w') if ctrl => {
                let kept = self.text.trim_end();
                let cut = kept.rfind(char::is_whitespace).map_or(0, |i| i + 1);
                self.set(kept[..cut].to_string())
            }
            KeyCode::Backspace => {
                let mut text = self.text.clone();
                text.pop();
                self.set(text)
            }
            KeyCode::Char(c) if !ctrl && !c.is_control() => {
                if self.text.chars().count() >= MAX_LEN {
                    return Edit::Unchanged;
                }
                let mut text = self.text.clone();
                text.push(c);
                self.set(text)
            }
            _ => Edit::Unchanged,
        }
    }

    fn set(&mut self, text: String) -> Edit {
        if text == self.text {
            Edit::Unchanged
        } else {
            self.text = text;
            Edit::Changed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    #[test]
    fn typing_deleting_and_clearing() {
        let mut line = Input::new(Prompt::Filter, String::new());
        for c in "region:eu sql".chars() {
            assert_eq!(line.edit(k(KeyCode::Char(c))), Edit::Changed);
        }
        assert_eq!(line.edit(k(KeyCode::Backspace)), Edit::Changed);
        assert_eq!(line.text, "region:eu sq");
        assert_eq!(line.edit(ctrl('w')), Edit::Changed);
        assert_eq!(line.text, "region:eu ");
        assert_eq!(line.edit(ctrl('u')), Edit::Changed);
        assert_eq!(line.edit(ctrl('u')), Edit::Unchanged);
        assert_eq!(line.edit(k(KeyCode::Backspace)), Edit::Unchanged);
    }

    #[test]
    fn enter_esc_and_tab_go_to_the_caller() {
        let mut line = Input::new(Prompt::Command, "que".into());
        assert_eq!(line.edit(k(KeyCode::Enter)), Edit::Submit);
        assert_eq!(line.edit(k(KeyCode::Esc)), Edit::Cancel);
        assert_eq!(line.edit(ctrl('c')), Edit::Cancel);
        assert_eq!(line.edit(k(KeyCode::Tab)), Edit::Complete);
        assert_eq!(line.edit(k(KeyCode::F(1))), Edit::Unchanged);
        assert_eq!(line.text, "que");
    }

    #[test]
    fn the_line_has_a_length_limit() {
        let mut line = Input::new(Prompt::Filter, "x".repeat(MAX_LEN));
        assert_eq!(line.edit(k(KeyCode::Char('y'))), Edit::Unchanged);
    }
}

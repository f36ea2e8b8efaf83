//! The `/` and `:` lines as the console uses them: the filter applied as it is typed (Esc
//! puts the old one back), and command lines run on Enter through [`palette`].

use crossterm::event::KeyEvent;

use super::input::{Edit, Input, Prompt};
use super::palette::{self, Order};
use super::{App, Effect, Filter, View};

impl App {
    pub(super) fn open_input(&mut self, prompt: Prompt) -> Effect {
        let text = match prompt {
            Prompt::Filter => {
                self.filter_before = self.filter.clone();
                let mut t = self.filter.to_text();
                if !t.is_empty() {
                    t.push(' ');
                }
                t
            }
            Prompt::Command => String::new(),
        };
        let mut input = Input::new(prompt, text);
        input.hint = Some(match prompt {
            Prompt::Filter => "words, region: kind: status: sev: role:".to_string(),
            Prompt::Command => {
                "queues, topology, region ID, sev N, help… (Tab completes)".to_string()
            }
        });
        self.input = Some(input);
        Effect::Redraw
    }

    pub(super) fn type_key(&mut self, key: KeyEvent) -> Effect {
        let Some(input) = self.input.as_mut() else {
            return Effect::None;
        };
        let prompt = input.prompt;
        match input.edit(key) {
            Edit::Unchanged => Effect::None,
            Edit::Changed => {
                let text = input.text.clone();
                match prompt {
                    Prompt::Filter => self.filter_typed(&text),
                    Prompt::Command => {
                        let fits = palette::complete(&text).1;
                        let hint = match fits.as_slice() {
                            [] if !text.contains(' ') => Some("no such command".to_string()),
                            [] => None,
                            fits => Some(fits.join(" ")),
                        };
                        if let Some(input) = self.input.as_mut() {
                            input.hint = hint;
                        }
                    }
                }
                Effect::Redraw
            }
            Edit::Complete => {
                if prompt == Prompt::Command {
                    let (line, fits) = palette::complete(&input.text);
                    input.text = line;
                    input.hint = (fits.len() > 1).then(|| fits.join(" "));
                }
                Effect::Redraw
            }
            Edit::Cancel => {
                self.input = None;
                if prompt == Prompt::Filter {
                    let before = self.filter_before.clone();
                    self.set_filter(before);
                }
                Effect::Redraw
            }
            Edit::Submit => {
                let text = input.text.clone();
                self.input = None;
                match prompt {
                    Prompt::Filter => {
                        let (filter, _) = Filter::parse(&text);
                        self.set_filter(filter);
                        Effect::Redraw
                    }
                    Prompt::Command => match palette::parse(&text) {
                        Ok(order) => self.carry_out(order),
                        Err(problem) => {
                            self.show_note(problem);
                            Effect::Redraw
                        }
                    },
                }
            }
        }
    }

    /// Applies the filter as it is typed, saying how many services pass or what is wrong.
    fn filter_typed(&mut self, text: &str) {
        let (filter, problem) = Filter::parse(text);
        self.set_filter(filter);
        let hint = problem.unwrap_or_else(|| {
            format!(
                "{} of {} services",
                self.rows.map.len(),
                self.snapshot.services.len()
            )
        });
        if let Some(input) = self.input.as_mut() {
            input.hint = Some(hint);
        }
    }

    /// Replaces the filter and rebuilds every list.
    pub(super) fn set_filter(&mut self, filter: Filter) {
        if filter != self.filter {
            self.filter = filter;
            self.rebuild();
        }
    }

    /// Carries out a command line.
    fn carry_out(&mut self, order: Order) -> Effect {
        match order {
            Order::Show(view) => {
                self.show(view);
                Effect::Redraw
            }
            Order::Detail(None) => {
                if self.view == View::Detail {
                    Effect::Redraw
                } else {
                    self.open_selected()
                }
            }
            Order::Detail(Some(id)) => match self.rows.position.get(&id).copied() {
                Some(i) => {
                    self.select(i);
                    self.pinned = true;
                    self.open_selected()
                }
                None => {
                    self.show_note(format!("no service \"{id}\" in this estate"));
                    Effect::Redraw
                }
            },
            Order::Filter(text) => {
                let (filter, _) = Filter::parse(&text);
                self.set_filter(filter);
                Effect::Redraw
            }
            Order::Term(key, value) => {
                let mut f = self.filter.clone();
                let values: Vec<String> = value.split(',').map(str::to_lowercase).collect();
                match key {
                    "region" => f.regions = values,
                    "kind" => f.kinds = values,
                    "status" => f.statuses = values,
                    _ => f.sev = Filter::parse(&format!("sev:{value}")).0.sev,
                }
                self.set_filter(f);
                let passing = self.rows.map.len();
                self.show_note(format!(
                    "filter {}: {passing} services",
                    self.filter.to_text()
                ));
                Effect::Redraw
            }
            Order::Freeze(to) => {
                let on = to.unwrap_or(self.frozen_at.is_none());
                self.set_frozen(on);
                Effect::Redraw
            }
            Order::Refresh => self.run(super::Command::Refresh),
            Order::Copy => self.run(super::Command::Copy),
            Order::Help => self.run(super::Command::Help),
            Order::Theme(name) => Effect::SetTheme(name),
            Order::Silence {
                service,
                duration,
                reason,
            } => match self.service_named(service) {
                Ok(service) => Effect::Silence {
                    service,
                    duration,
                    reason,
                },
                Err(problem) => {
                    self.show_note(problem);
                    Effect::Redraw
                }
            },
            Order::Unsilence(service) => match self.service_named(service) {
                Ok(service) => Effect::Unsilence(service),
                Err(problem) => {
                    self.show_note(problem);
                    Effect::Redraw
                }
            },
            Order::Bell(on) => {
                let on = on.unwrap_or(!self.bell_on());
                self.set_bell(on);
                self.show_note(if on {
                    "bell on: it rings once for each new SEV 1-2 problem"
                } else {
                    "bell off"
                });
                Effect::Redraw
            }
            Order::Runbook(id) => self.open_runbooks(id),
            Order::Quit => self.quit(),
        }
    }

    /// The id a command names, else the selected service's; a sentence when there is none.
    fn service_named(&self, id: Option<String>) -> Result<String, String> {
        match id {
            Some(id) if self.snapshot.service(&id).is_some() => Ok(id),
            Some(id) => Err(format!("no service \"{id}\" in this estate")),
            None => self
                .selected_service()
                .map(|s| s.id.clone())
                .ok_or_else(|| "nothing selected".to_string()),
        }
    }

    /// `s`: the command line, ready to silence the selected service.
    pub(super) fn open_silence(&mut self) -> Effect {
        let Some(s) = self.selected_service() else {
            self.show_note("nothing selected");
            return Effect::Redraw;
        };
        let hint = match &s.silence {
            Some(v) => format!(
                "silenced until {} by {}: Enter replaces it; :unsilence lifts it",
                v.until.format("%H:%M UTC"),
                v.by.as_deref().unwrap_or("a maintenance window")
            ),
            None => "how long and why, like 2h planned failover (Esc cancels)".to_string(),
        };
        let mut input = Input::new(Prompt::Command, format!("silence {} ", s.id));
        input.hint = Some(hint);
        self.input = Some(input);
        Effect::Redraw
    }

    /// The selected service in the detail view (from wherever the console is).
    fn open_selected(&mut self) -> Effect {
        if self.selected().is_none() {
            self.show_note("nothing selected");
            return Effect::Redraw;
        }
        self.pinned = true;
        self.show(View::Detail);
        Effect::Redraw
    }
}

//! The runbooks screen's keys and the run's progress: choosing a runbook, asking for its
//! parameters, the confirmation, and what the runtime reports back while it runs.

use super::{
    Ack, App, Choice, Confirmation, DateTime, Effect, Event, KeyCode, KeyEvent, KeyModifiers,
    MAX_TYPED, NOTES_KEPT, Outcome, Param, RunState, Runbook, RunbookList, RunbookOrder,
    RunbookReport, Stage, StepLine, StepResult, StepState, TimeDelta, Utc, applies, params,
};

impl App {
    /// Gives the console the runbooks it may offer, and whether it may act at all.
    pub fn set_runbooks(&mut self, catalog: Vec<Runbook>, read_only: bool) {
        self.runbooks.catalog = catalog;
        self.runbooks.read_only = read_only;
    }

    /// `R` and `:runbook [ID]`: the run screen while a run is kept; else the runbooks of the
    /// selected service, or the plan of runbook `id` on it.
    pub(in crate::app) fn open_runbooks(&mut self, id: Option<String>) -> Effect {
        if self.runbooks.run.is_some() && id.is_none() {
            self.runbooks.run_shown = true;
            return Effect::Redraw;
        }
        if self.runbooks.in_flight() {
            self.show_note("a runbook run is in flight: R shows it");
            return Effect::Redraw;
        }
        let Some(service) = self.selected_service().cloned() else {
            self.show_note("nothing selected: select a service, then R");
            return Effect::Redraw;
        };
        let items: Vec<Choice> = self
            .runbooks
            .catalog
            .iter()
            .filter(|r| applies(r, &service))
            .map(|r| Choice {
                id: r.id.clone(),
                title: r.title.clone(),
                destructive: r.destructive,
                linked: service.runbooks.contains(&r.id),
                summary: r.summary.clone(),
            })
            .collect();
        let mut items = items;
        // The runbooks the estate links to the service first.
        items.sort_by_key(|c| !c.linked);
        if let Some(id) = id {
            let Some(at) = items.iter().position(|c| c.id == id) else {
                let known = self.runbooks.catalog.iter().any(|r| r.id == id);
                self.show_note(if known {
                    format!("runbook {id} does not apply to {}", service.id)
                } else {
                    format!("no runbook \"{id}\"")
                });
                return Effect::Redraw;
            };
            self.runbooks.list = Some(RunbookList {
                service: service.id.clone(),
                service_name: service.name.clone(),
                items,
                cursor: at,
            });
            return self.choose_runbook();
        }
        self.runbooks.list = Some(RunbookList {
            service: service.id.clone(),
            service_name: service.name.clone(),
            items,
            cursor: 0,
        });
        self.runbooks.run_shown = false;
        Effect::Redraw
    }

    /// Keys while the runbooks screen is open (or a run is in flight behind the views).
    pub(in crate::app) fn runbook_key(&mut self, key: KeyEvent) -> Effect {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            return self.quit();
        }
        if self.runbooks.shown_run().is_some() {
            return self.run_key(key);
        }
        let Some(list) = self.runbooks.list.as_mut() else {
            return Effect::None;
        };
        let last = list.items.len().saturating_sub(1);
        match key.code {
            KeyCode::Esc => {
                self.runbooks.list = None;
                Effect::Redraw
            }
            KeyCode::Char('q') => self.quit(),
            KeyCode::Up | KeyCode::Char('k') => {
                list.cursor = list.cursor.saturating_sub(1);
                Effect::Redraw
            }
            KeyCode::Down | KeyCode::Char('j') => {
                list.cursor = (list.cursor + 1).min(last);
                Effect::Redraw
            }
            KeyCode::Home | KeyCode::Char('g') => {
                list.cursor = 0;
                Effect::Redraw
            }
            KeyCode::End | KeyCode::Char('G') => {
                list.cursor = last;
                Effect::Redraw
            }
            KeyCode::Enter => self.choose_runbook(),
            _ => Effect::None,
        }
    }

    /// Enter on the list: a new run of the runbook under the cursor.
    fn choose_runbook(&mut self) -> Effect {
        let Some(list) = self.runbooks.list.as_ref() else {
            return Effect::None;
        };
        let Some(choice) = list.items.get(list.cursor) else {
            return Effect::None;
        };
        let Some(runbook) = self.runbooks.catalog.iter().find(|r| r.id == choice.id) else {
            return Effect::None;
        };
        let asking: Vec<Param> = runbook
            .params
            .iter()
            .filter(|p| p.default.is_none())
            .cloned()
            .collect();
        let stage = if asking.is_empty() {
            Stage::Planning
        } else {
            Stage::Params
        };
        self.runbooks.run = Some(RunState {
            runbook: runbook.id.clone(),
            title: runbook.title.clone(),
            target: list.service.clone(),
            stage,
            asking,
            given: Vec::new(),
            typed: String::new(),
            problem: None,
            plan: None,
            steps: Vec::new(),
            notes: Vec::new(),
            manual: None,
            outcome: None,
            started: None,
            ended: None,
            scroll: 0,
        });
        self.runbooks.run_shown = true;
        if stage == Stage::Planning {
            self.plan_order()
        } else {
            Effect::Redraw
        }
    }

    fn plan_order(&mut self) -> Effect {
        match self.runbooks.run.as_ref() {
            Some(run) => Effect::Runbook(RunbookOrder::Plan {
                runbook: run.runbook.clone(),
                target: run.target.clone(),
                params: run.given.clone(),
            }),
            None => Effect::Redraw,
        }
    }

    /// Leaves the run screen: back to the list (a run not started), or closes it (a run
    /// ended); a run in flight is only hidden.
    fn leave_run(&mut self) -> Effect {
        let Some(run) = self.runbooks.run.as_ref() else {
            return Effect::None;
        };
        if run.in_flight() {
            self.runbooks.run_shown = false;
            self.runbooks.list = None;
            self.show_note("the run goes on: R shows it again");
        } else {
            let ended = run.stage == Stage::Finished;
            self.runbooks.run = None;
            self.runbooks.run_shown = false;
            if ended {
                self.runbooks.list = None;
            } else {
                self.show_note("cancelled: nothing was run");
            }
        }
        Effect::Redraw
    }

    fn run_key(&mut self, key: KeyEvent) -> Effect {
        let Some(run) = self.runbooks.run.as_mut() else {
            return Effect::None;
        };
        if key.code == KeyCode::Esc {
            return self.leave_run();
        }
        match run.stage {
            Stage::Params => self.param_key(key),
            Stage::Planning => Effect::None,
            Stage::Confirm => self.confirm_key(key),
            Stage::Running => match key.code {
                KeyCode::Char('d') if run.manual.is_some() => {
                    run.manual = None;
                    Effect::Runbook(RunbookOrder::Manual(Ack::Done))
                }
                KeyCode::Char('x') if run.manual.is_some() => {
                    run.manual = None;
                    Effect::Runbook(RunbookOrder::Manual(Ack::Stop))
                }
                KeyCode::Char('q') => self.quit(),
                _ => Effect::None,
            },
            Stage::Finished => match key.code {
                KeyCode::Char('q') => self.quit(),
                _ => scroll(run, key),
            },
        }
    }

    fn param_key(&mut self, key: KeyEvent) -> Effect {
        let Some(run) = self.runbooks.run.as_mut() else {
            return Effect::None;
        };
        if key.code != KeyCode::Enter {
            return edit(&mut run.typed, key);
        }
        let Some(param) = run.param_asked().cloned() else {
            return Effect::None;
        };
        match params::parse_value(&param, &run.typed) {
            Ok(_) => {
                let text = std::mem::take(&mut run.typed);
                run.given
                    .push((param.name.clone(), text.trim().to_string()));
                run.problem = None;
                if run.given.len() < run.asking.len() {
                    return Effect::Redraw;
                }
                run.stage = Stage::Planning;
                self.plan_order()
            }
            Err(e) => {
                run.problem = Some(if run.typed.trim().is_empty() {
                    format!("{} is required: type a value", param.name)
                } else {
                    format!("{}: {e}", param.name)
                });
                Effect::Redraw
            }
        }
    }

    fn confirm_key(&mut self, key: KeyEvent) -> Effect {
        let Some(run) = self.runbooks.run.as_mut() else {
            return Effect::None;
        };
        if matches!(
            key.code,
            KeyCode::Up | KeyCode::Down | KeyCode::PageUp | KeyCode::PageDown
        ) {
            return scroll(run, key);
        }
        if run.blocked_read_only() {
            return Effect::None;
        }
        let confirmation = if run.confirmation() == "typed" {
            if key.code != KeyCode::Enter {
                return edit(&mut run.typed, key);
            }
            let typed = run.typed.trim().to_string();
            if typed.is_empty() {
                run.problem = Some(format!(
                    "type {} (the target's id), then Enter: Enter alone never confirms",
                    run.target
                ));
                return Effect::Redraw;
            }
            if typed != run.target {
                run.problem = Some(format!(
                    "\"{typed}\" is not the target: type {} exactly, or Esc to cancel",
                    run.target
                ));
                run.typed.clear();
                return Effect::Redraw;
            }
            Confirmation::Typed(typed)
        } else {
            match key.code {
                KeyCode::Char('y') => Confirmation::Yes,
                KeyCode::Char('q') => return self.quit(),
                KeyCode::Enter => {
                    run.problem = Some("press y to run it, or Esc to cancel".to_string());
                    return Effect::Redraw;
                }
                _ => return Effect::None,
            }
        };
        run.problem = None;
        run.typed.clear();
        run.stage = Stage::Running;
        run.started = Some(self.clock);
        run.scroll = 0;
        Effect::Runbook(RunbookOrder::Run {
            runbook: run.runbook.clone(),
            target: run.target.clone(),
            params: run.given.clone(),
            confirmation,
        })
    }

    /// `q` (and Ctrl-C): with a run in flight, the first press only warns.
    pub(in crate::app) fn quit(&mut self) -> Effect {
        if self.runbooks.in_flight() && !self.runbooks.quit_armed {
            self.runbooks.quit_armed = true;
            self.show_note(
                "a runbook run is in flight: q again stops it (recorded as interrupted) and quits",
            );
            return Effect::Redraw;
        }
        Effect::Quit
    }

    /// Any key but `q` takes back a first `q`.
    pub(in crate::app) fn disarm_quit(&mut self, key: KeyEvent) {
        let quit_key = matches!(key.code, KeyCode::Char('q'))
            || (key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL));
        if !quit_key {
            self.runbooks.quit_armed = false;
        }
    }

    /// What the runtime reports; returns whether the screen changes.
    pub fn runbook_report(&mut self, report: RunbookReport) -> bool {
        let now = self.clock;
        let Some(run) = self.runbooks.run.as_mut() else {
            return false;
        };
        match report {
            RunbookReport::Plan {
                runbook,
                target,
                plan,
            } => {
                if run.stage != Stage::Planning || runbook != run.runbook || target != run.target {
                    return false;
                }
                match plan {
                    Ok(plan) => {
                        run.steps = plan
                            .steps
                            .iter()
                            .map(|s| StepLine {
                                n: s.n,
                                kind: s.kind.to_string(),
                                label: s.label.clone(),
                                on_failure_only: s.on_failure_only,
                                state: StepState::Pending,
                                detail: None,
                                started: None,
                                elapsed: None,
                            })
                            .collect();
                        run.plan = Some(plan);
                        run.stage = Stage::Confirm;
                    }
                    Err(e) => {
                        run.problem = Some(e);
                        run.stage = Stage::Finished;
                        run.outcome =
                            Some(Outcome::Refused(run.problem.clone().unwrap_or_default()));
                    }
                }
            }
            RunbookReport::Event(event) => on_event(run, event, now),
            RunbookReport::Manual { n, text } => {
                run.manual = Some((n, text));
                // A manual step needs the operator: bring the run back on screen.
                self.runbooks.run_shown = true;
                self.help = None;
                self.input = None;
            }
            RunbookReport::Finished(outcome) => {
                run.manual = None;
                for s in &mut run.steps {
                    if s.state == StepState::Running {
                        s.state = StepState::Failed;
                    }
                }
                run.outcome = Some(outcome);
                run.stage = Stage::Finished;
                run.ended = Some(now);
                self.runbooks.quit_armed = false;
                if !self.runbooks.run_shown {
                    self.show_note("the runbook run ended: R shows the result");
                }
            }
        }
        true
    }

    /// The clock the screen's elapsed times count on.
    pub fn runbook_clock(&self) -> DateTime<Utc> {
        self.clock
    }
}

fn on_event(run: &mut RunState, event: Event, now: DateTime<Utc>) {
    match event {
        Event::Note(text) => {
            run.notes.push(text);
            let extra = run.notes.len().saturating_sub(NOTES_KEPT);
            run.notes.drain(..extra);
        }
        Event::StepStarted { n, kind, label } => {
            let line = step_line(run, n, kind, &label);
            line.state = StepState::Running;
            line.started = Some(now);
            line.detail = None;
        }
        Event::Progress { n, text } => {
            let line = step_line(run, n, "", "");
            line.detail = Some(text);
        }
        Event::StepFinished {
            n,
            result,
            detail,
            elapsed,
        } => {
            let line = step_line(run, n, "", "");
            line.state = match result {
                StepResult::Ok => StepState::Ok,
                StepResult::Skipped => StepState::Skipped,
                StepResult::Failed => StepState::Failed,
                StepResult::CheckFailed => StepState::CheckFailed,
            };
            line.detail = Some(detail);
            line.elapsed = Some(elapsed);
        }
    }
}

/// The line of step `n`, added if the plan did not have it.
fn step_line<'a>(run: &'a mut RunState, n: usize, kind: &str, label: &str) -> &'a mut StepLine {
    let at = match run.steps.iter().position(|s| s.n == n) {
        Some(at) => at,
        None => {
            run.steps.push(StepLine {
                n,
                kind: kind.to_string(),
                label: label.to_string(),
                on_failure_only: false,
                state: StepState::Pending,
                detail: None,
                started: None,
                elapsed: None,
            });
            run.steps.sort_by_key(|s| s.n);
            run.steps.iter().position(|s| s.n == n).unwrap_or(0)
        }
    };
    &mut run.steps[at]
}

/// Typing into the parameter or confirmation line.
fn edit(text: &mut String, key: KeyEvent) -> Effect {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Backspace => {
            text.pop();
        }
        KeyCode::Char('u') if ctrl => text.clear(),
        KeyCode::Char(c) if !ctrl && !c.is_control() && text.chars().count() < MAX_TYPED => {
            text.push(c);
        }
        _ => return Effect::None,
    }
    Effect::Redraw
}

fn scroll(run: &mut RunState, key: KeyEvent) -> Effect {
    run.scroll = match key.code {
        KeyCode::Up | KeyCode::Char('k') => run.scroll.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => run.scroll + 1,
        KeyCode::PageUp => run.scroll.saturating_sub(10),
        KeyCode::PageDown => run.scroll + 10,
        KeyCode::Home | KeyCode::Char('g') => 0,
        _ => return Effect::None,
    };
    Effect::Redraw
}

/// How long a step has run (or ran), on the console's clock.
pub fn step_elapsed(line: &StepLine, now: DateTime<Utc>) -> Option<std::time::Duration> {
    line.elapsed.or_else(|| {
        line.started
            .map(|s| (now - s).max(TimeDelta::zero()))
            .and_then(|d| d.to_std().ok())
    })
}

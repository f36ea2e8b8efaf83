//! The runbooks screen: the runbooks that apply to the selected service (`R`, `:runbook`), and
//! the run of one — its required parameters, the dry-run plan, the confirmation (the target's
//! id typed for a destructive runbook on a SEV 1–2 target; `y` otherwise; Enter alone never
//! confirms, Esc cancels), live step progress with manual steps, and the result, kept until
//! Esc. Pure: the runtime builds the plan and runs the engine (the same plan, confirm, lease,
//! engine and audit path as `opsdeck runbook run`) and reports back here.

use chrono::{DateTime, TimeDelta, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{App, Effect};
use crate::model::ServiceView;
use crate::runbook::confirm::Confirmation;
use crate::runbook::engine::{Ack, Event, Outcome, StepResult};
use crate::runbook::plan::RunPlan;
use crate::runbook::{Param, Runbook, params, view};

/// Notes of the run kept on screen.
const NOTES_KEPT: usize = 6;
/// Longest parameter value or confirmation typed, in characters.
const MAX_TYPED: usize = 120;

/// What the console asks the runtime to do for a runbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunbookOrder {
    /// Build the dry-run plan (it only reads).
    Plan {
        runbook: String,
        target: String,
        params: Vec<(String, String)>,
    },
    /// Run it: lease, confirmation check, steps, audit — in a spawned task.
    Run {
        runbook: String,
        target: String,
        params: Vec<(String, String)>,
        confirmation: Confirmation,
    },
    /// The operator's word on the manual step that waits.
    Manual(Ack),
}

/// What the runtime reports back about a runbook.
#[derive(Debug, Clone, PartialEq)]
pub enum RunbookReport {
    /// The plan, or why none could be built (the target or a parameter refused).
    Plan {
        runbook: String,
        target: String,
        plan: Result<Box<RunPlan>, String>,
    },
    /// The engine's progress.
    Event(Event),
    /// A manual step waits for the operator.
    Manual {
        n: usize,
        text: String,
    },
    Finished(Outcome),
}

/// The runbooks known to the console, and what is on the runbooks screen.
#[derive(Debug, Clone, Default)]
pub struct Desk {
    catalog: Vec<Runbook>,
    /// The estate is read-only, or `--read-only` was given.
    read_only: bool,
    /// The list, when it is shown.
    list: Option<RunbookList>,
    /// The run screen is shown (else the list, or the views).
    run_shown: bool,
    run: Option<RunState>,
    /// `q` was pressed once while a run is in flight.
    quit_armed: bool,
}

/// The runbooks that apply to one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunbookList {
    pub service: String,
    pub service_name: String,
    pub items: Vec<Choice>,
    pub cursor: usize,
}

/// One runbook of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub id: String,
    pub title: String,
    pub destructive: bool,
    /// The estate links it to the service.
    pub linked: bool,
    pub summary: Option<String>,
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Typing the required parameters, one by one.
    Params,
    /// The plan is being read from the live systems.
    Planning,
    /// The plan is shown; the confirmation is awaited.
    Confirm,
    /// The engine runs it.
    Running,
    /// It ended: the result stays until Esc.
    Finished,
}

/// How a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    Pending,
    Running,
    Ok,
    Skipped,
    Failed,
    CheckFailed,
}

impl StepState {
    pub fn word(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Running => "running",
            StepState::Ok => "ok",
            StepState::Skipped => "skipped",
            StepState::Failed => "failed",
            StepState::CheckFailed => "check failed",
        }
    }
}

/// One step of a run as the screen shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepLine {
    pub n: usize,
    pub kind: String,
    pub label: String,
    pub on_failure_only: bool,
    pub state: StepState,
    /// The latest operation status while it runs; how it ended after.
    pub detail: Option<String>,
    pub started: Option<DateTime<Utc>>,
    pub elapsed: Option<std::time::Duration>,
}

/// One run, from its parameters to its result.
#[derive(Debug, Clone, PartialEq)]
pub struct RunState {
    pub runbook: String,
    pub title: String,
    pub target: String,
    pub stage: Stage,
    /// The parameters the run must be given, and the values typed so far.
    pub asking: Vec<Param>,
    pub given: Vec<(String, String)>,
    /// What is being typed: a parameter's value, or the confirmation.
    pub typed: String,
    /// Why the last thing typed was refused, or why the plan could not be built.
    pub problem: Option<String>,
    pub plan: Option<Box<RunPlan>>,
    pub steps: Vec<StepLine>,
    pub notes: Vec<String>,
    /// The manual step waiting for the operator, and its instructions.
    pub manual: Option<(usize, String)>,
    pub outcome: Option<Outcome>,
    pub started: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
    /// The first line of the plan shown.
    pub scroll: usize,
}

impl RunState {
    /// The parameter being asked for, while parameters are typed.
    pub fn param_asked(&self) -> Option<&Param> {
        (self.stage == Stage::Params)
            .then(|| self.asking.get(self.given.len()))
            .flatten()
    }

    /// `typed` (the target's id), `yes`, or `none`, from the plan.
    pub fn confirmation(&self) -> &'static str {
        self.plan.as_ref().map_or("yes", |p| p.confirmation)
    }

    /// The plan is read-only and the runbook would change something: it cannot run.
    pub fn blocked_read_only(&self) -> bool {
        self.plan
            .as_ref()
            .is_some_and(|p| p.read_only && p.confirmation != "none")
    }

    /// The engine is running it.
    pub fn in_flight(&self) -> bool {
        self.stage == Stage::Running
    }
}

impl Desk {
    /// The list, when it is on screen.
    pub fn list(&self) -> Option<&RunbookList> {
        self.list.as_ref().filter(|_| !self.run_shown)
    }

    /// The run, when its screen is shown.
    pub fn shown_run(&self) -> Option<&RunState> {
        self.run.as_ref().filter(|_| self.run_shown)
    }

    /// The current or last run, shown or not.
    pub fn run(&self) -> Option<&RunState> {
        self.run.as_ref()
    }

    /// The runbooks screen covers the view.
    pub fn open(&self) -> bool {
        self.list().is_some() || self.shown_run().is_some()
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// A run is in flight.
    pub fn in_flight(&self) -> bool {
        self.run.as_ref().is_some_and(RunState::in_flight)
    }

    /// `q` was pressed once with a run in flight.
    pub fn quit_armed(&self) -> bool {
        self.quit_armed
    }

    /// The keys of the screen, for the footer.
    pub fn keys(&self) -> Option<Vec<(&'static str, &'static str)>> {
        if let Some(run) = self.shown_run() {
            return Some(match run.stage {
                Stage::Params => vec![("Enter", "next"), ("Esc", "cancel")],
                Stage::Planning => vec![("Esc", "cancel")],
                Stage::Confirm if run.blocked_read_only() => {
                    vec![("↑↓", "scroll"), ("Esc", "back")]
                }
                Stage::Confirm if run.confirmation() == "typed" => {
                    vec![("id Enter", "confirm"), ("↑↓", "scroll"), ("Esc", "cancel")]
                }
                Stage::Confirm => vec![("y", "run"), ("↑↓", "scroll"), ("Esc", "cancel")],
                Stage::Running if run.manual.is_some() => {
                    vec![("d", "done"), ("x", "stop the run"), ("q", "quit")]
                }
                Stage::Running => vec![("Esc", "hide"), ("q", "quit")],
                Stage::Finished => vec![("↑↓", "scroll"), ("Esc", "close"), ("q", "quit")],
            });
        }
        self.list().map(|_| {
            vec![
                ("q", "quit"),
                ("↑↓", "move"),
                ("Enter", "plan"),
                ("Esc", "back"),
            ]
        })
    }
}

/// Whether a runbook applies to the service as the snapshot shows it: by kind, and its
/// `applies_to.when` read on the service's view.
pub fn applies(runbook: &Runbook, service: &ServiceView) -> bool {
    if !runbook.kinds.contains(&service.kind) {
        return false;
    }
    match &runbook.applies_when {
        Some(cond) => cond.eval(&view::document(
            &view::service_json(service),
            &params::Params::new(),
        )),
        None => true,
    }
}

impl App {
    /// Gives the console the runbooks it may offer, and whether it may act at all.
    pub fn set_runbooks(&mut self, catalog: Vec<Runbook>, read_only: bool) {
        self.runbooks.catalog = catalog;
        self.runbooks.read_only = read_only;
    }

    /// `R` and `:runbook [ID]`: the run screen while a run is kept; else the runbooks of the
    /// selected service, or the plan of runbook `id` on it.
    pub(super) fn open_runbooks(&mut self, id: Option<String>) -> Effect {
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
    pub(super) fn runbook_key(&mut self, key: KeyEvent) -> Effect {
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
    pub(super) fn quit(&mut self) -> Effect {
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
    pub(super) fn disarm_quit(&mut self, key: KeyEvent) {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::Utc;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    use super::*;
    use crate::model::Model;
    use crate::runbook::plan::PlannedStep;

    fn press(app: &mut App, code: KeyCode) -> Effect {
        app.handle_key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn type_text(app: &mut App, text: &str) {
        for c in text.chars() {
            press(app, KeyCode::Char(c));
        }
    }

    /// The demo estate, every shipped runbook, and `id` selected.
    fn app_on(id: &str) -> App {
        let (estate, _) =
            crate::estate::from_str(crate::estate::DEMO_ESTATE, "demo").expect("demo estate");
        let model = Model::new(Arc::new(estate));
        let mut app = App::new(model.snapshot(Utc::now()));
        let catalog = crate::runbook::builtin_ids()
            .into_iter()
            .filter_map(crate::runbook::builtin)
            .collect();
        app.set_runbooks(catalog, false);
        app.selected_id = Some(id.to_string());
        app.pinned = true;
        assert_eq!(app.selected_service().map(|s| s.id.as_str()), Some(id));
        app
    }

    fn listed(app: &App) -> Vec<String> {
        app.runbooks()
            .list()
            .expect("the list is open")
            .items
            .iter()
            .map(|c| c.id.clone())
            .collect()
    }

    /// The plan the runtime would report for the failover of sql.
    fn failover_plan(confirmation: &'static str) -> RunbookReport {
        let step = PlannedStep {
            n: 1,
            kind: "action",
            label: "cloud_sql.failover".into(),
            on_failure_only: false,
            when: None,
            condition: None,
            holds_now: None,
            action: Some("cloud_sql.failover".into()),
            destructive: true,
            requests: Vec::new(),
            facts: serde_json::Value::Null,
            error: None,
            text: None,
        };
        RunbookReport::Plan {
            runbook: "cloud-sql-failover".into(),
            target: "sql".into(),
            plan: Ok(Box::new(RunPlan {
                schema: "opsdeck.plan/v1",
                runbook: "cloud-sql-failover".into(),
                title: "Fail Cloud SQL over to its standby".into(),
                estate: "demo".into(),
                target: "sql".into(),
                target_name: "Cloud SQL".into(),
                target_kind: "cloud_sql".into(),
                target_sev: 1,
                confirmation,
                read_only: false,
                params: params::Params::new(),
                steps: vec![step],
            })),
        }
    }

    /// `R` on sql, Enter on cloud-sql-failover, and its plan arrives.
    fn at_confirmation(confirmation: &'static str) -> App {
        let mut app = app_on("sql");
        assert_eq!(press(&mut app, KeyCode::Char('R')), Effect::Redraw);
        let at = listed(&app)
            .iter()
            .position(|id| id == "cloud-sql-failover")
            .expect("listed");
        for _ in 0..at {
            press(&mut app, KeyCode::Down);
        }
        assert_eq!(
            press(&mut app, KeyCode::Enter),
            Effect::Runbook(RunbookOrder::Plan {
                runbook: "cloud-sql-failover".into(),
                target: "sql".into(),
                params: Vec::new(),
            })
        );
        assert!(app.runbook_report(failover_plan(confirmation)));
        assert_eq!(
            app.runbooks().shown_run().map(|r| r.stage),
            Some(Stage::Confirm)
        );
        app
    }

    #[test]
    fn the_list_shows_only_the_runbooks_that_apply_to_the_selected_service() {
        let mut app = app_on("sql");
        press(&mut app, KeyCode::Char('R'));
        let sql = listed(&app);
        assert!(sql.contains(&"cloud-sql-failover".to_string()), "{sql:?}");
        assert!(sql.iter().all(|id| id.starts_with("cloud-sql-")), "{sql:?}");
        press(&mut app, KeyCode::Esc);
        assert!(!app.runbooks().open());

        let mut app = app_on("cache");
        let effect = app.run(crate::app::Command::Palette);
        assert_eq!(effect, Effect::Redraw);
        type_text(&mut app, "runbook");
        press(&mut app, KeyCode::Enter);
        assert_eq!(listed(&app), vec!["memorystore-failover".to_string()]);
    }

    #[test]
    fn typed_confirmation_refuses_enter_alone_and_a_wrong_id_and_takes_the_exact_id() {
        let mut app = at_confirmation("typed");
        // Enter alone never confirms.
        assert_eq!(press(&mut app, KeyCode::Enter), Effect::Redraw);
        let run = app.runbooks().shown_run().expect("run");
        assert_eq!(run.stage, Stage::Confirm);
        assert!(
            run.problem
                .as_deref()
                .is_some_and(|p| p.contains("Enter alone"))
        );
        // Neither does y, nor a wrong id.
        type_text(&mut app, "y");
        assert_eq!(press(&mut app, KeyCode::Enter), Effect::Redraw);
        type_text(&mut app, "sql-eu");
        assert_eq!(press(&mut app, KeyCode::Enter), Effect::Redraw);
        let run = app.runbooks().shown_run().expect("run");
        assert_eq!(run.stage, Stage::Confirm);
        assert!(
            run.problem
                .as_deref()
                .is_some_and(|p| p.contains("\"sql-eu\" is not the target"))
        );
        // The exact id runs it, through the engine's own confirmation.
        type_text(&mut app, "sql");
        assert_eq!(
            press(&mut app, KeyCode::Enter),
            Effect::Runbook(RunbookOrder::Run {
                runbook: "cloud-sql-failover".into(),
                target: "sql".into(),
                params: Vec::new(),
                confirmation: Confirmation::Typed("sql".into()),
            })
        );
        assert!(app.runbooks().in_flight());
    }

    #[test]
    fn esc_cancels_and_nothing_runs() {
        let mut app = at_confirmation("typed");
        type_text(&mut app, "sq");
        assert_eq!(press(&mut app, KeyCode::Esc), Effect::Redraw);
        assert!(app.runbooks().run().is_none());
        assert!(app.runbooks().list().is_some(), "back on the list");
        assert_eq!(press(&mut app, KeyCode::Esc), Effect::Redraw);
        assert!(!app.runbooks().open());
    }

    #[test]
    fn a_plain_confirmation_is_y_and_never_enter() {
        let mut app = at_confirmation("yes");
        assert_eq!(press(&mut app, KeyCode::Enter), Effect::Redraw);
        assert_eq!(
            app.runbooks().shown_run().map(|r| r.stage),
            Some(Stage::Confirm)
        );
        assert!(matches!(
            press(&mut app, KeyCode::Char('y')),
            Effect::Runbook(RunbookOrder::Run {
                confirmation: Confirmation::Yes,
                ..
            })
        ));
    }

    #[test]
    fn progress_manual_steps_the_result_and_quitting_in_flight() {
        let mut app = at_confirmation("typed");
        type_text(&mut app, "sql");
        press(&mut app, KeyCode::Enter);
        app.runbook_report(RunbookReport::Event(Event::StepStarted {
            n: 1,
            kind: "action",
            label: "cloud_sql.failover".into(),
        }));
        app.runbook_report(RunbookReport::Event(Event::Progress {
            n: 1,
            text: "operation RUNNING".into(),
        }));
        let step = &app.runbooks().run().expect("run").steps[0];
        assert_eq!(step.state, StepState::Running);
        assert_eq!(step.detail.as_deref(), Some("operation RUNNING"));
        // q with a run in flight asks again; a second q quits.
        assert_eq!(press(&mut app, KeyCode::Char('q')), Effect::Redraw);
        assert!(app.runbooks().quit_armed());
        press(&mut app, KeyCode::Char('j'));
        assert!(!app.runbooks().quit_armed(), "another key takes it back");
        // A manual step waits for d (done) or x (stop).
        app.runbook_report(RunbookReport::Manual {
            n: 2,
            text: "Check the app".into(),
        });
        assert_eq!(
            press(&mut app, KeyCode::Char('d')),
            Effect::Runbook(RunbookOrder::Manual(Ack::Done))
        );
        app.runbook_report(RunbookReport::Finished(Outcome::StepFailed {
            step: 1,
            why: "the operation failed".into(),
        }));
        let run = app.runbooks().shown_run().expect("the result stays");
        assert_eq!(run.stage, Stage::Finished);
        assert_eq!(run.steps[0].state, StepState::Failed);
        assert_eq!(press(&mut app, KeyCode::Esc), Effect::Redraw);
        assert!(!app.runbooks().open());
        assert_eq!(press(&mut app, KeyCode::Char('q')), Effect::Quit);
    }
}

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

mod flow;

pub use flow::step_elapsed;

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

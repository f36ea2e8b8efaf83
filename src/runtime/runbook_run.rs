//! The console's side of a runbook run: carries out the runbooks screen's orders without ever
//! blocking the loop — the plan is built, and the run carried out, in spawned tasks
//! ([`crate::runbook::console`], the same path as `opsdeck runbook run`) that report back over
//! a channel, as the poller does — and on the way out stops a run in flight (recorded as
//! interrupted, the lease kept for the resumed run) after the terminal is given back.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::app::runbooks::{RunbookOrder, RunbookReport};
use crate::app::{App, Effect};
use crate::estate::Estate;
use crate::runbook::console::{self, Manual, Message, Start};
use crate::runbook::engine::Outcome;
use crate::runbook::{self, Runbook};

/// How long the way out waits for a stopped run to record itself.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// The runbooks the console offers, and the run in flight.
pub struct Runs {
    catalog: Vec<Runbook>,
    estate: Arc<Estate>,
    read_only_flag: bool,
    data_dir: Option<PathBuf>,
    tx: mpsc::UnboundedSender<Message>,
    rx: mpsc::UnboundedReceiver<Message>,
    plans: (
        mpsc::UnboundedSender<RunbookReport>,
        mpsc::UnboundedReceiver<RunbookReport>,
    ),
    manual: Manual,
    cancel: Option<watch::Sender<Option<String>>>,
    task: Option<JoinHandle<Outcome>>,
}

impl Runs {
    /// Loads the runbooks (shipped and the user's) and gives the app those it may offer.
    pub fn new(estate: Arc<Estate>, read_only_flag: bool, app: &mut App) -> Runs {
        let (catalog, diags) = runbook::load_all(None);
        for d in &diags {
            tracing::warn!("runbook: {d}");
        }
        app.set_runbooks(catalog.clone(), estate.read_only || read_only_flag);
        let (tx, rx) = mpsc::unbounded_channel();
        Runs {
            catalog,
            estate,
            read_only_flag,
            data_dir: runbook::data_dir(),
            tx,
            rx,
            plans: mpsc::unbounded_channel(),
            manual: Manual::default(),
            cancel: None,
            task: None,
        }
    }

    /// The estate runs act on from now on (after a reload).
    pub fn set_estate(&mut self, estate: &Arc<Estate>) {
        self.estate = Arc::clone(estate);
    }

    /// The next report of a plan or a run.
    pub async fn next(&mut self) -> RunbookReport {
        tokio::select! {
            Some(report) = self.plans.1.recv() => report,
            Some(message) = self.rx.recv() => match message {
                Message::Event(e) => RunbookReport::Event(e),
                Message::Manual { n, text } => RunbookReport::Manual { n, text },
                Message::Finished(outcome) => {
                    self.cancel = None;
                    self.task = None;
                    RunbookReport::Finished(outcome)
                }
            },
            else => std::future::pending().await,
        }
    }

    /// Carries out one order of the runbooks screen.
    pub fn order(&mut self, order: RunbookOrder, app: &mut App) -> Effect {
        match order {
            RunbookOrder::Plan {
                runbook,
                target,
                params,
            } => {
                let Some(found) = self.find(&runbook) else {
                    app.runbook_report(RunbookReport::Plan {
                        runbook: runbook.clone(),
                        target,
                        plan: Err(format!("no runbook \"{runbook}\"")),
                    });
                    return Effect::Redraw;
                };
                let estate = Arc::clone(&self.estate);
                let tx = self.plans.0.clone();
                let read_only = self.read_only_flag;
                tokio::spawn(async move {
                    let plan = console::plan(&found, estate, &target, &params, read_only)
                        .await
                        .map(Box::new);
                    let _ = tx.send(RunbookReport::Plan {
                        runbook,
                        target,
                        plan,
                    });
                });
            }
            RunbookOrder::Run {
                runbook,
                target,
                params,
                confirmation,
            } => {
                let refused = |app: &mut App, why: String| {
                    app.runbook_report(RunbookReport::Finished(Outcome::Refused(why)));
                };
                if self.task.is_some() {
                    refused(app, "another runbook run is in flight".to_string());
                    return Effect::Redraw;
                }
                let Some(data_dir) = self.data_dir.clone() else {
                    refused(
                        app,
                        "no data directory for the audit log (set OPSDECK_DATA_DIR)".to_string(),
                    );
                    return Effect::Redraw;
                };
                let Some(found) = self.find(&runbook) else {
                    refused(app, format!("no runbook \"{runbook}\""));
                    return Effect::Redraw;
                };
                let start = Start {
                    runbook: found,
                    estate: Arc::clone(&self.estate),
                    target,
                    params,
                    confirmation,
                    read_only_flag: self.read_only_flag,
                    data_dir,
                };
                let (cancel_tx, cancel) = watch::channel(None);
                self.cancel = Some(cancel_tx);
                self.task = Some(tokio::spawn(console::run(
                    start,
                    self.tx.clone(),
                    self.manual.clone(),
                    cancel,
                )));
            }
            RunbookOrder::Manual(ack) => {
                if !self.manual.answer(ack) {
                    app.show_note("no manual step is waiting");
                }
            }
        }
        Effect::Redraw
    }

    fn find(&self, id: &str) -> Option<Runbook> {
        self.catalog.iter().find(|r| r.id == id).cloned()
    }

    /// On the way out (the terminal already given back): asks a run in flight to stop, waits
    /// a while for it to record where it stopped, and says so on stderr.
    pub async fn stop(mut self, why: &str) {
        let (Some(cancel), Some(task)) = (self.cancel.take(), self.task.take()) else {
            return;
        };
        let _ = cancel.send(Some(why.to_string()));
        // A manual step waiting for the console stops the run too.
        self.manual.answer(crate::runbook::engine::Ack::Stop);
        match tokio::time::timeout(STOP_WAIT, task).await {
            Ok(Ok(outcome)) => eprintln!("opsdeck: the runbook run {}", outcome.describe()),
            Ok(Err(_)) | Err(_) => eprintln!(
                "opsdeck: the runbook run did not stop in time; opsdeck audit show says where it got to"
            ),
        }
    }
}

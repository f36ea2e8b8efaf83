//! The model: applies probe reports to per-service state and derives the one [`Snapshot`]
//! every renderer uses (console, `--once` JSON and table, runbook conditions). Pure: no
//! tokio, no HTTP, no terminal. All status, staleness, SEV and blast-radius rules live here.

mod blind;
mod evidence;
mod impact;
mod observation;
mod reload;
mod silence;
mod snapshot;

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use blind::{Blindness, Cause as BlindCause};
pub use evidence::{Change, ChangeKind, ChangeView, Evidence, parse_time as evidence_time};
pub use impact::{ActiveFallback, Impact, Own};
pub use observation::{Observation, Outcome, ProbeReport, QueueFigures, Status};
pub use silence::{Silence, SilenceView, covering};
pub use snapshot::{
    Counts, DependencyView, ErrorView, EventView, Overall, QueueView, RegionView, ServiceView,
    Snapshot,
};

use crate::estate::Estate;

/// How many status transitions the model keeps.
const EVENT_LIMIT: usize = 1000;
/// How many depth samples a queue keeps for its sparkline and drain rate.
const DEPTH_HISTORY: usize = 120;

/// Everything known about one service.
#[derive(Debug, Clone, Default)]
pub struct ServiceState {
    /// The last successful observation (kept while later refreshes fail).
    pub observation: Option<Observation>,
    pub observed_at: Option<DateTime<Utc>>,
    /// The last refresh failure, while it lasts.
    pub failure: Option<String>,
    /// When the current run of failed refreshes began.
    pub failing_since: Option<DateTime<Utc>>,
    /// When the current status began.
    pub status_since: Option<DateTime<Utc>>,
    /// Queue depth samples, oldest first.
    pub depth_history: VecDeque<(DateTime<Utc>, u64)>,
    /// Recent errors with times, newest last.
    pub errors: VecDeque<(DateTime<Utc>, String)>,
    /// The last runbook run against it (from the audit log), a change that may explain it.
    pub runbook_change: Option<Change>,
}

/// A status change (or a refresh starting to fail), for the events view and timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub service: usize,
    pub from: Option<Status>,
    pub to: Status,
    pub text: String,
}

/// Per-service state for one estate.
#[derive(Debug, Clone)]
pub struct Model {
    estate: Arc<Estate>,
    states: Vec<ServiceState>,
    events: VecDeque<Event>,
    /// Operators' silences of this estate's services (expired ones do no harm).
    silences: Vec<Silence>,
    /// Bumped on every change, so renderers can tell whether to redraw.
    generation: u64,
}

impl Model {
    pub fn new(estate: Arc<Estate>) -> Self {
        let states = vec![ServiceState::default(); estate.services.len()];
        Model {
            estate,
            states,
            events: VecDeque::new(),
            silences: Vec::new(),
            generation: 0,
        }
    }

    pub fn estate(&self) -> &Arc<Estate> {
        &self.estate
    }

    pub fn states(&self) -> &[ServiceState] {
        &self.states
    }

    pub fn events(&self) -> impl DoubleEndedIterator<Item = &Event> {
        self.events.iter()
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Replaces the operators' silences (maintenance windows come with the estate).
    pub fn set_silences(&mut self, silences: Vec<Silence>) {
        if silences != self.silences {
            self.silences = silences;
            self.generation += 1;
        }
    }

    pub fn silences(&self) -> &[Silence] {
        &self.silences
    }

    /// Records a change made to a service outside its probe (a runbook run from the audit
    /// log); the newest one is kept.
    pub fn note_change(&mut self, service: usize, change: Change) {
        if let Some(state) = self.states.get_mut(service) {
            let newest = Change::latest(state.runbook_change.clone(), Some(change));
            if newest != state.runbook_change {
                self.generation += 1;
            }
            state.runbook_change = newest;
        }
    }

    /// Applies one report; returns the event it caused, if any.
    pub fn apply(&mut self, report: ProbeReport) -> Option<Event> {
        let state = self.states.get_mut(report.service)?;
        self.generation += 1;
        let previous = state.observation.as_ref().map(|o| o.status);
        let event = match report.outcome {
            Outcome::Observed(obs) => {
                let to = obs.status;
                if let Some(err) = &obs.error {
                    push_error(state, report.at, err);
                }
                if let Some(depth) = obs.queue.as_ref().and_then(|q| q.depth) {
                    state.depth_history.push_back((report.at, depth));
                    while state.depth_history.len() > DEPTH_HISTORY {
                        state.depth_history.pop_front();
                    }
                }
                let text = obs.error.clone().unwrap_or_else(|| obs.summary.clone());
                state.observation = Some(obs);
                state.observed_at = Some(report.at);
                let recovered_refresh = state.failure.take().is_some();
                state.failing_since = None;
                if previous == Some(to) {
                    recovered_refresh.then(|| Event {
                        at: report.at,
                        service: report.service,
                        from: previous,
                        to,
                        text: "refresh works again".to_string(),
                    })
                } else {
                    state.status_since = Some(report.at);
                    Some(Event {
                        at: report.at,
                        service: report.service,
                        from: previous,
                        to,
                        text,
                    })
                }
            }
            Outcome::Failed { error, .. } => {
                push_error(state, report.at, &error);
                let first = state.failure.is_none();
                state.failure = Some(error.clone());
                if first {
                    state.failing_since = Some(report.at);
                }
                if state.status_since.is_none() {
                    state.status_since = Some(report.at);
                }
                first.then(|| Event {
                    at: report.at,
                    service: report.service,
                    from: previous,
                    to: previous.unwrap_or(Status::Unknown),
                    text: format!("refresh failing: {error}"),
                })
            }
        };
        if let Some(e) = &event {
            self.events.push_back(e.clone());
            while self.events.len() > EVENT_LIMIT {
                self.events.pop_front();
            }
        }
        event
    }

    /// The snapshot at `now`: statuses, staleness, SEVs, impacts, regions, queues.
    pub fn snapshot(&self, now: DateTime<Utc>) -> Snapshot {
        snapshot::build(
            &self.estate,
            &self.states,
            &self.events,
            &self.silences,
            now,
        )
    }
}

fn push_error(state: &mut ServiceState, at: DateTime<Utc>, error: &str) {
    if state.errors.back().is_some_and(|(_, e)| e == error) {
        return;
    }
    state.errors.push_back((at, error.to_string()));
    while state.errors.len() > 20 {
        state.errors.pop_front();
    }
}

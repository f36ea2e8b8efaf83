//! What a probe hands in: one owned report per probe run, with an observation or the reason
//! the refresh failed.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::evidence::{Change, Evidence};

/// A service's state according to its own probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Works.
    Up,
    /// Works, but a threshold or condition says at risk.
    Degraded,
    /// The thing itself failed or does not answer.
    Down,
    /// opsdeck could not ask (credentials, permission, API disabled, quota, unreachable API).
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Up => "up",
            Status::Degraded => "degraded",
            Status::Down => "down",
            Status::Unknown => "unknown",
        }
    }

    /// The worse of two statuses.
    #[must_use]
    pub fn worst(self, other: Status) -> Status {
        if other.rank() < self.rank() {
            other
        } else {
            self
        }
    }

    /// Worst first: down, degraded, unknown, up.
    pub fn rank(self) -> u8 {
        match self {
            Status::Down => 0,
            Status::Degraded => 1,
            Status::Unknown => 2,
            Status::Up => 3,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Queue figures a queue probe reports.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct QueueFigures {
    pub depth: Option<u64>,
    pub oldest_age_s: Option<f64>,
    pub consumers: Option<u64>,
    /// Whatever else the backend gives (rates, state, dead-letter depth).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// One successful look at a service.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub status: Status,
    /// One line for the failure map ("RUNNABLE, REGIONAL, europe-west1-b").
    pub summary: String,
    /// Why it is not up, in one sentence (or why opsdeck could not ask).
    pub error: Option<String>,
    /// Figures and facts for the detail view and the JSON.
    pub metrics: BTreeMap<String, Value>,
    pub queue: Option<QueueFigures>,
    /// The facts that explain its state, each with its time (newest first once shown).
    pub evidence: Vec<Evidence>,
    /// The most recent change the probe saw (a deploy, a rollout, an operation).
    pub change: Option<Change>,
}

impl Observation {
    pub fn new(status: Status, summary: impl Into<String>) -> Self {
        Observation {
            status,
            summary: summary.into(),
            error: None,
            metrics: BTreeMap::new(),
            queue: None,
            evidence: Vec::new(),
            change: None,
        }
    }

    /// A service opsdeck could not ask about, with the reason.
    pub fn unknown(error: impl Into<String>) -> Self {
        let error = error.into();
        Observation {
            status: Status::Unknown,
            summary: error.clone(),
            error: Some(error),
            metrics: BTreeMap::new(),
            queue: None,
            evidence: Vec::new(),
            change: None,
        }
    }

    /// A service that is down, with the reason.
    pub fn down(error: impl Into<String>) -> Self {
        let error = error.into();
        Observation {
            status: Status::Down,
            summary: error.clone(),
            error: Some(error),
            metrics: BTreeMap::new(),
            queue: None,
            evidence: Vec::new(),
            change: None,
        }
    }

    #[must_use]
    pub fn with_error(mut self, error: impl Into<String>) -> Self {
        self.error = Some(error.into());
        self
    }

    /// Adds one fact that explains the state.
    #[must_use]
    pub fn evidence(mut self, evidence: Evidence) -> Self {
        self.evidence.push(evidence);
        self
    }

    #[must_use]
    pub fn metric(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.metrics.insert(key.to_string(), value.into());
        self
    }
}

/// The result of one probe run.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The probe got an answer (which may be that the service is down or unknown).
    Observed(Observation),
    /// The refresh failed with a retryable error (429, 503, timeout of a control-plane API):
    /// the last good value stays, marked stale.
    Failed {
        error: String,
        /// How long the API asked us to wait (Google's RetryInfo, Retry-After).
        retry_after: Option<Duration>,
    },
}

/// What the poller sends for one probe run of one service.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeReport {
    /// Index of the service in the estate.
    pub service: usize,
    pub at: DateTime<Utc>,
    pub outcome: Outcome,
}

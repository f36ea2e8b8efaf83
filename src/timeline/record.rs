//! The recorded status transitions: `<state dir>/transitions.jsonl`, one JSON line each time
//! a service's state word (up, degraded, down, unknown, impacted) changes, written by the
//! console and by `--once` alike, so the timeline has a source that outlives the process.
//! Each line is compared with the last one recorded for the same service of the same estate,
//! so runs that see the same state (a cron of `--once`, two consoles) add nothing. The file is
//! bounded: past [`MAX_LINES`] the oldest lines are dropped.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::Snapshot;

/// The file keeps at most this many lines; past it, it is cut to [`KEEP_LINES`].
pub const MAX_LINES: usize = 20_000;
const KEEP_LINES: usize = 15_000;

/// One recorded transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub at: DateTime<Utc>,
    pub estate: String,
    pub service: String,
    /// The state word before (none: first seen).
    pub from: Option<String>,
    pub to: String,
    /// Effective SEV when it changed (none: up).
    pub sev: Option<u8>,
    /// Root causes, when impacted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub impacted_by: Vec<String>,
    /// A silence or maintenance window covered it.
    #[serde(default)]
    pub silenced: bool,
    /// What the probe said.
    pub text: String,
}

/// The transitions of a snapshot against the last state recorded per service. A service
/// seen for the first time is recorded only when it is not up (nothing happened otherwise);
/// services still waiting for their first probe are skipped. Pure.
pub fn changes(last: &BTreeMap<String, String>, snapshot: &Snapshot) -> Vec<Transition> {
    snapshot
        .services
        .iter()
        .filter(|s| !s.pending)
        .filter_map(|s| {
            let to = s.state_word();
            let from = last.get(&s.id);
            let changed = match from {
                Some(f) => f != to,
                None => to != "up",
            };
            changed.then(|| Transition {
                at: snapshot.generated_at,
                estate: snapshot.estate.clone(),
                service: s.id.clone(),
                from: from.cloned(),
                to: to.to_string(),
                sev: s.sev,
                impacted_by: s.impacted_by.clone(),
                silenced: s.silenced,
                text: s.error.clone().unwrap_or_else(|| s.summary.clone()),
            })
        })
        .collect()
}

/// Appends the transitions of each snapshot of one estate to the file.
#[derive(Debug)]
pub struct Recorder {
    dir: PathBuf,
    estate: String,
    /// The last state recorded per service (as this process knows it).
    last: BTreeMap<String, String>,
}

impl Recorder {
    /// A recorder for `estate` in `dir`, starting from what the file holds.
    pub fn open(dir: &Path, estate: &str) -> Recorder {
        let mut r = Recorder {
            dir: dir.to_path_buf(),
            estate: estate.to_string(),
            last: BTreeMap::new(),
        };
        r.last = r.last_states();
        r
    }

    /// The recorder in the state directory, if there is one.
    pub fn default_location(estate: &str) -> Option<Recorder> {
        crate::state::state_dir().map(|d| Recorder::open(&d, estate))
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("transitions.jsonl")
    }

    /// Records what changed in `snapshot`; returns what was written. Another process may
    /// have recorded the same change already: the file is read again before writing.
    pub fn observe(&mut self, snapshot: &Snapshot) -> std::io::Result<Vec<Transition>> {
        if snapshot.estate != self.estate || changes(&self.last, snapshot).is_empty() {
            return Ok(Vec::new());
        }
        std::fs::create_dir_all(&self.dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join("transitions.lock"))?;
        lock.lock()?;
        self.last = self.last_states();
        let found = changes(&self.last, snapshot);
        let mut text = String::new();
        for t in &found {
            text.push_str(&serde_json::to_string(t).map_err(std::io::Error::other)?);
            text.push('\n');
            self.last.insert(t.service.clone(), t.to.clone());
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path())?;
        file.write_all(text.as_bytes())?;
        self.bound()?;
        drop(lock);
        Ok(found)
    }

    /// The last recorded state of each service of this estate.
    fn last_states(&self) -> BTreeMap<String, String> {
        read(&self.path())
            .into_iter()
            .filter(|t| t.estate == self.estate)
            .map(|t| (t.service, t.to))
            .collect()
    }

    /// Cuts the file to its newest lines once it grows past the limit.
    fn bound(&self) -> std::io::Result<()> {
        let text = std::fs::read_to_string(self.path())?;
        let lines: Vec<&str> = text.lines().collect();
        if lines.len() <= MAX_LINES {
            return Ok(());
        }
        let kept = lines[lines.len() - KEEP_LINES..].join("\n");
        let tmp = self.dir.join("transitions.jsonl.tmp");
        std::fs::write(&tmp, format!("{kept}\n"))?;
        std::fs::rename(&tmp, self.path())
    }
}

/// Every readable transition in a file, oldest first (lines that are not one are skipped).
pub fn read(path: &Path) -> Vec<Transition> {
    std::fs::read_to_string(path)
        .map(|text| {
            text.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default()
}

//! The audit log: every runbook step (who, what, target, parameters, the request with secrets
//! masked, the result, the operation id, how long it took) appended as one JSON line to
//! `<XDG data>/opsdeck/audit.jsonl`, written and fsynced before opsdeck goes on. Each entry
//! carries the hash of the one before it and its own SHA-256 over its content, and a head file
//! beside the log holds the last sequence number and hash; so `audit verify` finds any entry
//! edited, removed, inserted or cut from the end. Appends from several processes are
//! serialised by a lock file.

mod who;

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::action::{Operation, Shown};

pub use who::Who;

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A run began (its parameters, the plan).
    RunStarted,
    /// A run was refused before any step ran.
    Refused,
    /// A run picked up an earlier, interrupted one.
    RunResumed,
    StepStarted,
    /// A write is about to be sent (recorded first, so an interruption shows it in flight).
    RequestSending,
    /// The write was answered (with its operation, if any).
    RequestSent,
    StepFinished,
    /// The run stopped on a signal (SIGHUP, SIGTERM, Ctrl-C) with a step in flight.
    RunInterrupted,
    RunFinished,
    /// An operator silenced a service (who, why, until when).
    SilenceAdded,
    /// An operator lifted a silence before it ran out.
    SilenceRemoved,
    /// A silence ran out (recorded by the first opsdeck to notice).
    SilenceExpired,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::RunStarted => "run_started",
            Event::Refused => "refused",
            Event::RunResumed => "run_resumed",
            Event::StepStarted => "step_started",
            Event::RequestSending => "request_sending",
            Event::RequestSent => "request_sent",
            Event::StepFinished => "step_finished",
            Event::RunInterrupted => "run_interrupted",
            Event::RunFinished => "run_finished",
            Event::SilenceAdded => "silence_added",
            Event::SilenceRemoved => "silence_removed",
            Event::SilenceExpired => "silence_expired",
        }
    }
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    #[serde(default)]
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// The run it belongs to.
    pub run: String,
    pub event: Event,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub runbook: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub estate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub who: Option<Who>,
    /// `run`, `drill` or `resume`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mode: Option<String>,
    /// The step's index (from 1); `[[on_failure]]` steps continue the count.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub step: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub step_kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub params: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub request: Option<Vec<Shown>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub facts: Option<Value>,
    /// `ok`, `failed`, `skipped`, `done`, `check_failed`, `unknown`…
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub operation: Option<Operation>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub duration_ms: Option<u64>,
    #[serde(default)]
    pub prev: String,
    #[serde(default)]
    pub hash: String,
}

impl Entry {
    /// A new entry for `run`, stamped now; everything else empty.
    pub fn new(run: &str, event: Event) -> Entry {
        Entry {
            seq: 0,
            at: Utc::now(),
            run: run.to_string(),
            event,
            runbook: None,
            estate: None,
            target: None,
            who: None,
            mode: None,
            step: None,
            step_kind: None,
            label: None,
            action: None,
            params: None,
            request: None,
            facts: None,
            result: None,
            detail: None,
            operation: None,
            duration_ms: None,
            prev: String::new(),
            hash: String::new(),
        }
    }
}

/// Why the log could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot write the audit log {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the audit log {0} has a line that is not an entry: {1}")]
    Garbled(String, String),
}

/// The audit log in one directory.
#[derive(Debug, Clone)]
pub struct AuditLog {
    dir: PathBuf,
}

/// The head file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
}

impl AuditLog {
    /// The log in `dir`.
    pub fn in_dir(dir: &Path) -> AuditLog {
        AuditLog {
            dir: dir.to_path_buf(),
        }
    }

    /// The log in `<XDG data>/opsdeck` (or `$OPSDECK_DATA_DIR`).
    pub fn default_location() -> Option<AuditLog> {
        crate::runbook::data_dir().map(|d| AuditLog::in_dir(&d))
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("audit.jsonl")
    }

    fn head_path(&self) -> PathBuf {
        self.dir.join("audit.head")
    }

    fn io(&self, source: std::io::Error) -> AuditError {
        AuditError::Io {
            path: self.path().display().to_string(),
            source,
        }
    }

    /// Appends one entry: numbers and chains it, writes it, fsyncs, then moves the head.
    /// Returns the entry as written.
    pub fn append(&self, mut entry: Entry) -> Result<Entry, AuditError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| self.io(e))?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join("audit.lock"))
            .map_err(|e| self.io(e))?;
        lock.lock().map_err(|e| self.io(e))?;
        let head = self.current_head()?;
        entry.seq = head.seq + 1;
        entry.prev = head.hash;
        entry.hash = String::new();
        let (line, hash) = seal(&entry).map_err(|e| self.io(std::io::Error::other(e)))?;
        entry.hash.clone_from(&hash);
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path())
            .map_err(|e| self.io(e))?;
        file.write_all(line.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_all())
            .map_err(|e| self.io(e))?;
        let next = Head {
            seq: entry.seq,
            hash,
        };
        let tmp = self.dir.join("audit.head.tmp");
        let text = serde_json::to_string(&next).unwrap_or_default();
        std::fs::write(&tmp, text)
            .and_then(|()| File::open(&tmp).and_then(|f| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, self.head_path()))
            .map_err(|e| self.io(e))?;
        drop(lock);
        Ok(entry)
    }

    /// The last sequence number and hash: from the head file, else from the log's last line.
    fn current_head(&self) -> Result<Head, AuditError> {
        if let Ok(text) = std::fs::read_to_string(self.head_path())
            && let Ok(head) = serde_json::from_str::<Head>(&text)
        {
            return Ok(head);
        }
        let entries = self.read()?;
        Ok(entries.last().map_or_else(
            || Head {
                seq: 0,
                hash: GENESIS.to_string(),
            },
            |e| Head {
                seq: e.seq,
                hash: e.hash.clone(),
            },
        ))
    }

    /// Every entry, oldest first (empty when there is no log).
    pub fn read(&self) -> Result<Vec<Entry>, AuditError> {
        let Ok(file) = File::open(self.path()) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for line in BufReader::new(file).lines() {
            let line = line.map_err(|e| self.io(e))?;
            if line.trim().is_empty() {
                continue;
            }
            let entry: Entry = serde_json::from_str(&line).map_err(|e| {
                AuditError::Garbled(self.path().display().to_string(), e.to_string())
            })?;
            out.push(entry);
        }
        Ok(out)
    }

    /// Checks the whole chain and the head.
    pub fn verify(&self) -> Verdict {
        let path = self.path();
        let Ok(file) = File::open(&path) else {
            return Verdict::Empty;
        };
        let mut prev = GENESIS.to_string();
        let mut count = 0u64;
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let n = i + 1;
            let Ok(line) = line else {
                return Verdict::Broken(vec![format!("line {n}: cannot be read")]);
            };
            if line.trim().is_empty() {
                return Verdict::Broken(vec![format!(
                    "line {n}: is empty (an entry was removed or the file was edited)"
                )]);
            }
            let Ok(mut value) = serde_json::from_str::<Value>(&line) else {
                return Verdict::Broken(vec![format!(
                    "line {n}: is not JSON (the file was edited)"
                )]);
            };
            let stated = value
                .get("hash")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let seq = value.get("seq").and_then(Value::as_u64).unwrap_or(0);
            let their_prev = value
                .get("prev")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if let Value::Object(map) = &mut value {
                map.remove("hash");
            }
            let actual = digest(&prev_and(&their_prev, &value.to_string()));
            let mut problems = Vec::new();
            if actual != stated {
                problems.push(format!(
                    "line {n} (entry {seq}): its content does not match its hash: the entry was edited"
                ));
            }
            if their_prev != prev {
                problems.push(format!(
                    "line {n} (entry {seq}): it does not follow the entry before it: an entry was removed or inserted before it"
                ));
            }
            if seq != count + 1 {
                problems.push(format!(
                    "line {n}: entry number {seq} where {} was expected: entries were removed, inserted or reordered",
                    count + 1
                ));
            }
            if !problems.is_empty() {
                return Verdict::Broken(problems);
            }
            prev = stated;
            count += 1;
        }
        match std::fs::read_to_string(self.head_path())
            .ok()
            .and_then(|t| serde_json::from_str::<Head>(&t).ok())
        {
            None if count == 0 => Verdict::Empty,
            None => Verdict::Broken(vec![format!(
                "the head file {} is missing: entries cut from the end could not be noticed",
                self.head_path().display()
            )]),
            Some(head) if head.seq > count => Verdict::Broken(vec![format!(
                "the log ends at entry {count}, but entry {} was written: the last {} entries were removed",
                head.seq,
                head.seq - count
            )]),
            Some(head) if head.seq != count || head.hash != prev => Verdict::Broken(vec![format!(
                "the last entry ({count}) does not match the head file (entry {}): the end of the log was edited",
                head.seq
            )]),
            Some(_) => Verdict::Intact { entries: count },
        }
    }
}

/// The outcome of `audit verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No log (or an empty one): nothing to check.
    Empty,
    Intact {
        entries: u64,
    },
    /// What is wrong, first problem first.
    Broken(Vec<String>),
}

fn prev_and(prev: &str, content: &str) -> String {
    format!("{prev}\n{content}")
}

fn digest(text: &str) -> String {
    let out = Sha256::digest(text.as_bytes());
    out.iter().fold(String::with_capacity(64), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The line to write and its hash: the hash covers the previous hash and every field but
/// `hash`, serialised the way `verify` will read it back.
fn seal(entry: &Entry) -> Result<(String, String), serde_json::Error> {
    let mut value = serde_json::to_value(entry)?;
    if let Value::Object(map) = &mut value {
        map.remove("hash");
    }
    let hash = digest(&prev_and(&entry.prev, &value.to_string()));
    if let Value::Object(map) = &mut value {
        map.insert("hash".to_string(), Value::from(hash.clone()));
    }
    Ok((value.to_string(), hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(run: &str, event: Event) -> Entry {
        let mut e = Entry::new(run, event);
        e.target = Some("sql".into());
        e
    }

    #[test]
    fn appended_entries_chain_and_verify() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::in_dir(dir.path());
        assert_eq!(log.verify(), Verdict::Empty);
        let a = log.append(entry("r1", Event::RunStarted)).expect("append");
        let b = log.append(entry("r1", Event::RunFinished)).expect("append");
        assert_eq!((a.seq, b.seq), (1, 2));
        assert_eq!(a.prev, GENESIS);
        assert_eq!(b.prev, a.hash);
        assert_eq!(log.verify(), Verdict::Intact { entries: 2 });
        assert_eq!(log.read().expect("read").len(), 2);
    }
}

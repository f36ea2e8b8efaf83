//! Operators' silences on disk: `<state dir>/silences.json`, one list for every estate (each
//! silence names its estate), rewritten whole under a lock file so the console and the
//! command line can change it at the same time. Adding, lifting and the running out of a
//! silence are each recorded in the audit log. What a silence means for the verdict is the
//! model's rule (`model::silence`); the `opsdeck silence` commands are in [`cli`].

pub mod cli;
pub mod console;

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::model::Silence;
use crate::runbook::audit::{AuditLog, Entry, Event, Who};

/// One silence as stored: the model's silence, its estate, and when it was added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    pub estate: String,
    #[serde(flatten)]
    pub silence: Silence,
    pub added_at: DateTime<Utc>,
}

/// The file's content.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Document {
    silences: Vec<Stored>,
}

/// Why silences could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SilenceError {
    #[error("cannot write the silences file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the silences file {path} is not valid ({detail}); fix or remove it")]
    Garbled { path: String, detail: String },
    #[error("{0}")]
    Audit(#[from] crate::runbook::audit::AuditError),
}

/// The silences in one state directory, and the audit log their changes go to.
#[derive(Debug, Clone)]
pub struct SilenceStore {
    dir: PathBuf,
    audit: Option<AuditLog>,
}

impl SilenceStore {
    /// The store in `dir`, recording changes in `audit` (none: not recorded; tests only).
    pub fn in_dir(dir: &Path, audit: Option<AuditLog>) -> SilenceStore {
        SilenceStore {
            dir: dir.to_path_buf(),
            audit,
        }
    }

    /// The store in the state directory, recording in the default audit log.
    pub fn default_location() -> Option<SilenceStore> {
        crate::state::state_dir().map(|d| SilenceStore::in_dir(&d, AuditLog::default_location()))
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("silences.json")
    }

    fn io(&self, source: std::io::Error) -> SilenceError {
        SilenceError::Io {
            path: self.path().display().to_string(),
            source,
        }
    }

    /// When the file last changed (to notice another process's change cheaply).
    pub fn modified(&self) -> Option<std::time::SystemTime> {
        std::fs::metadata(self.path())
            .and_then(|m| m.modified())
            .ok()
    }

    /// Every stored silence (empty when there is no file).
    pub fn read(&self) -> Result<Vec<Stored>, SilenceError> {
        let text = match std::fs::read_to_string(self.path()) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(e)),
        };
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        serde_json::from_str::<Document>(&text)
            .map(|d| d.silences)
            .map_err(|e| SilenceError::Garbled {
                path: self.path().display().to_string(),
                detail: e.to_string(),
            })
    }

    /// The silences of one estate (in force, planned, or run out and not yet pruned).
    pub fn for_estate(&self, estate: &str) -> Result<Vec<Silence>, SilenceError> {
        Ok(self
            .read()?
            .into_iter()
            .filter(|s| s.estate == estate)
            .map(|s| s.silence)
            .collect())
    }

    /// Adds a silence, replacing the one the same service of the same estate had. Returns the
    /// one replaced.
    pub fn add(
        &self,
        estate: &str,
        silence: Silence,
        who: &Who,
        now: DateTime<Utc>,
    ) -> Result<Option<Stored>, SilenceError> {
        let stored = Stored {
            estate: estate.to_string(),
            silence,
            added_at: now,
        };
        let (replaced, _) = self.change(now, who, |list| {
            let old = list
                .iter()
                .position(|s| {
                    s.estate == stored.estate && s.silence.service == stored.silence.service
                })
                .map(|i| list.remove(i));
            list.push(stored.clone());
            old
        })?;
        let mut entry = Self::entry(Event::SilenceAdded, &stored, who, now);
        if let Some(old) = &replaced {
            entry.result = Some(format!(
                "added (replaces the silence until {} by {})",
                old.silence.until.to_rfc3339(),
                old.silence.who
            ));
        }
        self.record(entry)?;
        Ok(replaced)
    }

    /// Lifts the silence of a service of an estate; returns it, or `None` when it had none.
    pub fn remove(
        &self,
        estate: &str,
        service: &str,
        who: &Who,
        now: DateTime<Utc>,
    ) -> Result<Option<Stored>, SilenceError> {
        let (removed, _) = self.change(now, who, |list| {
            list.iter()
                .position(|s| s.estate == estate && s.silence.service == service)
                .map(|i| list.remove(i))
        })?;
        if let Some(s) = &removed {
            self.record(Self::entry(Event::SilenceRemoved, s, who, now))?;
        }
        Ok(removed)
    }

    /// Removes every silence that has run out by `now`, recording each; returns them.
    pub fn expire(&self, now: DateTime<Utc>, who: &Who) -> Result<Vec<Stored>, SilenceError> {
        if !self.read()?.iter().any(|s| s.silence.until <= now) {
            return Ok(Vec::new());
        }
        self.change(now, who, |_| ()).map(|((), expired)| expired)
    }

    /// Runs `edit` on the list under the lock, after pruning what has run out (and recording
    /// that), then writes the list back atomically. Returns what `edit` returned and the
    /// silences that ran out.
    fn change<T>(
        &self,
        now: DateTime<Utc>,
        who: &Who,
        edit: impl FnOnce(&mut Vec<Stored>) -> T,
    ) -> Result<(T, Vec<Stored>), SilenceError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| self.io(e))?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join("silences.lock"))
            .map_err(|e| self.io(e))?;
        lock.lock().map_err(|e| self.io(e))?;
        let mut list = self.read()?;
        let (expired, kept): (Vec<Stored>, Vec<Stored>) =
            list.drain(..).partition(|s| s.silence.until <= now);
        list = kept;
        let out = edit(&mut list);
        self.write(&list)?;
        drop(lock);
        for s in &expired {
            let mut entry = Self::entry(Event::SilenceExpired, s, who, now);
            entry.result = Some("expired".to_string());
            self.record(entry)?;
        }
        Ok((out, expired))
    }

    fn write(&self, list: &[Stored]) -> Result<(), SilenceError> {
        let doc = Document {
            silences: list.to_vec(),
        };
        let text = serde_json::to_string_pretty(&doc).map_err(|e| self.io(e.into()))?;
        let tmp = self.dir.join("silences.json.tmp");
        std::fs::write(&tmp, format!("{text}\n"))
            .and_then(|()| File::open(&tmp).and_then(|f| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, self.path()))
            .map_err(|e| self.io(e))
    }

    fn entry(event: Event, s: &Stored, who: &Who, now: DateTime<Utc>) -> Entry {
        let mut e = Entry::new(
            &format!(
                "silence-{}-{}",
                s.silence.service,
                s.silence.start.timestamp()
            ),
            event,
        );
        e.at = now;
        e.estate = Some(s.estate.clone());
        e.target = Some(s.silence.service.clone());
        e.who = Some(who.clone());
        e.detail = Some(s.silence.reason.clone());
        e.result = Some(
            match event {
                Event::SilenceAdded => "added",
                Event::SilenceRemoved => "removed",
                _ => "expired",
            }
            .to_string(),
        );
        e.facts = Some(json!({
            "silenced_by": s.silence.who,
            "start": s.silence.start,
            "until": s.silence.until,
        }));
        e
    }

    fn record(&self, entry: Entry) -> Result<(), SilenceError> {
        if let Some(log) = &self.audit {
            log.append(entry)?;
        }
        Ok(())
    }
}

/// Puts the stored silences of the model's estate into the model, after recording those that
/// ran out. A store that cannot be read is reported on stderr and leaves no silence applied:
/// a broken file must not hide an outage.
pub fn apply_stored(model: &mut crate::model::Model, now: DateTime<Utc>) {
    let Some(store) = SilenceStore::default_location() else {
        return;
    };
    if let Err(e) = store.expire(now, &Who::local()) {
        tracing::warn!("{e}");
    }
    match store.for_estate(&model.estate().name) {
        Ok(list) => model.set_silences(list),
        Err(e) => eprintln!("opsdeck: {e}; no silence is applied"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who() -> Who {
        Who {
            os_user: "alice".into(),
            host: "bastion".into(),
            google: None,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("rfc3339")
            .with_timezone(&Utc)
    }

    fn silence(service: &str, until: &str) -> Silence {
        Silence {
            service: service.into(),
            who: "alice@bastion".into(),
            reason: "planned failover".into(),
            start: at("2025-06-01T10:00:00Z"),
            until: at(until),
        }
    }

    #[test]
    fn add_replace_remove_and_expire_are_each_audited() {
        let dir = tempfile::tempdir().expect("tempdir");
        let audit = AuditLog::in_dir(dir.path());
        let store = SilenceStore::in_dir(dir.path(), Some(audit.clone()));
        let now = at("2025-06-01T10:00:00Z");
        assert!(store.read().expect("empty").is_empty());
        store
            .add("prod", silence("sql", "2025-06-01T12:00:00Z"), &who(), now)
            .expect("add");
        store
            .add(
                "prod",
                silence("cache", "2025-06-01T10:30:00Z"),
                &who(),
                now,
            )
            .expect("add");
        store
            .add("demo", silence("sql", "2025-06-01T12:00:00Z"), &who(), now)
            .expect("another estate's sql");
        let replaced = store
            .add("prod", silence("sql", "2025-06-01T13:00:00Z"), &who(), now)
            .expect("replace");
        assert!(replaced.is_some());
        assert_eq!(store.for_estate("prod").expect("read").len(), 2);

        // Half past ten: the cache's silence has run out.
        let later = at("2025-06-01T10:31:00Z");
        let gone = store.remove("prod", "sql", &who(), later).expect("remove");
        assert!(gone.is_some());
        assert!(store.for_estate("prod").expect("read").is_empty());
        assert_eq!(store.for_estate("demo").expect("read").len(), 1);
        assert!(
            store
                .remove("prod", "sql", &who(), later)
                .expect("nothing to remove")
                .is_none()
        );

        let events: Vec<&str> = audit
            .read()
            .expect("audit")
            .iter()
            .map(|e| e.event.as_str())
            .collect();
        assert_eq!(
            events,
            [
                "silence_added",
                "silence_added",
                "silence_added",
                "silence_added",
                "silence_expired",
                "silence_removed"
            ]
        );
        assert_eq!(
            audit.verify(),
            crate::runbook::audit::Verdict::Intact { entries: 6 }
        );
    }

    #[test]
    fn a_garbled_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SilenceStore::in_dir(dir.path(), None);
        std::fs::write(store.path(), "{not json").expect("write");
        let err = store.read().expect_err("garbled").to_string();
        assert!(
            err.contains("silences.json") && err.contains("not valid"),
            "{err}"
        );
    }
}

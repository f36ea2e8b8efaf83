//! The console's side of silences: the estate's list as the console holds it, kept in step
//! with the file (another terminal's `opsdeck silence add` shows within a second), silences
//! that ran out pruned and recorded, and the `s` / `:silence` / `:unsilence` changes carried
//! out. The runtime hands the list to the model whenever it changed.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, TimeDelta, Utc};

use super::SilenceStore;
use crate::model::Silence;
use crate::runbook::audit::Who;

/// The silences of the estate on screen.
#[derive(Debug)]
pub struct ConsoleSilences {
    store: SilenceStore,
    who: Who,
    estate: String,
    list: Vec<Silence>,
    /// The file's modification time when last read.
    modified: Option<SystemTime>,
    changed: bool,
}

impl ConsoleSilences {
    /// The silences of `estate` in the state directory; `None` when there is none.
    pub fn open(estate: &str) -> Option<ConsoleSilences> {
        SilenceStore::default_location().map(|store| ConsoleSilences::with_store(store, estate))
    }

    /// The silences of `estate` in `store`, acting as whoever runs the console.
    pub fn with_store(store: SilenceStore, estate: &str) -> ConsoleSilences {
        let mut s = ConsoleSilences {
            store,
            who: Who::local(),
            estate: estate.to_string(),
            list: Vec::new(),
            modified: None,
            changed: false,
        };
        let _ = s.reload();
        s
    }

    fn reload(&mut self) -> Result<(), String> {
        self.modified = self.store.modified();
        let list = self
            .store
            .for_estate(&self.estate)
            .map_err(|e| e.to_string())?;
        if list != self.list {
            self.list = list;
            self.changed = true;
        }
        Ok(())
    }

    /// Once a second: prunes what ran out (recording it) and reads the file again when
    /// another process changed it. Returns a warning for the footer.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Option<String> {
        if self.list.iter().any(|s| s.until <= now)
            && let Err(e) = self.store.expire(now, &self.who)
        {
            return Some(e.to_string());
        }
        if self.store.modified() != self.modified {
            return self.reload().err();
        }
        None
    }

    /// Silences a service from now on; returns the note to show.
    pub fn add(
        &mut self,
        service: &str,
        duration: Duration,
        reason: &str,
        now: DateTime<Utc>,
    ) -> String {
        let until = now + TimeDelta::from_std(duration).unwrap_or(TimeDelta::hours(1));
        let silence = Silence {
            service: service.to_string(),
            who: self.who.short(),
            reason: reason.to_string(),
            start: now,
            until,
        };
        match self.store.add(&self.estate, silence, &self.who, now) {
            Ok(_) => {
                let _ = self.reload();
                format!(
                    "silenced {service} until {}: {reason}",
                    until.format("%H:%M UTC")
                )
            }
            Err(e) => format!("could not silence {service}: {e}"),
        }
    }

    /// Lifts a service's silence; returns the note to show.
    pub fn remove(&mut self, service: &str, now: DateTime<Utc>) -> String {
        match self.store.remove(&self.estate, service, &self.who, now) {
            Ok(Some(_)) => {
                let _ = self.reload();
                format!("lifted the silence of {service}")
            }
            Ok(None) => format!("{service} has no silence of its own to lift"),
            Err(e) => format!("could not lift the silence of {service}: {e}"),
        }
    }

    /// The list, when it changed since the last call.
    pub fn take_changed(&mut self) -> Option<Vec<Silence>> {
        std::mem::take(&mut self.changed).then(|| self.list.clone())
    }
}
